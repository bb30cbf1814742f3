// ztcore::stack — a userspace TCP/IP stack (Debian's lwIP 2.1) per node, beside the runtime.
//
// Where it sits: the stack never touches src/core. It wraps a node's NodeConfig callbacks
// (on_frame, on_network) before the node is created, turns the frames of the node's joined
// networks into lwIP input, and sends what lwIP emits with the node's own send_frame. The core
// and the runtime do not know it exists.
//
// One lwIP per process: lwIP keeps global state (netif list, pcb lists, timers), so every
// NodeStack shares one instance, started lazily by the first NodeStack (tcpip_init, once). All
// lwIP state is guarded by lwIP's own core lock (LWIP_TCPIP_CORE_LOCKING): the tcpip thread
// holds it while it runs timers, the runtime loop thread while it feeds input; application
// threads take it inside every lwip_* socket call. Each node gets one netif per joined
// network ("zt" + number, at most 254 in a process), carrying
// the node's MAC and the network's addresses, default gateway and MTU.
//
// Threads:
//   * runtime loop thread — on_frame: frames for the stack are copied into pbufs and queued
//     on the NodeStack (at most 1024; beyond that a frame is dropped like a NIC overrun). The
//     first frame of a loop iteration posts one task that feeds the whole batch to lwIP on the
//     loop thread, holding the core lock once for the batch (no hand-off to the tcpip thread:
//     measured, the hand-off per segment and ACK cost a third of the TCP throughput).
//     on_network: netif add/update/remove are posted as tcpip callbacks.
//   * tcpip thread (or an application thread inside an lwip_* call) — the netif's linkoutput
//     copies each outgoing frame into the node's outbox and posts ONE drain task to the loop
//     thread while none is pending; the drain sends the batch with the node's send_frame.
//   * application threads — Socket methods (blocking lwip_* calls). A blocking call from the
//     loop thread would wait for the loop thread itself and is refused.
//
// Frame consumption rule (frames the stack takes are not passed to the user's on_frame):
//   * ARP whose target protocol address is the node's IPv4 address on that network;
//   * IPv4 to that address; IPv6 to one of its IPv6 addresses or to their solicited-node
//     groups (ff02::1:ffXX:XXXX, which carries NDP neighbour solicitations for them);
//   * IPv4 broadcast (255.255.255.255 or the subnet's) and IPv6 all-nodes (ff02::1) go to the
//     stack AND to on_frame; everything else (other protocols, VLAN-tagged frames, IP to other
//     hosts, other multicast) only to on_frame.
// Forwarding guard: Debian's lwIP is built with IP_FORWARD and LWIP_IPV6_FORWARD, so a packet
// handed to it for an address it does not own would be routed out of another netif — another
// node's. The consumption rule above never hands such packets over, and a second guard on
// output sends every IP packet out of the netif that owns its source address (lwIP picks the
// netif of replies without a socket — RST, ICMP errors — by destination over the whole
// process; nodes sharing a subnet would otherwise answer for each other).
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "runtime/runtime.hpp"

namespace zt::stack {

struct NetState;
struct Outbox;
class Socket;
struct PendingInput;

struct StackCounters {
  uint64_t frames_in = 0;        // frames handed to lwIP
  uint64_t frames_out = 0;       // frames lwIP emitted (sent with send_frame)
  uint64_t dropped_in = 0;       // tcpip mailbox full
  uint64_t dropped_out = 0;      // outbox full
};

// The stack of one node. Lifecycle:
//   auto st = NodeStack::attach(cfg);        // before Runtime::add_node(cfg)
//   auto h = rt.add_node(std::move(cfg));
//   st->start(rt, *h);                       // frames go out from now on
//   ... sockets ...
//   st->close();   // before the Runtime is destroyed; closes every socket and netif
class NodeStack : public std::enable_shared_from_this<NodeStack> {
 public:
  // Wraps cfg.on_frame / cfg.on_network (the user's callbacks are still called: on_network
  // always, on_frame for every frame the stack does not consume).
  static std::shared_ptr<NodeStack> attach(runtime::NodeConfig& cfg);
  ~NodeStack();

  // Binds the stack to its running node. Call once, right after add_node.
  void start(runtime::Runtime& rt, const std::shared_ptr<runtime::NodeHandle>& node);
  // Closes every socket of this node (later calls on them fail with "closed") and removes
  // its netifs. Idempotent; must run before the Runtime is destroyed. Not from the loop thread.
  void close();
  bool closed() const;

  // Addresses the stack holds on a network ("ip/bits"), from the last config; empty if none.
  std::vector<proto::InetAddress> addresses(uint64_t nwid) const;
  // True once a netif for nwid exists with at least one address.
  bool ready(uint64_t nwid) const;
  StackCounters counters() const;

  // Socket factory (family AF_INET / AF_INET6, type SOCK_STREAM / SOCK_DGRAM).
  Result<std::shared_ptr<Socket>> socket(int family, int type);

