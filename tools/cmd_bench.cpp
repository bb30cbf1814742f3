// `ztcore bench online`: one process, 127.0.0.1 only. A root and N nodes started together on
// one runtime: time from add_node() to the ONLINE event per node, HELLO round trip to the root
// (the root peer's latency), then the resident memory each additional idle node costs while
// the process hosts N2 of them (each online with the root, which is in the same process, so
// the root's per-peer state is included). Identities are generated up front on all cores and
// timed separately.
#include <malloc.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "controller/embedded_controller.hpp"
#include "crypto/crypto.hpp"
#include "proto/packet.hpp"
#include "proto/fragment.hpp"
#include "proto/verbs.hpp"
#include "proto/vl2.hpp"
#include "proto/world.hpp"
#include "runtime/identity_store.hpp"
#include "runtime/runtime.hpp"
#include "stack/stack.hpp"

namespace zt::cli {

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::ordered_json;  // keeps the documented key order

const char* kBenchUsage =
    "usage: ztcore bench online [-n N] [--idle N2] [--timeout SECONDS]\n"
    "       ztcore bench frames [--seconds S] [--size BYTES] [--window FRAMES] [--timeout SECONDS]\n"
    "       ztcore bench join [-n M] [--timeout SECONDS]\n"
    "       ztcore bench tcp [--seconds S] [--timeout SECONDS]\n"
    "       ztcore bench controller [-n MEMBERS] [--db FILE|postgresql://...]... [--seconds S]\n"
    "       ztcore bench rules [--seconds S]\n"
    "\n"
    "Everything runs in this process on 127.0.0.1 only; each benchmark prints one JSON object on\n"
    "stdout (progress on stderr). Identities are generated first, in parallel, and not timed.\n"
    "\n"
    "online  a root and N nodes (default 10) started together: start->ONLINE per node (median,\n"
    "        max ms), HELLO RTT to the root, and the RSS growth per idle node while hosting N2\n"
    "        more nodes (default 1000; 0 skips it).\n"
    "frames  root, controller and two members A and B of an authorized private network, direct\n"
    "        path established; A sends unicast frames of BYTES (default 1400) to B for S seconds\n"
    "        (default 5) with at most FRAMES (default 64) in flight. Also measures, in the same\n"
    "        run, this machine's one-core limit from raw UDP loopback (sendmmsg/recvmmsg of the\n"
    "        same datagrams) and armor+dearmor of the same packet, and prints the ratio.\n"
    "join    root, controller and 2*M members (default M=10), pre-authorized and ONLINE: M join\n"
    "        one after the other, then M all at once; join -> network config OK (median, max ms).\n"
    "tcp     root, controller and two members A and B with the IP stack (lwIP) on a private\n"
    "        network: one TCP connection A->B for S seconds (default 5), bulk send/recv. Prints\n"
    "        gbit_per_s, the CPU share of the runtime loop thread and of lwIP's tcpip thread,\n"
    "        cores used by the process, and this machine's frames limit (as `bench frames`:\n"
    "        raw UDP + crypto of 1400-byte frames on one core) measured in the same run.\n";

long rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

uint16_t free_udp_port() {
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t l = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &l);
  ::close(fd);
  return ntohs(a.sin_port);
}

int64_t thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

double round1(double x) { return double(int64_t(x * 10 + (x < 0 ? -0.5 : 0.5))) / 10; }

json stats(std::vector<double> v) {
  if (v.empty()) return json{{"median", nullptr}, {"max", nullptr}};
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  const double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  return json{{"median", round1(med)}, {"max", round1(v.back())}};
}

// Generates `count` identities on `threads` threads. Returns them and the mean CPU time one
// identity took (ms of thread CPU time, so a busy machine does not inflate it).
std::vector<proto::Identity> generate(size_t count, unsigned threads, double& ms_each) {
  std::vector<proto::Identity> out(count);
  std::atomic<size_t> next{0};
  std::atomic<int64_t> total_us{0};
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < count;) {
        const int64_t t0 = thread_cpu_us();
        out[i] = runtime::generate_identity();
        total_us += thread_cpu_us() - t0;
      }
    });
  for (auto& th : pool) th.join();
  ms_each = count ? double(total_us.load()) / 1000.0 / double(count) : 0;
  return out;
}

struct Tracker {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Clock::time_point> online_at;  // per node index; epoch() = not yet
  size_t online = 0;

  explicit Tracker(size_t n) : online_at(n) {}
  std::function<void(const core::Event&)> sink(size_t i) {
    return [this, i](const core::Event& e) {
      if (e.type != core::EventType::Online) return;
      std::lock_guard lk(mu);
      if (online_at[i] == Clock::time_point{}) {
        online_at[i] = Clock::now();
        ++online;
      }
      cv.notify_all();
    };
  }
  bool wait_all(std::chrono::milliseconds t) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, t, [&] { return online == online_at.size(); });
  }
  size_t count() {
    std::lock_guard lk(mu);
    return online;
  }
};

bool parse_count(const std::string& s, size_t& out) {
  if (s.empty() || s.size() > 7 || s.find_first_not_of("0123456789") != std::string::npos) return false;
  out = std::stoul(s);
  return true;
}

}  // namespace

