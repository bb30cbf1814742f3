// `ztcore controller`: a node that is a network controller (PROTOCOL.md §10), with its
// records in DIR/controller.db (SQLite) and zerotier-one's controller HTTP API on loopback.
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "base/hex.hpp"
#include "cli.hpp"
#include "controller/embedded_controller.hpp"
#include "controller/http_api.hpp"
#include "controller/db_factory.hpp"
#include "controller/sqlite_db.hpp"
#include "runtime/runtime.hpp"
#include "runtime/state.hpp"
#include "service/local_api.hpp"

namespace zt::cli {

namespace {

const char* kControllerUsage =
    "usage: ztcore controller --home DIR --port P [--bind IP] [--planet FILE]\n"
    "                         [--http IP:PORT] [--allow-loopback] [--db URL|FILE]\n"
    "\n"
    "Runs a ZeroTier node that controls the networks whose ID starts with its address.\n"
    "  --home DIR        state: identity, DIR/controller.db (networks and members, SQLite),\n"
    "                    DIR/authtoken.secret (API token, created 0600 if missing)\n"
    "  --port P          UDP port of the node (0 = any)\n"
    "  --bind IP         address to bind the UDP socket to (repeatable; default all); a\n"
    "                    loopback bind such as 127.0.0.1 turns on --allow-loopback\n"
    "  --planet FILE     world (planet) file with the roots; default DIR/planet\n"
    "  --http IP:PORT    the controller API (default 127.0.0.1:<P>, as zerotier-one does) and its\n"
    "                    web UI at http://IP:PORT/ (log in with DIR/authtoken.secret)\n"
    "  --allow-loopback  accept and use 127.0.0.0/8 and ::1 paths (local labs)\n"
    "  --db URL|FILE     storage: a SQLite file (default DIR/controller.db) or a PostgreSQL\n"
    "                    URL postgresql://user[:password]@host[:port]/dbname[?...] (libpq);\n"
    "                    several controllers may share one PostgreSQL database\n"
    "\n"
    "API (header X-ZT1-Auth: <token>): GET /controller, GET /controller/network,\n"
    "POST /controller/network/<address>______ (create), GET|POST|DELETE\n"
    "/controller/network/<nwid>[/member[/<address>]]; and the node's GET /status,\n"
    "GET /peer, GET /peer/<address> (as `ztcore node` serves them).\n"
    "Prints the controller address and the API URL, then runs until SIGINT/SIGTERM.\n"
    "Exit status: 0 stopped cleanly, 1 failure, 2 usage error.\n";

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "error: %s\n\n%s", msg.c_str(), kControllerUsage);
  return 2;
}

bool parse_port(const std::string& s, uint16_t& out) {
  if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos) return false;
  unsigned long v = std::stoul(s);
  if (v > 65535) return false;
  out = uint16_t(v);
  return true;
}

// "IP:PORT", "[v6]:PORT" or just "PORT" (127.0.0.1).
bool parse_http(const std::string& s, std::string& host, uint16_t& port) {
  std::string h = "127.0.0.1", p = s;
  if (!s.empty() && s[0] == '[') {
    auto close = s.find("]:");
    if (close == std::string::npos) return false;
    h = s.substr(1, close - 1);
    p = s.substr(close + 2);
  } else if (auto colon = s.rfind(':'); colon != std::string::npos) {
    h = s.substr(0, colon);
    p = s.substr(colon + 1);
  }
  auto ip = proto::InetAddress::parse(h);
  if (!ip || ip->empty() || !parse_port(p, port)) return false;
  host = h;
  return true;
}

// The controller's node as /status and /peer see it (service::NodeInfo).
class ControllerNodeInfo final : public service::NodeInfo {
 public:
  ControllerNodeInfo(runtime::NodeHandle& h, service::NodeSettings s) : h_(h), settings_(std::move(s)) {}
  int64_t now() override { return runtime::now_ms(); }
  core::NodeStatus status() override { return h_.status(); }
  service::NodeSettings settings() override { return settings_; }
  std::vector<core::PeerInfo> peers() override { return h_.peers(); }

 private:
  runtime::NodeHandle& h_;
  service::NodeSettings settings_;
};

}  // namespace