  // ---- internal (used by Socket and the glue) ----
  bool on_loop_thread() const;
  // Picks the netif (lwIP index, 0 = none) for a local address (any = first of its family)
  // or, when `remote` is set, the one whose subnet holds the destination.
  uint8_t pick_netif(int family, const std::optional<proto::InetAddress>& local,
                     const std::optional<proto::InetAddress>& remote) const;
  void forget_socket(Socket* s);
  // Registers a new socket; false (and closes it) if the stack is closed.
  bool adopt(const std::shared_ptr<Socket>& s);
  // Loop thread: a frame from the node; returns true if the stack consumed it.
  bool input(uint64_t nwid, proto::Mac src, proto::Mac dst, uint16_t ethertype, uint16_t vlan, ByteSpan data);
  // Loop thread: the network's config changed.
  void network(uint64_t nwid, core::NetworkOp op, const core::NetworkInfo& info);

 private:
  NodeStack();
  void sync_subscriptions();

  void flush_input();

  mutable std::mutex mu_;  // guards everything below (input posting and netif removal order)
  bool closed_ = false;
  // Frames for lwIP received in the current loop iteration, fed to it together by a task the
  // first one posts (see deliver_input).
  std::vector<PendingInput> inbox_;
  bool inbox_posted_ = false;
  runtime::Runtime* rt_ = nullptr;
  std::weak_ptr<runtime::NodeHandle> node_;
  std::shared_ptr<Outbox> outbox_;
  std::vector<std::unique_ptr<NetState>> nets_;
  // Open sockets, weakly: close() closes the ones still alive without holding mu_ (lock order:
  // a Socket's lock is taken before mu_, e.g. bind → pick_netif, never after it).
  std::vector<std::pair<Socket*, std::weak_ptr<Socket>>> sockets_;
  StackCounters counters_;
};

// A socket on a node's stack: lwIP's BSD socket API with the netif binding that keeps many
// nodes apart, plus an eventfd that becomes readable when readiness may have changed.
// Errors carry errno values (EAGAIN, ECONNREFUSED, ...). Thread-safe like a BSD socket
// (one thread per direction); close() while another thread blocks in a call is not supported.
class Socket {
 public:
  ~Socket();  // closes
  int family() const { return family_; }
  int type() const { return type_; }
  Status bind(const std::optional<proto::InetAddress>& ip, uint16_t port);
  Status listen(int backlog);
  Result<std::shared_ptr<Socket>> accept(proto::InetAddress* peer);
  Status connect(const proto::InetAddress& ip, uint16_t port);
  Result<size_t> send(ByteSpan data);
  Result<size_t> recv(uint8_t* buf, size_t cap);
  Result<size_t> sendto(ByteSpan data, const proto::InetAddress& ip, uint16_t port);
  Result<size_t> recvfrom(uint8_t* buf, size_t cap, proto::InetAddress* from);
  Status shutdown(int how);  // SHUT_RD / SHUT_WR / SHUT_RDWR
  // -1 blocks forever, 0 non-blocking, > 0 bounds each blocking call (ms).
  Status set_timeout(int64_t ms);
  int64_t timeout() const { return timeout_ms_; }
  Result<proto::InetAddress> local_address();   // port in port()
  Result<proto::InetAddress> peer_address();
  // POLLIN | POLLOUT | POLLERR | POLLHUP (system values); clears the eventfd.
  Result<int> poll();
  int event_fd() const { return efd_; }
  void close();

  // internal
  Socket(std::shared_ptr<NodeStack> st, int fd, int family, int type);
  void close_from_stack();

 private:
  Status ensure_netif(const std::optional<proto::InetAddress>& local,
                      const std::optional<proto::InetAddress>& remote);
  Status check_blocking_allowed();
  void drain_event();
  void rearm_if_readable();
  Status bind_pcb(uint8_t idx);

  std::weak_ptr<NodeStack> stack_;
  std::mutex mu_;  // guards fd_ against a concurrent close
  int fd_ = -1;
  int efd_ = -1;
  std::atomic<bool> raised_{false};  // efd_ was written since the last drain_event
  int family_ = 0;
  int type_ = 0;
  uint8_t netif_ = 0;  // lwIP netif index the pcb is bound to (0 = not yet)
  int64_t timeout_ms_ = -1;
};

// errno of the calling thread's last failed Socket call (EAGAIN, ECONNREFUSED, ...; EDEADLK =
// a blocking call from the loop thread; EBADF = closed). Set with every Socket error.
int last_errno();

// Runs fn with the lwIP core lock held (application threads only). For tests and tools.
void with_core_lock(const std::function<void()>& fn);
// Number of netifs all stacks of this process hold.
size_t netif_count();
// Returns once lwIP's tcpip thread has processed everything posted to it before the call
// (frames, netif changes). For tests and fuzzing; not from the tcpip thread.
void tcpip_barrier();
// Linux thread id of lwIP's tcpip thread (for CPU accounting), 0 before the first stack.
long tcpip_thread_tid();

}  // namespace zt::stack
