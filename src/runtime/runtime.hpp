// ztcore::runtime — the only layer with sockets, threads and clocks.
//
// A Runtime owns one event-loop thread (epoll) that hosts any number of nodes, each with its
// own UDP port (an IPv4 and/or IPv6 socket). Datagrams are read in batches (recvmmsg) and the
// replies a batch produces are written in batches (sendmmsg). Timers come from each node's
// returned deadline.
//
// Threading: a Node is only ever touched on the loop thread. Every NodeHandle method is
// thread-safe: it runs its work on the loop thread and waits for the result (do not call
// them from inside an event callback — callbacks already run on the loop thread; use the
// `_on_loop` variants there). Event callbacks run on the loop thread and must not block.
// A node with a network controller also has a controller thread (async_controller.hpp,
// NodeConfig::controller_thread): the controller's requests are answered there, not on the loop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "core/node.hpp"
#include "runtime/async_controller.hpp"
#include "runtime/state.hpp"

namespace zt::runtime {

// Milliseconds on the runtime's clock: Unix epoch ms, advancing monotonically.
int64_t now_ms();
// The same clock in microseconds (now_ms() == now_us() / 1000).
int64_t now_us();

enum class WireDirection : int { Received = 0, Sent = 1 };
// An Ethernet frame delivered to the host (In) or sent by it (Out).
enum class FrameDirection : int { In = 0, Out = 1 };

class PcapngWriter;

struct NodeConfig {
  std::string home;                    // state directory; empty = in memory
  uint16_t port = 9993;                // 0 = pick a free port
  std::vector<proto::InetAddress> bind;  // addresses to bind (port ignored); empty = 0.0.0.0 and ::
  std::optional<Bytes> planet;         // world bytes; else home/planet; else none
  std::vector<Bytes> moons;            // worlds served/orbited from the start
  std::optional<proto::Identity> identity;  // else loaded from home, else generated (and saved)
  bool allow_loopback = false;
  int64_t online_timeout_ms = 30000;
  // Called on the loop thread for every node event. Event::data is valid only during the call.
  std::function<void(const core::Event&)> on_event;
  // Ethernet frames from joined networks (loop thread; data valid only during the call).
  std::function<void(uint64_t nwid, proto::Mac src, proto::Mac dst, uint16_t ethertype, uint16_t vlan,
                     ByteSpan data)>
      on_frame;
  // Network up / config update / down (loop thread).
  std::function<void(uint64_t nwid, core::NetworkOp op, const core::NetworkInfo& info)> on_network;
  // Networks to join at start.
  std::vector<uint64_t> join;
  // A network controller to attach (not owned; must outlive the node: removing the node,
  // freeing the runtime or NodeHandle::set_controller return only once it is no longer called).
  core::NetworkController* controller = nullptr;
  // Run the controller on its own thread (runtime/async_controller.hpp), so that its database
  // work never holds up the loop: requests are queued (at most controller_queue_limit waiting;
  // beyond that dropped, counted and reported as a 9008 CONTROLLER_QUEUE_FULL trace) and
  // answered from that thread; the replies are sent on the loop thread. Every
  // NetworkController call then happens on the controller thread, and work for it (e.g. the
  // embedded controller's process_pending) goes through NodeHandle::controller_call.
  // false: the controller runs on the loop thread itself, blocking the node while it works.
  bool controller_thread = true;
  size_t controller_queue_limit = AsyncController::kDefaultQueueLimit;
  // Wire tap: every UDP datagram this node receives (before the core sees it) or sends
  // (after the kernel accepted it; datagrams dropped by a full socket buffer are not
  // reported). Loop thread; `data` valid only during the call; `now` on the runtime clock.
  // Unset = no cost on the datagram paths.
  std::function<void(WireDirection dir, const proto::InetAddress& remote, int64_t now, ByteSpan data)> on_wire;
  // Packet capture from the node's first datagram on (as NodeHandle::pcap_attach): an open
  // writer, possibly shared with other nodes, and the label that prefixes this node's interfaces.
  std::shared_ptr<PcapngWriter> pcap;
  std::string pcap_label;
};

class Runtime;

class NodeHandle {
 public:
  ~NodeHandle();
  proto::Address address() const { return address_; }
  uint16_t port() const { return port_; }
  const proto::Identity& identity() const;
  const std::string& home() const;

