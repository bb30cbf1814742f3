// §10.1 steps 7–15: network + member record → NetworkConfig. See config_builder.hpp.
#include "controller/config_builder.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <string>

#include "base/hex.hpp"
#include "controller/objects.hpp"
#include "proto/credentials.hpp"
#include "proto/vl2.hpp"

namespace zt::controller {

using proto::Address;
using proto::Dictionary;
using proto::InetAddress;
using proto::NetworkConfig;

namespace {

constexpr int64_t kCtmdDefault = 1800000, kCtmdMin = 300000, kCtmdMax = 7200000;  // §10.1 step 10

// A field of a record, or null when absent (records are normally init_*()ed, but a const
// operator[] on a missing key would be undefined behaviour).
const json& field(const json& o, const char* key) {
  static const json kNull;
  if (!o.is_object()) return kNull;
  auto it = o.find(key);
  return it == o.end() ? kNull : *it;
}

json& ensure_array(json& o, const char* key) {
  if (!o[key].is_array()) o[key] = json::array();
  return o[key];
}

std::optional<uint64_t> hex10(const std::string& s) {
  if (s.size() != 10) return std::nullopt;
  return parse_hex_u64(s);
}

// Step 7, third rule: metadata `a` = "token:<T>" and network authTokens[T] a number that is
// 0 (never expires) or in the future. The reference throws (and never answers) when
// authTokens is its default [null]; we simply find no token there.
std::optional<std::string> valid_auth_token(const json& network, const Dictionary& meta, int64_t now) {
  auto a = meta.get_string("a");
  if (!a || a->size() <= 6 || a->compare(0, 6, "token:") != 0) return std::nullopt;
  std::string token = a->substr(6);
  const json& tokens = field(network, "authTokens");
  if (!tokens.is_object()) return std::nullopt;
  auto t = tokens.find(token);
  if (t == tokens.end() || !t->is_number()) return std::nullopt;
  int64_t expiry = t->is_number_unsigned() ? int64_t(t->get<uint64_t>()) : t->get<int64_t>();
  if (expiry != 0 && expiry <= now) return std::nullopt;
  return token;
}

std::vector<proto::Rule> parse_rules(const json& rules, size_t max) {
  std::vector<proto::Rule> out;
  if (!rules.is_array()) return out;
  for (const json& rj : rules) {
    if (out.size() >= max) break;
    if (auto r = rule_from_json(rj)) out.push_back(*r);  // unparseable entries are skipped
  }
  return out;
}

void build_capabilities(NetworkConfig& nc, const ConfigContext& ctx, const json& network, json& member,
                        bool is_new) {
  const json& caps = field(network, "capabilities");
  std::map<uint32_t, const json*> net_caps;
  if (caps.is_array())
    for (const json& c : caps)
      if (c.is_object() && c.contains("id")) net_caps.emplace(uint32_t(json_u64(c, "id", 0)), &c);
  json& member_caps = ensure_array(member, "capabilities");
  if (is_new && caps.is_array()) {
    for (const json& c : caps) {
      if (!c.is_object() || !json_bool(c, "default", false) || !c.contains("id")) continue;
      uint32_t id = uint32_t(json_u64(c, "id", 0));
      bool have = std::any_of(member_caps.begin(), member_caps.end(),
                              [&](const json& x) { return x.is_number() && uint32_t(x.get<uint64_t>()) == id; });
      if (!have) member_caps.push_back(id);
    }
  }
  for (const json& x : member_caps) {
    if (nc.capabilities.size() >= NetworkConfig::kMaxCapabilities) break;
    if (!x.is_number_integer()) continue;
    auto c = net_caps.find(uint32_t(x.get<uint64_t>()));
    if (c == net_caps.end()) continue;
    proto::Capability cap;
    cap.nwid = ctx.nwid;
    cap.timestamp = uint64_t(ctx.now);
    cap.id = c->first;
    cap.max_custody = 1;
    cap.set_rules(parse_rules(field(*c->second, "rules"), proto::kMaxCapabilityRules));
    if (cap.sign(ctx.self, ctx.requester.address())) nc.capabilities.push_back(std::move(cap));
  }
}

void build_tags(NetworkConfig& nc, const ConfigContext& ctx, const json& network, json& member) {
  std::map<uint32_t, uint32_t> tags;
  json& member_tags = ensure_array(member, "tags");
  for (const json& t : member_tags)
    if (t.is_array() && t.size() == 2 && t[0].is_number_integer() && t[1].is_number_integer())
      tags[uint32_t(t[0].get<uint64_t>())] = uint32_t(t[1].get<uint64_t>());
  const json& net_tags = field(network, "tags");
  if (net_tags.is_array())
    for (const json& t : net_tags) {
      if (!t.is_object() || !t.contains("id")) continue;
      auto d = t.find("default");
      if (d == t.end() || !d->is_number_integer()) continue;
      uint32_t id = uint32_t(json_u64(t, "id", 0));
      if (tags.count(id)) continue;
      uint32_t value = uint32_t(d->get<uint64_t>());
      tags[id] = value;
      member_tags.push_back(json::array({id, value}));  // any member, new or not
    }
  for (auto [id, value] : tags) {
    if (nc.tags.size() >= NetworkConfig::kMaxTags) break;
    proto::Tag tag;
    tag.nwid = ctx.nwid;
    tag.timestamp = uint64_t(ctx.now);
    tag.id = id;
    tag.value = value;
    tag.issued_to = ctx.requester.address();
    if (tag.sign(ctx.self)) nc.tags.push_back(std::move(tag));
  }
}

std::vector<IpPool> parse_pools(const json& pools) {
  std::vector<IpPool> out;
  if (!pools.is_array()) return out;
  for (const json& p : pools) {
    auto s = parse_ip(json_str(p, "ipRangeStart")), e = parse_ip(json_str(p, "ipRangeEnd"));
    if (s && e) out.push_back({*s, *e});
  }
  return out;
}

}  // namespace

// ---- steps 7–9 --------------------------------------------------------------------------------

bool authorize_member(json& member, const json& network, const Dictionary& meta, int64_t now) {
  if (json_bool(member, "authorized", false)) return true;
  std::string type;
  json credential = nullptr;
  if (!json_bool(network, "private", true)) {
    type = "public";
  } else if (auto token = valid_auth_token(network, meta, now)) {
    type = "token";
    credential = *token;
  } else {
    return false;
  }
  member["authorized"] = true;
  member["lastAuthorizedTime"] = now;
  member["lastAuthorizedCredentialType"] = type;
  member["lastAuthorizedCredential"] = credential;
  return true;
}

Dictionary sso_error_info(const SsoInfo& sso) {
  Dictionary info;
  if (sso.version == 0) {
    info.set_u64("aV", 0);
    info.set_string("aU", sso.authentication_url);
  } else {
    info.set_u64("aV", 1);
    info.set_string("iU", sso.issuer_url);
    info.set_string("aCU", sso.central_url);
    info.set_string("aN", sso.nonce);
    info.set_string("aS", sso.state);
    info.set_string("aCID", sso.client_id);
  }
  return info;
}

void record_client_version(json& member, const Dictionary& meta) {
  member["vMajor"] = int64_t(meta.get_u64("majv", 0));
  member["vMinor"] = int64_t(meta.get_u64("minv", 0));
  member["vRev"] = int64_t(meta.get_u64("revv", 0));
  member["vProto"] = int64_t(meta.get_u64("pv", 0));
}

std::set<InetAddress> assigned_ips(const std::vector<json>& all_members) {
  std::set<InetAddress> out;
  for (const json& other : all_members) {
    const json& ips = field(other, "ipAssignments");
    if (!ips.is_array()) continue;
    for (const json& s : ips)
      if (s.is_string())
        if (auto ip = parse_ip(s.get_ref<const std::string&>())) out.insert(*ip);
  }
  return out;
}

// ---- steps 10–14 -----------------------------------------------------------------------------

OtherMembers other_members_from(const std::vector<json>& all_members) {
  OtherMembers o;
  for (const json& m : all_members)
    if (json_bool(m, "activeBridge", false))
      if (auto a = record_address(m)) o.active_bridges.push_back(*a);
  o.assigned_ips = [&all_members] { return assigned_ips(all_members); };
  return o;
}

NetworkConfig build_config(const ConfigContext& ctx, const json& network, json& member, bool is_new,
                           const std::vector<json>& all_members, const SsoInfo* sso, const RandomFn& random) {
  return build_config(ctx, network, member, is_new, other_members_from(all_members), sso, random);
}

NetworkConfig build_config(const ConfigContext& ctx, const json& network, json& member, bool is_new,
                           const OtherMembers& others, const SsoInfo* sso, const RandomFn& random) {
  NetworkConfig nc;
  build_basics(nc, ctx, network, member, sso);
  add_active_bridges(nc, ctx, member, others.active_bridges);
  build_rules(nc, ctx, network, member, is_new);
  build_routes(nc, network);
  build_static_ips(nc, ctx, network, member, others.assigned_ips, random);
  build_dns(nc, network);
  return nc;
}

void build_basics(NetworkConfig& nc, const ConfigContext& ctx, const json& network, const json& member,
                  const SsoInfo* sso) {
  nc.nwid = ctx.nwid;
  nc.type = json_bool(network, "private", true) ? NetworkConfig::kTypePrivate : NetworkConfig::kTypePublic;
  nc.timestamp = uint64_t(ctx.now);
  nc.issued_to = ctx.requester.address();
  int64_t ctmd = kCtmdDefault;
  if (field(network, "certificateTimeoutWindowSize").is_number())
    ctmd = json_i64(network, "certificateTimeoutWindowSize", kCtmdDefault);
  nc.credential_time_max_delta = uint64_t(std::clamp(ctmd, kCtmdMin, kCtmdMax));
  nc.revision = json_u64(network, "revision", 0);
  nc.flags = json_bool(network, "enableBroadcast", true) ? NetworkConfig::kFlagEnableBroadcast : 0;
  nc.name = json_str(network, "name");
  if (nc.name.size() > NetworkConfig::kMaxNameLength) nc.name.resize(NetworkConfig::kMaxNameLength);
  nc.mtu = std::clamp<uint64_t>(json_u64(network, "mtu", NetworkConfig::kDefaultMtu), NetworkConfig::kMinMtu,
                                NetworkConfig::kMaxMtu);
  nc.multicast_limit = json_u64(network, "multicastLimit", 32);
  if (sso) {
    nc.sso_enabled = true;
    nc.sso_version = sso->version;
    nc.authentication_expiry_time = json_i64(member, "authenticationExpiryTime", 0);
    nc.authentication_url = sso->authentication_url;
    nc.issuer_url = sso->issuer_url;
    nc.central_endpoint_url = sso->central_url;
    nc.sso_nonce = sso->nonce;
    nc.sso_state = sso->state;
    nc.sso_client_id = sso->client_id;
  }
  // The member's own trace target wins; its level goes with it.
  if (auto t = hex10(json_str(member, "remoteTraceTarget"))) {
    nc.remote_trace_target = *t;
    nc.remote_trace_level = json_u64(member, "remoteTraceLevel", 0);
  } else {
    nc.remote_trace_target = hex10(json_str(network, "remoteTraceTarget")).value_or(0);
    nc.remote_trace_level = json_u64(network, "remoteTraceLevel", 0);
  }
}

void add_active_bridges(NetworkConfig& nc, const ConfigContext& ctx, const json& member,
                        const std::vector<json>& all_members) {
  add_active_bridges(nc, ctx, member, other_members_from(all_members).active_bridges);
}

void add_active_bridges(NetworkConfig& nc, const ConfigContext& ctx, const json& member,
                        const std::vector<Address>& stored_bridges) {
  const Address addr = ctx.requester.address();
  std::vector<Address> bridges;
  // The in-flight version of the requester decides for it, not its stored record.
  for (Address b : stored_bridges)
    if (b != addr) bridges.push_back(b);
  if (json_bool(member, "activeBridge", false)) bridges.push_back(addr);
  std::sort(bridges.begin(), bridges.end());
  bridges.erase(std::unique(bridges.begin(), bridges.end()), bridges.end());
  for (Address b : bridges) nc.specialists.push_back(b | NetworkConfig::kSpecialistActiveBridge);
}

void build_rules(NetworkConfig& nc, const ConfigContext& ctx, const json& network, json& member, bool is_new) {
  if (ctx.meta.get_u64("revr", 0) == 0) {
    // A node without a rules engine gets plain ACCEPT, and no credentials it cannot use.
    nc.rules = {proto::Rule::accept()};
    return;
  }
  nc.rules = parse_rules(field(network, "rules"), NetworkConfig::kMaxRules);
  build_capabilities(nc, ctx, network, member, is_new);
  build_tags(nc, ctx, network, member);
}

void build_routes(NetworkConfig& nc, const json& network) {
  const json& routes = field(network, "routes");
  if (!routes.is_array()) return;
  for (const json& r : routes) {
    if (nc.routes.size() >= NetworkConfig::kMaxRoutes) break;
    if (!r.is_object()) continue;
    auto target = parse_cidr(json_str(r, "target"));
    if (!target) continue;
    proto::NetworkRoute route;
    route.target = *target;
    if (auto via = parse_ip(json_str(r, "via")); via && via->family() == target->family()) route.via = *via;
    nc.routes.push_back(route);
  }
}

void build_static_ips(NetworkConfig& nc, const ConfigContext& ctx, const json& network, json& member,
                      const std::set<InetAddress>& assigned, const RandomFn& random) {
  build_static_ips(nc, ctx, network, member, [&assigned] { return assigned; }, random);
}

void build_static_ips(NetworkConfig& nc, const ConfigContext& ctx, const json& network, json& member,
                      const std::function<std::set<InetAddress>()>& assigned, const RandomFn& random) {
  const Address addr = ctx.requester.address();
  const bool no_auto = json_bool(member, "noAutoAssignIps", false);
  const json& v6mode = field(network, "v6AssignMode");
  const json& v4mode = field(network, "v4AssignMode");
  auto add_ip = [&](const InetAddress& ip) {
    if (nc.static_ips.size() < NetworkConfig::kMaxStaticIps) nc.static_ips.push_back(ip);
  };
  // a. RFC4193 / 6PLANE: computed, never stored in the record.
  if (!no_auto) {
    auto v6 = v6_mode_addresses(ctx.nwid, addr, json_bool(v6mode, "rfc4193", false), json_bool(v6mode, "6plane", false));
    for (const auto& ip : v6) add_ip(ip);
    if (!v6.empty()) nc.flags |= NetworkConfig::kFlagNdpEmulation;
  }
  // b. The member's own list, in stored order.
  bool have_v4 = false, have_v6 = false;
  json& ip_assignments = ensure_array(member, "ipAssignments");
  std::set<InetAddress> own;  // the member's own IPs count as taken even if not stored yet
  for (const json& s : ip_assignments) {
    if (!s.is_string()) continue;
    auto ip = parse_ip(s.get_ref<const std::string&>());
    if (!ip) continue;
    own.insert(*ip);
    unsigned best = largest_route_prefix(nc.routes, *ip);
    if (best == 0) continue;  // outside every route: kept in the record, not in the config
    InetAddress with = *ip;
    with.set_port(uint16_t(best));
    add_ip(with);
    (ip->is_v4() ? have_v4 : have_v6) = true;
  }
  if (no_auto) return;
  // c, d. The pools, IPv6 first (the order of `I` is also the COO's). The other members' IPs
  // are fetched only if a pool has to assign (a steady-state request costs no member scan).
  const bool want_v6 = json_bool(v6mode, "zt", false) && !have_v6;
  const bool want_v4 = json_bool(v4mode, "zt", false) && !have_v4;
  if (!want_v6 && !want_v4) return;
  std::set<InetAddress> taken = assigned ? assigned() : std::set<InetAddress>{};
  taken.insert(own.begin(), own.end());
  const std::vector<IpPool> pools = parse_pools(field(network, "ipAssignmentPools"));
  auto take = [&](const std::optional<InetAddress>& got) {
    if (!got) return;
    InetAddress plain = *got;
    plain.set_port(0);
    ip_assignments.push_back(plain.ip_string());
    taken.insert(plain);
    add_ip(*got);
  };
  if (want_v6) take(assign_v6_from_pools(pools, addr, nc.routes, taken, random));
  if (want_v4) take(assign_v4_from_pools(pools, addr, nc.routes, taken));
}

void build_dns(NetworkConfig& nc, const json& network) {
  const json& d = field(network, "dns");
  if (!d.is_object()) return;
  nc.dns.domain = json_str(d, "domain");
  if (nc.dns.domain.size() > 127) nc.dns.domain.resize(127);
  const json& servers = field(d, "servers");
  if (!servers.is_array()) return;
  size_t n = 0;
  for (const json& s : servers) {
    if (n++ >= proto::NetworkDns::kMaxServers) break;
    if (!s.is_string()) continue;
    if (auto ip = parse_ip(s.get_ref<const std::string&>())) nc.dns.servers.push_back(*ip);
  }
}

// ---- step 15 ---------------------------------------------------------------------------------

bool issue_credentials(NetworkConfig& nc, const ConfigContext& ctx) {
  const Address addr = ctx.requester.address();
  if (!nc.static_ips.empty()) {
    proto::CertificateOfOwnership coo;
    coo.nwid = ctx.nwid;
    coo.timestamp = uint64_t(ctx.now);
    coo.flags = 0;
    coo.id = 1;
    coo.issued_to = addr;
    for (const auto& ip : nc.static_ips) coo.add_ip(ip);  // stops at 16
    if (coo.sign(ctx.self)) nc.certificates_of_ownership.push_back(std::move(coo));
  }
  auto com = proto::CertificateOfMembership::make(uint64_t(ctx.now), nc.credential_time_max_delta, ctx.nwid,
                                                  ctx.requester);
  if (!com.sign(ctx.self)) return false;
  nc.com = std::move(com);
  return true;
}

}  // namespace zt::controller
