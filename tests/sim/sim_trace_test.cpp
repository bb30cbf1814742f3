// Structured traces and REMOTE_TRACE on the simulator (issue 10 items 2 and 3; PROTOCOL.md §15,
// §3.16): three members of a network whose rules, written in the rules language and compiled
// by the controller, drop IPv4 between departments (tag `department`: A = B = 100, C = 200)
// except ICMP under capability 2000, which only C holds. Exactly the allowed frames pass; each
// drop is a 2006 Trace event naming the deciding rule; with the controller as trace target at
// level 15 the filter outcomes reach it as REMOTE_TRACE, one §15 dictionary each.
#include <gtest/gtest.h>

#include "sim.hpp"
#include "base/hex.hpp"
#include "proto/dictionary.hpp"

using namespace zt;
using namespace zt::sim;
using controller::json;
using core::NetworkStatus;
using proto::Mac;

namespace {

constexpr int64_t kSecond = 1000;
constexpr uint16_t kIpv4 = 0x0800;

const std::map<std::string, proto::Identity>& ids() {
  static const auto m = load_test_identities(ZTCORE_VECTORS_DIR);
  return m;
}

// Rule indexes of the compiled base rules: 0 ethertype, 1 not tdiff, 2 BREAK, 3 ACCEPT.
constexpr const char* kRules =
    "tag department id 1 default 0;\n"
    "cap c_icmp id 2000\n"
    "  accept ipprotocol icmp;\n"
    ";\n"
    "break ethertype ipv4 not tdiff department 0;  # other department: capabilities decide\n"
    "accept;\n";
constexpr int kBreakRule = 2;

// A minimal IPv4 packet: protocol 17 (UDP, ports sport/dport) or 1 (ICMP echo).
Bytes ipv4(uint8_t proto, uint8_t src_host, uint8_t dst_host, uint16_t sport = 0, uint16_t dport = 0) {
  Bytes p(28, 0);
  p[0] = 0x45;
  p[3] = 28;
  p[8] = 64;
  p[9] = proto;
  p[12] = 10, p[13] = 9, p[14] = 0, p[15] = src_host;
  p[16] = 10, p[17] = 9, p[18] = 0, p[19] = dst_host;
  if (proto == 17) {
    p[20] = uint8_t(sport >> 8), p[21] = uint8_t(sport);
    p[22] = uint8_t(dport >> 8), p[23] = uint8_t(dport);
    p[25] = 8;
  } else {
    p[20] = 8;  // echo request
  }
  return p;
}

struct Lab {
  explicit Lab(uint64_t seed) : sim(seed) {
    root = sim.add("root", ids().at("root"));
    ctrl = sim.add("ctrl", ids().at("ctrl"));
    a = sim.add("nodea", ids().at("nodea"));
    b = sim.add("nodeb", ids().at("nodeb"));
    c = sim.add("extra1", ids().at("extra1"));
    auto kp = load_test_keypair(ZTCORE_VECTORS_DIR);
    planet = *make_world(sim, proto::World::Type::Planet, 0x51a7, 1'600'000'000'000, *kp, {root});
    for (size_t i = 0; i < sim.size(); ++i) {
      core::NodeOptions o;
      o.planet = planet;
      EXPECT_TRUE(sim.start(i, o)) << sim.last_error;
    }
    sim.attach_controller(ctrl);
    nwid = (sim.address(ctrl) << 24) | 0x7ace01;
    json net = {{"name", "trace"},
                {"private", true},
                {"rulesSource", kRules},
                {"remoteTraceTarget", proto::address_to_string(sim.address(ctrl))},
                {"remoteTraceLevel", 15}};
    auto r = ctl().write_network(sim.now(), nwid, net);
    EXPECT_TRUE(r.ok()) << r.body.dump();
    set_member(a, json{{"authorized", true}, {"tags", json::array({json::array({1, 100})})}});
    set_member(b, json{{"authorized", true}, {"tags", json::array({json::array({1, 100})})}});
    set_member(c, json{{"authorized", true}, {"tags", json::array({json::array({1, 200})})}, {"capabilities", {2000}}});
  }