static int bench_online(const Args& args) {
  size_t n = 10, idle = 1000, timeout_s = 60;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    size_t* target = a == "-n" ? &n : a == "--idle" ? &idle : a == "--timeout" ? &timeout_s : nullptr;
    if (!target || i + 1 >= args.size() || !parse_count(args[i + 1], *target)) {
      std::fprintf(stderr, "error: bad option '%s'\n\n%s", a.c_str(), kBenchUsage);
      return 2;
    }
    ++i;
  }
  if (n == 0) {
    std::fprintf(stderr, "error: -n must be at least 1\n");
    return 2;
  }
  crypto::init();

  // One UDP socket per node (plus the runtime's own descriptors).
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  const rlim_t want = rlim_t(n + idle + 256);
  if (rl.rlim_cur < want) {
    rl.rlim_cur = std::min(rl.rlim_max, want);
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur < want)
    std::fprintf(stderr, "warning: RLIMIT_NOFILE is %lu; %zu nodes may not all start\n",
                 static_cast<unsigned long>(rl.rlim_cur), n + idle + 1);

  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::fprintf(stderr, "generating %zu identities on %u threads...\n", 1 + n + idle, threads);
  double gen_ms = 0;
  const auto g0 = Clock::now();
  auto ids = generate(1 + n + idle, threads, gen_ms);
  const double gen_wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - g0).count();

  // The planet: the first identity as its only root at 127.0.0.1/<free port>.
  const uint16_t root_port = free_udp_port();
  proto::WorldKeypair kp;
  crypto::random_bytes(kp.priv.data(), kp.priv.size());
  kp.pub = crypto::public_from_private(kp.priv);
  proto::WorldRoot r;
  r.identity = proto::Identity::parse(ids[0].to_string(false)).value();
  r.stable_endpoints.push_back(*proto::InetAddress::parse("127.0.0.1/" + std::to_string(root_port)));
  auto world = proto::World::make(proto::World::Type::Planet, 1, uint64_t(runtime::now_ms()), kp, {r});
  if (!world.ok()) {
    std::fprintf(stderr, "error: planet: %s\n", world.error().c_str());
    return 1;
  }
  const Bytes planet = world->serialize();

  runtime::Runtime rt;
  auto config = [&](const proto::Identity& id, uint16_t port) {
    runtime::NodeConfig c;
    c.identity = id;
    c.port = port;
    c.bind = {*proto::InetAddress::parse("127.0.0.1")};
    c.planet = planet;
    c.allow_loopback = true;
    return c;
  };
  auto root = rt.add_node(config(ids[0], root_port));
  if (!root.ok()) {
    std::fprintf(stderr, "error: root: %s\n", root.error().c_str());
    return 1;
  }

  // N nodes started together.
  Tracker tr(n);
  std::vector<Clock::time_point> started(n);
  std::vector<std::shared_ptr<runtime::NodeHandle>> nodes;
  for (size_t i = 0; i < n; ++i) {
    auto c = config(ids[1 + i], 0);
    c.on_event = tr.sink(i);
    started[i] = Clock::now();
    auto h = rt.add_node(std::move(c));
    if (!h.ok()) {
      std::fprintf(stderr, "error: node %zu: %s\n", i, h.error().c_str());
      return 1;
    }
    nodes.push_back(*h);
  }
  const bool all_online = tr.wait_all(std::chrono::seconds(timeout_s));
  std::vector<double> online_ms;
  for (size_t i = 0; i < n; ++i)
    if (tr.online_at[i] != Clock::time_point{})
      online_ms.push_back(std::chrono::duration<double, std::milli>(tr.online_at[i] - started[i]).count());

  // HELLO RTT: the root peer's latency as measured from OK(HELLO) (ping if not known yet).
  const proto::Address root_addr = (*root)->address();
  std::vector<double> rtt;
  for (int attempt = 0; attempt < 20 && rtt.size() < n; ++attempt) {
    rtt.clear();
    for (auto& h : nodes)
      for (const auto& p : h->peers())
        if (p.address == root_addr && p.latency_ms >= 0) rtt.push_back(p.latency_ms);
    if (rtt.size() < n) {
      for (auto& h : nodes) (void)h->ping(root_addr);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  // Steady-state round trip for comparison: ECHO once both sides know each other (the HELLO
  // above also pays for the root validating a new identity and agreeing a key).
  for (auto& h : nodes) (void)h->ping(root_addr);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::vector<double> echo;
  for (auto& h : nodes)
    for (const auto& p : h->peers())
      if (p.address == root_addr && p.latency_ms >= 0) echo.push_back(p.latency_ms);

  // Memory: RSS growth per idle node.
  json rss_per_node = nullptr, idle_details = json::object();
  if (idle > 0) {
    malloc_trim(0);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const long before = rss_kib();
    Tracker idle_tr(idle);
    std::vector<std::shared_ptr<runtime::NodeHandle>> idlers;
    idlers.reserve(idle);
    std::fprintf(stderr, "starting %zu idle nodes...\n", idle);
    for (size_t i = 0; i < idle; ++i) {
      auto c = config(ids[1 + n + i], 0);
      c.on_event = idle_tr.sink(i);
      auto h = rt.add_node(std::move(c));
      if (!h.ok()) {
        std::fprintf(stderr, "error: idle node %zu: %s\n", i, h.error().c_str());
        break;
      }
      idlers.push_back(*h);
    }
    idle_tr.wait_all(std::chrono::seconds(timeout_s));
    std::this_thread::sleep_for(std::chrono::seconds(1));  // let HELLO/OK traffic settle
    const long after = rss_kib();
    if (!idlers.empty()) rss_per_node = round1(double(after - before) / double(idlers.size()));
    idle_details = json{{"idle_started", idlers.size()},
                        {"idle_online", idle_tr.count()},
                        {"rss_before_kib", before},
                        {"rss_after_kib", after}};
  }

  json out{{"nodes", n},
           {"online_ms", stats(online_ms)},
           {"hello_rtt_ms", stats(rtt)},
           {"idle_nodes", idle},
           {"rss_per_node_kib", rss_per_node},
           {"identity_generation_ms_per_node", round1(gen_ms)},
           // Details beyond the headline numbers.
           {"online", tr.count()},
           {"echo_rtt_ms", stats(echo)},
           {"identity_generation_wall_ms", int64_t(gen_wall_ms)},
           {"identity_generation_threads", threads}};
  for (auto& [k, v] : idle_details.items()) out[k] = v;
  std::printf("%s\n", out.dump().c_str());
  return all_online ? 0 : 1;
}

// ---- Shared: a root and a controller with one private network ------------------------------

namespace {

constexpr uint16_t kBenchEthertype = 0x88b5;  // IEEE 802 local experimental

bool parse_seconds(const std::string& s, double& out) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || !end || *end != '\0' || !(v > 0) || v > 3600) return false;
  out = v;
  return true;
}

