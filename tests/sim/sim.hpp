// Deterministic in-memory network simulator for the sans-IO core (STYLE: "a seeded simulator
// where an hour of outage runs in milliseconds").
//
// A Sim owns N nodes, each with a SimHost (core::Host) and an underlay address 10.0.0.<n>/9993
// that exists only here: wire_send() enqueues a delivery at now + link latency (+ jitter,
// + reordering delay) to the node owning the destination address; loss and duplication are
// drawn per datagram. Time is virtual (int64 ms, starting at kEpochMs); the loop pops the
// earliest of (pending deliveries, node deadlines) and calls process_wire_packet or
// process_background_tasks. Every random choice — link behaviour and each node's Host::random —
// comes from std::mt19937_64 seeded from the Sim seed, so a run is reproducible bit for bit.
//
// VL2: a SimHost also records the frames the core hands to Host::frame, every network_config
// callback (and the latest NetworkInfo per network), and trace events. A node may carry a real
// controller::EmbeddedController over a MemoryControllerDb (attach_controller); management
// writes (write_network / write_member) are followed by process_pending(now) on that node,
// which is just a call here since every node runs on the test's thread.
//
// Nothing here touches a socket or the wall clock. Header-only; include from a test.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "controller/embedded_controller.hpp"
#include "core/node.hpp"
#include "proto/identity.hpp"
#include "proto/world.hpp"

namespace zt::sim {

using core::Address;
using core::EventType;
using proto::InetAddress;

// Virtual time starts at a realistic Unix-ms value so "0 = never" sentinels cannot hide bugs.
constexpr int64_t kEpochMs = 1'700'000'000'000;
constexpr uint16_t kPort = 9993;

// Behaviour of one direction of a link.
struct Link {
  int64_t latency_ms = 5;
  int64_t jitter_ms = 0;      // uniform extra delay in [0, jitter_ms]
  double loss = 0;            // probability a datagram is lost
  double duplicate = 0;       // probability a datagram is delivered twice
  double reorder = 0;         // probability a datagram is held back by reorder_ms extra
  int64_t reorder_ms = 40;
  bool up = true;             // false: everything is lost
};

// One datagram in flight (or captured).
struct Datagram {
  int64_t sent_at = 0;
  int64_t deliver_at = 0;
  size_t from_node = SIZE_MAX;
  size_t to_node = SIZE_MAX;  // SIZE_MAX: nobody owns the destination address
  InetAddress from;
  InetAddress to;
  Bytes data;
  unsigned ttl = 0;
  bool duplicate = false;  // the extra copy made by Link::duplicate
  uint8_t hops() const {  // hops of a head or fragment (§2.1, §2.3)
    if (data.size() > 16 && data[13] == 0xff) return data[15] & 7;
    return data.size() >= 28 ? data[18] & 7 : 0;
  }
  Address dest() const {
    return data.size() >= 13 ? load_be(data.data() + 8, 5) : 0;
  }
  Address source() const {  // heads only
    return data.size() >= 28 && data[13] != 0xff ? load_be(data.data() + 13, 5) : 0;
  }
};

struct RecordedEvent {
  int64_t at = 0;
  EventType type = EventType::Trace;
  std::string text;
  Address peer = 0;
  uint64_t type_id = 0;
  Bytes data;
  // Trace: the structured record, with its pointers cleared (frame_head holds the frame bytes).
  std::optional<core::TraceInfo> trace;
  Bytes frame_head;
};

// A frame handed to Host::frame.
struct RecordedFrame {
  int64_t at = 0;
  uint64_t nwid = 0;
  proto::Mac src, dst;
  uint16_t ethertype = 0;
  uint16_t vlan = 0;
  Bytes data;
  std::string text() const { return std::string(data.begin(), data.end()); }
};

// A Host::network_config callback.
struct RecordedNetworkEvent {
  int64_t at = 0;
  uint64_t nwid = 0;
  core::NetworkOp op = core::NetworkOp::Up;
  core::NetworkInfo info;
};

class Sim;

class SimHost : public core::Host {
 public:
  SimHost(Sim& sim, size_t index, uint64_t seed) : sim_(sim), index_(index), rng_(seed) {}

