// `ztcore root` and `ztcore node`: run one node in the foreground, print its events, serve the
// local JSON API (local_api.hpp) on 127.0.0.1, stop cleanly on SIGINT/SIGTERM.
//
// Home directory layout (zerotier-one's names): identity.secret (0600) / identity.public,
// planet, moons.d/, peers.d/, networks.d/ (<nwid>.conf: the core's cached network config;
// <nwid>.local.conf: "this node is a member", written on join, removed on leave, rejoined at
// start), authtoken.secret (0600), zerotier-one.port (the API's TCP port, removed on a clean
// exit). A root also keeps planet.signing.secret (0600): the 128-byte
// public‖private key that signed its planet, needed to sign an updated planet later.
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/hex.hpp"
#include "cli.hpp"
#include "crypto/crypto.hpp"
#include "proto/world.hpp"
#include "runtime/pcapng.hpp"
#include "runtime/runtime.hpp"
#include "runtime/state.hpp"
#include "service/local_api.hpp"
#include "service/local_server.hpp"
#include "stack/stack.hpp"

namespace zt::cli {

namespace {

using proto::InetAddress;
namespace api = service;

const char* kRootUsage =
    "usage: ztcore root --home DIR [--port P] [--bind IP]... [--endpoint IP/PORT]...\n"
    "                   [--planet-out FILE] [--moon FILE]... [--api-port N | --no-api] [--verbose]\n"
    "                   [--pcap FILE]\n"
    "\n"
    "Runs a root server. If DIR/planet is missing it creates a planet naming this node as its\n"
    "only root (signed with a new key kept in DIR/planet.signing.secret, mode 0600), with the\n"
    "--endpoint addresses or, by default, each --bind IP with the port. Nodes use that file:\n"
    "`ztcore node --planet DIR/planet`. Stops on SIGINT/SIGTERM, keeping its state.\n"
    "\n"
    "  --home DIR        state directory (created 0700 if missing)\n"
    "  --port P          UDP port (default 9993)\n"
    "  --bind IP         bind this address (repeatable; default 0.0.0.0 and ::); a loopback\n"
    "                    bind such as 127.0.0.1 turns on --allow-loopback\n"
    "  --endpoint A/P    stable endpoint to write into a new planet (repeatable)\n"
    "  --planet-out F    also copy the planet to F\n"
    "  --moon FILE       a moon (e.g. from `ztcore world make --type moon`) to serve or orbit\n"
    "  --api-port N      local JSON API TCP port on 127.0.0.1 (default: the UDP port; 0 = any)\n"
    "  --no-api          do not serve the local API\n"
    "  --allow-loopback  accept and use 127.0.0.0/8 and ::1 paths\n"
    "  --verbose, -v     also print TRACE events, one line each (code, reason, MACs, IPs, rule)\n"
    "  --pcap FILE       capture into a pcapng file (0644) until the node stops: interface\n"
    "                    \"udp\" holds every UDP datagram sent or received, with IPv4/IPv6 + UDP\n"
    "                    headers synthesized from the real addresses and ports (LINKTYPE_RAW;\n"
    "                    Wireshark's ZeroTier dissector decodes UDP 9993); one interface\n"
    "                    \"zt-<nwid>\" per network holds the decrypted Ethernet frames in and\n"
    "                    out, each commented with direction and verdict (\"in from <ztid>\n"
    "                    accepted\", \"out to <ztid> sent\", \"... dropped: <why>\")\n";

const char* kNodeUsage =
    "usage: ztcore node --home DIR [--port P] [--bind IP]... [--planet FILE] [--join NWID]...\n"
    "                   [--moon FILE]... [--allow-loopback] [--api-port N | --no-api] [--verbose]\n"
    "                   [--stack] [--pcap FILE]\n"
    "\n"
    "Runs a node: identity in DIR (created, identity.secret 0600, if missing), planet from\n"
    "--planet FILE (copied to DIR/planet) or DIR/planet. Prints its events and serves the\n"
    "local JSON API on 127.0.0.1 (token in DIR/authtoken.secret, port in DIR/zerotier-one.port;\n"
    "use `ztcore cli --home DIR ...`). Stops on SIGINT/SIGTERM, keeping its state.\n"
    "\n"
    "  --home DIR        state directory (created 0700 if missing)\n"
    "  --port P          UDP port (default 9993; 0 = any free port)\n"
    "  --bind IP         bind this address (repeatable; default 0.0.0.0 and ::); a loopback\n"
    "                    bind such as 127.0.0.1 turns on --allow-loopback\n"
    "  --planet FILE     the planet (root list) to use, e.g. written by `ztcore root`\n"
    "  --join NWID       join a virtual network (remembered in DIR/networks.d; networks joined\n"
    "                    before, by flag or API, are rejoined at start)\n"
    "  --moon FILE       a moon (e.g. from `ztcore world make --type moon`) to serve or orbit\n"
    "  --api-port N      local JSON API TCP port on 127.0.0.1 (default: the UDP port; 0 = any)\n"
    "  --no-api          do not serve the local API\n"
    "  --allow-loopback  accept and use 127.0.0.0/8 and ::1 paths\n"
    "  --verbose, -v     also print TRACE events, one line each (code, reason, MACs, IPs, rule)\n"
    "  --stack           run a userspace TCP/IP stack (lwIP) on every joined network: the\n"
    "                    node answers ARP, NDP and ping at its assigned addresses\n"
    "  --pcap FILE       capture into a pcapng file (0644) until the node stops: interface\n"
    "                    \"udp\" holds every UDP datagram sent or received, with IPv4/IPv6 + UDP\n"
    "                    headers synthesized from the real addresses and ports (LINKTYPE_RAW;\n"
    "                    Wireshark's ZeroTier dissector decodes UDP 9993); one interface\n"
    "                    \"zt-<nwid>\" per network holds the decrypted Ethernet frames in and\n"
    "                    out, each commented with direction and verdict (\"in from <ztid>\n"
    "                    accepted\", \"out to <ztid> sent\", \"... dropped: <why>\")\n";

struct Options {
  bool root = false;
  std::string home;
  uint16_t port = 9993;
  std::vector<InetAddress> bind;
  std::vector<InetAddress> endpoints;  // root
  std::string planet_in;               // node: --planet
  std::string planet_out;              // root: --planet-out
  std::vector<uint64_t> joins;
  std::vector<std::string> moon_files;
  bool allow_loopback = false;
  std::optional<uint16_t> api_port;
  bool no_api = false;
  bool verbose = false;
  bool stack = false;  // node: --stack
  std::string pcap;    // --pcap FILE
};

bool parse_port(const std::string& s, uint16_t& out) {
  if (s.empty() || s.size() > 5 || s.find_first_not_of("0123456789") != std::string::npos) return false;
  const unsigned long v = std::stoul(s);
  if (v > 65535) return false;
  out = uint16_t(v);
  return true;
}

// Returns 0 on success, 2 (after printing why) on a usage error.
int parse_options(const Args& args, Options& o) {
  const char* usage = o.root ? kRootUsage : kNodeUsage;
  auto fail = [&](const std::string& msg) {
    std::fprintf(stderr, "error: %s\n\n%s", msg.c_str(), usage);
    return 2;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= args.size()) return false;
      out = args[++i];
      return true;
    };
    std::string v;
    if (a == "--home") {
      if (!value(o.home) || o.home.empty()) return fail("--home needs a directory");
    } else if (a == "--port") {
      if (!value(v) || !parse_port(v, o.port)) return fail("--port needs a number 0..65535");
    } else if (a == "--bind") {
      if (!value(v)) return fail("--bind needs an IP address");
      auto ip = InetAddress::parse(v);
      if (!ip || ip->port() != 0) return fail("--bind " + v + ": expected a bare IP address (no port)");
      o.bind.push_back(*ip);
    } else if (a == "--allow-loopback") {
      o.allow_loopback = true;
    } else if (a == "--api-port") {
      uint16_t p = 0;
      if (!value(v) || !parse_port(v, p)) return fail("--api-port needs a number 0..65535");
      o.api_port = p;
    } else if (a == "--no-api") {
      o.no_api = true;
    } else if (a == "--verbose" || a == "-v") {
      o.verbose = true;
    } else if (!o.root && a == "--stack") {
      o.stack = true;
    } else if (a == "--pcap") {
      if (!value(o.pcap) || o.pcap.empty()) return fail("--pcap needs a file name");
    } else if (a == "--moon") {
      if (!value(v) || v.empty()) return fail("--moon needs a file name");
      o.moon_files.push_back(v);
    } else if (o.root && a == "--endpoint") {
      if (!value(v)) return fail("--endpoint needs IP/PORT");
      auto ep = InetAddress::parse(v);
      if (!ep || ep->port() == 0) return fail("--endpoint " + v + ": expected IP/PORT, e.g. 203.0.113.1/9993");
      o.endpoints.push_back(*ep);
    } else if (o.root && a == "--planet-out") {
      if (!value(o.planet_out) || o.planet_out.empty()) return fail("--planet-out needs a file name");
    } else if (!o.root && a == "--planet") {
      if (!value(o.planet_in) || o.planet_in.empty()) return fail("--planet needs a file name");
    } else if (!o.root && a == "--join") {
      if (!value(v)) return fail("--join needs a network id");
      auto nwid = v.size() == 16 ? parse_hex_u64(v) : std::nullopt;
      if (!nwid) return fail("--join " + v + ": expected a 16-hex-digit network id");
      o.joins.push_back(*nwid);
    } else {
      return fail("unknown option '" + a + "'");
    }
  }
  if (o.home.empty()) return fail("--home DIR is required");
  if (o.root && o.port == 0) return fail("a root needs a fixed --port (its planet names it)");
  return 0;
}

