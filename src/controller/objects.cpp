// §10.2 JSON records and §10.3 JSON rules. See objects.hpp for the contract.
#include "controller/objects.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <map>
#include <set>

#include "base/hex.hpp"
#include "proto/rules_compiler.hpp"
#include "proto/vl2.hpp"

namespace zt::controller {

using proto::InetAddress;

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
  return it != o.end() ? json_lenient_bool(*it, dflt) : dflt;
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
//
// Read as zerotier-one's controller reads a POST body (PROTOCOL.md §10.2): booleans with
// json_lenient_bool; integers as numbers or decimal strings; a field of the wrong kind leaves
// the stored value as it is; bad entries of routes, pools, rules, capabilities, tags, IP
// assignments and DNS servers are dropped; a bad remoteTraceTarget becomes null.

namespace {

// At most this many entries are kept in any array (the reference's ZT_CONTROLLER_MAX_ARRAY_SIZE);
// the network config built from the record keeps fewer (config_builder.cpp).
constexpr size_t kMaxArray = 16384;

// An integer the reference's way (OSUtils::jsonInt): a number (negative integers and fractions
// as the C conversions make them), a string's leading decimal digits (none: 0), a boolean as
// 1/0; anything else → nullopt (the caller's default). Values above `max` → nullopt.
std::optional<uint64_t> lenient_uint(const json& v, uint64_t max) {
  uint64_t x = 0;
  if (v.is_number_unsigned()) {
    x = v.get<uint64_t>();
  } else if (v.is_number_integer()) {
    x = uint64_t(v.get<int64_t>());
  } else if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!(d >= 0.0 && d < 18446744073709551616.0)) return std::nullopt;
    x = uint64_t(d);
  } else if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    size_t n = 0;
    while (n < s.size() && n < 20 && s[n] >= '0' && s[n] <= '9') ++n;
    if (n == 0) {
      x = 0;
    } else {
      errno = 0;
      unsigned long long y = std::strtoull(s.substr(0, n).c_str(), nullptr, 10);
      if (errno) return std::nullopt;
      x = y;
    }
  } else if (v.is_boolean()) {
    x = v.get<bool>() ? 1 : 0;
  } else {
    return std::nullopt;
  }
  if (x > max) return std::nullopt;
  return x;
}

// A rules array: entries that do not parse are dropped (as the reference's _parseRule does).
json read_rules_lenient(const json& v, size_t max) {
  json out = json::array();
  for (const json& r : v) {
    if (out.size() >= max) break;
    auto rule = rule_from_json(r);
    if (rule) out.push_back(rule_to_json(*rule));
  }
  return out;
}

// v4AssignMode: an object {"zt":bool} (no "zt": false), or the legacy string form ("zt" → on).
// Anything else turns it off. The result replaces the stored value, as in the reference.
json read_v4_assign_mode(const json& v) {
  if (v.is_string()) return json{{"zt", v.get_ref<const std::string&>() == "zt"}};
  if (v.is_object()) return json{{"zt", json_lenient_bool(v.contains("zt") ? v["zt"] : json(), false)}};
  return json{{"zt", false}};
}

// v6AssignMode: an object of rfc4193/zt/6plane flags (an absent flag is off), or the legacy
// comma-separated string ("rfc4193,zt"). Anything else turns them all off. The reference writes
// only the flags the object names; this writes all three (an absent flag reads as off either way).
json read_v6_assign_mode(const json& v) {
  json cur = {{"rfc4193", false}, {"zt", false}, {"6plane", false}};
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    size_t at = 0;
    while (at <= s.size()) {
      size_t comma = s.find(',', at);
      std::string word = s.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
      if (word == "rfc4193" || word == "zt" || word == "6plane") cur[word] = true;
      if (comma == std::string::npos) break;
      at = comma + 1;
    }
  } else if (v.is_object()) {
    for (const char* k : {"rfc4193", "zt", "6plane"})
      if (v.contains(k)) cur[k] = json_lenient_bool(v[k], false);
  }
  return cur;
}

