// Rules engine: §8.2 (one rule list) and §8.3 (the full filter).
#include "core/rules_engine.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

namespace zt::core {

using proto::Address;
using proto::Rule;
using proto::RuleType;

namespace {

constexpr Address kAddressMask = 0xffffffffffULL;
constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherArp = 0x0806;
constexpr uint16_t kEtherIpv6 = 0x86dd;

// Bounds-checked view of the frame payload: bytes past the end read as 0. Every check the
// spec makes on `len` is still made explicitly; at() only guards what the reference leaves
// unchecked (e.g. the TCP flags of a truncated segment, §8.2 CHARACTERISTICS).
struct View {
  ByteSpan d;
  size_t len() const { return d.size(); }
  uint8_t at(size_t i) const { return i < d.size() ? d[i] : 0; }
  const uint8_t* ptr(size_t i) const { return d.data() + i; }  // caller checked i + n ≤ len
};

// IPv4 prefix test, bits clamped to 32 (the reference's shift is undefined above 32).
bool ipv4_in_prefix(const uint8_t* ip, const uint8_t* net, unsigned bits) {
  if (bits == 0) return true;
  if (bits > 32) bits = 32;
  const uint32_t a = load_be32(ip), b = load_be32(net);
  return (a >> (32 - bits)) == (b >> (32 - bits));
}

// IPv6 prefix test: the first `bits` bits equal (both sides masked), bits clamped to 128.
bool ipv6_in_prefix(const uint8_t* ip, const uint8_t* net, unsigned bits) {
  if (bits > 128) bits = 128;
  const unsigned whole = bits / 8, rest = bits % 8;
  if (std::memcmp(ip, net, whole) != 0) return false;
  if (rest == 0) return true;
  const uint8_t mask = uint8_t(0xff << (8 - rest));
  return (ip[whole] & mask) == (net[whole] & mask);
}

bool is_l4_with_ports(uint8_t proto) { return proto == 6 || proto == 17 || proto == 132 || proto == 136; }

uint32_t tag_abs_diff(uint32_t a, uint32_t b) { return a > b ? a - b : b - a; }

// Lazily computed "sender IP/MAC authenticated" bits (§8.2 CHARACTERISTICS).
uint64_t ownership_bits(const FilterEnv& env, const FilterFrame& f, const View& v) {
  uint64_t bits = 0;
  const uint8_t* src4 = nullptr;
  const uint8_t* src6 = nullptr;
  if (f.ethertype == kEtherIpv4 && v.len() >= 20) {
    src4 = v.ptr(12);
  } else if (f.ethertype == kEtherIpv6 && v.len() >= 40) {
    // NDP: a Neighbor Solicitation carries no usable source, so it counts as authenticated
    // outright; a Neighbor Advertisement is judged by its target address.
    if (v.len() >= 64 && v.at(6) == 58 && (v.at(40) == 135 || v.at(40) == 136)) {
      if (v.at(40) == 135)
        bits |= kCharSenderIpAuthenticated;
      else
        src6 = v.ptr(48);
    } else {
      src6 = v.ptr(8);
    }
  } else if (f.ethertype == kEtherArp && v.len() >= 28) {
    src4 = v.ptr(14);
  }

  if (f.inbound) {
    if (env.peer) {
      if ((src4 && env.peer->owns_ipv4(env.config, src4)) || (src6 && env.peer->owns_ipv6(env.config, src6)))
        bits |= kCharSenderIpAuthenticated;
      if (env.peer->owns_mac(env.config, f.mac_source)) bits |= kCharSenderMacAuthenticated;
    }
  } else {
    // Outbound: our own COOs from the config, as they are (no timestamp test, no implicit
    // IPv6 rule).
    for (const auto& c : env.config.certificates_of_ownership) {
      if ((src4 && c.owns_ipv4(src4)) || (src6 && c.owns_ipv6(src6))) bits |= kCharSenderIpAuthenticated;
      if (c.owns_mac(f.mac_source)) bits |= kCharSenderMacAuthenticated;
    }
  }
  return bits;
}

uint64_t characteristics(const FilterEnv& env, const FilterFrame& f, const View& v, uint64_t ownership) {
  uint64_t cf = f.inbound ? kCharInbound : 0;
  if (f.mac_dest.is_multicast()) cf |= kCharMulticast;
  if (f.mac_dest.is_broadcast()) cf |= kCharBroadcast;
  cf |= ownership;
  if (f.ethertype == kEtherIpv4 && v.len() >= 20 && v.at(9) == 6) {
    // The reference does not check that the TCP header is there; missing bytes read as 0.
    const size_t hl = size_t(v.at(0) & 0x0f) * 4;
    cf |= uint64_t(v.at(hl + 13));
    cf |= uint64_t(v.at(hl + 12) & 0x0f) << 8;
  } else if (f.ethertype == kEtherIpv6) {
    if (auto p = ipv6_payload(v.d); p && p->protocol == 6 && v.len() > p->offset + 14) {
      cf |= uint64_t(v.at(p->offset + 13));
      cf |= uint64_t(v.at(p->offset + 12) & 0x0f) << 8;
    }
  }
  return cf;
}

// §8.2 INTEGER_RANGE value extraction, with the big-endian index quirk.
uint64_t integer_at(const Rule& r, const View& v) {
  const unsigned bits = r.int_bits();
  const unsigned nb = (bits + 7) / 8;
  uint64_t x = 0;
  if (!r.int_little_endian()) {
    const size_t idx = size_t(r.int_idx) + (8 - nb);
    if (idx + nb <= v.len())
      for (size_t i = idx; i < idx + nb; ++i) x = (x << 8) | v.d[i];
    return x & (~0ULL >> (64 - bits));
  }
  const size_t idx = r.int_idx;
  if (idx + nb <= v.len())
    for (size_t i = idx; i < idx + nb; ++i) x = (x >> 8) | (uint64_t(v.d[i]) << 56);
  return x >> (64 - bits);
}

}  // namespace

// ---- RuleLog -------------------------------------------------------------------------------

void RuleLog::log(size_t n, bool m, bool set_before) {
  if (n / 2 >= kSize) return;
  b_[n / 2] |= uint8_t(((unsigned(m) + 1) << 2 | (unsigned(set_before) + 1)) << ((n & 1) * 4));
}

void RuleLog::log_skipped(size_t n) {
  if (n / 2 >= kSize) return;
  b_[n / 2] |= uint8_t(1u << ((n & 1) * 4));
}

uint8_t RuleLog::entry(size_t n) const {
  if (n / 2 >= kSize) return 0;
  return uint8_t((b_[n / 2] >> ((n & 1) * 4)) & 0x0f);
}

// ---- Helpers -------------------------------------------------------------------------------

std::optional<Ipv6Payload> ipv6_payload(ByteSpan frame) {
  const size_t len = frame.size();
  if (len < 40) return std::nullopt;
  size_t pos = 40;
  uint8_t next = frame[6];
  while (pos <= len) {
    switch (next) {
      case 0:    // hop-by-hop options
      case 43:   // routing
      case 60:   // destination options
      case 135:  // mobility
        if (pos + 8 > len) return std::nullopt;
        next = frame[pos];
        pos += size_t(frame[pos + 1]) * 8 + 8;
        break;
      default:  // anything else (incl. fragment 44, ESP 50, AH 51) is the final protocol
        return Ipv6Payload{next, pos};
    }
  }
  return std::nullopt;
}

uint64_t frame_characteristics(const FilterEnv& env, const FilterFrame& frame) {
  View v{frame.payload};
  return characteristics(env, frame, v, ownership_bits(env, frame, v));
}

// ---- One rule list (§8.2) --------------------------------------------------------------------

namespace {

// The state of one list evaluation (§8.2): the running match result `set`, the superAccept /
// skipDrop flags, the pending copy, and the lazily computed ownership bits.
struct ListEval {
  const FilterEnv& env;
  const FilterFrame& f;
  const View v;
  const Address self;
  ListOutcome out;
  bool set = true;
  bool super_accept = false;
  bool skip_drop = false;
  std::optional<CopyTarget> copy;  // may hold address 0 (a TEE to 0 clears an earlier one)
  std::optional<uint64_t> ownership;

