// VL1 acceptance tests on the deterministic simulator (tests/sim/sim.hpp): going ONLINE via a
// root, relayed then direct delivery after RENDEZVOUS, lossy links, restarts, tampering,
// ECHO/keepalives/outages, WHOIS retries and held packets, moons, fragmentation.
// PROTOCOL.md §2, §3.1–3.4, §3.7, §3.14–3.15, §5. All in virtual time; every run is seeded.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <set>

#include "sim.hpp"
#include "proto/packet.hpp"
#include "proto/verbs.hpp"

using namespace zt;
using namespace zt::sim;
using core::PeerRole;

namespace {

const std::map<std::string, proto::Identity>& ids() {
  static const auto m = load_test_identities(ZTCORE_VECTORS_DIR);
  return m;
}

const proto::WorldKeypair& keypair() {
  static const auto kp = *load_test_keypair(ZTCORE_VECTORS_DIR);
  return kp;
}

constexpr uint64_t kPlanetId = 0x51a7;       // any id: the sim planet
constexpr uint64_t kPlanetTs = 1'600'000'000'000;
const char* const kLeafNames[] = {"nodea", "nodeb", "ctrl", "extra1", "extra2", "extra3", "extra4", "extra5", "extra6"};

// One root + N leaves (+ optional extra nodes added by a test before start()).
struct Net {
  explicit Net(uint64_t seed, size_t leaves = 3, Link l = {}) : sim(seed) {
    sim.default_link = l;
    root = sim.add("root", ids().at("root"));
    for (size_t i = 0; i < leaves; ++i) leaf.push_back(sim.add(kLeafNames[i], ids().at(kLeafNames[i])));
    planet = *make_world(sim, proto::World::Type::Planet, kPlanetId, kPlanetTs, keypair(), {root});
  }
  core::NodeOptions options() const {
    core::NodeOptions o;
    o.planet = planet;
    return o;
  }
  void start_all() {
    for (size_t i = 0; i < sim.size(); ++i) ASSERT_TRUE(sim.start(i, options())) << sim.last_error;
  }
  bool all_online() {
    for (size_t i = 0; i < sim.size(); ++i)
      if (!sim.at(i).node || !sim.node(i).online()) return false;
    return true;
  }
  bool direct(size_t a, size_t b) {
    auto p = sim.node(a).peer(sim.now(), sim.address(b));
    return p && p->direct;
  }
  // Number of USER_MESSAGE events at `to` from `from` with this type and payload.
  size_t received(size_t to, size_t from, uint64_t type, const Bytes& data) {
    size_t n = 0;
    for (const auto& e : sim.host(to).events)
      if (e.type == EventType::UserMessage && e.peer == sim.address(from) && e.type_id == type && e.data == data) ++n;
    return n;
  }
  Status send(size_t from, size_t to, uint64_t type, const Bytes& data) {
    auto st = sim.node(from).send_user_message(sim.now(), sim.address(to), type, data);
    sim.poke(from);
    return st;
  }
  // Sends every retry_ms until it arrives (USER_MESSAGE has no delivery guarantee, §3.15);
  // returns the virtual ms it took, or -1.
  int64_t deliver(size_t from, size_t to, uint64_t type, const Bytes& data, int64_t max_ms, int64_t retry_ms = 1000) {
    const int64_t t0 = sim.now();
    const size_t before = received(to, from, type, data);
    while (sim.now() - t0 < max_ms) {
      if (!send(from, to, type, data).ok()) return -1;
      if (sim.run_until([&] { return received(to, from, type, data) > before; }, retry_ms)) return sim.now() - t0;
    }
    return -1;
  }
  uint64_t drops(size_t i) {
    const auto& c = sim.node(i).counters();
    return c.dropped_auth + c.dropped_malformed + c.dropped_policy + c.dropped_unknown_peer;
  }

  Sim sim;
  size_t root = 0;
  std::vector<size_t> leaf;
  proto::World planet;
};

Bytes pattern(size_t n, uint8_t seed) {
  Bytes b(n);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& v : b) {
    x = x * 1103515245u + 12345u;
    v = uint8_t(x >> 16);
  }
  return b;
}

// The last n events of a node, one per line (attached to failing assertions).
std::string tail(Sim& sim, size_t i, size_t n = 30) {
  const auto& ev = sim.host(i).events;
  std::string out = "events of " + sim.at(i).name + ":\n";
  for (size_t k = ev.size() > n ? ev.size() - n : 0; k < ev.size(); ++k)
    out += "  " + std::to_string(ev[k].at - kEpochMs) + " [" + std::to_string(int(ev[k].type)) + "] " + ev[k].text + "\n";
  return out;
}

void report(const char* what, int64_t ms) {
  std::printf("[ sim      ] %s: %lld virtual ms\n", what, static_cast<long long>(ms));
  ::testing::Test::RecordProperty(what, std::to_string(ms));
}

}  // namespace

// ---- Sim sanity --------------------------------------------------------------------------------

TEST(SimHarness, IdentitiesAndPlanetLoad) {
  ASSERT_EQ(ids().size(), 10u);
  for (const auto& [name, id] : ids()) EXPECT_TRUE(id.has_private()) << name;
  Net net(1);
  EXPECT_TRUE(net.planet.verify());
  EXPECT_EQ(net.planet.roots.at(0).stable_endpoints.at(0).to_string(), "10.0.0.1/9993");
}

