// The local API's transport over cpp-httplib; the routes are local_api.cpp.
#include "service/local_server.hpp"

#include <httplib.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <mutex>
#include <thread>

namespace zt::service {

namespace {

Request from_httplib(const httplib::Request& in) {
  Request r;
  r.method = in.method;
  r.path = in.path;
  // Repeated names: the first one wins (as the hand-rolled parser before did for the query).
  for (const auto& [k, v] : in.params) r.query.emplace(k, v);
  for (const auto& [k, v] : in.headers) {
    std::string name = k;
    for (auto& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
    r.headers.emplace(std::move(name), v);
  }
  r.body = in.body;
  return r;
}

}  // namespace

struct LocalServer::Impl {
  Handler handler;
  httplib::Server server;
  std::mutex serve_mu;  // one request at a time through the handler
  std::thread thread;
  int port = 0;
  bool stopped = false;
  std::atomic<bool> finished{false};  // the accept loop has returned

  void serve(const httplib::Request& req, httplib::Response& res) {
    Response out;
    {
      std::lock_guard lk(serve_mu);
      out = handler(from_httplib(req));
    }
    res.status = out.status;
    res.set_content(out.body, out.content_type.c_str());
  }
};

LocalServer::LocalServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

LocalServer::~LocalServer() { stop(); }

Result<std::unique_ptr<LocalServer>> LocalServer::start(const std::string& ip, uint16_t port, Handler handler) {
  auto impl = std::make_unique<Impl>();
  Impl* p = impl.get();
  p->handler = std::move(handler);
  auto& s = p->server;
  s.set_payload_max_length(kMaxBody);
  // Short timeouts: a stuck client must not hold a server thread for long (loopback only).
  s.set_read_timeout(5, 0);
  s.set_write_timeout(5, 0);
  auto h = [p](const httplib::Request& req, httplib::Response& res) { p->serve(req, res); };
  // Every method httplib knows reaches the router, which answers 405 for the ones it refuses.
  s.Get(".*", h);
  s.Post(".*", h);
  s.Put(".*", h);
  s.Delete(".*", h);
  s.Patch(".*", h);
  s.Options(".*", h);
  if (port == 0) {
    p->port = s.bind_to_any_port(ip);
    if (p->port <= 0) return err(ErrorKind::Io, "cannot bind " + ip + " (any port)");
  } else {
    if (!s.bind_to_port(ip, port)) return err(ErrorKind::Io, "cannot bind " + ip + ":" + std::to_string(port));
    p->port = port;
  }
  // The socket listens already, so clients may connect before the accept loop runs.
  p->thread = std::thread([p] {
    p->server.listen_after_bind();
    p->finished = true;
  });
  return std::unique_ptr<LocalServer>(new LocalServer(std::move(impl)));
}

void LocalServer::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  // httplib's stop() does nothing until the accept loop has marked itself running, so wait
  // for that (or for the loop to have ended on its own) first.
  while (!impl_->finished.load() && !impl_->server.is_running())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

uint16_t LocalServer::port() const { return uint16_t(impl_->port); }

Result<ClientResponse> request(const std::string& ip, uint16_t port, const std::string& method,
                               const std::string& target,
                               const std::vector<std::pair<std::string, std::string>>& headers,
                               const std::string& body, int timeout_ms) {
  httplib::Client c(ip, port);
  c.set_url_encode(false);  // `target` is sent as given (already encoded by the caller)
  const auto timeout = std::chrono::milliseconds(timeout_ms);
  c.set_connection_timeout(timeout);
  c.set_read_timeout(timeout);
  c.set_write_timeout(timeout);
  httplib::Request req;
  req.method = method;
  req.path = target;
  for (const auto& [k, v] : headers) req.headers.emplace(k, v);
  if (!body.empty() || method == "POST" || method == "PUT") {
    req.body = body;
    req.headers.emplace("Content-Type", "application/json");
  }
  auto res = c.send(req);
  if (!res) return err(ErrorKind::Io, httplib::to_string(res.error()));
  return ClientResponse{res->status, res->body};
}

}  // namespace zt::service
