// §10.2 JSON records and §10.3 JSON rules. See objects.hpp for the contract.
#include "controller/objects.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <map>
#include <set>

#include "base/hex.hpp"
#include "proto/vl2.hpp"

namespace zt::controller {

using proto::InetAddress;

namespace {

// ---- field readers with errors ------------------------------------------------------------

Error field_error(const std::string& where, const std::string& what) { return err(where + ": " + what); }

// Non-negative integer ≤ max: a JSON integer, or a string of decimal digits (the reference
// accepts both for integer fields). Absent or null → dflt.
Result<uint64_t> read_uint(const json& j, const char* key, uint64_t max, uint64_t dflt,
                           const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return dflt;
  uint64_t v = 0;
  if (it->is_number_unsigned()) {
    v = it->get<uint64_t>();
  } else if (it->is_number_integer()) {
    int64_t s = it->get<int64_t>();
    if (s < 0) return field_error(where + "." + key, "must not be negative");
    v = uint64_t(s);
  } else if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    if (s.empty() || s.size() > 20 || s.find_first_not_of("0123456789") != std::string::npos)
      return field_error(where + "." + key, "expected an integer");
    errno = 0;
    unsigned long long x = std::strtoull(s.c_str(), nullptr, 10);
    if (errno) return field_error(where + "." + key, "integer out of range");
    v = x;
  } else {
    return field_error(where + "." + key, "expected an integer");
  }
  if (v > max) return field_error(where + "." + key, "must be at most " + std::to_string(max));
  return v;
}

Result<bool> read_bool(const json& j, const char* key, bool dflt, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return dflt;
  if (!it->is_boolean()) return field_error(where + "." + key, "expected true or false");
  return it->get<bool>();
}

// remoteTraceTarget (networks and members alike): a 10-digit hex address, stored in lower
// case, or null / "" for none.
Result<json> read_trace_target(const json& v) {
  if (v.is_null() || (v.is_string() && v.get_ref<const std::string&>().empty())) return json(nullptr);
  if (v.is_string() && v.get_ref<const std::string&>().size() == 10 && parse_hex_u64(v.get_ref<const std::string&>())) {
    std::string s = v.get<std::string>();
    std::transform(s.begin(), s.end(), s.begin(), ::tolower);
    return json(s);
  }
  return err("remoteTraceTarget: expected a 10-digit hex address or null");
}

#define ZT_TRY(var, expr)                        \
  auto var##_r = (expr);                         \
  if (!var##_r) return var##_r.take_error();     \
  auto var = *var##_r

}  // namespace

// ---- small parsers ------------------------------------------------------------------------

std::optional<InetAddress> parse_ip(std::string_view s) {
  auto slash = s.find('/');
  std::string host(s.substr(0, slash));
  if (slash != std::string_view::npos) {
    std::string_view b = s.substr(slash + 1);
    if (b.empty() || b.size() > 3 || b.find_first_not_of("0123456789") != std::string_view::npos)
      return std::nullopt;
  }
  uint8_t buf[16];
  if (inet_pton(AF_INET, host.c_str(), buf) == 1) return InetAddress::v4(buf, 0);
  if (inet_pton(AF_INET6, host.c_str(), buf) == 1) return InetAddress::v6(buf, 0);
  return std::nullopt;
}

std::optional<InetAddress> parse_cidr(std::string_view s) {
  auto slash = s.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto ip = parse_ip(s.substr(0, slash));
  std::string_view b = s.substr(slash + 1);
  if (!ip || b.empty() || b.size() > 3 || b.find_first_not_of("0123456789") != std::string_view::npos)
    return std::nullopt;
  unsigned bits = unsigned(std::stoul(std::string(b)));
  if (bits > (ip->is_v4() ? 32u : 128u)) return std::nullopt;
  ip->set_port(uint16_t(bits));
  return ip;
}

std::optional<proto::Address> parse_address(std::string_view s) {
  if (s.size() != 10) return std::nullopt;
  auto v = parse_hex_u64(s);
  if (!v || proto::address_reserved(*v)) return std::nullopt;
  return *v;
}

bool json_bool(const json& o, const char* key, bool dflt) {
  auto it = o.find(key);
  return it != o.end() && it->is_boolean() ? it->get<bool>() : dflt;
}

uint64_t json_u64(const json& o, const char* key, uint64_t dflt) {
  auto it = o.find(key);
  if (it == o.end()) return dflt;
  if (it->is_number_unsigned()) return it->get<uint64_t>();
  if (it->is_number_integer()) return uint64_t(it->get<int64_t>());
  if (it->is_number_float()) return uint64_t(it->get<double>());
  return dflt;
}

int64_t json_i64(const json& o, const char* key, int64_t dflt) {
  auto it = o.find(key);
  if (it == o.end()) return dflt;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_number_float()) return int64_t(it->get<double>());
  return dflt;
}

