// HTTP JSON API over cpp-httplib: authentication and transport; the routes are api_router.cpp.
#include "controller/http_api.hpp"

#include <httplib.h>

#include <chrono>
#include <thread>

#include "controller/api_router.hpp"
#include "controller/web_ui.hpp"

namespace zt::controller {

namespace {

int64_t system_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool constant_time_equal(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char d = 0;
  for (size_t i = 0; i < a.size(); ++i) d |= uint8_t(a[i] ^ b[i]);
  return d == 0;
}

}  // namespace

struct HttpApi::Impl {
  EmbeddedController& ctl;
  ControllerDb& db;
  HttpApiConfig cfg;
  httplib::Server server;
  std::thread thread;
  int port = 0;
  bool stopped = false;
  std::atomic<bool> finished{false};  // the accept loop has returned

  Impl(EmbeddedController& c, ControllerDb& d, HttpApiConfig conf) : ctl(c), db(d), cfg(std::move(conf)) {}

  bool authorized(const httplib::Request& req) const {
    std::string token = req.get_header_value("X-ZT1-Auth");
    if (token.empty()) {
      std::string auth = req.get_header_value("Authorization");
      if (auth.rfind("Bearer ", 0) == 0) token = auth.substr(7);
    }
    if (token.empty() && req.has_param("auth")) token = req.get_param_value("auth");
    return !token.empty() && constant_time_equal(token, cfg.auth_token);
  }

  void serve(const httplib::Request& req, httplib::Response& res) {
    if (cfg.node_api && req.path.rfind("/controller", 0) != 0 && req.path.rfind("/unstable/", 0) != 0) {
      if (auto r = cfg.node_api(req.method == "HEAD" ? "GET" : req.method, req.path)) {
        res.status = r->status;
        res.set_content(r->body, "application/json");
        return;
      }
    }
    RoutedResponse r = route_api(ctl, db, cfg.clock(), req.method, req.path, req.body);
    res.status = r.response.status;
    res.set_content(api_response_text(r.response), "application/json");
    // Pushes and revocations go out on the node thread before the client sees the reply
    // (when run_on_node runs synchronously, as the runtime's with_node does).
    if (r.wrote && cfg.run_on_node) {
      EmbeddedController* c = &ctl;
      cfg.run_on_node([c](int64_t t) { c->process_pending(t); });
    }
  }
};

HttpApi::HttpApi(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpApi::~HttpApi() { stop(); }

Result<std::unique_ptr<HttpApi>> HttpApi::start(EmbeddedController& controller, ControllerDb& db,
                                                HttpApiConfig cfg) {
  if (cfg.auth_token.empty()) return err("HTTP API: an auth token is required");
  if (!cfg.clock) cfg.clock = system_ms;
  auto impl = std::make_unique<Impl>(controller, db, std::move(cfg));
  Impl* p = impl.get();
  auto& s = p->server;
  s.set_payload_max_length(kMaxRequestBody);
  // httplib's own refusals (413 for an oversized body, 400 for a malformed request) come
  // without a body; give them the API's {"error": ...} shape.
  s.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    const char* what = res.status == 413 ? "request body too large (limit 1 MiB)" : "bad request";
    res.set_content(json{{"error", what}}.dump() + "\n", "application/json");
    return httplib::Server::HandlerResponse::Handled;
  }));
  s.set_pre_routing_handler([p](const httplib::Request& req, httplib::Response& res) {
    if (serve_web_ui(req, res)) return httplib::Server::HandlerResponse::Handled;  // public pages (web_ui.hpp)
    if (p->authorized(req)) return httplib::Server::HandlerResponse::Unhandled;
    res.status = 401;
    res.set_content(json{{"error", "missing or wrong X-ZT1-Auth token"}}.dump() + "\n", "application/json");
    return httplib::Server::HandlerResponse::Handled;
  });
  auto handler = [p](const httplib::Request& req, httplib::Response& res) { p->serve(req, res); };
  s.Get(".*", handler);
  s.Post(".*", handler);
  s.Put(".*", handler);
  s.Delete(".*", handler);

  const std::string& host = p->cfg.bind;
  if (p->cfg.port == 0) {
    p->port = s.bind_to_any_port(host);
    if (p->port <= 0) return err("HTTP API: cannot bind " + host + " (any port)");
  } else {
    if (!s.bind_to_port(host, p->cfg.port)) return err("HTTP API: cannot bind " + host + ":" + std::to_string(p->cfg.port));
    p->port = p->cfg.port;
  }
  // The socket listens already (bind_to_port), so clients may connect before the accept loop
  // runs; they are served once it starts.
  p->thread = std::thread([p] {
    p->server.listen_after_bind();
    p->finished = true;
  });
  return std::unique_ptr<HttpApi>(new HttpApi(std::move(impl)));
}

void HttpApi::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  // httplib's stop() is a no-op until the accept loop has marked itself running, so wait
  // for that (or for the loop to have ended on its own) first.
  while (!impl_->finished.load() && !impl_->server.is_running())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

uint16_t HttpApi::port() const { return uint16_t(impl_->port); }

std::string HttpApi::url() const {
  std::string host = impl_->cfg.bind;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(impl_->port);
}

}  // namespace zt::controller
