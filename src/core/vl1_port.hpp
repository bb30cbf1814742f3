// The seam between the two layers of a node (internal to the core).
//
//   Vl1Port    what VL2 (virtual networks, core/network.hpp) may ask of VL1 (peers, paths,
//              packets, core/vl1.hpp): send a message to an address, WHOIS, look up an identity,
//              the upstreams, our own identity, randomness and traces. Nothing else of VL1 is
//              visible to VL2 (no peers, paths, keys or packet buffers).
//   Vl2Handler what VL1 hands up: every authenticated packet it does not handle itself, the
//              ERRORs about them, newly learned peers and the timer tick.
//
// core::Node owns one Vl1 and one Vl2 side by side and wires them together through these two
// interfaces (node.cpp); neither layer owns or downcasts the other. Both are called only on the
// node's thread, inside a Node call.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "proto/identity.hpp"
#include "proto/packet.hpp"
#include "proto/verbs.hpp"
#include "core/trace.hpp"

namespace zt::core {

using proto::Address;

class Vl1Port {
 public:
  virtual ~Vl1Port() = default;

  // Our identity (with its private key: a node that is a controller signs configs with it).
  virtual const proto::Identity& identity() const = 0;
  // Sends a message to any address through VL1's switch (§16.1.4): to a known, routable peer at
  // once (direct path, else relayed by the best upstream); otherwise queued for a few seconds
  // while the peer's identity is looked up (WHOIS) or a route appears. `expect` (Nop = none)
  // records the request so its OK is matched. Error only when the message cannot be sent at
  // all (larger than the fragments allow).
  virtual Status send_to(int64_t now, Address dest, const proto::Message& m, bool compress,
                         proto::Verb expect = proto::Verb::Nop) = 0;
  // Asks an upstream for `a`'s identity (rate limited; no-op for ourselves).
  virtual void send_whois(int64_t now, Address a) = 0;
  // A known identity: ours for our own address, else a peer's; nullptr when unknown.
  virtual const proto::Identity* identity_of(Address a) const = 0;
  // The upstream VL1 would relay through now (0 = none reachable).
  virtual Address best_upstream_address(int64_t now) = 0;
  // Every upstream address (planet and moon roots), ourselves included if we are one.
  virtual std::vector<Address> upstream_addresses() const = 0;
  // True when this node is itself a root (it then tracks multicast groups for everyone).
  virtual bool is_root() const = 0;
  // Randomness from the host's RNG (the core never reads the OS RNG).
  virtual uint64_t random_u64() = 0;
  // A Trace event (why something was dropped or changed): the human line and its structured
  // record (core/trace.hpp).
  virtual void trace(std::string text, const TraceInfo& info) = 0;
};

class Vl2Handler {
 public:
  virtual ~Vl2Handler() = default;
  // An authenticated, decoded packet VL1 does not handle (frames, multicast, credentials,
  // config, and OKs that answer them). `pv` is the decrypted packet, valid during the call.
  virtual void on_packet(int64_t now, Address from, const proto::PacketView& pv, const proto::Message& m) = 0;
  virtual void on_error(int64_t now, Address from, const proto::ErrorMessage& e) = 0;
  // A peer's identity became known (after WHOIS or its first HELLO).
  virtual void on_peer_known(int64_t now, Address a) = 0;
  // Background tick (from process_background_tasks).
  virtual void on_timer(int64_t now) = 0;
  // A REMOTE_TRACE dictionary received (also posted as an Event): handed to the controller.
  virtual void on_remote_trace(int64_t now, Address from, ByteSpan dictionary) {}
};

}  // namespace zt::core