  void wire_send(int64_t local_socket, const InetAddress& to, ByteSpan data, unsigned ttl) override;
  std::optional<Bytes> state_get(core::StateObject type, uint64_t id) override {
    auto it = state.find({int(type), id});
    if (it == state.end()) return std::nullopt;
    return it->second;
  }
  void state_put(core::StateObject type, uint64_t id, ByteSpan data) override {
    if (data.empty()) state.erase({int(type), id});
    else state[{int(type), id}] = Bytes(data.begin(), data.end());
  }
  void event(const core::Event& e) override;
  void random(uint8_t* out, size_t n) override {
    for (size_t i = 0; i < n; ++i) out[i] = uint8_t(rng_());
  }
  bool path_check(Address peer, int64_t local_socket, const InetAddress& addr) override {
    return path_filter ? path_filter(peer, addr) : true;
  }
  void frame(uint64_t nwid, proto::Mac src, proto::Mac dst, uint16_t ethertype, uint16_t vlan,
             ByteSpan data) override;
  void network_config(uint64_t nwid, core::NetworkOp op, const core::NetworkInfo& info) override;

  // Frames delivered on nwid whose payload equals `text` (all networks when nwid is 0).
  size_t frames_with(const std::string& text, uint64_t nwid = 0) const {
    return size_t(std::count_if(frames.begin(), frames.end(), [&](const RecordedFrame& f) {
      return (nwid == 0 || f.nwid == nwid) && f.text() == text;
    }));
  }
  // Latest NetworkInfo reported for nwid (nullopt before any callback, or after Destroy).
  std::optional<core::NetworkInfo> info(uint64_t nwid) const {
    auto it = networks.find(nwid);
    if (it == networks.end()) return std::nullopt;
    return it->second;
  }
  // Trace events containing `needle`.
  size_t traces_with(const std::string& needle) const {
    return size_t(std::count_if(events.begin(), events.end(), [&](const RecordedEvent& e) {
      return e.type == EventType::Trace && e.text.find(needle) != std::string::npos;
    }));
  }

  size_t count(EventType t) const {
    return size_t(std::count_if(events.begin(), events.end(), [&](const RecordedEvent& e) { return e.type == t; }));
  }
  std::vector<RecordedEvent> of_type(EventType t) const {
    std::vector<RecordedEvent> out;
    for (const auto& e : events)
      if (e.type == t) out.push_back(e);
    return out;
  }
  // Time of the first event of type t at or after `since` (nullopt if none).
  std::optional<int64_t> first(EventType t, int64_t since = 0) const {
    for (const auto& e : events)
      if (e.type == t && e.at >= since) return e.at;
    return std::nullopt;
  }

  std::vector<RecordedEvent> events;
  std::vector<RecordedFrame> frames;
  std::vector<RecordedNetworkEvent> network_events;
  std::map<uint64_t, core::NetworkInfo> networks;  // latest info per joined network
  // Called for every delivered frame, after it is recorded (a test's "tap"). It runs inside
  // a Node call, so it must not call back into the node; queue replies instead.
  std::function<void(const RecordedFrame&)> on_frame;
  std::map<std::pair<int, uint64_t>, Bytes> state;
  std::function<bool(Address, const InetAddress&)> path_filter;
  bool keep_traces = true;

 private:
  Sim& sim_;
  size_t index_;
  std::mt19937_64 rng_;
};

struct SimNode {
  std::string name;
  proto::Identity identity;
  InetAddress address;
  core::NodeOptions options;
  std::unique_ptr<SimHost> host;
  // Optional embedded controller (declared before `node`, so the node dies first).
  std::unique_ptr<controller::MemoryControllerDb> controller_db;
  std::unique_ptr<controller::EmbeddedController> controller;
  std::unique_ptr<core::Node> node;  // null while stopped
  int64_t deadline = std::numeric_limits<int64_t>::max();
};

class Sim {
 public:
  explicit Sim(uint64_t seed) : seed_(seed), rng_(seed) {
    // ZTCORE_SIM_TRACE=1: print every node event as it happens (debugging aid).
    const char* t = std::getenv("ZTCORE_SIM_TRACE");
    verbose = t && *t && *t != '0';
  }
  bool verbose = false;

