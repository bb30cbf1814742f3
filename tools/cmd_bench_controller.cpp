// `ztcore bench controller`: the controller's request path against its storage, in this
// process (no network): network-config requests answered per second with N members in the
// network, and how long a change takes to become a pushed config. Prints one JSON object.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "base/bytes.hpp"
#include "cli.hpp"
#include "controller/db_factory.hpp"
#include "controller/embedded_controller.hpp"
#include "controller/objects.hpp"
#include "controller/pg_db.hpp"
#include "controller/sqlite_db.hpp"
#include "core/controller.hpp"
#include "crypto/crypto.hpp"
#include "proto/dictionary.hpp"
#include "proto/vl2.hpp"
#include "runtime/async_controller.hpp"
#include "runtime/identity_store.hpp"
#include "runtime/runtime.hpp"

namespace zt::cli {

namespace {

using Clock = std::chrono::steady_clock;
using ojson = nlohmann::ordered_json;
using controller::json;

const char* kUsage =
    "usage: ztcore bench controller [-n MEMBERS] [--db FILE|postgresql://...]... [--seconds S]\n"
    "                               [--samples K]\n"
    "\n"
    "The controller's request path against its storage, in this process: a network with\n"
    "MEMBERS authorized members (default 10000), 4 requesters asking for their config in a loop\n"
    "for S seconds (default 3; no rate limit): requests_per_s. Then K times (default 30) a\n"
    "member change through the management API (as the HTTP API makes it) until the pushed\n"
    "config is sent: change_to_config_ms. PostgreSQL also: the same change written by a second\n"
    "connection (another controller process) until the owner has pushed (LISTEN/NOTIFY):\n"
    "notify_to_config_ms. Each backend runs twice: with the indexed queries the config builder\n"
    "uses (requests_per_s) and with every member record copied per request as before\n"
    "(requests_per_s_members_of). --db is repeatable (default: a SQLite file in a temp dir);\n"
    "a PostgreSQL database should be a scratch one (the bench deletes its network at the end).\n"
    "Last, the node's side for S seconds (loop_direct, loop_thread): a runtime loop thread\n"
    "receives the 4 requesters' requests (one outstanding each) and runs the controller itself\n"
    "(direct) or hands them to the controller thread (runtime/async_controller.hpp); a probe\n"
    "posts an empty task to the loop every millisecond: loop_wait_ms is how long it waited\n"
    "(what any datagram arriving then waits), loop_us_per_request the loop's busy time per\n"
    "answered request.\n";

double round3(double x) { return double(int64_t(x * 1000 + (x < 0 ? -0.5 : 0.5))) / 1000; }

ojson stats(std::vector<double> v) {
  if (v.empty()) return ojson{{"median", nullptr}, {"p90", nullptr}, {"max", nullptr}};
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  const double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  return ojson{{"median", round3(med)}, {"p90", round3(v[std::min(n - 1, n * 9 / 10)])}, {"max", round3(v.back())}};
}

std::string loadavg() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

// Counts what the controller sends; remembers when each member last got a config.
struct CountingSender : core::ControllerSender {
  explicit CountingSender(proto::Identity i) : id(std::move(i)) {}
  const proto::Identity& controller_identity() const override { return id; }
  void send_config(int64_t, proto::Address dest, uint64_t, uint64_t pid, const proto::Dictionary&) override {
    std::lock_guard lk(mu);
    ++configs;
    if (pid == 0) ++pushes;
    last_config[dest] = Clock::now();
  }
  void send_error(int64_t, proto::Address, uint64_t, uint64_t, proto::ErrorCode, ByteSpan) override {
    std::lock_guard lk(mu);
    ++errors;
  }
  void send_revocation(int64_t, proto::Address, const proto::Revocation&) override {}
  std::optional<Clock::time_point> config_at(proto::Address a) {
    std::lock_guard lk(mu);
    auto it = last_config.find(a);
    if (it == last_config.end()) return std::nullopt;
    return it->second;
  }
  proto::Identity id;
  std::mutex mu;
  uint64_t configs = 0, pushes = 0, errors = 0;
  std::map<proto::Address, Clock::time_point> last_config;
};

// The storage as before the indexed queries: active bridges and assigned IPs derived from
// members_of() (every record copied and parsed per request).
class MembersOfDb : public controller::ControllerDb {
 public:
  explicit MembersOfDb(controller::ControllerDb& d) : d_(d) {}
  std::vector<uint64_t> list_networks() override { return d_.list_networks(); }
  std::optional<json> get_network(uint64_t n) override { return d_.get_network(n); }
  Result<controller::PutResult> put_network(const json& n) override { return d_.put_network(n); }
  Result<std::optional<json>> delete_network(uint64_t n) override { return d_.delete_network(n); }
  std::map<proto::Address, uint64_t> member_revisions(uint64_t n) override { return d_.member_revisions(n); }
  std::vector<json> members_of(uint64_t n) override { return d_.members_of(n); }
  std::optional<json> get_member(uint64_t n, proto::Address a) override { return d_.get_member(n, a); }
  Result<controller::PutResult> put_member(const json& m) override { return d_.put_member(m); }
  Result<std::optional<json>> delete_member(uint64_t n, proto::Address a) override { return d_.delete_member(n, a); }
  bool shared() const override { return d_.shared(); }
  void set_change_listener(controller::DbChangeListener fn) override { d_.set_change_listener(std::move(fn)); }

