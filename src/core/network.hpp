// VL2: virtual networks on top of VL1 — join/config (§3.10, §9), the switch for frames
// (§16.2, §16.4), multicast (§16.3), credentials (§3.9, §7.6) and the controller seam (§10).
// Internal to the core; the public surface is Node's VL2 methods. VL2 reaches VL1 only through
// Vl1Port (core/vl1_port.hpp) and the outside world through Host.
//
// One class, five files along its sections: network.cpp (state, membership, dispatch, timers),
// network_config.cpp, network_frames.cpp, network_multicast.cpp, network_trace.cpp (traces and
// REMOTE_TRACE, §15).
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include "core/controller.hpp"
#include "core/membership.hpp"
#include "core/host.hpp"
#include "core/vl1_port.hpp"
#include "proto/netconf.hpp"
#include "proto/vl2.hpp"

namespace zt::core {

// Timers and limits of VL2 (PROTOCOL.md §16.6); reference names where there is one.
namespace vl2_limits {

constexpr int64_t kConfigRetryMs = 60000;          // ZT_NETWORK_AUTOCONF_DELAY
constexpr int64_t kConfigRetryNoConfigMs = 2000;   // re-ask sooner while we have nothing
constexpr int64_t kAnnouncePeriodMs = 60000;       // ZT_MULTICAST_ANNOUNCE_PERIOD
constexpr int64_t kLikeExpireMs = 600000;          // ZT_MULTICAST_LIKE_EXPIRE
constexpr int64_t kGatherDelayMs = 60000;          // ZT_MULTICAST_EXPLICIT_GATHER_DELAY
constexpr int64_t kMulticastTimeoutMs = 5000;      // ZT_MULTICAST_TRANSMIT_TIMEOUT
constexpr int64_t kCredentialMaxAgeMs = 30000;     // ZT_PEER_ACTIVITY_TIMEOUT (SDK value)
constexpr int64_t kCredentialRequestRateMs = 1000; // ZT_PEER_CREDENTIALS_REQUEST_RATE_LIMIT
constexpr int64_t kControllerMemoryMs = 180000;    // 3 × ZT_NETWORK_AUTOCONF_DELAY
constexpr int64_t kRetryFrameMs = 5000;            // ZT_RECEIVE_QUEUE_TIMEOUT
// Credentials held while their signer's identity is looked up (ztcore: the reference drops
// them and waits for the sender to push again; we offer them again when the WHOIS answers).
constexpr int64_t kDeferredCredentialMs = 30000;
constexpr size_t kDeferredCredentialMax = 64;
constexpr int64_t kRetryErrorMs = 500;
constexpr size_t kMaxRetryFrames = 32;
constexpr size_t kMaxPendingPerGroup = 32;
constexpr size_t kChunkMax = 9740;                 // config bytes per chunk (§3.10)
constexpr size_t kConfigCapacity = 400 * 1024;
constexpr size_t kMaxMulticastPayload = 10000;

}  // namespace vl2_limits

struct MemberRecord {
  Membership m;
  int64_t last_pushed = 0;     // our credentials pushed to this member
  int64_t last_like = 0;       // per-member LIKE timer (§16.3.2)
};

struct ChunkSlot {
  uint64_t update_id = 0;
  uint64_t counter = 0;
  std::set<uint64_t> chunk_ids;
  Bytes data;
  uint64_t received = 0;
  uint32_t total = 0;
};

struct Network {
  uint64_t nwid = 0;
  NetworkStatus status = NetworkStatus::RequestingConfiguration;
  std::optional<proto::NetworkConfig> config;
  int64_t config_received_at = 0;
  int64_t last_request = 0;
  bool announced_up = false;
  std::string auth_url;
  std::set<proto::MulticastGroup> subscriptions;  // the host's (multicast_subscribe)
  // Address-resolution groups of the addresses the config assigns us (§4.3): what a host's
  // tap would subscribe for its IPs. Follows the config; kept apart from `subscriptions`.
  std::set<proto::MulticastGroup> address_groups;
  std::map<proto::MulticastGroup, int64_t> bridged_groups;  // "groups behind me"
  std::map<proto::Mac, Address> bridge_routes;
  std::map<Address, MemberRecord> members;
  std::array<ChunkSlot, 3> slots;
  int64_t last_full_announce = 0;

