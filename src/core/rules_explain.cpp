// Explaining rule decisions: see rules_explain.hpp.
#include "core/rules_explain.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/hex.hpp"

namespace zt::core {

using proto::Rule;
using proto::RuleType;

namespace {

constexpr uint64_t kAddressMask = 0xffffffffffULL;
constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86dd;

std::string fmt(const char* f, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* f, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, f);
  const int n = std::vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return n < 0 ? std::string() : std::string(buf, std::min<size_t>(size_t(n), sizeof buf - 1));
}

std::string addr(uint64_t a) { return to_hex(a & kAddressMask, 10); }

std::string ip_text(const uint8_t* p, bool v6) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6 ? AF_INET6 : AF_INET, p, buf, sizeof buf);
  return buf;
}

// Bounds-checked reads of the payload (missing bytes read as 0; callers check lengths first
// where the engine does).
struct Frame {
  const FilterFrame& f;
  ByteSpan d;
  explicit Frame(const FilterFrame& fr) : f(fr), d(fr.payload) {}
  uint8_t at(size_t i) const { return i < d.size() ? d[i] : 0; }
  bool v4() const { return f.ethertype == kEtherIpv4 && d.size() >= 20; }
  bool v6() const { return f.ethertype == kEtherIpv6 && d.size() >= 40; }
  // IP protocol and L4 offset (IPv4: IHL; IPv6: after the extension headers).
  std::optional<Ipv6Payload> l4() const {
    if (v4()) return Ipv6Payload{at(9), size_t(at(0) & 0x0f) * 4};
    if (f.ethertype == kEtherIpv6) return ipv6_payload(d);
    return std::nullopt;
  }
  std::string not_ip() const { return fmt("frame is not IP (ethertype 0x%04x, %zu bytes)", f.ethertype, d.size()); }
};

std::string cmp(const char* name, const std::string& frame_value, bool m, const std::string& rule_value) {
  return std::string(name) + " " + frame_value + (m ? " = " : " ≠ ") + rule_value;
}

std::string in_range(const char* name, uint64_t v, bool m, uint64_t lo, uint64_t hi) {
  return fmt("%s %llu %s %llu-%llu", name, (unsigned long long)v, m ? "in" : "not in", (unsigned long long)lo,
             (unsigned long long)hi);
}

std::string prefix_detail(const Frame& fr, const Rule& r, bool m, bool v6, bool source) {
  const char* name = source ? "ipsrc" : "ipdest";
  if (v6 ? !fr.v6() : !fr.v4()) return fmt("%s: frame is not %s", name, v6 ? "IPv6" : "IPv4");
  const size_t off = v6 ? (source ? 8 : 24) : (source ? 12 : 16);
  return std::string(name) + " " + ip_text(fr.d.data() + off, v6) + (m ? " in " : " not in ") + ip_text(r.ip.data(), v6) +
         "/" + std::to_string(r.ip_prefix);
}

std::string tos_detail(const Frame& fr, const Rule& r, bool m) {
  uint8_t x;
  if (fr.v4())
    x = fr.at(1) & r.tos_mask;
  else if (fr.v6())
    x = uint8_t((fr.at(0) << 4) | (fr.at(1) >> 4)) & r.tos_mask;
  else
    return "iptos: " + fr.not_ip();
  return fmt("iptos 0x%02x & 0x%02x = 0x%02x %s 0x%02x-0x%02x", fr.v4() ? fr.at(1) : unsigned(x), r.tos_mask, x,
             m ? "in" : "not in", r.tos_low, r.tos_high);
}

std::string icmp_detail(const Frame& fr, const Rule& r, bool m) {
  auto p = fr.l4();
  const uint8_t want = fr.f.ethertype == kEtherIpv6 ? 58 : 1;
  if (!p || p->protocol != want || fr.d.size() < p->offset + 2)
    return p ? fmt("icmp: frame is not ICMP (ipprotocol %u)", p->protocol) : "icmp: " + fr.not_ip();
  const uint8_t type = fr.at(p->offset), code = fr.at(p->offset + 1);
  std::string rule = (r.icmp_flags & 0x01) ? fmt("%u/%u", r.icmp_type, r.icmp_code) : fmt("%u/any", r.icmp_type);
  return fmt("icmp %u/%u", type, code) + (m ? " = " : " ≠ ") + rule;
}

