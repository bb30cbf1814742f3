// §10.1 step 13 address assignment (controller/ip_pool.hpp) on its own: no controller, no Db,
// randomness injected. The RFC4193 and IPv4-pool results are cross-checked against the
// reference vectors (the addresses zerotier-one's controller gave nodea and nodeb).
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <nlohmann/json.hpp>

#include "controller/ip_pool.hpp"
#include "proto/vl2.hpp"

using namespace zt;
using namespace zt::controller;
using proto::InetAddress;
using proto::NetworkRoute;
using nlohmann::json;

namespace {

json load_vector(const std::string& name) {
  std::ifstream in(std::string(ZTCORE_VECTORS_DIR) + "/" + name);
  return json::parse(in);
}

InetAddress ip(const std::string& s) {
  auto a = InetAddress::parse(s);  // "addr/bits" puts the bits in the port field
  EXPECT_TRUE(a.has_value()) << s;
  return a.value_or(InetAddress());
}

NetworkRoute route(const std::string& target, const std::string& via = "") {
  NetworkRoute r;
  r.target = ip(target);
  if (!via.empty()) r.via = ip(via + "/0");
  return r;
}

IpPool pool(const std::string& start, const std::string& end) { return {ip(start + "/0"), ip(end + "/0")}; }

// A random source that counts its calls and returns a fixed byte (or seeded pseudo-random
// bytes).
struct FakeRandom {
  size_t calls = 0;
  int fill = -1;  // -1: pseudo-random bytes
  std::mt19937_64 rng{7};
  RandomFn fn() {
    return [this](uint8_t* p, size_t n) {
      ++calls;
      for (size_t i = 0; i < n; ++i) p[i] = fill >= 0 ? uint8_t(fill) : uint8_t(rng());
    };
  }
};

struct VectorNode {
  proto::Address address;
  uint64_t nwid;
  std::vector<std::string> assigned;  // the node's listnetworks assignedAddresses
};

VectorNode vector_node(const std::string& member_file, const std::string& listnetworks_file) {
  json m = load_vector(member_file), l = load_vector(listnetworks_file);
  VectorNode v;
  v.address = std::stoull(m.at("address").get<std::string>(), nullptr, 16);
  v.nwid = std::stoull(l.at(0).at("nwid").get<std::string>(), nullptr, 16);
  for (const auto& a : l.at(0).at("assignedAddresses")) v.assigned.push_back(a.get<std::string>());
  return v;
}

}  // namespace

// ---- net_contains / largest_route_prefix --------------------------------------------------------

TEST(IpPool, NetContains) {
  EXPECT_TRUE(net_contains(ip("10.147.17.0/24"), ip("10.147.17.200/0")));
  EXPECT_FALSE(net_contains(ip("10.147.17.0/24"), ip("10.147.18.1/0")));
  EXPECT_TRUE(net_contains(ip("10.0.0.0/0"), ip("192.168.1.1/0")));       // /0 holds everything of its family
  EXPECT_FALSE(net_contains(ip("10.147.17.0/24"), ip("fd00::1/0")));      // other family
  EXPECT_FALSE(net_contains(InetAddress(), ip("10.0.0.1/0")));            // empty net
  EXPECT_TRUE(net_contains(ip("fd00:1::/33"), ip("fd00:1:7fff::1/0")));   // partial byte
  EXPECT_FALSE(net_contains(ip("fd00:1::/33"), ip("fd00:1:8000::1/0")));
  InetAddress bad = ip("10.0.0.0/0");
  bad.set_port(33);  // longer than the address
  EXPECT_FALSE(net_contains(bad, ip("10.0.0.0/0")));
}

TEST(IpPool, LargestRoutePrefixWins) {
  std::vector<NetworkRoute> routes = {route("10.147.17.0/24"), route("10.147.0.0/16", "10.147.17.1"),
                                      route("fd00:1::/64")};
  EXPECT_EQ(largest_route_prefix(routes, ip("10.147.17.200/0")), 24u);
  EXPECT_EQ(largest_route_prefix(routes, ip("10.147.99.1/0")), 16u);
  EXPECT_EQ(largest_route_prefix(routes, ip("fd00:1::5/0")), 64u);
  EXPECT_EQ(largest_route_prefix(routes, ip("192.168.1.1/0")), 0u);
}

