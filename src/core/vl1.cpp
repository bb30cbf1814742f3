// VL1 of a ZeroTier node: peers, paths, HELLO/OK/ERROR/WHOIS/RENDEZVOUS/ECHO, relaying,
// keepalives, worlds. PROTOCOL.md §2, §3.1–3.4, §3.7, §3.14–3.16, §5.
//
// Everything here runs on the caller's thread inside process_wire_packet /
// process_background_tasks; output goes through Host. No clock, socket or OS randomness.
#include "core/vl1.hpp"

#include <algorithm>
#include <array>
#include <deque>
#include <unordered_map>

#include "base/hex.hpp"
#include "proto/fragment.hpp"
#include "proto/packet.hpp"
#include "proto/verbs.hpp"

namespace zt::core {

using namespace zt::proto;

namespace {

constexpr int64_t kPathConfirmIntervalMs = 1000;   // HELLO to an unknown path at most 1/s
constexpr int64_t kPathConfirmWindowMs = 10000;    // ...retried while heard from this recently
constexpr unsigned kPathConfirmRetries = 3;
constexpr int64_t kPeerPingPeriodMs = 60000;       // ZT_PEER_PING_PERIOD: full HELLO per path
constexpr int64_t kPathExpirationMs = 243000;      // ZT_PEER_PATH_EXPIRATION
constexpr int64_t kWhoisRetryMs = 500;             // ZT_WHOIS_RETRY_DELAY
constexpr int64_t kQueueTimeoutMs = 5000;          // held packets waiting for WHOIS
constexpr size_t kMaxHeldPackets = 64;
constexpr size_t kMaxPendingOut = 1024;  // outbound messages waiting for WHOIS (reference: 32; a
                                          // multicast to many new peers needs more)
constexpr int64_t kExpectReplyMs = 60000;          // how long an OK may answer a request
constexpr int64_t kMinUniteIntervalMs = 30000;     // ZT_MIN_UNITE_INTERVAL
constexpr int64_t kRootRetryMinMs = 500;           // first retries to an unreachable root
constexpr int64_t kRootRetryMaxMs = 10000;
constexpr int64_t kIdentityCheckIntervalMs = 100;  // per source address (rate limit)
constexpr int64_t kForgetPeerMs = 600000;          // drop idle, pathless leaf peers
constexpr int64_t kTimerGranularityMs = 250;
constexpr int64_t kOrbitRetryMs = 5000;            // HELLO/WHOIS to a moon seed until it answers
constexpr size_t kMaxPathsPerPeer = 64;

uint64_t pair_key(Address a, Address b) { return a < b ? (a << 24) ^ b ^ (b << 40) : (b << 24) ^ a ^ (a << 40); }

}  // namespace

// ---- Construction ---------------------------------------------------------------------------

Vl1::Vl1(Host& h, NodeOptions o)
    : host(h), opts(std::move(o)), self(opts.identity), defrag(8) {
  buf.resize(kMaxPacketSize);
}

Status Vl1::start(int64_t now) {
  if (opts.planet) {
    planet = *opts.planet;
  } else if (auto b = host.state_get(StateObject::Planet, 0)) {
    auto w = World::parse(*b);
    if (w.ok()) planet = *w;
  }
  for (const auto& m : opts.moons) moons.push_back(m);
  rebuild_upstreams(now);
  host.event({EventType::Up, "node " + address_to_string(self.address()) + " up"});
  process_background(now);
  return ok_status();
}

// ---- Topology -------------------------------------------------------------------------------

void Vl1::rebuild_upstreams(int64_t now) {
  upstreams.clear();
  auto add_world = [&](const World& w, PeerRole role) {
    for (const auto& r : w.roots) {
      Upstream u;
      u.address = r.identity.address();
      u.role = role;
      u.endpoints = r.stable_endpoints;
      upstreams.push_back(u);
      if (u.address != self.address()) learn_peer(now, r.identity, role);
    }
  };
  add_world(planet, PeerRole::Planet);
  for (const auto& m : moons) add_world(m, PeerRole::Moon);
  am_upstream = false;
  for (const auto& u : upstreams)
    if (u.address == self.address()) am_upstream = true;
  for (auto& [a, p] : peers) p->role = role_of(a);
}

PeerRole Vl1::role_of(Address a) const {
  PeerRole best = PeerRole::Leaf;
  for (const auto& u : upstreams)
    if (u.address == a) {
      if (u.role == PeerRole::Planet) return PeerRole::Planet;
      best = PeerRole::Moon;
    }
  return best;
}

bool Vl1::is_upstream(Address a) const { return role_of(a) != PeerRole::Leaf; }

Peer* Vl1::find_peer(Address a) {
  auto it = peers.find(a);
  return it == peers.end() ? nullptr : it->second.get();
}

Peer* Vl1::learn_peer(int64_t now, const Identity& id, PeerRole role) {
  if (id.address() == self.address()) return nullptr;
  if (Peer* p = find_peer(id.address())) {
    if (!(p->identity == id)) return nullptr;  // never silently replace a known identity
    return p;
  }
  auto p = std::make_unique<Peer>(id, self.agree(id));
  p->role = role == PeerRole::Leaf ? role_of(id.address()) : role;
  p->created = now;
  Peer* raw = p.get();
  peers.emplace(id.address(), std::move(p));
  return raw;
}

Path* Peer::find_path(int64_t local_socket, const InetAddress& a) {
  for (auto& p : paths)
    if (p.address == a && (local_socket < 0 || p.local_socket < 0 || p.local_socket == local_socket)) return &p;
  return nullptr;
}

Path* Peer::best_path(int64_t now, int64_t alive_ms) {
  Path* best = nullptr;
  for (auto& p : paths)
    if (now - p.last_receive < alive_ms && (!best || p.last_receive > best->last_receive)) best = &p;
  return best;
}

Path* Peer::latest_path() {
  Path* best = nullptr;
  for (auto& p : paths)
    if (!best || p.last_receive > best->last_receive) best = &p;
  return best;
}

Path* Vl1::route(int64_t now, Peer& peer) {
  // Alive direct path, else relay through an upstream with an alive path (§5.2); when nothing
  // is alive, a stale direct path, then a stale upstream path: better than dropping.
  if (Path* direct = peer.best_path(now, path_alive_ms())) return direct;
  Peer* up = best_upstream(now, peer.identity.address());
  if (up)
    if (Path* p = up->best_path(now, path_alive_ms())) return p;
  if (Path* p = peer.latest_path()) return p;
  return up ? up->latest_path() : nullptr;
}

bool Vl1::path_allowed(Address peer, int64_t local_socket, const InetAddress& a) const {
  if (a.empty() || a.port() == 0) return false;
  if (a.is_loopback() && !opts.allow_loopback) return false;
  // Roots with stable endpoints may only be reached at those endpoints (§5.2).
  for (const auto& u : upstreams)
    if (u.address == peer && !u.endpoints.empty()) {
      bool listed = false;
      for (const auto& e : u.endpoints) listed |= (e == a);
      if (!listed) return false;
    }
  return host.path_check(peer, local_socket, a);
}

int64_t Vl1::path_alive_ms() const { return opts.heartbeat_ms + 5000; }

// ---- Sending --------------------------------------------------------------------------------

uint64_t Vl1::random_u64() {
  if (random_used == random_pool.size()) {
    host.random(reinterpret_cast<uint8_t*>(random_pool.data()), sizeof random_pool);
    random_used = 0;
  }
  return random_pool[random_used++];
}

void Vl1::raw_send(int64_t local_socket, const InetAddress& to, ByteSpan data, unsigned ttl) {
  ++counters.datagrams_out;
  host.wire_send(local_socket, to, data, ttl);
}

// Armors the packet in `pkt` (header + payload, plaintext) for `peer`, then sends it to
// `to` (or along the best route when `to` is empty). Returns the post-armor packet ID, 0 if
// nothing could be sent.
uint64_t Vl1::armor_and_send(int64_t now, Peer& peer, MutByteSpan pkt, Cipher cipher,
                                    int64_t local_socket, const InetAddress* to, Verb expect) {
  MutPacketView v(pkt);
  Path* via = nullptr;
  InetAddress dest_addr;
  int64_t sock = local_socket;
  if (to) {
    dest_addr = *to;
  } else {
    via = route(now, peer);
    if (!via) {
      trace(trace_code::kSendFailed, "no route to " + address_to_string(peer.identity.address()) + ", packet dropped", peer.identity.address(), "no route");
      return 0;
    }
    dest_addr = via->address;
    sock = via->local_socket;
  }
  if (mark_fragmentation(pkt, opts.phys_mtu) == 0) {
    trace(trace_code::kSendFailed, "packet too large to send", peer.identity.address(), "too large");
    return 0;
  }
  if (!armor(pkt, peer.key, cipher)) return 0;
  const uint64_t id = v.packet_id();
  if (expect != Verb::Nop) expecting[id] = Expect{peer.identity.address(), expect, now};
  for_each_fragment(ByteSpan(pkt), opts.phys_mtu,
                    [&](ByteSpan d) { raw_send(sock, dest_addr, d, 0); });
  if (via) via->last_send = now;
  else if (Path* p = peer.find_path(sock, dest_addr)) p->last_send = now;
  return id;
}

Cipher Vl1::cipher_for(const Peer& p) const {
  return p.protocol_version >= int(kProtocolVersionAes) ? Cipher::AesGmacSiv : Cipher::Salsa2012;
}

Vl1::TxLease::TxLease(Vl1& n) : owner_(n.tx_busy ? nullptr : &n), w_(owner_ ? n.tx : fallback_) {
  if (owner_) {
    owner_->tx_busy = true;
    owner_->tx.data().clear();  // keeps the capacity
  }
}

Vl1::TxLease::~TxLease() {
  if (owner_) owner_->tx_busy = false;
}

uint64_t Vl1::finish_and_send(int64_t now, Peer& peer, Writer& w, bool compress, Verb expect,
                              int64_t local_socket, const InetAddress* to) {
  if (w.size() > kMaxPacketSize) {
    trace(trace_code::kSendFailed, "outgoing packet exceeds the maximum packet size; dropped", peer.identity.address(), "too large");
    return 0;
  }
  Bytes& pkt = w.data();
  // LZ4 only ever shrinks the payload (compress_payload keeps it when it would not), so it
  // works in the packet's own bytes.
  if (compress) pkt.resize(compress_payload(pkt, pkt.size()));
  return armor_and_send(now, peer, pkt, cipher_for(peer), local_socket, to, expect);
}

uint64_t Vl1::send_message(int64_t now, Peer& peer, const Message& m, bool compress,
                           Verb expect, int64_t local_socket, const InetAddress* to) {
  TxLease lease(*this);
  Writer& w = lease.writer();
  begin_packet(w, random_u64(), peer.identity.address(), self.address(), message_verb(m));
  encode_message(m, w);
  return finish_and_send(now, peer, w, compress, expect, local_socket, to);
}

uint64_t Vl1::send_payload(int64_t now, Peer& peer, Verb verb, ByteSpan payload, bool compress,
                           Verb expect, int64_t local_socket, const InetAddress* to) {
  TxLease lease(*this);
  Writer& w = lease.writer();
  begin_packet(w, random_u64(), peer.identity.address(), self.address(), verb);
  w.bytes(payload);
  return finish_and_send(now, peer, w, compress, expect, local_socket, to);
}

uint64_t Vl1::send_hello(int64_t now, Peer& peer, int64_t local_socket, const InetAddress* to) {
  Hello h;
  h.timestamp = uint64_t(now);
  h.identity = self;
  h.sent_to = to ? *to : InetAddress();
  h.planet = Hello::Planet{planet.id, planet.timestamp};
  HelloMoons hm;
  for (const auto& m : moons) hm.moons.push_back({World::Type::Moon, m.id, m.timestamp});
  for (const auto& o : orbits)
    if (!has_moon(o.id)) hm.moons.push_back({World::Type::Moon, o.id, 0});
  Writer mw;
  hm.encode(mw);
  h.moons_region = mw.span();

  TxLease lease(*this);
  Writer& w = lease.writer();
  begin_packet(w, random_u64(), peer.identity.address(), self.address(), Verb::Hello);
  h.encode(w);
  Bytes& pkt = w.data();
  const size_t crypt_off = pkt.size() - mw.size();
  crypt_field(peer.key.key(), pkt, crypt_off, mw.size());
  peer.last_hello_sent = now;
  return armor_and_send(now, peer, pkt, Cipher::None, local_socket, to, Verb::Hello);
}

void Vl1::send_whois(int64_t now, Address target) {
  if (target == self.address()) return;
  auto& last = whois_last[target];
  if (last != 0 && now - last < kWhoisRetryMs) return;
  Peer* up = best_upstream(now, target);
  if (!up) return;
  last = now;
  Whois w;
  w.addresses.push_back(target);
  ++counters.whois_sent;
  send_message(now, *up, w, false, Verb::Whois);
}

Peer* Vl1::best_upstream(int64_t now, Address exclude) {
  // Prefer an upstream heard from recently on an alive path; failing that, one with any
  // (not yet expired) path: a root that missed a heartbeat is still the best bet, and the
  // alternative is dropping the packet.
  Peer* best = nullptr;
  int64_t best_rx = -1;
  bool best_alive = false;
  for (const auto& u : upstreams) {
    if (u.address == exclude || u.address == self.address()) continue;
    Peer* p = find_peer(u.address);
    if (!p) continue;
    Path* path = p->latest_path();
    if (!path) continue;
    const bool alive = now - path->last_receive < path_alive_ms();
    if ((alive && !best_alive) || (alive == best_alive && path->last_receive > best_rx)) {
      best = p;
      best_rx = path->last_receive;
      best_alive = alive;
    }
  }
  return best;
}

void Vl1::trace(std::string text, const TraceInfo& info) {
  Event e{EventType::Trace, std::move(text)};
  e.peer = info.peer;
  e.trace = &info;
  host.event(e);
}

void Vl1::trace(uint32_t code, std::string text, Address peer, std::string reason) {
  TraceInfo t;
  t.code = code;
  t.peer = peer;
  t.reason = std::move(reason);
  trace(std::move(text), t);
}

const Identity* Vl1::identity_of(Address a) const {
  if (a == self.address()) return &self;
  auto it = peers.find(a);
  return it == peers.end() ? nullptr : &it->second->identity;
}

Address Vl1::best_upstream_address(int64_t now) {
  Peer* up = best_upstream(now, 0);
  return up ? up->identity.address() : 0;
}

std::vector<Address> Vl1::upstream_addresses() const {
  std::vector<Address> out;
  out.reserve(upstreams.size());
  for (const auto& u : upstreams) out.push_back(u.address);
  return out;
}

// ---- Receiving ------------------------------------------------------------------------------

int64_t Vl1::receive(int64_t now, int64_t local_socket, const InetAddress& from, ByteSpan datagram) {
  ++counters.datagrams_in;
  if (from.is_loopback() && !opts.allow_loopback) {
    ++counters.dropped_policy;
    return next_deadline(now);
  }
  switch (classify(datagram)) {
    case DatagramKind::Fragment: {
      FragmentView f(datagram);
      if (!f.valid()) { ++counters.dropped_malformed; break; }
      if (f.dest() != self.address()) { relay(now, local_socket, from, datagram, true); break; }
      ByteSpan whole = defrag.add_fragment(datagram, now);
      if (!whole.empty()) handle_packet(now, local_socket, from, whole);
      break;
    }
    case DatagramKind::Head: {
      PacketView v(datagram);
      if (v.dest() != self.address()) { relay(now, local_socket, from, datagram, false); break; }
      if (v.fragmented()) {
        ByteSpan whole = defrag.add_head(datagram, now);
        if (!whole.empty()) handle_packet(now, local_socket, from, whole);
      } else {
        handle_packet(now, local_socket, from, datagram);
      }
      break;
    }
    case DatagramKind::Beacon:
      break;  // legacy LAN beacons are ignored
    default:
      // 4-byte NAT-opening junk and other short datagrams.
      if (datagram.size() > 4) ++counters.dropped_malformed;
      break;
  }
  drain_replay(now);
  return next_deadline(now);
}

void Vl1::drain_replay(int64_t now) {
  // Bounded: a replayed packet's sender is known, so it cannot be held again unless the
  // peer was forgotten in between; held itself is capped.
  for (size_t budget = kMaxHeldPackets * 2; !replay.empty() && budget > 0; --budget) {
    Held h = std::move(replay.front());
    replay.pop_front();
    handle_packet(now, h.local_socket, h.from, h.packet);
  }
}

void Vl1::relay(int64_t now, int64_t local_socket, const InetAddress& from, ByteSpan d, bool fragment) {
  // Only roots relay (§2.1); leaves relay only with established trust, which we never grant.
  if (!am_upstream) { ++counters.dropped_policy; return; }
  const Address dest = load_be(d.data() + kOffDest, 5);
  const unsigned hops = fragment ? (d[kFragOffHops] & kHopsMask) : (d[kOffFlags] & kHopsMask);
  if (hops >= kRelayMaxHops) { ++counters.dropped_policy; return; }
  // A direct path to the destination if we have one, else our best upstream; never back
  // where it came from (§2.1).
  Peer* to = find_peer(dest);
  Path* path = to ? to->best_path(now, path_alive_ms()) : nullptr;
  if (!path || path->address == from) {
    Peer* up = best_upstream(now, dest);
    path = up ? up->best_path(now, path_alive_ms()) : nullptr;
  }
  if (!path || path->address == from) { ++counters.dropped_unknown_peer; return; }
  std::array<uint8_t, kMaxPacketSize> copy;
  std::copy(d.begin(), d.end(), copy.begin());
  if (fragment) copy[kFragOffHops] = uint8_t((copy[kFragOffHops] & ~kHopsMask) | (hops + 1));
  else copy[kOffFlags] = uint8_t((copy[kOffFlags] & ~kHopsMask) | (hops + 1));
  raw_send(path->local_socket, path->address, ByteSpan(copy.data(), d.size()), 0);
  path->last_send = now;
  ++counters.relayed;
  if (!fragment) {
    const Address src = load_be(d.data() + kOffSource, 5);
    maybe_unite(now, src, dest);
  }
}

// RENDEZVOUS (§3.4): tell two peers we relay between where to find each other directly.
void Vl1::maybe_unite(int64_t now, Address a, Address b) {
  Peer* pa = find_peer(a);
  Peer* pb = find_peer(b);
  if (!pa || !pb) return;
  Path* xa = pa->best_path(now, path_alive_ms());
  Path* xb = pb->best_path(now, path_alive_ms());
  if (!xa || !xb) return;
  auto& last = last_unite[pair_key(a, b)];
  if (last != 0 && now - last < kMinUniteIntervalMs) return;
  last = now;
  Rendezvous ra;
  ra.with = b;
  ra.at = xb->address;
  send_message(now, *pa, ra, false, Verb::Nop);
  Rendezvous rb;
  rb.with = a;
  rb.at = xa->address;
  send_message(now, *pb, rb, false, Verb::Nop);
}

void Vl1::handle_packet(int64_t now, int64_t local_socket, const InetAddress& from, ByteSpan packet) {
  PacketView v(packet);
  if (!v.valid()) { ++counters.dropped_malformed; return; }
  if (v.source() == self.address() || address_reserved(v.source())) { ++counters.dropped_policy; return; }
  // Work on a private copy: dearmor and decompression are in place.
  std::copy(packet.begin(), packet.end(), buf.begin());
  MutByteSpan pkt(buf.data(), packet.size());

  if (v.cipher() == Cipher::None && (packet[kOffVerb] & kVerbMask) == uint8_t(Verb::Hello)) {
    handle_hello(now, local_socket, from, pkt);
    return;
  }
  Peer* peer = find_peer(v.source());
  if (!peer) {
    hold_for_whois(now, local_socket, from, packet);
    return;
  }
  if (v.cipher() == Cipher::TrustedPath || !dearmor(pkt, peer->key)) {
    ++counters.dropped_auth;
    trace(trace_code::kPacketMacFailure, "packet from " + address_to_string(v.source()) + " via " + from.to_string() +
          " failed authentication (" + cipher_name(v.cipher()) + "); dropped", v.source(),
          v.cipher() == Cipher::TrustedPath ? "path not trusted" : "invalid MAC");
    return;
  }
  auto len = decompress_payload(MutByteSpan(buf.data(), buf.size()), packet.size());
  if (!len) {
    ++counters.dropped_malformed;
    trace(trace_code::kPacketInvalid, "LZ4 decompression failed for packet from " + address_to_string(v.source()), v.source(), "LZ4 decompression failed");
    return;
  }
  ++counters.packets_in;
  MutByteSpan plain(buf.data(), *len);
  PacketView pv(plain);
  peer->last_receive = now;
  if (pv.hops() == 0) note_direct_receive(now, *peer, local_socket, from, pv);
  if (is_upstream(peer->identity.address())) update_online(now);
  dispatch(now, *peer, local_socket, from, pv);
}

void Vl1::note_direct_receive(int64_t now, Peer& peer, int64_t local_socket, const InetAddress& from, const PacketView& pv) {
  if (Path* p = peer.find_path(local_socket, from)) {
    p->last_receive = now;
    return;
  }
  // Unknown path: only an OK(HELLO) on it installs it (handled in on_ok_hello); anything
  // else makes us confirm it with a HELLO (§5.3 path learning).
  if (pv.verb() == Verb::Ok) return;
  if (!path_allowed(peer.identity.address(), local_socket, from)) return;
  auto& c = peer.confirm_attempts[from];
  c.local_socket = local_socket;
  c.last_heard = now;
  c.retries = 0;
  if (c.last_sent != 0 && now - c.last_sent < kPathConfirmIntervalMs) return;
  c.last_sent = now;
  send_hello(now, peer, local_socket, &from);
}

void Vl1::learn_path(int64_t now, Peer& peer, int64_t local_socket, const InetAddress& from) {
  if (Path* p = peer.find_path(local_socket, from)) {
    p->last_receive = now;
    return;
  }
  if (!path_allowed(peer.identity.address(), local_socket, from)) return;
  const bool had_direct = peer.best_path(now, path_alive_ms()) != nullptr;
  if (peer.paths.size() >= kMaxPathsPerPeer) {
    auto oldest = std::min_element(peer.paths.begin(), peer.paths.end(),
                                   [](const Path& a, const Path& b) { return a.last_receive < b.last_receive; });
    peer.paths.erase(oldest);
  }
  Path p;
  p.address = from;
  p.local_socket = local_socket;
  p.last_receive = now;
  peer.paths.push_back(p);
  peer.confirm_attempts.erase(from);
  if (!had_direct) {
    Event e{EventType::PeerDirect, "direct path to " + address_to_string(peer.identity.address()) + " at " + from.to_string()};
    e.peer = peer.identity.address();
    host.event(e);
  }
}

void Vl1::hold_for_whois(int64_t now, int64_t local_socket, const InetAddress& from, ByteSpan packet) {
  const Address src = PacketView(packet).source();
  if (held.size() >= kMaxHeldPackets) {
    held.pop_front();
    ++counters.dropped_unknown_peer;
  }
  held.push_back(Held{Bytes(packet.begin(), packet.end()), local_socket, from, now, src});
  send_whois(now, src);
}

void Vl1::handle_hello(int64_t now, int64_t local_socket, const InetAddress& from, MutByteSpan pkt) {
  PacketView v(pkt);
  auto hello = Hello::decode(v.payload());
  if (!hello.ok()) {
    ++counters.dropped_malformed;
    trace(trace_code::kPacketInvalid, "malformed HELLO from " + from.to_string() + ": " + hello.error(), v.source(), "malformed HELLO: " + hello.error());
    return;
  }
  const Identity id = hello->identity;
  if (hello->protocol_version < kMinProtocolVersion || id.address() != v.source()) {
    ++counters.dropped_malformed;
    return;
  }
  Peer* peer = find_peer(id.address());
  std::optional<PeerKey> fresh_key;
  bool is_new = false;
  if (peer) {
    if (!(peer->identity == id)) {
      ++counters.dropped_auth;
      trace(trace_code::kPacketInvalid, "HELLO from " + address_to_string(id.address()) + " with a different identity (collision?); dropped", id.address(), "address collision");
      send_identity_collision(now, id, local_socket, from, v);
      return;
    }
    if (!dearmor(pkt, peer->key)) {
      ++counters.dropped_auth;
      trace(trace_code::kPacketMacFailure, "HELLO from " + address_to_string(id.address()) + " failed authentication; dropped", id.address(), "invalid MAC");
      return;
    }
  } else {
    // Unknown: authenticate with the key from the identity it carries, then prove the
    // identity (memory-hard check, rate limited per source address).
    fresh_key.emplace(self.agree(id));
    if (!dearmor(pkt, *fresh_key)) {
      ++counters.dropped_auth;
      trace(trace_code::kPacketMacFailure, "HELLO from " + address_to_string(id.address()) + " failed authentication; dropped", id.address(), "invalid MAC");
      return;
    }
    auto& last = identity_checks[from];
    if (last != 0 && now - last < kIdentityCheckIntervalMs) { ++counters.dropped_policy; return; }
    last = now;
    if (!id.validate()) {
      ++counters.dropped_auth;
      trace(trace_code::kPacketInvalid, "HELLO from " + address_to_string(id.address()) + " carries an invalid identity; dropped", id.address(), "invalid identity");
      return;
    }
    peer = learn_peer(now, id, PeerRole::Leaf);
    if (!peer) return;
    is_new = true;
  }
  ++counters.packets_in;
  peer->last_receive = now;
  peer->protocol_version = hello->protocol_version;
  peer->version_major = hello->version_major;
  peer->version_minor = hello->version_minor;
  peer->version_revision = hello->version_revision;

  // Moons the sender listed (cryptField region), to answer with newer worlds we hold.
  std::vector<HelloMoons::Entry> wanted;
  if (!hello->moons_region.empty()) {
    const size_t off = kHeaderSize + hello->crypt_offset(v.payload().size());
    if (crypt_field(peer->key.key(), pkt, off, hello->moons_region.size())) {
      auto hm = HelloMoons::decode(ByteSpan(pkt.data() + off, hello->moons_region.size()));
      if (hm.ok()) wanted = hm->moons;
    }
  }

  OkMessage ok;
  ok.in_re_verb = Verb::Hello;
  ok.in_re_packet_id = v.packet_id();
  OkHello body;
  body.timestamp = hello->timestamp;
  body.observed_from = from;
  if (hello->protocol_version < 5) body.observed_from->set_port(0);
  Writer worlds;
  if (hello->planet && planet.type == World::Type::Planet && hello->planet->id == planet.id &&
      hello->planet->timestamp < planet.timestamp)
    planet.write(worlds);
  for (const auto& want : wanted)
    for (const auto& m : moons)
      if (m.id == want.id && m.timestamp > want.timestamp) m.write(worlds);
  body.world_updates = worlds.span();
  ok.body = body;
  // Reply on the path the HELLO arrived on (relayed HELLOs are answered along the route).
  const bool direct = v.hops() == 0;
  send_message(now, *peer, ok, false, Verb::Nop, direct ? local_socket : -1, direct ? &from : nullptr);
  if (direct) note_direct_receive(now, *peer, local_socket, from, v);
  if (is_upstream(peer->identity.address())) update_online(now);
  // Last: it may queue held packets for replay and send what waited for this identity.
  if (is_new) on_peer_known(now, *peer);
}

// §3.2 step 2: a HELLO claiming a known address with a different identity. If its MAC
// verifies under the key agreed with the identity it carries, the sender really holds that
// key: tell it (ERROR(IDENTITY_COLLISION), cipher 1 under that key), rate-limited per source.
void Vl1::send_identity_collision(int64_t now, const Identity& claimed, int64_t local_socket,
                                         const InetAddress& from, const PacketView& hello) {
  auto& last = identity_checks[from];
  if (last != 0 && now - last < kIdentityCheckIntervalMs) return;
  last = now;
  Peer other(claimed, self.agree(claimed));  // temporary: never stored
  std::array<uint8_t, kMaxPacketSize> copy;
  std::copy(hello.bytes().begin(), hello.bytes().end(), copy.begin());
  if (!dearmor(MutByteSpan(copy.data(), hello.size()), other.key)) return;
  ErrorMessage e;
  e.in_re_verb = Verb::Hello;
  e.in_re_packet_id = hello.packet_id();
  e.code = ErrorCode::IdentityCollision;
  send_message(now, other, e, false, Verb::Nop, local_socket, &from);
}

void Vl1::dispatch(int64_t now, Peer& peer, int64_t local_socket, const InetAddress& from, const PacketView& pv) {
  auto msg = decode_message(pv.verb(), pv.payload());
  if (!msg.ok()) {
    ++counters.dropped_malformed;
    trace(trace_code::kPacketInvalid, std::string("malformed ") + verb_name(pv.verb()) + " from " + address_to_string(peer.identity.address()) + ": " + msg.error(),
          peer.identity.address(), std::string("malformed ") + verb_name(pv.verb()) + ": " + msg.error());
    return;
  }
  Message& m = *msg;
  switch (pv.verb()) {
    case Verb::Ok:
      on_ok(now, peer, local_socket, from, pv, std::get<OkMessage>(m));
      break;
    case Verb::Error:
      on_error(now, peer, std::get<ErrorMessage>(m));
      break;
    case Verb::Whois:
      on_whois(now, peer, local_socket, from, pv, std::get<Whois>(m));
      break;
    case Verb::Rendezvous:
      on_rendezvous(now, peer, std::get<Rendezvous>(m));
      break;
    case Verb::Echo: {
      OkMessage ok;
      ok.in_re_verb = Verb::Echo;
      ok.in_re_packet_id = pv.packet_id();
      ok.body = OkEcho{std::get<Echo>(m).payload};
      const bool direct = pv.hops() == 0;
      send_message(now, peer, ok, false, Verb::Nop, direct ? local_socket : -1, direct ? &from : nullptr);
      break;
    }
    case Verb::PushDirectPaths:
      on_push_direct_paths(now, peer, std::get<PushDirectPaths>(m));
      break;
    case Verb::UserMessage: {
      const auto& um = std::get<UserMessage>(m);
      Event e{EventType::UserMessage, "user message"};
      e.peer = peer.identity.address();
      e.type_id = um.type_id;
      e.data = um.data;
      host.event(e);
      break;
    }
    case Verb::RemoteTrace:
      for (ByteSpan d : std::get<RemoteTrace>(m).dictionaries) {
        if (d.empty() || d.size() > 10000) continue;
        Event e{EventType::RemoteTrace, "remote trace"};
        e.peer = peer.identity.address();
        e.data = d;
        host.event(e);
        if (vl2) vl2->on_remote_trace(now, peer.identity.address(), d);
      }
      break;
    case Verb::Nop:
    case Verb::Hello:  // a HELLO with cipher != 0 is not a HELLO we process
    default:
      if (vl2) vl2->on_packet(now, peer.identity.address(), pv, m);
      break;
  }
}

void Vl1::on_ok(int64_t now, Peer& peer, int64_t local_socket, const InetAddress& from, const PacketView& pv, const OkMessage& ok) {
  auto it = expecting.find(ok.in_re_packet_id);
  if (it == expecting.end() || it->second.peer != peer.identity.address() || it->second.verb != ok.in_re_verb) {
    // Unsolicited OK: only the NETWORK_CONFIG acknowledgement (in-re ECHO quirk) goes on.
    if (vl2) vl2->on_packet(now, peer.identity.address(), pv, Message(ok));
    return;
  }
  const int64_t sent_at = it->second.at;
  if (ok.in_re_verb != Verb::NetworkConfigRequest && ok.in_re_verb != Verb::MulticastGather) expecting.erase(it);
  switch (ok.in_re_verb) {
    case Verb::Hello: {
      const auto& b = std::get<OkHello>(ok.body);
      const int64_t rtt = now - int64_t(b.timestamp);
      if (rtt >= 0 && rtt < 600000) peer.latency_ms = int(rtt);
      peer.protocol_version = b.protocol_version;
      peer.version_major = b.version_major;
      peer.version_minor = b.version_minor;
      peer.version_revision = b.version_revision;
      if (pv.hops() == 0) learn_path(now, peer, local_socket, from);
      if (auto worlds = b.worlds(); worlds.ok()) accept_worlds(now, peer, *worlds);
      if (is_upstream(peer.identity.address())) update_online(now);
      break;
    }
    case Verb::Echo: {
      const int64_t rtt = now - sent_at;
      if (rtt >= 0) peer.latency_ms = int(rtt);
      if (pv.hops() == 0) learn_path(now, peer, local_socket, from);
      break;
    }
    case Verb::Whois: {
      if (!is_upstream(peer.identity.address())) break;  // trust only our roots (§3.3)
      const auto& b = std::get<OkWhois>(ok.body);
      if (b.identities.empty()) break;
      const Identity& id = b.identities.front();
      if (Peer* np = learn_peer(now, id, PeerRole::Leaf)) on_peer_known(now, *np);
      break;
    }
    default:
      if (vl2) vl2->on_packet(now, peer.identity.address(), pv, Message(ok));
      break;
  }
}

void Vl1::on_peer_known(int64_t now, Peer& p) {
  const Address a = p.identity.address();
  whois_last.erase(a);
  // Re-run packets held for this peer (§2.1 rule 3). Not from here: we may be inside
  // handle_packet, whose packet lives in `buf`; drain_replay() runs them afterwards.
  for (auto it = held.begin(); it != held.end();) {
    if (it->source == a) {
      replay.push_back(std::move(*it));
      it = held.erase(it);
    } else {
      ++it;
    }
  }
  // Send what was waiting for this peer's identity.
  flush_pending(now);
  // A moon seed we were waiting for: ask it for the moon now (HELLO lists wanted moons).
  for (auto& o : orbits)
    if (o.seed == a && !has_moon(o.id)) {
      send_hello(now, p, -1, nullptr);
      o.next_try = now + kOrbitRetryMs;
      break;
    }
  if (vl2) vl2->on_peer_known(now, a);
}

void Vl1::on_error(int64_t now, Peer& peer, const ErrorMessage& e) {
  if (e.code == ErrorCode::IdentityCollision && is_upstream(peer.identity.address())) {
    host.event({EventType::IdentityCollision, "root reports an identity collision for our address"});
    return;
  }
  if (vl2) vl2->on_error(now, peer.identity.address(), e);
}

void Vl1::on_whois(int64_t now, Peer& peer, int64_t local_socket, const InetAddress& from, const PacketView& pv, const Whois& w) {
  OkWhois reply;
  for (Address a : w.addresses) {
    if (a == self.address()) {
      reply.identities.push_back(Identity::parse(self.to_string(false)).value());
    } else if (Peer* p = find_peer(a)) {
      reply.identities.push_back(p->identity);
    }
  }
  if (reply.identities.empty()) return;  // unknown: no reply
  OkMessage ok;
  ok.in_re_verb = Verb::Whois;
  ok.in_re_packet_id = pv.packet_id();
  ok.body = std::move(reply);
  const bool direct = pv.hops() == 0;
  send_message(now, peer, ok, false, Verb::Nop, direct ? local_socket : -1, direct ? &from : nullptr);
}

void Vl1::on_rendezvous(int64_t now, Peer& from_peer, const Rendezvous& r) {
  if (!is_upstream(from_peer.identity.address())) return;  // from upstream only (§3.4)
  Peer* p = find_peer(r.with);
  if (!p || r.at.port() == 0 || r.at.empty()) return;
  if (!path_allowed(p->identity.address(), -1, r.at)) return;
  const uint8_t junk[4] = {uint8_t(random_u64()), 0x5a, 0x54, 0x21};
  raw_send(-1, r.at, ByteSpan(junk, 4), 2);
  send_hello(now, *p, -1, &r.at);
}

void Vl1::on_push_direct_paths(int64_t now, Peer& peer, const PushDirectPaths& pdp) {
  auto& window = pdp_window[peer.identity.address()];
  if (now - window.first > 30000) window = {now, 0};
  if (++window.second > 8) return;  // ≤ 8 per 30 s
  unsigned tried = 0;
  for (const auto& p : pdp.paths) {
    if (p.address.empty() || tried >= 8) continue;
    if (peer.find_path(-1, p.address)) continue;
    if (!path_allowed(peer.identity.address(), -1, p.address)) continue;
    ++tried;
    send_hello(now, peer, -1, &p.address);
  }
}

void Vl1::accept_worlds(int64_t now, Peer& from, const std::vector<World>& worlds) {
  const bool upstream = is_upstream(from.identity.address());
  bool changed = false;
  for (const auto& w : worlds) {
    if (w.type == World::Type::Planet) {
      if (!upstream) continue;
      if (World::should_replace(planet, w) && w.verify()) {
        planet = w;
        host.state_put(StateObject::Planet, 0, planet.serialize());
        changed = true;
      }
    } else if (w.type == World::Type::Moon) {
      // §5.1/§5.2: updates only from upstreams or moon seeds; a new moon only if we orbit its
      // ID and it lists the seed we were given among its roots.
      bool from_seed = false, seeded = false;
      for (const auto& o : orbits) {
        from_seed |= o.seed != 0 && o.seed == from.identity.address();
        if (o.id != w.id || o.seed == 0) continue;
        for (const auto& r : w.roots) seeded |= r.identity.address() == o.seed;
      }
      if (!upstream && !from_seed) continue;
      bool replaced = false;
      for (auto& m : moons)
        if (m.id == w.id) {
          replaced = true;
          if (World::should_replace(m, w)) {
            m = w;
            host.state_put(StateObject::Moon, w.id, w.serialize());
            changed = true;
          }
        }
      if (!replaced && seeded && w.verify()) {
        moons.push_back(w);
        host.state_put(StateObject::Moon, w.id, w.serialize());
        changed = true;
      }
    }
  }
  if (changed) {
    rebuild_upstreams(now);
    trace(trace_code::kWorldUpdated, "world updated", 0, "world updated");
  }
}

bool Vl1::has_moon(uint64_t id) const {
  for (const auto& m : moons)
    if (m.id == id) return true;
  return false;
}

// ---- Timers ---------------------------------------------------------------------------------

void Vl1::update_online(int64_t now) {
  bool on = am_upstream;
  for (const auto& u : upstreams) {
    if (on) break;
    if (const Peer* p = peers.count(u.address) ? peers.at(u.address).get() : nullptr)
      on = p->last_receive > 0 && now - p->last_receive < opts.online_timeout_ms;
  }
  if (on != online) {
    online = on;
    host.event({on ? EventType::Online : EventType::Offline, on ? "online" : "offline"});
  }
}

void Vl1::process_background(int64_t now) {
  // Upstreams without a live path: HELLO their stable endpoints, backing off.
  for (auto& u : upstreams) {
    if (u.address == self.address()) continue;
    Peer* p = find_peer(u.address);
    if (!p) continue;
    if (p->best_path(now, path_alive_ms())) {
      u.retry_ms = 0;
      continue;
    }
    if (u.next_try > now) continue;
    for (const auto& ep : u.endpoints)
      if (path_allowed(u.address, -1, ep)) send_hello(now, *p, -1, &ep);
    u.retry_ms = u.retry_ms == 0 ? kRootRetryMinMs : std::min(u.retry_ms * 2, kRootRetryMaxMs);
    u.next_try = now + u.retry_ms;
  }
  // Keepalives and path expiry for everyone we have paths to.
  for (auto it = peers.begin(); it != peers.end();) {
    Peer& p = *it->second;
    std::erase_if(p.paths, [&](const Path& x) { return now - x.last_receive > kPathExpirationMs; });
    // Unconfirmed paths: the confirming HELLO or its OK may have been lost, and the peer may
    // stay quiet for a whole heartbeat period; retry a few times (still ≤ 1/s per path).
    for (auto c = p.confirm_attempts.begin(); c != p.confirm_attempts.end();) {
      Peer::PathConfirm& pc = c->second;
      if (now - pc.last_heard > kPathExpirationMs) {
        c = p.confirm_attempts.erase(c);
        continue;
      }
      if (now - pc.last_heard < kPathConfirmWindowMs && pc.retries < kPathConfirmRetries &&
          now - pc.last_sent >= kPathConfirmIntervalMs) {
        ++pc.retries;
        pc.last_sent = now;
        InetAddress a = c->first;
        send_hello(now, p, pc.local_socket, &a);
      }
      ++c;
    }
    if (p.paths.empty() && p.role == PeerRole::Leaf && now - std::max(p.last_receive, p.created) > kForgetPeerMs) {
      it = peers.erase(it);
      continue;
    }
    const bool full_hello = now - p.last_hello_sent >= kPeerPingPeriodMs;
    for (auto& path : p.paths) {
      if (now - path.last_receive >= path_alive_ms()) continue;
      if (full_hello) {
        InetAddress a = path.address;
        send_hello(now, p, path.local_socket, &a);
      } else if (now - path.last_send >= opts.heartbeat_ms) {
        InetAddress a = path.address;
        if (p.protocol_version >= 5) {
          Echo e;
          send_message(now, p, e, false, Verb::Echo, path.local_socket, &a);
        } else {
          send_hello(now, p, path.local_socket, &a);
        }
      }
    }
    ++it;
  }
  // Held packets: retry WHOIS, expire.
  while (!held.empty() && now - held.front().at > kQueueTimeoutMs) {
    held.pop_front();
    ++counters.dropped_unknown_peer;
  }
  while (!pending_out.empty() && now - pending_out.front().at > kQueueTimeoutMs) {
    trace(trace_code::kSendFailed, std::string(verb_name(pending_out.front().verb)) + " to " + address_to_string(pending_out.front().dest) +
          " expired: identity unknown or no route", pending_out.front().dest, "expired: identity unknown or no route");
    pending_out.pop_front();
  }
  flush_pending(now);
  for (const auto& h : held) send_whois(now, h.source);
  for (const auto& o : pending_out)
    if (!find_peer(o.dest)) send_whois(now, o.dest);
  // Moons we orbit but do not have yet: keep asking the seed (§5.1: OK(HELLO) carries them).
  for (auto& o : orbits) {
    if (o.seed == 0 || has_moon(o.id) || o.next_try > now) continue;
    o.next_try = now + kOrbitRetryMs;
    if (Peer* p = find_peer(o.seed)) send_hello(now, *p, -1, nullptr);
    else send_whois(now, o.seed);
  }
  std::erase_if(expecting, [&](const auto& kv) { return now - kv.second.at > kExpectReplyMs; });
  std::erase_if(identity_checks, [&](const auto& kv) { return now - kv.second > 60000; });
  std::erase_if(last_unite, [&](const auto& kv) { return now - kv.second > kMinUniteIntervalMs; });
  std::erase_if(whois_last, [&](const auto& kv) { return now - kv.second > 60000; });
  defrag.expire(now);
  update_online(now);
  if (vl2) vl2->on_timer(now);
}

int64_t Vl1::next_deadline(int64_t now) const {
  int64_t d = now + kTimerGranularityMs * (held.empty() && pending_out.empty() ? 4 : 1);
  for (const auto& u : upstreams)
    if (u.retry_ms != 0 && u.next_try > now) d = std::min(d, u.next_try);
  return d;
}

// ---- Moons (§5.1) ----------------------------------------------------------------------------

Status Vl1::orbit(int64_t now, uint64_t moon_id, Address seed) {
  for (const auto& o : orbits)
    if (o.id == moon_id) return ok_status();
  orbits.push_back({moon_id, seed});
  if (!has_moon(moon_id)) {
    if (auto b = host.state_get(StateObject::Moon, moon_id)) {
      auto w = World::parse(*b);
      if (w.ok() && w->type == World::Type::Moon && w->id == moon_id && w->verify()) {
        moons.push_back(*w);
        rebuild_upstreams(now);
      }
    }
  }
  if (!has_moon(moon_id) && seed != 0) {
    // Ask the seed (its OK(HELLO) carries the moon); background retries until it answers.
    if (Peer* p = find_peer(seed)) send_hello(now, *p, -1, nullptr);
    else send_whois(now, seed);
    orbits.back().next_try = now + kOrbitRetryMs;
  }
  drain_replay(now);
  return ok_status();
}

Status Vl1::deorbit(int64_t now, uint64_t moon_id) {
  std::erase_if(orbits, [&](const Orbit& o) { return o.id == moon_id; });
  const size_t before = moons.size();
  std::erase_if(moons, [&](const World& w) { return w.id == moon_id; });
  if (moons.size() != before) {
    host.state_put(StateObject::Moon, moon_id, {});
    rebuild_upstreams(now);
  }
  return ok_status();
}

// ---- Switch: any address, known or not (§16.1.4) ------------------------------------------------

// Sends to an address; queues (for kQueueTimeoutMs) when the peer is not known yet (and
// WHOISes it) or when there is no route to it at the moment (no upstream path).
Status Vl1::send_to(int64_t now, Address dest, const Message& m, bool compress, Verb expect) {
  Peer* p = find_peer(dest);
  if (!p || !route(now, *p)) {
    Writer w;
    encode_message(m, w);
    if (pending_out.size() >= kMaxPendingOut) pending_out.pop_front();
    pending_out.push_back(PendingOut{dest, message_verb(m), w.take(), now, compress, expect});
    if (!p) send_whois(now, dest);
    return ok_status();
  }
  if (send_message(now, *p, m, compress, expect) == 0)
    return err(std::string(verb_name(message_verb(m))) + " to " + address_to_string(dest) +
               " not sent: larger than " + std::to_string(kMaxFragments) + " fragments at MTU " +
               std::to_string(opts.phys_mtu));
  return ok_status();
}

void Vl1::flush_pending(int64_t now) {
  for (auto it = pending_out.begin(); it != pending_out.end();) {
    Peer* p = find_peer(it->dest);
    if (!p || !route(now, *p)) {
      ++it;
      continue;
    }
    PendingOut o = std::move(*it);
    it = pending_out.erase(it);
    send_payload(now, *p, o.verb, o.payload, o.compress, o.expect);
  }
}

}  // namespace zt::core