std::string json_str(const json& o, const char* key, const std::string& dflt) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : dflt;
}

// ---- defaults -----------------------------------------------------------------------------

json default_rules() { return json::array({{{"not", false}, {"or", false}, {"type", "ACTION_ACCEPT"}}}); }

void init_network(json& n, uint64_t nwid, int64_t now, bool reset_trace_level) {
  if (!n.is_object()) n = json::object();
  auto dflt = [&](const char* k, json v) {
    if (!n.contains(k)) n[k] = std::move(v);
  };
  std::string id = proto::network_id_to_string(nwid);
  n["id"] = id;
  n["nwid"] = id;
  n["objtype"] = "network";
  dflt("name", "");
  dflt("private", true);
  dflt("enableBroadcast", true);
  dflt("multicastLimit", 32);
  dflt("mtu", 2800);
  dflt("creationTime", now);
  dflt("revision", 0);
  dflt("v4AssignMode", {{"zt", false}});
  dflt("v6AssignMode", {{"rfc4193", false}, {"zt", false}, {"6plane", false}});
  dflt("routes", json::array());
  dflt("ipAssignmentPools", json::array());
  dflt("rules", default_rules());
  dflt("capabilities", json::array());
  dflt("tags", json::array());
  dflt("authTokens", json::array({nullptr}));  // the reference's (odd) default, §10.2
  dflt("remoteTraceTarget", nullptr);
  dflt("dns", json::array());
  dflt("rulesSource", "");
  dflt("ssoEnabled", false);
  dflt("clientId", "");
  dflt("authorizationEndpoint", "");
  if (reset_trace_level || !n.contains("remoteTraceLevel")) n["remoteTraceLevel"] = 0;
}

void init_member(json& m, uint64_t nwid, proto::Address a, int64_t now, bool reset_trace_level) {
  if (!m.is_object()) m = json::object();
  auto dflt = [&](const char* k, json v) {
    if (!m.contains(k)) m[k] = std::move(v);
  };
  std::string addr = proto::address_to_string(a);
  m["id"] = addr;
  m["address"] = addr;
  m["nwid"] = proto::network_id_to_string(nwid);
  m["objtype"] = "member";
  dflt("authorized", false);
  dflt("activeBridge", false);
  dflt("noAutoAssignIps", false);
  dflt("ipAssignments", json::array());
  dflt("tags", json::array());
  dflt("capabilities", json::array());
  dflt("remoteTraceTarget", nullptr);
  dflt("authenticationExpiryTime", 0);
  dflt("ssoExempt", false);
  dflt("creationTime", now);
  dflt("revision", 0);
  dflt("lastAuthorizedTime", 0);
  dflt("lastDeauthorizedTime", 0);
  dflt("lastAuthorizedCredentialType", nullptr);
  dflt("lastAuthorizedCredential", nullptr);
  dflt("vMajor", -1);
  dflt("vMinor", -1);
  dflt("vRev", -1);
  dflt("vProto", -1);
  if (reset_trace_level || !m.contains("remoteTraceLevel")) m["remoteTraceLevel"] = 0;
}

// ---- API writes ---------------------------------------------------------------------------

