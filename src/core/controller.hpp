// The seam between a node and a network controller (PROTOCOL.md §10.1).
//
// The core defines this interface; src/controller implements it (SQLite storage, HTTP API).
// A node with a controller attached answers NETWORK_CONFIG_REQUEST for networks whose ID
// starts with its address; without one it answers ERROR(UNSUPPORTED_OPERATION).
//
// Threading: the node calls NetworkController on its thread, and ControllerSender must be
// called on that thread. A controller whose own threads (HTTP API) need to push configs must
// marshal onto the node thread before calling ControllerSender. The runtime puts an adapter
// in between by default (runtime/async_controller.hpp): it queues the node's calls to one
// controller thread, which calls the real controller, and marshals the sends back to the
// node's thread; the controller then sees every call on that controller thread.
#pragma once

#include <cstdint>
#include <optional>

#include "base/bytes.hpp"
#include "proto/credentials.hpp"
#include "proto/dictionary.hpp"
#include "proto/identity.hpp"
#include "proto/inet_address.hpp"
#include "proto/packet.hpp"

namespace zt::core {

struct ConfigRequest {
  uint64_t nwid = 0;
  proto::Identity requester;            // public identity of the member
  Bytes metadata;                       // request metadata dictionary (§3.10), text
  std::optional<proto::InetAddress> from;  // physical address when the request came direct
  uint64_t packet_id = 0;               // request packet ID; 0 = internal push
};

// Implemented by the node: how a controller answers.
class ControllerSender {
 public:
  virtual ~ControllerSender() = default;
  // The controller's identity (= the node's), with its secret key, for signing credentials.
  virtual const proto::Identity& controller_identity() const = 0;
  // Sends a config dictionary to `dest`, cut into signed chunks (§3.10): as
  // OK(NETWORK_CONFIG_REQUEST) in reply to `request_packet_id`, or as a NETWORK_CONFIG push
  // when it is 0. A config for the node itself is applied locally.
  virtual void send_config(int64_t now, proto::Address dest, uint64_t nwid,
                           uint64_t request_packet_id, const proto::Dictionary& config) = 0;
  // ERROR(in re NETWORK_CONFIG_REQUEST) with [8] nwid (+ [2] len + info dictionary when given).
  // Nothing is sent for a push (request_packet_id 0).
  virtual void send_error(int64_t now, proto::Address dest, uint64_t nwid, uint64_t request_packet_id,
                          proto::ErrorCode code, ByteSpan info = {}) = 0;
  // NETWORK_CREDENTIALS holding one revocation (§7.5, §10.1 step 16).
  virtual void send_revocation(int64_t now, proto::Address dest, const proto::Revocation& rev) = 0;
};

// Implemented by src/controller.
class NetworkController {
 public:
  virtual ~NetworkController() = default;
  // Called when attached to a node (Node::set_controller), and with nullptr when detached
  // (set_controller(nullptr) or another controller): after that it must not use the sender.
  virtual void attach(ControllerSender* sender) = 0;
  // A config request for a network whose controller address is this node's.
  virtual void on_request(int64_t now, const ConfigRequest& req) = 0;
  // Periodic housekeeping (about once a second).
  virtual void on_timer(int64_t now) {}
  // A REMOTE_TRACE dictionary (§3.16, §15; without its NUL, 1..10,000 bytes, unparsed) the
  // node received from `origin`: members send these to the trace target their config names.
  virtual void on_remote_trace(int64_t now, proto::Address origin, ByteSpan dictionary) {}
};

}  // namespace zt::core
