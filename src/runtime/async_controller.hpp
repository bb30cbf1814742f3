// AsyncController: a network controller on its own thread, off the runtime's loop thread.
//
// A core::NetworkController over an inner core::NetworkController (e.g. the embedded
// controller, whose requests read and write a database for 0.3–3 ms each). The node calls it
// on its loop thread; on_request and on_remote_trace copy their arguments into a bounded queue
// and return, on_timer queues one timer tick (coalesced: at most one waits). One worker thread
// takes the queue in order and calls the inner controller, one call at a time, so the inner
// controller sees every NetworkController call on that thread. The inner controller is
// attached to a proxy ControllerSender: its send_config/send_error/send_revocation copy their
// arguments and post the real call onto the node's loop thread (LoopPost), where the node's
// own sender runs; controller_identity() is answered from a copy taken at attach.
//
// Queue bound: Options::queue_limit requests + REMOTE_TRACEs (default 1024, about 2 MB of
// copies; at 3 ms a request, 3 s of backlog). Beyond it a request is dropped, counted
// (Counters::overflow) and reported through Options::on_overflow (at most once a second). A
// dropped request is a lost UDP packet to the member: it asks again. Timer ticks and call()/
// post() tasks are not counted against the bound and never dropped for it.
//
// Lifetime (the hard part):
//   * attach(sender) (loop thread) attaches the inner controller to the proxy and starts the
//     worker; attach(nullptr) (what Node::set_controller(nullptr) calls) detaches and joins.
//   * detach_on_loop() (loop thread): from now on every reply posted by the proxy is dropped
//     when it runs on the loop (counted in Counters::sends_dropped), nothing new is queued,
//     the queued calls are discarded (call() waiters return false) and the worker is told to
//     stop. It does not wait: a node being removed hands the adapter to someone off the loop.
//   * join() (any thread but the worker): waits for the worker to finish the call it is in
//     (one inner call; there is no timeout: the inner controller's own calls must end), then
//     calls inner.attach(nullptr) on the joining thread. After join() nothing calls into the
//     inner controller or through the proxy again, so the inner controller may go away.
//   * The replies already posted hold only a shared link (sender pointer + counters), never
//     the adapter: they may run after the adapter is gone and are dropped then.
//   * The LoopPost target (the runtime) must stay alive until join() returned.
//
// The runtime builds one per node with a controller (NodeConfig::controller_thread) and does
// all of this itself: removing the node, freeing the runtime or NodeHandle::set_controller
// detach on the loop and join before they return.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/controller.hpp"

namespace zt::runtime {

class AsyncController final : public core::NetworkController {
 public:
  static constexpr size_t kDefaultQueueLimit = 1024;

  // Monotonic counters, readable from any thread (and after the adapter is gone, through a
  // shared_ptr the owner keeps).
  struct Counters {
    std::atomic<uint64_t> queued{0};         // requests + REMOTE_TRACEs accepted into the queue
    std::atomic<uint64_t> handled{0};        // of those, handed to the inner controller
    std::atomic<uint64_t> overflow{0};       // dropped: queue full
    std::atomic<uint64_t> discarded{0};      // dropped: still queued when detached
    std::atomic<uint64_t> sends{0};          // replies that reached the node's sender (loop)
    std::atomic<uint64_t> sends_dropped{0};  // replies dropped: the node was detached first
    std::atomic<bool> detached{false};       // detach_on_loop ran (worker stopping or stopped)
  };
  struct Stats {
    uint64_t queued = 0, handled = 0, overflow = 0, discarded = 0, sends = 0, sends_dropped = 0;
    bool detached = false;
  };
  static Stats snapshot(const Counters& c) {
    return {c.queued.load(), c.handled.load(), c.overflow.load(), c.discarded.load(),
            c.sends.load(), c.sends_dropped.load(), c.detached.load()};
  }

  // Runs fn(now) later on the node's loop thread (never inline); fn returns true when it
  // reached the node's sender (the node is alive).
  using LoopPost = std::function<void(std::function<bool(int64_t now)>)>;

  struct Options {
    size_t queue_limit = kDefaultQueueLimit;
    std::function<int64_t()> clock;  // `now` for call()/post() tasks; default runtime::now_ms
    // Loop thread (inside on_request/on_remote_trace): a dropped request, at most once a
    // second, with how many were dropped since the last report.
    std::function<void(uint64_t nwid, proto::Address requester, uint64_t dropped)> on_overflow;
    std::shared_ptr<Counters> counters;  // default: a fresh one
  };

