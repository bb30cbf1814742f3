// The node's local JSON API, shaped like zerotier-one's service API so its users and tools
// feel at home, and the zerotier-cli style text rendering `ztcore cli` prints from it.
//
//   GET    /status                 node status (address, publicIdentity, online, version, ...)
//   GET    /peer, /peer/<addr10>   peers with paths ("ip/port", lastSend, lastReceive, ...)
//   GET    /moon, /moon/<id>       orbited moons
//   POST   /moon/<id>              orbit; optional body {"seed":"<addr>"} ("seedAddress" too)
//   DELETE /moon/<id>              deorbit
//   GET    /network, /network/<nwid>   joined networks (id, nwid, mac, name, status, ...)
//   POST   /network/<nwid>         join   (501 if the backend has no virtual networks)
//   DELETE /network/<nwid>         leave  (501 likewise)
//   GET    /trace?after=SEQ&wait=MS&max=N   the node's Trace events after sequence number SEQ
//                                  (default 0) as JSON lines (application/x-ndjson; one
//                                  trace_json object with "seq" per line), waiting up to MS
//                                  (default 0, at most 30000) for one; at most N (default 1000)
//                                  lines. 501 if the backend keeps no trace log.
// PUT is a synonym for POST. Every request needs the token from <home>/authtoken.secret in
// the X-ZT1-Auth header or the ?auth= query parameter; otherwise 401. Errors are JSON
// objects {"error": "<what went wrong>"} with a 4xx/5xx status.
//
// Everything here is pure (no sockets, no clocks): handle() maps a request to a response
// through a Backend, so it is tested (and fuzzed) without a network. The transport is
// cpp-httplib (service/local_server.hpp).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/result.hpp"
#include "core/node.hpp"
#include "proto/world.hpp"
#include "runtime/state.hpp"
#include "service/trace_log.hpp"

namespace zt::service {

using nlohmann::json;

// The token (runtime::load_or_create_auth_token) lives in the node's home, mode 0600.
inline constexpr const char* kTokenFile = runtime::kAuthTokenFile;
inline constexpr char kPortFile[] = "zerotier-one.port";  // in the node's home: the API port
inline constexpr char kAuthHeader[] = "X-ZT1-Auth";
inline constexpr size_t kMaxBody = 1024 * 1024;  // larger request bodies are refused (413)

// One request as the transport decoded it.
struct Request {
  std::string method;                          // as sent, e.g. "GET"
  std::string path;                            // percent-decoded, without the query
  std::map<std::string, std::string> query;    // percent-decoded ?k=v pairs
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;

  // Header value by case-insensitive name ("" if absent).
  std::string header(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// The ZeroTier version this node speaks on the wire, "1.14.1" (what peers see in HELLO).
std::string wire_version();

// Static facts about the running node for /status.
struct NodeSettings {
  uint16_t primary_port = 0;                // UDP port
  std::vector<std::string> listening_on;    // "ip/port" of each UDP socket
  bool allow_loopback = false;
};

// What /status and /peer need from a running node: all a `ztcore controller` hands its HTTP
// API (controller/http_api.hpp), which serves these two paths as zerotier-one does on the
// controller's port. Called on the API server's thread.
class NodeInfo {
 public:
  virtual ~NodeInfo() = default;
  virtual int64_t now() = 0;  // Unix ms
  virtual core::NodeStatus status() = 0;
  virtual NodeSettings settings() = 0;
  virtual std::vector<core::PeerInfo> peers() = 0;
};

// What the API needs from a running node. The `ztcore node` backend wraps a
// runtime::NodeHandle; tests use a fake. Called on the API server's thread.
class Backend : public NodeInfo {
 public:
  // The stored world of an orbited moon, once fetched (nullopt: still waiting for it).
  virtual std::optional<proto::World> moon_world(uint64_t moon_id) = 0;
  virtual Status orbit(uint64_t moon_id, proto::Address seed) = 0;
  virtual Status deorbit(uint64_t moon_id) = 0;
  // Moons orbited, including those still being fetched (listed with "waiting": true).
  virtual std::vector<uint64_t> orbiting() { return status().moons; }

  // Virtual networks (VL2): the one place to wire core::Node join/leave once it has them.
  // nullopt = not implemented by this node yet (the API answers 501).
  virtual std::optional<Status> join(uint64_t nwid) { return std::nullopt; }
  virtual std::optional<Status> leave(uint64_t nwid) { return std::nullopt; }
  // Joined networks as zerotier-one network objects (id, nwid, status, ...).
  virtual json networks() { return json::array(); }
  // The node's recent Trace events (GET /trace); nullptr = not kept (501).
  virtual TraceLog* trace_log() { return nullptr; }
};

// Routes one request (auth included) to the backend. Never throws.
Response handle(Backend& backend, const std::string& token, const Request& req);

// GET /status, GET /peer and GET /peer/<address> alone, exactly as handle() answers them,
// without the token check (the caller authenticates). nullopt: the path is neither /status nor
// /peer[/...]. Never throws.
std::optional<Response> handle_node_info(NodeInfo& node, const std::string& method, std::string_view path);

// ---- JSON shapes (zerotier-one field names) ------------------------------------------------
const char* role_name(core::PeerRole r);  // "LEAF", "MOON", "PLANET"
json status_json(const core::NodeStatus& s, const NodeSettings& settings, int64_t now);
json peer_json(const core::PeerInfo& p, int64_t now);
json moon_json(uint64_t moon_id, const std::optional<proto::World>& world);
// A joined network as zerotier-one shows it (id, nwid, mac, name, status, type, mtu,
// assignedAddresses "ip/bits", routes, ...). ztcore has no virtual port: portDeviceName is "".
json network_json(const core::NetworkInfo& n);

// ---- zerotier-cli style text (each line ends with '\n') ------------------------------------
// "200 info <address> <version> ONLINE|OFFLINE|TUNNELED"
std::string format_info(const json& status);
// "200 peers" + "<ztaddr> <ver> <role> <lat> <link> <lastTX> <lastRX> <path>" + one row per
// peer; lastTX/lastRX are ms ago on the preferred path (-1 if none), link DIRECT or RELAY.
std::string format_peers(const json& peers, int64_t now);
// "200 listpeers <ztaddr> <path> <latency> <version> <role>" + one "200 listpeers ..." row
// per peer; path = "ip/port;lastTX;lastRX" for each path, comma-separated, or "-".
std::string format_listpeers(const json& peers, int64_t now);
// "200 listnetworks <nwid> <name> <mac> <status> <type> <dev> <ZT assigned ips>" + rows.
std::string format_listnetworks(const json& networks);
// One GET /trace entry as "<UTC time> TRACE <line>" (no '\n'), e.g. "2026-12-07T12:00:00.123Z TRACE
// 2006 NETWORK_FILTER_TRACE 8056c2e21c000001 in peer 89e92ceee5: rule 2 DROP | ...".
std::string format_trace(const json& trace);

}  // namespace zt::service