namespace {

Result<json> parse_rules_array(const json& v, const std::string& where, size_t max) {
  if (!v.is_array()) return err(where + ": expected an array of rule objects");
  if (v.size() > max) return err(where + ": at most " + std::to_string(max) + " rules");
  json out = json::array();
  for (size_t i = 0; i < v.size(); ++i) {
    auto r = rule_from_json(v[i]);
    if (!r) return err(where + "[" + std::to_string(i) + "]: " + r.error());
    out.push_back(rule_to_json(*r));
  }
  return out;
}

// v4AssignMode: an object {"zt":bool}, or the legacy string form; merged into `current`.
Result<json> merge_v4_assign_mode(const json& current, const json& v) {
  json cur = current.is_object() ? current : json{{"zt", false}};
  if (v.is_string()) {  // legacy form
    cur["zt"] = v.get_ref<const std::string&>().find("zt") != std::string::npos;
  } else if (v.is_object()) {
    if (v.contains("zt")) {
      if (!v["zt"].is_boolean()) return err("v4AssignMode.zt: expected true or false");
      cur["zt"] = v["zt"];
    }
  } else {
    return err("v4AssignMode: expected an object like {\"zt\":true}");
  }
  return cur;
}

// v6AssignMode: an object of rfc4193/zt/6plane flags, or the legacy comma-separated string.
Result<json> merge_v6_assign_mode(const json& current, const json& v) {
  json cur = current.is_object() ? current : json{{"rfc4193", false}, {"zt", false}, {"6plane", false}};
  if (v.is_string()) {  // legacy comma-separated form, e.g. "rfc4193,zt"
    cur = {{"rfc4193", false}, {"zt", false}, {"6plane", false}};
    std::string s = v.get<std::string>();
    size_t at = 0;
    while (at <= s.size()) {
      size_t comma = s.find(',', at);
      std::string word = s.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
      if (word == "rfc4193" || word == "zt" || word == "6plane") cur[word] = true;
      if (comma == std::string::npos) break;
      at = comma + 1;
    }
  } else if (v.is_object()) {
    for (const char* k : {"rfc4193", "zt", "6plane"}) {
      if (!v.contains(k)) continue;
      if (!v[k].is_boolean()) return err(std::string("v6AssignMode.") + k + ": expected true or false");
      cur[k] = v[k];
    }
  } else {
    return err("v6AssignMode: expected an object like {\"rfc4193\":true,\"zt\":false,\"6plane\":false}");
  }
  return cur;
}

// routes: at most 128 {"target":"ip/bits","via":ip|null}, normalized.
Result<json> read_routes(const json& v) {
  if (!v.is_array()) return err("routes: expected an array");
  if (v.size() > 128) return err("routes: at most 128 routes");
  json routes = json::array();
  for (size_t i = 0; i < v.size(); ++i) {
    std::string w = "routes[" + std::to_string(i) + "]";
    if (!v[i].is_object()) return err(w + ": expected an object {\"target\":\"ip/bits\",\"via\":ip|null}");
    auto t = v[i].find("target");
    if (t == v[i].end() || !t->is_string()) return err(w + ".target: expected \"ip/bits\"");
    auto target = parse_cidr(t->get_ref<const std::string&>());
    if (!target) return err(w + ".target: '" + t->get<std::string>() + "' is not an ip/bits network");
    json via = nullptr;
    auto vi = v[i].find("via");
    if (vi != v[i].end() && !vi->is_null()) {
      if (!vi->is_string()) return err(w + ".via: expected an IP string or null");
      if (!vi->get_ref<const std::string&>().empty()) {
        auto gw = parse_ip(vi->get_ref<const std::string&>());
        if (!gw) return err(w + ".via: '" + vi->get<std::string>() + "' is not an IP address");
        if (gw->family() != target->family()) return err(w + ".via: address family differs from the target's");
        via = gw->ip_string();
      }
    }
    routes.push_back({{"target", target->to_string()}, {"via", via}});
  }
  return routes;
}

// ipAssignmentPools: {"ipRangeStart":ip,"ipRangeEnd":ip} of one family each, normalized.
Result<json> read_pools(const json& v) {
  if (!v.is_array()) return err("ipAssignmentPools: expected an array");
  json pools = json::array();
  for (size_t i = 0; i < v.size(); ++i) {
    std::string w = "ipAssignmentPools[" + std::to_string(i) + "]";
    if (!v[i].is_object()) return err(w + ": expected an object {\"ipRangeStart\":ip,\"ipRangeEnd\":ip}");
    std::optional<InetAddress> ends[2];
    const char* keys[2] = {"ipRangeStart", "ipRangeEnd"};
    for (int e = 0; e < 2; ++e) {
      auto it = v[i].find(keys[e]);
      if (it == v[i].end() || !it->is_string()) return err(w + "." + keys[e] + ": expected an IP string");
      ends[e] = parse_ip(it->get_ref<const std::string&>());
      if (!ends[e]) return err(w + "." + keys[e] + ": '" + it->get<std::string>() + "' is not an IP address");
    }
    if (ends[0]->family() != ends[1]->family()) return err(w + ": start and end are of different families");
    pools.push_back({{"ipRangeStart", ends[0]->ip_string()}, {"ipRangeEnd", ends[1]->ip_string()}});
  }
  return pools;
}

// capabilities: {"id","default","rules"} objects, sorted by id (a repeated id: the last wins).
Result<json> read_capabilities(const json& v) {
  if (!v.is_array()) return err("capabilities: expected an array");
  std::map<uint64_t, json> caps;
  for (size_t i = 0; i < v.size(); ++i) {
    std::string w = "capabilities[" + std::to_string(i) + "]";
    if (!v[i].is_object()) return err(w + ": expected an object {\"id\":n,\"default\":bool,\"rules\":[...]}");
    if (!v[i].contains("id")) return err(w + ".id: missing");
    ZT_TRY(id, read_uint(v[i], "id", 0xffffffffu, 0, w));
    ZT_TRY(dflt, read_bool(v[i], "default", false, w));
    json rules = json::array();
    if (v[i].contains("rules")) {
      ZT_TRY(rr, parse_rules_array(v[i]["rules"], w + ".rules", proto::kMaxCapabilityRules));
      rules = rr;
    }
    caps[id] = {{"id", id}, {"default", dflt}, {"rules", rules}};
  }
  json arr = json::array();
  for (auto& [id, c] : caps) arr.push_back(c);
  return arr;
}

// tags: {"id","default":n|null} objects, sorted by id.
Result<json> read_tags(const json& v) {
  if (!v.is_array()) return err("tags: expected an array");
  std::map<uint64_t, json> tags;
  for (size_t i = 0; i < v.size(); ++i) {
    std::string w = "tags[" + std::to_string(i) + "]";
    if (!v[i].is_object()) return err(w + ": expected an object {\"id\":n,\"default\":n|null}");
    if (!v[i].contains("id")) return err(w + ".id: missing");
    ZT_TRY(id, read_uint(v[i], "id", 0xffffffffu, 0, w));
    json dflt = nullptr;
    if (v[i].contains("default") && !v[i]["default"].is_null()) {
      ZT_TRY(d, read_uint(v[i], "default", 0xffffffffu, 0, w));
      dflt = d;
    }
    tags[id] = {{"id", id}, {"default", dflt}};
  }
  json arr = json::array();
  for (auto& [id, t] : tags) arr.push_back(t);
  return arr;
}

// authTokens: {"token": expiry-ms (0 = never)}; null or [null...] = none.
Result<json> read_auth_tokens(const json& v) {
  bool all_null = v.is_array() && std::all_of(v.begin(), v.end(), [](const json& x) { return x.is_null(); });
  if (v.is_null() || all_null) {
    // "No tokens", in the reference's own default form (what its GET returns).
    return json::array({nullptr});
  } else if (!v.is_object()) {
    return err("authTokens: expected an object {\"token\": expiry-ms (0 = never)}");
  } else {
    json toks = json::object();
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (!(it->is_number_unsigned() || (it->is_number_integer() && it->get<int64_t>() >= 0)))
        return err("authTokens." + it.key() + ": expected a non-negative integer (expiry ms, 0 = never)");
      toks[it.key()] = *it;
    }
    return toks;
  }
}

