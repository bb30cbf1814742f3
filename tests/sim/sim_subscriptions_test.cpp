// Host-like multicast subscriptions on the simulator (issue 9 item 1; PROTOCOL.md §4.3, §16.2.3,
// §16.3.2): a member subscribes the address-resolution group of every address its config
// assigns — ARP (ff:ff:ff:ff:ff:ff, ADI = the IPv4 address) and the IPv6 solicited-node group —
// announces it with MULTICAST_LIKE, and follows address changes, so that an ARP request (which
// a sender multicasts to the ADI group, not to plain broadcast) reaches exactly the owner.
// The LIKEs are checked on the wire: the test holds every node's secret identity, so it can
// dearmor what a member sent. Virtual time; every run is seeded.
#include <gtest/gtest.h>

#include <set>

#include "sim.hpp"
#include "proto/packet.hpp"
#include "proto/verbs.hpp"

using namespace zt;
using namespace zt::sim;
using controller::json;
using core::NetworkStatus;
using proto::Mac;
using proto::MulticastGroup;

namespace {

constexpr int64_t kSecond = 1000;
constexpr uint16_t kArp = 0x0806;

const std::map<std::string, proto::Identity>& ids() {
  static const auto m = load_test_identities(ZTCORE_VECTORS_DIR);
  return m;
}

// Root, a controller node and members a, b, c of one private network (IPv4 from a pool,
// RFC4193 IPv6, broadcast on), as tools/cmd_lab.cpp sets it up.
struct Lab {
  explicit Lab(uint64_t seed) : sim(seed) {
    sim.capture = true;
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
    nwid = (sim.address(ctrl) << 24) | 0x0a1b2c;
    json net = {{"name", "subs"},
                {"private", true},
                {"enableBroadcast", true},
                {"multicastLimit", 32},
                {"v4AssignMode", {{"zt", true}}},
                {"v6AssignMode", {{"rfc4193", true}, {"6plane", false}, {"zt", false}}},
                {"ipAssignmentPools", json::array({{{"ipRangeStart", "10.147.20.1"}, {"ipRangeEnd", "10.147.20.254"}}})},
                {"routes", json::array({{{"target", "10.147.20.0/24"}, {"via", nullptr}}})}};
    auto r = ctl().write_network(sim.now(), nwid, net);
    EXPECT_TRUE(r.ok()) << r.body.dump();
  }

  controller::EmbeddedController& ctl() { return sim.controller(ctrl); }
  std::optional<core::NetworkInfo> info(size_t i) { return sim.host(i).info(nwid); }
  void set_member(size_t i, const json& j) {
    auto r = ctl().write_member(sim.now(), nwid, sim.address(i), j);
    EXPECT_TRUE(r.ok()) << r.body.dump();
    sim.process_pending(ctrl);
  }
  bool bring_up(const std::vector<size_t>& who) {
    for (size_t i : who) set_member(i, json{{"authorized", true}});
    for (size_t i : who) EXPECT_TRUE(sim.join(i, nwid).ok());
    return sim.run_until([&] {
      for (size_t i : who)
        if (!info(i) || info(i)->status != NetworkStatus::Ok) return false;
      return true;
    }, 60 * kSecond);
  }
  Mac mac(size_t i) { return sim.mac(i, nwid); }
  // The member's assigned IPv4 (0 if none).
  uint32_t ipv4(size_t i) {
    if (auto x = info(i))
      for (const auto& ip : x->assigned_addresses)
        if (ip.is_v4()) return ip.ipv4();
    return 0;
  }
  std::optional<InetAddress> ipv6(size_t i) {
    if (auto x = info(i))
      for (const auto& ip : x->assigned_addresses)
        if (ip.is_v6()) return ip;
    return std::nullopt;
  }
  std::set<MulticastGroup> subscriptions(size_t i) {
    auto x = info(i);
    return x ? std::set<MulticastGroup>(x->subscriptions.begin(), x->subscriptions.end()) : std::set<MulticastGroup>{};
  }

