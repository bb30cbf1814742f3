// VL2, multicast (§16.3): subscriptions and MULTICAST_LIKE, member tracking, GATHER, sending a
// multicast, and the inbound MULTICAST_FRAME path (§16.4.3).
#include "core/network.hpp"

#include <algorithm>

#include "base/hex.hpp"
#include "core/rules_engine.hpp"

namespace zt::core {

using namespace zt::proto;
using namespace vl2_limits;

// ---- Multicast (§16.3) ---------------------------------------------------------------------------

std::vector<MulticastGroup> Vl2::announced_groups(const Network& net) const {
  std::set<MulticastGroup> all(net.subscriptions.begin(), net.subscriptions.end());
  all.insert(net.address_groups.begin(), net.address_groups.end());
  for (const auto& [g, t] : net.bridged_groups) all.insert(g);
  if (net.config && (net.config->flags & NetworkConfig::kFlagEnableBroadcast)) all.insert(MulticastGroup::broadcast());
  return {all.begin(), all.end()};
}

std::vector<Address> Vl2::upstream_set(const Network& net) const {
  std::vector<Address> out;
  auto add = [&](Address a) {
    if (a != self() && std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  };
  if (net.config)
    for (Address a : net.config->specialists_with(NetworkConfig::kSpecialistAnchor | NetworkConfig::kSpecialistMulticastReplicator)) add(a);
  add(net.nwid >> 24);
  for (Address u : vl1_.upstream_addresses()) add(u);
  return out;
}

void Vl2::announce(int64_t now, Network& net, const std::vector<MulticastGroup>& groups, Address to) {
  if (groups.empty() || to == self()) return;
  MulticastLike like;
  for (const auto& g : groups) {
    like.entries.push_back({net.nwid, g});
    if (like.entries.size() >= 554) {
      (void)vl1_.send_to(now, to, like, true);
      like.entries.clear();
    }
  }
  if (!like.entries.empty()) (void)vl1_.send_to(now, to, like, true);
}

void Vl2::announce_to_members(int64_t now, Network& net, const std::vector<MulticastGroup>& groups) {
  if (!net.config || groups.empty()) return;
  const auto ups = upstream_set(net);
  for (auto& [a, m] : net.members) {
    if (std::find(ups.begin(), ups.end(), a) != ups.end()) continue;
    const Identity* id = identity_of(a);
    if (id && m.m.gate(*net.config, *id)) announce(now, net, groups, a);
  }
}

Status Vl2::subscribe(int64_t now, uint64_t nwid, const MulticastGroup& g) {
  Network* net = find(nwid);
  if (!net) return err(ErrorKind::NotFound, "network " + to_hex(nwid, 16) + " is not joined");
  if (!net->subscriptions.insert(g).second) return ok_status();
  if (net->address_groups.count(g)) return ok_status();  // already announced as an address group
  // A new group is announced at once (§16.3.2), to the upstream set and the allowed members.
  for (Address u : upstream_set(*net)) announce(now, *net, {g}, u);
  announce_to_members(now, *net, {g});
  return ok_status();
}

// Host-like subscriptions (§4.3): a ZeroTier host's tap subscribes the address-resolution
// group of each of its IPs, so that ARP requests (sent to ff:ff:ff:ff:ff:ff with ADI = the
// target IPv4, §16.2.3) and neighbour solicitations (33:33:ff + the target's last 3 bytes)
// reach it. Without a tap we do it for the addresses the config assigns: every IPv4, and
// every IPv6 — the RFC4193 and 6PLANE ones too, although a stock sender with NDP emulation
// answers those itself (§16.2.5): the reference's host subscribes them as well (vectors in
// §4.3), and a sender without emulation (flag off, or bridged) still solicits. Link-local
// addresses are not in the config; an IP stack over the node subscribes its own.
// The reference service rescans its tap every 5 s and subscribes what is new; we follow the
// config directly, so the groups change with it. Groups no longer held are dropped without a
// message (the protocol has no "unlike"; remote members forget us after 600 s).
void Vl2::update_address_groups(int64_t now, Network& net) {
  std::set<MulticastGroup> now_held;
  if (net.config)
    for (const auto& ip : net.config->static_ips)
      if (auto g = MulticastGroup::for_ip(ip)) now_held.insert(*g);
  std::vector<MulticastGroup> added;
  for (const auto& g : now_held)
    if (!net.address_groups.count(g) && !net.subscriptions.count(g)) added.push_back(g);
  net.address_groups = std::move(now_held);
  // The upstream set gets every announced group from apply_config; members get the new ones.
  announce_to_members(now, net, added);
}

Status Vl2::unsubscribe(int64_t now, uint64_t nwid, const MulticastGroup& g) {
  Network* net = find(nwid);
  if (!net) return err(ErrorKind::NotFound, "network " + to_hex(nwid, 16) + " is not joined");
  net->subscriptions.erase(g);
  return ok_status();
}

bool Vl2::subscribed_or_behind(const Network* net, const MulticastGroup& g) const {
  if (!net) return false;
  if (net->subscriptions.count(g) || net->address_groups.count(g) || net->bridged_groups.count(g)) return true;
  return g == MulticastGroup::broadcast() && net->config && (net->config->flags & NetworkConfig::kFlagEnableBroadcast);
}

void Vl2::add_group_member(int64_t now, uint64_t nwid, const MulticastGroup& g, Address a) {
  if (a == self()) return;
  GroupState& gs = groups_[{nwid, g}];
  const bool fresh = !gs.members.count(a);
  gs.members[a] = now;
  if (!fresh) return;
  Network* net = find(nwid);
  if (!net || !net->config) return;
  for (auto& pm : gs.pending) {
    if (pm.sent_to.size() >= pm.limit || pm.sent_to.count(a)) continue;
    send_multicast_copy(now, *net, pm, a, 0);
  }
  std::erase_if(gs.pending, [](const PendingMulticast& p) { return p.sent_to.size() >= p.limit; });
}

GatherResults Vl2::gather_results(uint64_t nwid, const MulticastGroup& g, Address requester, uint32_t limit) {
  GatherResults r;
  const Network* net = nets_.count(nwid) ? &nets_.at(nwid) : nullptr;
  const bool me = subscribed_or_behind(net, g);
  std::vector<Address> members;
  auto it = groups_.find({nwid, g});
  if (it != groups_.end())
    for (const auto& [a, t] : it->second.members)
      if (a != requester) members.push_back(a);
  r.total_known = uint32_t((it != groups_.end() ? it->second.members.size() : 0) + (me ? 1 : 0));
  limit = std::min<uint32_t>(limit, 65535);
  if (me && r.members.size() < limit) r.members.push_back(self());
  // Random order (Fisher-Yates with the injected randomness).
  for (size_t i = members.size(); i > 1; --i) std::swap(members[i - 1], members[vl1_.random_u64() % i]);
  for (Address a : members) {
    if (r.members.size() >= limit || r.members.size() >= 1900) break;
    r.members.push_back(a);
  }
  return r;
}

void Vl2::gather(int64_t now, Network& net, const MulticastGroup& g, unsigned limit) {
  std::vector<Address> targets;
  if (Address up = vl1_.best_upstream_address(now)) targets.push_back(up);
  targets.push_back(net.nwid >> 24);
  for (Address a : net.config->specialists_with(NetworkConfig::kSpecialistAnchor | NetworkConfig::kSpecialistMulticastReplicator))
    if (targets.size() < 16) targets.push_back(a);
  std::sort(targets.begin(), targets.end());
  targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
  MulticastGather mg;
  mg.nwid = net.nwid;
  mg.group = g;
  mg.limit = limit;
  if (net.config->com) mg.com = *net.config->com;
  for (Address t : targets)
    if (t != self()) (void)vl1_.send_to(now, t, mg, false, Verb::MulticastGather);
}

bool Vl2::send_multicast_copy(int64_t now, Network& net, PendingMulticast& pm, Address to, unsigned gather_limit) {
  pm.sent_to.insert(to);
  const Mac src = pm.source.value_or(net.mac(self()));
  Address dst = to;
  if (!filter(now, net, false, self(), dst, src, pm.group.mac, pm.ethertype, 0, pm.data, true, nullptr)) return false;
  push_credentials(now, net, to, false);
  MulticastFrame mf;
  mf.nwid = net.nwid;
  mf.gather_limit = gather_limit ? gather_limit : 1;
  mf.source = pm.source;
  mf.group = pm.group;
  mf.ethertype = pm.ethertype;
  mf.payload = pm.data;
  const bool compress = !(net.config->flags & NetworkConfig::kFlagDisableCompression);
  (void)vl1_.send_to(now, to, mf, compress, Verb::MulticastFrame);
  return true;
}

void Vl2::send_multicast(int64_t now, Network& net, Address origin, const MulticastGroup& g, std::optional<Mac> src,
                         uint16_t ethertype, ByteSpan data) {
  const unsigned ml = unsigned(net.config->multicast_limit);
  GroupState& gs = groups_[{net.nwid, g}];
  std::vector<Address> members;
  for (const auto& [a, t] : gs.members) members.push_back(a);
  for (size_t i = members.size(); i > 1; --i) std::swap(members[i - 1], members[vl1_.random_u64() % i]);
  std::vector<Address> bridges = net.config->specialists_with(NetworkConfig::kSpecialistActiveBridge);
  PendingMulticast pm;
  pm.created = now;
  pm.nwid = net.nwid;
  pm.group = g;
  pm.source = src;
  pm.ethertype = ethertype;
  pm.data.assign(data.begin(), data.begin() + std::min(data.size(), kMaxMulticastPayload));
  pm.limit = ml;
  const size_t known = members.size();
  const unsigned gather_limit = known >= ml ? 1 : unsigned(ml - known + 1);
  if (known < ml) {
    if (known == 0 || now - gs.last_gather >= kGatherDelayMs) {
      gs.last_gather = now;
      gather(now, net, g, gather_limit);
    }
    if (origin) pm.sent_to.insert(origin);
  }
  unsigned count = 0;
  for (Address b : bridges) {
    if (count >= ml) break;
    if (b == self() || b == origin) continue;
    send_multicast_copy(now, net, pm, b, gather_limit);
    ++count;
  }
  for (Address a : members) {
    if (count >= ml) break;
    if (a == origin || std::find(bridges.begin(), bridges.end(), a) != bridges.end()) continue;
    send_multicast_copy(now, net, pm, a, gather_limit);
    ++count;
  }
  if (known < ml) {
    while (gs.pending.size() >= kMaxPendingPerGroup) gs.pending.pop_front();
    gs.pending.push_back(std::move(pm));
  }
}


bool Vl2::on_multicast_frame(int64_t now, Address from, const PacketView& pv, const MulticastFrame& f) {
  Network* net = find(f.nwid);
  if (!net) return true;
  if (f.com) offer_com(now, *net, from, *f.com);
  if (!gate(now, *net, from)) {
    need_credentials(now, from, pv, f.nwid);
    return false;
  }
  const Mac sender_mac = Mac::from_address(from, f.nwid);
  const Mac src = f.source.value_or(sender_mac);
  // 2002 (network checks) or 1005 (malformed) with the §15 reason.
  auto dropped = [&](uint32_t code, const char* reason) {
    TraceInfo t = frame_trace(code, f.nwid, from, true, src, f.group.mac, f.ethertype, 0, f.payload, reason);
    t.packet_id = pv.packet_id();
    t.packet_verb = int(pv.verb());
    trace_net(now, *net, "incoming multicast dropped on " + to_hex(f.nwid, 16) + " from " + address_to_string(from) + ": " + reason, t);
  };
  if (net->config->multicast_limit == 0) {
    dropped(trace_code::kIncomingFrameDropped, "multicast disabled");
    return true;
  }
  if (!f.payload.empty() && f.payload.size() <= kMaxMulticastPayload) {
    if (!f.group.mac.is_multicast()) {
      dropped(trace_code::kPacketInvalid, "destination not multicast");
      return true;
    }
    if (src.empty() || src.is_multicast() || src == net->mac(self())) {
      dropped(trace_code::kPacketInvalid, "invalid source MAC");
      return true;
    }
    if (f.flags & MulticastFrame::kFlagReplicate) {
      bool replicator = false;
      for (Address a : net->config->specialists_with(NetworkConfig::kSpecialistMulticastReplicator)) replicator |= a == self();
      if (replicator) send_multicast(now, *net, from, f.group, src, f.ethertype, f.payload);
    }
    if (src != sender_mac) {
      if (!net->is_bridge(from)) {
        dropped(trace_code::kIncomingFrameDropped, "bridging not allowed (remote)");
        return true;
      }
      net->bridge_routes[src] = from;
    }
    Address me = self();
    if (filter(now, *net, true, from, me, src, f.group.mac, f.ethertype, 0, f.payload, false, nullptr))
      deliver(f.nwid, src, f.group.mac, f.ethertype, 0, f.payload);
  }
  if (f.gather_limit && *f.gather_limit > 0) {
    GatherResults r = gather_results(f.nwid, f.group, from, *f.gather_limit);
    if (!r.members.empty()) {
      OkMessage ok;
      ok.in_re_verb = Verb::MulticastFrame;
      ok.in_re_packet_id = pv.packet_id();
      OkMulticastFrame body;
      body.nwid = f.nwid;
      body.group = f.group;
      body.gathered = r;
      ok.body = body;
      (void)vl1_.send_to(now, from, ok, false);
    }
  }
  return true;
}

bool Vl2::authorized_for_multicast(int64_t now, uint64_t nwid, Address from) {
  if (nwid == 0) return false;
  if (Network* net = find(nwid); net && gate(now, *net, from)) return true;
  if (vl1_.is_root()) return true;
  auto it = configured_.find({nwid, from});
  return it != configured_.end() && now - it->second < kControllerMemoryMs;
}

void Vl2::on_like(int64_t now, Address from, const MulticastLike& l) {
  for (const auto& e : l.entries)
    if (authorized_for_multicast(now, e.nwid, from)) add_group_member(now, e.nwid, e.group, from);
}

void Vl2::on_gather(int64_t now, Address from, const PacketView& pv, const MulticastGather& g) {
  Network* net = find(g.nwid);
  if (g.com && net) offer_com(now, *net, from, *g.com);
  if (g.limit == 0 || !authorized_for_multicast(now, g.nwid, from)) return;
  GatherResults r = gather_results(g.nwid, g.group, from, g.limit);
  if (r.members.empty()) return;
  OkMessage ok;
  ok.in_re_verb = Verb::MulticastGather;
  ok.in_re_packet_id = pv.packet_id();
  OkMulticastGather body;
  body.nwid = g.nwid;
  body.group = g.group;
  body.gathered = r;
  ok.body = body;
  (void)vl1_.send_to(now, from, ok, false);
}

}  // namespace zt::core
