// The controller thread (runtime/async_controller.hpp): the adapter alone with a test loop
// (queue bound, order, replies marshalled back, dropped after a detach, shutdown while the
// controller is busy), and in a runtime with real nodes on 127.0.0.1 (the node keeps
// forwarding while its controller is blocked; removing the node or freeing the runtime while
// a request is blocked in the controller).
//
// Blocking doubles block on a latch the test releases; every wait is a deadline.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "../support/net_util.hpp"
#include "../support/test_controller.hpp"
#include "../support/test_identities.hpp"
#include "proto/world.hpp"
#include "runtime/async_controller.hpp"
#include "runtime/runtime.hpp"

using namespace zt;
using namespace std::chrono_literals;
using runtime::AsyncController;

namespace {

constexpr auto kDeadline = 10s;

template <class P>
bool wait_until(P p, std::chrono::milliseconds t = kDeadline) {
  const auto end = std::chrono::steady_clock::now() + t;
  while (!p()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// A latch: wait() blocks until release().
struct Latch {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  void release() {
    std::lock_guard lk(mu);
    open = true;
    cv.notify_all();
  }
  void wait() {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return open; });
  }
};

// Wraps a controller: its first `block` requests wait on the latch before they are passed on.
// Records which thread calls it and whether a call is in progress.
class BlockingController final : public core::NetworkController {
 public:
  explicit BlockingController(core::NetworkController& inner, int block = 1) : inner_(inner), block_(block) {}
  ~BlockingController() override { latch.release(); }

  void attach(core::ControllerSender* s) override {
    std::lock_guard lk(mu);
    attached = s;
    ++attach_calls;
    inner_.attach(s);
  }
  void on_request(int64_t now, const core::ConfigRequest& req) override {
    bool block;
    {
      std::lock_guard lk(mu);
      in_call = true;
      thread = std::this_thread::get_id();
      block = entered++ < block_;
      cv.notify_all();
    }
    if (block) latch.wait();
    inner_.on_request(now, req);
    std::lock_guard lk(mu);
    in_call = false;
    ++returned;
    cv.notify_all();
  }
  void on_timer(int64_t now) override { inner_.on_timer(now); }

  template <class P>
  bool wait(P p) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, kDeadline, p);
  }

  Latch latch;
  std::mutex mu;
  std::condition_variable cv;
  int entered = 0, returned = 0, attach_calls = 0;
  bool in_call = false;
  core::ControllerSender* attached = nullptr;
  std::thread::id thread;

 private:
  core::NetworkController& inner_;
  int block_;
};

// Answers every request with a small config through its sender (what a controller does).
class EchoController final : public core::NetworkController {
 public:
  void attach(core::ControllerSender* s) override { sender_ = s; }
  void on_request(int64_t now, const core::ConfigRequest& req) override {
    proto::Dictionary d;
    d.set_u64("pid", req.packet_id);
    sender_->send_config(now, req.requester.address(), req.nwid, req.packet_id, d);
  }

 private:
  core::ControllerSender* sender_ = nullptr;
};

// Records what reaches "the node" (the test's loop).
struct RecordingSender final : core::ControllerSender {
  explicit RecordingSender(proto::Identity i) : id(std::move(i)) {}
  const proto::Identity& controller_identity() const override { return id; }
  void send_config(int64_t, proto::Address, uint64_t, uint64_t pid, const proto::Dictionary& d) override {
    configs.push_back({pid, d.get_u64("pid").value_or(~0ull)});
  }
  void send_error(int64_t, proto::Address, uint64_t, uint64_t, proto::ErrorCode, ByteSpan) override {}
  void send_revocation(int64_t, proto::Address, const proto::Revocation&) override {}
  proto::Identity id;
  std::vector<std::pair<uint64_t, uint64_t>> configs;  // (request packet id, id inside the config)
};

// The node's loop, run by the test thread: posted tasks wait until run().
struct TestLoop {
  std::mutex mu;
  std::deque<std::function<bool(int64_t)>> tasks;
  AsyncController::LoopPost poster() {
    return [this](std::function<bool(int64_t)> fn) {
      std::lock_guard lk(mu);
      tasks.push_back(std::move(fn));
    };
  }
  size_t pending() {
    std::lock_guard lk(mu);
    return tasks.size();
  }
  void run() {
    std::deque<std::function<bool(int64_t)>> batch;
    {
      std::lock_guard lk(mu);
      batch.swap(tasks);
    }
    for (auto& t : batch) t(1000);
  }
};