std::string timestamp() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t{};
  gmtime_r(&ts.tv_sec, &t);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                t.tm_hour, t.tm_min, t.tm_sec, ts.tv_nsec / 1000000);
  return buf;
}

const char* event_name(core::EventType t) {
  switch (t) {
    case core::EventType::Up: return "UP";
    case core::EventType::Offline: return "OFFLINE";
    case core::EventType::Online: return "ONLINE";
    case core::EventType::Down: return "DOWN";
    case core::EventType::IdentityCollision: return "IDENTITY_COLLISION";
    case core::EventType::Trace: return "TRACE";
    case core::EventType::UserMessage: return "USER_MESSAGE";
    case core::EventType::RemoteTrace: return "REMOTE_TRACE";
    case core::EventType::PeerDirect: return "PEER_DIRECT";
    default: return "EVENT";
  }
}

// One line per event: "<UTC time> <EVENT> <details>". Runs on the loop thread.
void print_event(const core::Event& e, bool verbose) {
  if ((e.type == core::EventType::Trace || e.type == core::EventType::RemoteTrace) && !verbose) return;
  std::string detail = e.text;
  if (e.type == core::EventType::Online || e.type == core::EventType::Offline) detail.clear();
  if (e.type == core::EventType::UserMessage)
    detail = "from " + proto::address_to_string(e.peer) + " type 0x" + to_hex(e.type_id, 16) + " " +
             std::to_string(e.data.size()) + " bytes";
  if (e.type == core::EventType::RemoteTrace)
    detail = "from " + proto::address_to_string(e.peer) + " " + std::to_string(e.data.size()) + " bytes";
  // A structured trace as one line: code, name, network, reason, MACs, IPs/ports, rule.
  if (e.type == core::EventType::Trace && e.trace) detail = core::trace_summary(*e.trace);
  std::printf("%s %s%s%s\n", timestamp().c_str(), event_name(e.type), detail.empty() ? "" : " ", detail.c_str());
  std::fflush(stdout);
}

