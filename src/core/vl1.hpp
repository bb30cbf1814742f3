// VL1 of a node: peers, paths, packets (internal to the core; core::Node owns one).
// VL2 sees it only through Vl1Port and is reached through Vl2Handler (core/vl1_port.hpp).
#pragma once

#include <array>
#include <deque>
#include <map>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/node.hpp"
#include "core/vl1_port.hpp"
#include "proto/fragment.hpp"
#include "proto/packet.hpp"
#include "proto/verbs.hpp"

namespace zt::core {

struct Path {
  InetAddress address;
  int64_t local_socket = -1;
  int64_t last_send = 0;
  int64_t last_receive = 0;
};

struct Peer {
  Peer(proto::Identity id, const crypto::SymmetricKey& k) : identity(std::move(id)), key(k) {}
  proto::Identity identity;
  proto::PeerKey key;
  PeerRole role = PeerRole::Leaf;
  int protocol_version = -1;
  int version_major = -1, version_minor = -1, version_revision = -1;
  int latency_ms = -1;
  int64_t created = 0;
  int64_t last_receive = 0;
  int64_t last_hello_sent = 0;
  std::vector<Path> paths;
  // Unknown physical addresses the peer spoke to us from directly, which we are confirming
  // with HELLOs (§5.3 path learning) until an OK arrives on them.
  struct PathConfirm {
    int64_t local_socket = -1;
    int64_t last_heard = 0;  // last authenticated packet from there
    int64_t last_sent = 0;   // last confirming HELLO
    unsigned retries = 0;    // background retries since last_heard
  };
  std::map<InetAddress, PathConfirm> confirm_attempts;

  Path* find_path(int64_t local_socket, const InetAddress& a);
  Path* best_path(int64_t now, int64_t alive_ms);
  Path* latest_path();  // most recently heard path, alive or not (nullptr if none)
};

class Vl1 final : public Vl1Port {
 public:
  Vl1(Host& h, NodeOptions o);
  // Connects the VL2 layer (not owned) before start().
  void attach(Vl2Handler* v) { vl2 = v; }
  Status start(int64_t now);

  // Vl1Port (what VL2 may use)
  const proto::Identity& identity() const override { return self; }
  Status send_to(int64_t now, Address dest, const proto::Message& m, bool compress,
                 proto::Verb expect = proto::Verb::Nop) override;
  void send_whois(int64_t now, Address target) override;
  const proto::Identity* identity_of(Address a) const override;
  Address best_upstream_address(int64_t now) override;
  std::vector<Address> upstream_addresses() const override;
  bool is_root() const override { return am_upstream; }
  uint64_t random_u64() override;
  void trace(std::string text, const TraceInfo& info) override;
  // A VL1 trace not about a frame: code, remote node, §15 reason.
  void trace(uint32_t code, std::string text, Address peer = 0, std::string reason = {});

  // topology
  void rebuild_upstreams(int64_t now);
  PeerRole role_of(Address a) const;
  bool is_upstream(Address a) const;
  Peer* find_peer(Address a);
  Peer* learn_peer(int64_t now, const proto::Identity& id, PeerRole role);
  // Best upstream to relay through: one with an alive path (most recently heard), else one
  // with any path. Never `exclude` or ourselves.
  Peer* best_upstream(int64_t now, Address exclude);
  // Where a packet to `peer` would go now (its alive direct path, else the best upstream's
  // path); nullptr = no route.
  Path* route(int64_t now, Peer& peer);
  bool path_allowed(Address peer, int64_t local_socket, const InetAddress& a) const;
  int64_t path_alive_ms() const;
  bool has_moon(uint64_t id) const;
  // Node::orbit / Node::deorbit.
  Status orbit(int64_t now, uint64_t moon_id, Address seed);
  Status deorbit(int64_t now, uint64_t moon_id);

  // sending
  // Random 64-bit values from the host's RNG, fetched 32 at a time (one host.random() call per
  // 32 packets instead of one per packet; the sequence of values is unchanged).
  std::array<uint64_t, 32> random_pool{};
  size_t random_used = 32;
  void raw_send(int64_t local_socket, const InetAddress& to, ByteSpan data, unsigned ttl);
  uint64_t armor_and_send(int64_t now, Peer& peer, MutByteSpan pkt, proto::Cipher cipher,
                          int64_t local_socket, const InetAddress* to, proto::Verb expect);
  proto::Cipher cipher_for(const Peer& p) const;
  // Encodes and sends a message to a known peer; returns the post-armor packet ID (0 = not sent).
  uint64_t send_message(int64_t now, Peer& peer, const proto::Message& m, bool compress,
                        proto::Verb expect, int64_t local_socket = -1, const InetAddress* to = nullptr);
  // Same with an already-encoded payload.
  uint64_t send_payload(int64_t now, Peer& peer, proto::Verb verb, ByteSpan payload, bool compress,
                        proto::Verb expect, int64_t local_socket = -1, const InetAddress* to = nullptr);
  uint64_t finish_and_send(int64_t now, Peer& peer, Writer& w, bool compress, proto::Verb expect,
                           int64_t local_socket, const InetAddress* to);
  // The outgoing packet buffer, owned by the node and reused for every packet it builds, so
  // the send path allocates nothing once the buffer has grown to the largest packet sent (it
  // grows lazily: an idle node's stays at HELLO size). A lease hands it out; a nested lease
  // while it is in use (none exists today) gets a fresh Writer instead of corrupting it.
  Writer tx;
  bool tx_busy = false;
  class TxLease {
   public:
    explicit TxLease(Vl1& n);
    ~TxLease();
    TxLease(const TxLease&) = delete;
    TxLease& operator=(const TxLease&) = delete;
    Writer& writer() { return w_; }

