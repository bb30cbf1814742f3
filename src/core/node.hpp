// ztcore::core::Node — one ZeroTier node (VL1), sans I/O.
//
// Feed it datagrams with process_wire_packet() and let it run timers with
// process_background_tasks(); both return the time (ms, same clock as `now`) by which
// process_background_tasks() must next be called. Output goes through the Host.
//
// Threading: a Node is single-threaded — the embedder calls it from one thread at a time
// (the runtime gives each node to exactly one event loop). Many nodes per process are fine:
// a Node has no global state.
//
// Errors: bad packets from the network are dropped and counted (Counters) and explained by a
// Trace event; they never throw or abort. API misuse returns a Status error.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "core/controller.hpp"
#include "core/host.hpp"
#include "proto/identity.hpp"
#include "proto/world.hpp"

namespace zt::core {

struct NodeOptions {
  proto::Identity identity;          // required, with private key
  std::optional<proto::World> planet;  // roots; if absent, loaded from state (Planet)
  std::vector<proto::World> moons;     // worlds this node serves or orbits from the start
  bool allow_loopback = false;       // accept/use 127.0.0.0/8 and ::1 paths (reference refuses)
  // Node is ONLINE while an upstream was heard from within this window (ms).
  int64_t online_timeout_ms = 30000;
  // Send heartbeats (ECHO) on a path idle this long (ms) (ZT_PATH_HEARTBEAT_PERIOD).
  int64_t heartbeat_ms = 14000;
  // Physical MTU (UDP payload bytes) for fragmentation.
  size_t phys_mtu = 1432;
};

enum class PeerRole { Leaf = 0, Moon = 1, Planet = 2 };

struct PathInfo {
  InetAddress address;
  int64_t local_socket = -1;
  int64_t last_send = 0;
  int64_t last_receive = 0;
  bool alive = false;
  bool preferred = false;
};

struct PeerInfo {
  Address address = 0;
  PeerRole role = PeerRole::Leaf;
  int protocol_version = -1;  // -1 unknown
  int version_major = -1, version_minor = -1, version_revision = -1;
  int latency_ms = -1;        // -1 unknown
  bool direct = false;        // has an alive direct path
  std::vector<PathInfo> paths;
};

struct NodeStatus {
  Address address = 0;
  std::string public_identity;
  bool online = false;
  uint64_t planet_id = 0;
  uint64_t planet_timestamp = 0;
  std::vector<uint64_t> moons;
};

// Why packets were dropped or handled; all monotonically increasing.
struct Counters {
  uint64_t datagrams_in = 0;
  uint64_t datagrams_out = 0;
  uint64_t packets_in = 0;        // complete, authenticated packets
  uint64_t relayed = 0;           // packets/fragments forwarded for others
  uint64_t dropped_malformed = 0; // unparseable datagrams or payloads
  uint64_t dropped_auth = 0;      // failed MAC / decryption / identity checks
  uint64_t dropped_unknown_peer = 0;  // held for WHOIS then expired, or not relayable
  uint64_t dropped_policy = 0;    // path not allowed, loopback refused, too many hops...
  uint64_t whois_sent = 0;
};

class Node {
 public:
  // Creates a node. Emits UP. The identity must hold its private key and validate.
  static Result<std::unique_ptr<Node>> create(Host& host, NodeOptions opts, int64_t now);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // One received UDP datagram (payload only) from `from`, on socket `local_socket`.
  // The buffer is not retained. Returns the next deadline.
  int64_t process_wire_packet(int64_t now, int64_t local_socket, const InetAddress& from,
                              ByteSpan datagram);
  // Timers: keepalives, WHOIS retries, path expiry. Returns the next deadline.
  int64_t process_background_tasks(int64_t now);

  // Joins a moon: remembers `moon_id` and, when `seed` != 0, contacts that root to fetch it.
  Status orbit(int64_t now, uint64_t moon_id, Address seed);
  Status deorbit(int64_t now, uint64_t moon_id);

  // Sends a USER_MESSAGE (§3.15). Error if dest is self or the payload is too large.
  Status send_user_message(int64_t now, Address dest, uint64_t type_id, ByteSpan data);
  // Sends an ECHO to a peer (for RTT measurement); the reply updates its latency.
  Status ping(int64_t now, Address dest);

  // ---- Virtual networks (VL2) ----
  // Joins a network: requests its config from the controller (nwid >> 24); a cached config
  // (StateObject::NetworkConfig) is used meanwhile. Idempotent.
  Status join(int64_t now, uint64_t nwid);
  // Leaves: forgets the network and its cached config; the host gets NetworkOp::Destroy.
  Status leave(int64_t now, uint64_t nwid);
  std::vector<NetworkInfo> networks() const;
  std::optional<NetworkInfo> network(uint64_t nwid) const;
  // Sends an Ethernet frame (payload without header) on a joined network (§16.2). Error only
  // when the network is not joined or the frame is larger than the network MTU; frames the
  // network refuses (no config yet, foreign source MAC, rules) are dropped with a Trace event.
  Status send_frame(int64_t now, uint64_t nwid, proto::Mac src, proto::Mac dst, uint16_t ethertype,
                    uint16_t vlan, ByteSpan data);
  Status multicast_subscribe(int64_t now, uint64_t nwid, const proto::MulticastGroup& g);
  // Explains how the rules of joined network `nwid` (its current config and what we hold of
  // `peer`'s credentials) decide a whole Ethernet frame (14-byte header first): outbound, we
  // send it to `peer`; inbound, `peer` sent it to us. peer 0 = the member whose MAC the frame
  // carries (destination outbound, source inbound; none for multicast). Returns the JSON of
  // core/rules_explain.hpp explanation_json. Nothing is sent, nothing changes; MATCH_RANDOM
  // is evaluated with draw 0. Errors: NotFound (not joined), State (no config yet),
  // InvalidArgument (frame shorter than its header, peer = self).
  Result<std::string> explain_frame(uint64_t nwid, ByteSpan frame, bool inbound, Address peer) const;
  Status multicast_unsubscribe(int64_t now, uint64_t nwid, const proto::MulticastGroup& g);
  // Attaches a network controller (not owned; must outlive the node or be detached with
  // nullptr). Networks whose ID starts with our address are then served by it. The controller
  // it replaces gets attach(nullptr).
  void set_controller(NetworkController* c);

  Address address() const;
  const proto::Identity& identity() const;
  NodeStatus status(int64_t now) const;
  std::vector<PeerInfo> peers(int64_t now) const;
  std::optional<PeerInfo> peer(int64_t now, Address a) const;
  const Counters& counters() const;
  bool online() const;

  struct Impl;

 private:
  explicit Node(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace zt::core
