// IPv6 NDP emulation (PROTOCOL.md §16.2.5, §4.5): the neighbor advertisement the core forges
// for a solicitation whose target is a managed (RFC4193 / 6PLANE) address of another member,
// byte for byte against the two known answers of §16.2.5. Driven through the real path:
// a simulated node (tests/sim/sim.hpp) gets its config for network d5a72ff358c0ffee from an
// EmbeddedController, and the host sends the solicitation with Node::send_frame.
#include <algorithm>
#include <gtest/gtest.h>

#include "../sim/sim.hpp"
#include "base/hex.hpp"

using namespace zt;
using namespace zt::sim;
using controller::json;
using proto::Mac;

namespace {

constexpr uint64_t kNwid = 0xd5a72ff358c0ffeeULL;  // controller d5a72ff358 = the "ctrl" identity
constexpr Address kNodeA = 0x8fec3e8ae4ULL;
constexpr Address kNodeB = 0xeb8cb7d1c8ULL;

const std::map<std::string, proto::Identity>& ids() {
  static const auto m = load_test_identities(ZTCORE_VECTORS_DIR);
  return m;
}

Bytes hex(const std::string& s) {
  std::string clean;
  for (char c : s)
    if (!std::isspace(static_cast<unsigned char>(c))) clean += c;
  auto b = from_hex(clean);
  EXPECT_TRUE(b) << s;
  return b ? *b : Bytes{};
}

std::array<uint8_t, 16> ip6(const std::string& text) {
  auto a = proto::InetAddress::parse(text);
  EXPECT_TRUE(a && a->is_v6()) << text;
  std::array<uint8_t, 16> out{};
  if (a) std::copy(a->ip(), a->ip() + 16, out.begin());
  return out;
}

// A neighbor solicitation for `target` from `src` (IPv6 payload only, 72 bytes).
Bytes solicitation(const std::array<uint8_t, 16>& src, const std::array<uint8_t, 16>& target, Mac src_mac,
                   uint8_t next_header = 58, uint8_t icmp_type = 135) {
  Bytes p(72, 0);
  p[0] = 0x60;
  p[5] = 32;
  p[6] = next_header;
  p[7] = 255;
  std::copy(src.begin(), src.end(), p.begin() + 8);
  // ff02::1:ffXX:XXXX (solicited-node group of the target).
  const uint8_t dst[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, target[13], target[14], target[15]};
  std::copy(dst, dst + 16, p.begin() + 24);
  p[40] = icmp_type;
  std::copy(target.begin(), target.end(), p.begin() + 48);
  p[64] = 1;  // source link-layer address option
  p[65] = 1;
  auto m = src_mac.bytes();
  std::copy(m.begin(), m.end(), p.begin() + 66);
  return p;
}

Mac solicited_mac(const std::array<uint8_t, 16>& target) {
  return Mac((uint64_t(0x3333ff) << 24) | (uint64_t(target[13]) << 16) | (uint64_t(target[14]) << 8) | target[15]);
}

// Root, the vectors' controller and node A, with A authorized on kNwid.
struct NdpLab {
  explicit NdpLab(uint64_t seed, const json& extra = json::object()) : sim(seed) {
    root = sim.add("root", ids().at("root"));
    ctrl = sim.add("ctrl", ids().at("ctrl"));
    a = sim.add("nodea", ids().at("nodea"));
    auto kp = load_test_keypair(ZTCORE_VECTORS_DIR);
    auto planet = make_world(sim, proto::World::Type::Planet, 0x51a7, 1'600'000'000'000, *kp, {root});
    for (size_t i = 0; i < sim.size(); ++i) {
      core::NodeOptions o;
      o.planet = *planet;
      EXPECT_TRUE(sim.start(i, o));
    }
    auto& ctl = sim.attach_controller(ctrl);
    json net = {{"name", "ztlab"},
                {"private", true},
                {"multicastLimit", 32},
                {"v6AssignMode", {{"rfc4193", true}, {"6plane", true}, {"zt", false}}}};
    net.update(extra);
    EXPECT_TRUE(ctl.write_network(sim.now(), kNwid, net).ok());
    EXPECT_TRUE(ctl.write_member(sim.now(), kNwid, kNodeA, json{{"authorized", true}}).ok());
    EXPECT_TRUE(sim.join(a, kNwid).ok());
    ok = sim.run_until([&] {
      auto i = sim.host(a).info(kNwid);
      return i && i->status == core::NetworkStatus::Ok;
    }, 30000);
    sim.run_for(2000);
  }
  // Sends the solicitation from A; returns the frames A's host got during the call, the
  // number of datagrams that left any node during it, and the traces A posted.
  struct Outcome {
    std::vector<RecordedFrame> frames;
    uint64_t sent = 0;
    size_t traces = 0;
  };
  Outcome solicit(Mac src, Mac dst, ByteSpan payload) {
    const size_t before = sim.host(a).frames.size();
    const uint64_t sent = sim.stats.sent;
    const size_t traces = sim.host(a).count(EventType::Trace);
    EXPECT_TRUE(sim.node(a).send_frame(sim.now(), kNwid, src, dst, 0x86DD, 0, payload).ok());
    Outcome o;
    o.frames.assign(sim.host(a).frames.begin() + long(before), sim.host(a).frames.end());
    o.sent = sim.stats.sent - sent;
    o.traces = sim.host(a).count(EventType::Trace) - traces;
    return o;
  }

