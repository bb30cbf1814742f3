// §10.1 step 13 address assignment. See ip_pool.hpp.
#include "controller/ip_pool.hpp"

#include <algorithm>

#include "base/bytes.hpp"
#include "proto/vl2.hpp"

namespace zt::controller {

using proto::Address;
using proto::InetAddress;
using proto::NetworkRoute;

bool net_contains(const InetAddress& net, const InetAddress& ip) {
  if (net.family() != ip.family() || net.empty()) return false;
  unsigned bits = net.prefix_bits(), size = unsigned(net.ip_size());
  if (bits > size * 8) return false;
  for (unsigned i = 0; i < size && bits > 0; ++i) {
    unsigned take = std::min(bits, 8u);
    uint8_t mask = uint8_t(0xff00 >> take);
    if ((net.ip()[i] & mask) != (ip.ip()[i] & mask)) return false;
    bits -= take;
  }
  return true;
}

std::vector<InetAddress> v6_mode_addresses(uint64_t nwid, Address member, bool rfc4193, bool sixplane) {
  std::vector<InetAddress> out;
  if (rfc4193) out.push_back(proto::rfc4193_address(nwid, member));
  if (sixplane) out.push_back(proto::sixplane_address(nwid, member));
  return out;
}

unsigned largest_route_prefix(std::span<const NetworkRoute> routes, const InetAddress& ip) {
  unsigned best = 0;
  for (const auto& rt : routes)
    if (net_contains(rt.target, ip)) best = std::max(best, rt.target.prefix_bits());
  return best;
}

namespace {

InetAddress with_prefix(InetAddress ip, unsigned prefix) {
  ip.set_port(uint16_t(prefix));
  return ip;
}

InetAddress v6_from_halves(uint64_t hi, uint64_t lo) {
  uint8_t b[16];
  store_be64(b, hi);
  store_be64(b + 8, lo);
  return InetAddress::v6(b, 0);
}

// Step 13c: the prefix of the *last* gateway-less IPv6 route containing the candidate.
unsigned v6_route_prefix(std::span<const NetworkRoute> routes, const InetAddress& candidate) {
  unsigned prefix = 0;
  for (const auto& rt : routes)
    if (rt.via.empty() && rt.target.is_v6() && net_contains(rt.target, candidate)) prefix = rt.target.prefix_bits();
  return prefix;
}

// Step 13d: the prefix of the *first* IPv4 route (any via) whose network holds the candidate.
unsigned v4_route_prefix(std::span<const NetworkRoute> routes, uint32_t ip) {
  for (const auto& rt : routes) {
    if (!rt.target.is_v4()) continue;
    unsigned bits = rt.target.prefix_bits();
    uint32_t mask = bits == 0 ? 0 : bits >= 32 ? 0xffffffffu : ~(0xffffffffu >> bits);
    if ((ip & mask) == rt.target.ipv4()) return bits;
  }
  return 0;
}

std::optional<InetAddress> v6_from_pool(const IpPool& pool, Address member, std::span<const NetworkRoute> routes,
                                        const std::set<InetAddress>& taken, const RandomFn& random) {
  const uint64_t shi = load_be64(pool.start.ip()), slo = load_be64(pool.start.ip() + 8);
  const uint64_t ehi = load_be64(pool.end.ip()), elo = load_be64(pool.end.ip() + 8);
  for (size_t trial = 0; trial < kMaxPoolTrials; ++trial) {
    uint64_t hi, lo;
    if (trial == 0 && elo > slo && elo - slo >= 0xffffffffffULL) {
      // A pool wide enough for every node address: try the one the address names first.
      hi = shi;
      lo = slo + member;
    } else {
      uint8_t r[16];
      random(r, sizeof r);
      uint64_t rhi = load_be64(r), rlo = load_be64(r + 8);
      hi = ehi > shi ? shi + rhi % (ehi - shi) : shi;
      lo = elo > slo ? slo + rlo % (elo - slo) : slo;
    }
    InetAddress candidate = v6_from_halves(hi, lo);
    unsigned prefix = v6_route_prefix(routes, candidate);
    if (prefix > 0 && !taken.count(candidate)) return with_prefix(candidate, prefix);
  }
  return std::nullopt;
}

std::optional<InetAddress> v4_from_pool(const IpPool& pool, Address member, std::span<const NetworkRoute> routes,
                                        const std::set<InetAddress>& taken) {
  const uint32_t start = pool.start.ipv4(), end = pool.end.ipv4();
  if (end < start || start == 0) return std::nullopt;
  // The reference's counter walk (worked example in §10.1 step 13d): the end itself is
  // never chosen unless start = end.
  const uint32_t span = end - start;
  uint32_t counter = uint32_t(member);
  const uint64_t trials = std::min<uint64_t>(kMaxPoolTrials, uint64_t(span) + 1);
  for (uint64_t k = 0; k < trials; ++k) {
    uint32_t ip = span ? start + counter % span : start;
    ++counter;
    if ((ip & 0xff) == 0xff) continue;
    InetAddress candidate = InetAddress::v4(ip, 0);
    unsigned prefix = v4_route_prefix(routes, ip);
    if (prefix > 0 && !taken.count(candidate)) return with_prefix(candidate, prefix);
  }
  return std::nullopt;
}

}  // namespace

std::optional<InetAddress> assign_v6_from_pools(std::span<const IpPool> pools, Address member,
                                                std::span<const NetworkRoute> routes, const std::set<InetAddress>& taken,
                                                const RandomFn& random) {
  for (const IpPool& p : pools) {
    if (!p.start.is_v6() || !p.end.is_v6()) continue;
    if (auto ip = v6_from_pool(p, member, routes, taken, random)) return ip;
  }
  return std::nullopt;
}

std::optional<InetAddress> assign_v4_from_pools(std::span<const IpPool> pools, Address member,
                                                std::span<const NetworkRoute> routes, const std::set<InetAddress>& taken) {
  for (const IpPool& p : pools) {
    if (!p.start.is_v4() || !p.end.is_v4()) continue;
    if (auto ip = v4_from_pool(p, member, routes, taken)) return ip;
  }
  return std::nullopt;
}

}  // namespace zt::controller