  proto::Mac mac(Address self) const { return proto::Mac::from_address(self, nwid); }
  bool is_bridge(Address a) const;
  bool am_bridge(Address self) const { return is_bridge(self); }
};

struct PendingMulticast {
  int64_t created = 0;
  uint64_t nwid = 0;
  proto::MulticastGroup group;
  std::optional<proto::Mac> source;  // bridged source MAC, else MAC(self)
  uint16_t ethertype = 0;
  Bytes data;
  unsigned limit = 0;
  std::set<Address> sent_to;
};

struct GroupState {
  std::map<Address, int64_t> members;  // address -> last seen
  int64_t last_gather = 0;
  std::deque<PendingMulticast> pending;
};

// An inbound frame packet refused by the gate, retried when credentials arrive (§16.4).
struct RetryFrame {
  Address from;
  Bytes packet;  // decrypted, decompressed packet (header + payload)
  int64_t at;
  int64_t next_error;
};

class Vl2 final : public Vl2Handler, public ControllerSender {
 public:
  Vl2(Host& host, Vl1Port& vl1);

  // Node API
  Status join(int64_t now, uint64_t nwid);
  Status leave(int64_t now, uint64_t nwid);
  std::vector<NetworkInfo> networks() const;
  std::optional<NetworkInfo> network(uint64_t nwid) const;
  // Explains a whole Ethernet frame against the current config (Node::explain_frame).
  Result<std::string> explain(uint64_t nwid, ByteSpan frame, bool inbound, Address peer) const;
  Status send_frame(int64_t now, uint64_t nwid, proto::Mac src, proto::Mac dst, uint16_t ethertype,
                    uint16_t vlan, ByteSpan data);
  Status subscribe(int64_t now, uint64_t nwid, const proto::MulticastGroup& g);
  Status unsubscribe(int64_t now, uint64_t nwid, const proto::MulticastGroup& g);
  void set_controller(NetworkController* c);
  // Frames synthesized during send_frame, delivered after it returns (§16.1.6).
  void flush_local_frames();

  // Vl2Handler
  void on_packet(int64_t now, Address from, const proto::PacketView& pv, const proto::Message& m) override;
  void on_error(int64_t now, Address from, const proto::ErrorMessage& e) override;
  void on_peer_known(int64_t now, Address a) override;
  void on_timer(int64_t now) override;
  void on_remote_trace(int64_t now, Address from, ByteSpan dictionary) override;

  // ControllerSender
  const proto::Identity& controller_identity() const override;
  void send_config(int64_t now, Address dest, uint64_t nwid, uint64_t request_packet_id,
                   const proto::Dictionary& config) override;
  void send_error(int64_t now, Address dest, uint64_t nwid, uint64_t request_packet_id,
                  proto::ErrorCode code, ByteSpan info) override;
  void send_revocation(int64_t now, Address dest, const proto::Revocation& rev) override;

 private:
  Host& host_;
  Vl1Port& vl1_;
  Address self() const;
  std::map<uint64_t, Network> nets_;
  std::map<std::pair<uint64_t, proto::MulticastGroup>, GroupState> groups_;
  std::deque<RetryFrame> retry_;
  NetworkController* controller_ = nullptr;
  std::map<std::pair<uint64_t, Address>, int64_t> configured_;  // controller: recent configs sent
  struct LocalFrame {
    uint64_t nwid;
    proto::Mac src, dst;
    uint16_t ethertype, vlan;
    Bytes data;
  };
  std::vector<LocalFrame> local_frames_;
  int64_t last_timer_ = 0;

  Network* find(uint64_t nwid);
  NetworkInfo info_of(const Network& net) const;
  void notify(Network& net, NetworkOp op);
  const proto::Identity* identity_of(Address a);
  // A local Trace event only (ztcore's informational codes, no network target).
  void trace(uint32_t code, uint64_t nwid, std::string text, std::string reason = {}, Address peer = 0);
  // A Trace event about a network: posted locally (unless `local` is false) and, when the
  // network's config names a remote trace target (`tt`, level `tl`) and the code's §15
  // minimum level is met, sent to it as REMOTE_TRACE (§15, §3.16).
  void trace_net(int64_t now, Network& net, std::string text, const TraceInfo& t, bool local = true);
  // 2003 CREDENTIAL_REJECTED for one credential (§15 keys).
  void trace_credential(int64_t now, Network& net, Address from, const char* what, TraceInfo t);