  Sim sim;
  size_t root = 0, ctrl = 0, a = 0;
  bool ok = false;
};

const char* const kRfc4193Answer =
    "60 00 00 00 00 20 3a ff fd d5 a7 2f f3 58 c0 ff"
    "ee 99 93 eb 8c b7 d1 c8 fd d5 a7 2f f3 58 c0 ff"
    "ee 99 93 8f ec 3e 8a e4 88 00 f0 44 60 00 00 00"
    "fd d5 a7 2f f3 58 c0 ff ee 99 93 eb 8c b7 d1 c8"
    "02 01 ee 14 4c ef 22 e7";
const char* const kSixPlaneAnswer =
    "60 00 00 00 00 20 3a ff fc 8d 67 d0 1d eb 8c b7"
    "d1 c8 00 00 00 00 00 42 fc 8d 67 d0 1d 8f ec 3e"
    "8a e4 00 00 00 00 00 01 88 00 fc 8e 60 00 00 00"
    "fc 8d 67 d0 1d eb 8c b7 d1 c8 00 00 00 00 00 42"
    "02 01 ee 14 4c ef 22 e7";

}  // namespace

TEST(NdpEmulation, ConfigCarriesBothManagedAddresses) {
  NdpLab lab(1);
  ASSERT_TRUE(lab.ok) << "node A never got its config";
  auto i = lab.sim.host(lab.a).info(kNwid);
  EXPECT_EQ(i->mac.to_string(), "ee:70:2c:66:79:cb");
  std::vector<std::string> v6;
  for (const auto& x : i->assigned_addresses) v6.push_back(x.to_string());
  // §4.5 order: RFC4193 first, then 6PLANE (the order NDP emulation walks).
  EXPECT_EQ(v6, (std::vector<std::string>{"fdd5:a72f:f358:c0ff:ee99:938f:ec3e:8ae4/88", "fc8d:67d0:1d8f:ec3e:8ae4::1/40"}));
}

TEST(NdpEmulation, Rfc4193KnownAnswer) {
  NdpLab lab(2);
  ASSERT_TRUE(lab.ok);
  const auto M = ip6("fdd5:a72f:f358:c0ff:ee99:938f:ec3e:8ae4");
  const auto T = ip6("fdd5:a72f:f358:c0ff:ee99:93eb:8cb7:d1c8");
  const Mac mine = Mac::from_address(kNodeA, kNwid);
  auto [frames, sent, traces] = lab.solicit(mine, solicited_mac(T), solicitation(M, T, mine));
  EXPECT_EQ(sent, 0u) << "the advertisement is never sent on the wire";
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].nwid, kNwid);
  EXPECT_EQ(frames[0].src.to_string(), "ee:14:4c:ef:22:e7");
  EXPECT_EQ(frames[0].src, Mac::from_address(kNodeB, kNwid));
  EXPECT_EQ(frames[0].dst.to_string(), "ee:70:2c:66:79:cb");
  EXPECT_EQ(frames[0].ethertype, 0x86DD);
  EXPECT_EQ(frames[0].vlan, 0);
  EXPECT_EQ(to_hex(frames[0].data), to_hex(hex(kRfc4193Answer)));
  EXPECT_EQ(traces, 0u) << "emulation posts no trace";
  // Nothing follows later either: no multicast was started.
  const size_t nframes = lab.sim.host(lab.a).frames.size();
  lab.sim.run_for(500);
  EXPECT_EQ(lab.sim.host(lab.a).frames.size(), nframes);
}

