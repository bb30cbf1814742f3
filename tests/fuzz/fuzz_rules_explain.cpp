// Fuzz target: the rules explain path (core/rules_explain.hpp) on hostile rules and frames:
// explain_filter, decision_reason, explanation_json, rule_text / match_detail of every rule,
// and parse_ethernet_frame on the raw frame bytes (the C ABI's and the CLI's untrusted input).
//
// Input layout: as fuzz_rules_engine (its seeds are this target's seeds too):
//   [1] options: bit 0 inbound, bit 1 copies allowed, bit 2 peer record present,
//       bit 3 config flag 0x08, bit 4 NDP emulation, bit 5 destination 0 (multicast pass)
//   [2] rules blob length L (big-endian), then L bytes of §8.1 rules (decoded rule by rule
//       until the first malformed one; at most 1024). They become the base rules and (the
//       first 64) one own capability.
//   [2] ethertype, [1] destination MAC selector (0 peer, 1 broadcast, 2 multicast, else own)
//   rest: the frame payload (and, as a whole Ethernet frame, parse_ethernet_frame's input).
// Nothing may crash or read out of bounds; the explanation agrees with the filter.
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/membership.hpp"
#include "core/rules_engine.hpp"
#include "core/rules_explain.hpp"
#include "proto/rules.hpp"

using namespace zt;
using namespace zt::proto;
using namespace zt::core;

namespace {

constexpr uint64_t kTs = 1800000000000ULL;
constexpr uint64_t kCtmd = 1800000;
constexpr Address kPeer = 0xeb8cb7d1c8ULL;

// Fixed, signed peer state, built once: a deterministic controller identity signs peer tags,
// a capability and a COO, offered to a Membership as a receiver would.
struct State {
  Identity controller;
  uint64_t nwid = 0;
  Address self = 0x8fec3e8ae4ULL;
  Membership peer;

  State() {
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    controller = Identity::generate([&](uint8_t* p, size_t n) {
      for (size_t i = 0; i < n; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = uint8_t(x);
      }
    });
    nwid = (controller.address() << 24) | 0xc0ffee;
    auto lookup = [this](Address a) -> const Identity* { return a == controller.address() ? &controller : nullptr; };
    for (uint32_t id = 0; id < 4; ++id) {
      Tag t;
      t.nwid = nwid;
      t.timestamp = kTs;
      t.id = id;
      t.value = id * 0x01010101u;
      t.issued_to = kPeer;
      t.sign(controller);
      (void)peer.offer(nwid, t, lookup);
    }
    Capability c;
    c.nwid = nwid;
    c.timestamp = kTs;
    c.id = 7;
    Rule tee = Rule::action(RuleType::ActionTee);
    tee.zt = 0x1122334455ULL;
    Rule eth;
    eth.type = uint8_t(RuleType::MatchEthertype);
    eth.ethertype = 0x0800;
    c.set_rules({eth, tee, Rule::accept()});
    c.sign(controller, kPeer);
    (void)peer.offer(nwid, c, lookup);
    CertificateOfOwnership coo;
    coo.nwid = nwid;
    coo.timestamp = kTs;
    coo.id = 1;
    coo.issued_to = kPeer;
    const uint8_t ip4[4] = {10, 0, 0, 2};
    coo.add_ip(InetAddress::v4(ip4, 0));
    coo.add_mac(Mac::from_address(kPeer, nwid));
    coo.sign(controller);
    (void)peer.offer(nwid, coo, lookup);
  }
};

const State& state() {
  static const State s;
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const State& st = state();
  Reader r(data, size);
  const uint8_t opts = r.u8();
  const size_t rules_len = r.u16();
  ByteSpan blob = r.bytes(std::min(rules_len, r.remaining()));
  const uint16_t ethertype = r.u16();
  const uint8_t dest_sel = r.u8();
  ByteSpan payload = r.ok() ? r.rest() : ByteSpan{};

  std::vector<Rule> rules;
  Reader rr(blob);
  while (rr.remaining() > 0 && rules.size() < kMaxNetworkRules) {
    auto rule = Rule::read(rr);
    if (!rule) break;
    rules.push_back(*rule);
  }

  NetworkConfig cfg;
  cfg.nwid = st.nwid;
  cfg.timestamp = kTs;
  cfg.credential_time_max_delta = kCtmd;
  cfg.issued_to = st.self;
  cfg.flags = NetworkConfig::kFlagEnableBroadcast | ((opts & 0x08) ? NetworkConfig::kFlagUnsupportedMatchResult : 0) |
              ((opts & 0x10) ? NetworkConfig::kFlagNdpEmulation : 0);
  cfg.rules = rules;
  cfg.static_ips.push_back(rfc4193_address(st.nwid, st.self));
  for (uint32_t id = 0; id < 3; ++id) {
    Tag t;
    t.nwid = st.nwid;
    t.timestamp = kTs;
    t.id = id;
    t.value = id;
    t.issued_to = st.self;
    cfg.tags.push_back(t);
  }
  Capability own_cap;
  own_cap.nwid = st.nwid;
  own_cap.id = 1;
  own_cap.timestamp = kTs;
  std::vector<Rule> cap_rules(rules.begin(), rules.begin() + long(std::min<size_t>(rules.size(), 64)));
  if (own_cap.set_rules(cap_rules)) cfg.capabilities.push_back(own_cap);

  uint32_t seed = 0x12345678u ^ uint32_t(size);
  FilterEnv env{cfg, st.self, (opts & 0x04) ? &st.peer : nullptr, [&seed] {
                  seed = seed * 1664525u + 1013904223u;
                  return seed;
                }};

  FilterFrame f;
  f.inbound = (opts & 0x01) != 0;
  f.source = f.inbound ? kPeer : st.self;
  f.destination = (opts & 0x20) ? 0 : (f.inbound ? st.self : kPeer);
  f.mac_source = Mac::from_address(f.source, st.nwid);
  f.mac_dest = dest_sel == 0   ? Mac::from_address(kPeer, st.nwid)
               : dest_sel == 1 ? Mac::broadcast()
               : dest_sel == 2 ? Mac(0x333300000001ULL)
                               : Mac::from_address(st.self, st.nwid);
  f.ethertype = ethertype;
  f.payload = payload;

  const uint32_t seed0 = seed;
  const FilterResult fr = f.inbound ? filter_inbound(env, f) : filter_outbound(env, f, (opts & 0x02) != 0);
  seed = seed0;  // the same draws for the explanation
  const Explanation x = explain_filter(env, f, (opts & 0x02) != 0);
  if (x.verdict != fr.verdict || x.rule != (fr.matching_capability ? fr.capability_rule : fr.base_rule))
    __builtin_trap();
  if (x.lists.empty() || x.lists[0].rules.size() != rules.size() || x.reason.empty()) __builtin_trap();
  const std::string j = explanation_json(x);
  if (nlohmann::json::parse(j, nullptr, false).is_discarded()) __builtin_trap();
  if (decision_reason(env, f, fr).empty()) __builtin_trap();
  for (const Rule& rule : rules) {
    if (rule_text(rule).empty()) __builtin_trap();
    if (!rule.is_action() && match_detail(env, f, rule, true).empty()) __builtin_trap();
  }
  FilterFrame eth;
  if (parse_ethernet_frame(payload, eth) && (payload.size() < 14 || eth.payload.size() > payload.size() - 14))
    __builtin_trap();
  return 0;
}