// dns: {"domain":string (≤ 127 bytes),"servers":[ip,...]}; null or [] = none.
Result<json> read_dns(const json& v) {
  if (v.is_null() || (v.is_array() && v.empty())) {
    return json::array();
  } else if (!v.is_object()) {
    return err("dns: expected an object {\"domain\":string,\"servers\":[ip,...]}");
  } else {
    json d = {{"domain", ""}, {"servers", json::array()}};
    if (v.contains("domain")) {
      if (!v["domain"].is_string()) return err("dns.domain: expected a string");
      if (v["domain"].get_ref<const std::string&>().size() > 127) return err("dns.domain: at most 127 bytes");
      d["domain"] = v["domain"];
    }
    if (v.contains("servers")) {
      if (!v["servers"].is_array()) return err("dns.servers: expected an array of IP strings");
      for (size_t i = 0; i < v["servers"].size(); ++i) {
        const json& s = v["servers"][i];
        std::string w = "dns.servers[" + std::to_string(i) + "]";
        if (!s.is_string()) return err(w + ": expected an IP string");
        auto ip = parse_ip(s.get_ref<const std::string&>());
        if (!ip) return err(w + ": '" + s.get<std::string>() + "' is not an IP address");
        d["servers"].push_back(ip->ip_string());
      }
    }
    return d;
  }
}

}  // namespace

