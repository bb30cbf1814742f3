#include "runtime/runtime.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <list>
#include <future>
#include <mutex>
#include <thread>

#include "crypto/crypto.hpp"
#include "core/trace.hpp"
#include "runtime/capture.hpp"
#include "runtime/identity_store.hpp"

namespace zt::runtime {

using proto::InetAddress;

int64_t now_us() {
  // Unix epoch µs at first use, then advanced by the monotonic clock (never goes back).
  static const int64_t epoch0 = std::chrono::duration_cast<std::chrono::microseconds>(
                                    std::chrono::system_clock::now().time_since_epoch()).count();
  static const auto mono0 = std::chrono::steady_clock::now();
  return epoch0 + std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - mono0).count();
}

int64_t now_ms() { return now_us() / 1000; }

Result<proto::Identity> load_or_create_identity(StateStore& store) {
  if (auto b = store.get(core::StateObject::IdentitySecret, 0)) {
    std::string text(b->begin(), b->end());
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
    auto id = proto::Identity::parse(text);
    if (!id.ok()) return err("stored identity.secret is invalid: " + id.error());
    if (!id->has_private()) return err("stored identity.secret has no private key");
    if (!id->validate()) return err("stored identity.secret does not validate: " + id->validate_reason());
    return *id;
  }
  proto::Identity id = runtime::generate_identity();
  std::string sec = id.to_string(true), pub = id.to_string(false);
  if (!store.put(core::StateObject::IdentitySecret, 0, as_bytes(sec)) ||
      !store.put(core::StateObject::IdentityPublic, 0, as_bytes(pub)))
    return err(ErrorKind::Io, "cannot store the new identity");
  return id;
}

namespace {

constexpr size_t kBatch = 64;
constexpr size_t kSlot = 1500;  // batched datagrams up to this size; larger ones go out at once

struct Socket {
  int fd = -1;
  int family = 0;
  InetAddress local;  // bound address and port (the capture's local end)
};

}  // namespace

struct NodeHandle::Impl final : core::Host {
  Runtime::Impl* rt = nullptr;
  NodeConfig cfg;
  std::unique_ptr<StateStore> store;
  proto::Identity identity;
  std::unique_ptr<core::Node> node;
  std::vector<Socket> sockets;
  int64_t deadline = 0;
  bool stopped = false;
  // A running capture (pcap_start/pcap_attach); loop thread only.
  std::unique_ptr<NodeCapture> capture;
  // While send_frame_on_loop runs with a capture: the TRACE texts the core emits (a dropped
  // frame is explained by one), so the capture can say "dropped: <why>" instead of "sent".
  std::string* send_traces = nullptr;
  // The network controller: on its own thread (`async`) or called on the loop (`direct`).
  // `async` is replaced on the loop thread and read off it (controller_call) under ctl_mu;
  // a detached one moves to Runtime::Impl::retired until someone off the loop joins it.
  mutable std::mutex ctl_mu;
  std::shared_ptr<AsyncController> async;
  core::NetworkController* direct = nullptr;  // loop thread only
  const std::shared_ptr<AsyncController::Counters> ctl_counters = std::make_shared<AsyncController::Counters>();

  // The hook for every captured frame (and the one to call for frames dropped elsewhere, e.g.
  // from a structured trace event): a no-op without a capture. See NodeCapture::write_frame.
  void write_frame(FrameDirection dir, uint64_t nwid, proto::Mac src, proto::Mac dst, uint16_t ethertype,
                   uint16_t vlan, ByteSpan data, std::string_view verdict, proto::Address peer = 0) {
    if (capture) capture->write_frame(dir, nwid, src, dst, ethertype, vlan, data, verdict, peer);
  }
  void capture_wire(WireDirection dir, size_t si, const InetAddress& remote, ByteSpan data) {
    if (capture) capture->wire(dir, sockets[si].local, remote, data);
  }
  Status send_frame(int64_t now, uint64_t nwid, proto::Mac src, proto::Mac dst, uint16_t ethertype, uint16_t vlan,
                    ByteSpan data);

  // Pending datagrams go to the runtime's one send batch (Runtime::Impl::out), shared by every
  // node of the loop; nothing per node. Defined after Runtime::Impl.
  void flush_all();

  size_t socket_for(int64_t local_socket, const InetAddress& to) const {
    const int fam = to.is_v4() ? AF_INET : AF_INET6;
    if (local_socket >= 0 && size_t(local_socket) < sockets.size() && sockets[size_t(local_socket)].family == fam)
      return size_t(local_socket);
    for (size_t i = 0; i < sockets.size(); ++i)
      if (sockets[i].family == fam) return i;
    return SIZE_MAX;
  }

