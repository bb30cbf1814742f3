#include "service/local_api.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <exception>

#include "base/hex.hpp"
#include "base/version.hpp"
#include "crypto/crypto.hpp"
#include "proto/packet.hpp"

namespace zt::service {

namespace {

// Typed field reads for the cli's rendering of an API answer: a missing field, a field of
// another type or a non-object gives the default (json::value() would throw on those).
std::string str_at(const json& j, const char* key, const std::string& def) {
  if (!j.is_object()) return def;
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : def;
}

int64_t int_at(const json& j, const char* key, int64_t def) {
  if (!j.is_object()) return def;
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : def;
}

bool bool_at(const json& j, const char* key, bool def) {
  if (!j.is_object()) return def;
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() ? it->get<bool>() : def;
}

Response reply(int status, const json& body) {
  Response r;
  r.status = status;
  // Invalid UTF-8 (e.g. echoed from a path) becomes U+FFFD instead of a throw.
  r.body = body.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  return r;
}

Response error(int status, const std::string& message) { return reply(status, json{{"error", message}}); }

// Exactly `digits` hex digits (addresses: 10, network ids: 16); nullopt otherwise.
std::optional<uint64_t> parse_fixed_hex(std::string_view s, size_t digits) {
  if (s.size() != digits) return std::nullopt;
  return parse_hex_u64(s);
}

bool token_matches(const std::string& expected, const std::string& given) {
  if (expected.empty() || given.size() != expected.size()) return false;
  return crypto::ct_equal(expected.data(), given.data(), expected.size());
}

std::vector<std::string_view> split_path(std::string_view p) {
  std::vector<std::string_view> out;
  while (!p.empty()) {
    if (p.front() == '/') {
      p.remove_prefix(1);
      continue;
    }
    const size_t slash = p.find('/');
    out.push_back(p.substr(0, slash));
    p = slash == std::string_view::npos ? std::string_view() : p.substr(slash);
  }
  return out;
}

bool is_orbiting(Backend& b, uint64_t moon_id) {
  const auto moons = b.orbiting();
  return std::find(moons.begin(), moons.end(), moon_id) != moons.end();
}

// /moon and /moon/<id>
Response route_moon(Backend& b, const std::string& method, const std::vector<std::string_view>& seg) {
  if (seg.size() == 1) {
    if (method != "GET") return error(405, "use GET /moon, or POST/DELETE /moon/<id>");
    json arr = json::array();
    for (uint64_t id : b.orbiting()) arr.push_back(moon_json(id, b.moon_world(id)));
    return reply(200, arr);
  }
  if (seg.size() != 2) return error(404, "not found");
  auto id = parse_hex_u64(seg[1]);
  if (!id || *id == 0) return error(400, "bad moon id '" + std::string(seg[1]) + "': expected 1 to 16 hex digits");
  if (method == "GET") {
    if (!is_orbiting(b, *id)) return error(404, "not orbiting moon " + to_hex(*id, 16));
    return reply(200, moon_json(*id, b.moon_world(*id)));
  }
  return error(405, "unsupported method for /moon/<id>");
}

Response orbit(Backend& b, uint64_t id, const std::string& body) {
  proto::Address seed = 0;
  if (!body.empty()) {
    json j = json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return error(400, "request body is not a JSON object");
    for (const char* key : {"seed", "seedAddress"}) {
      if (!j.contains(key) || j[key].is_null()) continue;
      if (!j[key].is_string()) return error(400, std::string("\"") + key + "\" must be a string of 10 hex digits");
      auto s = parse_fixed_hex(j[key].get<std::string>(), 10);
      if (!s) return error(400, std::string("\"") + key + "\" must be a ZeroTier address (10 hex digits)");
      seed = *s;
    }
  }
  Status st = b.orbit(id, seed);
  if (!st.ok()) return error(400, "orbit " + to_hex(id, 16) + " failed: " + st.error());
  return reply(200, moon_json(id, b.moon_world(id)));
}

Response deorbit(Backend& b, uint64_t id) {
  if (!is_orbiting(b, id)) return error(404, "not orbiting moon " + to_hex(id, 16));
  Status st = b.deorbit(id);
  if (!st.ok()) return error(400, "deorbit " + to_hex(id, 16) + " failed: " + st.error());
  return reply(200, json{{"id", to_hex(id, 16)}, {"result", true}});
}

const json* find_network(const json& nets, const std::string& nwid) {
  if (!nets.is_array()) return nullptr;
  for (const auto& n : nets)
    if (str_at(n, "id", "") == nwid || str_at(n, "nwid", "") == nwid) return &n;
  return nullptr;
}

// /network and /network/<nwid>: every VL2 request goes through here and the Backend's
// join/leave/networks, so wiring virtual networks later touches only the Backend.
Response route_network(Backend& b, const std::string& method, const std::vector<std::string_view>& seg,
                             const std::string& body) {
  if (seg.size() == 1) {
    if (method != "GET") return error(405, "use GET /network, or POST/DELETE /network/<nwid>");
    return reply(200, b.networks());
  }
  if (seg.size() != 2) return error(404, "not found");
  auto nwid = parse_fixed_hex(seg[1], 16);
  if (!nwid) return error(400, "bad network id '" + std::string(seg[1]) + "': expected 16 hex digits");
  const std::string id = to_hex(*nwid, 16);
  if (method == "GET") {
    json nets = b.networks();
    if (const json* n = find_network(nets, id)) return reply(200, *n);
    return error(404, "not a member of network " + id);
  }
  if (method == "POST") {
    if (!body.empty()) {
      json j = json::parse(body, nullptr, false);
      if (j.is_discarded() || !j.is_object()) return error(400, "request body is not a JSON object");
    }
    auto st = b.join(*nwid);
    if (!st) return error(501, "virtual networks are not implemented yet");
    if (!st->ok()) return error(400, "join " + id + " failed: " + st->error());
    json nets = b.networks();
    if (const json* n = find_network(nets, id)) return reply(200, *n);
    return reply(200, json{{"id", id}, {"nwid", id}, {"status", "REQUESTING_CONFIGURATION"}});
  }
  if (method == "DELETE") {
    auto st = b.leave(*nwid);
    if (!st) return error(501, "virtual networks are not implemented yet");
    if (!st->ok()) {
      json nets = b.networks();
      if (!find_network(nets, id)) return error(404, "not a member of network " + id);
      return error(400, "leave " + id + " failed: " + st->error());
    }
    return reply(200, json{{"id", id}, {"result", true}});
  }
  return error(405, "unsupported method for /network/<nwid>");
}

// /status, /peer and /peer/<address> (method: PUT already mapped to POST).
Response route_node_info(NodeInfo& b, const std::string& method, const std::vector<std::string_view>& seg) {
  const std::string_view top = seg[0];
  if (top == "status") {
    if (seg.size() != 1) return error(404, "not found");
    if (method != "GET") return error(405, "use GET /status");
    return reply(200, status_json(b.status(), b.settings(), b.now()));
  }
  if (top == "peer") {
    if (method != "GET") return error(405, "use GET /peer or GET /peer/<address>");
    const int64_t now = b.now();
    if (seg.size() == 1) {
      json arr = json::array();
      for (const auto& p : b.peers()) arr.push_back(peer_json(p, now));
      return reply(200, arr);
    }
    if (seg.size() != 2) return error(404, "not found");
    auto a = parse_fixed_hex(seg[1], 10);
    if (!a) return error(400, "bad address '" + std::string(seg[1]) + "': expected 10 hex digits");
    for (const auto& p : b.peers())
      if (p.address == *a) return reply(200, peer_json(p, now));
    return error(404, "unknown peer " + proto::address_to_string(*a));
  }
  return error(404, "not found");
}

// GET /trace?after=SEQ&wait=MS&max=N (JSON lines).
Response route_trace(Backend& b, const std::string& method, const Request& req) {
  if (method != "GET") return error(405, "GET only");
  TraceLog* log = b.trace_log();
  if (!log) return error(501, "this node keeps no trace log");
  auto number = [&](const char* key, uint64_t dflt, uint64_t max) -> std::optional<uint64_t> {
    auto it = req.query.find(key);
    if (it == req.query.end() || it->second.empty()) return dflt;
    if (it->second.size() > 19 || it->second.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    return std::min<uint64_t>(std::stoull(it->second), max);
  };
  auto after = number("after", 0, UINT64_MAX), wait = number("wait", 0, 30000), max = number("max", 1000, 1000);
  if (!after || !wait || !max) return error(400, "after, wait and max must be decimal numbers");
  if (*after > log->last_seq()) *after = 0;  // the node restarted: start over
  Response r;
  r.content_type = "application/x-ndjson";
  for (const json& j : log->after(*after, *max, int64_t(*wait)))
    r.body += j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  return r;
}

Response route(Backend& b, const std::string& token, const Request& req) {
  std::string given = req.header(kAuthHeader);
  if (given.empty())
    if (auto it = req.query.find("auth"); it != req.query.end()) given = it->second;
  if (!token_matches(token, given))
    return error(401, std::string("missing or wrong auth token: send the contents of ") + kTokenFile + " in the " +
                          kAuthHeader + " header or the ?auth= parameter");

  std::string method = req.method == "PUT" ? "POST" : req.method;
  if (method != "GET" && method != "POST" && method != "DELETE")
    return error(405, "method " + req.method + " not supported (use GET, POST, PUT or DELETE)");

  const auto seg = split_path(req.path);
  if (seg.empty()) return error(404, "not found; try /status, /peer, /moon, /network or /trace");
  const std::string_view top = seg[0];

  if (top == "status" || top == "peer") return route_node_info(b, method, seg);
  if (top == "moon") {
    if (seg.size() == 2 && (method == "POST" || method == "DELETE")) {
      auto id = parse_hex_u64(seg[1]);
      if (!id || *id == 0) return error(400, "bad moon id '" + std::string(seg[1]) + "': expected 1 to 16 hex digits");
      return method == "POST" ? orbit(b, *id, req.body) : deorbit(b, *id);
    }
    return route_moon(b, method, seg);
  }
  if (top == "network") return route_network(b, method, seg, req.body);
  if (top == "trace" && seg.size() == 1) return route_trace(b, method, req);
  return error(404, "not found; try /status, /peer, /moon, /network or /trace");
}

std::string version_of(const json& p) {
  const int64_t maj = int_at(p, "versionMajor", -1);
  if (maj < 0) return "-";
  return std::to_string(maj) + "." + std::to_string(int_at(p, "versionMinor", 0)) + "." +
         std::to_string(int_at(p, "versionRev", 0));
}

std::string ago(const json& path, const char* key, int64_t now) {
  const int64_t t = int_at(path, key, 0);
  // t > 0 and now >= t: the difference cannot overflow.
  return t > 0 && now >= t ? std::to_string(now - t) : t > 0 ? "0" : "-1";
}

}  // namespace

std::optional<Response> handle_node_info(NodeInfo& node, const std::string& method, std::string_view path) {
  const auto seg = split_path(path);
  if (seg.empty() || (seg[0] != "status" && seg[0] != "peer")) return std::nullopt;
  try {
    return route_node_info(node, method == "PUT" ? "POST" : method, seg);
  } catch (const std::exception& e) {
    return error(500, std::string("internal error: ") + e.what());
  } catch (...) {
    return error(500, "internal error");
  }
}

std::string wire_version() {
  return std::to_string(proto::kWireVersionMajor) + "." + std::to_string(proto::kWireVersionMinor) + "." +
         std::to_string(proto::kWireVersionRevision);
}

std::string Request::header(std::string_view name) const {
  std::string key(name);
  for (auto& c : key) c = char(std::tolower(static_cast<unsigned char>(c)));
  auto it = headers.find(key);
  return it == headers.end() ? std::string() : it->second;
}

Response handle(Backend& backend, const std::string& token, const Request& req) {
  try {
    return route(backend, token, req);
  } catch (const std::exception& e) {
    return error(500, std::string("internal error: ") + e.what());
  }
}

const char* role_name(core::PeerRole r) {
  switch (r) {
    case core::PeerRole::Planet: return "PLANET";
    case core::PeerRole::Moon: return "MOON";
    case core::PeerRole::Leaf: return "LEAF";
    default: return "LEAF";
  }
}

json status_json(const core::NodeStatus& s, const NodeSettings& settings, int64_t now) {
  json listening = json::array();
  for (const auto& a : settings.listening_on) listening.push_back(a);
  return json{
      {"address", proto::address_to_string(s.address)},
      {"publicIdentity", s.public_identity},
      {"online", s.online},
      {"tcpFallbackActive", false},
      {"version", wire_version()},
      {"versionMajor", proto::kWireVersionMajor},
      {"versionMinor", proto::kWireVersionMinor},
      {"versionRev", proto::kWireVersionRevision},
      {"versionBuild", 0},
      {"planetWorldId", s.planet_id},
      {"planetWorldTimestamp", s.planet_timestamp},
      {"clock", now},
      {"ztcoreVersion", kZtcoreVersion},
      {"config",
       {{"settings",
         {{"primaryPort", settings.primary_port},
          {"listeningOn", listening},
          {"allowTcpFallbackRelay", false},
          {"portMappingEnabled", false},
          {"allowLoopback", settings.allow_loopback}}}}},
  };
}

json peer_json(const core::PeerInfo& p, int64_t now) {
  json paths = json::array();
  for (const auto& x : p.paths) {
    paths.push_back(json{
        {"address", x.address.to_string()},
        {"lastSend", x.last_send},
        {"lastReceive", x.last_receive},
        {"active", x.alive},
        {"expired", !x.alive},
        {"preferred", x.preferred},
        {"trustedPathId", 0},
        {"localSocket", x.local_socket},
    });
  }
  const std::string version = std::to_string(p.version_major) + "." + std::to_string(p.version_minor) + "." +
                              std::to_string(p.version_revision);
  return json{
      {"address", proto::address_to_string(p.address)},
      {"isBonded", false},
      {"tunneled", false},
      {"latency", p.latency_ms},
      {"role", role_name(p.role)},
      {"version", version},
      {"versionMajor", p.version_major},
      {"versionMinor", p.version_minor},
      {"versionRev", p.version_revision},
      {"paths", paths},
  };
}

json moon_json(uint64_t moon_id, const std::optional<proto::World>& world) {
  json roots = json::array();
  json j{{"id", to_hex(moon_id, 16)}, {"waiting", !world.has_value()}};
  if (world) {
    for (const auto& r : world->roots) {
      json eps = json::array();
      for (const auto& e : r.stable_endpoints) eps.push_back(e.to_string());
      roots.push_back(json{{"identity", r.identity.to_string(false)}, {"stableEndpoints", eps}});
    }
    j["timestamp"] = world->timestamp;
    j["signature"] = to_hex(ByteSpan(world->signature));
    j["updatesMustBeSignedBy"] = to_hex(ByteSpan(world->update_key));
  } else {
    j["timestamp"] = 0;
    j["signature"] = "";
    j["updatesMustBeSignedBy"] = "";
  }
  j["roots"] = roots;
  return j;
}

json network_json(const core::NetworkInfo& n) {
  json ips = json::array(), routes = json::array(), groups = json::array();
  for (const auto& a : n.assigned_addresses) ips.push_back(a.to_string());
  for (const auto& r : n.routes)
    routes.push_back(json{{"target", r.target.to_string()},
                          {"via", r.via.empty() ? json(nullptr) : json(r.via.ip_string())},
                          {"flags", r.flags},
                          {"metric", r.metric}});
  for (const auto& g : n.subscriptions) groups.push_back(json{{"mac", g.mac.to_string()}, {"adi", g.adi}});
  const std::string id = to_hex(n.nwid, 16);
  json j{{"id", id},
         {"nwid", id},
         {"mac", n.mac.to_string()},
         {"name", n.name},
         {"status", core::network_status_name(n.status)},
         {"type", n.is_public ? "PUBLIC" : "PRIVATE"},
         {"mtu", n.mtu},
         {"dhcp", false},
         {"bridge", false},
         {"broadcastEnabled", n.broadcast},
         {"portError", 0},
         {"netconfRevision", n.revision},
         {"assignedAddresses", ips},
         {"routes", routes},
         {"multicastSubscriptions", groups},
         {"portDeviceName", ""},
         {"allowManaged", true},
         {"allowGlobal", false},
         {"allowDefault", false},
         {"allowDNS", false}};
  if (!n.authentication_url.empty()) j["authenticationURL"] = n.authentication_url;
  return j;
}

std::string format_info(const json& s) {
  const bool online = bool_at(s, "online", false);
  const char* state = !online ? "OFFLINE" : bool_at(s, "tcpFallbackActive", false) ? "TUNNELED" : "ONLINE";
  return "200 info " + str_at(s, "address", "-") + " " + str_at(s, "version", "-") + " " +
         state + "\n";
}

std::string format_peers(const json& peers, int64_t now) {
  std::string out = "200 peers\n<ztaddr> <ver> <role> <lat> <link> <lastTX> <lastRX> <path>\n";
  if (!peers.is_array()) return out;
  for (const auto& p : peers) {
    const json* best = nullptr;
    if (p.contains("paths") && p["paths"].is_array())
      for (const auto& x : p["paths"])
        if (bool_at(x, "preferred", false) && bool_at(x, "active", false)) best = &x;
    out += str_at(p, "address", "-") + " " + version_of(p) + " " + str_at(p, "role", "LEAF") + " " +
           std::to_string(int_at(p, "latency", -1)) + " ";
    if (best)
      out += "DIRECT " + ago(*best, "lastSend", now) + " " + ago(*best, "lastReceive", now) + " " +
             str_at(*best, "address", "-");
    else
      out += "RELAY -1 -1 -";
    out += "\n";
  }
  return out;
}

std::string format_listpeers(const json& peers, int64_t now) {
  std::string out = "200 listpeers <ztaddr> <path> <latency> <version> <role>\n";
  if (!peers.is_array()) return out;
  for (const auto& p : peers) {
    std::string paths;
    if (p.contains("paths") && p["paths"].is_array())
      for (const auto& x : p["paths"]) {
        if (!paths.empty()) paths += ",";
        paths += str_at(x, "address", "-") + ";" + ago(x, "lastSend", now) + ";" +
                 ago(x, "lastReceive", now);
      }
    if (paths.empty()) paths = "-";
    out += "200 listpeers " + str_at(p, "address", "-") + " " + paths + " " +
           std::to_string(int_at(p, "latency", -1)) + " " + version_of(p) + " " + str_at(p, "role", "LEAF") +
           "\n";
  }
  return out;
}

std::string format_listnetworks(const json& nets) {
  std::string out = "200 listnetworks <nwid> <name> <mac> <status> <type> <dev> <ZT assigned ips>\n";
  if (!nets.is_array()) return out;
  for (const auto& n : nets) {
    auto field = [&](const char* k) {
      std::string v = n.contains(k) && n[k].is_string() ? n[k].get<std::string>() : "";
      return v.empty() ? std::string("-") : v;
    };
    std::string ips;
    if (n.contains("assignedAddresses") && n["assignedAddresses"].is_array())
      for (const auto& a : n["assignedAddresses"])
        if (a.is_string()) ips += (ips.empty() ? "" : ",") + a.get<std::string>();
    out += "200 listnetworks " + field("nwid") + " " + field("name") + " " + field("mac") + " " + field("status") +
           " " + field("type") + " " + field("portDeviceName") + " " + (ips.empty() ? "-" : ips) + "\n";
  }
  return out;
}

std::string format_trace(const json& t) {
  const int64_t ms = int_at(t, "time", 0);
  const time_t secs = time_t(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, int(ms % 1000));
  return std::string(buf) + " TRACE " + str_at(t, "line", str_at(t, "text", ""));
}

}  // namespace zt::service