int cmd_controller(const Args& args) {
  if (wants_help(args)) {
    std::fputs(kControllerUsage, stdout);
    return 0;
  }
  std::string home, planet_path, http_spec, db_spec;
  bool have_port = false, allow_loopback = false;
  uint16_t port = 0;
  std::vector<proto::InetAddress> bind;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= args.size()) return false;
      out = args[++i];
      return true;
    };
    std::string v;
    if (a == "--home") {
      if (!value(home)) return usage_error("--home needs a directory");
    } else if (a == "--port") {
      if (!value(v) || !parse_port(v, port)) return usage_error("--port needs a port number (0..65535)");
      have_port = true;
    } else if (a == "--bind") {
      if (!value(v)) return usage_error("--bind needs an IP address");
      auto ip = proto::InetAddress::parse(v);
      if (!ip || ip->empty()) return usage_error("--bind: '" + v + "' is not an IP address");
      bind.push_back(*ip);
    } else if (a == "--planet") {
      if (!value(planet_path)) return usage_error("--planet needs a file");
    } else if (a == "--http") {
      if (!value(http_spec)) return usage_error("--http needs IP:PORT");
    } else if (a == "--db") {
      if (!value(db_spec) || db_spec.empty()) return usage_error("--db needs a postgresql:// URL or a file");
    } else if (a == "--allow-loopback") {
      allow_loopback = true;
    } else {
      return usage_error("unknown argument '" + a + "'");
    }
  }
  if (home.empty()) return usage_error("--home is required");
  if (!have_port) return usage_error("--port is required");
  std::string http_host = "127.0.0.1";
  uint16_t http_port = port;
  if (!http_spec.empty() && !parse_http(http_spec, http_host, http_port))
    return usage_error("--http: expected IP:PORT, got '" + http_spec + "'");

  // As `ztcore node` and `ztcore root` do: a loopback-only bind allows loopback paths.
  allow_loopback = allow_loopback_for(bind, allow_loopback);

  ::mkdir(home.c_str(), 0700);
  std::optional<Bytes> planet;
  if (!planet_path.empty()) {
    std::string text;
    if (!read_file(planet_path, text)) return 1;
    planet = Bytes(text.begin(), text.end());
  }
  auto db = controller::open_db(db_spec.empty() ? home + "/" + controller::SqliteControllerDb::kFileName : db_spec);
  if (!db) {
    std::fprintf(stderr, "error: %s\n", db.error().c_str());
    return 1;
  }
  auto token = runtime::load_or_create_auth_token(home);
  if (!token) {
    std::fprintf(stderr, "error: %s\n", token.error().c_str());
    return 1;
  }
  controller::ControllerOptions copts;
  copts.log = [](const std::string& line) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  };
  controller::EmbeddedController ctl(**db, copts);

  // Signals are taken synchronously by this thread (sigwait); every thread started from here
  // on inherits the blocked mask.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  ::signal(SIGPIPE, SIG_IGN);  // an API client hanging up mid-reply must not kill the node

  int rc = 0;
  {
    runtime::Runtime rt;
    runtime::NodeConfig cfg;
    cfg.home = home;
    cfg.port = port;
    cfg.bind = bind;
    cfg.planet = planet;
    cfg.allow_loopback = allow_loopback;
    cfg.controller = &ctl;
    auto node = rt.add_node(std::move(cfg));
    if (!node) {
      std::fprintf(stderr, "error: cannot start the node: %s\n", node.error().c_str());
      return 1;
    }
    std::shared_ptr<runtime::NodeHandle> h = *node;

    service::NodeSettings settings;
    settings.primary_port = h->port();
    settings.allow_loopback = allow_loopback;
    if (bind.empty()) {
      settings.listening_on = {"0.0.0.0/" + std::to_string(h->port()), "::/" + std::to_string(h->port())};
    } else {
      for (proto::InetAddress b : bind) {
        b.set_port(h->port());
        settings.listening_on.push_back(b.to_string());
      }
    }
    ControllerNodeInfo node_info(*h, settings);

    controller::HttpApiConfig hc;
    hc.node_api = [&node_info](const std::string& method,
                               const std::string& path) -> std::optional<controller::NodeApiReply> {
      auto r = service::handle_node_info(node_info, method, path);
      if (!r) return std::nullopt;
      return controller::NodeApiReply{r->status, r->body};
    };
    hc.bind = http_host;
    hc.port = http_port;
    hc.auth_token = *token;
    hc.clock = runtime::now_ms;
    // Pushes after an API write run on the controller thread (where requests are answered;
    // runtime/async_controller.hpp) and are sent by the node's loop.
    hc.run_on_node = [h](std::function<void(int64_t)> fn) { (void)h->controller_call(fn); };
    // A shared Db (PostgreSQL): changes other controller processes make reach this one
    // (NOTIFY) and are pushed at once, like a local API write.
    (*db)->set_change_listener([&ctl, h](const controller::DbChange& c) {
      if (!ctl.apply_external_change(c)) return;  // another controller's network
      controller::EmbeddedController* p = &ctl;
      (void)h->controller_post([p](int64_t now) { p->process_pending(now); });
    });
    auto api = controller::HttpApi::start(ctl, **db, hc);
    if (!api) {
      std::fprintf(stderr, "error: %s\n", api.error().c_str());
      (*db)->set_change_listener(nullptr);
      rt.remove_node(h);
      return 1;
    }
    const std::string addr = proto::address_to_string(h->address());
    std::printf("controller %s\n", addr.c_str());
    std::printf("port %u\n", unsigned(h->port()));
    std::printf("api %s/controller\n", (*api)->url().c_str());
    std::printf("token %s/authtoken.secret\n", home.c_str());
    std::printf("create a network: curl -X POST -H \"X-ZT1-Auth: $(cat %s/authtoken.secret)\" -d '{}' %s/controller/network/%s______\n",
                home.c_str(), (*api)->url().c_str(), addr.c_str());
    std::fflush(stdout);

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0) {
    }
    std::fprintf(stderr, "%s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    (*api)->stop();  // no more API calls (and no more controller_call from its threads)
    (*db)->set_change_listener(nullptr);
    h->set_controller(nullptr);  // returns once the controller thread is joined
    rt.remove_node(h);
  }
  return rc;
}

}  // namespace zt::cli