std::string loadavg() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// Root (its planet names it at 127.0.0.1/<port>) and a controller node hosting one private
// network, on one runtime. Members are configured with member_config().
struct BenchLab {
  // The controller outlives its node (destroyed in reverse order: the node handles first).
  controller::MemoryControllerDb db;
  controller::EmbeddedController ctl{db};
  runtime::Runtime rt;
  Bytes planet;
  std::shared_ptr<runtime::NodeHandle> root, ctl_node;
  uint64_t nwid = 0;

  runtime::NodeConfig config(const proto::Identity& id, uint16_t port) {
    runtime::NodeConfig c;
    c.identity = id;
    c.port = port;
    c.bind = {*proto::InetAddress::parse("127.0.0.1")};
    c.planet = planet;
    c.allow_loopback = true;
    return c;
  }

  std::string start(const proto::Identity& root_id, const proto::Identity& ctl_id) {
    proto::WorldKeypair kp;
    crypto::random_bytes(kp.priv.data(), kp.priv.size());
    kp.pub = crypto::public_from_private(kp.priv);
    std::string error = "no free port";
    // The planet must carry the root's port: take a free one; another process could grab it
    // before the root binds it, so retry a few times.
    for (int attempt = 0; attempt < 5 && !root; ++attempt) {
      const uint16_t port = free_udp_port();
      proto::WorldRoot r;
      r.identity = proto::Identity::parse(root_id.to_string(false)).value();
      r.stable_endpoints.push_back(proto::InetAddress::v4(0x7f000001, port));
      auto world = proto::World::make(proto::World::Type::Planet, 1, uint64_t(runtime::now_ms()), kp, {r});
      if (!world.ok()) return "planet: " + world.error();
      planet = world->serialize();
      auto h = rt.add_node(config(root_id, port));
      if (h.ok()) root = *h;
      else error = h.error();
    }
    if (!root) return "root: " + error;
    auto c = config(ctl_id, 0);
    c.controller = &ctl;
    auto h = rt.add_node(c);
    if (!h.ok()) return "controller: " + h.error();
    ctl_node = *h;
    nwid = (ctl_id.address() << 24) | 0xbe0001;
    auto r = ctl.write_network(runtime::now_ms(), nwid,
                               controller::json{{"name", "ztcore-bench"}, {"private", true}, {"enableBroadcast", true}});
    if (!r.ok()) return "network: " + r.body.dump();
    return {};
  }
  // Authorizes a member before it asks (so its first request gets a config).
  std::string authorize(proto::Address a) {
    auto r = ctl.write_member(runtime::now_ms(), nwid, a, controller::json{{"authorized", true}});
    return r.ok() ? std::string() : r.body.dump();
  }
};

// Network state per member, filled by on_network (loop thread).
struct NetWatch {
  std::mutex mu;
  std::condition_variable cv;
  std::map<proto::Address, Clock::time_point> ok_at;
  std::map<proto::Address, bool> online;

  void attach(runtime::NodeConfig& c, proto::Address me) {
    c.on_network = [this, me](uint64_t, core::NetworkOp, const core::NetworkInfo& info) {
      if (info.status != core::NetworkStatus::Ok) return;
      std::lock_guard lk(mu);
      ok_at.emplace(me, Clock::now());
      cv.notify_all();
    };
    c.on_event = [this, me](const core::Event& e) {
      if (e.type != core::EventType::Online) return;
      std::lock_guard lk(mu);
      online[me] = true;
      cv.notify_all();
    };
  }
  template <class Pred>
  bool wait(Clock::time_point deadline, Pred p) {
    std::unique_lock lk(mu);
    return cv.wait_until(lk, deadline, p);
  }
};

// ---- bench frames ---------------------------------------------------------------------------

// The frame pump runs entirely on the runtime's loop thread: a task that sends frames A->B
// while fewer than `window` are in flight, then re-posts itself. The loop thread reads B's
// socket between two runs of the task, so one core does everything (A's send path, the
// kernel's loopback, B's receive path), which is what the limit below models.
struct Pump {
  runtime::Runtime* rt = nullptr;
  std::shared_ptr<runtime::NodeHandle> a;
  uint64_t nwid = 0;
  proto::Mac src, dst;
  Bytes payload;
  uint64_t window = 64;

  std::atomic<uint64_t> received{0};  // frames of the benchmark that reached B (B's on_frame)
  std::atomic<uint64_t> sent{0};      // frames A's core accepted
  std::atomic<uint64_t> send_errors{0};
  std::atomic<bool> stop{false};
  std::atomic<bool> stopped{false};
  uint64_t presumed_lost = 0;         // in-flight frames written off after a stall
  uint64_t last_received = 0;
  Clock::time_point stalled_since{};

  void step() {
    if (stop.load(std::memory_order_relaxed)) {
      stopped = true;
      return;
    }
    const uint64_t r = received.load(std::memory_order_relaxed);
    const uint64_t s = sent.load(std::memory_order_relaxed);
    uint64_t inflight = s - r - std::min(s - r, presumed_lost);
    if (inflight >= window) {
      // Nothing came back for 20 ms with the window full: those frames were lost (UDP);
      // write them off so the pump does not stall.
      if (r != last_received) {
        last_received = r;
        stalled_since = Clock::now();
      } else if (Clock::now() - stalled_since > std::chrono::milliseconds(20)) {
        presumed_lost += inflight;
        inflight = 0;
      }
    } else {
      last_received = r;
      stalled_since = Clock::now();
    }
    if (inflight < window) {
      const uint64_t k = window - inflight;
      uint64_t ok = 0, bad = 0;
      a->with_node([&](core::Node& n, int64_t now) {  // on the loop thread: runs inline, then flushes
        for (uint64_t i = 0; i < k; ++i) {
          if (n.send_frame(now, nwid, src, dst, kBenchEthertype, 0, payload).ok()) ++ok;
          else ++bad;
        }
      });
      sent.fetch_add(ok, std::memory_order_relaxed);
      if (bad) send_errors.fetch_add(bad, std::memory_order_relaxed);
    }
    rt->post([this] { step(); });
  }
};