  // core::Host
  void wire_send(int64_t local_socket, const InetAddress& to, ByteSpan data, unsigned ttl) override {
    if (stopped) return;
    size_t si = socket_for(local_socket, to);
    if (si == SIZE_MAX) return;
    sockaddr_storage ss;
    socklen_t sl = to.to_sockaddr(&ss);
    if (sl == 0) return;
    if (ttl != 0 || data.size() > kSlot) {
      send_now(si, to, ss, sl, data, ttl);
      return;
    }
    enqueue(si, to, ss, sl, data);
  }
  void enqueue(size_t si, const InetAddress& to, const sockaddr_storage& ss, socklen_t sl, ByteSpan data);
  // Sends one datagram at once (ttl 0 = the socket's default).
  void send_now(size_t si, const InetAddress& to, const sockaddr_storage& ss, socklen_t sl, ByteSpan data,
                unsigned ttl) {
    const int fd = sockets[si].fd;
    int old = 0;
    socklen_t ol = sizeof old;
    const bool v4 = sockets[si].family == AF_INET;
    if (ttl) {
      getsockopt(fd, v4 ? IPPROTO_IP : IPPROTO_IPV6, v4 ? IP_TTL : IPV6_UNICAST_HOPS, &old, &ol);
      int t = int(ttl);
      setsockopt(fd, v4 ? IPPROTO_IP : IPPROTO_IPV6, v4 ? IP_TTL : IPV6_UNICAST_HOPS, &t, sizeof t);
    }
    const ssize_t sent = ::sendto(fd, data.data(), data.size(), 0, reinterpret_cast<const sockaddr*>(&ss), sl);
    if (ttl) setsockopt(fd, v4 ? IPPROTO_IP : IPPROTO_IPV6, v4 ? IP_TTL : IPV6_UNICAST_HOPS, &old, sizeof old);
    if (sent >= 0 && cfg.on_wire) cfg.on_wire(WireDirection::Sent, to, now_ms(), data);
    if (sent >= 0) capture_wire(WireDirection::Sent, si, to, data);
  }
  std::optional<Bytes> state_get(core::StateObject type, uint64_t id) override { return store->get(type, id); }
  void state_put(core::StateObject type, uint64_t id, ByteSpan data) override { store->put(type, id, data); }
  void event(const core::Event& e) override {
    if (send_traces && e.type == core::EventType::Trace) *send_traces += (send_traces->empty() ? "" : "; ") + e.text;
    // Frames dropped on the way in (rules 2006, bridging/multicast 2002) never reach frame():
    // the capture gets them from the structured trace (the first <= 256 bytes of the payload).
    // Outgoing drops are recorded by send_frame, with the same trace's text.
    if (capture && e.type == core::EventType::Trace && e.trace && e.trace->inbound && e.trace->ethertype != 0 &&
        (e.trace->code == core::trace_code::kFilterTrace || e.trace->code == core::trace_code::kIncomingFrameDropped)) {
      const core::TraceInfo& t = *e.trace;
      write_frame(FrameDirection::In, t.nwid, t.mac_source, t.mac_dest, t.ethertype, t.vlan, t.frame,
                  "dropped: " + t.reason, t.peer);
    }
    if (cfg.on_event) cfg.on_event(e);
  }
  void random(uint8_t* o, size_t n) override { crypto::random_bytes(o, n); }
  void frame(uint64_t nwid, proto::Mac src, proto::Mac dst, uint16_t ethertype, uint16_t vlan, ByteSpan data) override {
    write_frame(FrameDirection::In, nwid, src, dst, ethertype, vlan, data, "accepted");
    if (cfg.on_frame) cfg.on_frame(nwid, src, dst, ethertype, vlan, data);
  }
  void network_config(uint64_t nwid, core::NetworkOp op, const core::NetworkInfo& info) override {
    if (cfg.on_network) cfg.on_network(nwid, op, info);
  }
};

namespace {

// The loop thread's one send batch, shared by all its nodes (the loop is single-threaded, and
// every place that lets a node send flushes it before moving on). Entries keep their node and
// socket; a flush sends each run of consecutive entries on one socket with one sendmmsg.
struct SendBatch {
  size_t n = 0;
  bool flushing = false;  // an on_wire tap inside flush() may add entries (picked up by that flush)
  std::array<NodeHandle::Impl*, kBatch> node;  // nullptr = dropped (its node was detached)
  std::array<uint32_t, kBatch> sock;
  std::array<sockaddr_storage, kBatch> addr;
  std::array<socklen_t, kBatch> addr_len;
  std::array<size_t, kBatch> len;
  std::array<std::array<uint8_t, kSlot>, kBatch> data;
};

}  // namespace