  controller::EmbeddedController& ctl() { return sim.controller(ctrl); }
  void set_member(size_t i, const json& j) {
    auto r = ctl().write_member(sim.now(), nwid, sim.address(i), j);
    EXPECT_TRUE(r.ok()) << r.body.dump();
    sim.process_pending(ctrl);
  }
  bool bring_up() {
    for (size_t i : {a, b, c}) EXPECT_TRUE(sim.join(i, nwid).ok());
    return sim.run_until([&] {
      for (size_t i : {a, b, c}) {
        auto x = sim.host(i).info(nwid);
        if (!x || x->status != NetworkStatus::Ok) return false;
      }
      return true;
    }, 60 * kSecond);
  }
  Mac mac(size_t i) { return sim.mac(i, nwid); }
  void send(size_t from, size_t to, const Bytes& p, uint16_t ethertype = kIpv4) {
    ASSERT_TRUE(sim.send_frame(from, nwid, mac(from), mac(to), ethertype, p).ok());
  }
  // IPv4 frames node i received from node `from`.
  std::vector<RecordedFrame> ipv4_from(size_t i, size_t from) {
    std::vector<RecordedFrame> out;
    for (const auto& f : sim.host(i).frames)
      if (f.ethertype == kIpv4 && f.src == mac(from)) out.push_back(f);
    return out;
  }
  // 2006 drops node i traced.
  std::vector<core::TraceInfo> drops(size_t i) {
    std::vector<core::TraceInfo> out;
    for (const auto& e : sim.host(i).events)
      if (e.type == core::EventType::Trace && e.trace && e.trace->code == 2006) out.push_back(*e.trace);
    return out;
  }

