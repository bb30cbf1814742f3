// Managed-address assignment of the controller (PROTOCOL.md §10.1 step 13, §4.5).
//
// Pure functions: no I/O, no ControllerDb, no JSON. Randomness (the IPv6 pool trials) comes
// in as a parameter, so a test can replay an assignment exactly. The config builder
// (config_builder.hpp) parses the network/member records into these types and applies the
// results to the member record and the NetworkConfig.
//
// Addresses with a prefix carry it in the port field (the InetAddress convention for routes
// and static IPs); addresses without one have port 0.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <span>
#include <vector>

#include "proto/identity.hpp"
#include "proto/inet_address.hpp"
#include "proto/netconf.hpp"

namespace zt::controller {

// Fills n random bytes.
using RandomFn = std::function<void(uint8_t*, size_t)>;

// Trials per pool (§10.1 steps 13c/13d).
inline constexpr size_t kMaxPoolTrials = 1000;

// One `ipAssignmentPools` entry: first and last address (port 0), same family.
struct IpPool {
  proto::InetAddress start;
  proto::InetAddress end;
};

// True if `ip` lies in the network `net` (address + prefix bits in the port field). False for
// different families, an empty net or a prefix longer than the address.
bool net_contains(const proto::InetAddress& net, const proto::InetAddress& ip);

// §10.1 step 13a: the RFC4193 (/88) and 6PLANE (/40) addresses the network's v6AssignMode
// asks for, in that order.
std::vector<proto::InetAddress> v6_mode_addresses(uint64_t nwid, proto::Address member, bool rfc4193,
                                                  bool sixplane);

// §10.1 step 13b: the largest prefix among the routes whose target contains `ip`; 0 if none
// does (the IP stays in the member record but not in the config).
unsigned largest_route_prefix(std::span<const proto::NetworkRoute> routes, const proto::InetAddress& ip);

// §10.1 step 13c: an IPv6 address from the first IPv6 pool (both ends IPv6) that yields one.
// Per pool up to kMaxPoolTrials candidates: the first is start + member address when the
// pool's low halves span at least 2^40 - 1; the others draw 16 bytes from `random` each. A
// candidate is accepted when the last gateway-less IPv6 route containing it gives it a
// prefix and it is not in `taken` (compared without prefix). Returns it with that prefix.
std::optional<proto::InetAddress> assign_v6_from_pools(std::span<const IpPool> pools, proto::Address member,
                                                       std::span<const proto::NetworkRoute> routes,
                                                       const std::set<proto::InetAddress>& taken,
                                                       const RandomFn& random);

// §10.1 step 13d: an IPv4 address from the first IPv4 pool (both ends IPv4, end ≥ start,
// start ≠ 0) that yields one: the reference's counter walk from the member address, skipping
// x.x.x.255; prefix from the first IPv4 route whose network holds the candidate; accepted if
// that prefix is > 0 and the candidate is not in `taken`. Deterministic (no randomness).
std::optional<proto::InetAddress> assign_v4_from_pools(std::span<const IpPool> pools, proto::Address member,
                                                       std::span<const proto::NetworkRoute> routes,
                                                       const std::set<proto::InetAddress>& taken);

}  // namespace zt::controller