core::ConfigRequest request(const proto::Identity& who, uint64_t pid) {
  core::ConfigRequest r;
  r.nwid = (who.address() << 24) | 1;
  r.requester = who;
  r.packet_id = pid;
  return r;
}

}  // namespace

// ---- the adapter alone ----------------------------------------------------------------------

TEST(AsyncController, QueueOverflowIsCountedAndReported) {
  auto ids = test::reference_identities();
  EchoController echo;
  BlockingController blocking(echo);
  TestLoop loop;
  RecordingSender sender(ids[1]);
  std::vector<uint64_t> reported;
  AsyncController::Options o;
  o.queue_limit = 3;
  o.on_overflow = [&](uint64_t, proto::Address, uint64_t n) { reported.push_back(n); };
  AsyncController a(blocking, loop.poster(), o);
  a.attach(&sender);  // the test thread is the loop

  a.on_request(0, request(ids[2], 1));
  ASSERT_TRUE(blocking.wait([&] { return blocking.entered == 1; })) << "the worker did not take the request";
  EXPECT_NE(blocking.thread, std::this_thread::get_id());
  // The worker holds request 1; three wait; the next two do not fit.
  for (uint64_t pid = 2; pid <= 6; ++pid) a.on_request(0, request(ids[2], pid));
  auto st = AsyncController::snapshot(*a.counters());
  EXPECT_EQ(st.queued, 4u);
  EXPECT_EQ(st.overflow, 2u);
  ASSERT_EQ(reported.size(), 1u);  // at most one report a second: the first drop
  EXPECT_EQ(reported[0], 1u);

  blocking.latch.release();
  ASSERT_TRUE(blocking.wait([&] { return blocking.returned == 4; }));
  ASSERT_TRUE(wait_until([&] { return loop.pending() == 4; }));
  loop.run();
  // Answered in order, with the answer of each request to it.
  ASSERT_EQ(sender.configs.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(sender.configs[i].first, i + 1);
    EXPECT_EQ(sender.configs[i].second, i + 1);
  }
  st = AsyncController::snapshot(*a.counters());
  EXPECT_EQ(st.handled, 4u);
  EXPECT_EQ(st.sends, 4u);
  EXPECT_EQ(st.sends_dropped, 0u);
}

TEST(AsyncController, TasksRunOnTheWorkerAfterQueuedRequests) {
  auto ids = test::reference_identities();
  EchoController echo;
  BlockingController blocking(echo);
  TestLoop loop;
  RecordingSender sender(ids[1]);
  AsyncController a(blocking, loop.poster());
  EXPECT_FALSE(a.call([](int64_t) {})) << "not attached: nothing runs";
  a.attach(&sender);
  a.on_request(0, request(ids[2], 1));
  a.on_request(0, request(ids[2], 2));
  std::thread::id task_thread;
  int returned_before_task = -1;
  std::thread caller([&] {
    EXPECT_TRUE(a.call([&](int64_t) {
      task_thread = std::this_thread::get_id();
      std::lock_guard lk(blocking.mu);
      returned_before_task = blocking.returned;
    }));
  });
  ASSERT_TRUE(blocking.wait([&] { return blocking.entered == 1; }));
  blocking.latch.release();
  caller.join();
  EXPECT_EQ(task_thread, blocking.thread);
  EXPECT_EQ(returned_before_task, 2) << "the task ran before the requests queued ahead of it";
}

TEST(AsyncController, RepliesAfterADetachAreDroppedOnTheLoop) {
  auto ids = test::reference_identities();
  EchoController echo;
  BlockingController blocking(echo);
  TestLoop loop;
  RecordingSender sender(ids[1]);
  AsyncController a(blocking, loop.poster());
  a.attach(&sender);
  a.on_request(0, request(ids[2], 1));
  a.on_request(0, request(ids[2], 2));  // still queued at the detach: discarded
  ASSERT_TRUE(blocking.wait([&] { return blocking.entered == 1; }));
  a.detach_on_loop();  // the node goes; the worker is inside request 1
  EXPECT_TRUE(AsyncController::snapshot(*a.counters()).detached);
  EXPECT_FALSE(a.call([](int64_t) {})) << "detached: nothing more runs";
  std::thread joiner([&] { a.join(); });
  blocking.latch.release();
  joiner.join();
  // join() returned: the inner controller is out of its call and detached.
  EXPECT_FALSE(blocking.in_call);
  EXPECT_EQ(blocking.attached, nullptr);
  EXPECT_EQ(blocking.returned, 1);
  // Request 1's reply was posted before the join returned; on the loop it finds no sender.
  ASSERT_EQ(loop.pending(), 1u);
  loop.run();
  EXPECT_TRUE(sender.configs.empty());
  auto st = AsyncController::snapshot(*a.counters());
  EXPECT_EQ(st.sends_dropped, 1u);
  EXPECT_EQ(st.discarded, 1u);
}