TEST(SimHarness, SameSeedSameRun) {
  auto run = [](uint64_t seed) {
    Link l;
    l.loss = 0.1;
    l.jitter_ms = 7;
    l.reorder = 0.2;
    l.duplicate = 0.1;
    Net net(seed, 3, l);
    net.sim.capture = true;
    net.start_all();
    net.sim.run_for(20000);
    std::vector<std::pair<int64_t, Bytes>> log;
    for (const auto& d : net.sim.delivered_log) log.emplace_back(d.deliver_at, d.data);
    return log;
  };
  auto a = run(42), b = run(42), c = run(43);
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

// ---- Going online --------------------------------------------------------------------------------

TEST(SimVl1, RootAndThreeLeavesGoOnline) {
  Net net(1);
  net.start_all();
  ASSERT_TRUE(net.sim.run_until([&] { return net.all_online(); }, 10000));
  for (size_t l : net.leaf) {
    EXPECT_TRUE(net.sim.node(l).online());
    EXPECT_EQ(net.sim.host(l).count(EventType::Up), 1u);
    EXPECT_EQ(net.sim.host(l).count(EventType::Online), 1u);
    auto r = net.sim.node(l).peer(net.sim.now(), net.sim.address(net.root));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->role, PeerRole::Planet);
    EXPECT_TRUE(r->direct);
    ASSERT_EQ(r->paths.size(), 1u);
    EXPECT_EQ(r->paths[0].address, net.sim.at(net.root).address);
    EXPECT_EQ(r->protocol_version, 12);
    EXPECT_GE(r->latency_ms, 0);
    const int64_t t = *net.sim.host(l).first(EventType::Online) - kEpochMs;
    report(("online_" + net.sim.at(l).name).c_str(), t);
    EXPECT_LE(t, 100);  // one HELLO round trip at 5 ms per hop
  }
  // The root sees every leaf directly and is itself ONLINE (it is upstream).
  EXPECT_TRUE(net.sim.node(net.root).online());
  ASSERT_TRUE(net.sim.run_until([&] {
    for (size_t l : net.leaf)
      if (!net.direct(net.root, l)) return false;
    return true;
  }, 5000));
  for (size_t l : net.leaf) {
    auto p = net.sim.node(net.root).peer(net.sim.now(), net.sim.address(l));
    ASSERT_TRUE(p);
    EXPECT_EQ(p->role, PeerRole::Leaf);
  }
  // Nothing was dropped on a clean network.
  for (size_t i = 0; i < net.sim.size(); ++i) EXPECT_EQ(net.drops(i), 0u) << net.sim.at(i).name;
}

// ---- Relayed, then direct ---------------------------------------------------------------------------

TEST(SimVl1, LeafReachesLeafRelayedThenDirect) {
  Net net(2);
  net.sim.capture = true;
  net.start_all();
  ASSERT_TRUE(net.sim.run_until([&] { return net.all_online(); }, 10000));
  const size_t A = net.leaf[0], B = net.leaf[1], R = net.root;
  ASSERT_FALSE(net.sim.node(A).peer(net.sim.now(), net.sim.address(B)));

  const int64_t t0 = net.sim.now();
  const size_t log_mark = net.sim.delivered_log.size();
  const Bytes msg = pattern(100, 1);
  ASSERT_TRUE(net.send(A, B, 0x10000, msg).ok());
  ASSERT_TRUE(net.sim.run_until([&] { return net.received(B, A, 0x10000, msg) == 1; }, 5000));
  report("first_message_A_to_B", net.sim.now() - t0);
  EXPECT_GT(net.sim.node(R).counters().relayed, 0u);
  // The first packet from A that B saw came through the root (hops > 0).
  bool seen = false;
  for (size_t i = log_mark; i < net.sim.delivered_log.size() && !seen; ++i) {
    const auto& d = net.sim.delivered_log[i];
    if (d.to_node == B && d.source() == net.sim.address(A)) {
      seen = true;
      EXPECT_GT(d.hops(), 0u);
      EXPECT_EQ(d.from, net.sim.at(R).address);
    }
  }
  EXPECT_TRUE(seen);

  // RENDEZVOUS makes both ends contact each other directly.
  ASSERT_TRUE(net.sim.run_until([&] { return net.direct(A, B) && net.direct(B, A); }, 5000));
  report("direct_path_A_B", net.sim.now() - t0);
  auto pb = net.sim.node(A).peer(net.sim.now(), net.sim.address(B));
  ASSERT_TRUE(pb);
  EXPECT_EQ(pb->paths.at(0).address, net.sim.at(B).address);
  EXPECT_EQ(net.sim.host(A).count(EventType::PeerDirect), 2u);  // root, then B

  // Later messages (both ways) go direct: the root relays nothing more.
  net.sim.run_for(1000);
  const uint64_t relayed = net.sim.node(R).counters().relayed;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(net.send(A, B, 0x10001, pattern(50 + i, uint8_t(i))).ok());
    ASSERT_TRUE(net.send(B, A, 0x10002, pattern(60 + i, uint8_t(i))).ok());
    net.sim.run_for(200);
  }
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(net.received(B, A, 0x10001, pattern(50 + i, uint8_t(i))), 1u) << i;
    EXPECT_EQ(net.received(A, B, 0x10002, pattern(60 + i, uint8_t(i))), 1u) << i;
  }
  net.sim.run_for(120000);  // keepalives between A and B stay direct too
  EXPECT_EQ(net.sim.node(R).counters().relayed, relayed);
  EXPECT_TRUE(net.direct(A, B) && net.direct(B, A));
  for (size_t i = 0; i < net.sim.size(); ++i) EXPECT_EQ(net.drops(i), 0u) << net.sim.at(i).name;
}

// ---- Lossy network ---------------------------------------------------------------------------------

TEST(SimVl1, LossyReorderingDuplicatingLinks) {
  for (uint64_t seed : {3, 4, 5, 6}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    Link l;
    l.loss = 0.10;
    l.jitter_ms = 15;
    l.reorder = 0.2;
    l.reorder_ms = 40;
    l.duplicate = 0.1;
    Net net(seed, 3, l);
    net.start_all();
    ASSERT_TRUE(net.sim.run_until([&] { return net.all_online(); }, 30000));
    report("lossy_all_online", net.sim.elapsed());
    const int64_t t0 = net.sim.now();
    // Every leaf sends to every other leaf once a second (USER_MESSAGE has no delivery
    // guarantee, so the application retries) until each pair has heard from each other.
    auto done = [&](size_t a, size_t b) { return net.received(b, a, 0x20000 + a, pattern(30, uint8_t(a))) > 0; };
    auto all_done = [&] {
      for (size_t a : net.leaf)
        for (size_t b : net.leaf)
          if (a != b && !done(a, b)) return false;
      return true;
    };
    for (int round = 0; round < 60 && !all_done(); ++round) {
      for (size_t a : net.leaf)
        for (size_t b : net.leaf)
          if (a != b && !done(a, b)) ASSERT_TRUE(net.send(a, b, 0x20000 + a, pattern(30, uint8_t(a))).ok());
      net.sim.run_until(all_done, 1000);
      if (net.sim.verbose) {
        std::fprintf(stderr, "round %d:", round);
        for (size_t a : net.leaf)
          for (size_t b : net.leaf)
            if (a != b) std::fprintf(stderr, " %zu->%zu:%d", a, b, int(done(a, b)));
        std::fprintf(stderr, "\n");
      }
    }
    ASSERT_TRUE(all_done());
    report("lossy_all_pairs_reached", net.sim.now() - t0);
    EXPECT_LE(net.sim.now() - t0, 10000);
    // And direct paths form between every pair despite the loss, as long as there is traffic
    // (RENDEZVOUS is sent while relaying, at most every 30 s per pair).
    auto all_direct = [&] {
      for (size_t a : net.leaf)
        for (size_t b : net.leaf)
          if (a != b && !net.direct(a, b)) return false;
      return true;
    };
    for (int round = 0; round < 120 && !all_direct(); ++round) {
      for (size_t a : net.leaf)
        for (size_t b : net.leaf)
          if (a != b && !net.direct(a, b)) ASSERT_TRUE(net.send(a, b, 0x20100, pattern(20, 0)).ok());
      net.sim.run_until(all_direct, 1000);
    }
    ASSERT_TRUE(all_direct());
    report("lossy_all_pairs_direct", net.sim.now() - t0);
    EXPECT_GT(net.sim.stats.lost, 0u);
    EXPECT_GT(net.sim.stats.duplicated, 0u);
    // Duplicates are not authentication failures: nothing looked forged.
    for (size_t i = 0; i < net.sim.size(); ++i) EXPECT_EQ(net.sim.node(i).counters().dropped_auth, 0u);
  }
}