Status apply_network_update(json& n, const json& body) {
  if (!body.is_object()) return err("body: expected a JSON object");
  json out = n;
  auto has = [&](const char* k) { return body.contains(k); };

  if (has("name")) {
    if (!body["name"].is_string()) return err("name: expected a string");
    out["name"] = body["name"];
  }
  for (const char* k : {"private", "enableBroadcast"}) {
    if (!has(k)) continue;
    if (!body[k].is_boolean()) return err(std::string(k) + ": expected true or false");
    out[k] = body[k];
  }
  if (has("multicastLimit")) {
    ZT_TRY(v, read_uint(body, "multicastLimit", 0xffffffffu, 32, "network"));
    out["multicastLimit"] = v;
  }
  if (has("mtu")) {
    ZT_TRY(v, read_uint(body, "mtu", UINT64_MAX, 2800, "network"));
    out["mtu"] = std::clamp<uint64_t>(v, 1280, 10000);
  }
  if (has("remoteTraceLevel")) {
    ZT_TRY(v, read_uint(body, "remoteTraceLevel", 0xffffffffu, 0, "network"));
    out["remoteTraceLevel"] = v;
  }
  if (has("remoteTraceTarget")) {
    ZT_TRY(t, read_trace_target(body["remoteTraceTarget"]));
    out["remoteTraceTarget"] = t;
  }
  if (has("v4AssignMode")) {
    ZT_TRY(mode, merge_v4_assign_mode(out["v4AssignMode"], body["v4AssignMode"]));
    out["v4AssignMode"] = mode;
  }
  if (has("v6AssignMode")) {
    ZT_TRY(mode, merge_v6_assign_mode(out["v6AssignMode"], body["v6AssignMode"]));
    out["v6AssignMode"] = mode;
  }
  if (has("routes")) {
    ZT_TRY(routes, read_routes(body["routes"]));
    out["routes"] = routes;
  }
  if (has("ipAssignmentPools")) {
    ZT_TRY(pools, read_pools(body["ipAssignmentPools"]));
    out["ipAssignmentPools"] = pools;
  }
  if (has("rules")) {
    ZT_TRY(rules, parse_rules_array(body["rules"], "rules", proto::kMaxNetworkRules));
    out["rules"] = rules;
  }
  if (has("capabilities")) {
    ZT_TRY(caps, read_capabilities(body["capabilities"]));
    out["capabilities"] = caps;
  }
  if (has("tags")) {
    ZT_TRY(tags, read_tags(body["tags"]));
    out["tags"] = tags;
  }
  if (has("authTokens")) {
    ZT_TRY(tokens, read_auth_tokens(body["authTokens"]));
    out["authTokens"] = tokens;
  }
  if (has("dns")) {
    ZT_TRY(dns, read_dns(body["dns"]));
    out["dns"] = dns;
  }
  n = std::move(out);
  return ok_status();
}