 private:
  controller::ControllerDb& d_;
};

Bytes request_metadata() {
  proto::Dictionary d;
  d.set_u64("v", 7);
  d.set_u64("vend", 1);
  d.set_u64("pv", 12);
  d.set_u64("majv", 1);
  d.set_u64("minv", 14);
  d.set_u64("revv", 1);
  d.set_u64("mr", 1024);
  d.set_u64("mc", 128);
  d.set_u64("mcr", 64);
  d.set_u64("mt", 128);
  d.set_u64("revr", 1);
  return d.serialize();
}

int64_t wall_ms() { return runtime::now_ms(); }

struct Setup {
  proto::Identity ctl;
  std::vector<proto::Identity> requesters;
};

// ---- the node's side: the loop thread with the controller on it, or on its own thread ----------

// Counts replies as they reach "the node" (the loop); the driver waits on it.
struct LoopSender : core::ControllerSender {
  explicit LoopSender(proto::Identity i) : id(std::move(i)) {}
  const proto::Identity& controller_identity() const override { return id; }
  void send_config(int64_t, proto::Address, uint64_t, uint64_t, const proto::Dictionary&) override { note(); }
  void send_error(int64_t, proto::Address, uint64_t, uint64_t, proto::ErrorCode, ByteSpan) override { note(); }
  void send_revocation(int64_t, proto::Address, const proto::Revocation&) override {}
  void note() {
    std::lock_guard lk(mu);
    ++answers;
    cv.notify_all();
  }
  proto::Identity id;
  std::mutex mu;
  std::condition_variable cv;
  uint64_t answers = 0;
};

ojson measure_loop(controller::ControllerDb& db, const Setup& s, uint64_t nwid, const Bytes& md, double seconds,
                   bool on_thread) {
  controller::ControllerOptions o;
  o.rate_limit_ms = 0;
  controller::EmbeddedController ctl(db, o);
  LoopSender sender(s.ctl);
  std::atomic<int64_t> busy_ns{0};
  auto timed = [&busy_ns](auto&& f) {
    const auto t0 = Clock::now();
    f();
    busy_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
  };
  runtime::Runtime rt;  // its loop thread plays the controller node's (after `timed`: its tasks use it)
  std::unique_ptr<runtime::AsyncController> actl;
  core::NetworkController* target = &ctl;
  if (on_thread) {
    // As the runtime does for a node: replies posted back to the loop (timed there too).
    actl = std::make_unique<runtime::AsyncController>(ctl, [&rt, &timed](std::function<bool(int64_t)> fn) {
      rt.post([&timed, fn = std::move(fn)] { timed([&] { fn(runtime::now_ms()); }); });
    });
    target = actl.get();
  }
  rt.call([&] { target->attach(&sender); });
  for (const auto& id : s.requesters) (void)ctl.write_member(wall_ms(), nwid, id.address(), json{{"authorized", true}});

  std::atomic<bool> done{false};
  std::vector<double> waits;
  std::thread probe([&] {
    while (!done) {
      const auto t0 = Clock::now();
      rt.call([] {});
      waits.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  uint64_t pid = 1, rounds = 0;
  const auto start = Clock::now();
  double elapsed = 0;
  busy_ns = 0;
  while ((elapsed = std::chrono::duration<double>(Clock::now() - start).count()) < seconds) {
    uint64_t before;
    {
      std::lock_guard lk(sender.mu);
      before = sender.answers;
    }
    for (const auto& id : s.requesters) {
      core::ConfigRequest r;
      r.nwid = nwid;
      r.requester = id;
      r.metadata = md;
      r.packet_id = pid++;
      rt.post([&timed, target, r] { timed([&] { target->on_request(wall_ms(), r); }); });
    }
    std::unique_lock lk(sender.mu);
    if (!sender.cv.wait_for(lk, std::chrono::seconds(10), [&] { return sender.answers >= before + s.requesters.size(); }))
      break;
    ++rounds;
  }
  done = true;
  probe.join();
  const uint64_t answered = rounds * s.requesters.size();
  const double busy_us = double(busy_ns.load()) / 1000;
  rt.call([&] { target->attach(nullptr); });  // joins the controller thread
  actl.reset();
  return ojson{{"requests_per_s", int64_t(double(answered) / elapsed)},
               {"loop_us_per_request", round3(busy_us / double(std::max<uint64_t>(answered, 1)))},
               {"loop_wait_ms", stats(waits)},
               {"probes", waits.size()}};
}

// One backend: returns its JSON result, or an error string in "error".
ojson run_backend(const std::string& spec, const Setup& s, size_t members, double seconds, size_t samples) {
  ojson out;
  std::string tmpdir;
  std::string path = spec;
  if (spec.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ztcore-bench-ctl-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) return ojson{{"error", "mkdtemp failed"}};
    tmpdir = tmpl;
    path = tmpl + "/controller.db";
  }
  const bool pg = controller::is_postgres_url(path);
  out["backend"] = pg ? "postgresql" : "sqlite";
  auto opened = controller::open_db(path);
  if (!opened) {
    if (!tmpdir.empty()) std::filesystem::remove_all(tmpdir);
    return ojson{{"backend", out["backend"]}, {"error", opened.error()}};
  }
  controller::ControllerDb& db = **opened;

  uint8_t rb[4];
  crypto::random_bytes(rb, 4);
  const uint64_t nwid = (s.ctl.address() << 24) | ((uint64_t(load_be32(rb)) & 0xfffffe) | 1);
  const int64_t t_start = wall_ms();
  {
    controller::EmbeddedController setup_ctl(db);
    CountingSender sender(s.ctl);
    setup_ctl.attach(&sender);
    auto r = setup_ctl.write_network(
        t_start, nwid,
        json{{"name", "bench"},
             {"private", true},
             {"v4AssignMode", {{"zt", true}}},
             {"routes", json::array({json{{"target", "10.0.0.0/8"}}})},
             {"ipAssignmentPools", json::array({json{{"ipRangeStart", "10.0.0.1"}, {"ipRangeEnd", "10.255.255.254"}}})}});
    if (!r.ok()) return ojson{{"backend", out["backend"]}, {"error", r.body.dump()}};
  }
  // N members with an IP each (written straight to the Db, as records the API would make).
  std::fprintf(stderr, "[%s] writing %zu member records...\n", out["backend"].get<std::string>().c_str(), members);
  std::set<proto::Address> used;
  for (const auto& id : s.requesters) used.insert(id.address());
  used.insert(s.ctl.address());
  auto t0 = Clock::now();
  for (size_t i = 0; i < members; ++i) {
    proto::Address a;
    do {
      uint8_t b[5];
      crypto::random_bytes(b, 5);
      a = (uint64_t(b[0]) << 32) | (uint64_t(b[1]) << 24) | (uint64_t(b[2]) << 16) | (uint64_t(b[3]) << 8) | b[4];
    } while (proto::address_reserved(a) || !used.insert(a).second);
    json m = json::object();
    controller::init_member(m, nwid, a, t_start, true);
    m["authorized"] = true;
    uint32_t ip = 0x0a000000u + uint32_t(i) + 2;
    m["ipAssignments"] = json::array({std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 255) + "." +
                                      std::to_string((ip >> 8) & 255) + "." + std::to_string(ip & 255)});
    if (i % 1000 == 0) m["activeBridge"] = true;  // a few bridges, as real networks have
    auto r = db.put_member(m);
    if (!r) return ojson{{"backend", out["backend"]}, {"error", r.error()}};
  }
  out["insert_members_s"] = round3(std::chrono::duration<double>(Clock::now() - t0).count());

  const Bytes md = request_metadata();
  auto measure_rate = [&](controller::ControllerDb& store) -> ojson {
    controller::ControllerOptions o;
    o.rate_limit_ms = 0;
    controller::EmbeddedController ctl(store, o);
    CountingSender sender(s.ctl);
    ctl.attach(&sender);
    for (const auto& id : s.requesters) (void)ctl.write_member(wall_ms(), nwid, id.address(), json{{"authorized", true}});
    uint64_t pid = 1;
    auto ask = [&](const proto::Identity& id) {
      core::ConfigRequest r;
      r.nwid = nwid;
      r.requester = id;
      r.metadata = md;
      r.packet_id = pid++;
      ctl.on_request(wall_ms(), r);
    };
    for (const auto& id : s.requesters) ask(id);  // first requests: IPs assigned, records saved
    uint64_t before = sender.configs, n = 0;
    auto start = Clock::now();
    double elapsed = 0;
    while ((elapsed = std::chrono::duration<double>(Clock::now() - start).count()) < seconds) {
      ask(s.requesters[n % s.requesters.size()]);
      ++n;
    }
    uint64_t answered = sender.configs - before;
    return ojson{{"requests", n}, {"answered", answered}, {"per_s", int64_t(double(answered) / elapsed)},
                 {"ms_each", round3(elapsed * 1000 / double(std::max<uint64_t>(n, 1)))}};
  };
  std::fprintf(stderr, "[%s] config requests for %.1f s (indexed queries)...\n", out["backend"].get<std::string>().c_str(),
               seconds);
  ojson fast = measure_rate(db);
  std::fprintf(stderr, "[%s] config requests for %.1f s (members_of per request)...\n",
               out["backend"].get<std::string>().c_str(), seconds);
  MembersOfDb slow_db(db);
  ojson slow = measure_rate(slow_db);
  out["requests_per_s"] = fast["per_s"];
  out["request_ms"] = fast["ms_each"];
  out["requests_per_s_members_of"] = slow["per_s"];
  out["request_ms_members_of"] = slow["ms_each"];

  // Change -> pushed config. The requester is online with its metadata remembered, so a
  // change of its record is pushed (§10.1 step 16).
  {
    controller::ControllerOptions o;
    o.rate_limit_ms = 0;
    controller::EmbeddedController ctl(db, o);
    CountingSender sender(s.ctl);
    ctl.attach(&sender);
    const proto::Identity& who = s.requesters[0];
    core::ConfigRequest r;
    r.nwid = nwid;
    r.requester = who;
    r.metadata = md;
    r.packet_id = 1;
    ctl.on_request(wall_ms(), r);
    std::vector<double> local;
    for (size_t i = 0; i < samples; ++i) {
      auto before = sender.config_at(who.address());
      auto t = Clock::now();
      // What the HTTP API does: the management write, then process_pending on the node.
      auto w = ctl.write_member(wall_ms(), nwid, who.address(), json{{"name", "sample-" + std::to_string(i)}});
      ctl.process_pending(wall_ms());
      auto after = sender.config_at(who.address());
      if (w.ok() && after && after != before) local.push_back(std::chrono::duration<double, std::milli>(*after - t).count());
    }
    out["change_to_config_ms"] = stats(local);
    out["change_samples"] = local.size();

    if (pg) {
      // A second controller process's write (its own connection), pushed by this one.
      auto other = controller::open_db(path);
      if (!other) {
        out["notify_error"] = other.error();
      } else {
        std::mutex node;  // stand-in for this controller's node thread
        db.set_change_listener([&](const controller::DbChange& c) {
          if (!ctl.apply_external_change(c)) return;
          std::lock_guard lk(node);
          ctl.process_pending(wall_ms());
        });
        std::vector<double> remote;
        for (size_t i = 0; i < samples; ++i) {
          auto before = sender.config_at(who.address());
          auto m = (*other)->get_member(nwid, who.address());
          if (!m) break;
          (*m)["name"] = "remote-" + std::to_string(i);
          auto t = Clock::now();
          if (!(*other)->put_member(*m)) break;
          std::optional<Clock::time_point> after;
          while (Clock::now() - t < std::chrono::seconds(5)) {
            after = sender.config_at(who.address());
            if (after && after != before) break;
            std::this_thread::sleep_for(std::chrono::microseconds(200));
          }
          if (after && after != before) remote.push_back(std::chrono::duration<double, std::milli>(*after - t).count());
        }
        db.set_change_listener(nullptr);
        out["notify_to_config_ms"] = stats(remote);
        out["notify_samples"] = remote.size();
      }
    }
  }
  std::fprintf(stderr, "[%s] the node's loop for %.1f s, controller on the loop, then on its own thread...\n",
               out["backend"].get<std::string>().c_str(), seconds);
  out["loop_direct"] = measure_loop(db, s, nwid, md, seconds, false);
  out["loop_thread"] = measure_loop(db, s, nwid, md, seconds, true);
  (void)db.delete_network(nwid);
  opened->reset();
  if (!tmpdir.empty()) std::filesystem::remove_all(tmpdir);
  return out;
}

}  // namespace

int bench_controller(const Args& args) {
  size_t members = 10000, samples = 30;
  double seconds = 3;
  std::vector<std::string> dbs;
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    bool has = i + 1 < args.size();
    auto bad = [&] {
      std::fprintf(stderr, "error: bad option '%s'\n\n%s", a.c_str(), kUsage);
      return 2;
    };
    if (!has) return bad();
    const std::string& v = args[++i];
    try {
      if (a == "-n" || a == "--members") members = std::stoul(v);
      else if (a == "--seconds") seconds = std::stod(v);
      else if (a == "--samples") samples = std::stoul(v);
      else if (a == "--db") dbs.push_back(v);
      else return bad();
    } catch (...) {
      return bad();
    }
    if (members > 1000000 || seconds <= 0 || seconds > 600 || samples < 1 || samples > 10000) return bad();
  }
  if (dbs.empty()) dbs.push_back("");  // a SQLite file in a temp dir
  std::fprintf(stderr, "generating 5 identities...\n");
  Setup s;
  s.ctl = runtime::generate_identity();
  for (int i = 0; i < 4; ++i) s.requesters.push_back(runtime::generate_identity());
  const std::string load_start = loadavg();
  ojson results = ojson::array();
  bool ok = true;
  for (const auto& spec : dbs) {
    ojson r = run_backend(spec, s, members, seconds, samples);
    if (r.contains("error")) {
      ok = false;
      std::fprintf(stderr, "error: %s: %s\n", r.value("backend", std::string("db")).c_str(),
                   r["error"].get<std::string>().c_str());
    }
    results.push_back(r);
  }
  ojson out{{"members", members},
            {"requesters", s.requesters.size()},
            {"seconds", seconds},
            {"results", results},
            {"cpus", std::thread::hardware_concurrency()},
            {"loadavg_start", load_start},
            {"loadavg_end", loadavg()}};
  std::printf("%s\n", out.dump().c_str());
  return ok ? 0 : 1;
}

}  // namespace zt::cli