TEST(SimVl1, NineLeavesFullMesh) {
  Link l;
  l.loss = 0.05;
  l.jitter_ms = 20;
  l.reorder = 0.1;
  Net net(20, 9, l);
  net.start_all();
  ASSERT_TRUE(net.sim.run_until([&] { return net.all_online(); }, 30000));
  const int64_t t0 = net.sim.now();
  auto done = [&](size_t a, size_t b) { return net.received(b, a, 0x90000, pattern(16, uint8_t(a))) > 0; };
  auto all = [&](auto&& pred) {
    for (size_t a : net.leaf)
      for (size_t b : net.leaf)
        if (a != b && !pred(a, b)) return false;
    return true;
  };
  auto direct = [&](size_t a, size_t b) { return net.direct(a, b); };
  for (int round = 0; round < 120 && !(all(done) && all(direct)); ++round) {
    for (size_t a : net.leaf)
      for (size_t b : net.leaf)
        if (a != b && (!done(a, b) || !net.direct(a, b))) ASSERT_TRUE(net.send(a, b, 0x90000, pattern(16, uint8_t(a))).ok());
    net.sim.run_for(1000);
  }
  EXPECT_TRUE(all(done));
  EXPECT_TRUE(all(direct));
  report("mesh9_all_direct", net.sim.now() - t0);
  for (size_t i = 0; i < net.sim.size(); ++i) {
    EXPECT_EQ(net.sim.node(i).counters().dropped_auth, 0u) << net.sim.at(i).name;
    EXPECT_EQ(net.sim.node(i).peers(net.sim.now()).size(), 9u) << net.sim.at(i).name;  // everyone else
  }
}

// ---- Restart -----------------------------------------------------------------------------------------

TEST(SimVl1, RestartedNodeComesBack) {
  Net net(7);
  net.start_all();
  ASSERT_TRUE(net.sim.run_until([&] { return net.all_online(); }, 10000));
  const size_t A = net.leaf[0], B = net.leaf[1];
  ASSERT_TRUE(net.send(A, B, 0x30000, pattern(10, 1)).ok());
  ASSERT_TRUE(net.sim.run_until([&] { return net.direct(A, B) && net.direct(B, A); }, 10000));

  for (int64_t down_ms : {0, 60000, 600000}) {
    SCOPED_TRACE("down " + std::to_string(down_ms) + " ms");
    net.sim.stop(B);
    net.sim.run_for(down_ms);
    const size_t events_before = net.sim.host(B).events.size();
    ASSERT_TRUE(net.sim.restart(B)) << net.sim.last_error;
    const int64_t t0 = net.sim.now();
    ASSERT_TRUE(net.sim.run_until([&] { return net.sim.node(B).online(); }, 10000));
    report("restart_online", net.sim.now() - t0);
    EXPECT_EQ(net.sim.node(B).address(), net.sim.address(B));
    EXPECT_GT(net.sim.host(B).events.size(), events_before);
    // Reachable both ways again. (The very first try may be lost: the root learns B's new
    // path only when B answers its confirming HELLO, and does not relay to unconfirmed paths.)
    const Bytes m1 = pattern(40, uint8_t(down_ms / 1000 + 1)), m2 = pattern(41, uint8_t(down_ms / 1000 + 2));
    const int64_t ab = net.deliver(A, B, 0x30001, m1, 10000, 500);
    const int64_t ba = net.deliver(B, A, 0x30002, m2, 10000, 500);
    EXPECT_GE(ab, 0) << tail(net.sim, A) << tail(net.sim, B) << tail(net.sim, net.root);
    EXPECT_GE(ba, 0);
    report("restart_reachable", net.sim.now() - t0);
    EXPECT_TRUE(net.sim.run_until([&] { return net.direct(A, B) && net.direct(B, A); }, 60000));
  }
}

// ---- Tampering ---------------------------------------------------------------------------------------

namespace {

// A HELLO from `claimed` (whose key pair is `keys`) to `to`, armored with the key `keys`
// agrees with `to` (so its MAC is valid for that identity).
Bytes forged_hello(const proto::Identity& claimed, const proto::Identity& to, const InetAddress& sent_to, int64_t now) {
  proto::Hello h;
  h.timestamp = uint64_t(now);
  h.identity = claimed;
  h.sent_to = sent_to;
  h.planet = proto::Hello::Planet{kPlanetId, kPlanetTs};
  Writer w;
  proto::begin_packet(w, 0x1122334455667788ull, to.address(), claimed.address(), proto::Verb::Hello);
  h.encode(w);
  proto::PeerKey key(claimed.agree(to));
  Bytes pkt = w.take();
  EXPECT_TRUE(proto::armor(pkt, key, proto::Cipher::None));
  return pkt;
}

proto::Identity chimera(proto::Address addr, const proto::Identity& keys) {
  // "addr:0:pub:priv" with someone else's keys: structurally fine, fails §1.2 validation.
  std::string s = keys.to_string(true);
  return *proto::Identity::parse(proto::address_to_string(addr) + s.substr(10));
}

}  // namespace