  // Every group node `from` announced for our network in MULTICAST_LIKEs to `to` sent at or
  // after `since` (dearmored with their agreed key; relayed copies counted once per packet).
  std::set<MulticastGroup> likes(size_t from, size_t to, int64_t since = 0) {
    std::set<MulticastGroup> out;
    proto::PeerKey key(sim.at(from).identity.agree(sim.at(to).identity));
    for (const auto& d : sim.captured) {
      if (d.sent_at < since || d.from_node != from || d.source() != sim.address(from) || d.dest() != sim.address(to))
        continue;
      if (proto::PacketView(d.data).fragmented()) continue;  // LIKEs here are small
      Bytes buf(proto::kMaxPacketSize);
      std::copy(d.data.begin(), d.data.end(), buf.begin());
      if (!proto::dearmor(MutByteSpan(buf.data(), d.data.size()), key)) continue;
      auto len = proto::decompress_payload(MutByteSpan(buf.data(), buf.size()), d.data.size());
      if (!len) continue;
      proto::PacketView pv(ByteSpan(buf.data(), *len));
      if (pv.verb() != proto::Verb::MulticastLike) continue;
      auto like = proto::MulticastLike::decode(pv.payload());
      if (!like.ok()) continue;
      for (const auto& e : like->entries)
        if (e.nwid == nwid) out.insert(e.group);
    }
    return out;
  }

  // ARP frames (ethertype 0x0806) node i received on our network.
  std::vector<RecordedFrame> arp_frames(size_t i) {
    std::vector<RecordedFrame> out;
    for (const auto& f : sim.host(i).frames)
      if (f.nwid == nwid && f.ethertype == kArp) out.push_back(f);
    return out;
  }

  Sim sim;
  size_t root = 0, ctrl = 0, a = 0, b = 0, c = 0;
  proto::World planet;
  uint64_t nwid = 0;
};

// An IPv4-over-Ethernet ARP packet (RFC 826): oper 1 = request, 2 = reply.
Bytes arp(uint16_t oper, Mac sha, uint32_t spa, Mac tha, uint32_t tpa) {
  Bytes p(28);
  store_be16(p.data(), 1);        // htype Ethernet
  store_be16(p.data() + 2, 0x0800);
  p[4] = 6;
  p[5] = 4;
  store_be16(p.data() + 6, oper);
  store_be(p.data() + 8, sha.value(), 6);
  store_be32(p.data() + 14, spa);
  store_be(p.data() + 18, tha.value(), 6);
  store_be32(p.data() + 24, tpa);
  return p;
}

MulticastGroup arp_group(uint32_t ip) { return {Mac::broadcast(), ip}; }

MulticastGroup ndp_group(const InetAddress& ip6) {
  const uint8_t* b = ip6.ip();
  return {Mac(0x3333ff000000ULL | (uint64_t(b[13]) << 16) | (uint64_t(b[14]) << 8) | b[15]), 0};
}

}  // namespace

