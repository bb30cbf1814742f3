// Virtual networks over real UDP on loopback: root, controller node and members in one
// process. The member side of §9/§16 against a minimal test controller.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "../support/test_controller.hpp"
#include "../support/net_util.hpp"
#include "../support/test_identities.hpp"
#include "proto/world.hpp"
#include "runtime/runtime.hpp"

using namespace zt;
using namespace std::chrono_literals;

namespace {

struct Received {
  proto::Address at;
  uint64_t nwid;
  proto::Mac src, dst;
  uint16_t ethertype;
  std::string data;
};

struct World {
  runtime::Runtime rt;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Received> frames;
  std::map<proto::Address, core::NetworkStatus> status;
  std::map<proto::Address, core::NetworkInfo> info;
  std::vector<std::string> traces;
  std::vector<proto::Identity> ids = test::reference_identities();
  test::TestController ctl;
  uint64_t nwid = 0;
  Bytes planet;
  std::shared_ptr<runtime::NodeHandle> root, controller;
  std::vector<std::shared_ptr<runtime::NodeHandle>> members;

  template <class P>
  bool wait(P p, std::chrono::milliseconds t = 10s) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, t, p);
  }

  std::shared_ptr<runtime::NodeHandle> add(const proto::Identity& id, uint16_t port, core::NetworkController* c = nullptr) {
    runtime::NodeConfig cfg;
    cfg.identity = id;
    cfg.port = port;
    cfg.bind = {*proto::InetAddress::parse("127.0.0.1")};
    cfg.planet = planet;
    cfg.allow_loopback = true;
    cfg.controller = c;
    const proto::Address me = id.address();
    cfg.on_frame = [this, me](uint64_t nw, proto::Mac s, proto::Mac d, uint16_t et, uint16_t, ByteSpan data) {
      std::lock_guard lk(mu);
      frames.push_back({me, nw, s, d, et, std::string(data.begin(), data.end())});
      cv.notify_all();
    };
    cfg.on_network = [this, me](uint64_t, core::NetworkOp, const core::NetworkInfo& i) {
      std::lock_guard lk(mu);
      status[me] = i.status;
      info[me] = i;
      cv.notify_all();
    };
    cfg.on_event = [this](const core::Event& e) {
      if (e.type != core::EventType::Trace) return;
      std::lock_guard lk(mu);
      traces.push_back(e.text);
      cv.notify_all();
    };
    auto h = rt.add_node(std::move(cfg));
    EXPECT_TRUE(h.ok()) << (h.ok() ? "" : h.error());
    return *h;
  }

  void start(int n) {
    const uint16_t rport = test::free_udp_port();
    auto kp = proto::WorldKeypair::parse(*runtime::read_file(std::string(ZTCORE_VECTORS_DIR) + "/planet_signing_keypair.c25519"));
    proto::WorldRoot r;
    r.identity = proto::Identity::parse(ids[0].to_string(false)).value();
    r.stable_endpoints.push_back(*proto::InetAddress::parse("127.0.0.1/" + std::to_string(rport)));
    planet = proto::World::make(proto::World::Type::Planet, 99, 1700000000000, *kp, {r})->serialize();
    root = add(ids[0], rport);
    nwid = (ids[1].address() << 24) | 0xabcdef;
    ctl.nwid = nwid;
    controller = add(ids[1], 0, &ctl);
    for (int i = 0; i < n; ++i) members.push_back(add(ids[size_t(2 + i)], 0));
  }

  size_t frames_at(proto::Address a, const std::string& text) {
    size_t n = 0;
    for (auto& f : frames) n += (f.at == a && f.data == text);
    return n;
  }
};

}  // namespace

