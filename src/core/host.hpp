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

#include "base/bytes.hpp"
#include "proto/identity.hpp"
#include "proto/inet_address.hpp"

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
  Trace = 5,         // human-readable text: why something was dropped or changed
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
};

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
  // May the node use this physical path for this peer? (default: yes)
  virtual bool path_check(Address peer, int64_t local_socket, const InetAddress& addr) {
    return true;
  }
};

}  // namespace zt::core