// routes: {"target":"ip/bits","via":ip|null}, normalized; an entry without a valid target is
// dropped; a via that is not an IP of the target's family becomes null.
json read_routes(const json& v) {
  json routes = json::array();
  for (const json& e : v) {
    if (routes.size() >= kMaxArray) break;
    if (!e.is_object()) continue;
    auto t = e.find("target");
    if (t == e.end() || !t->is_string()) continue;
    auto target = parse_cidr(t->get_ref<const std::string&>());
    if (!target) continue;
    json via = nullptr;
    auto vi = e.find("via");
    if (vi != e.end() && vi->is_string()) {
      auto gw = parse_ip(vi->get_ref<const std::string&>());
      if (gw && gw->family() == target->family()) via = gw->ip_string();
    }
    routes.push_back({{"target", target->to_string()}, {"via", via}});
  }
  return routes;
}

// ipAssignmentPools: {"ipRangeStart":ip,"ipRangeEnd":ip} of one family each, normalized; other
// entries are dropped.
json read_pools(const json& v) {
  json pools = json::array();
  for (const json& e : v) {
    if (pools.size() >= kMaxArray) break;
    if (!e.is_object()) continue;
    auto s = e.find("ipRangeStart"), t = e.find("ipRangeEnd");
    if (s == e.end() || t == e.end() || !s->is_string() || !t->is_string()) continue;
    auto start = parse_ip(s->get_ref<const std::string&>());
    auto end = parse_ip(t->get_ref<const std::string&>());
    if (!start || !end || start->family() != end->family()) continue;
    pools.push_back({{"ipRangeStart", start->ip_string()}, {"ipRangeEnd", end->ip_string()}});
  }
  return pools;
}

// capabilities: {"id","default","rules"} objects, sorted by id (a repeated id: the last wins).
// Non-objects and entries whose id is not a 32-bit integer are dropped; an absent id is 0.
json read_capabilities(const json& v) {
  std::map<uint64_t, json> caps;
  for (const json& e : v) {
    if (!e.is_object()) continue;
    auto id = e.contains("id") ? lenient_uint(e["id"], 0xffffffffu) : std::optional<uint64_t>(0);
    if (!id) continue;
    bool dflt = e.contains("default") && json_lenient_bool(e["default"], false);
    json rules = json::array();
    if (e.contains("rules") && e["rules"].is_array()) rules = read_rules_lenient(e["rules"], proto::kMaxCapabilityRules);
    caps[*id] = {{"id", *id}, {"default", dflt}, {"rules", rules}};
    if (caps.size() >= kMaxArray) break;
  }
  json arr = json::array();
  for (auto& [id, c] : caps) arr.push_back(c);
  return arr;
}

// tags: {"id","default":n|null} objects, sorted by id; bad entries dropped.
json read_tags(const json& v) {
  std::map<uint64_t, json> tags;
  for (const json& e : v) {
    if (!e.is_object()) continue;
    auto id = e.contains("id") ? lenient_uint(e["id"], 0xffffffffu) : std::optional<uint64_t>(0);
    if (!id) continue;
    json dflt = nullptr;
    if (e.contains("default") && !e["default"].is_null()) {
      auto d = lenient_uint(e["default"], 0xffffffffu);
      if (!d) continue;
      dflt = *d;
    }
    tags[*id] = {{"id", *id}, {"default", dflt}};
    if (tags.size() >= kMaxArray) break;
  }
  json arr = json::array();
  for (auto& [id, t] : tags) arr.push_back(t);
  return arr;
}

// authTokens: {"token": expiry-ms (0 = never)}; entries whose value is not a non-negative
// integer are dropped. Anything but an object means no tokens, in the reference's own
// default form [null].
json read_auth_tokens(const json& v) {
  if (!v.is_object()) return json::array({nullptr});
  json toks = json::object();
  for (auto it = v.begin(); it != v.end(); ++it)
    if (it->is_number_unsigned() || (it->is_number_integer() && it->get<int64_t>() >= 0)) toks[it.key()] = *it;
  return toks;
}

