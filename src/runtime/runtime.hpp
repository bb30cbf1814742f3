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
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "core/node.hpp"
#include "runtime/state.hpp"

namespace zt::runtime {

// Milliseconds on the runtime's clock: Unix epoch ms, advancing monotonically.
int64_t now_ms();

enum class WireDirection : int { Received = 0, Sent = 1 };

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
  // A network controller to attach (not owned; must outlive the node).
  core::NetworkController* controller = nullptr;
  // Wire tap: every UDP datagram this node receives (before the core sees it) or sends
  // (after the kernel accepted it; datagrams dropped by a full socket buffer are not
  // reported). Loop thread; `data` valid only during the call; `now` on the runtime clock.
  // Unset = no cost on the datagram paths.
  std::function<void(WireDirection dir, const proto::InetAddress& remote, int64_t now, ByteSpan data)> on_wire;
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
  // core::Node::explain_frame on the loop thread (JSON; nothing sent).
  Result<std::string> explain_frame(uint64_t nwid, ByteSpan frame, bool inbound, proto::Address peer);
  // Runs fn(node, now) on the loop thread and waits.
  void with_node(const std::function<void(core::Node&, int64_t)>& fn);
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
