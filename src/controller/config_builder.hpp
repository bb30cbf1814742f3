// The config builder of the controller: PROTOCOL.md §10.1 steps 7–15 as functions from the
// network record, the member record and the request to a NetworkConfig.
//
// No I/O and no ControllerDb: the caller (EmbeddedController::handle) loads the records, rate
// limits, pins the identity, saves the member and sends. Functions that take `json& member`
// update the member record the way the reference does (authorization stamps, default
// capabilities and tags, pool-assigned IPs); the caller saves it. Randomness (IPv6 pool
// trials) is injected. Address assignment itself lives in ip_pool.hpp.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "controller/db.hpp"
#include "controller/ip_pool.hpp"
#include "proto/dictionary.hpp"
#include "proto/identity.hpp"
#include "proto/netconf.hpp"

namespace zt::controller {

using json = nlohmann::json;

// What every step needs to know about the request.
struct ConfigContext {
  const proto::Identity& self;       // the controller; must hold its secret (signs credentials)
  const proto::Identity& requester;  // the member
  uint64_t nwid = 0;
  int64_t now = 0;                   // ms, the node's clock
  const proto::Dictionary& meta;     // request metadata (§3.10)
};

// Step 7: true if the member may have a config: its `authorized` flag, a public network, or
// a valid `token:` in metadata key `a`. Auto-authorization is written into `member`
// (authorized, lastAuthorizedTime, lastAuthorizedCredentialType/Credential).
bool authorize_member(json& member, const json& network, const proto::Dictionary& meta, int64_t now);

// Step 8: the dictionary that goes with ERROR(NETWORK_AUTHENTICATION_REQUIRED).
proto::Dictionary sso_error_info(const SsoInfo& sso);

// Step 9: vMajor/vMinor/vRev/vProto from the metadata of a genuine request.
void record_client_version(json& member, const proto::Dictionary& meta);

// Every IP in any member record's `ipAssignments` (port 0): what pools must not hand out.
std::set<proto::InetAddress> assigned_ips(const std::vector<json>& all_members);

// What the config builder needs of the network's other members (O(bridges) per request, the
// IP set only when a pool must assign an address): ControllerDb::active_bridges() and
// ControllerDb::assigned_ips().
struct OtherMembers {
  std::vector<proto::Address> active_bridges;               // stored records with activeBridge
  std::function<std::set<proto::InetAddress>()> assigned_ips;  // called at most once, lazily
};
OtherMembers other_members_from(const std::vector<json>& all_members);

// Steps 10–14: the whole config before credentials. `all_members` are the network's stored
// member records; `member` is the in-flight version of the requester's (it wins over its
// stored copy). `sso` is non-null when SSO applies (step 8 passed).
proto::NetworkConfig build_config(const ConfigContext& ctx, const json& network, json& member, bool is_new,
                                  const std::vector<json>& all_members, const SsoInfo* sso, const RandomFn& random);
proto::NetworkConfig build_config(const ConfigContext& ctx, const json& network, json& member, bool is_new,
                                  const OtherMembers& others, const SsoInfo* sso, const RandomFn& random);

// ---- the single steps of build_config, in order ----------------------------------------------
// Step 10: type, timestamp, ctmd (clamped), revision, flags, name, MTU, multicast limit,
// SSO keys, remote trace target/level.
void build_basics(proto::NetworkConfig& nc, const ConfigContext& ctx, const json& network, const json& member,
                  const SsoInfo* sso);
// Step 10 `S`: every member with activeBridge, ascending.
void add_active_bridges(proto::NetworkConfig& nc, const ConfigContext& ctx, const json& member,
                        const std::vector<json>& all_members);
void add_active_bridges(proto::NetworkConfig& nc, const ConfigContext& ctx, const json& member,
                        const std::vector<proto::Address>& stored_bridges);
// Step 11: rules, capabilities (default ones appended to a new member), tags (network
// defaults appended to any member). Only [ACCEPT] if metadata `revr` is missing or 0.
void build_rules(proto::NetworkConfig& nc, const ConfigContext& ctx, const json& network, json& member,
                 bool is_new);
// Step 12.
void build_routes(proto::NetworkConfig& nc, const json& network);
// Step 13 (routes must be built): RFC4193/6PLANE, the member's explicit IPs, then the pools.
// New pool addresses are appended to member `ipAssignments`.
void build_static_ips(proto::NetworkConfig& nc, const ConfigContext& ctx, const json& network, json& member,
                      const std::set<proto::InetAddress>& assigned, const RandomFn& random);
void build_static_ips(proto::NetworkConfig& nc, const ConfigContext& ctx, const json& network, json& member,
                      const std::function<std::set<proto::InetAddress>()>& assigned, const RandomFn& random);
// Step 14.
void build_dns(proto::NetworkConfig& nc, const json& network);

// Step 15: the COO over the static IPs (if any) and the COM. False if the COM cannot be
// signed (the caller answers OBJ_NOT_FOUND).
bool issue_credentials(proto::NetworkConfig& nc, const ConfigContext& ctx);

}  // namespace zt::controller
