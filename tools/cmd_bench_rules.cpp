// `ztcore bench rules`: the rules engine's cost per frame (core/rules_engine.hpp), for rule
// lists of 0, 10 and 100 rules, outbound (filter_outbound) and inbound (filter_inbound). No
// network, no sockets: the engine is pure, this calls it in a loop on one thread.
//
// The lists are a realistic mix in which no rule but the last decides, so every frame walks
// the whole list: groups "ethertype ipv6 → drop", "ethertype ipv4 and ipprotocol tcp and
// dport P → drop" (P never the frame's), "not tdiff 1 0 → drop" (the tags are equal), and
// "ipprotocol udp and sport P → drop", repeated (filled up with "or ethertype ipv6"), then
// "accept". The frames cycle through a TCP
// SYN to port 443, a UDP datagram to port 53 and an ICMP echo (IPv4).
#include <time.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli.hpp"
#include "core/membership.hpp"
#include "core/rules_engine.hpp"

namespace zt::cli {

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::ordered_json;
using namespace zt::proto;
using namespace zt::core;

const char* kBenchRulesUsage =
    "usage: ztcore bench rules [--seconds S]\n"
    "\n"
    "ns per frame of the rules engine for 0, 10 and 100 rules (a mix of ethertype, ipprotocol,\n"
    "port and tag matches in which only the last rule, accept, decides), outbound and inbound,\n"
    "on one thread for about S seconds per case (default 0.5). Prints one JSON object;\n"
    "ns_per_frame is the thread's CPU time per frame, wall_ns_per_frame the elapsed time.\n";

constexpr Address kSelf = 0x1111111111ULL, kPeer = 0x2222222222ULL;
constexpr uint64_t kNwid = 0x1111111111000001ULL;

Rule match(RuleType t) {
  Rule r;
  r.type = uint8_t(t);
  return r;
}

std::vector<Rule> rule_mix(size_t n) {
  std::vector<Rule> out;
  if (n == 0) return out;
  for (unsigned g = 0;; ++g) {
    std::vector<Rule> group;
    switch (g % 4) {
      case 0: {
        Rule e = match(RuleType::MatchEthertype);
        e.ethertype = 0x86dd;
        group = {e, Rule::drop()};
        break;
      }
      case 1: {
        Rule e = match(RuleType::MatchEthertype), p = match(RuleType::MatchIpProtocol),
             d = match(RuleType::MatchIpDestPortRange);
        e.ethertype = 0x0800;
        p.ip_protocol = 6;
        d.range_low = d.range_high = uint16_t(10000 + g);
        group = {e, p, d, Rule::drop()};
        break;
      }
      case 2: {
        Rule t = match(RuleType::MatchTagsDifference);
        t.negate = true;
        t.tag_id = 1;
        group = {t, Rule::drop()};
        break;
      }
      default: {
        Rule p = match(RuleType::MatchIpProtocol), s = match(RuleType::MatchIpSourcePortRange);
        p.ip_protocol = 17;
        s.range_low = s.range_high = uint16_t(20000 + g);
        group = {p, s, Rule::drop()};
        break;
      }
    }
    if (out.size() + group.size() + 1 > n) break;
    out.insert(out.end(), group.begin(), group.end());
  }
  // Fill up with "or ethertype ipv6": ORed onto the true result after an action it keeps the
  // final accept deciding, and it is still evaluated.
  while (out.size() + 1 < n) {
    Rule e = match(RuleType::MatchEthertype);
    e.ethertype = 0x86dd;
    e.or_ = true;
    out.push_back(e);
  }
  out.push_back(Rule::accept());
  return out;
}

Bytes ipv4(uint8_t proto, const Bytes& l4) {
  Bytes f(20, 0);
  f[0] = 0x45;
  f[8] = 64;
  f[9] = proto;
  const uint8_t src[4] = {10, 0, 0, 1}, dst[4] = {10, 0, 0, 2};
  std::memcpy(&f[12], src, 4);
  std::memcpy(&f[16], dst, 4);
  f.insert(f.end(), l4.begin(), l4.end());
  return f;
}

Bytes l4_ports(uint16_t sport, uint16_t dport, size_t len) {
  Bytes b(len, 0);
  store_be16(&b[0], sport);
  store_be16(&b[2], dport);
  return b;
}

int64_t thread_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

struct Case {
  double ns_per_frame = 0;       // this thread's CPU time per frame (robust to a loaded machine)
  double wall_ns_per_frame = 0;  // wall-clock time per frame
  uint64_t frames = 0;
  std::string verdict;
};

Case run_case(const NetworkConfig& cfg, const Membership& peer, bool inbound, double seconds) {
  std::vector<Bytes> payloads = {ipv4(6, l4_ports(40000, 443, 20)), ipv4(17, l4_ports(5353, 53, 16)),
                                 ipv4(1, Bytes{8, 0, 0, 0, 0, 1, 0, 1})};
  std::vector<FilterFrame> frames;
  for (const Bytes& p : payloads) {
    FilterFrame f;
    f.inbound = inbound;
    f.source = inbound ? kPeer : kSelf;
    f.destination = inbound ? kSelf : kPeer;
    f.mac_source = Mac::from_address(f.source, kNwid);
    f.mac_dest = Mac::from_address(f.destination, kNwid);
    f.ethertype = 0x0800;
    f.payload = p;
    frames.push_back(f);
  }
  const FilterEnv env{cfg, kSelf, &peer, {}};
  Case c;
  uint64_t accepted = 0, n = 0;
  const int64_t cpu0 = thread_cpu_ns();
  const auto start = Clock::now();
  const auto until = start + std::chrono::duration<double>(seconds);
  auto now = start;
  while (now < until) {
    for (int i = 0; i < 3000; ++i, ++n) {
      const FilterFrame& f = frames[n % frames.size()];
      const FilterResult r = inbound ? filter_inbound(env, f) : filter_outbound(env, f, true);
      accepted += r.passed();
    }
    now = Clock::now();
  }
  c.frames = n;
  c.ns_per_frame = double(thread_cpu_ns() - cpu0) / double(n);
  c.wall_ns_per_frame = std::chrono::duration<double, std::nano>(now - start).count() / double(n);
  c.verdict = accepted == n ? "accept" : accepted == 0 ? "drop" : "mixed";
  return c;
}

double loadavg1() {
  double l[1] = {-1};
  return getloadavg(l, 1) == 1 ? l[0] : -1;
}

}  // namespace