// dns: {"domain":string (≤ 127 bytes, else ""),"servers":[ip,...] (non-IPs dropped)}; null or
// [] = none. Other kinds: nullopt (the stored value stays).
std::optional<json> read_dns(const json& v) {
  if (v.is_null() || (v.is_array() && v.empty())) return json::array();
  if (!v.is_object()) return std::nullopt;
  json d = {{"domain", ""}, {"servers", json::array()}};
  if (auto dom = v.find("domain"); dom != v.end() && dom->is_string() && dom->get_ref<const std::string&>().size() <= 127)
    d["domain"] = *dom;
  if (auto srv = v.find("servers"); srv != v.end() && srv->is_array()) {
    for (const json& s : *srv) {
      if (d["servers"].size() >= kMaxArray) break;
      if (!s.is_string()) continue;
      if (auto ip = parse_ip(s.get_ref<const std::string&>())) d["servers"].push_back(ip->ip_string());
    }
  }
  return d;
}

// remoteTraceTarget: 10 hex digits (stored in lower case); anything else → null.
json read_trace_target(const json& v) {
  if (v.is_string() && v.get_ref<const std::string&>().size() == 10 && parse_hex_u64(v.get_ref<const std::string&>())) {
    std::string s = v.get<std::string>();
    std::transform(s.begin(), s.end(), s.begin(), ::tolower);
    return json(s);
  }
  return json(nullptr);
}

// A string field (OSUtils::jsonString): strings as is, numbers as decimal text, booleans "1"/"0",
// anything else "".
json read_string(const json& v) {
  if (v.is_string()) return v;
  if (v.is_boolean()) return v.get<bool>() ? "1" : "0";
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_integer()) return std::to_string(uint64_t(v.get<int64_t>()));
  if (v.is_number_float()) {
    auto x = lenient_uint(v, UINT64_MAX);
    return x ? std::to_string(*x) : std::string("0");
  }
  return "";
}

}  // namespace

Status apply_network_update(json& n, const json& body) {
  if (!body.is_object()) return err("body: expected a JSON object");
  json out = n;
  auto has = [&](const char* k) { return body.contains(k); };

  if (has("name")) out["name"] = read_string(body["name"]);
  // The reference's defaults when the value reads as neither: private true, broadcast false.
  if (has("private")) out["private"] = json_lenient_bool(body["private"], true);
  if (has("enableBroadcast")) out["enableBroadcast"] = json_lenient_bool(body["enableBroadcast"], false);
  if (has("multicastLimit")) out["multicastLimit"] = lenient_uint(body["multicastLimit"], 0xffffffffu).value_or(32);
  if (has("mtu")) {
    uint64_t v = lenient_uint(body["mtu"], UINT64_MAX).value_or(2800);
    out["mtu"] = std::clamp<uint64_t>(v, 1280, 10000);
  }
  if (has("remoteTraceLevel")) out["remoteTraceLevel"] = lenient_uint(body["remoteTraceLevel"], 0xffffffffu).value_or(0);
  if (has("remoteTraceTarget")) out["remoteTraceTarget"] = read_trace_target(body["remoteTraceTarget"]);
  if (has("v4AssignMode")) out["v4AssignMode"] = read_v4_assign_mode(body["v4AssignMode"]);
  if (has("v6AssignMode")) out["v6AssignMode"] = read_v6_assign_mode(body["v6AssignMode"]);
  // Arrays of another kind leave the stored value as it is (as in the reference).
  if (has("routes") && body["routes"].is_array()) out["routes"] = read_routes(body["routes"]);
  if (has("ipAssignmentPools") && body["ipAssignmentPools"].is_array())
    out["ipAssignmentPools"] = read_pools(body["ipAssignmentPools"]);
  if (has("rules") && body["rules"].is_array()) out["rules"] = read_rules_lenient(body["rules"], proto::kMaxNetworkRules);
  if (has("capabilities") && body["capabilities"].is_array()) out["capabilities"] = read_capabilities(body["capabilities"]);
  if (has("tags") && body["tags"].is_array()) out["tags"] = read_tags(body["tags"]);
  if (has("authTokens")) out["authTokens"] = read_auth_tokens(body["authTokens"]);
  // rulesSource (docs/RULES.md): compiled here; its rules, capabilities and tags replace the
  // stored ones (and any sent alongside) and the text is kept. A compile error is the error
  // "LINE:COL: message" and nothing changes. A blank text (what a GET of a network never given
  // one returns) is only stored: the rules stay.
  if (has("rulesSource") && body["rulesSource"].is_string() &&
      body["rulesSource"].get_ref<const std::string&>().find_first_not_of(" \t\r\n") == std::string::npos) {
    out["rulesSource"] = body["rulesSource"];
  } else if (has("rulesSource") && body["rulesSource"].is_string()) {
    const std::string& src = body["rulesSource"].get_ref<const std::string&>();
    json compiled;
    proto::RulesCompileError ce;
    if (!proto::compile_rules(src, compiled, ce)) return err(ce.to_string());
    const json& cfg = compiled["config"];
    if (cfg["rules"].size() > proto::kMaxNetworkRules)
      return err("rulesSource: more than " + std::to_string(proto::kMaxNetworkRules) + " rules");
    for (const json& c : cfg["capabilities"])
      if (c["rules"].size() > proto::kMaxCapabilityRules)
        return err("rulesSource: a capability with more than " + std::to_string(proto::kMaxCapabilityRules) +
                   " rules");
    out["rules"] = read_rules_lenient(cfg["rules"], proto::kMaxNetworkRules);
    out["capabilities"] = read_capabilities(cfg["capabilities"]);
    out["tags"] = read_tags(cfg["tags"]);
    out["rulesSource"] = src;
  }
  if (has("dns"))
    if (auto d = read_dns(body["dns"])) out["dns"] = *d;
  n = std::move(out);
  return ok_status();
}

