// Real UDP on loopback: a root and three nodes in one process, one event loop.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "../support/net_util.hpp"
#include "../support/test_identities.hpp"
#include "proto/world.hpp"
#include "runtime/runtime.hpp"

using namespace zt;
using namespace std::chrono_literals;

namespace {

Bytes make_planet(const proto::Identity& root, uint16_t port) {
  auto kp_bytes = runtime::read_file(std::string(ZTCORE_VECTORS_DIR) + "/planet_signing_keypair.c25519");
  auto kp = proto::WorldKeypair::parse(*kp_bytes);
  proto::WorldRoot r;
  r.identity = proto::Identity::parse(root.to_string(false)).value();
  r.stable_endpoints.push_back(*proto::InetAddress::parse("127.0.0.1/" + std::to_string(port)));
  auto w = proto::World::make(proto::World::Type::Planet, 4242, 1700000000000, *kp, {r});
  return w->serialize();
}

// Collects events from all nodes.
struct Events {
  std::mutex mu;
  std::condition_variable cv;
  std::map<proto::Address, int> online;
  std::vector<std::tuple<proto::Address, proto::Address, uint64_t, Bytes>> messages;  // to, from, type, data

  std::function<void(const core::Event&)> sink(proto::Address self) {
    return [this, self](const core::Event& e) {
      std::lock_guard lk(mu);
      if (e.type == core::EventType::Online) online[self]++;
      if (e.type == core::EventType::UserMessage)
        messages.emplace_back(self, e.peer, e.type_id, Bytes(e.data.begin(), e.data.end()));
      cv.notify_all();
    };
  }
  template <class Pred>
  bool wait(Pred p, std::chrono::milliseconds t = 10s) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, t, [&] { return p(); });
  }
};

struct Lab {
  runtime::Runtime rt;
  Events ev;
  std::vector<proto::Identity> ids = test::reference_identities();
  uint16_t root_port = test::free_udp_port();
  Bytes planet;
  std::shared_ptr<runtime::NodeHandle> root;
  std::vector<std::shared_ptr<runtime::NodeHandle>> nodes;

  std::shared_ptr<runtime::NodeHandle> add(const proto::Identity& id, uint16_t port, std::string home = "") {
    runtime::NodeConfig c;
    c.identity = id;
    c.port = port;
    c.home = std::move(home);
    c.bind = {*proto::InetAddress::parse("127.0.0.1")};
    c.planet = planet;
    c.allow_loopback = true;
    c.on_event = ev.sink(id.address());
    auto h = rt.add_node(std::move(c));
    EXPECT_TRUE(h.ok()) << (h.ok() ? "" : h.error());
    return h.ok() ? *h : nullptr;
  }

  void start(int n) {
    planet = make_planet(ids[0], root_port);
    root = add(ids[0], root_port);
    for (int i = 1; i <= n; ++i) nodes.push_back(add(ids[size_t(i)], 0));
  }
};

}  // namespace