  int64_t now() const { return now_; }
  int64_t elapsed() const { return now_ - kEpochMs; }
  size_t size() const { return nodes_.size(); }

  static InetAddress underlay(size_t index) {
    return InetAddress::v4(uint32_t(0x0a000000u + uint32_t(index) + 1), kPort);  // 10.0.0.<index+1>
  }

  // Adds a node (not started) at 10.0.0.<index+1>/9993; returns its index.
  size_t add(std::string name, proto::Identity id) {
    SimNode n;
    n.name = std::move(name);
    n.identity = std::move(id);
    n.address = underlay(nodes_.size());
    n.host = std::make_unique<SimHost>(*this, nodes_.size(), seed_ * 0x9e3779b97f4a7c15ull + nodes_.size() + 1);
    nodes_.push_back(std::move(n));
    return nodes_.size() - 1;
  }

  // Creates the Node with these options (identity taken from the SimNode). Fails the run
  // (returns false) if Node::create fails.
  bool start(size_t i, core::NodeOptions opts) {
    SimNode& n = nodes_.at(i);
    opts.identity = n.identity;
    n.options = opts;
    auto r = core::Node::create(*n.host, std::move(opts), now_);
    if (!r.ok()) {
      last_error = r.error();
      return false;
    }
    n.node = std::move(*r);
    if (n.controller) n.node->set_controller(n.controller.get());
    n.deadline = now_;
    return true;
  }

  // Gives node i a controller::EmbeddedController over a fresh MemoryControllerDb, seeded from
  // the Sim seed; attached now if the node runs, else when it starts. Returns it.
  controller::EmbeddedController& attach_controller(size_t i) {
    SimNode& n = nodes_.at(i);
    if (!n.controller) {
      n.controller_db = std::make_unique<controller::MemoryControllerDb>();
      controller::ControllerOptions o;
      auto rng = std::make_shared<std::mt19937_64>(seed_ * 0x2545f4914f6cdd1dull + i + 7);
      o.random = [rng](uint8_t* p, size_t len) {
        for (size_t k = 0; k < len; ++k) p[k] = uint8_t((*rng)());
      };
      n.controller = std::make_unique<controller::EmbeddedController>(*n.controller_db, o);
    }
    if (n.node) n.node->set_controller(n.controller.get());
    return *n.controller;
  }
  controller::EmbeddedController& controller(size_t i) { return *nodes_.at(i).controller; }
  // Performs the pushes/revocations queued by management writes, on node i "thread".
  void process_pending(size_t i) {
    nodes_.at(i).controller->process_pending(now_);
    poke(i);
  }

  // VL2 conveniences: the call, at sim.now(), followed by poke().
  Status join(size_t i, uint64_t nwid) {
    auto st = node(i).join(now_, nwid);
    poke(i);
    return st;
  }
  Status leave(size_t i, uint64_t nwid) {
    auto st = node(i).leave(now_, nwid);
    poke(i);
    return st;
  }
  Status send_frame(size_t i, uint64_t nwid, proto::Mac src, proto::Mac dst, uint16_t ethertype, ByteSpan data,
                    uint16_t vlan = 0) {
    auto st = node(i).send_frame(now_, nwid, src, dst, ethertype, vlan, data);
    poke(i);
    return st;
  }
  proto::Mac mac(size_t i, uint64_t nwid) const { return proto::Mac::from_address(address(i), nwid); }
  // Destroys the node; its host (state, events) survives. In-flight datagrams to it are lost.
  void stop(size_t i) {
    nodes_.at(i).node.reset();
    nodes_.at(i).deadline = std::numeric_limits<int64_t>::max();
  }
  // Recreates the node with its original options and the state its host kept.
  bool restart(size_t i) {
    stop(i);
    return start(i, nodes_.at(i).options);
  }
  // Asks for a background pass as soon as possible (after an API call changed node state).
  void poke(size_t i) { nodes_.at(i).deadline = std::min(nodes_.at(i).deadline, now_); }

  SimNode& at(size_t i) { return nodes_.at(i); }
  core::Node& node(size_t i) { return *nodes_.at(i).node; }
  SimHost& host(size_t i) { return *nodes_.at(i).host; }
  Address address(size_t i) const { return nodes_.at(i).identity.address(); }

