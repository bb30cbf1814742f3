// The controller's HTTP JSON API: zerotier-one's controller paths and object shapes
// (PROTOCOL.md §10.2), served by cpp-httplib on its own threads. The paths, shapes and status
// codes are those of route_api() (api_router.hpp); this layer adds the transport and the token.
//
// Request bodies above kMaxRequestBody (1 MiB) get 413. Every request needs the token: header `X-ZT1-Auth: <token>` (also accepted:
// `Authorization: Bearer <token>`, query `?auth=<token>`); otherwise 401 {"error":"..."}.
// Exception: the web UI's files (GET/HEAD of "/", "/app.js", ...; web_ui.hpp) are public.
//
// Threading: handlers run on the server's threads and call the controller's management
// methods (thread-safe). After a successful write, `run_on_node` is called with a function
// to run on the controller thread (embedded_controller.hpp; it performs the queued pushes/revocations,
// EmbeddedController::process_pending); it may run it synchronously or later. Without it,
// the controller's on_timer() picks the work up.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/result.hpp"
#include "controller/db.hpp"
#include "controller/embedded_controller.hpp"

namespace zt::controller {

// Larger request bodies are refused with 413 before any handler runs.
inline constexpr size_t kMaxRequestBody = 1024 * 1024;

// An answer from the node's side of the port (node_api below).
struct NodeApiReply {
  int status = 200;
  std::string body;  // JSON text
};

struct HttpApiConfig {
  std::string bind = "127.0.0.1";  // loopback by default
  uint16_t port = 0;               // 0 = any free port
  std::string auth_token;          // required, non-empty
  std::function<int64_t()> clock;  // ms; default: the system clock (Unix epoch ms)
  std::function<void(std::function<void(int64_t)>)> run_on_node;
  // The node's own paths on the same port, as zerotier-one serves them beside /controller:
  // `ztcore controller` answers GET /status, /peer and /peer/<address> here through
  // service::handle_node_info (the node API's JSON, not a second copy of it). Called on a
  // server thread, after the token check, with the method (HEAD as GET) and the path without
  // its query; nullopt = not a node path (the controller router answers, 404 there).
  std::function<std::optional<NodeApiReply>(const std::string& method, const std::string& path)> node_api;
};

class HttpApi {
 public:
  // Binds and starts serving. Errors: empty token, bind failure.
  static Result<std::unique_ptr<HttpApi>> start(EmbeddedController& controller, ControllerDb& db,
                                                HttpApiConfig cfg);
  ~HttpApi();  // stop()
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  // Stops accepting, waits for the server thread. Idempotent.
  void stop();
  uint16_t port() const;
  std::string url() const;  // "http://127.0.0.1:<port>"

  struct Impl;

 private:
  explicit HttpApi(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace zt::controller