  Sim sim;
  size_t root, ctrl, a, b, c;
  proto::World planet;
  uint64_t nwid = 0;
};

// Every filter dictionary the controller's node received as REMOTE_TRACE, parsed.
std::vector<proto::Dictionary> remote_2006(Lab& lab) {
  std::vector<proto::Dictionary> out;
  for (const auto& e : lab.sim.host(lab.ctrl).of_type(core::EventType::RemoteTrace)) {
    auto d = proto::Dictionary::parse(e.data, 10000);
    if (d.ok() && d->get_string("event") == "2006") out.push_back(*d);
  }
  return out;
}

TEST(SimTrace, DepartmentsRulesDropTraceAndReachTheController) {
  Lab lab(0x7ace);
  ASSERT_TRUE(lab.bring_up());
  // Warm-up (ARP is accepted by every rule set): members exchange their credentials, so each
  // knows the others' tags before the IPv4 frames are judged.
  for (size_t x : {lab.a, lab.b, lab.c})
    for (size_t y : {lab.a, lab.b, lab.c})
      if (x != y) lab.send(x, y, Bytes(28, 0), 0x0806);
  lab.sim.run_for(5 * kSecond);

  lab.send(lab.a, lab.b, ipv4(17, 1, 2, 5000, 1001));  // same department: passes
  lab.send(lab.a, lab.c, ipv4(17, 1, 3, 5000, 1002));  // dropped at A
  lab.send(lab.c, lab.a, ipv4(1, 3, 1));               // ICMP under C's capability: passes
  lab.send(lab.c, lab.a, ipv4(17, 3, 1, 5000, 1004));  // dropped at C (the capability is ICMP only)
  lab.send(lab.a, lab.c, ipv4(1, 1, 3));               // A holds no capability: dropped at A
  lab.send(lab.b, lab.c, ipv4(17, 2, 3, 5000, 1006));  // dropped at B
  lab.sim.run_for(10 * kSecond);

  ASSERT_EQ(lab.ipv4_from(lab.b, lab.a).size(), 1u);
  EXPECT_EQ(lab.ipv4_from(lab.b, lab.a)[0].data[9], 17);
  ASSERT_EQ(lab.ipv4_from(lab.a, lab.c).size(), 1u);
  EXPECT_EQ(lab.ipv4_from(lab.a, lab.c)[0].data[9], 1);
  EXPECT_TRUE(lab.ipv4_from(lab.c, lab.a).empty());
  EXPECT_TRUE(lab.ipv4_from(lab.c, lab.b).empty());

  // explain gives the same verdicts at each sender, and sends nothing (no datagram, no event).
  auto eth = [&](size_t from, size_t to, const Bytes& p) {
    Bytes f;
    for (uint64_t m : {lab.mac(to).value(), lab.mac(from).value()})
      for (int k = 5; k >= 0; --k) f.push_back(uint8_t(m >> (8 * k)));
    f.push_back(uint8_t(kIpv4 >> 8));
    f.push_back(uint8_t(kIpv4 & 0xff));
    f.insert(f.end(), p.begin(), p.end());
    return f;
  };
  const uint64_t sent_before = lab.sim.stats.sent;
  std::vector<size_t> events_before;
  for (size_t i = 0; i < lab.sim.size(); ++i) events_before.push_back(lab.sim.host(i).events.size());
  auto verdict = [&](size_t from, size_t to, const Bytes& p) {
    auto r = lab.sim.node(from).explain_frame(lab.nwid, eth(from, to, p), false, lab.sim.address(to));
    EXPECT_TRUE(r.ok()) << (r.ok() ? std::string() : r.error());
    if (!r.ok()) return json();
    return json::parse(*r);
  };
  EXPECT_EQ(verdict(lab.a, lab.b, ipv4(17, 1, 2, 5000, 1001)).value("verdict", ""), "accept");
  json cap = verdict(lab.c, lab.a, ipv4(1, 3, 1));
  EXPECT_EQ(cap.value("verdict", ""), "accept");
  EXPECT_EQ(cap["capability"], 2000);
  for (auto [from, to, p] : {std::tuple{lab.a, lab.c, ipv4(17, 1, 3, 5000, 1002)},
                             std::tuple{lab.c, lab.a, ipv4(17, 3, 1, 5000, 1004)},
                             std::tuple{lab.a, lab.c, ipv4(1, 1, 3)}, std::tuple{lab.b, lab.c, ipv4(17, 2, 3, 5000, 1006)}}) {
    json d = verdict(from, to, p);
    EXPECT_EQ(d.value("verdict", ""), "drop") << d.dump();
    EXPECT_EQ(d["rule"], kBreakRule) << d.dump();
  }
  // explain ran in the callers' "now" (virtual time did not move): anything it sent or posted
  // would be here already.
  EXPECT_EQ(lab.sim.stats.sent, sent_before);
  for (size_t i = 0; i < lab.sim.size(); ++i) EXPECT_EQ(lab.sim.host(i).events.size(), events_before[i]);

  // Each drop: one structured 2006 trace at the sender naming rule 2 (BREAK, then no capability).
  auto expect_drop = [&](size_t at, size_t to, uint8_t proto, uint16_t dport) {
    int n = 0;
    for (const auto& t : lab.drops(at)) {
      if (t.mac_dest != lab.mac(to) || t.ip_protocol != proto || t.port_dest != dport) continue;
      ++n;
      EXPECT_EQ(t.nwid, lab.nwid);
      EXPECT_EQ(t.peer, lab.sim.address(to));
      EXPECT_FALSE(t.inbound);
      EXPECT_EQ(t.rule, kBreakRule);
      EXPECT_EQ(t.action, "BREAK");
      EXPECT_FALSE(t.capability);
      EXPECT_EQ(t.ip_version, 4);
      EXPECT_EQ(t.ethertype, kIpv4);
      EXPECT_EQ(t.frame_length, 28u);
      EXPECT_NE(t.reason.find("rule 2"), std::string::npos) << t.reason;
    }
    EXPECT_EQ(n, 1) << "drop at node " << at << " to " << to << " proto " << int(proto);
  };
  expect_drop(lab.a, lab.c, 17, 1002);
  expect_drop(lab.c, lab.a, 17, 1004);
  expect_drop(lab.a, lab.c, 1, 0);
  expect_drop(lab.b, lab.c, 17, 1006);
  // Accepted frames are no local Trace events.
  for (size_t i : {lab.a, lab.b, lab.c})
    for (const auto& t : lab.drops(i)) EXPECT_EQ(t.action, "BREAK") << core::trace_summary(t);

  // REMOTE_TRACE: every filter outcome (tl 15) reached the controller, drops with result 0.
  auto remote = remote_2006(lab);
  size_t dropped = 0, accepted = 0;
  for (const auto& d : remote) {
    (d.get_u64("filterResult", 9) == 0 ? dropped : accepted) += 1;
    EXPECT_EQ(d.get_u64("networkId", 0), lab.nwid);
  }
  EXPECT_GE(dropped, 4u);
  EXPECT_GE(accepted, 4u);  // a->b and c->a ICMP, each at sender and receiver
  // ... and the controller kept them for GET /controller/network/<nwid>/trace.
  json kept = lab.ctl().remote_traces(lab.nwid);
  ASSERT_TRUE(kept.is_array());
  size_t kept_drops = 0;
  for (const auto& t : kept)
    if (t.value("event", "") == "2006" && t.value("filterResult", -1) == 0) ++kept_drops;
  EXPECT_GE(kept_drops, 4u);
}

// One 2006 dictionary as sent, key by key against §15: order, 16-hex-digit addresses and
// MACs, 1/0 booleans, signed filterResult, raw 512-byte rule log, frame data.
TEST(SimTrace, FilterTraceDictionaryFollowsSection15) {
  Lab lab(0x7acf);
  ASSERT_TRUE(lab.bring_up());
  for (size_t x : {lab.a, lab.c})
    for (size_t y : {lab.a, lab.c})
      if (x != y) lab.send(x, y, Bytes(28, 0), 0x0806);
  lab.sim.run_for(5 * kSecond);
  const Bytes frame = ipv4(17, 3, 1, 5000, 1004);
  lab.send(lab.c, lab.a, frame);  // dropped at C, outbound
  lab.sim.run_for(5 * kSecond);

  std::optional<proto::Dictionary> found;
  for (const auto& e : lab.sim.host(lab.ctrl).of_type(core::EventType::RemoteTrace)) {
    if (e.peer != lab.sim.address(lab.c)) continue;
    auto d = proto::Dictionary::parse(e.data, 10000);
    if (d.ok() && d->get_string("event") == "2006" && d->get_u64("filterResult", 9) == 0 &&
        d->get_u64("etherType", 0) == kIpv4)
      found = *d;
  }
  ASSERT_TRUE(found);
  const auto& d = *found;
  std::vector<std::string> keys;
  for (const auto& e : d.entries()) keys.push_back(e.key);
  const std::vector<std::string> want = {"event", "networkId", "sourceZtAddr", "destZtAddr", "sourceMac",
                                         "destMac", "etherType", "vlanId", "filterNoTee", "filterInbound",
                                         "filterResult", "filterBaseRuleLog", "frameLength", "frameData"};
  EXPECT_EQ(keys, want);
  auto text = [&](const char* k) { return *d.get_string(k); };
  EXPECT_EQ(text("event"), "2006");
  EXPECT_EQ(text("networkId"), to_hex(lab.nwid, 16));
  EXPECT_EQ(text("sourceZtAddr"), to_hex(lab.sim.address(lab.c), 16));
  EXPECT_EQ(text("destZtAddr"), to_hex(lab.sim.address(lab.a), 16));
  EXPECT_EQ(text("sourceMac"), to_hex(lab.mac(lab.c).value(), 16));
  EXPECT_EQ(text("destMac"), to_hex(lab.mac(lab.a).value(), 16));
  EXPECT_EQ(text("etherType"), to_hex(kIpv4, 16));
  EXPECT_EQ(text("vlanId"), to_hex(0, 16));
  EXPECT_EQ(text("filterNoTee"), "0");
  EXPECT_EQ(text("filterInbound"), "0");
  EXPECT_EQ(text("filterResult"), to_hex(0, 16));
  const Bytes* log = d.get("filterBaseRuleLog");
  ASSERT_TRUE(log);
  ASSERT_EQ(log->size(), 512u);
  // Rule 0 (ethertype, true, set 1 before): 2 | 2 << 2 = 0xa; rule 1 (tdiff 100 vs 200: raw
  // false, set 1 before): 2 | 1 << 2 = 0x6, high nibble; rule 2 BREAK and after: 0.
  EXPECT_EQ((*log)[0], 0x6a);
  for (size_t i = 1; i < log->size(); ++i) ASSERT_EQ((*log)[i], 0) << i;
  EXPECT_EQ(text("frameLength"), to_hex(frame.size(), 16));
  EXPECT_EQ(*d.get("frameData"), frame);
}

}  // namespace