std::string port_detail(const Frame& fr, const Rule& r, bool m) {
  const bool dest = r.type == uint8_t(RuleType::MatchIpDestPortRange);
  const char* name = dest ? "dport" : "sport";
  auto p = fr.l4();
  if (!p) return std::string(name) + ": " + fr.not_ip();
  const uint8_t pr = p->protocol;
  if (!(pr == 6 || pr == 17 || pr == 132 || pr == 136)) return fmt("%s: ipprotocol %u has no ports", name, pr);
  if (fr.d.size() <= p->offset + 4) return fmt("%s: L4 header truncated", name);
  const size_t at = p->offset + (dest ? 2 : 0);
  const unsigned port = (unsigned(fr.at(at)) << 8) | fr.at(at + 1);
  return in_range(name, port, m, r.range_low, r.range_high);
}

// MATCH_TAGS_* and MATCH_TAG_SENDER/RECEIVER, in terms of the sender's and the receiver's tag.
std::string tag_detail(const FilterEnv& env, const FilterFrame& f, const Rule& r, bool m) {
  const proto::Tag* own = env.config.tag(r.tag_id);
  const proto::Tag* peer = env.peer ? env.peer->tag(env.config, r.tag_id) : nullptr;
  const proto::Tag* snd = f.inbound ? peer : own;
  const proto::Tag* rcv = f.inbound ? own : peer;
  auto val = [](const proto::Tag* t) { return t ? std::to_string(t->value) : std::string("unknown"); };
  const uint32_t x = r.tag_value;
  const RuleType t = RuleType(r.type);
  if (t == RuleType::MatchTagSender || t == RuleType::MatchTagReceiver) {
    const bool sender = t == RuleType::MatchTagSender;
    const proto::Tag* tag = sender ? snd : rcv;
    std::string s = fmt("%s tag %u", sender ? "sender" : "receiver", r.tag_id);
    if (!tag) return s + " unknown" + (m ? " (undecided: the next DROP is passed over)" : "");
    return s + " " + val(tag) + (m ? " = " : " ≠ ") + std::to_string(x);
  }
  std::string s = fmt("tag %u", r.tag_id);
  if (!own) return s + ": own tag missing";
  if (!peer) return s + ": peer's tag unknown" + (m ? " (undecided: the next DROP is passed over)" : "");
  const uint32_t a = snd->value, b = rcv->value;
  const std::string both = fmt("sender %u, receiver %u", a, b);
  switch (t) {
    case RuleType::MatchTagsDifference:
      if (x == 0) return s + (a == b ? fmt(" equal, sender %u = receiver %u", a, b) : fmt(" differs, sender %u ≠ receiver %u", a, b));
      return s + ": " + both + fmt(", |difference| %u %s %u", a > b ? a - b : b - a, m ? "≤" : ">", x);
    case RuleType::MatchTagsBitwiseAnd: return s + ": " + both + fmt(", and 0x%x %s 0x%x", a & b, m ? "=" : "≠", x);
    case RuleType::MatchTagsBitwiseOr: return s + ": " + both + fmt(", or 0x%x %s 0x%x", a | b, m ? "=" : "≠", x);
    case RuleType::MatchTagsBitwiseXor: return s + ": " + both + fmt(", xor 0x%x %s 0x%x", a ^ b, m ? "=" : "≠", x);
    default: return s + ": " + both + (m ? fmt(", both = %u", x) : fmt(", not both %u", x));
  }
}

std::string frame_wide_detail(const FilterEnv& env, const FilterFrame& f, const Rule& r, bool m) {
  switch (RuleType(r.type)) {
    case RuleType::MatchCharacteristics: {
      const uint64_t cf = frame_characteristics(env, f);
      return fmt("chr 0x%016llx & 0x%016llx = 0x%016llx", (unsigned long long)cf, (unsigned long long)r.characteristics,
                 (unsigned long long)(cf & r.characteristics)) + (m ? " (some bit set)" : " (no bit set)");
    }
    case RuleType::MatchFrameSizeRange: return in_range("framesize", f.payload.size(), m, r.range_low, r.range_high);
    case RuleType::MatchRandom: return fmt("random draw %s %u", m ? "≤" : ">", r.probability);
    case RuleType::MatchIntegerRange:
      return fmt("integer at %u (%u bits) %s 0x%llx-0x%llx", r.int_idx, r.int_bits(), m ? "in" : "not in",
                 (unsigned long long)r.int_start, (unsigned long long)(r.int_start + uint64_t(r.int_span())));
    default:
      return fmt("unsupported match type %u: config flag 0x08 gives %s", r.type & 0x3f, m ? "true" : "false");
  }
}

