// EmbeddedController: the network controller of PROTOCOL.md §10, behind the core's
// NetworkController seam (core/controller.hpp), with its records in a ControllerDb.
//
// Request handling (§10.1 steps 1–16) runs synchronously inside on_request(): rate limit,
// network lookup, identity pinning, authorization, config building (rules, capabilities,
// tags, routes, static IPs from the pools, DNS), COM/COO/Capability/Tag issuance, member save,
// reply. Replies and pushes leave through the ControllerSender after the controller's lock is
// released (so a sender may re-enter the controller). handle() does the I/O-bound steps (rate
// limit, Db reads, identity pinning, save, reply); the pure steps 7–15 are the config
// builder's (config_builder.hpp), address assignment is ip_pool.hpp's.
//
// Threads. The core::NetworkController calls (attach, on_request, on_timer, on_remote_trace)
// arrive on one thread, "the controller thread" below. Hosted by the runtime that is a thread
// of its own (runtime/async_controller.hpp, NodeConfig::controller_thread): the node's loop
// only queues the requests (bounded, 1024) and sends the replies, which the sender it gives
// us marshals back to the loop; so the Db work here (0.3–3 ms a request) never holds up the
// node's traffic. Called straight by a core::Node (controller_thread off, the simulator,
// tests), it is the node's own thread. The sender is only used from the controller thread.
//
// Management (§10.2) — the *_network / *_member methods — may be called from any thread (the
// HTTP API's); they validate, merge and store, and queue the follow-up work (§10.1 step 16:
// config pushes to online members, revocations) that process_pending() performs on the
// controller thread (runtime::NodeHandle::controller_call / controller_post). on_timer() also
// drains that queue, so pushes happen within a timer tick even if the caller never runs
// process_pending() there.
//
// Time: every entry point takes `now` (ms, the node's clock). Randomness is injectable
// (network IDs, revocation IDs, IPv6 pool trials).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "controller/db.hpp"
#include "controller/remote_traces.hpp"
#include "core/controller.hpp"

namespace zt::controller {

struct ControllerOptions {
  // Fills n random bytes; default: the OS source.
  std::function<void(uint8_t*, size_t)> random;
  int64_t rate_limit_ms = 1000;        // §10.1 step 2
  int64_t online_window_ms = 120000;   // §10.1 step 16: "online" = requested within this
  int64_t forget_after_ms = 3600000;   // member state (metadata for pushes) kept this long
  int64_t seen_flush_ms = 5000;        // last-seen batch written to the Db at most this often
  size_t remote_traces_per_network = 1000;  // REMOTE_TRACE dictionaries kept per network
  // One-line notes (a summary of each REMOTE_TRACE received); default: none.
  std::function<void(const std::string&)> log;
};

// Result of a management call, with the HTTP status the API maps it to: 200, 400 (bad
// input), 404 (no such network/member), 500 (storage failure), 503 (not attached yet).
// Errors carry {"error": "..."}.
struct ApiResponse {
  int status = 200;
  json body;
  static ApiResponse error(int status, const std::string& message) {
    return {status, json{{"error", message}}};
  }
  bool ok() const { return status >= 200 && status < 300; }
};

class EmbeddedController : public core::NetworkController {
 public:
  // `db` must outlive the controller: the destructor writes the last-seen batch.
  explicit EmbeddedController(ControllerDb& db, ControllerOptions opts = {});
  ~EmbeddedController() override;
  EmbeddedController(const EmbeddedController&) = delete;
  EmbeddedController& operator=(const EmbeddedController&) = delete;

  // ---- core::NetworkController (the controller thread) ---------------------------------------
  void attach(core::ControllerSender* sender) override;
  void on_request(int64_t now, const core::ConfigRequest& req) override;
  void on_timer(int64_t now) override;
  // REMOTE_TRACE from a member (§15): kept (last N per network of this controller, memory
  // only) and summarized through ControllerOptions::log.
  void on_remote_trace(int64_t now, proto::Address origin, ByteSpan dictionary) override;
  // The REMOTE_TRACE dictionaries received for a network, decoded (GET .../<nwid>/trace).
  // Any thread.
  json remote_traces(uint64_t nwid) const { return traces_.list(nwid); }

