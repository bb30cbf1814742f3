#include "proto/rules.hpp"

#include <cstdio>
#include <type_traits>

#include "base/hex.hpp"

namespace zt::proto {
namespace {

using W = RuleWire;
using J = RuleJson;

constexpr size_t wire_size(RuleWire w) {
  switch (w) {
    case W::U8: return 1;
    case W::U16: return 2;
    case W::U32: return 4;
    case W::U40: return 5;
    case W::U64: return 8;
    case W::Mac: return 6;
    case W::Ipv4Prefix: return 5;
    case W::Ipv6Prefix: return 17;
  }
  return 0;
}

// ---- the table (§8.1 / §10.3) ----
// Field rows: JSON key, wire form, JSON form, member, describe() format of Int fields.
constexpr RuleField kForward[] = {
    {"address", W::U64, J::ZtAddress, &Rule::zt, nullptr},  // 64-bit field, low 40 bits used
    {"flags", W::U32, J::Int, &Rule::action_flags, "0x%llx"},
    {"length", W::U16, J::Int, &Rule::action_length, "%llu"},
};
constexpr RuleField kRedirect[] = {
    {"address", W::U64, J::ZtAddress, &Rule::zt, nullptr},
    {"flags", W::U32, J::Int, &Rule::action_flags, "0x%llx"},
    {nullptr, W::U16, J::None, &Rule::action_length, nullptr},  // on the wire, unused, not in JSON
};
constexpr RuleField kZt[] = {{"zt", W::U40, J::ZtAddress, &Rule::zt, nullptr}};
constexpr RuleField kVlanId[] = {{"vlanId", W::U16, J::Int, &Rule::vlan_id, "%llu"}};
constexpr RuleField kVlanPcp[] = {{"vlanPcp", W::U8, J::Int, &Rule::vlan_pcp, "%llu"}};
constexpr RuleField kVlanDei[] = {{"vlanDei", W::U8, J::Int, &Rule::vlan_dei, "%llu"}};
constexpr RuleField kMac[] = {{"mac", W::Mac, J::Mac, {}, nullptr}};
constexpr RuleField kIpv4[] = {{"ip", W::Ipv4Prefix, J::IpBits, {}, nullptr}};
constexpr RuleField kIpv6[] = {{"ip", W::Ipv6Prefix, J::IpBits, {}, nullptr}};
constexpr RuleField kTos[] = {
    {"mask", W::U8, J::Int, &Rule::tos_mask, "0x%02llx"},
    {"start", W::U8, J::Int, &Rule::tos_low, "%llu"},
    {"end", W::U8, J::IntOrPrev, &Rule::tos_high, "%llu"},
};
constexpr RuleField kIpProtocol[] = {{"ipProtocol", W::U8, J::Int, &Rule::ip_protocol, "%llu"}};
constexpr RuleField kEthertype[] = {{"etherType", W::U16, J::Int, &Rule::ethertype, "0x%04llx"}};
constexpr RuleField kIcmp[] = {
    {"icmpType", W::U8, J::Int, &Rule::icmp_type, "%llu"},
    {"icmpCode", W::U8, J::IcmpCode, &Rule::icmp_code, "%llu"},
    {nullptr, W::U8, J::None, &Rule::icmp_flags, nullptr},  // rendered through icmpCode
};
constexpr RuleField kRange[] = {
    {"start", W::U16, J::Int, &Rule::range_low, "%llu"},
    {"end", W::U16, J::IntOrPrev, &Rule::range_high, "%llu"},
};
constexpr RuleField kCharacteristics[] = {{"mask", W::U64, J::Hex64, &Rule::characteristics, nullptr}};
constexpr RuleField kRandom[] = {{"probability", W::U32, J::Int, &Rule::probability, "%llu"}};
constexpr RuleField kTag[] = {
    {"id", W::U32, J::Int, &Rule::tag_id, "%llu"},
    {"value", W::U32, J::Int, &Rule::tag_value, "%llu"},
};
constexpr RuleField kIntegerRange[] = {
    {"start", W::U64, J::Hex64, &Rule::int_start, nullptr},
    {"end", W::U64, J::RangeEnd, &Rule::int_end, nullptr},
    {"idx", W::U16, J::Int, &Rule::int_idx, "%llu"},
    {"bits", W::U8, J::IntFormat, &Rule::int_format, nullptr},
};

constexpr RuleTypeInfo row(RuleType t, const char* name, bool reference_json, std::span<const RuleField> f = {}) {
  size_t n = 0;
  for (const auto& x : f) n += wire_size(x.wire);
  return RuleTypeInfo{uint8_t(t), name, reference_json, f, uint8_t(n)};
}

using T = RuleType;
// PRIORITY and INTEGER_RANGE are not parseable by the reference controller (§10.3).
constexpr RuleTypeInfo kTypes[] = {
    row(T::ActionDrop, "ACTION_DROP", true),
    row(T::ActionAccept, "ACTION_ACCEPT", true),
    row(T::ActionTee, "ACTION_TEE", true, kForward),
    row(T::ActionWatch, "ACTION_WATCH", true, kForward),
    row(T::ActionRedirect, "ACTION_REDIRECT", true, kRedirect),
    row(T::ActionBreak, "ACTION_BREAK", true),
    row(T::ActionPriority, "ACTION_PRIORITY", false),  // QoS bucket never serialized: L = 0
    row(T::MatchSourceZeroTierAddress, "MATCH_SOURCE_ZEROTIER_ADDRESS", true, kZt),
    row(T::MatchDestZeroTierAddress, "MATCH_DEST_ZEROTIER_ADDRESS", true, kZt),
    row(T::MatchVlanId, "MATCH_VLAN_ID", true, kVlanId),
    row(T::MatchVlanPcp, "MATCH_VLAN_PCP", true, kVlanPcp),
    row(T::MatchVlanDei, "MATCH_VLAN_DEI", true, kVlanDei),
    row(T::MatchMacSource, "MATCH_MAC_SOURCE", true, kMac),
    row(T::MatchMacDest, "MATCH_MAC_DEST", true, kMac),
    row(T::MatchIpv4Source, "MATCH_IPV4_SOURCE", true, kIpv4),
    row(T::MatchIpv4Dest, "MATCH_IPV4_DEST", true, kIpv4),
    row(T::MatchIpv6Source, "MATCH_IPV6_SOURCE", true, kIpv6),
    row(T::MatchIpv6Dest, "MATCH_IPV6_DEST", true, kIpv6),
    row(T::MatchIpTos, "MATCH_IP_TOS", true, kTos),
    row(T::MatchIpProtocol, "MATCH_IP_PROTOCOL", true, kIpProtocol),
    row(T::MatchEthertype, "MATCH_ETHERTYPE", true, kEthertype),
    row(T::MatchIcmp, "MATCH_ICMP", true, kIcmp),
    row(T::MatchIpSourcePortRange, "MATCH_IP_SOURCE_PORT_RANGE", true, kRange),
    row(T::MatchIpDestPortRange, "MATCH_IP_DEST_PORT_RANGE", true, kRange),
    row(T::MatchCharacteristics, "MATCH_CHARACTERISTICS", true, kCharacteristics),
    row(T::MatchFrameSizeRange, "MATCH_FRAME_SIZE_RANGE", true, kRange),
    row(T::MatchRandom, "MATCH_RANDOM", true, kRandom),
    row(T::MatchTagsDifference, "MATCH_TAGS_DIFFERENCE", true, kTag),
    row(T::MatchTagsBitwiseAnd, "MATCH_TAGS_BITWISE_AND", true, kTag),
    row(T::MatchTagsBitwiseOr, "MATCH_TAGS_BITWISE_OR", true, kTag),
    row(T::MatchTagsBitwiseXor, "MATCH_TAGS_BITWISE_XOR", true, kTag),
    row(T::MatchTagsEqual, "MATCH_TAGS_EQUAL", true, kTag),
    row(T::MatchTagSender, "MATCH_TAG_SENDER", true, kTag),
    row(T::MatchTagReceiver, "MATCH_TAG_RECEIVER", true, kTag),
    row(T::MatchIntegerRange, "INTEGER_RANGE", false, kIntegerRange),
};

// The lengths §8.1 fixes, checked against the table at compile time.
static_assert(kTypes[2].wire_length == 14 && kTypes[4].wire_length == 14 && kTypes[7].wire_length == 5 &&
              kTypes[16].wire_length == 17 && kTypes[21].wire_length == 3 && kTypes[26].wire_length == 4 &&
              kTypes[34].wire_length == 19);

// type (0..63) → index into kTypes, −1 for unassigned.
constexpr std::array<int8_t, 64> kIndex = [] {
  std::array<int8_t, 64> a{};
  a.fill(-1);
  for (size_t i = 0; i < std::size(kTypes); ++i) a[kTypes[i].type] = int8_t(i);
  return a;
}();

std::string ip_text(const Rule& r, bool v6) {
  InetAddress a = v6 ? InetAddress::v6(r.ip.data(), r.ip_prefix) : InetAddress::v4(r.ip.data(), r.ip_prefix);
  return a.to_string();
}

std::string fmt(const char* f, unsigned long long v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

void read_field(Reader& f, Rule& r, const RuleField& fd) {
  switch (fd.wire) {
    case W::U8: rule_field_set(r, fd, f.u8()); break;
    case W::U16: rule_field_set(r, fd, f.u16()); break;
    case W::U32: rule_field_set(r, fd, f.u32()); break;
    case W::U40: rule_field_set(r, fd, f.u40()); break;
    case W::U64: rule_field_set(r, fd, f.u64()); break;
    case W::Mac: r.mac = Mac::read(f); break;
    case W::Ipv4Prefix: {
      auto ip = f.array<4>();
      std::copy(ip.begin(), ip.end(), r.ip.begin());
      r.ip_prefix = f.u8();
      break;
    }
    case W::Ipv6Prefix:
      r.ip = f.array<16>();
      r.ip_prefix = f.u8();
      break;
  }
}

void write_field(Writer& w, const Rule& r, const RuleField& fd) {
  const uint64_t v = rule_field_get(r, fd);
  switch (fd.wire) {
    case W::U8: w.u8(uint8_t(v)); break;
    case W::U16: w.u16(uint16_t(v)); break;
    case W::U32: w.u32(uint32_t(v)); break;
    case W::U40: w.u40(v & 0xffffffffffULL); break;
    case W::U64: w.u64(v); break;
    case W::Mac: r.mac.write(w); break;
    case W::Ipv4Prefix: w.bytes(ByteSpan(r.ip.data(), 4)).u8(r.ip_prefix); break;
    case W::Ipv6Prefix: w.bytes(ByteSpan(r.ip.data(), 16)).u8(r.ip_prefix); break;
  }
}

// describe()'s text of one field (the JSON text for strings, `text` for integers).
std::string field_text(const Rule& r, const RuleField& fd) {
  const uint64_t v = rule_field_get(r, fd);
  switch (fd.json) {
    case J::ZtAddress: return to_hex(v & 0xffffffffffULL, 10);
    case J::Hex64: return to_hex(v, 16);
    case J::RangeEnd: return to_hex(r.int_start + uint64_t(r.int_span()), 16);
    case J::Mac: return r.mac.to_string();
    case J::IpBits: return ip_text(r, fd.wire == W::Ipv6Prefix);
    case J::IcmpCode: return (r.icmp_flags & 0x01) ? std::to_string(v) : std::string("any");
    case J::IntFormat: return std::to_string(r.int_bits()) + (r.int_little_endian() ? " little" : "");
    case J::Int:
    case J::IntOrPrev: return fmt(fd.text ? fd.text : "%llu", v);
    case J::None: break;
  }
  return {};
}

}  // namespace

size_t rule_wire_size(RuleWire w) { return wire_size(w); }

std::span<const RuleTypeInfo> rule_types() { return kTypes; }

const RuleTypeInfo* rule_type_info(uint8_t type) {
  const int8_t i = kIndex[type & 0x3f];
  return i < 0 ? nullptr : &kTypes[size_t(i)];
}

const RuleTypeInfo* rule_type_by_name(std::string_view name) {
  for (const auto& t : kTypes)
    if (name == t.name) return &t;
  return nullptr;
}

uint64_t rule_field_get(const Rule& r, const RuleField& f) {
  return std::visit(
      [&](auto m) -> uint64_t {
        if constexpr (std::is_same_v<decltype(m), std::monostate>) return 0;
        else return uint64_t(r.*m);
      },
      f.member);
}

void rule_field_set(Rule& r, const RuleField& f, uint64_t v) {
  std::visit(
      [&](auto m) {
        if constexpr (!std::is_same_v<decltype(m), std::monostate>) {
          using V = std::remove_reference_t<decltype(r.*m)>;
          r.*m = V(v);
        }
      },
      f.member);
}

bool Rule::known() const { return rule_type_info(type) != nullptr; }

uint8_t Rule::field_length() const {
  const RuleTypeInfo* info = rule_type_info(type);
  return info ? info->wire_length : 0;
}

Result<Rule> Rule::read(Reader& r) {
  uint8_t tb = r.u8();
  uint8_t len = r.u8();
  ByteSpan field = r.bytes(len);
  if (!r.ok()) return err("rule: truncated");
  Rule rule;
  rule.type = tb & 0x3f;
  rule.negate = (tb & 0x80) != 0;
  rule.or_ = (tb & 0x40) != 0;
  const RuleTypeInfo* info = rule_type_info(rule.type);
  if (!info) return rule;  // unknown: kept as type/not/or, field skipped by L
  if (len < info->wire_length) return err("rule: field too short for type " + std::to_string(rule.type));
  Reader f(field);
  for (const auto& fd : info->fields) read_field(f, rule, fd);
  if (!f.ok()) return err("rule: field truncated");  // unreachable: len >= wire_length checked
  return rule;
}

void Rule::write(Writer& w) const {
  w.u8(uint8_t((type & 0x3f) | (negate ? 0x80 : 0) | (or_ ? 0x40 : 0)));
  const RuleTypeInfo* info = rule_type_info(type);
  w.u8(info ? info->wire_length : 0);  // L = 0 for unknown types, as the reference writes
  if (info)
    for (const auto& fd : info->fields) write_field(w, *this, fd);
}

std::string rule_type_name(uint8_t type) {
  const RuleTypeInfo* info = rule_type_info(type);
  return info ? std::string(info->name) : "UNKNOWN_" + std::to_string(type & 0x3f);
}

Result<std::vector<Rule>> read_rules(Reader& r, size_t count, size_t max_rules) {
  if (count > max_rules)
    return err("rules: count " + std::to_string(count) + " exceeds limit " + std::to_string(max_rules));
  std::vector<Rule> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    auto rule = Rule::read(r);
    if (!rule) return rule.take_error();
    out.push_back(*rule);
  }
  return out;
}

Result<std::vector<Rule>> parse_rules(ByteSpan bytes, size_t max_rules) {
  Reader r(bytes);
  std::vector<Rule> out;
  while (r.remaining() > 0) {
    if (out.size() >= max_rules) return err("rules: more than " + std::to_string(max_rules));
    auto rule = Rule::read(r);
    if (!rule) return rule.take_error();
    out.push_back(*rule);
  }
  return out;
}

void write_rules(Writer& w, const std::vector<Rule>& rules) {
  for (const auto& r : rules) r.write(w);
}

Bytes serialize_rules(const std::vector<Rule>& rules) {
  Writer w;
  write_rules(w, rules);
  return w.take();
}

std::string describe(const Rule& r) {
  std::string s;
  if (!r.is_action()) {  // the reference renders not/or only on matches
    if (r.or_) s += "or ";
    if (r.negate) s += "not ";
  }
  s += rule_type_name(r.type);
  if (const RuleTypeInfo* info = rule_type_info(r.type))
    for (const auto& fd : info->fields)
      if (fd.key) s += std::string(" ") + fd.key + "=" + field_text(r, fd);
  return s;
}

}  // namespace zt::proto
