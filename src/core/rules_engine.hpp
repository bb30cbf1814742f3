// The rules engine (PROTOCOL.md §8.2 evaluation of one rule list, §8.3 the full inbound and
// outbound filter with the capabilities fallback).
//
// Pure and sans-IO: the functions only compute. Sending copies (TEE/WATCH), redirected frames
// and 2006 traces is the caller's job, driven by the returned FilterResult.
//
// Frame access: the payload comes from the network; every read is bounds-checked. A frame of
// any length (including 0) is valid input; missing bytes behave as §8.2 says (hard-no,
// plain false, value 0) and never crash.
//
// Threading: none. Allocation: none on the base-rules path; the capability fallback decodes
// own capabilities' rules (small vectors) only when the base rules do not match.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>

#include "base/bytes.hpp"
#include "core/membership.hpp"
#include "proto/netconf.hpp"
#include "proto/rules.hpp"
#include "proto/vl2.hpp"

namespace zt::core {

// Characteristics bits (§8.2 MATCH_CHARACTERISTICS).
constexpr uint64_t kCharInbound = 0x8000000000000000ULL;
constexpr uint64_t kCharMulticast = 0x4000000000000000ULL;
constexpr uint64_t kCharBroadcast = 0x2000000000000000ULL;
constexpr uint64_t kCharSenderIpAuthenticated = 0x1000000000000000ULL;
constexpr uint64_t kCharSenderMacAuthenticated = 0x0800000000000000ULL;

// EXT_FRAME flags the caller uses for copies and redirects (§8.3 "Copies", §3.6).
constexpr uint8_t kExtFrameFlagsTeeOutbound = 0x02;
constexpr uint8_t kExtFrameFlagsWatchOutbound = 0x16;
constexpr uint8_t kExtFrameFlagsRedirectOutbound = 0x04;
constexpr uint8_t kExtFrameFlagsTeeInbound = 0x08;
constexpr uint8_t kExtFrameFlagsWatchInbound = 0x1c;
constexpr uint8_t kExtFrameFlagsRedirectInbound = 0x0a;

// The frame being filtered.
struct FilterFrame {
  bool inbound = false;
  proto::Address source = 0;       // ZT source (outbound: own address; inbound: the sender)
  proto::Address destination = 0;  // ZT destination (outbound: member, 0 for multicast /
                                   // bridged first pass; inbound: own address)
  proto::Mac mac_source;
  proto::Mac mac_dest;
  uint16_t ethertype = 0;
  uint16_t vlan_id = 0;            // the reference always passes 0
  ByteSpan payload;                // Ethernet payload without the MAC header (`len`)
};

// What the engine may consult. References must outlive the call.
struct FilterEnv {
  const proto::NetworkConfig& config;  // own config: rules, tags (sorted by ID), caps, COOs, flags
  proto::Address self = 0;             // own address
  // The peer's record: outbound = ZT destination's (nullptr when 0/unknown); inbound = the
  // sender's (the caller creates it if missing). nullptr = peer tags/COOs unknown.
  const Membership* peer = nullptr;
  // Uniform 32-bit random for MATCH_RANDOM. Empty → 0 is used (RANDOM always matches).
  std::function<uint32_t()> random;
};

// Per-rule result log (§15 2006 filterBaseRuleLog / filterCapRuleLog): 4 bits per rule, rule n
// in byte n/2 (low nibble even n, high nibble odd n); bits 0..1 = set-before + 1, bits 2..3 =
// raw m + 1; a short-circuited match logs 1; actions log 0. Rules beyond 1024 are not logged.
class RuleLog {
 public:
  static constexpr size_t kSize = proto::kMaxNetworkRules / 2;  // 512
  void clear() { b_.fill(0); }
  void log(size_t n, bool m, bool set_before);
  void log_skipped(size_t n);
  uint8_t entry(size_t n) const;  // the nibble of rule n (0 if out of range)
  const std::array<uint8_t, kSize>& bytes() const { return b_; }