TEST(AsyncController, DestroyedWhileTheControllerIsBlocked) {
  auto ids = test::reference_identities();
  EchoController echo;
  BlockingController blocking(echo);
  TestLoop loop;
  RecordingSender sender(ids[1]);
  auto a = std::make_unique<AsyncController>(blocking, loop.poster());
  auto counters = a->counters();
  a->attach(&sender);
  a->on_request(0, request(ids[2], 1));
  ASSERT_TRUE(blocking.wait([&] { return blocking.entered == 1; }));
  bool idle_after_destroy = false;
  std::thread destroyer([&] {
    a->detach_on_loop();  // this thread plays the loop here
    a.reset();            // joins: waits for the blocked call
    std::lock_guard lk(blocking.mu);
    idle_after_destroy = !blocking.in_call && blocking.attached == nullptr;
  });
  ASSERT_TRUE(wait_until([&] { return counters->detached.load(); }));
  blocking.latch.release();
  destroyer.join();
  EXPECT_TRUE(idle_after_destroy) << "the adapter went away while its controller was still being called";
  loop.run();  // the reply outlives the adapter: dropped, no access to it
  EXPECT_TRUE(sender.configs.empty());
  EXPECT_EQ(counters->sends_dropped.load(), 1u);
}

TEST(AsyncController, NodeSetControllerNullDetachesAndJoins) {
  // The core's path: Node::set_controller(nullptr) gives the adapter attach(nullptr), which
  // must not return while the worker is in a call.
  auto ids = test::reference_identities();
  EchoController echo;
  BlockingController blocking(echo);
  TestLoop loop;
  RecordingSender sender(ids[1]);
  AsyncController a(blocking, loop.poster());
  a.attach(&sender);
  a.on_request(0, request(ids[2], 1));
  ASSERT_TRUE(blocking.wait([&] { return blocking.entered == 1; }));
  bool idle_after_detach = false;
  std::thread loop_thread([&] {
    a.attach(nullptr);
    std::lock_guard lk(blocking.mu);
    idle_after_detach = !blocking.in_call && blocking.attached == nullptr;
  });
  ASSERT_TRUE(wait_until([&] { return a.counters()->detached.load(); }));
  blocking.latch.release();
  loop_thread.join();
  EXPECT_TRUE(idle_after_detach);
  // Attached again: a new worker serves.
  blocking.latch.release();
  a.attach(&sender);
  a.on_request(0, request(ids[2], 7));
  ASSERT_TRUE(blocking.wait([&] { return blocking.returned == 2; }));
  ASSERT_TRUE(wait_until([&] { return loop.pending() == 2; }));
  loop.run();
  ASSERT_EQ(sender.configs.size(), 1u);  // request 1's reply was dropped, request 7's arrives
  EXPECT_EQ(sender.configs[0].first, 7u);
}

// ---- in a runtime: root, a controller node, members on 127.0.0.1 ----------------------------

namespace {

// The controller node has a runtime (loop thread) of its own, so that a blocked controller
// node cannot hold up the test's calls to the others.
struct Net {
  std::unique_ptr<runtime::Runtime> rt = std::make_unique<runtime::Runtime>();      // controller node
  std::unique_ptr<runtime::Runtime> others = std::make_unique<runtime::Runtime>();  // root, members
  std::mutex mu;
  std::condition_variable cv;
  std::map<proto::Address, core::NetworkStatus> status;
  std::vector<std::pair<proto::Address, std::string>> messages_at_controller;  // (from, text)
  std::vector<core::TraceInfo> queue_full_traces;                           // 9008 at the controller node
  size_t queue_limit = AsyncController::kDefaultQueueLimit;
  std::vector<proto::Identity> ids = test::reference_identities();
  test::TestController ctl;
  BlockingController blocking{ctl};
  uint64_t nwid = 0;
  Bytes planet;
  std::shared_ptr<runtime::NodeHandle> root, controller;
  std::vector<std::shared_ptr<runtime::NodeHandle>> members;

  ~Net() {
    blocking.latch.release();  // a failed assertion must not leave the teardown waiting
    members.clear();
    controller.reset();
    root.reset();
    others.reset();
    rt.reset();
  }

