// Rule encoding (PROTOCOL.md §8.1): the wire form of network rules as carried in the config
// `R` key and inside Capabilities. This module only encodes and decodes; evaluation (§8.2)
// belongs to the core.
//
// Wire form of one rule: [1] type byte (bit 7 NOT, bit 6 OR, bits 5..0 type) | [1] field
// length L | [L] field. A reader takes a known type's fields from the start of the field and
// then always advances by L, so unknown types (and longer fields of known types) are skipped.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/bytes.hpp"
#include "base/result.hpp"
#include "proto/vl2.hpp"

namespace zt::proto {

enum class RuleType : uint8_t {
  ActionDrop = 0,
  ActionAccept = 1,
  ActionTee = 2,
  ActionWatch = 3,
  ActionRedirect = 4,
  ActionBreak = 5,
  ActionPriority = 6,
  // 7..15 reserved actions; 16..23 unassigned matches
  MatchSourceZeroTierAddress = 24,
  MatchDestZeroTierAddress = 25,
  MatchVlanId = 26,
  MatchVlanPcp = 27,
  MatchVlanDei = 28,
  MatchMacSource = 29,
  MatchMacDest = 30,
  MatchIpv4Source = 31,
  MatchIpv4Dest = 32,
  MatchIpv6Source = 33,
  MatchIpv6Dest = 34,
  MatchIpTos = 35,
  MatchIpProtocol = 36,
  MatchEthertype = 37,
  MatchIcmp = 38,
  MatchIpSourcePortRange = 39,
  MatchIpDestPortRange = 40,
  MatchCharacteristics = 41,
  MatchFrameSizeRange = 42,
  MatchRandom = 43,
  MatchTagsDifference = 44,
  MatchTagsBitwiseAnd = 45,
  MatchTagsBitwiseOr = 46,
  MatchTagsBitwiseXor = 47,
  MatchTagsEqual = 48,
  MatchTagSender = 49,
  MatchTagReceiver = 50,
  MatchIntegerRange = 51,
  // 52..63 unassigned matches
};

// Limits (§8.1, §6.2, §7.2).
constexpr size_t kMaxNetworkRules = 1024;
constexpr size_t kMaxCapabilityRules = 64;

// One rule. Only the fields of its type are meaningful; the others stay zero. The flat
// layout keeps rules trivially copyable and comparable.
struct Rule {
  uint8_t type = 0;     // bits 5..0 of the type byte (0..63); see RuleType
  bool negate = false;  // bit 7 (NOT)
  bool or_ = false;     // bit 6 (OR)

  // ACTION_TEE / WATCH / REDIRECT: target (low 40 bits used), flags, max copy length.
  // MATCH_SOURCE/DEST_ZEROTIER_ADDRESS: the address (40 bits on the wire).
  uint64_t zt = 0;
  uint32_t action_flags = 0;
  uint16_t action_length = 0;
  // MATCH_VLAN_ID / PCP / DEI.
  uint16_t vlan_id = 0;
  uint8_t vlan_pcp = 0;
  uint8_t vlan_dei = 0;
  // MATCH_MAC_SOURCE / DEST.
  Mac mac;
  // MATCH_IPV4_* (first 4 bytes) / MATCH_IPV6_* (16 bytes), prefix bits.
  std::array<uint8_t, 16> ip{};
  uint8_t ip_prefix = 0;
  // MATCH_IP_TOS: mask, low, high.
  uint8_t tos_mask = 0, tos_low = 0, tos_high = 0;
  // MATCH_IP_PROTOCOL.
  uint8_t ip_protocol = 0;
  // MATCH_ETHERTYPE.
  uint16_t ethertype = 0;
  // MATCH_ICMP: type, code, flags (0x01 = code significant).
  uint8_t icmp_type = 0, icmp_code = 0, icmp_flags = 0;
  // MATCH_IP_SOURCE/DEST_PORT_RANGE, MATCH_FRAME_SIZE_RANGE: inclusive range.
  uint16_t range_low = 0, range_high = 0;
  // MATCH_CHARACTERISTICS: 64-bit mask.
  uint64_t characteristics = 0;
  // MATCH_RANDOM: 32-bit probability.
  uint32_t probability = 0;
  // MATCH_TAGS_* / MATCH_TAG_SENDER / MATCH_TAG_RECEIVER.
  uint32_t tag_id = 0, tag_value = 0;
  // MATCH_INTEGER_RANGE: start and end as on the wire, byte index, format byte
  // (bits 0..5 = bit width − 1, bit 7 = little-endian). Use int_span() for evaluation.
  uint64_t int_start = 0, int_end = 0;
  uint16_t int_idx = 0;
  uint8_t int_format = 0;

  RuleType rule_type() const { return RuleType(type); }
  bool is_action() const { return type <= 15; }
  // True for the types this module knows the field layout of (0..6, 24..51).
  bool known() const;
  // The reference evaluator's span: (end − start) truncated to 32 bits (§8.2).
  uint32_t int_span() const { return uint32_t(int_end - int_start); }
  unsigned int_bits() const { return (int_format & 63u) + 1; }
  bool int_little_endian() const { return (int_format & 0x80) != 0; }