struct Runtime::Impl {
  std::unique_ptr<SendBatch> out{new SendBatch};  // loop thread only
  void flush();
  int ep = -1;
  int wake = -1;
  std::thread thread;
  std::atomic<std::thread::id> loop_id{};  // written by the loop thread, read by any (on_loop_thread)
  std::atomic<bool> quit{false};
  std::mutex mu;
  std::deque<std::function<void()>> tasks;
  bool wake_pending = false;  // guarded by mu: the wake eventfd was written since the last take
  std::vector<NodeHandle::Impl*> nodes;  // loop thread only

  // epoll data.ptr points at these, so they must never move: a std::list (a deque moves its
  // elements when one in the middle is erased). A detached node's entries are only marked dead;
  // run() frees them before its next epoll_wait, when no event can name them any more.
  struct SockRef {
    NodeHandle::Impl* node;
    size_t index;
    bool dead = false;
  };
  std::list<SockRef> refs;
  bool refs_dirty = false;
  // Controller threads of detached nodes, still to be joined (loop thread only; taken by the
  // caller of remove_node / ~NodeHandle / ~Runtime / set_controller, which joins them off the loop).
  std::vector<std::shared_ptr<AsyncController>> retired;

  // Loop thread: attaches `c` to the node, on a controller thread when the config says so.
  void attach_controller(NodeHandle::Impl* raw, core::NetworkController* c);
  // Loop thread: detaches the node's controller (the node stops calling it, its posted replies
  // are dropped); a controller thread goes to `retired`.
  void release_controller(NodeHandle::Impl* raw) {
    std::shared_ptr<AsyncController> a;
    {
      std::lock_guard lk(raw->ctl_mu);
      a = std::move(raw->async);
    }
    if (a) {
      a->detach_on_loop();
      retired.push_back(std::move(a));
    }
    raw->direct = nullptr;
  }
  // Off the loop: joins controller threads taken from `retired` (each waits for the call its
  // worker is in, then detaches the controller).
  static void join_all(std::vector<std::shared_ptr<AsyncController>>& v) {
    for (auto& a : v) a->join();
    v.clear();
  }

  void run();
  void run_tasks();
  // Loop thread: stops a node, closes its sockets, forgets it.
  void detach(NodeHandle::Impl* raw) {
    if (raw->stopped) return;
    raw->stopped = true;
    flush();
    // Entries still queued (only if this runs from an on_wire tap inside flush()) are dropped.
    for (size_t i = 0; i < out->n; ++i)
      if (out->node[i] == raw) out->node[i] = nullptr;
    for (auto& s : raw->sockets) {
      ::epoll_ctl(ep, EPOLL_CTL_DEL, s.fd, nullptr);
      ::close(s.fd);
      s.fd = -1;
    }
    release_controller(raw);  // before the node (the replies' sender) goes
    raw->node.reset();
    raw->capture.reset();  // closes the file unless another node shares it
    std::erase(nodes, raw);
    for (auto& r : refs)
      if (r.node == raw) r.dead = refs_dirty = true;
  }
  void read_socket(NodeHandle::Impl& n, size_t si, int64_t now);
  void post(std::function<void()> fn) {
    bool signal;
    {
      std::lock_guard lk(mu);
      tasks.push_back(std::move(fn));
      signal = !wake_pending;
      wake_pending = true;
    }
    // One eventfd write per batch of posts: the loop clears wake_pending when it takes the
    // queue, so a task posted after that always writes again (no lost wake-up).
    if (signal) {
      uint64_t one = 1;
      (void)!::write(wake, &one, sizeof one);
    }
  }
};

void NodeHandle::Impl::flush_all() { rt->flush(); }

