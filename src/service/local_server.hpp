// The transport of the node's local JSON API (service/local_api.hpp): cpp-httplib, the same
// HTTP stack as the controller's API, on loopback (the zerotier-one habit: TCP port = the
// node's UDP port, used by `ztcore cli`).
//
// Requests are decoded by httplib (percent-decoding, query, headers, Content-Length or
// chunked bodies) and handed to one handler, one request at a time (a mutex serializes them,
// so the handler needs no locking of its own). Bodies over kMaxBody are refused with 413;
// requests httplib cannot parse get its 400.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "service/local_api.hpp"

namespace zt::service {

class LocalServer {
 public:
  using Handler = std::function<Response(const Request&)>;

  // Binds ip:port (port 0 = any free port) and serves on its own thread until stop().
  // Errors (Io): the address cannot be bound.
  static Result<std::unique_ptr<LocalServer>> start(const std::string& ip, uint16_t port, Handler handler);
  ~LocalServer();  // stop()
  LocalServer(const LocalServer&) = delete;
  LocalServer& operator=(const LocalServer&) = delete;

  // Stops accepting and joins the server thread. Idempotent.
  void stop();
  uint16_t port() const;

  struct Impl;

 private:
  explicit LocalServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// What a client got back.
struct ClientResponse {
  int status = 0;
  std::string body;
};

// One request to ip:port (the `ztcore cli` side); waits at most timeout_ms to connect and as
// long again for the answer. Errors (Io): cannot connect (the message says why, e.g.
// "Connection refused"), timeout, broken response.
Result<ClientResponse> request(const std::string& ip, uint16_t port, const std::string& method,
                               const std::string& target,
                               const std::vector<std::pair<std::string, std::string>>& headers,
                               const std::string& body, int timeout_ms = 10000);

}  // namespace zt::service