TEST(Vl2Udp, JoinAuthorizeBroadcastUnicastAndRevoke) {
  World w;
  w.start(3);
  auto& A = w.members[0];
  auto& B = w.members[1];
  auto& C = w.members[2];
  for (auto& m : w.members) ASSERT_TRUE(m->join(w.nwid).ok());

  // Not authorized yet: the controller refuses.
  ASSERT_TRUE(w.wait([&] {
    for (auto& m : w.members)
      if (w.status[m->address()] != core::NetworkStatus::AccessDenied) return false;
    return true;
  })) << "members did not see ACCESS_DENIED";
  // Sending while unauthorized is accepted by the API (the core refuses it; that nothing
  // arrives is checked in virtual time: tests/sim/sim_silence_test.cpp).
  EXPECT_TRUE(A->send_frame(w.nwid, proto::Mac::from_address(A->address(), w.nwid), proto::Mac::broadcast(), 0x88b5, 0,
                            as_bytes("early")).ok());

  // Authorize everyone and push the config.
  // On the controller's thread, where the runtime calls the test controller.
  w.controller->controller_call([&](int64_t now) {
    for (auto& m : w.members) {
      w.ctl.authorized.insert(m->address());
      w.ctl.push(now, m->address());
    }
  });
  ASSERT_TRUE(w.wait([&] {
    for (auto& m : w.members)
      if (w.status[m->address()] != core::NetworkStatus::Ok) return false;
    return true;
  })) << "members did not get a config";
  auto ia = w.info[A->address()];
  EXPECT_EQ(ia.mac, proto::Mac::from_address(A->address(), w.nwid));
  EXPECT_EQ(ia.name, "testnet");
  EXPECT_EQ(ia.assigned_addresses.size(), 2u);

  // Broadcast from A reaches B and C, not A.
  const proto::Mac amac = proto::Mac::from_address(A->address(), w.nwid);
  ASSERT_TRUE(A->send_frame(w.nwid, amac, proto::Mac::broadcast(), 0x88b5, 0, as_bytes("ping")).ok());
  ASSERT_TRUE(w.wait([&] { return w.frames_at(B->address(), "ping") == 1 && w.frames_at(C->address(), "ping") == 1; }))
      << "broadcast did not reach every member";

  // Unicast replies to A's MAC.
  for (auto* m : {&B, &C}) {
    const proto::Mac mm = proto::Mac::from_address((*m)->address(), w.nwid);
    ASSERT_TRUE((*m)->send_frame(w.nwid, mm, amac, 0x88b5, 0, as_bytes("pong")).ok());
  }
  ASSERT_TRUE(w.wait([&] { return w.frames_at(A->address(), "pong") == 2; })) << "unicast replies missing";
  for (auto& f : w.frames)
    if (f.data == "pong") EXPECT_EQ(f.dst, amac);

  // A frame with a foreign source MAC is dropped, and a trace says why (that it reaches
  // nobody is checked in virtual time: sim_silence_test.cpp).
  ASSERT_TRUE(A->send_frame(w.nwid, proto::Mac(0x02aabbccddeeULL), proto::Mac::from_address(B->address(), w.nwid), 0x88b5, 0,
                            as_bytes("forged")).ok());
  ASSERT_TRUE(w.wait([&] {
    for (auto& t : w.traces)
      if (t.find("not a bridge") != std::string::npos) return true;
    return false;
  }));

  // Deauthorize C: its COM is revoked at the members, and the others still talk. (That C's
  // frames then reach nobody is checked in virtual time: sim_silence_test.cpp.)
  w.controller->controller_call([&](int64_t now) { w.ctl.revoke(now, C->address()); });
  const std::string revoked = "revocation for " + proto::address_to_string(C->address());
  ASSERT_TRUE(w.wait([&] {
    return std::count_if(w.traces.begin(), w.traces.end(),
                         [&](const std::string& t) { return t.find(revoked) != std::string::npos; }) >= 2;
  })) << "the members did not accept the revocation";
  ASSERT_TRUE(B->send_frame(w.nwid, proto::Mac::from_address(B->address(), w.nwid), amac, 0x88b5, 0, as_bytes("still")).ok());
  ASSERT_TRUE(w.wait([&] { return w.frames_at(A->address(), "still") == 1; }));
}

TEST(Vl2Udp, NotJoinedAndTooLargeAreErrors) {
  World w;
  w.start(1);
  auto& A = w.members[0];
  EXPECT_FALSE(A->send_frame(w.nwid, proto::Mac(1), proto::Mac(2), 0x800, 0, as_bytes("x")).ok());
  EXPECT_FALSE(A->leave(w.nwid).ok());
  ASSERT_TRUE(A->join(w.nwid).ok());
  w.controller->controller_call([&](int64_t now) { w.ctl.authorized.insert(A->address()); w.ctl.push(now, A->address()); });
  ASSERT_TRUE(w.wait([&] { return w.status[A->address()] == core::NetworkStatus::Ok; }));
  Bytes big(3000, 0x55);
  EXPECT_FALSE(A->send_frame(w.nwid, proto::Mac::from_address(A->address(), w.nwid), proto::Mac::broadcast(), 0x800, 0, big).ok());
  EXPECT_TRUE(A->leave(w.nwid).ok());
  EXPECT_TRUE(A->networks().empty());
}