// The datagrams one frame becomes on the wire (sizes), and a plaintext copy of its packet.
struct FrameWire {
  Bytes packet;                 // header + FRAME payload, plaintext, fragmented flag set
  std::vector<size_t> datagrams;  // sizes after armor + fragmentation
};

FrameWire frame_wire(proto::Address from, proto::Address to, uint64_t nwid, ByteSpan data, proto::Cipher cipher,
                     size_t mtu) {
  FrameWire fw;
  Writer w(proto::kHeaderSize + 10 + data.size());
  proto::begin_packet(w, 0x0102030405060708ull, to, from, proto::Verb::Frame);
  proto::Frame f;
  f.nwid = nwid;
  f.ethertype = kBenchEthertype;
  f.payload = data;
  f.encode(w);
  fw.packet = w.data();
  proto::mark_fragmentation(fw.packet, mtu);
  crypto::SymmetricKey k;
  crypto::random_bytes(k.data(), k.size());
  proto::PeerKey key(k);
  Bytes armored = fw.packet;
  proto::armor(armored, key, cipher);
  proto::for_each_fragment(ByteSpan(armored), mtu, [&](ByteSpan d) { fw.datagrams.push_back(d.size()); });
  return fw;
}

// Work done by one thread over one or more slices of time.
struct Rate {
  uint64_t units = 0;
  double cpu_s = 0;   // the measuring thread's CPU time
  double wall_s = 0;
  bool failed = false;
  double per_cpu_s() const { return cpu_s > 0 && !failed ? double(units) / cpu_s : 0; }
  double per_wall_s() const { return wall_s > 0 && !failed ? double(units) / wall_s : 0; }
};

// Armor + dearmor of the frame's packet with `cipher` (what A and B do per frame), one thread.
void crypto_rate(const FrameWire& fw, proto::Cipher cipher, double seconds, Rate& r) {
  static proto::PeerKey key([] {
    crypto::SymmetricKey k;
    crypto::random_bytes(k.data(), k.size());
    return k;
  }());
  Bytes b = fw.packet;
  uint64_t units = 0;
  const auto w0 = Clock::now();
  const int64_t c0 = thread_cpu_us();
  const auto until = w0 + std::chrono::duration<double>(seconds);
  bool ok = true;
  while (Clock::now() < until && ok) {
    for (int i = 0; i < 256; ++i) {
      std::memcpy(b.data(), fw.packet.data(), proto::kHeaderSize);  // a fresh header, as a sender has
      ok &= proto::armor(b, key, cipher);
      ok &= proto::dearmor(b, key);
    }
    units += 256;
  }
  r.cpu_s += double(thread_cpu_us() - c0) / 1e6;
  r.wall_s += std::chrono::duration<double>(Clock::now() - w0).count();
  r.units += units;
  r.failed |= !ok;
}

// Raw UDP on 127.0.0.1 between two sockets configured like the runtime's (non-blocking,
// 4 MiB buffers), batched like the runtime (sendmmsg of up to 64 datagrams, recvmmsg of up
// to 64 into 16 KiB buffers): each round sends the datagrams of `frames_per_round` frames and
// reads them back, on this thread. Returns whole frames' worth of datagrams delivered.
void udp_rate(const FrameWire& fw, double seconds, Rate& rate, uint64_t& lost_datagrams) {
  constexpr size_t kBatch = 64;
  const size_t per_frame = fw.datagrams.size();
  const size_t frames_per_round = std::max<size_t>(1, kBatch / per_frame);
  const size_t dgrams = frames_per_round * per_frame;
  auto open = [] {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int bufsz = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof bufsz);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof bufsz);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    return fd;
  };
  const int tx = open(), rx = open();
  sockaddr_in to{};
  socklen_t tl = sizeof to;
  ::getsockname(rx, reinterpret_cast<sockaddr*>(&to), &tl);

  std::vector<std::array<uint8_t, 1500>> out(dgrams);
  for (auto& o : out) crypto::random_bytes(o.data(), o.size());
  std::vector<mmsghdr> smsg(dgrams);
  std::vector<iovec> siov(dgrams);
  for (size_t i = 0; i < dgrams; ++i) {
    siov[i] = {out[i].data(), std::min<size_t>(fw.datagrams[i % per_frame], 1500)};
    smsg[i].msg_hdr = {};
    smsg[i].msg_hdr.msg_iov = &siov[i];
    smsg[i].msg_hdr.msg_iovlen = 1;
    smsg[i].msg_hdr.msg_name = &to;
    smsg[i].msg_hdr.msg_namelen = sizeof to;
  }
  static thread_local std::array<std::array<uint8_t, 16384>, kBatch> bufs;
  std::array<mmsghdr, kBatch> rmsg{};
  std::array<iovec, kBatch> riov{};
  std::array<sockaddr_storage, kBatch> from{};

  uint64_t got = 0, put = 0;
  const auto w0 = Clock::now();
  const int64_t c0 = thread_cpu_us();
  const auto until = w0 + std::chrono::duration<double>(seconds);
  while (Clock::now() < until) {
    size_t done = 0;
    while (done < dgrams) {
      int r = ::sendmmsg(tx, smsg.data() + done, unsigned(dgrams - done), 0);
      if (r <= 0) break;  // as the runtime: drop the rest of the batch
      done += size_t(r);
    }
    put += done;
    // Everything sent on loopback is queued at rx when sendmmsg returns; read until empty.
    while (true) {
      for (size_t i = 0; i < kBatch; ++i) {
        riov[i] = {bufs[i].data(), bufs[i].size()};
        rmsg[i].msg_hdr = {};
        rmsg[i].msg_hdr.msg_iov = &riov[i];
        rmsg[i].msg_hdr.msg_iovlen = 1;
        rmsg[i].msg_hdr.msg_name = &from[i];
        rmsg[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      }
      int r = ::recvmmsg(rx, rmsg.data(), kBatch, MSG_DONTWAIT, nullptr);
      if (r <= 0) break;
      got += uint64_t(r);
      if (size_t(r) < kBatch) break;
    }
  }
  const double cpu = double(thread_cpu_us() - c0) / 1e6;
  const double wall = std::chrono::duration<double>(Clock::now() - w0).count();
  ::close(tx);
  ::close(rx);
  lost_datagrams += put - std::min(put, got);
  rate.units += got / per_frame;
  rate.cpu_s += cpu;
  rate.wall_s += wall;
}