  // config
  void request_config(int64_t now, Network& net);
  void on_config_chunk(int64_t now, Address from, uint64_t packet_id, const proto::ConfigChunk& c, bool push);
  void apply_config(int64_t now, Network& net, const proto::NetworkConfig& cfg, ByteSpan dict, bool persist);
  void on_config_request(int64_t now, Address from, const proto::PacketView& pv, const proto::NetworkConfigRequest& r);

  // membership
  MemberRecord& member(Network& net, Address a);
  bool gate(int64_t now, Network& net, Address peer);
  void push_credentials(int64_t now, Network& net, Address to, bool force_rate_limited);
  void on_credentials(int64_t now, Address from, const proto::NetworkCredentials& c);
  // `hold`: keep a COM whose signer is unknown and offer it again once the identity arrives.
  // Returns that unknown signer (0 when the COM was not deferred).
  Address offer_com(int64_t now, Network& net, Address from, const proto::CertificateOfMembership& com,
                 bool hold = true);
  // Credentials deferred for an unknown signer (§7.6 "Deferred"): re-offered by
  // on_peer_known when `missing` becomes known, dropped after kDeferredCredentialMs.
  struct DeferredCredentials {
    Address from = 0;
    Address missing = 0;
    int64_t at = 0;
    proto::NetworkCredentials creds;
  };
  std::deque<DeferredCredentials> deferred_;
  void hold_credentials(int64_t now, Address from, Address missing, proto::NetworkCredentials creds);

  // outbound
  void deliver(uint64_t nwid, proto::Mac src, proto::Mac dst, uint16_t ethertype, uint16_t vlan, ByteSpan data);
  bool ndp_emulate(Network& net, proto::Mac src, ByteSpan data);
  void send_multicast(int64_t now, Network& net, Address origin, const proto::MulticastGroup& g,
                      std::optional<proto::Mac> src, uint16_t ethertype, ByteSpan data);
  bool send_multicast_copy(int64_t now, Network& net, PendingMulticast& pm, Address to, unsigned gather_limit);
  void gather(int64_t now, Network& net, const proto::MulticastGroup& g, unsigned limit);
  std::vector<proto::MulticastGroup> announced_groups(const Network& net) const;
  // Replaces the network's address groups with those of its config; announces the new ones.
  void update_address_groups(int64_t now, Network& net);
  // Announces `groups` to every member allowed on the network outside the upstream set.
  void announce_to_members(int64_t now, Network& net, const std::vector<proto::MulticastGroup>& groups);
  std::vector<Address> upstream_set(const Network& net) const;
  void announce(int64_t now, Network& net, const std::vector<proto::MulticastGroup>& groups, Address to);
  void add_group_member(int64_t now, uint64_t nwid, const proto::MulticastGroup& g, Address a);
  proto::GatherResults gather_results(uint64_t nwid, const proto::MulticastGroup& g, Address requester, uint32_t limit);
  bool subscribed_or_behind(const Network* net, const proto::MulticastGroup& g) const;

  // inbound
  // Returns false when the gate refused the frame (caller queues it for retry).
  bool on_frame(int64_t now, Address from, const proto::PacketView& pv, const proto::Frame& f);
  bool on_ext_frame(int64_t now, Address from, const proto::PacketView& pv, const proto::ExtFrame& f);
  bool on_multicast_frame(int64_t now, Address from, const proto::PacketView& pv, const proto::MulticastFrame& f);
  void on_like(int64_t now, Address from, const proto::MulticastLike& l);
  void on_gather(int64_t now, Address from, const proto::PacketView& pv, const proto::MulticastGather& g);
  void need_credentials(int64_t now, Address from, const proto::PacketView& pv, uint64_t nwid);
  bool authorized_for_multicast(int64_t now, uint64_t nwid, Address from);
  bool filter(int64_t now, Network& net, bool inbound, Address zt_src, Address& zt_dst, proto::Mac msrc,
              proto::Mac mdst, uint16_t ethertype, uint16_t vlan, ByteSpan data, bool no_tee, bool* super_accept);
};

}  // namespace zt::core