TEST(SimVl1, TamperedAndForgedPacketsAreDroppedAndCounted) {
  Net net(8);
  net.sim.capture = true;
  net.start_all();
  ASSERT_TRUE(net.sim.run_until([&] { return net.all_online(); }, 10000));
  const size_t A = net.leaf[0], B = net.leaf[1], C = net.leaf[2], R = net.root;
  ASSERT_TRUE(net.send(A, B, 0x40000, pattern(200, 1)).ok());
  ASSERT_TRUE(net.sim.run_until([&] { return net.direct(A, B) && net.direct(B, A); }, 10000));
  ASSERT_TRUE(net.send(C, B, 0x40000, pattern(200, 2)).ok());  // B now knows C too
  net.sim.run_for(2000);
  net.sim.run_for(30000);

  // Genuine, unfragmented heads A sent to B directly (hops 0), captured.
  std::vector<Datagram> genuine;
  for (const auto& d : net.sim.captured)
    if (d.from_node == A && d.to_node == B && d.data.size() >= 28 && d.data[13] != 0xff && !(d.data[18] & 0x40))
      genuine.push_back(d);
  ASSERT_GE(genuine.size(), 5u);
  std::mt19937_64 rng(99);
  const InetAddress fromA = net.sim.at(A).address;

  auto inject_all = [&](const std::vector<Bytes>& dgs, const InetAddress& from) {
    for (const auto& d : dgs) net.sim.inject(B, from, d);
    net.sim.run_for(50);
  };
  auto packets_in = [&] { return net.sim.node(B).counters().packets_in; };
  const auto c0 = net.sim.node(B).counters();

  // 1. One random bit flipped anywhere after the header's routing fields (MAC, verb, payload,
  //    and the non-hops flag bits): every one fails authentication.
  std::vector<Bytes> flipped;
  for (int i = 0; i < 200; ++i) {
    Bytes d = genuine[size_t(rng() % genuine.size())].data;
    size_t bit;
    do {
      bit = 18 * 8 + size_t(rng() % ((d.size() - 18) * 8));
      // Not the hops bits (unauthenticated, §2.1) nor the fragmented flag (turns the head into
      // one that waits for fragments which never come: silently expired, not counted).
    } while (bit / 8 == 18 && (bit % 8 < 3 || bit % 8 == 6));
    d[bit / 8] ^= uint8_t(1u << (bit % 8));
    flipped.push_back(d);
  }
  // Bits in the packet ID (nonce / SIV tag) too.
  for (int i = 0; i < 50; ++i) {
    Bytes d = genuine[size_t(rng() % genuine.size())].data;
    const size_t bit = size_t(rng() % 64);
    d[bit / 8] ^= uint8_t(1u << (bit % 8));
    flipped.push_back(d);
  }
  uint64_t before_in = packets_in(), before_auth = net.sim.node(B).counters().dropped_auth;
  inject_all(flipped, fromA);
  EXPECT_EQ(packets_in(), before_in);
  EXPECT_EQ(net.sim.node(B).counters().dropped_auth - before_auth, flipped.size());

  // 2. Truncated datagrams.
  std::vector<Bytes> truncated;
  for (int i = 0; i < 100; ++i) {
    Bytes d = genuine[size_t(rng() % genuine.size())].data;
    d.resize(size_t(rng() % d.size()));
    truncated.push_back(d);
  }
  before_in = packets_in();
  uint64_t before_drops = net.drops(B);
  inject_all(truncated, fromA);
  EXPECT_EQ(packets_in(), before_in);
  size_t countable = 0;  // ≤ 4 bytes is NAT junk, silently ignored
  for (const auto& d : truncated) countable += d.size() > 4 && d.size() != 13;
  EXPECT_GE(net.drops(B) - before_drops, countable);

  // 3. Random garbage, from known and unknown addresses.
  std::vector<Bytes> garbage;
  for (int i = 0; i < 300; ++i) {
    Bytes d(size_t(rng() % 1500));
    for (auto& b : d) b = uint8_t(rng());
    if (i % 3 == 0 && d.size() >= 28) store_be(d.data() + 8, net.sim.address(B), 5);  // addressed to B
    if (i % 6 == 0 && d.size() >= 28) store_be(d.data() + 13, net.sim.address(A), 5);  // "from" A
    garbage.push_back(d);
  }
  before_in = packets_in();
  inject_all(garbage, fromA);
  inject_all(garbage, InetAddress::v4(0xc0a80001u, 4444));
  EXPECT_EQ(packets_in(), before_in);

  // 4. Replays with a rewritten source (A's packets claiming to be from C, a known peer).
  std::vector<Bytes> resourced;
  for (const auto& g : genuine) {
    Bytes d = g.data;
    store_be(d.data() + 13, net.sim.address(C), 5);
    resourced.push_back(d);
  }
  before_in = packets_in();
  before_auth = net.sim.node(B).counters().dropped_auth;
  uint64_t before_malformed = net.sim.node(B).counters().dropped_malformed;
  inject_all(resourced, fromA);
  EXPECT_EQ(packets_in(), before_in);
  // A's HELLOs among them no longer match their own source field: malformed (§3.2 step 1).
  EXPECT_EQ(net.sim.node(B).counters().dropped_auth - before_auth +
                net.sim.node(B).counters().dropped_malformed - before_malformed,
            resourced.size());

  // 5. HELLOs with mismatched identities.
  const auto& X = ids().at("extra5");
  before_in = packets_in();
  before_auth = net.sim.node(B).counters().dropped_auth;
  before_malformed = net.sim.node(B).counters().dropped_malformed;
  //   a. claims C's address with X's keys (collision with a known peer): MAC ok, identity
  //      differs. B answers ERROR(IDENTITY_COLLISION) to the sender (§3.2 step 2): 38 bytes.
  const InetAddress forger = InetAddress::v4(0xc0a80003u, 4444);
  const size_t cap0 = net.sim.captured.size();
  net.sim.inject(B, forger, forged_hello(chimera(net.sim.address(C), X), net.sim.at(B).identity, net.sim.at(B).address, net.sim.now()));
  net.sim.run_for(200);
  {
    size_t errors = 0;
    for (size_t i = cap0; i < net.sim.captured.size(); ++i) {
      const auto& d = net.sim.captured[i];
      if (d.from_node != B || !(d.to == forger)) continue;
      ++errors;
      EXPECT_EQ(d.data.size(), 38u);
      EXPECT_EQ(d.dest(), net.sim.address(C));
      EXPECT_EQ((d.data[18] >> 3) & 7, 1);  // cipher 1 under the forger's key
      // The forger (who holds X's secret) can read it.
      proto::PeerKey k(chimera(net.sim.address(C), X).agree(net.sim.at(B).identity));
      Bytes pkt = d.data;
      ASSERT_TRUE(proto::dearmor(pkt, k));
      auto e = proto::ErrorMessage::decode(proto::PacketView(pkt).payload());
      ASSERT_TRUE(e.ok());
      EXPECT_EQ(e->code, proto::ErrorCode::IdentityCollision);
      EXPECT_EQ(e->in_re_verb, proto::Verb::Hello);
    }
    EXPECT_EQ(errors, 1u);
  }
  //   b. an unknown address with X's keys: MAC ok, fails address derivation (§1.2).
  net.sim.inject(B, InetAddress::v4(0xc0a80002u, 4444), forged_hello(chimera(0x1234567890, X), net.sim.at(B).identity, net.sim.at(B).address, net.sim.now()));
  net.sim.run_for(200);
  //   c. X's genuine identity but the header names A as the source.
  {
    Bytes h = forged_hello(X, net.sim.at(B).identity, net.sim.at(B).address, net.sim.now());
    store_be(h.data() + 13, net.sim.address(A), 5);
    net.sim.inject(B, fromA, h);
    net.sim.run_for(200);
  }
  //   d. A's genuine identity, MAC computed with X's key.
  {
    proto::Hello hh;
    hh.timestamp = uint64_t(net.sim.now());
    hh.identity = *proto::Identity::parse(net.sim.at(A).identity.to_string(false));
    Writer w;
    proto::begin_packet(w, 77, net.sim.address(B), net.sim.address(A), proto::Verb::Hello);
    hh.encode(w);
    proto::PeerKey key(X.agree(net.sim.at(B).identity));
    Bytes pkt = w.take();
    ASSERT_TRUE(proto::armor(pkt, key, proto::Cipher::None));
    net.sim.inject(B, fromA, pkt);
    net.sim.run_for(200);
  }
  EXPECT_EQ(packets_in(), before_in);
  EXPECT_EQ(net.sim.node(B).counters().dropped_auth - before_auth, 3u);          // a, b, d
  EXPECT_EQ(net.sim.node(B).counters().dropped_malformed - before_malformed, 1u);  // c
  // B still has the genuine identities of A and C.
  EXPECT_EQ(net.sim.node(B).peer(net.sim.now(), net.sim.address(C))->address, net.sim.address(C));
  EXPECT_FALSE(net.sim.node(B).peer(net.sim.now(), 0x1234567890));

  // The same tampering aimed at the root: nothing crashes, nothing authenticates.
  std::vector<Bytes> at_root;
  for (const auto& d : net.sim.captured)
    if (d.to_node == R && d.data.size() > 28 && d.data[13] != 0xff && at_root.size() < 100) {
      Bytes x = d.data;
      x[28 + rng() % (x.size() - 28)] ^= 0x10;
      at_root.push_back(x);
    }
  const uint64_t root_in = net.sim.node(R).counters().packets_in;
  for (const auto& d : at_root) net.sim.inject(R, fromA, d);
  net.sim.run_for(50);
  EXPECT_LE(net.sim.node(R).counters().packets_in, root_in + 0);

  const auto c1 = net.sim.node(B).counters();
  EXPECT_GT(c1.dropped_auth, c0.dropped_auth);
  EXPECT_GT(c1.dropped_malformed, c0.dropped_malformed);
  EXPECT_GT(net.sim.host(B).count(EventType::Trace), 0u);

  // Everything still works afterwards.
  net.sim.run_for(10000);
  EXPECT_TRUE(net.all_online());
  const Bytes after = pattern(77, 9);
  ASSERT_TRUE(net.send(A, B, 0x40001, after).ok());
  ASSERT_TRUE(net.send(C, B, 0x40001, after).ok());
  ASSERT_TRUE(net.send(B, A, 0x40001, after).ok());
  EXPECT_TRUE(net.sim.run_until([&] {
    return net.received(B, A, 0x40001, after) && net.received(B, C, 0x40001, after) && net.received(A, B, 0x40001, after);
  }, 5000));
}