  // Convenience constructors.
  static Rule action(RuleType t) { Rule r; r.type = uint8_t(t); return r; }
  static Rule accept() { return action(RuleType::ActionAccept); }
  static Rule drop() { return action(RuleType::ActionDrop); }

  // §8.1: one rule. Errors: truncated input, or a known type whose L is shorter than its
  // fields (the reference would read past the field; we refuse). Unknown types are kept
  // (type/not/or only) and their field is skipped.
  static Result<Rule> read(Reader& r);
  // Writes the canonical form: the known field length for TEE..INTEGER_RANGE, L = 0 for
  // DROP, ACCEPT, BREAK, PRIORITY, reserved actions and unknown types (as the reference does).
  void write(Writer& w) const;
  // Wire field length this rule writes (0 for L=0 types).
  uint8_t field_length() const;

  bool operator==(const Rule&) const = default;
};

// ---- The rule-type table (§8.1 wire layout, §10.3 JSON form) ------------------------------
// One row per known type lists its fields in wire order. The wire codec (Rule::read/write),
// describe() and the JSON codec (proto/rules_json.hpp) are all driven by this table, so a
// type's wire layout, its JSON keys and its text form cannot drift apart.

// How a field sits in the rule's wire field (big-endian, fields back to back).
enum class RuleWire : uint8_t {
  U8, U16, U32, U40, U64,
  Mac,         // [6] into Rule::mac
  Ipv4Prefix,  // [4] IP + [1] prefix bits into Rule::ip / ip_prefix
  Ipv6Prefix,  // [16] IP + [1] prefix bits
};
size_t rule_wire_size(RuleWire w);

// How a field appears in a §10.3 JSON rule object.
enum class RuleJson : uint8_t {
  None,       // wire only: REDIRECT's length, the ICMP flags byte (carried by IcmpCode)
  Int,        // JSON number ≤ the wire width (input also a decimal string); absent → 0
  IntOrPrev,  // as Int, but absent → the previous field's value (range "end")
  ZtAddress,  // 10 hex digits, masked to 40 bits (input: hex string or number)
  Hex64,      // 16 hex digits (input: hex string with optional 0x, or number)
  RangeEnd,   // INTEGER_RANGE "end": 16 hex digits of start + 32-bit span (§8.1, §10.3)
  Mac,        // "xx:xx:xx:xx:xx:xx" (input: non-hex characters ignored, 12 digits)
  IpBits,     // "addr/bits" (input: bits capped at 32/128, bare address = host)
  IcmpCode,   // number, or null = any code; also owns the ICMP flags byte (0x01 = code set)
  IntFormat,  // INTEGER_RANGE format byte as "bits" (bits 0..5 + 1) and "little" (bit 7); bit 6 unused, not kept
};

// The integer member a field is stored in; monostate for Mac / IP fields.
using RuleMember = std::variant<std::monostate, uint8_t Rule::*, uint16_t Rule::*, uint32_t Rule::*,
                                uint64_t Rule::*>;

struct RuleField {
  const char* key;   // JSON key (also describe()'s); nullptr for RuleJson::None
  RuleWire wire;
  RuleJson json;
  RuleMember member;
  const char* text;  // describe() printf format for Int fields ("%llu", "0x%04llx")
};

struct RuleTypeInfo {
  uint8_t type;
  const char* name;          // §10.3 name; "INTEGER_RANGE" (no MATCH_) for 51 as the reference
  bool reference_json;       // the reference controller's JSON parser accepts this name
  std::span<const RuleField> fields;
  uint8_t wire_length;       // L the writer emits (sum of the fields' wire sizes)
};

// All known types (0..6, 24..51) in type order.
std::span<const RuleTypeInfo> rule_types();
// The row of `type` (bits 5..0), nullptr for unassigned/reserved types.
const RuleTypeInfo* rule_type_info(uint8_t type);
// The row whose name is `name` (exact, case-sensitive), nullptr if none.
const RuleTypeInfo* rule_type_by_name(std::string_view name);

// Integer value of a field with an integer member (0 for monostate), and its setter
// (truncates to the member's width).
uint64_t rule_field_get(const Rule& r, const RuleField& f);
void rule_field_set(Rule& r, const RuleField& f, uint64_t v);

// §10.3 name of a type ("ACTION_ACCEPT", "MATCH_ETHERTYPE", "INTEGER_RANGE" for 51 as in
// the reference JSON); "UNKNOWN_<n>" for unassigned types.
std::string rule_type_name(uint8_t type);

// Reads `count` rules (a count taken from the wire). Errors if count > max_rules, on any
// malformed rule, or if the input ends early.
Result<std::vector<Rule>> read_rules(Reader& r, size_t count, size_t max_rules = kMaxNetworkRules);
// Reads rules until the input is exhausted (the config `R` key). Errors beyond max_rules.
Result<std::vector<Rule>> parse_rules(ByteSpan bytes, size_t max_rules = kMaxNetworkRules);
void write_rules(Writer& w, const std::vector<Rule>& rules);
Bytes serialize_rules(const std::vector<Rule>& rules);

// Human-readable one-line description, e.g. "ACTION_ACCEPT",
// "not MATCH_ETHERTYPE etherType=0x0800", "or MATCH_IPV4_SOURCE ip=10.0.0.0/8".
std::string describe(const Rule& r);

}  // namespace zt::proto