void Runtime::Impl::attach_controller(NodeHandle::Impl* raw, core::NetworkController* c) {
  if (!c) return;
  if (!raw->cfg.controller_thread) {
    raw->direct = c;
    raw->node->set_controller(c);
    return;
  }
  AsyncController::Options o;
  o.queue_limit = raw->cfg.controller_queue_limit;
  o.counters = raw->ctl_counters;
  // Called inside on_request, i.e. by this node on the loop thread: `raw` is alive.
  o.on_overflow = [raw](uint64_t nwid, proto::Address who, uint64_t dropped) {
    core::TraceInfo t;
    t.code = core::trace_code::kControllerQueueFull;
    t.nwid = nwid;
    t.peer = who;
    t.reason = "controller queue full: " + std::to_string(dropped) + " request(s) dropped";
    core::Event e;
    e.type = core::EventType::Trace;
    e.text = t.reason + " (last from " + proto::address_to_string(who) + ")";
    e.peer = who;
    e.trace = &t;
    raw->event(e);
  };
  // Replies: run on the loop later; `fn` says whether it reached the node (then `raw` is alive:
  // the node's sender is cleared, on this thread, before the node goes).
  Runtime::Impl* rt = this;
  auto post = [rt, raw](std::function<bool(int64_t)> fn) {
    rt->post([rt, raw, fn = std::move(fn)] {
      const int64_t now = now_ms();
      if (fn(now)) raw->deadline = std::min(raw->deadline, now);  // let the loop re-evaluate timers
      rt->flush();
    });
  };
  auto a = std::make_shared<AsyncController>(*c, std::move(post), std::move(o));
  {
    std::lock_guard lk(raw->ctl_mu);
    raw->async = a;
  }
  raw->node->set_controller(a.get());  // attach: starts its thread
}

void NodeHandle::Impl::enqueue(size_t si, const InetAddress& to, const sockaddr_storage& ss, socklen_t sl,
                               ByteSpan data) {
  SendBatch& b = *rt->out;
  if (b.n == kBatch) {
    if (b.flushing) {  // full while a tap sends from inside flush(): this one goes out alone
      send_now(si, to, ss, sl, data, 0);
      return;
    }
    rt->flush();
  }
  b.node[b.n] = this;
  b.sock[b.n] = uint32_t(si);
  b.addr[b.n] = ss;
  b.addr_len[b.n] = sl;
  b.len[b.n] = data.size();
  std::memcpy(b.data[b.n].data(), data.data(), data.size());
  ++b.n;
}

void Runtime::Impl::flush() {
  SendBatch& b = *out;
  if (b.flushing || b.n == 0) return;
  b.flushing = true;
  size_t done = 0;
  while (done < b.n) {
    NodeHandle::Impl* const node = b.node[done];
    const uint32_t si = b.sock[done];
    size_t end = done + 1;
    while (end < b.n && b.node[end] == node && b.sock[end] == si) ++end;
    if (node == nullptr) {
      done = end;
      continue;
    }
    std::array<mmsghdr, kBatch> msgs{};
    std::array<iovec, kBatch> iov{};
    const size_t cnt = end - done;
    for (size_t i = 0; i < cnt; ++i) {
      iov[i] = {b.data[done + i].data(), b.len[done + i]};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &b.addr[done + i];
      msgs[i].msg_hdr.msg_namelen = b.addr_len[done + i];
    }
    const int r = ::sendmmsg(node->sockets[si].fd, msgs.data(), unsigned(cnt), 0);
    if (r <= 0) {
      if (r < 0 && errno == EINTR) continue;
      done = end;  // EAGAIN/ENOBUFS: UDP is lossy; drop the rest of this run
      continue;
    }
    if (node->capture)
      for (size_t i = done; i < done + size_t(r); ++i)
        if (auto to = InetAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&b.addr[i])))
          node->capture_wire(WireDirection::Sent, si, *to, ByteSpan(b.data[i].data(), b.len[i]));
    if (node->cfg.on_wire) {
      // Datagrams the kernel accepted. A tap may detach this node (its entries become nullptr).
      const int64_t now = now_ms();
      for (size_t i = done; i < done + size_t(r) && b.node[i] == node; ++i) {
        auto to = InetAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&b.addr[i]));
        if (to) node->cfg.on_wire(WireDirection::Sent, *to, now, ByteSpan(b.data[i].data(), b.len[i]));
      }
    }
    done += size_t(r);
  }
  b.n = 0;
  b.flushing = false;
}

void Runtime::Impl::run_tasks() {
  std::deque<std::function<void()>> batch;
  {
    std::lock_guard lk(mu);
    batch.swap(tasks);
    wake_pending = false;
  }
  for (auto& t : batch) t();
}

