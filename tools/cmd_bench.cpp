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
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "crypto/crypto.hpp"
#include "proto/world.hpp"
#include "runtime/runtime.hpp"

namespace zt::cli {

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::ordered_json;  // keeps the documented key order

const char* kBenchUsage =
    "usage: ztcore bench online [-n N] [--idle N2] [--timeout SECONDS]\n"
    "\n"
    "In one process on 127.0.0.1: a root and N nodes (default 10) started together. Prints one\n"
    "JSON object: start->ONLINE per node (median, max ms), HELLO RTT to the root (median, max\n"
    "ms), and the RSS growth per idle node while hosting N2 more nodes (default 1000; 0 skips\n"
    "it). Identities are generated first, in parallel, and timed separately.\n";

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
        out[i] = proto::Identity::generate();
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

int cmd_bench(const Args& args) {
  if (wants_help(args) || args.empty()) {
    std::fputs(kBenchUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  if (args[0] != "online") {
    std::fprintf(stderr, "error: unknown benchmark '%s'\n\n%s", args[0].c_str(), kBenchUsage);
    return 2;
  }
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

}  // namespace zt::cli