const char* action_word(uint8_t t) {
  switch (RuleType(t)) {
    case RuleType::ActionDrop: return "DROP";
    case RuleType::ActionAccept: return "ACCEPT";
    case RuleType::ActionTee: return "TEE";
    case RuleType::ActionWatch: return "WATCH";
    case RuleType::ActionRedirect: return "REDIRECT";
    case RuleType::ActionBreak: return "BREAK";
    case RuleType::ActionPriority: return "PRIORITY";
    default: return "RESERVED_ACTION";
  }
}

}  // namespace

std::string match_detail(const FilterEnv& env, const FilterFrame& f, const Rule& r, bool m) {
  const Frame fr(f);
  switch (RuleType(r.type & 0x3f)) {
    case RuleType::MatchSourceZeroTierAddress: return cmp("ztsrc", addr(f.source), m, addr(r.zt));
    case RuleType::MatchDestZeroTierAddress: return cmp("ztdest", addr(f.destination), m, addr(r.zt));
    case RuleType::MatchVlanId: return cmp("vlan", std::to_string(f.vlan_id), m, std::to_string(r.vlan_id));
    case RuleType::MatchVlanPcp: return cmp("vlanpcp", "0 (not supported)", m, std::to_string(r.vlan_pcp));
    case RuleType::MatchVlanDei: return cmp("vlandei", "0 (not supported)", m, std::to_string(r.vlan_dei));
    case RuleType::MatchMacSource: return cmp("macsrc", f.mac_source.to_string(), m, r.mac.to_string());
    case RuleType::MatchMacDest: return cmp("macdest", f.mac_dest.to_string(), m, r.mac.to_string());
    case RuleType::MatchEthertype: return cmp("ethertype", fmt("0x%04x", f.ethertype), m, fmt("0x%04x", r.ethertype));
    case RuleType::MatchIpv4Source: return prefix_detail(fr, r, m, false, true);
    case RuleType::MatchIpv4Dest: return prefix_detail(fr, r, m, false, false);
    case RuleType::MatchIpv6Source: return prefix_detail(fr, r, m, true, true);
    case RuleType::MatchIpv6Dest: return prefix_detail(fr, r, m, true, false);
    case RuleType::MatchIpTos: return tos_detail(fr, r, m);
    case RuleType::MatchIpProtocol: {
      auto p = fr.l4();
      if (!p) return "ipprotocol: " + fr.not_ip();
      return cmp("ipprotocol", std::to_string(p->protocol), m, std::to_string(r.ip_protocol));
    }
    case RuleType::MatchIcmp: return icmp_detail(fr, r, m);
    case RuleType::MatchIpSourcePortRange:
    case RuleType::MatchIpDestPortRange: return port_detail(fr, r, m);
    case RuleType::MatchTagsDifference:
    case RuleType::MatchTagsBitwiseAnd:
    case RuleType::MatchTagsBitwiseOr:
    case RuleType::MatchTagsBitwiseXor:
    case RuleType::MatchTagsEqual:
    case RuleType::MatchTagSender:
    case RuleType::MatchTagReceiver: return tag_detail(env, f, r, m);
    default: return frame_wide_detail(env, f, r, m);
  }
}