double round3(double x) { return double(int64_t(x * 1000 + 0.5)) / 1000; }

}  // namespace

static int bench_frames(const Args& args) {
  double seconds = 5;
  size_t size = 1400, window = 64, timeout_s = 30;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool good = i + 1 < args.size();
    if (good && a == "--seconds") good = parse_seconds(args[i + 1], seconds);
    else if (good && a == "--size") good = parse_count(args[i + 1], size) && size >= 1 && size <= 2800;
    else if (good && a == "--window") good = parse_count(args[i + 1], window) && window >= 1 && window <= 4096;
    else if (good && a == "--timeout") good = parse_count(args[i + 1], timeout_s) && timeout_s >= 1;
    else good = false;
    if (!good) {
      std::fprintf(stderr, "error: bad option '%s' (--size is 1..2800, the network MTU)\n\n%s", a.c_str(), kBenchUsage);
      return 2;
    }
    ++i;
  }
  crypto::init();
  const std::string load_start = loadavg();
  std::fprintf(stderr, "generating 4 identities...\n");
  double gen_ms = 0;
  auto ids = generate(4, std::max(1u, std::thread::hardware_concurrency()), gen_ms);
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);

  BenchLab lab;
  if (auto e = lab.start(ids[0], ids[1]); !e.empty()) {
    std::fprintf(stderr, "error: %s\n", e.c_str());
    return 1;
  }
  NetWatch nw;
  Pump pump;
  pump.rt = &lab.rt;
  pump.nwid = lab.nwid;
  pump.window = window;
  pump.payload.resize(size);
  crypto::random_bytes(pump.payload.data(), size);  // incompressible (frames are not compressed anyway)
  std::atomic<uint64_t> back{0};                   // B -> A frames during set-up

  std::shared_ptr<runtime::NodeHandle> A, B;
  for (int which = 0; which < 2; ++which) {
    const proto::Identity& id = ids[2 + size_t(which)];
    if (auto e = lab.authorize(id.address()); !e.empty()) {
      std::fprintf(stderr, "error: authorize: %s\n", e.c_str());
      return 1;
    }
    auto c = lab.config(id, 0);
    nw.attach(c, id.address());
    c.join = {lab.nwid};
    if (which == 1)
      c.on_frame = [&pump, size](uint64_t, proto::Mac, proto::Mac, uint16_t et, uint16_t, ByteSpan d) {
        if (et == kBenchEthertype && d.size() == size) pump.received.fetch_add(1, std::memory_order_relaxed);
      };
    else
      c.on_frame = [&back](uint64_t, proto::Mac, proto::Mac, uint16_t et, uint16_t, ByteSpan) {
        if (et == kBenchEthertype) back.fetch_add(1, std::memory_order_relaxed);
      };
    auto h = lab.rt.add_node(std::move(c));
    if (!h.ok()) {
      std::fprintf(stderr, "error: node: %s\n", h.error().c_str());
      return 1;
    }
    (which ? B : A) = *h;
  }
  pump.a = A;
  pump.src = proto::Mac::from_address(A->address(), lab.nwid);
  pump.dst = proto::Mac::from_address(B->address(), lab.nwid);
  const proto::Mac a_mac = pump.src, b_mac = pump.dst;

  std::fprintf(stderr, "waiting for both members' network config...\n");
  if (!nw.wait(deadline, [&] { return nw.ok_at.count(A->address()) && nw.ok_at.count(B->address()); })) {
    std::fprintf(stderr, "error: the members did not get their network config within %zu s\n", timeout_s);
    return 1;
  }
  // Direct path: exchange frames both ways (relayed by the root at first, which makes it send
  // RENDEZVOUS) until each side has an alive direct path to the other and frames get through.
  std::fprintf(stderr, "establishing the direct path...\n");
  auto peer_of = [](runtime::NodeHandle& h, proto::Address who) {
    for (auto& p : h.peers())
      if (p.address == who) return std::optional<core::PeerInfo>(p);
    return std::optional<core::PeerInfo>();
  };
  std::optional<core::PeerInfo> ab, ba;
  while (true) {
    (void)A->send_frame(lab.nwid, a_mac, b_mac, kBenchEthertype, 0, pump.payload);
    (void)B->send_frame(lab.nwid, b_mac, a_mac, kBenchEthertype, 0, as_bytes(std::string_view("hello")));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ab = peer_of(*A, B->address());
    ba = peer_of(*B, A->address());
    if (ab && ba && ab->direct && ba->direct && pump.received.load() > 0 && back.load() > 0) break;
    if (Clock::now() > deadline) {
      std::fprintf(stderr, "error: no direct path between the members within %zu s\n", timeout_s);
      return 1;
    }
  }
  const bool aes = ab->protocol_version >= int(proto::kProtocolVersionAes) &&
                   ba->protocol_version >= int(proto::kProtocolVersionAes);
  const proto::Cipher cipher = aes ? proto::Cipher::AesGmacSiv : proto::Cipher::Salsa2012;
  const FrameWire fw = frame_wire(A->address(), B->address(), lab.nwid, pump.payload, cipher, 1432);

  // The stack and the machine's one-core limit are measured in interleaved slices (stack
  // 0.25 s, raw UDP 0.1 s, crypto 0.1 s, repeated), so a change in the machine's load while
  // the benchmark runs affects all three alike.
  //   stack:  the pump on the loop thread (A's send path + loopback + B's receive path).
  //   udp:    raw UDP of the same datagrams, same batching, on this thread.
  //   crypto: armor + dearmor of the same packet with the same cipher, on this thread.
  // One core has to do both per frame: limit = 1 / (1/udp + 1/crypto), in frames per second
  // of CPU time; ratio = the stack's frames per second of loop-thread CPU time / limit.
  std::fprintf(stderr, "sending %zu-byte frames A->B for %.1f s (interleaved with raw UDP and crypto)...\n", size,
               seconds);
  const uint64_t relayed0 = lab.root->counters().relayed;
  const uint64_t recv_base = pump.received.load();
  auto start_pump = [&] {
    pump.stop = false;
    pump.stopped = false;
    lab.rt.post([&pump] { pump.step(); });
  };
  auto stop_pump = [&] {
    pump.stop = true;
    while (!pump.stopped.load()) std::this_thread::sleep_for(std::chrono::microseconds(200));
  };
  start_pump();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // warm-up
  stop_pump();
  const int slices = std::max(1, int(seconds / 0.25 + 0.5));
  const double stack_slice = seconds / slices, aux_slice = stack_slice * 0.4;
  Rate stack, udp, cry;
  uint64_t udp_lost = 0;
  for (int i = 0; i < slices; ++i) {
    int64_t c0 = 0, c1 = 0;
    start_pump();
    lab.rt.call([&] { c0 = thread_cpu_us(); });
    const auto t0 = Clock::now();
    const uint64_t r0 = pump.received.load();
    std::this_thread::sleep_for(std::chrono::duration<double>(stack_slice));
    lab.rt.call([&] { c1 = thread_cpu_us(); });
    stack.wall_s += std::chrono::duration<double>(Clock::now() - t0).count();
    stack.units += pump.received.load() - r0;
    stack.cpu_s += double(c1 - c0) / 1e6;
    stop_pump();
    udp_rate(fw, aux_slice, udp, udp_lost);
    crypto_rate(fw, cipher, aux_slice, cry);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // stragglers
  const uint64_t sent = pump.sent.load();
  const uint64_t delivered = pump.received.load() - recv_base;
  const uint64_t relayed = lab.root->counters().relayed - relayed0;
  const double wall = stack.wall_s;
  const double fps = stack.per_wall_s();
  const double fps_cpu = stack.per_cpu_s();
  auto combine = [](double u, double c) { return u > 0 && c > 0 ? 1.0 / (1.0 / u + 1.0 / c) : 0.0; };
  const double limit = combine(udp.per_cpu_s(), cry.per_cpu_s());
  const double limit_wall = combine(udp.per_wall_s(), cry.per_wall_s());
  const double to_gbit = double(size) * 8 / 1e9;

  json out{{"frames_per_s", int64_t(fps)},
           {"gbit_per_s", round3(fps * to_gbit)},
           {"limit_frames_per_s", int64_t(limit)},
           {"limit_gbit_per_s", round3(limit * to_gbit)},
           {"ratio", limit > 0 ? round3(fps_cpu / limit) : 0.0},
           {"loss", sent - std::min(sent, delivered)},
           {"size", size},
           {"seconds", round3(wall)},
           {"cipher", aes ? "AES-GMAC-SIV" : "SALSA2012-POLY1305"},
           // Details: how the numbers above were obtained.
           {"ratio_wall", limit_wall > 0 ? round3(fps / limit_wall) : 0.0},
           {"frames_per_loop_cpu_s", int64_t(fps_cpu)},
           {"loop_cpu_share", wall > 0 ? round3(stack.cpu_s / wall) : 0.0},
           {"sent", sent},
           {"delivered", delivered},
           {"send_errors", pump.send_errors.load()},
           {"window", window},
           {"relayed_by_root", relayed},
           {"wire_datagrams_per_frame", fw.datagrams},
           {"packet_bytes", fw.packet.size()},
           {"udp_frames_per_cpu_s", int64_t(udp.per_cpu_s())},
           {"udp_frames_per_s", int64_t(udp.per_wall_s())},
           {"udp_lost_datagrams", udp_lost},
           {"crypto_frames_per_cpu_s", int64_t(cry.per_cpu_s())},
           {"crypto_frames_per_s", int64_t(cry.per_wall_s())},
           {"limit_frames_per_s_wall", int64_t(limit_wall)},
           {"loadavg_start", load_start},
           {"loadavg_end", loadavg()}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

// ---- bench join -----------------------------------------------------------------------------

static int bench_join(const Args& args) {
  size_t m = 10, timeout_s = 60;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    size_t* target = (a == "-n" || a == "--members") ? &m : a == "--timeout" ? &timeout_s : nullptr;
    if (!target || i + 1 >= args.size() || !parse_count(args[i + 1], *target) || *target == 0 ||
        (target == &m && m > 500)) {
      std::fprintf(stderr, "error: bad option '%s' (-n is 1..500)\n\n%s", a.c_str(), kBenchUsage);
      return 2;
    }
    ++i;
  }
  crypto::init();
  const std::string load_start = loadavg();
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::fprintf(stderr, "generating %zu identities on %u threads...\n", 2 + 2 * m, threads);
  double gen_ms = 0;
  auto ids = generate(2 + 2 * m, threads, gen_ms);
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);

  BenchLab lab;
  if (auto e = lab.start(ids[0], ids[1]); !e.empty()) {
    std::fprintf(stderr, "error: %s\n", e.c_str());
    return 1;
  }
  NetWatch nw;
  std::vector<std::shared_ptr<runtime::NodeHandle>> members;
  for (size_t i = 0; i < 2 * m; ++i) {
    const proto::Identity& id = ids[2 + i];
    if (auto e = lab.authorize(id.address()); !e.empty()) {
      std::fprintf(stderr, "error: authorize: %s\n", e.c_str());
      return 1;
    }
    auto c = lab.config(id, 0);
    nw.attach(c, id.address());
    auto h = lab.rt.add_node(std::move(c));
    if (!h.ok()) {
      std::fprintf(stderr, "error: member: %s\n", h.error().c_str());
      return 1;
    }
    members.push_back(*h);
  }
  std::fprintf(stderr, "waiting for %zu members to be ONLINE...\n", 2 * m);
  if (!nw.wait(deadline, [&] { return nw.online.size() == 2 * m; })) {
    std::fprintf(stderr, "error: not every member came online within %zu s\n", timeout_s);
    return 1;
  }
  auto join_ms = [&](size_t i, Clock::time_point t0) {
    std::lock_guard lk(nw.mu);
    auto it = nw.ok_at.find(members[i]->address());
    return it == nw.ok_at.end() ? -1.0 : std::chrono::duration<double, std::milli>(it->second - t0).count();
  };
  // One after the other: join, wait for the config.
  std::fprintf(stderr, "%zu members join one after the other...\n", m);
  std::vector<double> seq;
  bool ok = true;
  for (size_t i = 0; i < m && ok; ++i) {
    const auto t0 = Clock::now();
    if (!members[i]->join(lab.nwid).ok()) ok = false;
    const proto::Address who = members[i]->address();
    ok = ok && nw.wait(deadline, [&] { return nw.ok_at.count(who) > 0; });
    if (ok) seq.push_back(join_ms(i, t0));
  }
  // All at once.
  std::vector<double> burst;
  if (ok) {
    std::fprintf(stderr, "%zu members join at once...\n", m);
    std::vector<Clock::time_point> t0(2 * m);
    for (size_t i = m; i < 2 * m; ++i) {
      t0[i] = Clock::now();
      if (!members[i]->join(lab.nwid).ok()) ok = false;
    }
    ok = ok && nw.wait(deadline, [&] {
      for (size_t i = m; i < 2 * m; ++i)
        if (!nw.ok_at.count(members[i]->address())) return false;
      return true;
    });
    if (ok)
      for (size_t i = m; i < 2 * m; ++i) burst.push_back(join_ms(i, t0[i]));
  }
  if (!ok) std::fprintf(stderr, "error: not every member got its network config within %zu s\n", timeout_s);
  json out{{"members", m},
           {"join_ms", stats(seq)},
           {"join_all_at_once_ms", stats(burst)},
           {"configs_ok", seq.size() + burst.size()},
           {"identity_generation_ms_per_node", round1(gen_ms)},
           {"loadavg_start", load_start},
           {"loadavg_end", loadavg()}};
  std::printf("%s\n", out.dump().c_str());
  return ok ? 0 : 1;
}

