// The seed's broadcast ping/pong with the C++ API (include/ztcore/ztcore.hpp), in one process on
// 127.0.0.1: a root (with a planet made for it), a node serving an embedded controller with a
// private network, and three member nodes. Every member broadcasts "ping from ztid <address>";
// every member that hears a ping answers "pong from ztid <address>" to the sender's MAC. Each
// member prints the pongs it received; exit 0 only if every member got a pong from every other.
// Callbacks run on the runtime's thread and may not call into it, so they only queue what they
// saw; the main thread answers. Built and run by ctest (example_cpp_pingpong).
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "ztcore/ztcore.hpp"

using namespace std::chrono_literals;
constexpr uint16_t kEthertype = 0x88b5;  // IEEE 802 local experimental

struct Received {
  size_t member;  // index of the member that received it
  zt::Mac src;
  std::string text;
};

int main() try {
  zt::Runtime rt;

  // Root: learn a free port with a probe node, make a planet naming it, start the root there.
  const std::string root_id = zt::generate_identity();
  uint16_t port;
  {
    zt::Node probe(rt, {.bind = "127.0.0.1", .identity = root_id, .allow_loopback = true});
    port = probe.port();
  }
  const auto planet = zt::make_planet(1, 1700000000000ULL, root_id, "127.0.0.1/" + std::to_string(port));
  zt::Node root(rt, {.port = port, .bind = "127.0.0.1", .planet = planet, .identity = root_id, .allow_loopback = true});

  // Controller node and a private network.
  zt::Controller ctl;
  zt::Node cnode(rt, {.bind = "127.0.0.1", .planet = planet, .allow_loopback = true, .controller = &ctl});
  const auto nwid = zt::NetworkId::of(cnode.address(), 1);
  ctl.request_ok("POST", "/controller/network/" + nwid.to_string(), R"({"private":true,"multicastLimit":64})");
  std::cout << "root " << root.address() << ", controller " << cnode.address() << ", network " << nwid << "\n";

  // Three members; their frame callbacks queue what arrives.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Received> inbox;
  std::vector<zt::Node> members;
  for (size_t i = 0; i < 3; ++i) {
    members.emplace_back(rt, zt::NodeOptions{.bind = "127.0.0.1", .planet = planet, .allow_loopback = true, .join = {nwid},
                                             .on_frame = [&, i](const zt::Frame& f) {
                                               if (f.ethertype != kEthertype) return;
                                               std::lock_guard lk(mu);
                                               inbox.push_back({i, f.src, std::string(f.text())});
                                               cv.notify_one();
                                             }});
    ctl.authorize(nwid, members.back().address());
  }
  for (auto deadline = std::chrono::steady_clock::now() + 60s;;) {
    size_t ready = 0;
    for (auto& m : members)
      if (auto n = m.network(nwid); n && n->status == zt::NetworkStatus::Ok) ++ready;
    if (ready == members.size()) break;
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("members got no network config");
    std::this_thread::sleep_for(50ms);
  }
  std::map<zt::Address, size_t> index;
  for (size_t i = 0; i < members.size(); ++i) {
    index[members[i].address()] = i;
    std::cout << "member " << i + 1 << " " << members[i].address() << " mac " << members[i].mac(nwid) << "\n";
  }

  // Each member broadcasts its ping once a second until it has every pong (UDP may drop one).
  std::vector<std::set<zt::Address>> pongs(members.size());
  auto done = [&] {
    for (auto& p : pongs)
      if (p.size() < members.size() - 1) return false;
    return true;
  };
  auto deadline = std::chrono::steady_clock::now() + 60s;
  auto last_ping = std::chrono::steady_clock::now() - 10s;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    if (std::chrono::steady_clock::now() - last_ping >= 1s) {
      for (size_t i = 0; i < members.size(); ++i)
        if (pongs[i].size() < members.size() - 1)
          members[i].send_frame(nwid, zt::Mac::broadcast(), kEthertype, "ping from ztid " + members[i].address().to_string());
      last_ping = std::chrono::steady_clock::now();
    }
    std::deque<Received> batch;
    {
      std::unique_lock lk(mu);
      cv.wait_for(lk, 100ms, [&] { return !inbox.empty(); });
      batch.swap(inbox);
    }
    for (auto& r : batch) {
      auto& me = members[r.member];
      if (r.text.rfind("ping from ztid ", 0) == 0) {
        me.send_frame(nwid, r.src, kEthertype, "pong from ztid " + me.address().to_string());
      } else if (r.text.rfind("pong from ztid ", 0) == 0) {
        auto from = zt::Address::parse(r.text.substr(15));
        if (index.count(from) && from != me.address() && pongs[r.member].insert(from).second)
          std::cout << "member " << r.member + 1 << " " << me.address() << " got \"" << r.text << "\"\n";
      }
    }
  }
  size_t total = 0;
  for (auto& p : pongs) total += p.size();
  const bool ok = done();
  std::cout << (ok ? "OK" : "FAILED") << ": " << total << "/" << members.size() * (members.size() - 1) << " pongs\n";
  return ok ? 0 : 1;
} catch (const zt::Error& e) {
  std::cerr << "ztcore error " << static_cast<int>(e.code()) << ": " << e.what() << "\n";
  return 1;
}
