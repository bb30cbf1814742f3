// The sans-IO core's view of the outside world (STYLE: "everything in through (bytes, now),
// everything out through a Host interface").
//
// A Node never reads a clock, a socket, a file or the OS random source. Time arrives as the
// `now` argument of every Node call (milliseconds, any monotonic-ish epoch; the reference uses
// Unix ms and so do we in the runtime). Everything else goes through a Host the embedder
// implements. Host callbacks are invoked synchronously from inside Node calls, on the
// caller's thread; they must not call back into the same Node.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.hpp"
#include "proto/identity.hpp"
#include "proto/inet_address.hpp"
#include "proto/netconf.hpp"
#include "proto/vl2.hpp"
#include "core/trace.hpp"

namespace zt::core {

using proto::Address;
using proto::InetAddress;

// Persistent objects a node may store (ids as in PROTOCOL.md §11.1).
enum class StateObject : int {
  IdentityPublic = 1,
  IdentitySecret = 2,
  Planet = 3,
  Moon = 4,           // id = world id
  Peer = 5,           // id = address
  NetworkConfig = 6,  // id = nwid
};

enum class EventType : int {
  Up = 0,
  Offline = 1,
  Online = 2,
  Down = 3,
  IdentityCollision = 4,
  Trace = 5,         // why something was dropped or changed: text + Event::trace (TraceInfo)
  UserMessage = 6,
  RemoteTrace = 7,
  PeerDirect = 100,  // ztcore extension: a peer got its first direct path (text = address)
};

struct Event {
  EventType type = EventType::Trace;
  std::string text;         // Trace: reason; others: short description
  Address peer = 0;         // UserMessage/RemoteTrace origin, PeerDirect peer
  uint64_t type_id = 0;     // UserMessage type
  ByteSpan data;            // UserMessage/RemoteTrace payload (valid during the callback)
  // Trace only: the structured record (code, network, frame fields, rule...; core/trace.hpp),
  // valid during the callback. `text` stays the human line.
  const TraceInfo* trace = nullptr;
};

// Virtual network status (ZT_VirtualNetworkStatus, PROTOCOL.md §11.3).
enum class NetworkStatus : int {
  RequestingConfiguration = 0,
  Ok = 1,
  AccessDenied = 2,
  NotFound = 3,
  PortError = 4,
  ClientTooOld = 5,
  AuthenticationRequired = 6,
};
const char* network_status_name(NetworkStatus s);  // "REQUESTING_CONFIGURATION", "OK", ...

// What the host needs to run a virtual port for a joined network (§11.3).
struct NetworkInfo {
  uint64_t nwid = 0;
  proto::Mac mac;                       // our MAC on this network (§4.2)
  std::string name;
  NetworkStatus status = NetworkStatus::RequestingConfiguration;
  bool has_config = false;
  bool is_public = false;
  unsigned mtu = 2800;
  bool broadcast = true;
  unsigned multicast_limit = 0;
  uint64_t revision = 0;
  std::vector<InetAddress> assigned_addresses;  // port field = prefix bits
  std::vector<proto::NetworkRoute> routes;
  std::vector<proto::MulticastGroup> subscriptions;  // the host's + address-resolution groups (§4.3)
  std::string authentication_url;      // when AuthenticationRequired
};

// Port-config operations (ZT_VirtualNetworkConfigOperation).
enum class NetworkOp : int { Up = 1, ConfigUpdate = 2, Down = 3, Destroy = 4 };

class Host {
 public:
  virtual ~Host() = default;

  // Sends one UDP datagram. local_socket = the socket id the core was given with the packet
  // it is answering (-1 = any). ttl 0 = default (2 is used for NAT-opening junk).
  virtual void wire_send(int64_t local_socket, const InetAddress& to, ByteSpan data,
                         unsigned ttl) = 0;
  // Loads a stored object; nullopt if absent.
  virtual std::optional<Bytes> state_get(StateObject type, uint64_t id) = 0;
  // Stores an object; an empty span deletes it.
  virtual void state_put(StateObject type, uint64_t id, ByteSpan data) = 0;
  virtual void event(const Event& e) = 0;
  // Fills `out` with random bytes (cryptographic quality in production; seeded in tests).
  virtual void random(uint8_t* out, size_t n) = 0;
  // Delivers an Ethernet frame from a virtual network (payload without the 14-byte header).
  // Called synchronously from process_wire_packet, or, for frames the core synthesizes while
  // sending (NDP emulation, frames to our own MAC), right after send_frame returns.
  virtual void frame(uint64_t nwid, proto::Mac src, proto::Mac dst, uint16_t ethertype, uint16_t vlan,
                     ByteSpan data) {}
  // A joined network came up, changed config or status, or went away.
  virtual void network_config(uint64_t nwid, NetworkOp op, const NetworkInfo& info) {}
  // May the node use this physical path for this peer? (default: yes)
  virtual bool path_check(Address peer, int64_t local_socket, const InetAddress& addr) {
    return true;
  }
};

}  // namespace zt::core