TEST(NdpEmulation, SixPlaneKnownAnswer) {
  NdpLab lab(3);
  ASSERT_TRUE(lab.ok);
  const auto M = ip6("fc8d:67d0:1d8f:ec3e:8ae4::1");
  const auto T = ip6("fc8d:67d0:1deb:8cb7:d1c8::42");
  const Mac mine = Mac::from_address(kNodeA, kNwid);
  // The solicitation's own source address does not matter: the answer goes to M.
  auto [frames, sent, traces] = lab.solicit(mine, solicited_mac(T), solicitation(ip6("fe80::1"), T, mine));
  EXPECT_EQ(sent, 0u);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].src.to_string(), "ee:14:4c:ef:22:e7");
  EXPECT_EQ(frames[0].dst.to_string(), "ee:70:2c:66:79:cb");
  EXPECT_EQ(frames[0].ethertype, 0x86DD);
  EXPECT_EQ(to_hex(frames[0].data), to_hex(hex(kSixPlaneAnswer)));
  // Answered from the target T to our own 6PLANE address M (IPv6 source at 8, destination at 24).
  ASSERT_GE(frames[0].data.size(), 40u);
  EXPECT_TRUE(std::equal(T.begin(), T.end(), frames[0].data.begin() + 8));
  EXPECT_TRUE(std::equal(M.begin(), M.end(), frames[0].data.begin() + 24));
}

// Emulation works with multicast disabled: the `ml` check comes after it (§16.2.3 step 2).
TEST(NdpEmulation, WorksWithMulticastDisabled) {
  NdpLab lab(4, json{{"multicastLimit", 0}});
  ASSERT_TRUE(lab.ok);
  EXPECT_EQ(lab.sim.host(lab.a).info(kNwid)->multicast_limit, 0u);
  const auto T = ip6("fdd5:a72f:f358:c0ff:ee99:93eb:8cb7:d1c8");
  const Mac mine = Mac::from_address(kNodeA, kNwid);
  auto [frames, sent, traces] = lab.solicit(mine, solicited_mac(T), solicitation(ip6("fe80::1"), T, mine));
  EXPECT_EQ(sent, 0u);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(to_hex(frames[0].data), to_hex(hex(kRfc4193Answer)));
  // A solicitation that is not emulated then meets the disabled multicast, with its trace.
  const size_t disabled = lab.sim.host(lab.a).traces_with("multicast disabled");
  auto [none, sent2, traces2] = lab.solicit(mine, solicited_mac(T), solicitation(ip6("fe80::1"), ip6("fe80::2"), mine));
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(sent2, 0u);
  EXPECT_EQ(traces2, 1u);
  EXPECT_EQ(lab.sim.host(lab.a).traces_with("multicast disabled"), disabled + 1);
}