TEST(SimVl1, ImpostorGetsIdentityCollisionFromRoot) {
  Net net(16, 1);
  const size_t I = net.sim.add("impostor", chimera(net.sim.address(1), ids().at("extra4")));
  net.start_all();
  ASSERT_TRUE(net.sim.run_until([&] { return net.sim.node(net.leaf[0]).online(); }, 10000));
  // The impostor claims the leaf's address: the root (which knows the real one) refuses it and
  // says so; the impostor reports the collision (what to do then is the embedder's call: the
  // reference treats it as fatal).
  ASSERT_TRUE(net.sim.run_until([&] { return net.sim.host(I).count(EventType::IdentityCollision) > 0; }, 10000))
      << tail(net.sim, I) << tail(net.sim, net.root);
  net.sim.run_for(60000);
  auto p = net.sim.node(net.root).peer(net.sim.now(), net.sim.address(1));
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->direct);
  EXPECT_EQ(p->paths.size(), 1u);  // still only the genuine leaf's path
  EXPECT_TRUE(net.sim.node(net.leaf[0]).online());
}

TEST(SimVl1, RelayHonoursHopLimitAndLeavesDoNotRelay) {
  Net net(17, 2);
  net.sim.capture = true;
  net.sim.set_up(1, 2, false);  // A and B only through the root
  net.start_all();
  ASSERT_TRUE(net.sim.run_until([&] { return net.all_online(); }, 10000));
  const size_t A = net.leaf[0], B = net.leaf[1], R = net.root;
  ASSERT_GE(net.deliver(A, B, 0x70000, pattern(40, 1), 5000), 0);
  // A head A sent to the root for B.
  std::optional<Bytes> head;
  for (const auto& d : net.sim.captured)
    if (d.from_node == A && d.to_node == R && d.dest() == net.sim.address(B) && d.data[13] != 0xff) head = d.data;
  ASSERT_TRUE(head);
  const uint64_t relayed = net.sim.node(R).counters().relayed, policy = net.sim.node(R).counters().dropped_policy;
  const uint64_t b_in = net.sim.node(B).counters().packets_in;
  Bytes h2 = *head, h3 = *head;
  h2[18] = uint8_t((h2[18] & ~7) | 2);
  h3[18] = uint8_t((h3[18] & ~7) | 3);
  net.sim.inject(R, net.sim.at(A).address, h2);  // forwarded with hops 3 (still authentic)
  net.sim.inject(R, net.sim.at(A).address, h3);  // hops already at ZT_RELAY_MAX_HOPS: dropped
  net.sim.run_for(100);
  EXPECT_EQ(net.sim.node(R).counters().relayed, relayed + 1);
  EXPECT_EQ(net.sim.node(R).counters().dropped_policy, policy + 1);
  EXPECT_EQ(net.sim.node(B).counters().packets_in, b_in + 1);  // replays are not detected (§2)
  // A leaf never relays.
  const uint64_t a_policy = net.sim.node(A).counters().dropped_policy, a_out = net.sim.node(A).counters().datagrams_out;
  net.sim.inject(A, net.sim.at(R).address, *head);  // addressed to B, not A
  net.sim.run_for(1);
  EXPECT_EQ(net.sim.node(A).counters().dropped_policy, a_policy + 1);
  EXPECT_EQ(net.sim.node(A).counters().datagrams_out, a_out);
}