int bench_rules(const Args& args) {
  double seconds = 0.5;
  for (size_t i = 1; i < args.size(); ++i) {
    if (args[i] == "--seconds" && i + 1 < args.size()) {
      char* end = nullptr;
      seconds = std::strtod(args[++i].c_str(), &end);
      if (*end || !(seconds > 0 && seconds <= 60)) {
        std::fprintf(stderr, "error: --seconds is 0..60\n\n%s", kBenchRulesUsage);
        return 2;
      }
    } else {
      std::fprintf(stderr, "error: bad option '%s'\n\n%s", args[i].c_str(), kBenchRulesUsage);
      return 2;
    }
  }
  NetworkConfig cfg;
  cfg.nwid = kNwid;
  cfg.timestamp = 1;
  cfg.issued_to = kSelf;
  Tag own;
  own.nwid = kNwid;
  own.timestamp = 1;
  own.id = 1;
  own.value = 7;
  own.issued_to = kSelf;
  cfg.tags = {own};
  Membership peer;
  Tag theirs = own;
  theirs.issued_to = kPeer;
  peer.assume(theirs);  // equal tags: "not tdiff 1 0" never matches

  json out;
  out["benchmark"] = "rules";
  out["load_1min_before"] = loadavg1();
  json cases = json::array();
  for (size_t n : {size_t(0), size_t(10), size_t(100)}) {
    cfg.rules = rule_mix(n);
    for (bool inbound : {false, true}) {
      const Case c = run_case(cfg, peer, inbound, seconds);
      cases.push_back(json{{"rules", n},
                           {"direction", inbound ? "inbound" : "outbound"},
                           {"ns_per_frame", std::round(c.ns_per_frame * 10) / 10},
                           {"wall_ns_per_frame", std::round(c.wall_ns_per_frame * 10) / 10},
                           {"frames", c.frames},
                           {"verdict", c.verdict}});
      std::fprintf(stderr, "%3zu rules %-8s %8.1f ns/frame CPU, %8.1f wall (%s)\n", n,
                   inbound ? "inbound" : "outbound", c.ns_per_frame, c.wall_ns_per_frame, c.verdict.c_str());
    }
  }
  out["cases"] = cases;
  out["load_1min_after"] = loadavg1();
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

}  // namespace zt::cli