  template <class P>
  bool wait(P p) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, kDeadline, p);
  }

  std::shared_ptr<runtime::NodeHandle> add(const proto::Identity& id, uint16_t port, core::NetworkController* c) {
    runtime::NodeConfig cfg;
    cfg.identity = id;
    cfg.port = port;
    cfg.bind = {*proto::InetAddress::parse("127.0.0.1")};
    cfg.planet = planet;
    cfg.allow_loopback = true;
    cfg.controller = c;
    cfg.controller_queue_limit = queue_limit;
    const proto::Address me = id.address();
    cfg.on_network = [this, me](uint64_t, core::NetworkOp, const core::NetworkInfo& i) {
      std::lock_guard lk(mu);
      status[me] = i.status;
      cv.notify_all();
    };
    if (c) {
      cfg.on_event = [this](const core::Event& e) {
        std::lock_guard lk(mu);
        if (e.type == core::EventType::UserMessage)
          messages_at_controller.push_back({e.peer, std::string(e.data.begin(), e.data.end())});
        if (e.type == core::EventType::Trace && e.trace && e.trace->code == core::trace_code::kControllerQueueFull)
          queue_full_traces.push_back(*e.trace);
        cv.notify_all();
      };
    }
    auto h = (c ? rt : others)->add_node(std::move(cfg));
    EXPECT_TRUE(h.ok()) << (h.ok() ? "" : h.error());
    return h.ok() ? *h : nullptr;
  }

  void start(int n) {
    const uint16_t rport = test::free_udp_port();
    auto kp = proto::WorldKeypair::parse(*runtime::read_file(std::string(ZTCORE_VECTORS_DIR) + "/planet_signing_keypair.c25519"));
    proto::WorldRoot r;
    r.identity = proto::Identity::parse(ids[0].to_string(false)).value();
    r.stable_endpoints.push_back(*proto::InetAddress::parse("127.0.0.1/" + std::to_string(rport)));
    planet = proto::World::make(proto::World::Type::Planet, 99, 1700000000000, *kp, {r})->serialize();
    root = add(ids[0], rport, nullptr);
    nwid = (ids[1].address() << 24) | 0xabcdef;
    ctl.nwid = nwid;
    controller = add(ids[1], 0, &blocking);
    for (int i = 0; i < n; ++i) members.push_back(add(ids[size_t(2 + i)], 0, nullptr));
  }

  // A's request is blocked in the controller.
  void block_a_request() {
    auto& A = members[0];
    ASSERT_TRUE(A->join(nwid).ok());
    ASSERT_TRUE(blocking.wait([&] { return blocking.entered >= 1; })) << "A's config request never reached the controller";
  }
};

}  // namespace

TEST(AsyncControllerRuntime, NodeKeepsWorkingWhileItsControllerIsBlocked) {
  Net net;
  net.ctl.authorized.insert(net.ids[2].address());  // A (before any thread reads it)
  net.start(2);
  auto& A = net.members[0];
  auto& B = net.members[1];
  net.block_a_request();
  EXPECT_NE(net.blocking.thread, std::this_thread::get_id());

  // While A's request is held in the controller, the controller node still receives and
  // handles B's traffic (with the controller on the loop thread this waits for the latch).
  bool arrived = false;
  for (int attempt = 0; attempt < 10 && !arrived; ++attempt) {
    ASSERT_TRUE(B->send_user_message(net.controller->address(), 0x5a5a, as_bytes("while blocked")).ok());
    std::unique_lock lk(net.mu);
    arrived = net.cv.wait_for(lk, 1s, [&] { return !net.messages_at_controller.empty(); });
  }
  ASSERT_TRUE(arrived) << "the controller node processed nothing while its controller was busy";
  {
    std::lock_guard lk(net.blocking.mu);
    EXPECT_EQ(net.blocking.returned, 0) << "order: B's message must arrive before the request is released";
    EXPECT_TRUE(net.blocking.in_call);
  }
  {
    std::lock_guard lk(net.mu);
    EXPECT_EQ(net.messages_at_controller[0].first, B->address());
    EXPECT_NE(net.status[A->address()], core::NetworkStatus::Ok);
  }

  // Released: the config built on the controller thread reaches A through the loop.
  net.blocking.latch.release();
  ASSERT_TRUE(net.wait([&] { return net.status[A->address()] == core::NetworkStatus::Ok; }))
      << "A never got the config answered from the controller thread";
  auto st = net.controller->controller_stats();
  EXPECT_GE(st.handled, 1u);
  EXPECT_GE(st.sends, 1u);
  EXPECT_EQ(st.overflow, 0u);
}