namespace {

std::string match_text(const Rule& r) {
  switch (RuleType(r.type)) {
    case RuleType::MatchSourceZeroTierAddress: return "ztsrc " + addr(r.zt);
    case RuleType::MatchDestZeroTierAddress: return "ztdest " + addr(r.zt);
    case RuleType::MatchVlanId: return fmt("vlan %u", r.vlan_id);
    case RuleType::MatchVlanPcp: return fmt("vlanpcp %u", r.vlan_pcp);
    case RuleType::MatchVlanDei: return fmt("vlandei %u", r.vlan_dei);
    case RuleType::MatchMacSource: return "macsrc " + r.mac.to_string();
    case RuleType::MatchMacDest: return "macdest " + r.mac.to_string();
    case RuleType::MatchIpv4Source: return "ipsrc " + ip_text(r.ip.data(), false) + fmt("/%u", r.ip_prefix);
    case RuleType::MatchIpv4Dest: return "ipdest " + ip_text(r.ip.data(), false) + fmt("/%u", r.ip_prefix);
    case RuleType::MatchIpv6Source: return "ipsrc " + ip_text(r.ip.data(), true) + fmt("/%u", r.ip_prefix);
    case RuleType::MatchIpv6Dest: return "ipdest " + ip_text(r.ip.data(), true) + fmt("/%u", r.ip_prefix);
    case RuleType::MatchIpTos: return fmt("iptos 0x%02x 0x%02x-0x%02x", r.tos_mask, r.tos_low, r.tos_high);
    case RuleType::MatchIpProtocol: return fmt("ipprotocol %u", r.ip_protocol);
    case RuleType::MatchEthertype: return fmt("ethertype 0x%04x", r.ethertype);
    case RuleType::MatchIcmp: return (r.icmp_flags & 0x01) ? fmt("icmp %u %u", r.icmp_type, r.icmp_code) : fmt("icmp %u -1", r.icmp_type);
    case RuleType::MatchIpSourcePortRange: return fmt("sport %u-%u", r.range_low, r.range_high);
    case RuleType::MatchIpDestPortRange: return fmt("dport %u-%u", r.range_low, r.range_high);
    case RuleType::MatchCharacteristics: return fmt("chr 0x%016llx", (unsigned long long)r.characteristics);
    case RuleType::MatchFrameSizeRange: return fmt("framesize %u-%u", r.range_low, r.range_high);
    case RuleType::MatchRandom: return fmt("random %.6f", double(r.probability) / 4294967295.0);
    case RuleType::MatchTagsDifference: return fmt("tdiff %u %u", r.tag_id, r.tag_value);
    case RuleType::MatchTagsBitwiseAnd: return fmt("tand %u %u", r.tag_id, r.tag_value);
    case RuleType::MatchTagsBitwiseOr: return fmt("tor %u %u", r.tag_id, r.tag_value);
    case RuleType::MatchTagsBitwiseXor: return fmt("txor %u %u", r.tag_id, r.tag_value);
    case RuleType::MatchTagsEqual: return fmt("teq %u %u", r.tag_id, r.tag_value);
    case RuleType::MatchTagSender: return fmt("tseq %u %u", r.tag_id, r.tag_value);
    case RuleType::MatchTagReceiver: return fmt("treq %u %u", r.tag_id, r.tag_value);
    default: {  // no form in the language: the §10.3 type and fields
      Rule plain = r;
      plain.or_ = plain.negate = false;
      return proto::describe(plain);
    }
  }
}

}  // namespace

std::string rule_text(const Rule& r) {
  switch (RuleType(r.type)) {
    case RuleType::ActionDrop: return "drop";
    case RuleType::ActionAccept: return "accept";
    case RuleType::ActionTee: return fmt("tee %u ", r.action_length) + addr(r.zt);
    case RuleType::ActionWatch: return fmt("watch %u ", r.action_length) + addr(r.zt);
    case RuleType::ActionRedirect: return "redirect " + addr(r.zt);
    case RuleType::ActionBreak: return "break";
    case RuleType::ActionPriority: return "priority";
    default: break;
  }
  if (r.is_action()) return proto::describe(r);
  return std::string(r.or_ ? "or " : "") + (r.negate ? "not " : "") + match_text(r);
}

namespace {

// The rules of capability `id` as the filter evaluated them: own capabilities outbound, the
// sender's valid ones inbound. Empty if not found.
std::vector<Rule> capability_rules(const FilterEnv& env, const FilterFrame& f, uint32_t id) {
  if (f.inbound) {
    if (!env.peer) return {};
    for (const HeldCapability* h : env.peer->capabilities(env.config))
      if (h->cap.id == id) return h->rules;
    return {};
  }
  for (const auto& c : env.config.capabilities)
    if (c.id == id) {
      auto rules = c.rules();
      return rules ? *rules : std::vector<Rule>();
    }
  return {};
}

// The evaluated matches since the action before `idx`, joined with ", ".
std::string chain_text(const FilterEnv& env, const FilterFrame& f, std::span<const Rule> rules, const RuleLog& log,
                       size_t idx) {
  size_t start = idx;
  while (start > 0 && !rules[start - 1].is_action()) --start;
  std::string s;
  for (size_t k = start; k < idx; ++k) {
    const uint8_t e = log.entry(k);
    if (e < 4) continue;  // skipped (short circuit) or not logged
    const bool m = ((e >> 2) & 3) == 2;
    const Rule& r = rules[k];
    if (!s.empty()) s += ", ";
    // The facts speak for themselves: a negated match that let the action fire shows the
    // fact that made it true ("tag 1 differs" for "not tdiff 1 0"), so no "not" is added.
    s += std::string(r.or_ ? "or " : "") + match_detail(env, f, r, m);
  }
  return s;
}

}  // namespace