// ---- step 13a: RFC4193 and 6PLANE ------------------------------------------------------------

TEST(IpPool, Rfc4193MatchesTheVectors) {
  for (auto [member, list] : {std::pair{"controller_member_nodea.json", "nodea_listnetworks.json"},
                              std::pair{"controller_member_nodeb.json", "nodeb_listnetworks.json"}}) {
    VectorNode v = vector_node(member, list);
    auto got = v6_mode_addresses(v.nwid, v.address, /*rfc4193=*/true, /*sixplane=*/false);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].to_string(), v.assigned.at(0)) << member;
    EXPECT_EQ(got[0].prefix_bits(), 88u);
  }
}

TEST(IpPool, SixPlaneFromTheSpecAndModeOrder) {
  // §4.5 by hand for nodea on d5a72ff358c0ffee: fc | d5a72ff3^58c0ffee = 8d67d01d | 8fec3e8ae4
  // | 00 00 00 00 00 01, /40.
  const uint64_t nwid = 0xd5a72ff358c0ffeeULL;
  const proto::Address a = 0x8fec3e8ae4ULL;
  auto both = v6_mode_addresses(nwid, a, true, true);
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[0].to_string(), "fdd5:a72f:f358:c0ff:ee99:938f:ec3e:8ae4/88");  // RFC4193 first
  EXPECT_EQ(both[1].to_string(), "fc8d:67d0:1d8f:ec3e:8ae4::1/40");
  auto six = v6_mode_addresses(nwid, a, false, true);
  ASSERT_EQ(six.size(), 1u);
  EXPECT_EQ(six[0], both[1]);
  EXPECT_TRUE(v6_mode_addresses(nwid, a, false, false).empty());
}

// ---- step 13d: IPv4 pools --------------------------------------------------------------------

TEST(IpPool, V4CounterWalkReproducesTheVectors) {
  json net = load_vector("controller_network.json");
  const auto& p = net.at("ipAssignmentPools").at(0);
  std::vector<IpPool> pools = {pool(p.at("ipRangeStart").get<std::string>(), p.at("ipRangeEnd").get<std::string>())};
  std::vector<NetworkRoute> routes = {route(net.at("routes").at(0).at("target").get<std::string>())};
  for (auto [member, list] : {std::pair{"controller_member_nodea.json", "nodea_listnetworks.json"},
                              std::pair{"controller_member_nodeb.json", "nodeb_listnetworks.json"}}) {
    VectorNode v = vector_node(member, list);
    auto got = assign_v4_from_pools(pools, v.address, routes, {});
    ASSERT_TRUE(got) << member;
    EXPECT_EQ(got->to_string(), v.assigned.at(1)) << member;  // 10.147.17.14/24, 10.147.17.42/24
  }
}

TEST(IpPool, V4SkipsTakenAddresses) {
  std::vector<IpPool> pools = {pool("10.147.17.10", "10.147.17.50")};
  std::vector<NetworkRoute> routes = {route("10.147.17.0/24")};
  const proto::Address a = 0x8fec3e8ae4ULL;  // first candidate .14
  auto got = assign_v4_from_pools(pools, a, routes, {ip("10.147.17.14/0"), ip("10.147.17.15/0")});
  ASSERT_TRUE(got);
  EXPECT_EQ(got->to_string(), "10.147.17.16/24");
}

TEST(IpPool, V4ExhaustedPoolGivesNothing) {
  // Span 2: the walk only ever yields .10 and .11 (the end is never chosen).
  std::vector<IpPool> pools = {pool("10.0.0.10", "10.0.0.12")};
  std::vector<NetworkRoute> routes = {route("10.0.0.0/24")};
  EXPECT_FALSE(assign_v4_from_pools(pools, 7, routes, {ip("10.0.0.10/0"), ip("10.0.0.11/0")}));
  auto one = assign_v4_from_pools(pools, 7, routes, {ip("10.0.0.11/0")});
  ASSERT_TRUE(one);
  EXPECT_EQ(one->to_string(), "10.0.0.10/24");
  // A later pool is tried when the first is exhausted.
  pools.push_back(pool("10.0.0.100", "10.0.0.100"));
  auto next = assign_v4_from_pools(pools, 7, routes, {ip("10.0.0.10/0"), ip("10.0.0.11/0")});
  ASSERT_TRUE(next);
  EXPECT_EQ(next->to_string(), "10.0.0.100/24");
}