  // Link behaviour: per direction, created from default_link on first use.
  Link default_link;
  Link& link(size_t from, size_t to) {
    auto it = links_.find({from, to});
    if (it == links_.end()) it = links_.emplace(std::pair{from, to}, default_link).first;
    return it->second;
  }
  void set_link(size_t a, size_t b, const Link& l) {
    link(a, b) = l;
    link(b, a) = l;
  }
  void set_up(size_t a, size_t b, bool up) {
    link(a, b).up = up;
    link(b, a).up = up;
  }
  // Cuts (or restores) every link of node i.
  void isolate(size_t i, bool cut) {
    for (size_t j = 0; j < nodes_.size(); ++j)
      if (j != i) set_up(i, j, !cut);
  }

  // Called for every datagram a node sends, before loss is drawn; return false to drop it.
  // May modify the datagram.
  std::function<bool(Datagram&)> on_send;
  // When true, every sent datagram is appended to `captured` (before on_send).
  bool capture = false;
  std::vector<Datagram> captured;
  // Every datagram handed to a node, in delivery order (when capture is true).
  std::vector<Datagram> delivered_log;

  struct Stats {
    uint64_t sent = 0, delivered = 0, lost = 0, duplicated = 0, undeliverable = 0, filtered = 0;
  } stats;
  // Duplicate copies (Link::duplicate) handed to each node, including duplicates a relay
  // forwarded: an upper bound on the extra deliveries the wire, not the core, is responsible for.
  std::map<size_t, uint64_t> dup_delivered;
  std::string last_error;

  // Delivers `data` to node `to` as if sent from `from`, after `delay` ms.
  void inject(size_t to, const InetAddress& from, ByteSpan data, int64_t delay = 0) {
    Datagram d;
    d.sent_at = now_;
    d.deliver_at = now_ + delay;
    d.to_node = to;
    d.from = from;
    d.to = nodes_.at(to).address;
    d.data.assign(data.begin(), data.end());
    push(std::move(d));
  }

  // Advances virtual time by processing one event (a delivery or a node's timer), if one is
  // due at or before `limit`; otherwise sets now to `limit` and returns false.
  bool step(int64_t limit) {
    int64_t t = queue_.empty() ? std::numeric_limits<int64_t>::max() : queue_.top().d.deliver_at;
    size_t timer_node = SIZE_MAX;
    for (size_t i = 0; i < nodes_.size(); ++i)
      if (nodes_[i].node && nodes_[i].deadline < t) {
        t = nodes_[i].deadline;
        timer_node = i;
      }
    if (t > limit) {
      now_ = std::max(now_, limit);
      return false;
    }
    now_ = std::max(now_, t);
    if (timer_node != SIZE_MAX) {
      SimNode& n = nodes_[timer_node];
      int64_t next = n.node->process_background_tasks(now_);
      n.deadline = std::max(next, now_ + 1);
      return true;
    }
    Datagram d = queue_.top().d;
    queue_.pop();
    SimNode& n = nodes_[d.to_node];
    if (!n.node) {
      ++stats.undeliverable;
      return true;
    }
    ++stats.delivered;
    if (d.duplicate) {
      ++dup_delivered[d.to_node];
      relayed_dups_.insert({d.to_node, relay_key(d.data)});
    }
    if (capture) delivered_log.push_back(d);
    int64_t next = n.node->process_wire_packet(now_, 0, d.from, d.data);
    n.deadline = std::min(n.deadline, std::max(next, now_ + 1));
    return true;
  }

  // Runs until pred() holds (checked after every event) or max_ms of virtual time pass.
  bool run_until(const std::function<bool()>& pred, int64_t max_ms) {
    const int64_t limit = now_ + max_ms;
    if (pred()) return true;
    while (step(limit))
      if (pred()) return true;
    return pred();
  }
  void run_for(int64_t ms) {
    const int64_t limit = now_ + ms;
    while (step(limit)) {
    }
  }

