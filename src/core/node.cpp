// core::Node: the public face of one node. It owns the two layers side by side — VL1 (peers,
// paths, packets: vl1.cpp) and VL2 (virtual networks: network*.cpp) — and wires them together
// through the seam in core/vl1_port.hpp: VL2 sees VL1 only as a Vl1Port, VL1 hands packets up
// to a Vl2Handler. The methods here only forward.
#include "core/node.hpp"

#include <algorithm>

#include "core/network.hpp"
#include "core/vl1.hpp"

namespace zt::core {

using namespace zt::proto;

struct Node::Impl {
  Impl(Host& host, NodeOptions opts) : vl1(host, std::move(opts)), vl2(host, vl1) { vl1.attach(&vl2); }
  Vl1 vl1;
  Vl2 vl2;
};

Node::Node(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Node::~Node() = default;

Result<std::unique_ptr<Node>> Node::create(Host& host, NodeOptions opts, int64_t now) {
  if (!opts.identity.has_private()) return err("node identity has no private key");
  if (address_reserved(opts.identity.address())) return err("node identity has a reserved address");
  auto impl = std::make_unique<Impl>(host, std::move(opts));
  auto st = impl->vl1.start(now);
  if (!st.ok()) return st.take_error();
  return std::unique_ptr<Node>(new Node(std::move(impl)));
}

// ---- VL1 ------------------------------------------------------------------------------------

int64_t Node::process_wire_packet(int64_t now, int64_t local_socket, const InetAddress& from, ByteSpan datagram) {
  return impl_->vl1.receive(now, local_socket, from, datagram);
}

int64_t Node::process_background_tasks(int64_t now) {
  impl_->vl1.process_background(now);
  return impl_->vl1.next_deadline(now);
}

Status Node::orbit(int64_t now, uint64_t moon_id, Address seed) { return impl_->vl1.orbit(now, moon_id, seed); }
Status Node::deorbit(int64_t now, uint64_t moon_id) { return impl_->vl1.deorbit(now, moon_id); }

Status Node::send_user_message(int64_t now, Address dest, uint64_t type_id, ByteSpan data) {
  Vl1& I = impl_->vl1;
  if (dest == I.self.address()) return err("cannot send a user message to ourselves");
  if (data.size() > kMaxPayloadSize - 8) return err(ErrorKind::TooLarge, "user message too large (max " + std::to_string(kMaxPayloadSize - 8) + " bytes)");
  UserMessage um;
  um.type_id = type_id;
  um.data = data;
  return I.send_to(now, dest, um, true);
}

Status Node::ping(int64_t now, Address dest) {
  Echo e;
  return impl_->vl1.send_to(now, dest, e, false, Verb::Echo);
}

Address Node::address() const { return impl_->vl1.self.address(); }
const Identity& Node::identity() const { return impl_->vl1.self; }
const Counters& Node::counters() const { return impl_->vl1.counters; }
bool Node::online() const { return impl_->vl1.online; }

NodeStatus Node::status(int64_t now) const {
  const Vl1& I = impl_->vl1;
  NodeStatus s;
  s.address = I.self.address();
  s.public_identity = I.self.to_string(false);
  s.online = I.online;
  s.planet_id = I.planet.id;
  s.planet_timestamp = I.planet.timestamp;
  for (const auto& m : I.moons) s.moons.push_back(m.id);
  return s;
}

static PeerInfo peer_info(int64_t now, Peer& p, int64_t alive_ms) {
  PeerInfo i;
  i.address = p.identity.address();
  i.role = p.role;
  i.protocol_version = p.protocol_version;
  i.version_major = p.version_major;
  i.version_minor = p.version_minor;
  i.version_revision = p.version_revision;
  i.latency_ms = p.latency_ms;
  Path* best = p.best_path(now, alive_ms);
  i.direct = best != nullptr;
  for (const auto& x : p.paths) {
    PathInfo pi;
    pi.address = x.address;
    pi.local_socket = x.local_socket;
    pi.last_send = x.last_send;
    pi.last_receive = x.last_receive;
    pi.alive = now - x.last_receive < alive_ms;
    pi.preferred = &x == best;
    i.paths.push_back(pi);
  }
  return i;
}

std::vector<PeerInfo> Node::peers(int64_t now) const {
  std::vector<PeerInfo> out;
  for (auto& [a, p] : impl_->vl1.peers) out.push_back(peer_info(now, *p, impl_->vl1.path_alive_ms()));
  std::sort(out.begin(), out.end(), [](const PeerInfo& a, const PeerInfo& b) { return a.address < b.address; });
  return out;
}

std::optional<PeerInfo> Node::peer(int64_t now, Address a) const {
  Peer* p = impl_->vl1.find_peer(a);
  if (!p) return std::nullopt;
  return peer_info(now, *p, impl_->vl1.path_alive_ms());
}

// ---- VL2 ------------------------------------------------------------------------------------

Status Node::join(int64_t now, uint64_t nwid) { return impl_->vl2.join(now, nwid); }
Status Node::leave(int64_t now, uint64_t nwid) { return impl_->vl2.leave(now, nwid); }
std::vector<NetworkInfo> Node::networks() const { return impl_->vl2.networks(); }
std::optional<NetworkInfo> Node::network(uint64_t nwid) const { return impl_->vl2.network(nwid); }

Result<std::string> Node::explain_frame(uint64_t nwid, ByteSpan frame, bool inbound, Address peer) const {
  return impl_->vl2.explain(nwid, frame, inbound, peer);
}

Status Node::send_frame(int64_t now, uint64_t nwid, proto::Mac src, proto::Mac dst, uint16_t ethertype,
                        uint16_t vlan, ByteSpan data) {
  Status st = impl_->vl2.send_frame(now, nwid, src, dst, ethertype, vlan, data);
  impl_->vl2.flush_local_frames();  // after the send: the host is never re-entered (§16.1.6)
  return st;
}

Status Node::multicast_subscribe(int64_t now, uint64_t nwid, const proto::MulticastGroup& g) {
  return impl_->vl2.subscribe(now, nwid, g);
}
Status Node::multicast_unsubscribe(int64_t now, uint64_t nwid, const proto::MulticastGroup& g) {
  return impl_->vl2.unsubscribe(now, nwid, g);
}
void Node::set_controller(NetworkController* c) { impl_->vl2.set_controller(c); }

}  // namespace zt::core