void Runtime::Impl::read_socket(NodeHandle::Impl& n, size_t si, int64_t now) {
  // Up to 16 batches per wake-up so one busy node cannot starve the others.
  static thread_local std::array<std::array<uint8_t, 16384>, kBatch> bufs;
  std::array<mmsghdr, kBatch> msgs{};
  std::array<iovec, kBatch> iov{};
  std::array<sockaddr_storage, kBatch> from{};
  for (int round = 0; round < 16 && !n.stopped; ++round) {
    for (size_t i = 0; i < kBatch; ++i) {
      iov[i] = {bufs[i].data(), bufs[i].size()};
      msgs[i].msg_hdr = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    }
    int r = ::recvmmsg(n.sockets[si].fd, msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
    if (r <= 0) break;
    for (int i = 0; i < r; ++i) {
      // An IPv4-mapped IPv6 source is reported as IPv4.
      auto addr = InetAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&from[size_t(i)]));
      if (!addr) continue;
      const ByteSpan datagram(bufs[size_t(i)].data(), msgs[size_t(i)].msg_len);
      if (n.cfg.on_wire) n.cfg.on_wire(WireDirection::Received, *addr, now, datagram);
      if (n.stopped) break;  // the tap removed the node
      n.capture_wire(WireDirection::Received, si, *addr, datagram);
      int64_t d = n.node->process_wire_packet(now, int64_t(si), *addr, datagram);
      n.deadline = std::min(n.deadline, d);
    }
    n.flush_all();
    if (size_t(r) < kBatch) break;
  }
}

void Runtime::Impl::run() {
  loop_id = std::this_thread::get_id();
  std::array<epoll_event, 64> evs;
  while (!quit.load()) {
    if (refs_dirty) {
      refs.remove_if([](const SockRef& r) { return r.dead; });
      refs_dirty = false;
    }
    int64_t now = now_ms();
    int64_t next = now + 1000;
    for (auto* n : nodes) next = std::min(next, n->deadline);
    int timeout = int(std::clamp<int64_t>(next - now, 0, 1000));
    int k = ::epoll_wait(ep, evs.data(), int(evs.size()), timeout);
    now = now_ms();
    for (int i = 0; i < k; ++i) {
      if (evs[size_t(i)].data.ptr == nullptr) {
        uint64_t v;
        (void)!::read(wake, &v, sizeof v);
        continue;
      }
      auto* ref = static_cast<SockRef*>(evs[size_t(i)].data.ptr);
      if (!ref->dead && !ref->node->stopped) read_socket(*ref->node, ref->index, now);
    }
    run_tasks();
    now = now_ms();
    for (auto* n : nodes) {
      if (n->stopped || n->deadline > now) continue;
      n->deadline = n->node->process_background_tasks(now);
      n->flush_all();
    }
  }
  run_tasks();
}

Runtime::Runtime() : impl_(std::make_unique<Impl>()) {
  crypto::init();
  impl_->ep = ::epoll_create1(EPOLL_CLOEXEC);
  impl_->wake = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;
  ::epoll_ctl(impl_->ep, EPOLL_CTL_ADD, impl_->wake, &ev);
  impl_->thread = std::thread([this] { impl_->run(); });
}

Runtime::~Runtime() {
  std::vector<std::shared_ptr<AsyncController>> retired;
  call([&] {
    while (!impl_->nodes.empty()) impl_->detach(impl_->nodes.back());
    retired.swap(impl_->retired);
  });
  // Controller threads post their replies to the loop: joined while it still runs.
  Impl::join_all(retired);
  impl_->quit = true;
  impl_->post([] {});
  impl_->thread.join();
  ::close(impl_->ep);
  ::close(impl_->wake);
}

bool Runtime::on_loop_thread() const { return std::this_thread::get_id() == impl_->loop_id.load(); }

void Runtime::post(std::function<void()> fn) { impl_->post(std::move(fn)); }

void Runtime::call(const std::function<void()>& fn) {
  if (on_loop_thread()) {
    fn();
    return;
  }
  std::promise<void> done;
  impl_->post([&] {
    fn();
    done.set_value();
  });
  done.get_future().wait();
}

size_t Runtime::node_count() {
  size_t n = 0;
  call([&] { n = impl_->nodes.size(); });
  return n;
}

static Result<int> open_udp(const InetAddress& bind_addr, uint16_t port) {
  const int fam = bind_addr.is_v4() ? AF_INET : AF_INET6;
  int fd = ::socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return err(ErrorKind::Io, std::string("socket: ") + std::strerror(errno));
  int one = 1;
  if (fam == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  int bufsz = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof bufsz);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof bufsz);
  InetAddress a = bind_addr;
  a.set_port(port);
  sockaddr_storage ss;
  socklen_t sl = a.to_sockaddr(&ss);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), sl) != 0) {
    std::string e = "bind " + a.to_string() + ": " + std::strerror(errno);
    ::close(fd);
    return err(ErrorKind::Io, e);
  }
  return fd;
}

static uint16_t bound_port(int fd) {
  sockaddr_storage ss{};
  socklen_t sl = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sl) != 0) return 0;
  auto a = InetAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
  return a ? a->port() : 0;
}