TEST(IpPool, V4SingleAddressPool) {
  std::vector<IpPool> pools = {pool("10.0.0.77", "10.0.0.77")};
  std::vector<NetworkRoute> routes = {route("10.0.0.0/24")};
  auto got = assign_v4_from_pools(pools, 0x123456789aULL, routes, {});
  ASSERT_TRUE(got);
  EXPECT_EQ(got->to_string(), "10.0.0.77/24");
  EXPECT_FALSE(assign_v4_from_pools(pools, 0x123456789aULL, routes, {ip("10.0.0.77/0")}));
}

TEST(IpPool, V4SkipsBroadcastOctetButNotZero) {
  // Span 11 from .250: member address ≡ 5 (mod 11) lands on 10.0.0.255 first, then 10.0.1.0.
  std::vector<IpPool> pools = {pool("10.0.0.250", "10.0.1.5")};
  std::vector<NetworkRoute> routes = {route("10.0.0.0/16")};
  const proto::Address a = 11 * 1000 + 5;
  auto got = assign_v4_from_pools(pools, a, routes, {});
  ASSERT_TRUE(got);
  EXPECT_EQ(got->to_string(), "10.0.1.0/16");
}

TEST(IpPool, V4InvalidPoolsAreSkipped) {
  std::vector<NetworkRoute> routes = {route("10.0.0.0/8")};
  std::vector<IpPool> pools = {pool("10.0.0.50", "10.0.0.10"),   // end < start
                               pool("0.0.0.0", "0.0.0.10"),      // start 0
                               pool("fd00::1", "fd00::ff"),      // IPv6
                               pool("10.0.0.1", "fd00::1"),      // mixed families
                               pool("10.9.0.1", "10.9.0.1")};
  auto got = assign_v4_from_pools(pools, 1, routes, {});
  ASSERT_TRUE(got);
  EXPECT_EQ(got->to_string(), "10.9.0.1/8");
}

TEST(IpPool, V4FirstMatchingRouteGivesThePrefixAndNoRouteNoAddress) {
  std::vector<IpPool> pools = {pool("10.147.17.10", "10.147.17.50")};
  // The first IPv4 route whose network holds the candidate, with or without via; IPv6
  // routes are ignored.
  std::vector<NetworkRoute> routes = {route("fd00::/8"), route("10.0.0.0/8", "10.0.0.1"), route("10.147.17.0/24")};
  auto got = assign_v4_from_pools(pools, 0x8fec3e8ae4ULL, routes, {});
  ASSERT_TRUE(got);
  EXPECT_EQ(got->to_string(), "10.147.17.14/8");
  // No route holds the pool: nothing is assigned.
  EXPECT_FALSE(assign_v4_from_pools(pools, 0x8fec3e8ae4ULL, std::vector<NetworkRoute>{route("192.168.0.0/16")}, {}));
  EXPECT_FALSE(assign_v4_from_pools({}, 0x8fec3e8ae4ULL, routes, {}));
}

// ---- step 13c: IPv6 pools --------------------------------------------------------------------

TEST(IpPool, V6WidePoolTriesTheNodeAddressFirstWithoutRandomness) {
  std::vector<IpPool> pools = {pool("fd12:3456:789a::", "fd12:3456:789a:0:ffff:ffff:ffff:ffff")};
  std::vector<NetworkRoute> routes = {route("fd12:3456:789a::/48")};
  FakeRandom r;
  auto got = assign_v6_from_pools(pools, 0x8fec3e8ae4ULL, routes, {}, r.fn());
  ASSERT_TRUE(got);
  EXPECT_EQ(got->to_string(), "fd12:3456:789a::8f:ec3e:8ae4/48");
  EXPECT_EQ(r.calls, 0u);
}