Result<MemberUpdate> apply_member_update(json& m, const json& body, int64_t now) {
  if (!body.is_object()) return err("body: expected a JSON object");
  json out = m;
  MemberUpdate u;
  auto has = [&](const char* k) { return body.contains(k); };

  for (const char* k : {"activeBridge", "noAutoAssignIps"}) {
    if (!has(k)) continue;
    if (!body[k].is_boolean()) return err(std::string(k) + ": expected true or false");
    out[k] = body[k];
  }
  if (has("name")) {
    if (!body["name"].is_string()) return err("name: expected a string");
    out["name"] = body["name"];
  }
  if (has("authenticationExpiryTime")) {
    const json& v = body["authenticationExpiryTime"];
    if (!v.is_number_integer()) return err("authenticationExpiryTime: expected an integer (ms)");
    out["authenticationExpiryTime"] = v;
  }
  if (has("remoteTraceLevel")) {
    ZT_TRY(v, read_uint(body, "remoteTraceLevel", 0xffffffffu, 0, "member"));
    out["remoteTraceLevel"] = v;
  }
  if (has("remoteTraceTarget")) {
    ZT_TRY(t, read_trace_target(body["remoteTraceTarget"]));
    out["remoteTraceTarget"] = t;
  }
  if (has("ipAssignments")) {
    const json& v = body["ipAssignments"];
    if (!v.is_array()) return err("ipAssignments: expected an array of IP strings");
    json ips = json::array();
    std::set<InetAddress> seen;
    for (size_t i = 0; i < v.size(); ++i) {
      std::string w = "ipAssignments[" + std::to_string(i) + "]";
      if (!v[i].is_string()) return err(w + ": expected an IP string");
      auto ip = parse_ip(v[i].get_ref<const std::string&>());
      if (!ip) return err(w + ": '" + v[i].get<std::string>() + "' is not an IP address");
      if (seen.insert(*ip).second) ips.push_back(ip->ip_string());
    }
    out["ipAssignments"] = ips;
  }
  if (has("tags")) {
    const json& v = body["tags"];
    if (!v.is_array()) return err("tags: expected an array of [id, value] pairs");
    std::map<uint64_t, uint64_t> tags;
    for (size_t i = 0; i < v.size(); ++i) {
      std::string w = "tags[" + std::to_string(i) + "]";
      if (!v[i].is_array() || v[i].size() != 2) return err(w + ": expected [id, value]");
      json pair = {{"id", v[i][0]}, {"value", v[i][1]}};
      ZT_TRY(id, read_uint(pair, "id", 0xffffffffu, 0, w));
      ZT_TRY(value, read_uint(pair, "value", 0xffffffffu, 0, w));
      tags[id] = value;
    }
    json arr = json::array();
    for (auto [id, value] : tags) arr.push_back(json::array({id, value}));
    out["tags"] = arr;
  }
  if (has("capabilities")) {
    const json& v = body["capabilities"];
    if (!v.is_array()) return err("capabilities: expected an array of capability IDs");
    std::set<uint64_t> caps;
    for (size_t i = 0; i < v.size(); ++i) {
      json holder = {{"id", v[i]}};
      ZT_TRY(id, read_uint(holder, "id", 0xffffffffu, 0, "capabilities[" + std::to_string(i) + "]"));
      caps.insert(id);
    }
    out["capabilities"] = json(std::vector<uint64_t>(caps.begin(), caps.end()));
  }
  if (has("authorized")) {
    if (!body["authorized"].is_boolean()) return err("authorized: expected true or false");
    bool was = json_bool(m, "authorized", false);
    bool now_auth = body["authorized"].get<bool>();
    out["authorized"] = now_auth;
    if (was != now_auth) {
      u.authorized_changed = true;
      if (now_auth) {
        out["lastAuthorizedTime"] = now;
        out["lastAuthorizedCredentialType"] = "api";
        out["lastAuthorizedCredential"] = nullptr;
      } else {
        out["lastDeauthorizedTime"] = now;
        u.deauthorized = true;
      }
    }
  }
  m = std::move(out);
  return u;
}

}  // namespace zt::controller