Result<std::shared_ptr<NodeHandle>> Runtime::add_node(NodeConfig cfg) {
  auto impl = std::make_unique<NodeHandle::Impl>();
  impl->rt = impl_.get();
  if (cfg.home.empty()) {
    impl->store = std::make_unique<MemoryStateStore>();
  } else {
    auto fs = FileStateStore::open(cfg.home);
    if (!fs.ok()) return fs.take_error();
    impl->store = std::move(fs.value());
  }
  if (cfg.identity) {
    if (!cfg.identity->has_private()) return err("the given identity has no private key");
    impl->identity = *cfg.identity;
    if (!impl->store->get(core::StateObject::IdentitySecret, 0)) {
      std::string sec = impl->identity.to_string(true), pub = impl->identity.to_string(false);
      impl->store->put(core::StateObject::IdentitySecret, 0, as_bytes(sec));
      impl->store->put(core::StateObject::IdentityPublic, 0, as_bytes(pub));
    }
  } else {
    auto id = load_or_create_identity(*impl->store);
    if (!id.ok()) return id.take_error();
    impl->identity = *id;
  }

  core::NodeOptions opts;
  opts.identity = impl->identity;
  opts.allow_loopback = cfg.allow_loopback;
  opts.online_timeout_ms = cfg.online_timeout_ms;
  if (cfg.planet) {
    auto w = proto::World::parse(*cfg.planet);
    if (!w.ok()) return err("invalid planet: " + w.error());
    if (!w->verify()) return err("planet signature does not verify");
    opts.planet = *w;
    impl->store->put(core::StateObject::Planet, 0, *cfg.planet);
  }
  for (const auto& mb : cfg.moons) {
    auto w = proto::World::parse(mb);
    if (!w.ok()) return err("invalid moon: " + w.error());
    if (!w->verify()) return err("moon signature does not verify");
    opts.moons.push_back(*w);
  }

  // Sockets: every bind address on one port (port 0: the first bind picks it).
  std::vector<InetAddress> binds = cfg.bind;
  if (binds.empty()) {
    binds.push_back(*InetAddress::parse("0.0.0.0"));
    binds.push_back(*InetAddress::parse("::"));
  }
  uint16_t port = cfg.port;
  for (size_t i = 0; i < binds.size(); ++i) {
    auto fd = open_udp(binds[i], port);
    if (!fd.ok()) {
      // A missing IPv6 stack is not fatal when something else is bound.
      if (binds[i].is_v6() && cfg.bind.empty() && !impl->sockets.empty()) continue;
      for (auto& s : impl->sockets) ::close(s.fd);
      return fd.take_error();
    }
    if (port == 0) port = bound_port(*fd);
    InetAddress local = binds[i];
    local.set_port(port);
    impl->sockets.push_back({*fd, binds[i].is_v4() ? AF_INET : AF_INET6, local});
  }
  impl->cfg = std::move(cfg);

  NodeHandle::Impl* raw = impl.get();
  std::optional<Error> error;
  call([&] {
    if (raw->cfg.pcap) {
      // The capture holds the writer from now on (the config does not keep it open).
      raw->capture = std::make_unique<NodeCapture>(std::move(raw->cfg.pcap), raw->identity.address(), raw->cfg.pcap_label);
      if (auto st = raw->capture->start(); !st.ok()) {
        error = st.take_error();
        return;
      }
    }
    const int64_t now = now_ms();
    auto node = core::Node::create(*raw, opts, now);
    if (!node.ok()) {
      error = node.take_error();
      return;
    }
    raw->node = std::move(node.value());
    impl_->attach_controller(raw, raw->cfg.controller);
    for (uint64_t nwid : raw->cfg.join) (void)raw->node->join(now, nwid);
    raw->deadline = now;
    raw->flush_all();
    for (size_t i = 0; i < raw->sockets.size(); ++i) {
      impl_->refs.push_back({raw, i});
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.ptr = &impl_->refs.back();
      ::epoll_ctl(impl_->ep, EPOLL_CTL_ADD, raw->sockets[i].fd, &ev);
    }
    impl_->nodes.push_back(raw);
  });
  if (error) {
    for (auto& s : raw->sockets) ::close(s.fd);
    return *error;
  }
  auto h = std::make_shared<NodeHandle>(std::move(impl), *this);
  h->address_ = raw->identity.address();
  h->port_ = port;
  return h;
}

void Runtime::remove_node(const std::shared_ptr<NodeHandle>& n) {
  if (!n) return;
  NodeHandle::Impl* raw = n->impl_.get();
  std::vector<std::shared_ptr<AsyncController>> retired;
  call([&] {
    impl_->detach(raw);
    retired.swap(impl_->retired);
  });
  Impl::join_all(retired);  // its controller is no longer called once this returns
}