  // The controller's address (0 until attached). Any thread.
  proto::Address address() const { return address_.load(); }
  ControllerDb& db() { return db_; }

  // ---- management (§10.2), any thread -------------------------------------------------------
  ApiResponse list_networks();
  ApiResponse get_network(uint64_t nwid);
  // Creates (defaults + body) or merges into an existing network. 400 if the nwid does not
  // belong to this controller.
  ApiResponse write_network(int64_t now, uint64_t nwid, const json& body);
  // Creates a network with a random number (low 24 bits, never 0) under this controller's
  // address. 503 before attach().
  ApiResponse create_network(int64_t now, const json& body);
  ApiResponse delete_network(int64_t now, uint64_t nwid);
  ApiResponse list_members(uint64_t nwid);  // {address: revision}
  ApiResponse get_member(uint64_t nwid, proto::Address a);
  // Creates (if the network exists) or merges into a member.
  ApiResponse write_member(int64_t now, uint64_t nwid, proto::Address a, const json& body);
  ApiResponse delete_member(int64_t now, uint64_t nwid, proto::Address a);

  // A change another controller process wrote to a shared Db (ControllerDb change listener,
  // any thread): queues the same follow-up work as a local management write would, for the
  // networks this controller owns. The caller then runs process_pending() on the controller
  // thread (or on_timer() picks it up).
  // Returns true if work was queued (the network is this controller's).
  bool apply_external_change(const DbChange& change);

  // Writes the batched last-seen records now (on_timer does it every seen_flush_ms).
  void flush_seen();

  // Controller thread: performs the pushes and revocations queued by management writes.
  void process_pending(int64_t now);
  bool has_pending() const;

  // Members whose last accepted request is within the online window (controller-thread view).
  std::vector<proto::Address> online_members(int64_t now, uint64_t nwid) const;
  // When each member of the network last sent an accepted config request (ms; members not
  // heard from since this controller started, or forgotten, are absent). Not stored.
  std::map<proto::Address, int64_t> last_seen(uint64_t nwid) const;

 private:
  struct MemberState {
    bool has_request = false;
    int64_t last_request = 0;  // last accepted genuine request
    int64_t last_seen = 0;
    std::optional<proto::InetAddress> physical;
    bool has_metadata = false;  // identity + metadata remembered for pushes (step 9)
    proto::Identity identity;
    Bytes metadata;
  };
  struct Outgoing;
  struct Pending {
    enum class Kind { NetworkChanged, MemberChanged, MemberDeauthorized, NetworkDeleted } kind;
    uint64_t nwid = 0;
    proto::Address member = 0;
    std::vector<proto::Address> members;  // NetworkDeleted
    bool operator==(const Pending&) const = default;
  };
  struct Request {
    uint64_t nwid = 0;
    proto::Identity requester;
    ByteSpan metadata;
    std::optional<proto::InetAddress> from;
    uint64_t packet_id = 0;
    bool push = false;  // re-run for a push (step 16), not a request from the member
  };

  // All of these run with mu_ held.
  void handle(int64_t now, const Request& req, std::vector<Outgoing>& out);
  void run_pending(int64_t now, std::vector<Outgoing>& out);
  void push_to(int64_t now, uint64_t nwid, proto::Address a, std::vector<Outgoing>& out);
  void revoke(int64_t now, uint64_t nwid, proto::Address target, std::vector<Outgoing>& out);
  void save_member(json& m);
  bool online(const MemberState& st, int64_t now) const;
  ApiResponse write_network_locked(int64_t now, uint64_t nwid, const json& body);
  uint32_t random32();
  // Sends (mu_ not held).
  void flush(int64_t now, std::vector<Outgoing>& out);

  ControllerDb& db_;
  ControllerOptions opts_;
  RemoteTraceStore traces_;
  core::ControllerSender* sender_ = nullptr;
  std::atomic<proto::Address> address_{0};

  mutable std::mutex mu_;
  std::map<std::pair<uint64_t, proto::Address>, MemberState> members_;
  std::vector<Pending> pending_;
  std::vector<SeenRecord> seen_;  // genuine requests since the last flush
  int64_t last_seen_flush_ = 0;
  bool restored_ = false;  // online members read back from the Db (first on_timer)
  void restore_online(int64_t now);
};

}  // namespace zt::controller
