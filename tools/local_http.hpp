// Just enough HTTP/1.1 for the node's local JSON API (the zerotier-one habit: a JSON API on
// 127.0.0.1, TCP port = the node's UDP port, used by `ztcore cli`).
//
// Deliberately small: one request per connection ("Connection: close"), bodies framed by
// Content-Length only (no chunked encoding), no TLS, no keep-alive. The server handles one
// connection at a time on its own thread, with short socket timeouts so a stuck client cannot
// hold it for long. It is meant for loopback use by the local administrator and nothing else.
//
// (Debian's cpp-httplib 0.11 is split into a header and libcpp-httplib.so, which the CMake
// target does not link; this keeps `ztcore` free of that dependency.)
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "base/result.hpp"

namespace zt::cli::http {

constexpr size_t kMaxHead = 16 * 1024;   // request line + headers
constexpr size_t kMaxBody = 1024 * 1024;

struct Request {
  std::string method;                          // as sent, e.g. "GET"
  std::string path;                            // percent-decoded, without the query
  std::map<std::string, std::string> query;    // percent-decoded ?k=v pairs
  std::map<std::string, std::string> headers;  // names lowercased, values trimmed
  std::string body;

  // Header value by case-insensitive name ("" if absent).
  std::string header(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

enum class Parse { Incomplete, Complete, Bad };

// Parses `data` as one request. Incomplete: need more bytes. Bad: malformed, a head longer
// than kMaxHead, a body longer than kMaxBody, or a Transfer-Encoding (unsupported).
Parse parse_request(std::string_view data, Request& out);
std::string serialize_response(const Response& r);
const char* reason_phrase(int status);
// Percent-decoding ('+' is a space in query strings only). False on a bad escape.
bool url_decode(std::string_view in, std::string& out, bool plus_is_space);

class Server {
 public:
  using Handler = std::function<Response(const Request&)>;
  Server() = default;
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens on ip:port (port 0 = any free port). Returns the bound port.
  Result<uint16_t> listen(const std::string& ip, uint16_t port);
  // Serves requests on a new thread until stop(). The handler runs on that thread.
  void start(Handler handler);
  // Stops the thread and closes the socket. Idempotent.
  void stop();

 private:
  void run();
  void serve_one(int fd);
  int listen_fd_ = -1;
  int wake_fd_ = -1;
  Handler handler_;
  std::thread thread_;
};

struct ClientResponse {
  int status = 0;
  std::string body;
};

// One request to ip:port; waits at most timeout_ms overall. Errors: cannot connect (the
// message says why, e.g. "Connection refused"), timeout, malformed response.
Result<ClientResponse> request(const std::string& ip, uint16_t port, const std::string& method,
                               const std::string& target,
                               const std::vector<std::pair<std::string, std::string>>& headers,
                               const std::string& body, int timeout_ms = 10000);

}  // namespace zt::cli::http
