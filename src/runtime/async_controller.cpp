// The controller thread. See async_controller.hpp.
#include "runtime/async_controller.hpp"

#include <pthread.h>

#include <vector>

#include "runtime/runtime.hpp"

namespace zt::runtime {

AsyncController::AsyncController(core::NetworkController& inner, LoopPost post, Options opts)
    : inner_(inner), post_(std::move(post)), opts_(std::move(opts)) {
  if (opts_.queue_limit == 0) opts_.queue_limit = 1;
  counters_ = opts_.counters ? opts_.counters : std::make_shared<Counters>();
}

AsyncController::~AsyncController() {
  if (attached_) detach_on_loop();
  join();
}

int64_t AsyncController::clock() const { return opts_.clock ? opts_.clock() : now_ms(); }

// ---- lifetime -------------------------------------------------------------------------------

void AsyncController::attach(core::ControllerSender* sender) {
  if (!sender) {
    // Node::set_controller(nullptr) (or a replacement): nothing may call into the inner
    // controller after this returns. When the owner already detached on the loop, the owner
    // joins (off the loop).
    if (attached_) {
      detach_on_loop();
      join();
    }
    return;
  }
  if (attached_) detach_on_loop();
  join();  // a previous worker (re-attach)
  identity_ = sender->controller_identity();
  link_ = std::make_shared<Link>(Link{sender, counters_});
  {
    std::lock_guard lk(mu_);
    jobs_.clear();
    counted_ = 0;
    stop_ = false;
    timer_queued_ = false;
    accepting_ = true;
  }
  attached_ = true;
  counters_->detached = false;
  {
    std::lock_guard lk(join_mu_);
    inner_.attach(&proxy_);  // before the worker exists: still single-threaded
    inner_attached_ = true;
    worker_ = std::thread([this] { run(); });
  }
}

void AsyncController::detach_on_loop() {
  if (!attached_) return;
  attached_ = false;
  if (link_) link_->sender = nullptr;  // replies still on their way to the loop are dropped there
  std::deque<Job> dropped;
  {
    std::lock_guard lk(mu_);
    accepting_ = false;
    stop_ = true;
    dropped.swap(jobs_);
    counted_ = 0;
    timer_queued_ = false;
  }
  cv_.notify_all();
  counters_->detached = true;
  for (Job& j : dropped) {
    if (j.kind == Job::Kind::Request || j.kind == Job::Kind::Trace) ++counters_->discarded;
    if (j.done) j.done->set_value(false);
  }
}

void AsyncController::join() {
  std::lock_guard lk(join_mu_);
  if (worker_.joinable()) {
    if (std::this_thread::get_id() == worker_.get_id()) return;  // from a task: cannot join itself
    worker_.join();
  }
  if (inner_attached_) {
    inner_attached_ = false;
    inner_.attach(nullptr);  // the worker is gone: this thread is the only caller
  }
}

// ---- the node's calls (loop thread) ---------------------------------------------------------

bool AsyncController::enqueue_counted(Job&& job, int64_t now, uint64_t nwid, proto::Address who) {
  bool full = false;
  {
    std::lock_guard lk(mu_);
    if (!accepting_) return false;
    if (counted_ >= opts_.queue_limit) {
      full = true;
    } else {
      jobs_.push_back(std::move(job));
      ++counted_;
    }
  }
  if (full) {
    ++counters_->overflow;
    ++overflow_unreported_;
    if (opts_.on_overflow && (last_overflow_note_ == INT64_MIN || now - last_overflow_note_ >= 1000 ||
                              now < last_overflow_note_)) {
      last_overflow_note_ = now;
      const uint64_t n = overflow_unreported_;
      overflow_unreported_ = 0;
      opts_.on_overflow(nwid, who, n);
    }
    return false;
  }
  ++counters_->queued;
  cv_.notify_one();
  return true;
}

void AsyncController::on_request(int64_t now, const core::ConfigRequest& req) {
  Job j;
  j.kind = Job::Kind::Request;
  j.now = now;
  j.request = req;
  (void)enqueue_counted(std::move(j), now, req.nwid, req.requester.address());
}

void AsyncController::on_remote_trace(int64_t now, proto::Address origin, ByteSpan dictionary) {
  Job j;
  j.kind = Job::Kind::Trace;
  j.now = now;
  j.origin = origin;
  j.dictionary.assign(dictionary.begin(), dictionary.end());
  (void)enqueue_counted(std::move(j), now, 0, origin);
}

void AsyncController::on_timer(int64_t now) {
  {
    std::lock_guard lk(mu_);
    if (!accepting_) return;
    timer_now_ = now;  // a tick already waiting runs with the latest time
    if (timer_queued_) return;
    timer_queued_ = true;
    Job j;
    j.kind = Job::Kind::Timer;
    jobs_.push_back(std::move(j));
  }
  cv_.notify_one();
}

// ---- tasks (any thread) ---------------------------------------------------------------------

bool AsyncController::enqueue_task(std::function<void(int64_t)> fn, std::shared_ptr<std::promise<bool>> done) {
  {
    std::lock_guard lk(mu_);
    if (!accepting_) return false;
    Job j;
    j.kind = Job::Kind::Task;
    j.fn = std::move(fn);
    j.done = std::move(done);
    jobs_.push_back(std::move(j));
  }
  cv_.notify_one();
  return true;
}

bool AsyncController::call(const std::function<void(int64_t now)>& fn) {
  if (std::this_thread::get_id() == worker_id_.load()) {
    fn(clock());
    return true;
  }
  auto done = std::make_shared<std::promise<bool>>();
  auto result = done->get_future();
  // The task refers to fn, which lives until this call returns: the worker either runs it
  // before setting the promise or drops it (detach) and sets false.
  if (!enqueue_task([&fn](int64_t now) { fn(now); }, done)) return false;
  return result.get();
}

bool AsyncController::post(std::function<void(int64_t now)> fn) { return enqueue_task(std::move(fn), nullptr); }

// ---- the worker -----------------------------------------------------------------------------

void AsyncController::run() {
  worker_id_ = std::this_thread::get_id();
  pthread_setname_np(pthread_self(), "zt-controller");
  for (;;) {
    Job j;
    {
      std::unique_lock lk(mu_);
      cv_.wait(lk, [&] { return stop_ || !jobs_.empty(); });
      if (stop_) break;
      j = std::move(jobs_.front());
      jobs_.pop_front();
      if (j.kind == Job::Kind::Request || j.kind == Job::Kind::Trace) --counted_;
      if (j.kind == Job::Kind::Timer) {
        timer_queued_ = false;
        j.now = timer_now_;
      }
    }
    switch (j.kind) {
      case Job::Kind::Request:
        ++counters_->handled;
        inner_.on_request(j.now, j.request);
        break;
      case Job::Kind::Trace:
        ++counters_->handled;
        inner_.on_remote_trace(j.now, j.origin, j.dictionary);
        break;
      case Job::Kind::Timer:
        inner_.on_timer(j.now);
        break;
      case Job::Kind::Task:
        j.fn(clock());
        if (j.done) j.done->set_value(true);
        break;
    }
  }
  worker_id_ = std::thread::id{};
}

// ---- the proxy sender (the worker, or whoever the inner controller sends from) -------------

void AsyncController::Proxy::marshal(std::function<void(core::ControllerSender&, int64_t)> op) {
  std::shared_ptr<Link> link = owner_.link_;
  owner_.post_([link, op = std::move(op)](int64_t now) {
    if (!link->sender) {
      ++link->counters->sends_dropped;
      return false;
    }
    op(*link->sender, now);
    ++link->counters->sends;
    return true;
  });
}

void AsyncController::Proxy::send_config(int64_t, proto::Address dest, uint64_t nwid, uint64_t request_packet_id,
                                         const proto::Dictionary& config) {
  marshal([dest, nwid, request_packet_id, config](core::ControllerSender& s, int64_t now) {
    s.send_config(now, dest, nwid, request_packet_id, config);
  });
}

void AsyncController::Proxy::send_error(int64_t, proto::Address dest, uint64_t nwid, uint64_t request_packet_id,
                                        proto::ErrorCode code, ByteSpan info) {
  marshal([dest, nwid, request_packet_id, code, info = Bytes(info.begin(), info.end())](core::ControllerSender& s,
                                                                                        int64_t now) {
    s.send_error(now, dest, nwid, request_packet_id, code, info);
  });
}

void AsyncController::Proxy::send_revocation(int64_t, proto::Address dest, const proto::Revocation& rev) {
  marshal([dest, rev](core::ControllerSender& s, int64_t now) { s.send_revocation(now, dest, rev); });
}

}  // namespace zt::runtime