TEST(SimVl1, TwoRootsSurviveLosingOne) {
  Sim sim(18);
  const size_t R1 = sim.add("root1", ids().at("root"));
  const size_t R2 = sim.add("root2", ids().at("extra1"));
  const size_t A = sim.add("nodea", ids().at("nodea"));
  const size_t B = sim.add("nodeb", ids().at("nodeb"));
  auto planet = make_world(sim, proto::World::Type::Planet, kPlanetId, kPlanetTs, keypair(), {R1, R2});
  ASSERT_TRUE(planet);
  core::NodeOptions o;
  o.planet = *planet;
  for (size_t i = 0; i < sim.size(); ++i) ASSERT_TRUE(sim.start(i, o));
  sim.set_up(A, B, false);
  auto direct = [&](size_t a, size_t b) {
    auto p = sim.node(a).peer(sim.now(), sim.address(b));
    return p && p->direct;
  };
  ASSERT_TRUE(sim.run_until([&] {
    return direct(A, R1) && direct(A, R2) && direct(B, R1) && direct(B, R2) && direct(R1, R2) && direct(R2, R1);
  }, 10000));
  EXPECT_EQ(sim.node(A).peer(sim.now(), sim.address(R2))->role, PeerRole::Planet);
  EXPECT_TRUE(sim.node(R1).online() && sim.node(R2).online());
  // Root 1 dies: everyone stays online through root 2, and A still reaches B (relayed by R2).
  sim.isolate(R1, true);
  sim.run_for(5000);
  Bytes msg = pattern(64, 4);
  auto got = [&] {
    for (const auto& e : sim.host(B).events)
      if (e.type == EventType::UserMessage && e.data == msg) return true;
    return false;
  };
  const int64_t t0 = sim.now();
  while (!got() && sim.now() - t0 < 30000) {
    ASSERT_TRUE(sim.node(A).send_user_message(sim.now(), sim.address(B), 0x80000, msg).ok());
    sim.run_until(got, 1000);
  }
  EXPECT_TRUE(got());
  report("two_roots_failover_delivery", sim.now() - t0);
  sim.run_for(600000);
  EXPECT_TRUE(sim.node(A).online() && sim.node(B).online());
  EXPECT_EQ(sim.host(A).count(EventType::Offline), 0u);
  EXPECT_GT(sim.node(R2).counters().relayed, 0u);
}

// ---- ECHO, keepalives, outages ---------------------------------------------------------------------

TEST(SimVl1, PingMeasuresLatency) {
  Link l;
  l.latency_ms = 20;
  Net net(9, 2, l);
  net.start_all();
  ASSERT_TRUE(net.sim.run_until([&] { return net.all_online(); }, 10000));
  const size_t A = net.leaf[0], R = net.root;
  net.sim.set_link(A, R, Link{.latency_ms = 35});
  ASSERT_TRUE(net.sim.node(A).ping(net.sim.now(), net.sim.address(R)).ok());
  net.sim.run_for(200);
  EXPECT_EQ(net.sim.node(A).peer(net.sim.now(), net.sim.address(R))->latency_ms, 70);
  // Pinging an unknown address WHOISes it first; pinging a leaf through the root works too.
  const size_t B = net.leaf[1];
  ASSERT_TRUE(net.sim.node(A).ping(net.sim.now(), net.sim.address(B)).ok());
  net.sim.run_for(1000);
  auto pb = net.sim.node(A).peer(net.sim.now(), net.sim.address(B));
  ASSERT_TRUE(pb);
  EXPECT_GT(pb->latency_ms, 0);
}