// ---- NodeHandle -----------------------------------------------------------------------------

NodeHandle::NodeHandle(std::unique_ptr<Impl> impl, Runtime& rt) : impl_(std::move(impl)), rt_(rt) {}

NodeHandle::~NodeHandle() {
  if (impl_ && !impl_->stopped) {
    NodeHandle::Impl* raw = impl_.get();
    std::vector<std::shared_ptr<AsyncController>> retired;
    rt_.call([&] {
      rt_.impl_->detach(raw);
      retired.swap(rt_.impl_->retired);
    });
    Runtime::Impl::join_all(retired);
  }
}

const proto::Identity& NodeHandle::identity() const { return impl_->identity; }
const std::string& NodeHandle::home() const { return impl_->cfg.home; }

void NodeHandle::with_node(const std::function<void(core::Node&, int64_t)>& fn) {
  rt_.call([&] {
    if (impl_->stopped || !impl_->node) return;
    const int64_t now = now_ms();
    fn(*impl_->node, now);
    impl_->deadline = std::min(impl_->deadline, now);  // let the loop re-evaluate timers
    impl_->flush_all();
  });
}

core::Node& NodeHandle::node_on_loop() { return *impl_->node; }

void NodeHandle::set_controller(core::NetworkController* c) {
  std::vector<std::shared_ptr<AsyncController>> retired;
  rt_.call([&] {
    if (impl_->stopped || !impl_->node) return;
    rt_.impl_->release_controller(impl_.get());
    impl_->node->set_controller(nullptr);  // a controller without a thread gets attach(nullptr)
    rt_.impl_->attach_controller(impl_.get(), c);
    retired.swap(rt_.impl_->retired);
  });
  Runtime::Impl::join_all(retired);
}

bool NodeHandle::controller_call(const std::function<void(int64_t now)>& fn) {
  std::shared_ptr<AsyncController> a;
  {
    std::lock_guard lk(impl_->ctl_mu);
    a = impl_->async;
  }
  if (a) return a->call(fn);
  bool ran = false;
  with_node([&](core::Node&, int64_t now) {
    if (!impl_->direct) return;
    fn(now);
    ran = true;
  });
  return ran;
}

bool NodeHandle::controller_post(std::function<void(int64_t now)> fn) {
  std::shared_ptr<AsyncController> a;
  {
    std::lock_guard lk(impl_->ctl_mu);
    a = impl_->async;
  }
  if (a) return a->post(std::move(fn));
  return controller_call(fn);  // on the loop: waits (a posted task could outlive the node)
}

AsyncController::Stats NodeHandle::controller_stats() const { return AsyncController::snapshot(*impl_->ctl_counters); }

core::NodeStatus NodeHandle::status() {
  core::NodeStatus s;
  with_node([&](core::Node& n, int64_t now) { s = n.status(now); });
  return s;
}

std::vector<core::PeerInfo> NodeHandle::peers() {
  std::vector<core::PeerInfo> p;
  with_node([&](core::Node& n, int64_t now) { p = n.peers(now); });
  return p;
}

core::Counters NodeHandle::counters() {
  core::Counters c;
  with_node([&](core::Node& n, int64_t) { c = n.counters(); });
  return c;
}

bool NodeHandle::online() {
  bool on = false;
  with_node([&](core::Node& n, int64_t) { on = n.online(); });
  return on;
}

Status NodeHandle::send_user_message(proto::Address dest, uint64_t type_id, ByteSpan data) {
  Status st = err("node stopped");
  with_node([&](core::Node& n, int64_t now) { st = n.send_user_message(now, dest, type_id, data); });
  return st;
}

Status NodeHandle::ping(proto::Address dest) {
  Status st = err("node stopped");
  with_node([&](core::Node& n, int64_t now) { st = n.ping(now, dest); });
  return st;
}

Status NodeHandle::orbit(uint64_t moon_id, proto::Address seed) {
  Status st = err("node stopped");
  with_node([&](core::Node& n, int64_t now) { st = n.orbit(now, moon_id, seed); });
  return st;
}

Status NodeHandle::deorbit(uint64_t moon_id) {
  Status st = err("node stopped");
  with_node([&](core::Node& n, int64_t now) { st = n.deorbit(now, moon_id); });
  return st;
}

}  // namespace zt::runtime