  core::NodeStatus status();
  std::vector<core::PeerInfo> peers();
  core::Counters counters();
  bool online();
  Status send_user_message(proto::Address dest, uint64_t type_id, ByteSpan data);
  Status ping(proto::Address dest);
  Status orbit(uint64_t moon_id, proto::Address seed);
  Status deorbit(uint64_t moon_id);
  Status join(uint64_t nwid);
  Status leave(uint64_t nwid);
  std::vector<core::NetworkInfo> networks();
  std::optional<core::NetworkInfo> network(uint64_t nwid);
  Status send_frame(uint64_t nwid, proto::Mac src, proto::Mac dst, uint16_t ethertype, uint16_t vlan, ByteSpan data);
  Status multicast_subscribe(uint64_t nwid, const proto::MulticastGroup& g);
  Status multicast_unsubscribe(uint64_t nwid, const proto::MulticastGroup& g);
  // Loop thread only (inside with_node): send_frame without the hop to the loop and without
  // flushing (with_node flushes when the batch is done); recorded by a running capture.
  Status send_frame_on_loop(int64_t now, uint64_t nwid, proto::Mac src, proto::Mac dst, uint16_t ethertype,
                            uint16_t vlan, ByteSpan data);

  // Packet capture (runtime/capture.hpp): UDP datagrams and the networks' Ethernet frames into
  // a pcapng file. pcap_start creates `path` (0644; an error, e.g. ErrorKind::Io, if it cannot)
  // and replaces a running capture; pcap_attach shares one open writer between several nodes
  // (`label` prefixes the interface names); pcap_stop closes this node's capture (the file when
  // no other node shares it) and reports a write error that happened meanwhile. A stopped node
  // refuses with ErrorKind::State.
  Status pcap_start(const std::string& path);
  Status pcap_attach(std::shared_ptr<PcapngWriter> writer, std::string label);
  Status pcap_stop();
  // core::Node::explain_frame on the loop thread (JSON; nothing sent).
  Result<std::string> explain_frame(uint64_t nwid, ByteSpan frame, bool inbound, proto::Address peer);
  // Runs fn(node, now) on the loop thread and waits.
  void with_node(const std::function<void(core::Node&, int64_t)>& fn);

  // ---- the node's network controller (NodeConfig::controller) ----
  // Replaces it (nullptr: none; NodeConfig::controller_thread applies to the new one). Returns
  // once the old one is no longer called, its controller thread joined (after the call it is
  // in, if any), so the caller may free it. Not from the loop or the controller thread.
  void set_controller(core::NetworkController* c);
  // Runs fn(now) where the controller runs — its controller thread, after the requests queued
  // there (else the loop thread) — and waits. False if it did not run (no controller, node
  // stopped or controller detached meanwhile). From the loop thread it blocks the loop.
  bool controller_call(const std::function<void(int64_t now)>& fn);
  // The same without waiting (false if not queued); without a controller thread it runs on
  // the loop thread and waits.
  bool controller_post(std::function<void(int64_t now)> fn);
  // The controller thread's counters (queue overflow, replies dropped after a detach...),
  // summed over the node's life. Any thread.
  AsyncController::Stats controller_stats() const;
  // Loop-thread only: direct access (e.g. from an event callback).
  core::Node& node_on_loop();

  struct Impl;
  explicit NodeHandle(std::unique_ptr<Impl> impl, Runtime& rt);

 private:
  std::unique_ptr<Impl> impl_;
  Runtime& rt_;
  proto::Address address_ = 0;
  uint16_t port_ = 0;
  friend class Runtime;
};

class Runtime {
 public:
  Runtime();   // starts the loop thread
  ~Runtime();  // stops every node and the thread
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Creates a node: state, identity, sockets; then starts it on the loop thread.
  Result<std::shared_ptr<NodeHandle>> add_node(NodeConfig cfg);
  // Stops a node and closes its sockets (state is kept on disk).
  void remove_node(const std::shared_ptr<NodeHandle>& n);

  // Runs fn on the loop thread and waits for it to finish.
  void call(const std::function<void()>& fn);
  // Runs fn on the loop thread later.
  void post(std::function<void()> fn);
  bool on_loop_thread() const;
  size_t node_count();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  friend class NodeHandle;
};

// Loads the identity from a state store, or generates and saves one (secret 0600).
Result<proto::Identity> load_or_create_identity(StateStore& store);

}  // namespace zt::runtime