TEST(SimVl1, QuietNodeStaysOnlineForAnHour) {
  Net net(10);
  net.start_all();
  ASSERT_TRUE(net.sim.run_until([&] { return net.all_online(); }, 10000));
  const auto wall0 = std::chrono::steady_clock::now();
  const uint64_t sent0 = net.sim.stats.sent;
  bool always = true;
  for (int i = 0; i < 3600; ++i) {
    net.sim.run_for(1000);
    always &= net.all_online();
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  std::printf("[ sim      ] one idle hour: %.3f s wall, %llu datagrams\n", wall,
              static_cast<unsigned long long>(net.sim.stats.sent - sent0));
  EXPECT_TRUE(always);
  for (size_t l : net.leaf) {
    EXPECT_EQ(net.sim.host(l).count(EventType::Offline), 0u);
    EXPECT_EQ(net.sim.host(l).count(EventType::Online), 1u);
    EXPECT_TRUE(net.direct(l, net.root));
  }
  // Keepalives, not floods: ~1 datagram per 14 s per direction per path, plus HELLOs.
  EXPECT_LT(net.sim.stats.sent - sent0, 3u * 2 * 3600 / 5);
  EXPECT_GT(net.sim.stats.sent - sent0, 3u * 2 * 3600 / 60);
  EXPECT_LT(wall, 5.0);
}

TEST(SimVl1, RootOutageGoesOfflineThenOnline) {
  Net net(11);
  net.start_all();
  ASSERT_TRUE(net.sim.run_until([&] { return net.all_online(); }, 10000));
  net.sim.run_for(5000);
  const size_t A = net.leaf[0];
  const int64_t cut = net.sim.now();
  net.sim.isolate(net.root, true);
  ASSERT_TRUE(net.sim.run_until([&] { return !net.sim.node(A).online(); }, 600000));
  const int64_t off = *net.sim.host(A).first(EventType::Offline) - cut;
  report("offline_after_cut", off);
  const int64_t timeout = net.options().online_timeout_ms;
  EXPECT_GT(off, timeout - 15000);  // last receive was at most one heartbeat before the cut
  EXPECT_LE(off, timeout + 1000);
  // Stay cut for an hour: still offline, backing off (not flooding the dead root).
  const uint64_t sent0 = net.sim.stats.sent;
  net.sim.run_for(3600000);
  EXPECT_FALSE(net.sim.node(A).online());
  EXPECT_LT(net.sim.stats.sent - sent0, 3u * 3600 / 5);
  const int64_t back = net.sim.now();
  net.sim.isolate(net.root, false);
  ASSERT_TRUE(net.sim.run_until([&] { return net.all_online(); }, 60000));
  report("online_after_restore", net.sim.now() - back);
  EXPECT_LE(net.sim.now() - back, 10000 + 100);
  for (size_t l : net.leaf) {
    EXPECT_EQ(net.sim.host(l).count(EventType::Offline), 1u);
    EXPECT_EQ(net.sim.host(l).count(EventType::Online), 2u);
  }
}

// ---- WHOIS -------------------------------------------------------------------------------------------

TEST(SimVl1, WhoisRetriedAndHeldPacketsProcessed) {
  Net net(12);
  net.sim.capture = true;
  net.start_all();
  ASSERT_TRUE(net.sim.run_until([&] { return net.all_online(); }, 10000));
  net.sim.run_for(3000);
  const size_t A = net.leaf[0], B = net.leaf[1], R = net.root;
  // No direct A<->B path (so B cannot learn A from a RENDEZVOUS-triggered HELLO), and the
  // first WHOIS each leaf sends to the root is lost (a WHOIS for one address is 33 bytes).
  net.sim.set_up(A, B, false);
  std::set<size_t> lost;
  net.sim.on_send = [&](Datagram& d) {
    if (d.to_node == R && (d.from_node == A || d.from_node == B) && d.data.size() == 33 && !lost.count(d.from_node)) {
      lost.insert(d.from_node);
      return false;
    }
    return true;
  };
  const uint64_t wa = net.sim.node(A).counters().whois_sent, wb = net.sim.node(B).counters().whois_sent;
  const int64_t t0 = net.sim.now();
  const Bytes msg = pattern(300, 3);
  ASSERT_TRUE(net.send(A, B, 0x50000, msg).ok());
  ASSERT_TRUE(net.sim.run_until([&] { return net.received(B, A, 0x50000, msg) == 1; }, 5000));
  report("delivery_with_two_lost_whois", net.sim.now() - t0);
  EXPECT_EQ(lost.size(), 2u);  // both first WHOIS were lost: A's for B, B's for the held packet's A
  EXPECT_GE(net.sim.node(A).counters().whois_sent - wa, 2u);
  EXPECT_GE(net.sim.node(B).counters().whois_sent - wb, 2u);
  EXPECT_EQ(net.sim.node(B).counters().dropped_unknown_peer, 0u);
  EXPECT_LT(net.sim.now() - t0, 2000);

  // A WHOIS for an address nobody knows: the queued message expires, nothing breaks.
  ASSERT_TRUE(net.sim.node(A).send_user_message(net.sim.now(), 0x0102030405, 1, msg).ok());
  net.sim.run_for(10000);
  EXPECT_TRUE(net.sim.node(A).online());
}

// ---- Moons -------------------------------------------------------------------------------------------

TEST(SimVl1, OrbitFetchesMoonAndDeorbitRemovesIt) {
  Net net(13, 2);
  const size_t M = net.sim.add("moonroot", ids().at("extra6"));
  const uint64_t moon_id = net.sim.address(M);
  auto moon = make_world(net.sim, proto::World::Type::Moon, moon_id, 1000, keypair(), {M});
  ASSERT_TRUE(moon);
  for (size_t i = 0; i < net.sim.size(); ++i) {
    auto o = net.options();
    if (i == M) o.moons.push_back(*moon);
    ASSERT_TRUE(net.sim.start(i, o));
  }
  ASSERT_TRUE(net.sim.run_until([&] { return net.all_online(); }, 10000));
  const size_t A = net.leaf[0];
  EXPECT_EQ(net.sim.node(A).peer(net.sim.now(), net.sim.address(M)), std::nullopt);

  const int64_t t0 = net.sim.now();
  ASSERT_TRUE(net.sim.node(A).orbit(net.sim.now(), moon_id, net.sim.address(M)).ok());
  net.sim.poke(A);
  auto moon_peer = [&]() -> bool {
    auto p = net.sim.node(A).peer(net.sim.now(), net.sim.address(M));
    return p && p->role == PeerRole::Moon && p->direct;
  };
  ASSERT_TRUE(net.sim.run_until(moon_peer, 10000));
  report("orbit_to_moon_peer", net.sim.now() - t0);
  auto st = net.sim.node(A).status(net.sim.now());
  ASSERT_EQ(st.moons.size(), 1u);
  EXPECT_EQ(st.moons[0], moon_id);
  EXPECT_TRUE(net.sim.host(A).state.count({int(core::StateObject::Moon), moon_id}));
  // The moon is an upstream now: it stays reachable and keeps the node online on its own.
  net.sim.set_up(A, net.root, false);
  net.sim.run_for(120000);
  EXPECT_TRUE(net.sim.node(A).online());
  net.sim.set_up(A, net.root, true);

  ASSERT_TRUE(net.sim.node(A).deorbit(net.sim.now(), moon_id).ok());
  EXPECT_TRUE(net.sim.node(A).status(net.sim.now()).moons.empty());
  EXPECT_FALSE(net.sim.host(A).state.count({int(core::StateObject::Moon), moon_id}));
  auto p = net.sim.node(A).peer(net.sim.now(), net.sim.address(M));
  EXPECT_TRUE(!p || p->role == PeerRole::Leaf);
  net.sim.run_for(60000);
  p = net.sim.node(A).peer(net.sim.now(), net.sim.address(M));
  EXPECT_TRUE(!p || p->role == PeerRole::Leaf);
  EXPECT_TRUE(net.sim.node(A).status(net.sim.now()).moons.empty());
}

TEST(SimVl1, OrbitRestoresMoonFromStateAfterRestart) {
  Net net(14, 1);
  const size_t M = net.sim.add("moonroot", ids().at("extra6"));
  const uint64_t moon_id = net.sim.address(M);
  auto moon = make_world(net.sim, proto::World::Type::Moon, moon_id, 1000, keypair(), {M});
  for (size_t i = 0; i < net.sim.size(); ++i) {
    auto o = net.options();
    if (i == M) o.moons.push_back(*moon);
    ASSERT_TRUE(net.sim.start(i, o));
  }
  ASSERT_TRUE(net.sim.run_until([&] { return net.all_online(); }, 10000));
  const size_t A = net.leaf[0];
  ASSERT_TRUE(net.sim.node(A).orbit(net.sim.now(), moon_id, net.sim.address(M)).ok());
  ASSERT_TRUE(net.sim.run_until([&] { return net.sim.node(A).status(net.sim.now()).moons.size() == 1; }, 10000));
  ASSERT_TRUE(net.sim.restart(A));
  // After a restart the embedder orbits again (seed 0: from state only); the moon is back at once.
  ASSERT_TRUE(net.sim.node(A).orbit(net.sim.now(), moon_id, 0).ok());
  EXPECT_EQ(net.sim.node(A).status(net.sim.now()).moons.size(), 1u);
  EXPECT_TRUE(net.sim.run_until([&] {
    auto p = net.sim.node(A).peer(net.sim.now(), net.sim.address(M));
    return p && p->role == PeerRole::Moon && p->direct;
  }, 10000));
}

TEST(SimVl1, WorldUpdatesPropagateThroughOkHello) {
  // The root runs a newer planet (same ID, same signing key); leaves started with the old one
  // adopt it from OK(HELLO) and persist it. A moon update reaches an orbiting leaf the same
  // way. A "newer" planet signed with another key is refused.
  Net net(19, 2);
  const size_t M = net.sim.add("moonroot", ids().at("extra6"));
  const uint64_t moon_id = net.sim.address(M);
  auto planet2 = make_world(net.sim, proto::World::Type::Planet, kPlanetId, kPlanetTs + 1, keypair(), {net.root});
  auto moon1 = make_world(net.sim, proto::World::Type::Moon, moon_id, 1000, keypair(), {M});
  auto moon2 = make_world(net.sim, proto::World::Type::Moon, moon_id, 2000, keypair(), {M});
  ASSERT_TRUE(planet2 && moon1 && moon2);
  for (size_t i = 0; i < net.sim.size(); ++i) {
    auto o = net.options();
    if (i == net.root) o.planet = *planet2;
    if (i == M) o.moons.push_back(*moon1);
    ASSERT_TRUE(net.sim.start(i, o));
  }
  const size_t A = net.leaf[0], B = net.leaf[1];
  ASSERT_TRUE(net.sim.run_until([&] {
    return net.sim.node(A).status(net.sim.now()).planet_timestamp == kPlanetTs + 1 &&
           net.sim.node(B).status(net.sim.now()).planet_timestamp == kPlanetTs + 1;
  }, 10000));
  auto stored = net.sim.host(A).state.find({int(core::StateObject::Planet), 0});
  ASSERT_NE(stored, net.sim.host(A).state.end());
  EXPECT_EQ(stored->second, planet2->serialize());
  EXPECT_TRUE(net.sim.node(A).online());

  // Moon: A orbits (gets ts 1000), then the moon root restarts with ts 2000.
  ASSERT_TRUE(net.sim.node(A).orbit(net.sim.now(), moon_id, net.sim.address(M)).ok());
  ASSERT_TRUE(net.sim.run_until([&] { return net.sim.node(A).status(net.sim.now()).moons.size() == 1; }, 10000));
  net.sim.stop(M);
  auto mo = net.sim.at(M).options;
  mo.moons = {*moon2};
  ASSERT_TRUE(net.sim.start(M, mo));
  const int64_t t_moon = net.sim.now();
  // A's next full HELLO to the moon root (≤ 60 s) lists the moon it has; the OK carries the update.
  ASSERT_TRUE(net.sim.run_until([&] {
    auto it = net.sim.host(A).state.find({int(core::StateObject::Moon), moon_id});
    return it != net.sim.host(A).state.end() && it->second == moon2->serialize();
  }, 120000));
  report("moon_update_adopted", net.sim.now() - t_moon);

  // A forged planet update (newer, but signed with another key) from the root is refused.
  proto::WorldKeypair other;
  const auto& X = ids().at("extra3");
  other.pub = X.public_key();
  other.priv = X.private_key();
  auto forged = make_world(net.sim, proto::World::Type::Planet, kPlanetId, kPlanetTs + 5, other, {net.root});
  ASSERT_TRUE(forged);
  net.sim.stop(net.root);
  auto ro = net.sim.at(net.root).options;
  ro.planet = *forged;
  ASSERT_TRUE(net.sim.start(net.root, ro));
  net.sim.run_for(130000);
  EXPECT_EQ(net.sim.node(B).status(net.sim.now()).planet_timestamp, kPlanetTs + 1);
  EXPECT_EQ(net.sim.host(B).state.at({int(core::StateObject::Planet), 0}), planet2->serialize());
}

// ---- Fragmentation -------------------------------------------------------------------------------------

TEST(SimVl1, LargeUserMessageIsFragmentedAndReassembled) {
  Net net(15);
  net.sim.capture = true;
  net.start_all();
  ASSERT_TRUE(net.sim.run_until([&] { return net.all_online(); }, 10000));
  const size_t A = net.leaf[0], B = net.leaf[1];
  const Bytes big = pattern(5000, 5);  // incompressible
  // First relayed (the root forwards the fragments), then direct.
  ASSERT_TRUE(net.send(A, B, 0x60000, big).ok());
  ASSERT_TRUE(net.sim.run_until([&] { return net.received(B, A, 0x60000, big) == 1; }, 5000));
  EXPECT_GE(net.sim.node(net.root).counters().relayed, 4u);  // head + 3 fragments
  ASSERT_TRUE(net.sim.run_until([&] { return net.direct(A, B) && net.direct(B, A); }, 5000));
  const size_t mark = net.sim.captured.size();
  ASSERT_TRUE(net.send(A, B, 0x60001, big).ok());
  ASSERT_TRUE(net.sim.run_until([&] { return net.received(B, A, 0x60001, big) == 1; }, 5000));
  size_t frags = 0, max_size = 0;
  for (size_t i = mark; i < net.sim.captured.size(); ++i) {
    const auto& d = net.sim.captured[i];
    if (d.from_node != A || d.to_node != B) continue;
    max_size = std::max(max_size, d.data.size());
    frags += d.data.size() > 16 && d.data[13] == 0xff;
  }
  EXPECT_EQ(frags, 3u);  // 5000 + 36 bytes at mtu 1432: head + 3 fragments
  EXPECT_EQ(max_size, 1432u);
  // Near the limit: the largest message that fits 7 pieces; fragments delivered out of order.
  Link shuffled;
  shuffled.jitter_ms = 30;
  net.sim.set_link(A, B, shuffled);
  const Bytes biggest = pattern(9000, 6);
  ASSERT_TRUE(net.send(A, B, 0x60002, biggest).ok());
  EXPECT_TRUE(net.sim.run_until([&] { return net.received(B, A, 0x60002, biggest) == 1; }, 5000));
  // Too large to send at all: refused by the API (payload limit) or dropped with a trace.
  EXPECT_FALSE(net.send(A, B, 0x60003, pattern(9990, 7)).ok());
}
