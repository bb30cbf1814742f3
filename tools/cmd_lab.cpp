// `ztcore lab`: the one-command local lab. In one process, on 127.0.0.1 only: a root, a
// controller with a private network, and N member nodes; authorize them, wait until all are
// online with a config, then run the seed's discovery (broadcast ping, unicast pongs).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <netinet/in.h>
#include <thread>

#include "base/hex.hpp"
#include "cli.hpp"
#include "controller/embedded_controller.hpp"
#include "proto/world.hpp"
#include "runtime/identity_store.hpp"
#include "runtime/pcapng.hpp"
#include "runtime/runtime.hpp"
#include "stack/stack.hpp"

namespace zt::cli {
using controller::json;

namespace {

using Clock = std::chrono::steady_clock;
constexpr uint16_t kLabEthertype = 0x88b5;  // IEEE 802 local experimental

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

struct LabState {
  std::mutex mu;
  std::condition_variable cv;
  std::map<proto::Address, bool> online;
  std::map<proto::Address, core::NetworkInfo> nets;
  struct Rx {
    proto::Address at;
    proto::Mac src, dst;
    std::string text;
    double at_ms;
  };
  std::vector<Rx> rx;
  Clock::time_point t0 = Clock::now();
};

std::vector<proto::Identity> generate_identities(size_t n) {
  std::vector<proto::Identity> out(n);
  std::vector<std::thread> th;
  const size_t workers = std::max(1u, std::thread::hardware_concurrency());
  for (size_t w = 0; w < workers; ++w)
    th.emplace_back([&, w] {
      for (size_t i = w; i < n; i += workers) out[i] = runtime::generate_identity();
    });
  for (auto& t : th) t.join();
  return out;
}

const char* kLabHelp =
    "usage: ztcore lab [-n N] [--timeout SECONDS] [--quiet] [--tcp] [--no-stack] [--pcap FILE]\n"
    "\n"
    "Starts, in this process and on 127.0.0.1 only, a root server, a network controller with a\n"
    "private network, and N member nodes (default 3). Authorizes the members, waits until all\n"
    "are online with a network config, prints each node's address, MAC and IPs, then runs the\n"
    "discovery: node 1 broadcasts `ping from ztid <addr>` and every other node answers\n"
    "`pong from ztid <addr>` to node 1's MAC. Exit 0 when every pong arrived.\n"
    "\n"
    "Every member runs a userspace TCP/IP stack (lwIP) on the network, so it answers ARP,\n"
    "NDP and ping at its addresses (--no-stack: frames only). With --tcp, node 1 then serves\n"
    "TCP port 7000, every other node connects to node 1's IPv4 address, sends its ztid and\n"
    "gets `hello <ztid> from <n1 ztid>` back; per-node connect and round-trip times are\n"
    "printed, and the exit status is 0 only if every node got its answer.\n"
    "\n"
    "--pcap FILE writes one pcapng file with every node of the lab (root, controller, n1..nN):\n"
    "per node an interface \"<node>/udp\" with its UDP datagrams (IPv4 + UDP headers synthesized\n"
    "from the real addresses and ports, LINKTYPE_RAW) and \"<node>/zt-<nwid>\" with the decrypted\n"
    "Ethernet frames in and out, each commented (\"in from <ztid> accepted\", \"out to\n"
    "broadcast sent\"). The lab exits when done, so the file is complete; it opens in\n"
    "Wireshark and Scapy (rdpcap).\n";

constexpr uint16_t kTcpPort = 7000;

// Node 1 serves one line per connection: "hello <ztid> from <n1 ztid>".
void tcp_serve(stack::Socket& srv, const std::string& me, size_t count, Clock::time_point deadline) {
  std::vector<std::thread> handlers;
  (void)srv.set_timeout(500);
  for (size_t i = 0; i < count && Clock::now() < deadline;) {
    auto c = srv.accept(nullptr);
    if (!c.ok()) continue;  // timeout: look at the deadline again
    ++i;
    handlers.emplace_back([c = *c, me] {
      (void)c->set_timeout(10000);
      uint8_t buf[64];
      auto got = c->recv(buf, sizeof buf);
      if (!got.ok() || *got == 0) return;
      const std::string reply = "hello " + std::string(buf, buf + *got) + " from " + me;
      (void)c->send(as_bytes(reply));
      (void)c->shutdown(SHUT_WR);
      (void)c->recv(buf, sizeof buf);  // until the client closes
    });
  }
  for (auto& h : handlers) h.join();
}

struct TcpResult {
  bool ok = false;
  double connect_ms = 0, rtt_ms = 0;
  std::string answer, error;
};

// One client: connect (retried while the server's stack or ARP group is not there yet),
// send the ztid, read the answer.
TcpResult tcp_client(stack::NodeStack& st, const proto::InetAddress& server, const std::string& ztid,
                     Clock::time_point deadline) {
  TcpResult r;
  auto t = Clock::now();
  std::shared_ptr<stack::Socket> s;
  while (!s && Clock::now() < deadline) {
    auto c = st.socket(AF_INET, SOCK_STREAM);
    if (!c.ok()) {
      r.error = c.error();
      return r;
    }
    (void)(*c)->set_timeout(1000);
    auto rc = (*c)->connect(server, kTcpPort);
    if (rc.ok()) {
      s = *c;
    } else {
      r.error = rc.error();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  if (!s) return r;
  r.connect_ms = ms_since(t);
  t = Clock::now();
  (void)s->set_timeout(5000);
  auto sent = s->send(as_bytes(ztid));
  if (!sent.ok()) {
    r.error = sent.error();
    return r;
  }
  std::string answer;
  uint8_t buf[256];
  for (;;) {
    auto got = s->recv(buf, sizeof buf);
    if (!got.ok()) {
      r.error = got.error();
      return r;
    }
    if (*got == 0) break;
    answer.append(buf, buf + *got);
  }
  r.rtt_ms = ms_since(t);
  r.answer = answer;
  r.ok = answer.rfind("hello " + ztid + " from ", 0) == 0;
  if (!r.ok) r.error = "unexpected answer \"" + answer + "\"";
  return r;
}

// n1 serves, every other node connects in parallel (a few workers), prints the timings.
template <class Say>
bool run_tcp(const std::vector<std::shared_ptr<stack::NodeStack>>& stacks,
             const std::vector<std::shared_ptr<runtime::NodeHandle>>& nodes, uint64_t nwid,
             const proto::InetAddress& server_ip, Clock::time_point deadline, Say say) {
  const size_t n = nodes.size();
  if (server_ip.empty()) {
    std::fprintf(stderr, "error: n1 has no IPv4 address\n");
    return false;
  }
  while (!stacks[0]->ready(nwid) && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::shared_ptr<stack::Socket> srv;
  if (auto s = stacks[0]->socket(AF_INET, SOCK_STREAM); s.ok()) srv = *s;
  if (!srv || !srv->bind(std::nullopt, kTcpPort).ok() || !srv->listen(64).ok()) {
    std::fprintf(stderr, "error: n1 cannot listen on TCP %u\n", kTcpPort);
    return false;
  }
  const std::string me = proto::address_to_string(nodes[0]->address());
  say("\n[lab] tcp: n1 serves %s:%u; %zu nodes connect, send their ztid, read the answer\n",
      server_ip.ip_string().c_str(), kTcpPort, n - 1);
  std::thread server([&] { tcp_serve(*srv, me, n - 1, deadline); });
  std::vector<TcpResult> res(n);
  std::atomic<size_t> next{1};
  std::vector<std::thread> workers;
  const auto t0 = Clock::now();
  for (size_t w = 0; w < std::min<size_t>(8, n - 1); ++w)
    workers.emplace_back([&] {
      for (size_t i; (i = next++) < n;)
        res[i] = tcp_client(*stacks[i], server_ip, proto::address_to_string(nodes[i]->address()), deadline);
    });
  for (auto& w : workers) w.join();
  const double total = ms_since(t0);
  server.join();
  size_t good = 0;
  for (size_t i = 1; i < n; ++i) {
    const auto& r = res[i];
    good += r.ok;
    if (r.ok)
      say("  n%-5zu connect %7.1f ms  round trip %7.1f ms  \"%s\"\n", i + 1, r.connect_ms, r.rtt_ms, r.answer.c_str());
    else
      say("  n%-5zu FAILED: %s\n", i + 1, r.error.c_str());
  }
  const bool ok = good == n - 1;
  say("[lab] tcp %s: %zu/%zu nodes got their answer in %.1f ms\n", ok ? "OK" : "FAILED", good, n - 1, total);
  return ok;
}

int lab_main(const Args& args, std::shared_ptr<runtime::PcapngWriter>& pcap) {
  size_t n = 3;
  int timeout_s = 30;
  bool quiet = false;
  bool tcp = false, use_stack = true;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if ((a == "-n" || a == "--nodes") && i + 1 < args.size()) {
      try {
        n = std::stoul(args[++i]);
      } catch (...) {
        n = 0;
      }
      if (n < 2 || n > 500) {
        std::fprintf(stderr, "error: -n must be between 2 and 500\n");
        return 2;
      }
    } else if (a == "--timeout" && i + 1 < args.size()) {
      timeout_s = std::atoi(args[++i].c_str());
      if (timeout_s <= 0) {
        std::fprintf(stderr, "error: --timeout must be a positive number of seconds\n");
        return 2;
      }
    } else if (a == "--quiet" || a == "-q") {
      quiet = true;
    } else if (a == "--tcp") {
      tcp = true;
    } else if (a == "--no-stack") {
      use_stack = false;
    } else if (a == "--pcap" && i + 1 < args.size()) {
      pcap = std::make_shared<runtime::PcapngWriter>();
      if (auto st = pcap->open(args[++i], "ztcore lab"); !st.ok()) {
        std::fprintf(stderr, "error: %s\n", st.error().c_str());
        pcap.reset();
        return 1;
      }
    } else {
      std::fprintf(stderr, "error: unknown argument '%s'\n\n%s", a.c_str(), kLabHelp);
      return 2;
    }
  }
  auto say = [&](const char* fmt, auto... xs) {
    if (!quiet) std::printf(fmt, xs...);
    std::fflush(stdout);
  };
  if (pcap) say("[lab] capturing every node to %s (pcapng)\n", pcap->path().c_str());
  LabState st;
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);

  // 1. Identities (memory-hard generation, in parallel).
  auto t = Clock::now();
  say("[lab] generating %zu identities...\n", n + 2);
  auto ids = generate_identities(n + 2);
  const double t_ids = ms_since(t);
  say("[lab]   done in %.0f ms\n", t_ids);

  runtime::Runtime rt;
  // Declared after rt: destroyed (closed) before it, as NodeStack requires.
  std::vector<std::shared_ptr<stack::NodeStack>> stacks;
  const auto loopback = *proto::InetAddress::parse("127.0.0.1");

  // 2. Root with a planet naming it. The planet must carry the root's port, so a free port is
  //    found by binding a probe node, which is closed again; another process could take the
  //    port in between, so this is retried a few times.
  t = Clock::now();
  Bytes planet_bytes;
  auto common = [&](const proto::Identity& id, uint16_t port, const std::string& label) {
    runtime::NodeConfig c;
    c.pcap = pcap;
    c.pcap_label = label;
    c.identity = id;
    c.port = port;
    c.bind = {loopback};
    c.planet = planet_bytes;
    c.allow_loopback = true;
    const proto::Address me = id.address();
    c.on_event = [&st, me](const core::Event& e) {
      if (e.type != core::EventType::Online && e.type != core::EventType::Offline) return;
      std::lock_guard lk(st.mu);
      st.online[me] = e.type == core::EventType::Online;
      st.cv.notify_all();
    };
    c.on_network = [&st, me](uint64_t, core::NetworkOp, const core::NetworkInfo& info) {
      std::lock_guard lk(st.mu);
      st.nets[me] = info;
      st.cv.notify_all();
    };
    c.on_frame = [&st, me](uint64_t, proto::Mac s, proto::Mac d, uint16_t et, uint16_t, ByteSpan data) {
      if (et != kLabEthertype) return;
      std::lock_guard lk(st.mu);
      st.rx.push_back({me, s, d, std::string(data.begin(), data.end()), ms_since(st.t0)});
      st.cv.notify_all();
    };
    return c;
  };

  Bytes kp_bytes(128);
  std::copy(ids[0].public_key().begin(), ids[0].public_key().end(), kp_bytes.begin());
  std::copy(ids[0].private_key().data(), ids[0].private_key().data() + 64, kp_bytes.begin() + 64);
  const auto kp = proto::WorldKeypair::parse(kp_bytes);
  uint16_t root_port = 0;
  std::shared_ptr<runtime::NodeHandle> root;
  std::string root_error = "no free port";
  for (int attempt = 0; attempt < 5 && !root; ++attempt) {
    runtime::NodeConfig probe;
    probe.identity = ids[0];
    probe.port = 0;
    probe.bind = {loopback};
    auto h = rt.add_node(probe);
    if (!h.ok()) {
      root_error = h.error();
      continue;
    }
    root_port = (*h)->port();
    rt.remove_node(*h);
    proto::WorldRoot wr;
    wr.identity = proto::Identity::parse(ids[0].to_string(false)).value();
    wr.stable_endpoints.push_back(proto::InetAddress::v4(0x7f000001, root_port));
    auto planet = proto::World::make(proto::World::Type::Planet, 0x1ab, uint64_t(runtime::now_ms()), *kp, {wr});
    if (!planet.ok()) {
      std::fprintf(stderr, "error: cannot make the lab planet: %s\n", planet.error().c_str());
      return 1;
    }
    planet_bytes = planet->serialize();
    auto r = rt.add_node(common(ids[0], root_port, "root"));
    if (r.ok())
      root = *r;
    else
      root_error = r.error();
  }
  if (!root) {
    std::fprintf(stderr, "error: cannot start the root: %s\n", root_error.c_str());
    return 1;
  }
  say("[lab] root        %s at 127.0.0.1/%u\n", proto::address_to_string(ids[0].address()).c_str(), root_port);

  // 3. Controller with a private network.
  controller::MemoryControllerDb db;
  controller::EmbeddedController ctl(db);
  auto ccfg = common(ids[1], 0, "controller");
  ccfg.controller = &ctl;
  auto cnode = rt.add_node(ccfg);
  if (!cnode.ok()) {
    std::fprintf(stderr, "error: cannot start the controller: %s\n", cnode.error().c_str());
    return 1;
  }
  const uint64_t nwid = (ids[1].address() << 24) | 0x1ab001;
  {
    json net = {{"name", "ztcore-lab"},
                {"private", true},
                {"enableBroadcast", true},
                {"multicastLimit", 64},
                {"v4AssignMode", {{"zt", true}}},
                {"v6AssignMode", {{"rfc4193", true}, {"6plane", false}, {"zt", false}}},
                {"ipAssignmentPools", json::array({{{"ipRangeStart", "10.147.20.1"}, {"ipRangeEnd", "10.147.20.254"}}})},
                {"routes", json::array({{{"target", "10.147.20.0/24"}, {"via", nullptr}}})}};
    auto r = ctl.write_network(runtime::now_ms(), nwid, net);
    if (!r.ok()) {
      std::fprintf(stderr, "error: cannot create the lab network: %s\n", r.body.dump().c_str());
      return 1;
    }
  }
  say("[lab] controller  %s, private network %s\n", proto::address_to_string(ids[1].address()).c_str(),
      to_hex(nwid, 16).c_str());

  // 4. Members: start, join.
  std::vector<std::shared_ptr<runtime::NodeHandle>> nodes;
  for (size_t i = 0; i < n; ++i) {
    auto c = common(ids[i + 2], 0, "n" + std::to_string(i + 1));
    c.join.push_back(nwid);
    std::shared_ptr<stack::NodeStack> ip = use_stack ? stack::NodeStack::attach(c) : nullptr;
    auto h = rt.add_node(c);
    if (!h.ok()) {
      std::fprintf(stderr, "error: cannot start node %zu: %s\n", i + 1, h.error().c_str());
      return 1;
    }
    if (ip) ip->start(rt, *h);
    stacks.push_back(ip);
    nodes.push_back(*h);
  }
  const double t_start = ms_since(t);
  say("[lab] %zu nodes started in %.0f ms; waiting for ONLINE...\n", n, t_start);

  auto wait_until = [&](auto pred) {
    std::unique_lock lk(st.mu);
    return st.cv.wait_until(lk, deadline, pred);
  };
  t = Clock::now();
  size_t last_shown = SIZE_MAX;
  if (!wait_until([&] {
        size_t on = 0;
        for (auto& h : nodes) on += st.online[h->address()];
        if (on != last_shown) {
          last_shown = on;
          say("[lab]   online %zu/%zu\n", on, n);
        }
        return on == n;
      })) {
    std::fprintf(stderr, "error: not every node came online within %d s\n", timeout_s);
    return 1;
  }
  const double t_online = ms_since(t);

  // 5. Authorize every member that asked (they appear in the member list).
  t = Clock::now();
  std::map<proto::Address, bool> authorized;
  last_shown = SIZE_MAX;
  while (true) {
    for (auto& h : nodes) {
      if (authorized[h->address()]) continue;
      auto r = ctl.write_member(runtime::now_ms(), nwid, h->address(), json{{"authorized", true}});
      if (r.ok()) authorized[h->address()] = true;
    }
    (void)(*cnode)->controller_call([&](int64_t now) { ctl.process_pending(now); });
    bool all = false;
    {
      std::unique_lock lk(st.mu);
      st.cv.wait_for(lk, std::chrono::milliseconds(100), [&] {
        size_t ok = 0;
        for (auto& h : nodes) ok += st.nets.count(h->address()) && st.nets[h->address()].status == core::NetworkStatus::Ok;
        if (ok != last_shown) {
          last_shown = ok;
          say("[lab]   network config OK %zu/%zu\n", ok, n);
        }
        return all = (ok == n);
      });
    }
    if (all) break;
    if (Clock::now() > deadline) {
      std::fprintf(stderr, "error: not every node got its network config within %d s\n", timeout_s);
      return 1;
    }
  }
  const double t_config = ms_since(t);

  say("\n  %-6s %-10s %-17s %s\n", "node", "ztid", "mac", "ips");
  {
    std::lock_guard lk(st.mu);
    for (size_t i = 0; i < n; ++i) {
      const auto& info = st.nets[nodes[i]->address()];
      std::string ips;
      for (const auto& a : info.assigned_addresses) ips += (ips.empty() ? "" : ", ") + a.to_string();
      say("  n%-5zu %-10s %-17s %s\n", i + 1, proto::address_to_string(nodes[i]->address()).c_str(),
          info.mac.to_string().c_str(), ips.c_str());
    }
  }
  say("\n");

  // 6. Discovery: n1 broadcasts a ping; every other node answers to n1's MAC.
  st.t0 = Clock::now();
  const auto& n1 = nodes[0];
  const proto::Mac mac1 = proto::Mac::from_address(n1->address(), nwid);
  const std::string ping = "ping from ztid " + proto::address_to_string(n1->address());
  // UDP may drop a copy (loopback buffers overflow with many nodes): n1 repeats the broadcast
  // each second until every node has answered, and a node answers every ping it hears until
  // n1 has its pong. Only the first ping per node and the first pong per sender are listed.
  size_t pongs = 0, broadcasts = 0, handled = 0;
  auto pong_seen = [&](proto::Address from) {
    const std::string p = "pong from ztid " + proto::address_to_string(from);
    for (const auto& r : st.rx)
      if (r.at == n1->address() && r.text == p) return true;
    return false;
  };
  auto last_broadcast = Clock::now() - std::chrono::seconds(10);
  bool done = false;
  while (!done && Clock::now() < deadline) {
    if (Clock::now() - last_broadcast >= std::chrono::seconds(1)) {
      auto sent = n1->send_frame(nwid, mac1, proto::Mac::broadcast(), kLabEthertype, 0, as_bytes(ping));
      if (!sent.ok()) {
        std::fprintf(stderr, "error: broadcast failed: %s\n", sent.error().c_str());
        return 1;
      }
      if (broadcasts++ == 0) say("[lab] n1 broadcast: \"%s\"\n", ping.c_str());
      last_broadcast = Clock::now();
    }
    std::vector<LabState::Rx> fresh;
    {
      std::unique_lock lk(st.mu);
      st.cv.wait_for(lk, std::chrono::milliseconds(50));
      fresh.assign(st.rx.begin() + long(handled), st.rx.end());
      handled = st.rx.size();
    }
    for (const auto& r : fresh) {
      if (r.text != ping || r.at == n1->address()) continue;
      bool have;
      {
        std::lock_guard lk(st.mu);
        have = pong_seen(r.at);
      }
      if (have) continue;
      for (auto& h : nodes)
        if (h->address() == r.at) {
          const std::string pong = "pong from ztid " + proto::address_to_string(h->address());
          (void)h->send_frame(nwid, proto::Mac::from_address(h->address(), nwid), r.src, kLabEthertype, 0, as_bytes(pong));
        }
    }
    {
      std::lock_guard lk(st.mu);
      pongs = 0;
      for (auto& h : nodes)
        if (h != n1 && pong_seen(h->address())) ++pongs;
    }
    done = pongs >= n - 1;
  }
  const double t_discovery = ms_since(st.t0);
  size_t pings_ok = 0, ping_self = 0;
  {
    std::lock_guard lk(st.mu);
    std::map<std::pair<proto::Address, std::string>, bool> shown;
    for (const auto& r : st.rx) {
      if (shown[{r.at, r.text}]) continue;
      shown[{r.at, r.text}] = true;
      std::string who = "?";
      for (size_t i = 0; i < n; ++i)
        if (nodes[i]->address() == r.at) who = "n" + std::to_string(i + 1);
      say("  %7.1f ms  %-4s received from %s: \"%s\"\n", r.at_ms, who.c_str(), r.src.to_string().c_str(), r.text.c_str());
      if (r.text == ping) (r.at == n1->address() ? ping_self : pings_ok)++;
    }
  }
  if (broadcasts > 1) say("[lab] the broadcast was sent %zu times (copies lost on the way were repeated)\n", broadcasts);
  say("\n[lab] timings: identities %.0f ms, start %.0f ms, online %.0f ms, authorize+config %.0f ms, discovery %.1f ms\n",
      t_ids, t_start, t_online, t_config, t_discovery);
  const bool ok = pings_ok == n - 1 && ping_self == 0 && pongs == n - 1;
  say("[lab] %s: ping reached %zu/%zu nodes, %zu/%zu pongs reached n1\n", ok ? "OK" : "FAILED", pings_ok, n - 1,
      pongs, n - 1);
  if (!ok || !tcp) return ok ? 0 : 1;
  if (!use_stack) {
    std::fprintf(stderr, "error: --tcp needs the stack (drop --no-stack)\n");
    return 2;
  }
  proto::InetAddress server_ip;
  {
    std::lock_guard lk(st.mu);
    for (const auto& a : st.nets[n1->address()].assigned_addresses)
      if (a.is_v4()) server_ip = proto::InetAddress::v4(a.ip(), 0);
  }
  return run_tcp(stacks, nodes, nwid, server_ip, Clock::now() + std::chrono::seconds(timeout_s), say) ? 0 : 1;
}

}  // namespace

int cmd_lab(const Args& args) {
  if (wants_help(args)) {
    std::fputs(kLabHelp, stdout);
    return 0;
  }
  std::shared_ptr<runtime::PcapngWriter> pcap;
  int rc = lab_main(args, pcap);
  // Every node is gone by now; this closes the file and reports a write error.
  if (pcap) {
    if (auto st = pcap->close(); !st.ok()) {
      std::fprintf(stderr, "error: %s\n", st.error().c_str());
      if (rc == 0) rc = 1;
    }
  }
  return rc;
}

}  // namespace zt::cli