// One line per network change: "<UTC time> NETWORK_<OP> <nwid> <STATUS> [name] [ips]".
void print_network(uint64_t nwid, core::NetworkOp op, const core::NetworkInfo& n) {
  const char* what = op == core::NetworkOp::Up             ? "NETWORK_UP"
                     : op == core::NetworkOp::ConfigUpdate ? "NETWORK_CONFIG"
                     : op == core::NetworkOp::Down         ? "NETWORK_DOWN"
                                                           : "NETWORK_LEFT";
  std::string ips;
  for (const auto& a : n.assigned_addresses) ips += " " + a.to_string();
  std::printf("%s %s %s %s%s%s%s\n", timestamp().c_str(), what, to_hex(nwid, 16).c_str(),
              core::network_status_name(n.status), n.name.empty() ? "" : " name=", n.name.c_str(), ips.c_str());
  std::fflush(stdout);
}

// Network membership markers: DIR/networks.d/<nwid>.local.conf (zerotier-one's per-network
// local settings file; its presence means "joined").
std::string membership_file(const std::string& home, uint64_t nwid) {
  return home + "/networks.d/" + to_hex(nwid, 16) + ".local.conf";
}
bool remember_membership(const std::string& home, uint64_t nwid) {
  return runtime::write_file_atomic(membership_file(home, nwid),
                                    as_bytes("allowManaged=1\nallowGlobal=0\nallowDefault=0\nallowDNS=0\n"), 0644);
}
void forget_membership(const std::string& home, uint64_t nwid) { ::unlink(membership_file(home, nwid).c_str()); }
// Networks remembered in DIR/networks.d (<nwid>.local.conf or a cached <nwid>.conf).
std::vector<uint64_t> remembered_networks(const std::string& home) {
  std::vector<uint64_t> out;
  DIR* d = ::opendir((home + "/networks.d").c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() < 21 || name[16] != '.') continue;
    const std::string ext = name.substr(16);
    if (ext != ".conf" && ext != ".local.conf") continue;
    auto nwid = parse_hex_u64(name.substr(0, 16));
    if (nwid && *nwid && std::find(out.begin(), out.end(), *nwid) == out.end()) out.push_back(*nwid);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Loads DIR/planet.signing.secret or creates one (128 bytes: public ‖ private, 0600).
Result<proto::WorldKeypair> load_or_create_signing_key(const std::string& path) {
  if (auto b = runtime::read_file(path)) {
    auto kp = proto::WorldKeypair::parse(*b);
    if (!kp.ok()) return err(path + ": " + kp.error());
    return kp;
  }
  proto::WorldKeypair kp;
  crypto::random_bytes(kp.priv.data(), kp.priv.size());
  kp.pub = crypto::public_from_private(kp.priv);
  Bytes out(kp.pub.begin(), kp.pub.end());
  out.insert(out.end(), kp.priv.data(), kp.priv.data() + kp.priv.size());
  const bool ok = runtime::write_file_atomic(path, out, 0600);
  crypto::secure_zero(out.data(), out.size());
  if (!ok) return err("cannot write " + path);
  return kp;
}

// The root's planet: DIR/planet if present (it must name this node), else a new one.
Result<Bytes> ensure_root_planet(const Options& o, const proto::Identity& id) {
  const std::string path = o.home + "/planet";
  if (auto b = runtime::read_file(path)) {
    auto w = proto::World::parse(*b);
    if (!w.ok()) return err(path + " is not a valid world: " + w.error());
    if (!w->verify()) return err(path + ": signature does not verify");
    bool named = false;
    for (const auto& r : w->roots) named |= r.identity == id;
    if (!named)
      return err(path + " does not name this node (" + proto::address_to_string(id.address()) +
                 ") as a root; move it away to create a new planet");
    if (!o.endpoints.empty())
      std::fprintf(stderr, "note: %s exists; --endpoint is ignored (move it away to make a new planet)\n",
                   path.c_str());
    return *b;
  }

  std::vector<InetAddress> eps = o.endpoints;
  if (eps.empty())
    for (InetAddress b : o.bind) {
      const bool wildcard = std::all_of(b.ip(), b.ip() + b.ip_size(), [](uint8_t x) { return x == 0; });
      if (wildcard) continue;
      b.set_port(o.port);
      eps.push_back(b);
    }
  if (eps.empty())
    return err("cannot tell nodes where this root is: give --endpoint IP/PORT (or --bind a specific IP)");
  if (eps.size() > proto::World::kMaxEndpointsPerRoot) return err("too many endpoints (at most 32)");

  auto kp = load_or_create_signing_key(o.home + "/planet.signing.secret");
  if (!kp.ok()) return kp.take_error();
  uint32_t wid = 0;
  while (wid == 0) crypto::random_bytes(reinterpret_cast<uint8_t*>(&wid), sizeof wid);
  proto::WorldRoot root;
  root.identity = proto::Identity::parse(id.to_string(false)).value();  // public form
  root.stable_endpoints = eps;
  auto w = proto::World::make(proto::World::Type::Planet, wid, uint64_t(runtime::now_ms()), *kp, {root});
  if (!w.ok()) return err("cannot make the planet: " + w.error());
  Bytes bytes = w->serialize();
  if (!runtime::write_file_atomic(path, bytes, 0644)) return err("cannot write " + path);
  std::string list;
  for (const auto& e : eps) list += (list.empty() ? "" : ", ") + e.to_string();
  std::printf("created planet %s (world id %u, endpoints %s)\n", path.c_str(), wid, list.c_str());
  return bytes;
}

// The API's view of the running node.
class NodeBackend final : public api::Backend {
 public:
  NodeBackend(runtime::NodeHandle& h, std::string home, api::NodeSettings s, service::TraceLog* traces)
      : h_(h), home_(std::move(home)), settings_(std::move(s)), traces_(traces) {}
  service::TraceLog* trace_log() override { return traces_; }
  int64_t now() override { return runtime::now_ms(); }
  core::NodeStatus status() override { return h_.status(); }
  api::NodeSettings settings() override { return settings_; }
  std::vector<core::PeerInfo> peers() override { return h_.peers(); }
  std::optional<proto::World> moon_world(uint64_t id) override {
    auto b = runtime::read_file(home_ + "/moons.d/" + to_hex(id, 16) + ".moon");
    if (!b) return std::nullopt;
    auto w = proto::World::parse(*b);
    if (!w.ok()) return std::nullopt;
    return *w;
  }
  // core::NodeStatus lists only moons whose world has arrived, so orbits made through the API
  // are remembered here until then (the core, too, keeps pending orbits only in memory).
  // Called on the API thread only.
  Status orbit(uint64_t id, proto::Address seed) override {
    Status st = h_.orbit(id, seed);
    if (st.ok()) pending_.insert(id);
    return st;
  }
  Status deorbit(uint64_t id) override {
    pending_.erase(id);
    return h_.deorbit(id);
  }
  std::vector<uint64_t> orbiting() override {
    auto ids = h_.status().moons;
    for (uint64_t p : pending_)
      if (std::find(ids.begin(), ids.end(), p) == ids.end()) ids.push_back(p);
    return ids;
  }
  std::optional<Status> join(uint64_t nwid) override {
    Status st = h_.join(nwid);
    if (st.ok() && !remember_membership(home_, nwid)) return Status(err("joined, but cannot write " + membership_file(home_, nwid)));
    return st;
  }
  std::optional<Status> leave(uint64_t nwid) override {
    Status st = h_.leave(nwid);
    if (st.ok()) forget_membership(home_, nwid);
    return st;
  }
  api::json networks() override {
    api::json a = api::json::array();
    for (const auto& n : h_.networks()) a.push_back(api::network_json(n));
    return a;
  }

 private:
  runtime::NodeHandle& h_;
  std::string home_;
  api::NodeSettings settings_;
  service::TraceLog* traces_;
  std::set<uint64_t> pending_;
};

int run(const Args& args, bool root) {
  Options o;
  o.root = root;
  if (wants_help(args)) {
    std::fputs(root ? kRootUsage : kNodeUsage, stdout);
    return 0;
  }
  if (int rc = parse_options(args, o)) return rc;
  const char* self = root ? "root" : "node";

  // SIGINT/SIGTERM are taken with sigwait() below; block them before any thread starts so
  // every thread inherits the mask and the signal reaches only this one.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  crypto::init();

  // A node's planet first (cheap to check, and identity generation takes a moment).
  std::optional<Bytes> planet;
  if (!root && !o.planet_in.empty()) {
    auto b = runtime::read_file(o.planet_in);
    if (!b) {
      std::fprintf(stderr, "error: cannot read %s: %s\n", o.planet_in.c_str(), std::strerror(errno));
      return 1;
    }
    auto w = proto::World::parse(*b);
    if (!w.ok() || w->type != proto::World::Type::Planet) {
      std::fprintf(stderr, "error: %s is not a planet: %s\n", o.planet_in.c_str(),
                   w.ok() ? "it is a moon" : w.error().c_str());
      return 1;
    }
    planet = *b;  // the runtime verifies it and stores it as DIR/planet
  } else if (!root && !exists(o.home + "/planet")) {
    std::fprintf(stderr, "error: no planet: give --planet FILE (e.g. the planet `ztcore root` wrote)\n");
    return 1;
  }

  std::vector<Bytes> moons;
  for (const auto& f : o.moon_files) {
    auto b = runtime::read_file(f);
    auto w = b ? proto::World::parse(*b) : Result<proto::World>(err(std::strerror(errno)));
    if (!w.ok() || w->type != proto::World::Type::Moon) {
      std::fprintf(stderr, "error: %s is not a moon: %s\n", f.c_str(), w.ok() ? "it is a planet" : w.error().c_str());
      return 1;
    }
    moons.push_back(*b);
  }

  auto store = runtime::FileStateStore::open(o.home);
  if (!store.ok()) {
    std::fprintf(stderr, "error: %s\n", store.error().c_str());
    return 1;
  }
  const bool had_identity = exists(o.home + "/identity.secret");
  if (!had_identity) std::printf("generating identity in %s/identity.secret ...\n", o.home.c_str());
  auto id = runtime::load_or_create_identity(**store);
  if (!id.ok()) {
    std::fprintf(stderr, "error: %s\n", id.error().c_str());
    return 1;
  }

  if (root) {
    auto p = ensure_root_planet(o, *id);
    if (!p.ok()) {
      std::fprintf(stderr, "error: %s\n", p.error().c_str());
      return 1;
    }
    planet = *p;
    if (!o.planet_out.empty() && !runtime::write_file_atomic(o.planet_out, *planet, 0644)) {
      std::fprintf(stderr, "error: cannot write %s\n", o.planet_out.c_str());
      return 1;
    }
  }

  o.allow_loopback = allow_loopback_for(o.bind, o.allow_loopback);

  runtime::Runtime rt;
  runtime::NodeConfig cfg;
  cfg.home = o.home;
  cfg.port = o.port;
  cfg.bind = o.bind;
  cfg.planet = planet;
  cfg.moons = moons;
  cfg.identity = *id;
  cfg.allow_loopback = o.allow_loopback;
  const bool verbose = o.verbose;
  // Traces are kept for GET /trace (`ztcore cli trace`) whether or not -v prints them.
  auto traces = std::make_shared<service::TraceLog>(1000);
  cfg.on_event = [verbose, traces](const core::Event& e) {
    traces->push(e, runtime::now_ms());
    print_event(e, verbose);
  };
  cfg.on_network = print_network;
  // Networks joined before (by flag or API) and the --join ones; remember the new ones.
  cfg.join = remembered_networks(o.home);
  for (uint64_t nwid : o.joins) {
    if (std::find(cfg.join.begin(), cfg.join.end(), nwid) == cfg.join.end()) cfg.join.push_back(nwid);
    if (!remember_membership(o.home, nwid))
      std::fprintf(stderr, "warning: cannot write %s\n", membership_file(o.home, nwid).c_str());
  }
  const std::vector<uint64_t> joined = cfg.join;
  if (!o.pcap.empty()) {
    // Opened before the node starts, so the capture holds its very first datagrams.
    cfg.pcap = std::make_shared<runtime::PcapngWriter>();
    if (auto st = cfg.pcap->open(o.pcap, "ztcore " + std::string(self)); !st.ok()) {
      std::fprintf(stderr, "error: %s\n", st.error().c_str());
      return 1;
    }
  }
  std::shared_ptr<stack::NodeStack> ip_stack;
  if (o.stack) ip_stack = stack::NodeStack::attach(cfg);
  auto h = rt.add_node(std::move(cfg));
  if (!h.ok()) {
    std::fprintf(stderr, "error: cannot start the %s: %s\n", self, h.error().c_str());
    return 1;
  }
  runtime::NodeHandle& node = **h;
  if (ip_stack) ip_stack->start(rt, *h);

  api::NodeSettings settings;
  settings.primary_port = node.port();
  settings.allow_loopback = o.allow_loopback;
  if (o.bind.empty()) {
    settings.listening_on = {"0.0.0.0/" + std::to_string(node.port()), "::/" + std::to_string(node.port())};
  } else {
    for (InetAddress b : o.bind) {
      b.set_port(node.port());
      settings.listening_on.push_back(b.to_string());
    }
  }
  std::string udp;
  for (const auto& l : settings.listening_on) udp += (udp.empty() ? "" : " ") + l;
  std::printf("%s %s started (UDP %s)\n", self, proto::address_to_string(node.address()).c_str(), udp.c_str());
  if (root) std::printf("planet %s/planet\n", o.home.c_str());

  std::unique_ptr<service::LocalServer> server;
  std::unique_ptr<NodeBackend> backend;
  const std::string port_file = o.home + "/" + api::kPortFile;
  if (!o.no_api) {
    auto token = runtime::load_or_create_auth_token(o.home);
    if (!token.ok()) {
      std::fprintf(stderr, "error: %s\n", token.error().c_str());
      return 1;
    }
    const uint16_t want = o.api_port.value_or(node.port());
    backend = std::make_unique<NodeBackend>(node, o.home, settings, traces.get());
    auto started = service::LocalServer::start(
        "127.0.0.1", want,
        [b = backend.get(), t = *token](const service::Request& req) { return service::handle(*b, t, req); });
    if (!started.ok()) {
      std::fprintf(stderr, "error: local API: %s (choose another with --api-port N, or --no-api)\n",
                   started.error().c_str());
      return 1;
    }
    server = std::move(*started);
    const uint16_t bound = server->port();
    const std::string port_text = std::to_string(bound);
    if (!runtime::write_file_atomic(port_file, as_bytes(port_text), 0644)) {
      std::fprintf(stderr, "error: cannot write %s\n", port_file.c_str());
      return 1;
    }
    std::printf("local API http://127.0.0.1:%u/ (token in %s/%s)\n", unsigned(bound), o.home.c_str(),
                api::kTokenFile);
  }
  for (uint64_t nwid : joined) std::printf("joined network %s\n", to_hex(nwid, 16).c_str());
  if (!o.pcap.empty()) std::printf("capturing to %s (pcapng)\n", o.pcap.c_str());

  int sig = 0;
  sigwait(&sigs, &sig);
  std::printf("%s: %s, stopping\n", timestamp().c_str(), sig == SIGINT ? "SIGINT" : "SIGTERM");
  if (server) server->stop();
  if (!o.no_api) ::unlink(port_file.c_str());
  if (ip_stack) ip_stack->close();
  const Status pcap_closed = node.pcap_stop();
  rt.remove_node(*h);
  if (!pcap_closed.ok()) {
    std::fprintf(stderr, "error: %s\n", pcap_closed.error().c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int cmd_root(const Args& args) { return run(args, true); }
int cmd_node(const Args& args) { return run(args, false); }

}  // namespace zt::cli