// (a) After its config a member holds and announces the ARP group of its IPv4 and the
// solicited-node group of its IPv6; an ARP request for its IPv4 reaches it and nobody else,
// although every member is subscribed to plain broadcast.
TEST(SimSubscriptions, ArpGroupIsAnnouncedAndArpRequestReachesOnlyTheOwner) {
  Lab lab(0x5b51);
  ASSERT_TRUE(lab.bring_up({lab.a, lab.b, lab.c}));
  const uint32_t ip_a = lab.ipv4(lab.a);
  ASSERT_NE(ip_a, 0u);
  ASSERT_TRUE(lab.ipv6(lab.a));
  const auto subs = lab.subscriptions(lab.a);
  EXPECT_TRUE(subs.count(arp_group(ip_a)));
  EXPECT_TRUE(subs.count(ndp_group(*lab.ipv6(lab.a))));
  EXPECT_FALSE(subs.count(arp_group(lab.ipv4(lab.b))));  // only its own addresses
  // Announced to the upstream set: the root and the controller (§16.3.2).
  EXPECT_TRUE(lab.sim.run_until([&] { return lab.likes(lab.a, lab.root).count(arp_group(ip_a)) > 0; }, 5 * kSecond));
  EXPECT_TRUE(lab.likes(lab.a, lab.ctrl).count(arp_group(ip_a)));
  EXPECT_TRUE(lab.likes(lab.a, lab.root).count(ndp_group(*lab.ipv6(lab.a))));
  EXPECT_TRUE(lab.likes(lab.a, lab.root).count(MulticastGroup::broadcast()));

  // c asks "who has ip_a": the core sends it to (broadcast, ADI = ip_a) (§16.2.3).
  const Bytes req = arp(1, lab.mac(lab.c), lab.ipv4(lab.c), Mac(0), ip_a);
  ASSERT_TRUE(lab.sim.send_frame(lab.c, lab.nwid, lab.mac(lab.c), Mac::broadcast(), kArp, req).ok());
  ASSERT_TRUE(lab.sim.run_until([&] { return !lab.arp_frames(lab.a).empty(); }, 10 * kSecond));
  lab.sim.run_for(10 * kSecond);  // virtual time: anything misdirected would have arrived
  const auto got = lab.arp_frames(lab.a);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].src, lab.mac(lab.c));
  EXPECT_EQ(got[0].dst, Mac::broadcast());
  EXPECT_EQ(got[0].data, req);
  EXPECT_TRUE(lab.arp_frames(lab.b).empty());
  EXPECT_TRUE(lab.arp_frames(lab.c).empty());
}

// (b) The controller gives a another IPv4: its subscriptions follow (old ARP group gone, new
// one present and announced), and an ARP request for the new address reaches it.
TEST(SimSubscriptions, SubscriptionsFollowAnAddressChange) {
  Lab lab(0x5b52);
  ASSERT_TRUE(lab.bring_up({lab.a, lab.b, lab.c}));
  const uint32_t old_ip = lab.ipv4(lab.a);
  ASSERT_NE(old_ip, 0u);
  const uint32_t new_ip = 0x0a931400u | 77u;  // 10.147.20.77
  ASSERT_NE(old_ip, new_ip);
  // A user subscription is the host's own and survives the change.
  const MulticastGroup user{Mac(0x01005e000042ULL), 0};
  ASSERT_TRUE(lab.sim.node(lab.a).multicast_subscribe(lab.sim.now(), lab.nwid, user).ok());

  lab.set_member(lab.a, json{{"ipAssignments", json::array({"10.147.20.77"})}});
  ASSERT_TRUE(lab.sim.run_until([&] { return lab.ipv4(lab.a) == new_ip; }, 30 * kSecond));
  // LIKEs from the moment the new config was applied (a periodic one may have gone out between
  // the controller's write and then, still with the old address).
  const int64_t t_applied = lab.sim.now();
  const auto subs = lab.subscriptions(lab.a);
  EXPECT_TRUE(subs.count(arp_group(new_ip)));
  EXPECT_FALSE(subs.count(arp_group(old_ip)));
  EXPECT_TRUE(subs.count(user));
  EXPECT_TRUE(lab.sim.run_until([&] { return lab.likes(lab.a, lab.root, t_applied).count(arp_group(new_ip)) > 0; },
                                5 * kSecond));
  EXPECT_FALSE(lab.likes(lab.a, lab.root, t_applied).count(arp_group(old_ip)));
  // The node-level API reports the same as the host callback.
  auto direct = lab.sim.node(lab.a).network(lab.nwid);
  ASSERT_TRUE(direct);
  EXPECT_EQ(std::set<MulticastGroup>(direct->subscriptions.begin(), direct->subscriptions.end()), subs);

  const Bytes req = arp(1, lab.mac(lab.b), lab.ipv4(lab.b), Mac(0), new_ip);
  ASSERT_TRUE(lab.sim.send_frame(lab.b, lab.nwid, lab.mac(lab.b), Mac::broadcast(), kArp, req).ok());
  ASSERT_TRUE(lab.sim.run_until([&] { return !lab.arp_frames(lab.a).empty(); }, 10 * kSecond));
  EXPECT_EQ(lab.arp_frames(lab.a)[0].data, req);
  lab.sim.run_for(5 * kSecond);
  EXPECT_TRUE(lab.arp_frames(lab.c).empty());
}

