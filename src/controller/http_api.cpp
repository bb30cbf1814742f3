// HTTP JSON API over cpp-httplib. See http_api.hpp for the routes and contract.
#include "controller/http_api.hpp"

#include <fcntl.h>
#include <httplib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "base/hex.hpp"
#include "controller/objects.hpp"
#include "crypto/crypto.hpp"
#include "proto/vl2.hpp"

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

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < path.size()) {
    size_t slash = path.find('/', at);
    if (slash == std::string::npos) slash = path.size();
    if (slash > at) out.push_back(path.substr(at, slash - at));
    at = slash + 1;
  }
  return out;
}

ApiResponse method_not_allowed(const std::string& method, const std::string& path) {
  return ApiResponse::error(405, "method " + method + " not allowed on " + path);
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

  // Body of a write: empty means {}; otherwise a JSON object.
  static Result<json> parse_body(const httplib::Request& req) {
    if (req.body.find_first_not_of(" \t\r\n") == std::string::npos) return json::object();
    try {
      json j = json::parse(req.body);
      if (!j.is_object()) return err("body: expected a JSON object");
      return j;
    } catch (const json::parse_error& e) {
      return err(std::string("malformed JSON: ") + e.what());
    }
  }

  ApiResponse route(const httplib::Request& req, bool& wrote) {
    const std::string& m = req.method;
    const bool is_get = m == "GET" || m == "HEAD";
    const bool is_write = m == "POST" || m == "PUT";
    const bool is_delete = m == "DELETE";
    auto segs = split_path(req.path);
    bool unstable = false;
    if (!segs.empty() && segs[0] == "unstable") {
      unstable = true;
      segs.erase(segs.begin());
    }
    auto not_found = [&] { return ApiResponse::error(404, "no such path: " + req.path); };
    if (segs.empty() || segs[0] != "controller") return not_found();
    const int64_t now = cfg.clock();

    if (segs.size() == 1) {
      if (!is_get) return method_not_allowed(m, req.path);
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
        auto body = parse_body(req);
        if (!body) return ApiResponse::error(400, body.error());
        wrote = true;
        return ctl.create_network(now, *body);
      }
      return method_not_allowed(m, req.path);
    }

    // /controller/network/<address>______ : create under that controller address.
    const std::string& id = segs[2];
    if (id.size() == 16 && id.compare(10, 6, "______") == 0) {
      if (segs.size() != 3 || unstable) return not_found();
      if (!is_write) return method_not_allowed(m, req.path);
      auto prefix = parse_hex_u64(id.substr(0, 10));
      if (id.substr(0, 10).find_first_not_of("0123456789abcdefABCDEF") != std::string::npos || !prefix)
        return ApiResponse::error(400, "bad controller address in '" + id + "'");
      if (ctl.address() != 0 && *prefix != ctl.address())
        return ApiResponse::error(400, "controller address " + id.substr(0, 10) + " is not this controller's (" +
                                           proto::address_to_string(ctl.address()) + ")");
      auto body = parse_body(req);
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
        auto body = parse_body(req);
        if (!body) return ApiResponse::error(400, body.error());
        wrote = true;
        return ctl.write_network(now, *nwid, *body);
      }
      if (is_delete) {
        wrote = true;
        return ctl.delete_network(now, *nwid);
      }
      return method_not_allowed(m, req.path);
    }
    if (segs[3] != "member") return not_found();

    if (segs.size() == 4) {
      if (!is_get) return method_not_allowed(m, req.path);
      if (!unstable) return ctl.list_members(*nwid);
      if (!db.get_network(*nwid))
        return ApiResponse::error(404, "network " + proto::network_id_to_string(*nwid) + " not found");
      json data = json::array();
      size_t authorized = 0;
      for (json& mem : db.members_of(*nwid)) {
        if (json_bool(mem, "authorized", false)) ++authorized;
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
      auto body = parse_body(req);
      if (!body) return ApiResponse::error(400, body.error());
      wrote = true;
      return ctl.write_member(now, *nwid, *addr, *body);
    }
    if (is_delete) {
      wrote = true;
      return ctl.delete_member(now, *nwid, *addr);
    }
    return method_not_allowed(m, req.path);
  }

  void serve(const httplib::Request& req, httplib::Response& res) {
    bool wrote = false;
    ApiResponse r;
    try {
      r = route(req, wrote);
    } catch (const std::exception& e) {
      r = ApiResponse::error(500, std::string("internal error: ") + e.what());
    }
    res.status = r.status;
    res.set_content(r.body.dump(2, ' ', false, json::error_handler_t::replace) + "\n", "application/json");
    // Pushes and revocations go out on the node thread before the client sees the reply
    // (when run_on_node runs synchronously, as the runtime's with_node does).
    if (wrote && r.ok() && cfg.run_on_node) {
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
  s.set_payload_max_length(4 << 20);
  s.set_pre_routing_handler([p](const httplib::Request& req, httplib::Response& res) {
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

Result<std::string> load_or_create_auth_token(const std::string& home) {
  std::string path = home + "/authtoken.secret";
  auto trim = [](std::string s) {
    size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
    return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
  };
  {
    std::ifstream in(path);
    if (in) {
      std::stringstream ss;
      ss << in.rdbuf();
      std::string tok = trim(ss.str());
      if (tok.empty()) return err(path + " is empty");
      return tok;
    }
  }
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string tok;
  uint8_t rnd[24];
  crypto::random_bytes(rnd, sizeof rnd);
  for (uint8_t b : rnd) tok.push_back(kAlphabet[b % 36]);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return err("cannot create " + path + ": " + std::strerror(errno));
  bool ok = ::write(fd, tok.data(), tok.size()) == ssize_t(tok.size());
  ::fchmod(fd, 0600);
  ::close(fd);
  if (!ok) return err("cannot write " + path);
  return tok;
}

}  // namespace zt::controller
