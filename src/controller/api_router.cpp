// Method + path → ApiResponse for the controller's management API. See api_router.hpp.
#include "controller/api_router.hpp"

#include <exception>
#include <vector>

#include "base/hex.hpp"
#include "controller/objects.hpp"
#include "proto/vl2.hpp"

namespace zt::controller {

namespace {

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < path.size()) {
    size_t slash = path.find('/', at);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > at) out.emplace_back(path.substr(at, slash - at));
    at = slash + 1;
  }
  return out;
}

ApiResponse method_not_allowed(std::string_view method, std::string_view path) {
  return ApiResponse::error(405, "method " + std::string(method) + " not allowed on " + std::string(path));
}

// Body of a write: empty means {}; otherwise a JSON object.
Result<json> parse_body(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return json::object();
  try {
    json j = json::parse(body);
    if (!j.is_object()) return err("body: expected a JSON object");
    return j;
  } catch (const json::parse_error& e) {
    return err(std::string("malformed JSON: ") + e.what());
  }
}

ApiResponse route(EmbeddedController& ctl, ControllerDb& db, int64_t now, std::string_view m, std::string_view path,
                  std::string_view raw_body, bool& wrote) {
  const bool is_get = m == "GET" || m == "HEAD";
  const bool is_write = m == "POST" || m == "PUT";
  const bool is_delete = m == "DELETE";
  auto segs = split_path(path);
  bool unstable = false;
  if (!segs.empty() && segs[0] == "unstable") {
    unstable = true;
    segs.erase(segs.begin());
  }
  auto not_found = [&] { return ApiResponse::error(404, "no such path: " + std::string(path)); };
  if (segs.empty() || segs[0] != "controller") return not_found();

  if (segs.size() == 1) {
    if (!is_get) return method_not_allowed(m, path);
    return {200, json{{"controller", true}, {"apiVersion", 4}, {"clock", now}, {"databaseReady", db.ready()}}};
  }
  if (segs[1] != "network") return not_found();

  if (segs.size() == 2) {
    if (is_get) {
      if (!unstable) return ctl.list_networks();
      json data = json::array();
      for (uint64_t id : db.list_networks())
        if (auto n = db.get_network(id)) data.push_back(*n);
      size_t count = data.size();
      return {200, json{{"data", data}, {"meta", {{"networkCount", count}}}}};
    }
    if (is_write && !unstable) {
      auto body = parse_body(raw_body);
      if (!body) return ApiResponse::error(400, body.error());
      wrote = true;
      return ctl.create_network(now, *body);
    }
    return method_not_allowed(m, path);
  }

  // /controller/network/<address>______ : create under that controller address.
  const std::string& id = segs[2];
  if (id.size() == 16 && id.compare(10, 6, "______") == 0) {
    if (segs.size() != 3 || unstable) return not_found();
    if (!is_write) return method_not_allowed(m, path);
    auto prefix = parse_hex_u64(id.substr(0, 10));
    if (id.substr(0, 10).find_first_not_of("0123456789abcdefABCDEF") != std::string::npos || !prefix)
      return ApiResponse::error(400, "bad controller address in '" + id + "'");
    if (ctl.address() != 0 && *prefix != ctl.address())
      return ApiResponse::error(400, "controller address " + id.substr(0, 10) + " is not this controller's (" +
                                         proto::address_to_string(ctl.address()) + ")");
    auto body = parse_body(raw_body);
    if (!body) return ApiResponse::error(400, body.error());
    wrote = true;
    return ctl.create_network(now, *body);
  }
  auto nwid = proto::parse_network_id(id);
  if (!nwid) return ApiResponse::error(400, "bad network ID '" + id + "' (expected 16 hex digits)");

  if (segs.size() == 3) {
    if (unstable) return not_found();
    if (is_get) return ctl.get_network(*nwid);
    if (is_write) {
      auto body = parse_body(raw_body);
      if (!body) return ApiResponse::error(400, body.error());
      wrote = true;
      return ctl.write_network(now, *nwid, *body);
    }
    if (is_delete) {
      wrote = true;
      return ctl.delete_network(now, *nwid);
    }
    return method_not_allowed(m, path);
  }
  if (segs[3] == "trace" && segs.size() == 4 && !unstable) {
    if (!is_get) return method_not_allowed(m, path);
    if (!db.get_network(*nwid))
      return ApiResponse::error(404, "network " + proto::network_id_to_string(*nwid) + " not found");
    return {200, ctl.remote_traces(*nwid)};
  }
  if (segs[3] != "member") return not_found();

  if (segs.size() == 4) {
    if (!is_get) return method_not_allowed(m, path);
    if (!unstable) return ctl.list_members(*nwid);
    if (!db.get_network(*nwid))
      return ApiResponse::error(404, "network " + proto::network_id_to_string(*nwid) + " not found");
    json data = json::array();
    size_t authorized = 0;
    auto seen = ctl.last_seen(*nwid);
    for (json& mem : db.members_of(*nwid)) {
      if (json_bool(mem, "authorized", false)) ++authorized;
      // Runtime state beside the record (the web UI's "last seen"): ms, 0 = not since start.
      auto a = mem.contains("address") && mem["address"].is_string() ? parse_address(mem["address"].get<std::string>())
                                                                     : std::nullopt;
      auto it = a ? seen.find(*a) : seen.end();
      mem["lastSeen"] = it == seen.end() ? 0 : it->second;
      data.push_back(std::move(mem));
    }
    size_t total = data.size();
    return {200, json{{"data", data}, {"meta", {{"totalCount", total}, {"authorizedCount", authorized}}}}};
  }
  if (segs.size() != 5 || unstable) return not_found();
  auto addr = parse_address(segs[4]);
  if (!addr) return ApiResponse::error(400, "bad member address '" + segs[4] + "' (expected 10 hex digits)");
  if (is_get) return ctl.get_member(*nwid, *addr);
  if (is_write) {
    auto body = parse_body(raw_body);
    if (!body) return ApiResponse::error(400, body.error());
    wrote = true;
    return ctl.write_member(now, *nwid, *addr, *body);
  }
  if (is_delete) {
    wrote = true;
    return ctl.delete_member(now, *nwid, *addr);
  }
  return method_not_allowed(m, path);
}

}  // namespace

RoutedResponse route_api(EmbeddedController& ctl, ControllerDb& db, int64_t now, std::string_view method,
                         std::string_view path, std::string_view body) {
  // The HTTP server hands us the path without its query; other callers may not.
  if (size_t q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  RoutedResponse r;
  bool wrote = false;
  try {
    r.response = route(ctl, db, now, method, path, body, wrote);
  } catch (const std::exception& e) {
    r.response = ApiResponse::error(500, std::string("internal error: ") + e.what());
  } catch (...) {
    r.response = ApiResponse::error(500, "internal error");
  }
  r.wrote = wrote && r.response.ok();
  return r;
}

std::string api_response_text(const ApiResponse& r) {
  return r.body.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace zt::controller