TEST(AsyncControllerRuntime, RemoveNodeWhileARequestIsBlocked) {
  Net net;
  net.start(1);
  net.block_a_request();
  bool idle_after_remove = false;
  std::thread remover([&] {
    net.rt->remove_node(net.controller);
    std::lock_guard lk(net.blocking.mu);
    idle_after_remove = !net.blocking.in_call && net.blocking.attached == nullptr;
  });
  // The node is detached on the loop; remove_node then waits for the controller thread.
  ASSERT_TRUE(wait_until([&] { return net.controller->controller_stats().detached; }));
  net.blocking.latch.release();
  remover.join();
  EXPECT_TRUE(idle_after_remove) << "remove_node returned while the controller was still being called";
  // The answer to A was made after the node was gone: dropped on the loop, never sent.
  ASSERT_TRUE(wait_until([&] { return net.controller->controller_stats().sends_dropped >= 1; }));
  EXPECT_EQ(net.controller->controller_stats().sends, 0u);
  EXPECT_FALSE(net.controller->controller_call([](int64_t) {}));
}

TEST(AsyncControllerRuntime, FreeRuntimeWhileARequestIsBlocked) {
  Net net;
  net.start(1);
  net.block_a_request();
  bool idle_after_free = false;
  std::thread freer([&] {
    net.rt.reset();  // detaches every node, joins the controller thread, stops the loop
    std::lock_guard lk(net.blocking.mu);
    idle_after_free = !net.blocking.in_call && net.blocking.attached == nullptr;
  });
  ASSERT_TRUE(wait_until([&] { return net.controller->controller_stats().detached; }));
  net.blocking.latch.release();
  freer.join();
  EXPECT_TRUE(idle_after_free) << "the runtime went away while the controller was still being called";
  // The loop ran its last tasks before it stopped: the late answer was dropped there.
  EXPECT_GE(net.controller->controller_stats().sends_dropped, 1u);
}

TEST(AsyncControllerRuntime, SetControllerNullWhileARequestIsBlocked) {
  Net net;
  net.start(1);
  net.block_a_request();
  bool idle_after = false;
  std::thread detacher([&] {
    net.controller->set_controller(nullptr);
    std::lock_guard lk(net.blocking.mu);
    idle_after = !net.blocking.in_call && net.blocking.attached == nullptr;
  });
  ASSERT_TRUE(wait_until([&] { return net.controller->controller_stats().detached; }));
  net.blocking.latch.release();
  detacher.join();
  EXPECT_TRUE(idle_after);
  // The node runs on without a controller; a new one can be attached.
  EXPECT_FALSE(net.controller->controller_call([](int64_t) {}));
  EchoController echo;
  net.controller->set_controller(&echo);
  int64_t ran_at = 0;
  EXPECT_TRUE(net.controller->controller_call([&](int64_t now) { ran_at = now; }));
  EXPECT_GT(ran_at, 0);
  net.controller->set_controller(nullptr);
}

TEST(AsyncControllerRuntime, QueueOverflowIsCountedAndTraced) {
  Net net;
  net.queue_limit = 1;
  net.start(3);
  net.block_a_request();  // the controller thread holds A's request
  // B's request waits in the queue (its one place); C's does not fit.
  ASSERT_TRUE(net.members[1]->join(net.nwid).ok());
  ASSERT_TRUE(wait_until([&] { return net.controller->controller_stats().queued >= 2; }));
  ASSERT_TRUE(net.members[2]->join(net.nwid).ok());
  ASSERT_TRUE(wait_until([&] { return net.controller->controller_stats().overflow >= 1; }));
  ASSERT_TRUE(net.wait([&] { return !net.queue_full_traces.empty(); })) << "no 9008 trace for the dropped request";
  {
    std::lock_guard lk(net.mu);
    const core::TraceInfo& t = net.queue_full_traces[0];
    EXPECT_EQ(t.nwid, net.nwid);
    // C's first request, or a member's retry (every 2 s while it has no config) that came first.
    EXPECT_TRUE(t.peer == net.members[0]->address() || t.peer == net.members[1]->address() ||
                t.peer == net.members[2]->address());
    EXPECT_NE(t.reason.find("request(s) dropped"), std::string::npos) << t.reason;
  }
  net.blocking.latch.release();
  // The dropped member asks again (its request timer) and is answered like the others.
  // (Nobody is authorized: every answer is ACCESS_DENIED.)
  ASSERT_TRUE(net.wait([&] {
    for (auto& m : net.members)
      if (net.status[m->address()] != core::NetworkStatus::AccessDenied) return false;
    return true;
  })) << "not every member got its answer after the queue drained";
}