  AsyncController(core::NetworkController& inner, LoopPost post, Options opts);
  AsyncController(core::NetworkController& inner, LoopPost post) : AsyncController(inner, std::move(post), Options()) {}
  // Detaches (if not yet) and joins. Any thread but the worker; when still attached, the
  // loop thread (the detach touches loop-thread state).
  ~AsyncController() override;
  AsyncController(const AsyncController&) = delete;
  AsyncController& operator=(const AsyncController&) = delete;

  // ---- core::NetworkController: the node's loop thread ------------------------------------
  void attach(core::ControllerSender* sender) override;
  void on_request(int64_t now, const core::ConfigRequest& req) override;
  void on_timer(int64_t now) override;
  void on_remote_trace(int64_t now, proto::Address origin, ByteSpan dictionary) override;

  // ---- lifetime (see above) ------------------------------------------------------------------
  void detach_on_loop();
  void join();

  // ---- work for the controller thread (any thread) -----------------------------------------
  // Runs fn(now) on the worker after the calls already queued and waits for it. False if it
  // did not run: not attached, or detached before its turn. On the worker itself: inline.
  // E.g. the embedded controller's process_pending() after a management write.
  bool call(const std::function<void(int64_t now)>& fn);
  // The same without waiting. False if not queued.
  bool post(std::function<void(int64_t now)> fn);

  const std::shared_ptr<Counters>& counters() const { return counters_; }
  size_t queue_limit() const { return opts_.queue_limit; }

 private:
  // What replies need on the loop: the node's sender, loop-thread only, set by attach and
  // cleared by detach_on_loop; one per attach.
  struct Link {
    core::ControllerSender* sender = nullptr;
    std::shared_ptr<Counters> counters;
  };
  class Proxy final : public core::ControllerSender {
   public:
    explicit Proxy(AsyncController& owner) : owner_(owner) {}
    const proto::Identity& controller_identity() const override { return owner_.identity_; }
    void send_config(int64_t now, proto::Address dest, uint64_t nwid, uint64_t request_packet_id,
                     const proto::Dictionary& config) override;
    void send_error(int64_t now, proto::Address dest, uint64_t nwid, uint64_t request_packet_id,
                    proto::ErrorCode code, ByteSpan info) override;
    void send_revocation(int64_t now, proto::Address dest, const proto::Revocation& rev) override;

   private:
    // Posts op(sender, now) to the loop; dropped there if the link was cleared.
    void marshal(std::function<void(core::ControllerSender&, int64_t)> op);
    AsyncController& owner_;
  };
  struct Job {
    enum class Kind { Request, Trace, Timer, Task } kind = Kind::Task;
    int64_t now = 0;
    core::ConfigRequest request;       // Request
    proto::Address origin = 0;        // Trace
    Bytes dictionary;                  // Trace
    std::function<void(int64_t)> fn;   // Task
    std::shared_ptr<std::promise<bool>> done;  // Task, when someone waits
  };

  bool enqueue_counted(Job&& job, int64_t now, uint64_t nwid, proto::Address who);
  bool enqueue_task(std::function<void(int64_t)> fn, std::shared_ptr<std::promise<bool>> done);
  void run();
  int64_t clock() const;

  core::NetworkController& inner_;
  LoopPost post_;
  Options opts_;
  std::shared_ptr<Counters> counters_;
  Proxy proxy_{*this};
  proto::Identity identity_;    // the node's, copied at attach (read by the worker)
  std::shared_ptr<Link> link_;  // current attach; the pointer changes only while no worker runs

  // Loop thread only.
  bool attached_ = false;       // attach(sender) ran and detach_on_loop() did not
  int64_t last_overflow_note_ = INT64_MIN;
  uint64_t overflow_unreported_ = 0;

  std::mutex mu_;  // guards the queue state below
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  size_t counted_ = 0;       // Request + Trace jobs in jobs_
  bool accepting_ = false;   // between attach and detach
  bool stop_ = false;        // the worker exits after its current job
  bool timer_queued_ = false;
  int64_t timer_now_ = 0;

  std::mutex join_mu_;       // one joiner at a time
  std::thread worker_;
  std::atomic<std::thread::id> worker_id_{};
  bool inner_attached_ = false;  // inner_.attach(&proxy_) without the matching attach(nullptr); join_mu_
};

}  // namespace zt::runtime