  ListEval(const FilterEnv& e, const FilterFrame& fr) : env(e), f(fr), v{fr.payload}, self(e.self & kAddressMask) {
    out.destination = fr.destination;
  }
  ListOutcome finish(ListResult r) {
    out.result = r;
    if (copy && copy->address != 0) out.copy = copy;
    return std::move(out);
  }
};

// One action rule (types 0..15). Returns the list's result when the action ends the list.
std::optional<ListResult> run_action(ListEval& s, const Rule& r, uint8_t t) {
  const bool forwarding = t == uint8_t(RuleType::ActionTee) || t == uint8_t(RuleType::ActionWatch) ||
                          t == uint8_t(RuleType::ActionRedirect);
  if (!s.set) {
    // A non-firing TEE/WATCH/REDIRECT naming us still makes us a target inbound.
    if (s.f.inbound && forwarding && (r.zt & kAddressMask) == s.self) s.super_accept = true;
    s.set = true;
    return std::nullopt;
  }
  switch (RuleType(t)) {
    case RuleType::ActionPriority:
      return ListResult::Accept;
    case RuleType::ActionDrop:
      if (s.skip_drop) {
        s.skip_drop = false;
        return std::nullopt;
      }
      return ListResult::Drop;
    case RuleType::ActionAccept:
      return s.super_accept ? ListResult::SuperAccept : ListResult::Accept;
    case RuleType::ActionTee:
    case RuleType::ActionWatch:
    case RuleType::ActionRedirect: {
      const Address fwd = r.zt & kAddressMask;
      if (fwd == s.f.source) {
        // no-op: the source is the target
      } else if (fwd == s.self) {
        if (s.f.inbound) return ListResult::SuperAccept;
      } else if (fwd == s.out.destination) {
        // no-op: already going there
      } else if (t == uint8_t(RuleType::ActionRedirect)) {
        s.out.destination = fwd;
        return ListResult::Redirect;
      } else {
        const uint32_t len = uint32_t(s.v.len());
        s.copy = CopyTarget{fwd, r.action_length == 0 ? len : std::min<uint32_t>(len, r.action_length),
                            t == uint8_t(RuleType::ActionWatch)};
      }
      return std::nullopt;
    }
    case RuleType::ActionBreak:
      return ListResult::NoMatch;
    default:  // reserved actions 7..15
      return std::nullopt;
  }
}

// The match families below return the raw match m. Forced outcomes (§8.2): "hard no" makes
// the combined result 0 whatever NOT says (m = negate), "hard yes" makes it 1 (m = !negate).

// ZeroTier addresses, VLAN fields, MACs and the ethertype: the frame's header.
bool match_frame_header(const ListEval& s, const Rule& r, uint8_t t) {
  switch (RuleType(t)) {
    case RuleType::MatchSourceZeroTierAddress: return (r.zt & kAddressMask) == s.f.source;
    case RuleType::MatchDestZeroTierAddress: return (r.zt & kAddressMask) == s.out.destination;
    case RuleType::MatchVlanId: return r.vlan_id == s.f.vlan_id;
    case RuleType::MatchVlanPcp: return r.vlan_pcp == 0;  // not supported: the frame's PCP is taken as 0
    case RuleType::MatchVlanDei: return r.vlan_dei == 0;
    case RuleType::MatchMacSource: return r.mac == s.f.mac_source;
    case RuleType::MatchMacDest: return r.mac == s.f.mac_dest;
    default: return s.f.ethertype == r.ethertype;  // MATCH_ETHERTYPE
  }
}

// IPv4/IPv6 source and destination prefixes, TOS / traffic class, IP protocol.
bool match_ip_header(const ListEval& s, const Rule& r, uint8_t t) {
  const FilterFrame& f = s.f;
  const View& v = s.v;
  const bool hard_no = r.negate;
  const bool v4 = f.ethertype == kEtherIpv4 && v.len() >= 20;
  switch (RuleType(t)) {
    case RuleType::MatchIpv4Source:
    case RuleType::MatchIpv4Dest:
      if (!v4) return hard_no;
      return ipv4_in_prefix(v.ptr(t == uint8_t(RuleType::MatchIpv4Source) ? 12 : 16), r.ip.data(), r.ip_prefix);
    case RuleType::MatchIpv6Source:
    case RuleType::MatchIpv6Dest:
      if (f.ethertype != kEtherIpv6 || v.len() < 40) return hard_no;
      return ipv6_in_prefix(v.ptr(t == uint8_t(RuleType::MatchIpv6Source) ? 8 : 24), r.ip.data(), r.ip_prefix);
    case RuleType::MatchIpTos: {
      uint8_t x = 0;
      if (v4)
        x = v.at(1) & r.tos_mask;
      else if (f.ethertype == kEtherIpv6 && v.len() >= 40)
        x = uint8_t((v.at(0) << 4) | (v.at(1) >> 4)) & r.tos_mask;
      else
        return hard_no;
      return x >= r.tos_low && x <= r.tos_high;
    }
    default: {  // MATCH_IP_PROTOCOL
      if (v4) return v.at(9) == r.ip_protocol;
      if (f.ethertype != kEtherIpv6) return hard_no;
      auto p = ipv6_payload(v.d);
      return p ? p->protocol == r.ip_protocol : hard_no;
    }
  }
}

// ICMP type/code and L4 source/destination port ranges.
bool match_l4(const ListEval& s, const Rule& r, uint8_t t) {
  const FilterFrame& f = s.f;
  const View& v = s.v;
  const bool hard_no = r.negate;
  const bool hard_yes = !r.negate;
  if (t == uint8_t(RuleType::MatchIcmp)) {
    // Locate the ICMP header; any failing precondition is a hard no.
    std::optional<size_t> at;
    if (f.ethertype == kEtherIpv4) {
      if (v.len() >= 20 && v.at(9) == 1) {
        const size_t ihl = size_t(v.at(0) & 0x0f) * 4;
        if (v.len() >= ihl + 2) at = ihl;
      }
    } else if (f.ethertype == kEtherIpv6) {
      auto p = ipv6_payload(v.d);
      if (p && p->protocol == 58 && v.len() >= p->offset + 2) at = p->offset;
    }
    if (!at || v.at(*at) != r.icmp_type) return hard_no;
    if (r.icmp_flags & 0x01) return v.at(*at + 1) == r.icmp_code;  // only the code comparison is subject to NOT
    return hard_yes;
  }
  // MATCH_IP_SOURCE_PORT_RANGE / MATCH_IP_DEST_PORT_RANGE
  const size_t which = t == uint8_t(RuleType::MatchIpDestPortRange) ? 2 : 0;
  if (f.ethertype == kEtherIpv4 && v.len() >= 20) {
    const size_t hl = size_t(v.at(0) & 0x0f) * 4;
    if (!is_l4_with_ports(v.at(9)) || v.len() <= hl + 4) return false;
    const unsigned port = (unsigned(v.at(hl + which)) << 8) | v.at(hl + which + 1);
    return port >= r.range_low && port <= r.range_high;
  }
  if (f.ethertype != kEtherIpv6) return hard_no;
  auto p = ipv6_payload(v.d);
  if (!p) return hard_no;
  if (!is_l4_with_ports(p->protocol) || v.len() <= p->offset + 4) return false;
  const unsigned port = (unsigned(v.at(p->offset + which)) << 8) | v.at(p->offset + which + 1);
  // Port 0 never matches on IPv6 (reference behaviour).
  return port > 0 && port >= r.range_low && port <= r.range_high;
}

// MATCH_TAGS_* (own tag against the peer's) and MATCH_TAG_SENDER / RECEIVER. Where the peer's
// tag is unknown these may answer "yes" and let the next DROP pass (skipDrop).
bool match_tags(ListEval& s, const Rule& r, uint8_t t) {
  const proto::NetworkConfig& cfg = s.env.config;
  const bool hard_no = r.negate;
  const bool hard_yes = !r.negate;
  auto peer_tag = [&]() -> const proto::Tag* { return s.env.peer ? s.env.peer->tag(cfg, r.tag_id) : nullptr; };
  if (t == uint8_t(RuleType::MatchTagSender) || t == uint8_t(RuleType::MatchTagReceiver)) {
    const bool sender = t == uint8_t(RuleType::MatchTagSender);
    if (s.super_accept) {
      s.skip_drop = true;
      return hard_yes;
    }
    if (sender == s.f.inbound) {
      // The tag belongs to the peer (sender inbound, receiver outbound).
      if (const proto::Tag* theirs = peer_tag()) return theirs->value == r.tag_value;
      if (sender) return hard_no;
      s.skip_drop = true;
      return hard_yes;
    }
    const proto::Tag* mine = cfg.tag(r.tag_id);
    return mine ? mine->value == r.tag_value : hard_no;
  }
  const proto::Tag* mine = cfg.tag(r.tag_id);
  if (!mine) return hard_no;
  const proto::Tag* theirs = peer_tag();
  if (!theirs) {
    // Lenient unless inbound and not a target: an outbound sender may not know the
    // receiver's tags yet, so it lets the next DROP pass and the receiver decides.
    if (s.f.inbound && !s.super_accept) return hard_no;
    s.skip_drop = true;
    return hard_yes;
  }
  const uint32_t a = mine->value, b = theirs->value, x = r.tag_value;
  switch (RuleType(t)) {
    case RuleType::MatchTagsDifference: return tag_abs_diff(a, b) <= x;
    case RuleType::MatchTagsBitwiseAnd: return (a & b) == x;
    case RuleType::MatchTagsBitwiseOr: return (a | b) == x;
    case RuleType::MatchTagsBitwiseXor: return (a ^ b) == x;
    default: return a == x && b == x;  // TAGS_EQUAL
  }
}

// Whole-frame properties: characteristics, frame size, random, integer range; and the
// unassigned match types (16..23, 52..63), which evaluate to config flag 0x08.
bool match_frame_wide(ListEval& s, const Rule& r, uint8_t t) {
  switch (RuleType(t)) {
    case RuleType::MatchCharacteristics:
      if (!s.ownership) s.ownership = ownership_bits(s.env, s.f, s.v);
      return (characteristics(s.env, s.f, s.v, *s.ownership) & r.characteristics) != 0;
    case RuleType::MatchFrameSizeRange:
      return s.v.len() >= r.range_low && s.v.len() <= r.range_high;
    case RuleType::MatchRandom:
      return (s.env.random ? s.env.random() : 0u) <= r.probability;
    case RuleType::MatchIntegerRange: {
      const uint64_t x = integer_at(r, s.v);
      // start + span wraps as 64-bit unsigned arithmetic does in the reference.
      return x >= r.int_start && x <= r.int_start + uint64_t(r.int_span());
    }
    default:
      return (s.env.config.flags & proto::NetworkConfig::kFlagUnsupportedMatchResult) != 0;
  }
}

// One match rule (types 16..63): the raw match m, dispatched by family.
bool match_rule(ListEval& s, const Rule& r, uint8_t t) {
  switch (RuleType(t)) {
    case RuleType::MatchSourceZeroTierAddress:
    case RuleType::MatchDestZeroTierAddress:
    case RuleType::MatchVlanId:
    case RuleType::MatchVlanPcp:
    case RuleType::MatchVlanDei:
    case RuleType::MatchMacSource:
    case RuleType::MatchMacDest:
    case RuleType::MatchEthertype:
      return match_frame_header(s, r, t);
    case RuleType::MatchIpv4Source:
    case RuleType::MatchIpv4Dest:
    case RuleType::MatchIpv6Source:
    case RuleType::MatchIpv6Dest:
    case RuleType::MatchIpTos:
    case RuleType::MatchIpProtocol:
      return match_ip_header(s, r, t);
    case RuleType::MatchIcmp:
    case RuleType::MatchIpSourcePortRange:
    case RuleType::MatchIpDestPortRange:
      return match_l4(s, r, t);
    case RuleType::MatchTagsDifference:
    case RuleType::MatchTagsBitwiseAnd:
    case RuleType::MatchTagsBitwiseOr:
    case RuleType::MatchTagsBitwiseXor:
    case RuleType::MatchTagsEqual:
    case RuleType::MatchTagSender:
    case RuleType::MatchTagReceiver:
      return match_tags(s, r, t);
    default:
      return match_frame_wide(s, r, t);
  }
}

}  // namespace

ListOutcome evaluate_rules(const FilterEnv& env, const FilterFrame& f, std::span<const Rule> rules) {
  ListEval s(env, f);
  for (size_t rn = 0; rn < rules.size(); ++rn) {
    const Rule& r = rules[rn];
    const uint8_t t = r.type & 0x3f;
    if (t <= 15) {
      if (auto end = run_action(s, r, t)) {
        s.out.rule = int(rn);
        return s.finish(*end);
      }
      continue;
    }
    // A match ANDed onto a failed set is skipped (§8.2 short circuit).
    if (!s.set && !r.or_) {
      s.out.log.log_skipped(rn);
      continue;
    }
    const bool m = match_rule(s, r, t);
    s.out.log.log(rn, m, s.set);
    const bool c = m != r.negate;
    s.set = r.or_ ? (s.set || c) : (s.set && c);
  }
  return s.finish(ListResult::NoMatch);
}

// ---- The full filter (§8.3) ------------------------------------------------------------------

namespace {

bool accepting(ListResult r) {
  return r == ListResult::Accept || r == ListResult::SuperAccept || r == ListResult::Redirect;
}

void add_copy(FilterResult& res, const std::optional<CopyTarget>& c) {
  if (c && c->address != 0 && res.copy_count < res.copies.size()) res.copies[res.copy_count++] = *c;
}

// Common tail of both directions once the outcome is known (accept = 0, 1 or 2).
void conclude(FilterResult& res, const FilterFrame& f, int accept, Address final_dest,
              const std::optional<CopyTarget>& base_copy, bool copies_allowed) {
  if (accept == 0) {
    res.verdict = FilterVerdict::Drop;
    res.trace_result = 0;
    res.copy_count = 0;
    return;
  }
  if (copies_allowed) add_copy(res, base_copy);
  if (final_dest != f.destination && final_dest != 0) {
    // Redirected: the copy goes to the new destination, the original is not delivered.
    res.verdict = FilterVerdict::Redirect;
    res.redirect_to = final_dest;
    res.trace_result = 0;
    return;
  }
  res.verdict = accept == 2 ? FilterVerdict::SuperAccept : FilterVerdict::Accept;
  res.trace_result = accept;
}

}  // namespace

FilterResult filter_outbound(const FilterEnv& env, const FilterFrame& frame, bool copies_allowed) {
  FilterResult res;
  ListOutcome base = evaluate_rules(env, frame, env.config.rules);
  res.base_log = base.log;
  res.base_rule = base.rule;

  int accept = 0;
  Address final_dest = frame.destination;
  switch (base.result) {
    case ListResult::Drop:
      res.verdict = FilterVerdict::Drop;
      return res;
    case ListResult::Accept:
    case ListResult::SuperAccept:  // cannot happen outbound; same as ACCEPT
    case ListResult::Redirect:
      accept = 1;
      final_dest = base.destination;
      break;
    case ListResult::NoMatch: {
      // Own capabilities, ascending ID (the config keeps them sorted; sort defensively).
      std::vector<const proto::Capability*> caps;
      caps.reserve(env.config.capabilities.size());
      for (const auto& c : env.config.capabilities) caps.push_back(&c);
      std::stable_sort(caps.begin(), caps.end(), [](auto* a, auto* b) { return a->id < b->id; });
      for (const proto::Capability* c : caps) {
        auto rules = c->rules();
        ListOutcome co = evaluate_rules(env, frame, rules ? std::span<const Rule>(*rules) : std::span<const Rule>());
        res.capability_log = co.log;
        if (!accepting(co.result)) continue;  // DROP in a capability only ends that capability
        accept = 1;
        final_dest = co.destination;
        res.matching_capability = c->id;
        res.capability_rule = co.rule;
        if (copies_allowed) add_copy(res, co.copy);
        break;
      }
      break;
    }
  }
  conclude(res, frame, accept, final_dest, base.copy, copies_allowed);
  return res;
}

FilterResult filter_inbound(const FilterEnv& env, const FilterFrame& frame) {
  FilterResult res;
  ListOutcome base = evaluate_rules(env, frame, env.config.rules);
  res.base_log = base.log;
  res.base_rule = base.rule;

  int accept = 0;
  Address final_dest = frame.destination;
  switch (base.result) {
    case ListResult::Drop:
      res.verdict = FilterVerdict::Drop;
      return res;
    case ListResult::Accept:
    case ListResult::Redirect:
      accept = 1;
      final_dest = base.destination;
      break;
    case ListResult::SuperAccept:
      accept = 2;
      break;
    case ListResult::NoMatch:
      if (!env.peer) break;
      for (const HeldCapability* h : env.peer->capabilities(env.config)) {
        ListOutcome co = evaluate_rules(env, frame, h->rules);
        res.capability_log = co.log;
        if (!accepting(co.result)) continue;
        accept = co.result == ListResult::SuperAccept ? 2 : 1;
        final_dest = co.destination;
        res.matching_capability = h->cap.id;
        res.capability_rule = co.rule;
        add_copy(res, co.copy);
        break;
      }
      break;
  }
  conclude(res, frame, accept, final_dest, base.copy, true);
  return res;
}

const char* list_result_name(ListResult r) {
  switch (r) {
    case ListResult::NoMatch: return "NO_MATCH";
    case ListResult::Drop: return "DROP";
    case ListResult::Accept: return "ACCEPT";
    case ListResult::SuperAccept: return "SUPER_ACCEPT";
    case ListResult::Redirect: return "REDIRECT";
  }
  return "?";
}

const char* filter_verdict_name(FilterVerdict v) {
  switch (v) {
    case FilterVerdict::Drop: return "drop";
    case FilterVerdict::Accept: return "accept";
    case FilterVerdict::SuperAccept: return "super-accept";
    case FilterVerdict::Redirect: return "redirect";
  }
  return "?";
}

}  // namespace zt::core