  // Called by SimHost::wire_send.
  void send(size_t from, const InetAddress& to, ByteSpan data, unsigned ttl) {
    ++stats.sent;
    Datagram d;
    d.sent_at = now_;
    d.from_node = from;
    d.from = nodes_.at(from).address;
    d.to = to;
    d.ttl = ttl;
    d.data.assign(data.begin(), data.end());
    for (size_t i = 0; i < nodes_.size(); ++i)
      if (nodes_[i].address == to) d.to_node = i;
    // A relay forwards a duplicate it received as a new datagram: keep it marked.
    if (!relayed_dups_.empty()) {
      auto it = relayed_dups_.find({from, relay_key(d.data)});
      if (it != relayed_dups_.end()) {
        d.duplicate = true;
        relayed_dups_.erase(it);
      }
    }
    if (capture) captured.push_back(d);
    if (on_send && !on_send(d)) {
      ++stats.filtered;
      return;
    }
    if (d.to_node == SIZE_MAX) {
      ++stats.undeliverable;
      return;
    }
    const Link& l = link(from, d.to_node);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    // Draw every random number unconditionally so changing one knob does not shift the rest.
    const double r_loss = u(rng_), r_dup = u(rng_), r_reorder = u(rng_);
    const int64_t jitter = l.jitter_ms > 0 ? int64_t(rng_() % uint64_t(l.jitter_ms + 1)) : 0;
    const int64_t jitter2 = l.jitter_ms > 0 ? int64_t(rng_() % uint64_t(l.jitter_ms + 1)) : 0;
    if (!l.up || r_loss < l.loss) {
      ++stats.lost;
      return;
    }
    int64_t delay = l.latency_ms + jitter;
    if (r_reorder < l.reorder) delay += l.reorder_ms;
    d.deliver_at = now_ + delay;
    if (r_dup < l.duplicate) {
      ++stats.duplicated;
      Datagram copy = d;
      copy.duplicate = true;
      copy.deliver_at = now_ + l.latency_ms + jitter2;
      push(std::move(copy));
    }
    push(std::move(d));
  }

 private:
  struct Queued {
    Datagram d;
    uint64_t seq;
    bool operator>(const Queued& o) const {
      return d.deliver_at != o.d.deliver_at ? d.deliver_at > o.d.deliver_at : seq > o.seq;
    }
  };
  void push(Datagram d) { queue_.push(Queued{std::move(d), seq_++}); }
  // A datagram's bytes without the hop count, which a relay increments (§2.1, §2.3).
  static std::string relay_key(const Bytes& b) {
    std::string k(b.begin(), b.end());
    if (k.size() > 16 && uint8_t(k[13]) == 0xff) k[15] = char(uint8_t(k[15]) & ~7);
    else if (k.size() >= 28) k[18] = char(uint8_t(k[18]) & ~7);
    return k;
  }
  std::set<std::pair<size_t, std::string>> relayed_dups_;

  uint64_t seed_;
  std::mt19937_64 rng_;
  int64_t now_ = kEpochMs;
  uint64_t seq_ = 0;
  std::vector<SimNode> nodes_;
  std::map<std::pair<size_t, size_t>, Link> links_;
  std::priority_queue<Queued, std::vector<Queued>, std::greater<Queued>> queue_;