// ---- bench tcp ----------------------------------------------------------------------------------

// CPU time (s) a thread of this process has used, from /proc/self/task/<tid>/schedstat.
static double task_cpu_s(long tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/schedstat");
  unsigned long long ns = 0;
  in >> ns;
  return double(ns) / 1e9;
}

static double process_cpu_s() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Two stack members of a fresh network with IPv4 addresses; fills A, B and B's address.
static std::string tcp_members(BenchLab& lab, NetWatch& nw, const std::vector<proto::Identity>& ids,
                               Clock::time_point deadline, std::shared_ptr<stack::NodeStack> st[2],
                        std::shared_ptr<runtime::NodeHandle> h[2], uint64_t& nwid) {
  nwid = (ids[1].address() << 24) | 0xbe0002;
  auto r = lab.ctl.write_network(
      runtime::now_ms(), nwid,
      controller::json{{"name", "ztcore-bench-tcp"}, {"private", true}, {"v4AssignMode", {{"zt", true}}},
                       {"ipAssignmentPools", controller::json::array({{{"ipRangeStart", "10.200.0.1"}, {"ipRangeEnd", "10.200.0.254"}}})},
                       {"routes", controller::json::array({{{"target", "10.200.0.0/24"}, {"via", nullptr}}})}});
  if (!r.ok()) return "network: " + r.body.dump();
  for (int i = 0; i < 2; ++i) {
    const proto::Identity& id = ids[2 + size_t(i)];
    auto a = lab.ctl.write_member(runtime::now_ms(), nwid, id.address(), controller::json{{"authorized", true}});
    if (!a.ok()) return "authorize: " + a.body.dump();
    auto c = lab.config(id, 0);
    nw.attach(c, id.address());
    c.join = {nwid};
    st[i] = stack::NodeStack::attach(c);
    auto n = lab.rt.add_node(std::move(c));
    if (!n.ok()) return "node: " + n.error();
    h[i] = *n;
    st[i]->start(lab.rt, h[i]);
  }
  while (!(st[0]->ready(nwid) && st[1]->ready(nwid)))
    if (Clock::now() > deadline) return "the members' stacks did not come up";
    else std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return {};
}