namespace zt::runtime {

Status NodeHandle::join(uint64_t nwid) {
  Status st = err("node stopped");
  with_node([&](core::Node& n, int64_t now) { st = n.join(now, nwid); });
  return st;
}

Status NodeHandle::leave(uint64_t nwid) {
  Status st = err("node stopped");
  with_node([&](core::Node& n, int64_t now) { st = n.leave(now, nwid); });
  return st;
}

std::vector<core::NetworkInfo> NodeHandle::networks() {
  std::vector<core::NetworkInfo> v;
  with_node([&](core::Node& n, int64_t) { v = n.networks(); });
  return v;
}

std::optional<core::NetworkInfo> NodeHandle::network(uint64_t nwid) {
  std::optional<core::NetworkInfo> v;
  with_node([&](core::Node& n, int64_t) { v = n.network(nwid); });
  return v;
}

Status NodeHandle::Impl::send_frame(int64_t now, uint64_t nwid, proto::Mac src, proto::Mac dst, uint16_t ethertype,
                                    uint16_t vlan, ByteSpan data) {
  if (!capture) return node->send_frame(now, nwid, src, dst, ethertype, vlan, data);
  std::string traces;
  send_traces = &traces;
  Status st = node->send_frame(now, nwid, src, dst, ethertype, vlan, data);
  send_traces = nullptr;
  // The core returns ok for a frame it dropped (like a NIC) and says why in a TRACE event.
  std::string verdict = !st.ok() ? "refused: " + st.error()
                        : traces.find("dropped") != std::string::npos ? "dropped: " + traces
                                                                       : std::string("sent");
  write_frame(FrameDirection::Out, nwid, src, dst, ethertype, vlan, data, verdict);
  return st;
}

Status NodeHandle::send_frame(uint64_t nwid, proto::Mac src, proto::Mac dst, uint16_t ethertype, uint16_t vlan, ByteSpan data) {
  Status st = err(ErrorKind::State, "node stopped");
  with_node([&](core::Node&, int64_t now) { st = impl_->send_frame(now, nwid, src, dst, ethertype, vlan, data); });
  return st;
}

Status NodeHandle::send_frame_on_loop(int64_t now, uint64_t nwid, proto::Mac src, proto::Mac dst, uint16_t ethertype,
                                      uint16_t vlan, ByteSpan data) {
  if (impl_->stopped || !impl_->node) return err(ErrorKind::State, "node stopped");
  return impl_->send_frame(now, nwid, src, dst, ethertype, vlan, data);
}

Status NodeHandle::pcap_start(const std::string& path) {
  auto w = std::make_shared<PcapngWriter>();
  if (auto st = w->open(path); !st.ok()) return st;
  Status st = pcap_attach(w, "");
  if (!st.ok()) {
    (void)w->close();
    ::unlink(path.c_str());  // nothing of ours in it
  }
  return st;
}

Status NodeHandle::pcap_attach(std::shared_ptr<PcapngWriter> writer, std::string label) {
  if (!writer || !writer->is_open()) return err(ErrorKind::State, "pcap: the writer is not open");
  auto cap = std::make_unique<NodeCapture>(writer, address_ ? address_ : impl_->identity.address(), std::move(label));
  Status st = err(ErrorKind::State, "node stopped");
  std::unique_ptr<NodeCapture> old;
  rt_.call([&] {
    if (impl_->stopped) return;
    st = cap->start();
    if (!st.ok()) return;
    old = std::move(impl_->capture);
    impl_->capture = std::move(cap);
  });
  return st;  // `old` (a replaced capture) is closed here, off the loop thread
}

Status NodeHandle::pcap_stop() {
  std::unique_ptr<NodeCapture> cap;
  rt_.call([&] { cap = std::move(impl_->capture); });
  if (!cap) return ok_status();
  std::shared_ptr<PcapngWriter> w = cap->writer();
  cap.reset();
  // The last user closes the file; a shared writer is only flushed.
  return w.use_count() == 1 ? w->close() : w->flush();
}

Result<std::string> NodeHandle::explain_frame(uint64_t nwid, ByteSpan frame, bool inbound, proto::Address peer) {
  Result<std::string> r = err(ErrorKind::State, "node stopped");
  with_node([&](core::Node& n, int64_t) { r = n.explain_frame(nwid, frame, inbound, peer); });
  return r;
}

Status NodeHandle::multicast_subscribe(uint64_t nwid, const proto::MulticastGroup& g) {
  Status st = err("node stopped");
  with_node([&](core::Node& n, int64_t now) { st = n.multicast_subscribe(now, nwid, g); });
  return st;
}

Status NodeHandle::multicast_unsubscribe(uint64_t nwid, const proto::MulticastGroup& g) {
  Status st = err("node stopped");
  with_node([&](core::Node& n, int64_t now) { st = n.multicast_unsubscribe(now, nwid, g); });
  return st;
}

}  // namespace zt::runtime