// Unsubscribing an address group does not drop it (it follows the config, not the host), and
// a user subscription of the same group stays after the address goes.
TEST(SimSubscriptions, UserSubscriptionsAreKeptApartFromAddressGroups) {
  Lab lab(0x5b53);
  ASSERT_TRUE(lab.bring_up({lab.a}));
  const uint32_t ip = lab.ipv4(lab.a);
  ASSERT_NE(ip, 0u);
  auto& node = lab.sim.node(lab.a);
  ASSERT_TRUE(node.multicast_unsubscribe(lab.sim.now(), lab.nwid, arp_group(ip)).ok());
  {
    auto n = node.network(lab.nwid);
    ASSERT_TRUE(n);
    EXPECT_TRUE(std::count(n->subscriptions.begin(), n->subscriptions.end(), arp_group(ip)));
  }
  ASSERT_TRUE(node.multicast_subscribe(lab.sim.now(), lab.nwid, arp_group(ip)).ok());
  lab.set_member(lab.a, json{{"ipAssignments", json::array({"10.147.20.78"})}});
  ASSERT_TRUE(lab.sim.run_until([&] { return lab.ipv4(lab.a) == (0x0a931400u | 78u); }, 30 * kSecond));
  auto n = node.network(lab.nwid);
  ASSERT_TRUE(n);
  std::set<MulticastGroup> subs(n->subscriptions.begin(), n->subscriptions.end());
  EXPECT_TRUE(subs.count(arp_group(ip)));                   // the user's, kept
  EXPECT_TRUE(subs.count(arp_group(0x0a931400u | 78u)));    // the new address's
}

// (c) A frame-only node (no IP stack: the host just sees frames) resolves and is resolved: its
// frame handler receives the ARP request for its address and answers it, and the asker gets
// the reply with the owner's MAC.
TEST(SimSubscriptions, FrameOnlyNodeReceivesAndAnswersArp) {
  Lab lab(0x5b54);
  ASSERT_TRUE(lab.bring_up({lab.a, lab.b}));
  const uint32_t ip_a = lab.ipv4(lab.a), ip_b = lab.ipv4(lab.b);
  ASSERT_NE(ip_a, 0u);
  // a's host: answer ARP requests for its IPv4 (queued: a host hook must not re-enter the node).
  std::vector<Bytes> replies;
  lab.sim.host(lab.a).on_frame = [&](const RecordedFrame& f) {
    if (f.ethertype != kArp || f.data.size() < 28 || load_be16(f.data.data() + 6) != 1) return;
    if (load_be32(f.data.data() + 24) != ip_a) return;
    replies.push_back(arp(2, lab.mac(lab.a), ip_a, Mac(load_be(f.data.data() + 8, 6)), load_be32(f.data.data() + 14)));
  };
  const Bytes req = arp(1, lab.mac(lab.b), ip_b, Mac(0), ip_a);
  ASSERT_TRUE(lab.sim.send_frame(lab.b, lab.nwid, lab.mac(lab.b), Mac::broadcast(), kArp, req).ok());
  ASSERT_TRUE(lab.sim.run_until([&] { return !replies.empty(); }, 10 * kSecond));
  ASSERT_TRUE(lab.sim.send_frame(lab.a, lab.nwid, lab.mac(lab.a), lab.mac(lab.b), kArp, replies[0]).ok());
  ASSERT_TRUE(lab.sim.run_until([&] { return !lab.arp_frames(lab.b).empty(); }, 10 * kSecond));
  const auto got = lab.arp_frames(lab.b)[0];
  EXPECT_EQ(load_be16(got.data.data() + 6), 2);
  EXPECT_EQ(Mac(load_be(got.data.data() + 8, 6)), lab.mac(lab.a));  // who has ip_a: a's MAC
  EXPECT_EQ(load_be32(got.data.data() + 14), ip_a);
}