TEST(IpPool, V6TakenNodeAddressFallsBackToRandomCandidates) {
  std::vector<IpPool> pools = {pool("fd12:3456:789a::", "fd12:3456:789a:0:ffff:ffff:ffff:ffff")};
  std::vector<NetworkRoute> routes = {route("fd12:3456:789a::/48")};
  FakeRandom r;
  r.fill = 0;  // r.hi = r.lo = 0: the candidate is the pool start
  auto got = assign_v6_from_pools(pools, 0x8fec3e8ae4ULL, routes, {ip("fd12:3456:789a::8f:ec3e:8ae4/0")}, r.fn());
  ASSERT_TRUE(got);
  EXPECT_EQ(got->to_string(), "fd12:3456:789a::/48");
  EXPECT_EQ(r.calls, 1u);
}

TEST(IpPool, V6RandomCandidatesStayInThePool) {
  // Low halves span less than 2^40 - 1: no node-address trial, random from the first one.
  std::vector<IpPool> pools = {pool("fd00::1000", "fd00::1fff")};
  std::vector<NetworkRoute> routes = {route("fd00::/64")};
  FakeRandom r;  // pseudo-random: different candidates per trial
  std::set<InetAddress> taken;
  for (int k = 0; k < 20; ++k) {
    auto got = assign_v6_from_pools(pools, 0x8fec3e8ae4ULL, routes, taken, r.fn());
    ASSERT_TRUE(got);
    EXPECT_EQ(got->prefix_bits(), 64u);
    InetAddress plain = *got;
    plain.set_port(0);
    EXPECT_FALSE(taken.count(plain)) << "a taken address was handed out again";
    const uint64_t lo = load_be64(plain.ip() + 8);
    EXPECT_GE(lo, 0x1000u);
    EXPECT_LT(lo, 0x1fffu);  // r mod (E - S): the end itself is never drawn
    taken.insert(plain);
  }
  EXPECT_GE(r.calls, 20u);
}

TEST(IpPool, V6ExhaustedPoolStopsAfterTheTrialLimit) {
  std::vector<IpPool> pools = {pool("fd00::5", "fd00::5")};
  std::vector<NetworkRoute> routes = {route("fd00::/64")};
  FakeRandom r;
  EXPECT_FALSE(assign_v6_from_pools(pools, 1, routes, {ip("fd00::5/0")}, r.fn()));
  EXPECT_EQ(r.calls, kMaxPoolTrials);
  FakeRandom r2;
  auto got = assign_v6_from_pools(pools, 1, routes, {}, r2.fn());
  ASSERT_TRUE(got);
  EXPECT_EQ(got->to_string(), "fd00::5/64");
}

TEST(IpPool, V6LastGatewayLessRouteGivesThePrefix) {
  std::vector<IpPool> pools = {pool("fd12:3456:789a::", "fd12:3456:789a:0:ffff:ffff:ffff:ffff")};
  const proto::Address a = 0x8fec3e8ae4ULL;
  FakeRandom r;
  // The last matching route without a gateway wins (not the largest prefix).
  auto got = assign_v6_from_pools(pools, a, std::vector<NetworkRoute>{route("fd12:3456:789a::/48"), route("fd00::/8")},
                                  {}, r.fn());
  ASSERT_TRUE(got);
  EXPECT_EQ(got->prefix_bits(), 8u);
  // A route with a gateway does not count.
  got = assign_v6_from_pools(pools, a,
                             std::vector<NetworkRoute>{route("fd12:3456:789a::/48"), route("fd00::/8", "fd12:3456:789a::1")},
                             {}, r.fn());
  ASSERT_TRUE(got);
  EXPECT_EQ(got->prefix_bits(), 48u);
  // No usable route: every trial fails.
  FakeRandom r3;
  EXPECT_FALSE(assign_v6_from_pools(pools, a, std::vector<NetworkRoute>{route("fd12:3456:789a::/48", "fd12::1")}, {}, r3.fn()));
  EXPECT_EQ(r3.calls, kMaxPoolTrials - 1);  // trial 0 is the node address
}

TEST(IpPool, V6SkipsIpv4AndMixedPools) {
  std::vector<IpPool> pools = {pool("10.0.0.1", "10.0.0.9"), pool("fd00::1", "10.0.0.9"), pool("fd00::7", "fd00::7")};
  std::vector<NetworkRoute> routes = {route("10.0.0.0/8"), route("fd00::/64")};
  FakeRandom r;
  auto got = assign_v6_from_pools(pools, 1, routes, {}, r.fn());
  ASSERT_TRUE(got);
  EXPECT_EQ(got->to_string(), "fd00::7/64");
}