std::string decision_reason(const FilterEnv& env, const FilterFrame& f, const FilterResult& res) {
  const bool by_cap = res.matching_capability.has_value();
  std::vector<Rule> cap_rules;
  std::span<const Rule> rules = env.config.rules;
  const RuleLog* log = &res.base_log;
  int idx = res.base_rule;
  if (by_cap) {
    cap_rules = capability_rules(env, f, *res.matching_capability);
    rules = cap_rules;
    log = &res.capability_log;
    idx = res.capability_rule;
  }
  if (idx < 0 || size_t(idx) >= rules.size()) {
    if (!by_cap && res.verdict == FilterVerdict::Drop) return "no rule matched: default DROP";
    std::string s = std::string("verdict ") + filter_verdict_name(res.verdict);
    if (by_cap) s += fmt(" (capability %u)", *res.matching_capability);
    return s + ": deciding rule unknown";
  }
  const Rule& act = rules[size_t(idx)];
  std::string s = fmt("rule %d %s", idx, action_word(act.type));
  if (by_cap) s += fmt(" (capability %u)", *res.matching_capability);
  if (res.verdict == FilterVerdict::Redirect) s += " to " + addr(res.redirect_to);
  const std::string chain = chain_text(env, f, rules, *log, size_t(idx));
  s += chain.empty() ? ": unconditional" : ": " + chain;
  if (!by_cap && act.type == uint8_t(RuleType::ActionBreak) && res.verdict == FilterVerdict::Drop)
    s += "; no capability accepted: default DROP";
  if (res.verdict == FilterVerdict::SuperAccept) s += " (super-accept: this node is a TEE/WATCH/REDIRECT target)";
  return s;
}

namespace {

std::string action_detail(const FilterEnv& env, const FilterFrame& f, const Rule& r, const ListOutcome& out, size_t k,
                          bool set) {
  const uint8_t t = r.type;
  const bool fwd = t == uint8_t(RuleType::ActionTee) || t == uint8_t(RuleType::ActionWatch) ||
                   t == uint8_t(RuleType::ActionRedirect);
  if (!set) {
    if (f.inbound && fwd && (r.zt & kAddressMask) == (env.self & kAddressMask))
      return "not taken (names this node: it is a target, later ACCEPT is super-accept)";
    return "not taken (matches false)";
  }
  if (out.rule == int(k)) return std::string("taken: ends the list, ") + list_result_name(out.result);
  if (t == uint8_t(RuleType::ActionDrop)) return "passed over (an undecided tag match before it)";
  if (fwd) {
    const uint64_t a = r.zt & kAddressMask;
    if (a == f.source || a == f.destination || a == (env.self & kAddressMask)) return "taken: no-op (target is source, destination or self)";
    return "taken: copy to " + addr(a);
  }
  return "taken: no effect (reserved action)";
}

ListExplanation explain_list(const FilterEnv& env, const FilterFrame& f, std::span<const Rule> rules,
                             const ListOutcome& out, std::optional<uint32_t> cap) {
  ListExplanation le;
  le.capability = cap;
  le.result = out.result;
  le.rule = out.rule;
  bool set = true, ended = false;
  for (size_t k = 0; k < rules.size(); ++k) {
    const Rule& r = rules[k];
    RuleExplanation re;
    re.index = int(k);
    re.text = rule_text(r);
    re.type = proto::rule_type_name(r.type);
    re.action = r.is_action();
    re.reached = !ended;
    if (ended) {
      re.detail = "not reached";
    } else if (re.action) {
      re.evaluated = true;
      re.detail = action_detail(env, f, r, out, k, set);
      re.decided = out.rule == int(k);
      set = true;
      re.state = set;
      ended = re.decided;
    } else {
      const uint8_t e = out.log.entry(k);
      if (e >= 4) {
        const bool m = ((e >> 2) & 3) == 2, before = (e & 3) == 2, c = m != r.negate;
        set = r.or_ ? (before || c) : (before && c);
        re.evaluated = true;
        re.match = m;
        re.detail = match_detail(env, f, r, m);
      } else {
        set = false;  // short-circuited: ANDed onto a false result
        re.detail = k < RuleLog::kSize * 2 ? "skipped (result already false)" : "not logged";
      }
      re.state = set;
    }
    le.rules.push_back(std::move(re));
  }
  return le;
}

bool accepting(ListResult r) {
  return r == ListResult::Accept || r == ListResult::SuperAccept || r == ListResult::Redirect;
}

}  // namespace