Result<MemberUpdate> apply_member_update(json& m, const json& body, int64_t now) {
  if (!body.is_object()) return err("body: expected a JSON object");
  json out = m;
  MemberUpdate u;
  auto has = [&](const char* k) { return body.contains(k); };

  for (const char* k : {"activeBridge", "noAutoAssignIps"})
    if (has(k)) out[k] = json_lenient_bool(body[k], false);
  if (has("name")) out["name"] = read_string(body["name"]);
  if (has("authenticationExpiryTime")) {
    // Stored signed (ms); the reference's unsigned reading of a negative number is not kept.
    auto v = lenient_uint(body["authenticationExpiryTime"], uint64_t(INT64_MAX));
    out["authenticationExpiryTime"] = int64_t(v.value_or(0));
  }
  if (has("remoteTraceLevel")) out["remoteTraceLevel"] = lenient_uint(body["remoteTraceLevel"], 0xffffffffu).value_or(0);
  if (has("remoteTraceTarget")) out["remoteTraceTarget"] = read_trace_target(body["remoteTraceTarget"]);
  if (has("ipAssignments") && body["ipAssignments"].is_array()) {
    json ips = json::array();
    std::set<InetAddress> seen;
    for (const json& e : body["ipAssignments"]) {
      if (ips.size() >= kMaxArray) break;
      if (!e.is_string()) continue;
      auto ip = parse_ip(e.get_ref<const std::string&>());
      if (ip && seen.insert(*ip).second) ips.push_back(ip->ip_string());
    }
    out["ipAssignments"] = ips;
  }
  if (has("tags") && body["tags"].is_array()) {
    std::map<uint64_t, uint64_t> tags;
    for (const json& e : body["tags"]) {
      if (!e.is_array() || e.size() != 2) continue;
      auto id = lenient_uint(e[0], 0xffffffffu);
      auto value = lenient_uint(e[1], 0xffffffffu);
      if (id && value) tags[*id] = *value;
      if (tags.size() >= kMaxArray) break;
    }
    json arr = json::array();
    for (auto [id, value] : tags) arr.push_back(json::array({id, value}));
    out["tags"] = arr;
  }
  if (has("capabilities") && body["capabilities"].is_array()) {
    std::set<uint64_t> caps;
    for (const json& e : body["capabilities"]) {
      if (auto id = lenient_uint(e, 0xffffffffu)) caps.insert(*id);
      if (caps.size() >= kMaxArray) break;
    }
    out["capabilities"] = json(std::vector<uint64_t>(caps.begin(), caps.end()));
  }
  if (has("authorized")) {
    bool was = json_bool(m, "authorized", false);
    bool now_auth = json_lenient_bool(body["authorized"], false);
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