TEST(RuntimeUdp, RootAndThreeNodesGoOnlineAndMeetDirectly) {
  ASSERT_GE(test::reference_identities().size(), 4u);
  Lab lab;
  lab.start(3);
  ASSERT_TRUE(lab.ev.wait([&] {
    for (auto& n : lab.nodes)
      if (!lab.ev.online.count(n->address())) return false;
    return true;
  })) << "not all nodes came online";
  for (auto& n : lab.nodes) EXPECT_TRUE(n->online());

  // Every node messages every other node; the first packets go through the root.
  for (auto& a : lab.nodes)
    for (auto& b : lab.nodes)
      if (a != b) {
        const std::string text = "hello from " + proto::address_to_string(a->address());
        EXPECT_TRUE(a->send_user_message(b->address(), 0x10000, as_bytes(text)).ok());
      }
  ASSERT_TRUE(lab.ev.wait([&] { return lab.ev.messages.size() >= 6; })) << lab.ev.messages.size();
  for (auto& [to, from, type, data] : lab.ev.messages) {
    EXPECT_EQ(type, 0x10000u);
    EXPECT_EQ(std::string(data.begin(), data.end()), "hello from " + proto::address_to_string(from));
  }
  EXPECT_GT(lab.root->counters().relayed, 0u);

  // RENDEZVOUS moves them to direct paths.
  auto all_direct = [&] {
    for (auto& a : lab.nodes)
      for (auto& b : lab.nodes) {
        if (a == b) continue;
        bool direct = false;
        for (auto& p : a->peers())
          if (p.address == b->address()) direct = p.direct;
        if (!direct) return false;
      }
    return true;
  };
  for (int i = 0; i < 100 && !all_direct(); ++i) std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(all_direct());

  // Once direct, traffic no longer goes through the root.
  const uint64_t relayed_before = lab.root->counters().relayed;
  const size_t before = lab.ev.messages.size();
  EXPECT_TRUE(lab.nodes[0]->send_user_message(lab.nodes[1]->address(), 0x10001, as_bytes("direct")).ok());
  ASSERT_TRUE(lab.ev.wait([&] { return lab.ev.messages.size() > before; }));
  EXPECT_EQ(lab.root->counters().relayed, relayed_before);
}

TEST(RuntimeUdp, RestartedNodeKeepsIdentityAndComesBack) {
  auto dir = std::filesystem::temp_directory_path() / ("ztcore-rt-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  Lab lab;
  lab.planet = make_planet(lab.ids[0], lab.root_port);
  lab.root = lab.add(lab.ids[0], lab.root_port);

  // No identity given: generated on first start and stored with mode 0600.
  runtime::NodeConfig c;
  c.home = dir.string();
  c.port = 0;
  c.bind = {*proto::InetAddress::parse("127.0.0.1")};
  c.planet = lab.planet;
  c.allow_loopback = true;
  c.on_event = [&](const core::Event& e) { lab.ev.sink(0)(e); };
  auto first = lab.rt.add_node(c);
  ASSERT_TRUE(first.ok()) << first.error();
  const proto::Address addr = (*first)->address();
  ASSERT_TRUE(lab.ev.wait([&] { return lab.ev.online[0] >= 1; }));
  struct stat st {};
  ASSERT_EQ(::stat((dir / "identity.secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(std::filesystem::exists(dir / "identity.public"));
  lab.rt.remove_node(*first);
  first->reset();

  auto second = lab.rt.add_node(c);
  ASSERT_TRUE(second.ok()) << second.error();
  EXPECT_EQ((*second)->address(), addr);
  ASSERT_TRUE(lab.ev.wait([&] { return lab.ev.online[0] >= 2; }));
  std::filesystem::remove_all(dir);
}

// Removing a node whose sockets sit between other nodes' sockets must leave the others'
// epoll registrations valid (a deque erased in the middle moved them: use-after-free under ASan,
// seen in CI with 100 stack nodes).
TEST(RuntimeUdp, RemovingAMiddleNodeKeepsTheOthersReceiving) {
  Lab lab;
  lab.start(3);
  ASSERT_TRUE(lab.ev.wait([&] {
    for (auto& n : lab.nodes)
      if (!lab.ev.online.count(n->address())) return false;
    return true;
  }));
  lab.rt.remove_node(lab.nodes[1]);
  lab.nodes[1].reset();
  for (int round = 0; round < 3; ++round) {
    const size_t before = lab.ev.messages.size();
    ASSERT_TRUE(lab.nodes[0]->send_user_message(lab.nodes[2]->address(), 0x20000, as_bytes("a")).ok());
    ASSERT_TRUE(lab.nodes[2]->send_user_message(lab.nodes[0]->address(), 0x20000, as_bytes("b")).ok());
    ASSERT_TRUE(lab.ev.wait([&] { return lab.ev.messages.size() >= before + 2; })) << "round " << round;
  }
  // The root (first socket registered) still answers a new node.
  auto late = lab.add(lab.ids[4], 0);
  ASSERT_TRUE(late);
  ASSERT_TRUE(lab.ev.wait([&] { return lab.ev.online.count(late->address()) > 0; }));
}