Explanation explain_filter(const FilterEnv& env, const FilterFrame& f, bool copies_allowed) {
  // Record the filter's random draws and replay them to the per-list evaluation below.
  std::vector<uint32_t> draws;
  FilterEnv rec{env.config, env.self, env.peer, [&]() {
                  const uint32_t x = env.random ? env.random() : 0u;
                  draws.push_back(x);
                  return x;
                }};
  Explanation e;
  e.result = f.inbound ? filter_inbound(rec, f) : filter_outbound(rec, f, copies_allowed);
  size_t next = 0;
  FilterEnv rep{env.config, env.self, env.peer, [&]() { return next < draws.size() ? draws[next++] : 0u; }};

  const ListOutcome base = evaluate_rules(rep, f, env.config.rules);
  e.lists.push_back(explain_list(rep, f, env.config.rules, base, std::nullopt));
  if (base.result == ListResult::NoMatch) {
    auto explain_cap = [&](uint32_t id, std::span<const Rule> rules) {
      const ListOutcome co = evaluate_rules(rep, f, rules);
      e.lists.push_back(explain_list(rep, f, rules, co, id));
      return accepting(co.result);
    };
    if (f.inbound) {
      if (env.peer)
        for (const HeldCapability* h : env.peer->capabilities(env.config))
          if (explain_cap(h->cap.id, h->rules)) break;
    } else {
      std::vector<const proto::Capability*> caps;
      for (const auto& c : env.config.capabilities) caps.push_back(&c);
      std::stable_sort(caps.begin(), caps.end(), [](auto* a, auto* b) { return a->id < b->id; });
      for (const proto::Capability* c : caps) {
        auto rules = c->rules();
        if (explain_cap(c->id, rules ? std::span<const Rule>(*rules) : std::span<const Rule>())) break;
      }
    }
  }
  e.verdict = e.result.verdict;
  e.redirect_to = e.result.redirect_to;
  e.capability = e.result.matching_capability;
  e.rule = e.capability ? e.result.capability_rule : e.result.base_rule;
  e.reason = decision_reason(env, f, e.result);
  return e;
}

bool parse_ethernet_frame(ByteSpan b, FilterFrame& out) {
  if (b.size() < 14) return false;
  size_t at = 12;
  uint16_t et = load_be16(b.data() + at);
  while (et == 0x8100 || et == 0x88a8) {  // VLAN tags: the engine sees vlan 0 (as the reference)
    if (b.size() < at + 6) return false;
    at += 4;
    et = load_be16(b.data() + at);
  }
  out.mac_dest = proto::Mac::from_bytes(b.data());
  out.mac_source = proto::Mac::from_bytes(b.data() + 6);
  out.ethertype = et;
  out.payload = b.subspan(at + 2);
  return true;
}

std::string explanation_json(const Explanation& e) {
  using json = nlohmann::ordered_json;  // the documented key order
  json rules = json::array();
  for (const ListExplanation& l : e.lists)
    for (const RuleExplanation& r : l.rules)
      rules.push_back({{"capability", l.capability ? json(*l.capability) : json(nullptr)},
                       {"index", r.index},
                       {"text", r.text},
                       {"type", r.type},
                       {"action", r.action},
                       {"reached", r.reached},
                       {"evaluated", r.evaluated},
                       {"match", r.match ? json(*r.match) : json(nullptr)},
                       {"state", r.state ? json(*r.state) : json(nullptr)},
                       {"decided", r.decided},
                       {"detail", r.detail}});
  json j = {{"verdict", filter_verdict_name(e.verdict)},
            {"rule", e.rule >= 0 ? json(e.rule) : json(nullptr)},
            {"capability", e.capability ? json(*e.capability) : json(nullptr)},
            {"reason", e.reason},
            {"redirect_to", e.verdict == FilterVerdict::Redirect ? json(addr(e.redirect_to)) : json(nullptr)},
            {"rules", std::move(rules)}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace zt::core