// When the conditions of §16.2.5 do not all hold, nothing is forged.
TEST(NdpEmulation, NotEmulated) {
  NdpLab lab(5);
  ASSERT_TRUE(lab.ok);
  const Mac mine = Mac::from_address(kNodeA, kNwid);
  const auto T = ip6("fdd5:a72f:f358:c0ff:ee99:93eb:8cb7:d1c8");
  const auto src = ip6("fe80::1");
  struct Case {
    const char* what;
    Mac dst;
    Bytes payload;
  };
  Bytes short_ns = solicitation(src, T, mine);
  short_ns.resize(63);
  std::vector<Case> cases = {
      {"our own RFC4193 address", solicited_mac(ip6("fdd5:a72f:f358:c0ff:ee99:938f:ec3e:8ae4")),
       solicitation(src, ip6("fdd5:a72f:f358:c0ff:ee99:938f:ec3e:8ae4"), mine)},
      {"our own 6PLANE /80", solicited_mac(ip6("fc8d:67d0:1d8f:ec3e:8ae4::7")), solicitation(src, ip6("fc8d:67d0:1d8f:ec3e:8ae4::7"), mine)},
      {"embedded address 0", solicited_mac(T), solicitation(src, ip6("fdd5:a72f:f358:c0ff:ee99:9300:0:0"), mine)},
      {"another network's RFC4193 prefix", solicited_mac(T), solicitation(src, ip6("fdd5:a72f:f358:c0ff:ef99:93eb:8cb7:d1c8"), mine)},
      {"another network's 6PLANE prefix", solicited_mac(T), solicitation(src, ip6("fc8d:67d0:1ceb:8cb7:d1c8::42"), mine)},
      {"link-local target", solicited_mac(T), solicitation(src, ip6("fe80::ec14:4cff:feef:22e7"), mine)},
      {"extension header first", solicited_mac(T), solicitation(src, T, mine, 0)},
      {"neighbor advertisement, not solicitation", solicited_mac(T), solicitation(src, T, mine, 58, 136)},
      {"shorter than 64 bytes", solicited_mac(T), short_ns},
      {"broadcast destination", Mac::broadcast(), solicitation(src, T, mine)},
  };
  for (const auto& c : cases) {
    auto got = lab.solicit(mine, c.dst, c.payload);
    EXPECT_TRUE(got.frames.empty()) << c.what;
  }
  // Not IPv6 at all.
  const size_t before = lab.sim.host(lab.a).frames.size();
  Bytes p = solicitation(src, T, mine);
  ASSERT_TRUE(lab.sim.node(lab.a).send_frame(lab.sim.now(), kNwid, mine, solicited_mac(T), 0x0800, 0, p).ok());
  EXPECT_EQ(lab.sim.host(lab.a).frames.size(), before);
}

// Without rfc4193/6plane assignment the controller leaves flag 0x04 off: no emulation.
TEST(NdpEmulation, OffWithoutManagedAddresses) {
  NdpLab lab(6, json{{"v6AssignMode", {{"rfc4193", false}, {"6plane", false}, {"zt", false}}}});
  ASSERT_TRUE(lab.ok);
  const Mac mine = Mac::from_address(kNodeA, kNwid);
  const auto T = ip6("fdd5:a72f:f358:c0ff:ee99:93eb:8cb7:d1c8");
  auto [frames, sent, traces] = lab.solicit(mine, solicited_mac(T), solicitation(ip6("fe80::1"), T, mine));
  EXPECT_TRUE(frames.empty());
}

// A /40 static IP that starts with fc but is not this network's 6PLANE prefix (bytes 1–4 ≠ h)
// is not a 6PLANE address: solicitations inside it are not answered (§16.2.5 "recognised by").
TEST(NdpEmulation, ManualFcSlash40IsNotSixPlane) {
  NdpLab lab(7, json{{"v6AssignMode", {{"rfc4193", true}, {"6plane", false}, {"zt", false}}},
                     {"routes", json::array({{{"target", "fc11:2233:4400::/40"}, {"via", nullptr}}})}});
  ASSERT_TRUE(lab.ok);
  auto& ctl = lab.sim.controller(lab.ctrl);
  ASSERT_TRUE(ctl.write_member(lab.sim.now(), kNwid, kNodeA, json{{"ipAssignments", json::array({"fc11:2233:4455:6677:8899::1"})}}).ok());
  lab.sim.process_pending(lab.ctrl);
  ASSERT_TRUE(lab.sim.run_until([&] {
    auto info = lab.sim.host(lab.a).info(kNwid);
    for (const auto& x : info->assigned_addresses)
      if (x.to_string() == "fc11:2233:4455:6677:8899::1/40") return true;
    return false;
  }, 70000));
  const Mac mine = Mac::from_address(kNodeA, kNwid);
  const auto T = ip6("fc11:2233:44eb:8cb7:d1c8::42");
  auto [frames, sent, traces] = lab.solicit(mine, solicited_mac(T), solicitation(ip6("fe80::1"), T, mine));
  EXPECT_TRUE(frames.empty()) << "forged an advertisement for a non-6PLANE fc address";
  // The RFC4193 answer still works on this network.
  const auto T2 = ip6("fdd5:a72f:f358:c0ff:ee99:93eb:8cb7:d1c8");
  auto [frames2, sent2, traces2] = lab.solicit(mine, solicited_mac(T2), solicitation(ip6("fe80::1"), T2, mine));
  ASSERT_EQ(frames2.size(), 1u);
  EXPECT_EQ(to_hex(frames2[0].data), to_hex(hex(kRfc4193Answer)));
}