   private:
    Vl1* owner_;  // nullptr: w_ is the fallback
    Writer fallback_;
    Writer& w_;
  };
  uint64_t send_hello(int64_t now, Peer& peer, int64_t local_socket, const InetAddress* to);

  // receiving
  int64_t receive(int64_t now, int64_t local_socket, const InetAddress& from, ByteSpan datagram);
  void relay(int64_t now, int64_t local_socket, const InetAddress& from, ByteSpan d, bool fragment);
  void maybe_unite(int64_t now, Address a, Address b);
  void handle_packet(int64_t now, int64_t local_socket, const InetAddress& from, ByteSpan packet);
  void handle_hello(int64_t now, int64_t local_socket, const InetAddress& from, MutByteSpan pkt);
  void note_direct_receive(int64_t now, Peer& peer, int64_t local_socket, const InetAddress& from,
                           const proto::PacketView& pv);
  void learn_path(int64_t now, Peer& peer, int64_t local_socket, const InetAddress& from);
  void hold_for_whois(int64_t now, int64_t local_socket, const InetAddress& from, ByteSpan packet);
  void dispatch(int64_t now, Peer& peer, int64_t local_socket, const InetAddress& from,
                const proto::PacketView& pv);
  void on_ok(int64_t now, Peer& peer, int64_t local_socket, const InetAddress& from,
             const proto::PacketView& pv, const proto::OkMessage& ok);
  void on_error(int64_t now, Peer& peer, const proto::ErrorMessage& e);
  void on_whois(int64_t now, Peer& peer, int64_t local_socket, const InetAddress& from,
                const proto::PacketView& pv, const proto::Whois& w);
  void on_rendezvous(int64_t now, Peer& from_peer, const proto::Rendezvous& r);
  void on_push_direct_paths(int64_t now, Peer& peer, const proto::PushDirectPaths& pdp);
  void on_peer_known(int64_t now, Peer& p);
  // Re-runs packets on_peer_known released (called at the top level, never while a packet in
  // `buf` is still being handled).
  void drain_replay(int64_t now);
  // Sends queued outbound messages whose peer is known and routable now.
  void flush_pending(int64_t now);
  void send_identity_collision(int64_t now, const proto::Identity& claimed, int64_t local_socket,
                               const InetAddress& from, const proto::PacketView& hello);
  void accept_worlds(int64_t now, Peer& from, const std::vector<proto::World>& worlds);

  // timers
  void update_online(int64_t now);
  void process_background(int64_t now);
  int64_t next_deadline(int64_t now) const;

  Host& host;
  NodeOptions opts;
  proto::Identity self;
  proto::World planet;
  std::vector<proto::World> moons;
  struct Orbit {
    uint64_t id;
    Address seed;
    int64_t next_try = 0;  // next HELLO/WHOIS to the seed while the moon is missing
  };
  std::vector<Orbit> orbits;
  struct Upstream {
    Address address = 0;
    PeerRole role = PeerRole::Planet;
    std::vector<InetAddress> endpoints;
    int64_t next_try = 0;
    int64_t retry_ms = 0;
  };
  std::vector<Upstream> upstreams;
  bool am_upstream = false;
  bool online = false;

  std::unordered_map<Address, std::unique_ptr<Peer>> peers;
  proto::Defragmenter defrag;
  Bytes buf;  // receive scratch (kMaxPacketSize)

  struct Held {
    Bytes packet;
    int64_t local_socket;
    InetAddress from;
    int64_t at;
    Address source;
  };
  std::deque<Held> held;  // inbound packets waiting for their sender's identity
  std::deque<Held> replay;  // held packets whose sender became known, to re-run
  struct PendingOut {
    Address dest;
    proto::Verb verb;
    Bytes payload;
    int64_t at;
    bool compress;
    proto::Verb expect;
  };
  std::deque<PendingOut> pending_out;  // outbound messages waiting for a WHOIS or a route
  struct Expect {
    Address peer;
    proto::Verb verb;
    int64_t at;
  };
  std::unordered_map<uint64_t, Expect> expecting;  // post-armor packet ID -> request
  std::unordered_map<Address, int64_t> whois_last;
  std::map<InetAddress, int64_t> identity_checks;
  std::unordered_map<uint64_t, int64_t> last_unite;
  std::unordered_map<Address, std::pair<int64_t, unsigned>> pdp_window;
  Counters counters;
  Vl2Handler* vl2 = nullptr;  // the node's VL2 layer (owned by the Node, beside this one)
};

}  // namespace zt::core