static int bench_tcp(const Args& args) {
  double seconds = 5;
  size_t timeout_s = 30;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool good = i + 1 < args.size();
    if (good && a == "--seconds") good = parse_seconds(args[i + 1], seconds);
    else if (good && a == "--timeout") good = parse_count(args[i + 1], timeout_s) && timeout_s >= 1;
    else good = false;
    if (!good) {
      std::fprintf(stderr, "error: bad option '%s'\n\n%s", a.c_str(), kBenchUsage);
      return 2;
    }
    ++i;
  }
  crypto::init();
  const std::string load_start = loadavg();
  double gen_ms = 0;
  auto ids = generate(4, std::max(1u, std::thread::hardware_concurrency()), gen_ms);
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  BenchLab lab;
  if (auto e = lab.start(ids[0], ids[1]); !e.empty()) {
    std::fprintf(stderr, "error: %s\n", e.c_str());
    return 1;
  }
  NetWatch nw;
  std::shared_ptr<stack::NodeStack> st[2];
  std::shared_ptr<runtime::NodeHandle> h[2];
  uint64_t nwid = 0;
  auto fail = [&](const std::string& e) {
    std::fprintf(stderr, "error: %s\n", e.c_str());
    for (auto& s : st)
      if (s) s->close();
    return 1;
  };
  std::fprintf(stderr, "starting two stack members...\n");
  if (auto e = tcp_members(lab, nw, ids, deadline, st, h, nwid); !e.empty()) return fail(e);
  auto addrs = st[1]->addresses(nwid);
  proto::InetAddress b_ip;
  for (const auto& a : addrs)
    if (a.is_v4()) b_ip = proto::InetAddress::v4(a.ip(), 0);
  auto srv = st[1]->socket(AF_INET, SOCK_STREAM);
  if (!srv.ok() || !(*srv)->bind(std::nullopt, 5001).ok() || !(*srv)->listen(4).ok()) return fail("listen on B");
  std::atomic<uint64_t> received{0};
  std::atomic<bool> stop{false};
  std::thread receiver([&] {
    (void)(*srv)->set_timeout(int64_t(timeout_s) * 1000);
    auto c = (*srv)->accept(nullptr);
    if (!c.ok()) return;
    std::vector<uint8_t> buf(256 * 1024);
    for (;;) {
      auto n = (*c)->recv(buf.data(), buf.size());
      if (!n.ok() || *n == 0) return;
      received.fetch_add(*n, std::memory_order_relaxed);
    }
  });
  std::shared_ptr<stack::Socket> cli;
  std::fprintf(stderr, "connecting A -> B (%s:5001)...\n", b_ip.ip_string().c_str());
  while (!cli && Clock::now() < deadline) {
    auto c = st[0]->socket(AF_INET, SOCK_STREAM);
    if (c.ok() && (*c)->set_timeout(1000).ok() && (*c)->connect(b_ip, 5001).ok()) cli = *c;
  }
  if (!cli) {
    receiver.detach();
    return fail("connect A -> B");
  }
  (void)cli->set_timeout(-1);
  long loop_tid = 0;
  lab.rt.call([&] { loop_tid = long(::gettid()); });
  const long tcpip_tid = stack::tcpip_thread_tid();
  std::thread sender([&] {
    std::vector<uint8_t> buf(64 * 1024, 0x5a);
    while (!stop.load()) {
      auto n = cli->send(buf);
      if (!n.ok()) return;
    }
  });
  std::fprintf(stderr, "sending for %.1f s...\n", seconds);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // warm-up (slow start)
  const double l0 = task_cpu_s(loop_tid), t0c = task_cpu_s(tcpip_tid), p0 = process_cpu_s();
  const uint64_t b0 = received.load();
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const uint64_t bytes = received.load() - b0;
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  const double loop_cpu = task_cpu_s(loop_tid) - l0, tcpip_cpu = task_cpu_s(tcpip_tid) - t0c;
  const double proc_cpu = process_cpu_s() - p0;
  stop = true;
  (void)cli->shutdown(SHUT_RDWR);
  sender.join();
  cli->close();
  receiver.join();
  const auto counters_a = st[0]->counters(), counters_b = st[1]->counters();
  for (auto& s : st) s->close();

  // The same run's frames limit (as `bench frames`): raw UDP + crypto of 1400-byte frames.
  Bytes payload(1400);
  crypto::random_bytes(payload.data(), payload.size());
  const FrameWire fw = frame_wire(h[0]->address(), h[1]->address(), nwid, payload, proto::Cipher::AesGmacSiv, 1432);
  Rate udp, cry;
  uint64_t udp_lost = 0;
  udp_rate(fw, 1.0, udp, udp_lost);
  crypto_rate(fw, proto::Cipher::AesGmacSiv, 1.0, cry);
  const double limit = udp.per_cpu_s() > 0 && cry.per_cpu_s() > 0 ? 1.0 / (1.0 / udp.per_cpu_s() + 1.0 / cry.per_cpu_s()) : 0;
  const double gbit = double(bytes) * 8 / wall / 1e9;
  const double cores = wall > 0 ? proc_cpu / wall : 0;
  json out{{"gbit_per_s", round3(gbit)},
           {"cores_used", round3(cores)},
           {"gbit_per_core", cores > 0 ? round3(gbit / cores) : 0.0},
           {"ratio_vs_stock_per_core", cores > 0 ? round3(gbit / cores / 0.58) : 0.0},
           {"loop_cpu_share", round3(loop_cpu / wall)},
           {"tcpip_cpu_share", round3(tcpip_cpu / wall)},
           {"limit_frames_per_s", int64_t(limit)},
           {"limit_gbit_per_s", round3(limit * 1400 * 8 / 1e9)},
           {"seconds", round3(wall)},
           {"bytes", bytes},
           {"frames_out_a", counters_a.frames_out},
           {"frames_in_b", counters_b.frames_in},
           {"dropped_in", counters_a.dropped_in + counters_b.dropped_in},
           {"dropped_out", counters_a.dropped_out + counters_b.dropped_out},
           {"loadavg_start", load_start},
           {"loadavg_end", loadavg()}};
  std::printf("%s\n", out.dump().c_str());
  return bytes > 0 ? 0 : 1;
}

int cmd_bench(const Args& args) {
  if (args.empty()) {
    std::fputs(kBenchUsage, stderr);
    return 2;
  }
  if (wants_help(args)) {
    std::fputs(kBenchUsage, stdout);
    return 0;
  }
  if (args[0] == "online") return bench_online(args);
  if (args[0] == "frames") return bench_frames(args);
  if (args[0] == "join") return bench_join(args);
  if (args[0] == "tcp") return bench_tcp(args);
  if (args[0] == "controller") return bench_controller(args);
  if (args[0] == "rules") return bench_rules(args);
  std::fprintf(stderr, "error: unknown benchmark '%s'\n\n%s", args[0].c_str(), kBenchUsage);
  return 2;
}

}  // namespace zt::cli