 private:
  std::array<uint8_t, kSize> b_{};
};

// One copy to send (TEE/WATCH). The caller sends EXT_FRAME with the first `length` bytes of
// the payload and the flags above (watch / direction).
struct CopyTarget {
  proto::Address address = 0;
  uint32_t length = 0;
  bool watch = false;
  bool operator==(const CopyTarget&) const = default;
};

// ---- One rule list (§8.2) --------------------------------------------------------------
enum class ListResult { NoMatch, Drop, Accept, SuperAccept, Redirect };

struct ListOutcome {
  ListResult result = ListResult::NoMatch;
  // After REDIRECT the new ZT destination; otherwise the frame's destination unchanged.
  proto::Address destination = 0;
  std::optional<CopyTarget> copy;  // last TEE/WATCH that fired (address ≠ 0)
  RuleLog log;
  int rule = -1;  // index of the action rule that ended the list; -1 for NoMatch
};

// Evaluates `rules` against `frame` with fresh state (set = 1, no superAccept, no skipDrop).
// Never fails; unknown match types evaluate to config flag 0x08.
ListOutcome evaluate_rules(const FilterEnv& env, const FilterFrame& frame, std::span<const proto::Rule> rules);

// ---- The full filter (§8.3) ------------------------------------------------------------
enum class FilterVerdict {
  Drop,         // blocked
  Accept,       // pass (inbound: result 1)
  SuperAccept,  // inbound only: we are a TEE/WATCH/REDIRECT target (result 2)
  Redirect,     // accepted but redirected: send the whole frame as EXT_FRAME (flags
                // 0x04 outbound / 0x0a inbound) to `redirect_to`; do NOT deliver/send the
                // original (the reference reports this as blocked / result 0)
};

struct FilterResult {
  FilterVerdict verdict = FilterVerdict::Drop;
  proto::Address redirect_to = 0;
  // Copies to send, in order (capability copy first, then the base rules' copy). Only
  // filled when the frame was accepted (incl. Redirect) and, outbound, copies are allowed.
  std::array<CopyTarget, 2> copies{};
  size_t copy_count = 0;
  // For the 2006 trace: filterResult (0 drop/redirected, 1 accept, 2 super-accept), the base
  // log, and the accepting capability's ID and log (only when a capability accepted).
  int trace_result = 0;
  RuleLog base_log;
  std::optional<uint32_t> matching_capability;
  RuleLog capability_log;
  // What decided (for traces and explain): the index of the action rule that ended the base
  // list (-1 when no base rule did); when a capability decided, `capability_rule` is the index
  // inside that capability's rules and `matching_capability` its ID. -1/-1 with Drop = nothing
  // matched (the default is to drop).
  int base_rule = -1;
  int capability_rule = -1;

  std::span<const CopyTarget> copy_targets() const { return {copies.data(), copy_count}; }
  bool passed() const { return verdict == FilterVerdict::Accept || verdict == FilterVerdict::SuperAccept; }
};

// Outbound filter (§8.3): base rules, then own capabilities in ascending ID order. `frame`
// must have inbound = false, source = own address. `copies_allowed` = !noTee.
FilterResult filter_outbound(const FilterEnv& env, const FilterFrame& frame, bool copies_allowed);

// Inbound filter (§8.3): base rules, then the sender's valid capabilities (env.peer) in
// ascending ID order. `frame` must have inbound = true, destination = own address. Copies
// are always allowed.
FilterResult filter_inbound(const FilterEnv& env, const FilterFrame& frame);

// ---- Helpers -----------------------------------------------------------------------------
// §8.2 IPv6 header walk: final protocol and L4 header offset, nullopt if it fails.
struct Ipv6Payload {
  uint8_t protocol = 0;
  size_t offset = 0;
};
std::optional<Ipv6Payload> ipv6_payload(ByteSpan frame);

// §8.2 CHARACTERISTICS value for a frame (used by the engine; exposed for tests and traces).
uint64_t frame_characteristics(const FilterEnv& env, const FilterFrame& frame);

const char* list_result_name(ListResult r);
const char* filter_verdict_name(FilterVerdict v);

}  // namespace zt::core