  friend class SimHost;
};

inline void SimHost::wire_send(int64_t local_socket, const InetAddress& to, ByteSpan data, unsigned ttl) {
  sim_.send(index_, to, data, ttl);
}

inline void SimHost::event(const core::Event& e) {
  if (sim_.verbose)
    std::fprintf(stderr, "%10lld %-8s [%d] %s\n", static_cast<long long>(sim_.elapsed()),
                 sim_.at(index_).name.c_str(), int(e.type), e.text.c_str());
  if (e.type == EventType::Trace && !keep_traces) return;
  RecordedEvent r;
  r.at = sim_.now();
  r.type = e.type;
  r.text = e.text;
  r.peer = e.peer;
  r.type_id = e.type_id;
  r.data.assign(e.data.begin(), e.data.end());
  if (e.trace) {
    r.trace = *e.trace;
    r.frame_head.assign(e.trace->frame.begin(), e.trace->frame.end());
    r.trace->frame = {};
    r.trace->base_log = r.trace->capability_log = nullptr;
  }
  events.push_back(std::move(r));
}

inline void SimHost::frame(uint64_t nwid, proto::Mac src, proto::Mac dst, uint16_t ethertype, uint16_t vlan,
                           ByteSpan data) {
  RecordedFrame f;
  f.at = sim_.now();
  f.nwid = nwid;
  f.src = src;
  f.dst = dst;
  f.ethertype = ethertype;
  f.vlan = vlan;
  f.data.assign(data.begin(), data.end());
  if (sim_.verbose) {
    const bool text = std::all_of(data.begin(), data.end(), [](uint8_t c) { return c >= 0x20 && c < 0x7f; });
    std::fprintf(stderr, "%10lld %-8s frame %s -> %s %04x %zu bytes %s\n", static_cast<long long>(sim_.elapsed()),
                 sim_.at(index_).name.c_str(), src.to_string().c_str(), dst.to_string().c_str(), ethertype, data.size(),
                 text ? std::string(data.begin(), data.end()).c_str() : "");
  }
  frames.push_back(std::move(f));
  if (on_frame) on_frame(frames.back());
}

inline void SimHost::network_config(uint64_t nwid, core::NetworkOp op, const core::NetworkInfo& info) {
  if (sim_.verbose)
    std::fprintf(stderr, "%10lld %-8s network %016llx op %d status %s\n", static_cast<long long>(sim_.elapsed()),
                 sim_.at(index_).name.c_str(), static_cast<unsigned long long>(nwid), int(op),
                 core::network_status_name(info.status));
  network_events.push_back({sim_.now(), nwid, op, info});
  if (op == core::NetworkOp::Destroy) networks.erase(nwid);
  else networks[nwid] = info;
}

// ---- Fixtures ---------------------------------------------------------------------------------

// The secret identities of tests/vectors/identities.txt, by label ("root", "ctrl", "nodea",
// "nodeb", "extra1".."extra6"). Generating identities is slow; these are precomputed.
// Any file in that format ("[label]" lines followed by "secret = <identity>").
inline std::map<std::string, proto::Identity> load_identities_file(const std::string& path) {
  std::map<std::string, proto::Identity> out;
  std::ifstream in(path);
  std::string line, label;
  while (std::getline(in, line)) {
    if (line.size() > 2 && line.front() == '[' && line.back() == ']') {
      label = line.substr(1, line.size() - 2);
    } else if (line.rfind("secret = ", 0) == 0 && !label.empty()) {
      auto id = proto::Identity::parse(line.substr(9));
      if (id.ok()) out.emplace(label, *id);
    }
  }
  return out;
}
inline std::map<std::string, proto::Identity> load_test_identities(const std::string& vectors_dir) {
  return load_identities_file(vectors_dir + "/identities.txt");
}

// 48 more secret identities for larger simulated networks (labels "sim00".."sim47"), in
// tests/sim/identities.txt: made once with Identity::generate from std::mt19937_64 seeded
// 0x5151000 + n, and stored because generating them takes seconds (minutes under ASan).
inline std::map<std::string, proto::Identity> load_sim_identities(const std::string& vectors_dir) {
  return load_identities_file(vectors_dir + "/../sim/identities.txt");
}

// The test planet signing key pair (tests/vectors/planet_signing_keypair.c25519).
inline std::optional<proto::WorldKeypair> load_test_keypair(const std::string& vectors_dir) {
  std::ifstream in(vectors_dir + "/planet_signing_keypair.c25519", std::ios::binary);
  Bytes b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto kp = proto::WorldKeypair::parse(b);
  if (!kp.ok()) return std::nullopt;
  return *kp;
}

// A world naming the given sim nodes as roots, each with its underlay address as its only
// stable endpoint.
inline std::optional<proto::World> make_world(Sim& sim, proto::World::Type type, uint64_t id, uint64_t ts,
                                              const proto::WorldKeypair& kp, const std::vector<size_t>& roots) {
  std::vector<proto::WorldRoot> rs;
  for (size_t r : roots) {
    proto::WorldRoot wr;
    auto pub = proto::Identity::parse(sim.at(r).identity.to_string(false));
    if (!pub.ok()) return std::nullopt;
    wr.identity = *pub;
    wr.stable_endpoints.push_back(sim.at(r).address);
    rs.push_back(std::move(wr));
  }
  auto w = proto::World::make(type, id, ts, kp, std::move(rs));
  if (!w.ok()) return std::nullopt;
  return *w;
}

}  // namespace zt::sim
