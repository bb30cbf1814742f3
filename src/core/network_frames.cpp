// VL2, unicast frames: the outbound switch (§16.2: rules, NDP emulation, own MAC, ZeroTier MAC,
// bridged MACs) and the inbound FRAME / EXT_FRAME paths (§16.4.1, §16.4.2).
#include "core/network.hpp"

#include <algorithm>

#include "base/hex.hpp"
#include "core/filter_trace.hpp"
#include "core/rules_engine.hpp"
#include "core/rules_explain.hpp"

namespace zt::core {

using namespace zt::proto;
using namespace vl2_limits;

// An EXT_FRAME (§3.6) without a COM: the form every copy, redirect and bridged frame we send takes.
static ExtFrame ext_frame(uint64_t nwid, uint8_t flags, Mac to, Mac from, uint16_t ethertype, ByteSpan payload) {
  ExtFrame x;
  x.nwid = nwid;
  x.flags = flags;
  x.to = to;
  x.from = from;
  x.ethertype = ethertype;
  x.payload = payload;
  return x;
}

// ---- Outbound frames (§16.2) ---------------------------------------------------------------------

void Vl2::deliver(uint64_t nwid, Mac src, Mac dst, uint16_t ethertype, uint16_t vlan, ByteSpan data) {
  host_.frame(nwid, src, dst, ethertype, vlan, data);
}

void Vl2::flush_local_frames() {
  auto frames = std::move(local_frames_);
  local_frames_.clear();
  for (auto& f : frames) deliver(f.nwid, f.src, f.dst, f.ethertype, f.vlan, f.data);
}

bool Vl2::filter(int64_t now, Network& net, bool inbound, Address zt_src, Address& zt_dst, Mac msrc, Mac mdst,
                 uint16_t ethertype, uint16_t vlan, ByteSpan data, bool no_tee, bool* super_accept) {
  FilterFrame fr;
  fr.inbound = inbound;
  fr.source = zt_src;
  fr.destination = zt_dst;
  fr.mac_source = msrc;
  fr.mac_dest = mdst;
  fr.ethertype = ethertype;
  fr.vlan_id = vlan;
  fr.payload = data;
  const Address peer = inbound ? zt_src : zt_dst;
  FilterEnv env{*net.config, self(), peer != 0 ? &member(net, peer).m : nullptr,
                [this]() { return uint32_t(vl1_.random_u64()); }};
  FilterResult out = inbound ? filter_inbound(env, fr) : filter_outbound(env, fr, !no_tee);
  // 2006: a drop is a local Trace event; every outcome goes to the network's trace target
  // when it has one at level >= 15 (§15).
  const bool drop = out.verdict == FilterVerdict::Drop;
  const Address tt = net.config->remote_trace_target;
  if (drop || (tt != 0 && tt != self() && net.config->remote_trace_level >= trace_level::kRules)) {
    const TraceInfo t = filter_trace_info(env, fr, out, net.nwid, no_tee);
    std::string text;
    if (drop)
      text = std::string(inbound ? "incoming" : "outgoing") + " frame on " + to_hex(net.nwid, 16) + " blocked by the network rules (" +
             msrc.to_string() + " -> " + mdst.to_string() + ", ethertype " + to_hex(ethertype, 4) + "): " + t.reason;
    trace_net(now, net, std::move(text), t, drop);
  }
  // TEE/WATCH copies (§8.2), sent as EXT_FRAME with the reference's flag bytes (§3.6).
  for (const CopyTarget& c : out.copy_targets()) {
    if (c.address == 0 || c.address == self()) continue;
    const uint8_t flags = inbound ? (c.watch ? kExtFrameFlagsWatchInbound : kExtFrameFlagsTeeInbound)
                                  : (c.watch ? kExtFrameFlagsWatchOutbound : kExtFrameFlagsTeeOutbound);
    const ByteSpan copy = data.first(std::min<size_t>(data.size(), c.length ? c.length : data.size()));
    const ExtFrame x = ext_frame(net.nwid, flags, mdst, msrc, ethertype, copy);
    (void)vl1_.send_to(now, c.address, x, true);
  }
  if (out.verdict == FilterVerdict::Redirect) {
    if (out.redirect_to != 0 && out.redirect_to != self()) {
      const uint8_t flags = inbound ? kExtFrameFlagsRedirectInbound : kExtFrameFlagsRedirectOutbound;
      const ExtFrame x = ext_frame(net.nwid, flags, mdst, msrc, ethertype, data);
      (void)vl1_.send_to(now, out.redirect_to, x, true);
    }
    return false;
  }
  if (super_accept) *super_accept = out.verdict == FilterVerdict::SuperAccept;
  return out.passed();
}

Status Vl2::send_frame(int64_t now, uint64_t nwid, Mac src, Mac dst, uint16_t ethertype, uint16_t vlan, ByteSpan data) {
  Network* netp = find(nwid);
  if (!netp) return err(ErrorKind::NotFound, "network " + to_hex(nwid, 16) + " is not joined");
  Network& net = *netp;
  if (!net.config) {
    trace(trace_code::kOutgoingFrameDropped, nwid, "frame on " + to_hex(nwid, 16) + " dropped: no network config yet",
          "no network config yet");
    return ok_status();
  }
  if (data.size() > net.config->mtu) return err(ErrorKind::TooLarge, "frame of " + std::to_string(data.size()) + " bytes exceeds the network MTU " + std::to_string(net.config->mtu));
  const Mac mine = net.mac(self());
  const bool bridged = src != mine;
  // 2000 OUTGOING_NETWORK_FRAME_DROPPED with a §15 reason; `local` false when the filter's
  // 2006 event already told the host.
  auto dropped = [&](Address to, const char* reason, std::string detail = {}, bool local = true) {
    const TraceInfo t = frame_trace(trace_code::kOutgoingFrameDropped, nwid, to, false, src, dst, ethertype, vlan, data, reason);
    trace_net(now, net, "outgoing frame dropped on " + to_hex(nwid, 16) + ": " + reason + detail, t, local);
  };
  if (bridged && !net.am_bridge(self())) {
    dropped(0, "not a bridge", " (source MAC " + src.to_string() + " is not ours, " + mine.to_string() + ")");
    return ok_status();
  }
  if (dst.is_multicast()) {
    MulticastGroup g{dst, 0};
    if (dst.is_broadcast()) {
      if (ethertype == 0x0806 && data.size() >= 28 && data[2] == 0x08 && data[3] == 0x00 && data[4] == 6 && data[5] == 4 && data[7] == 1) {
        g.adi = load_be32(data.data() + 24);
      } else if (!(net.config->flags & NetworkConfig::kFlagEnableBroadcast)) {
        dropped(0, "broadcast disabled");
        return ok_status();
      }
    } else if (ethertype == 0x86DD && data.size() >= 64 && (net.config->flags & NetworkConfig::kFlagNdpEmulation)) {
      if (ndp_emulate(net, src, data)) return ok_status();
    }
    if (net.config->multicast_limit == 0) {
      dropped(0, "multicast disabled");
      return ok_status();
    }
    if (bridged) {
      const bool fresh = !net.bridged_groups.count(g);
      net.bridged_groups[g] = now;
      if (fresh) {
        for (Address u : upstream_set(net)) announce(now, net, {g}, u);
      }
    }
    Address none = 0;
    if (!filter(now, net, false, self(), none, src, dst, ethertype, vlan, data, false, nullptr)) {
      dropped(0, "filter blocked", {}, false);
      return ok_status();
    }
    send_multicast(now, net, 0, g, bridged ? std::optional<Mac>(src) : std::nullopt, ethertype, data);
    return ok_status();
  }
  if (dst == mine) {
    local_frames_.push_back({nwid, src, dst, ethertype, vlan, Bytes(data.begin(), data.end())});
    return ok_status();
  }
  if (dst.is_network_mac(nwid)) {
    Address to = dst.to_address(nwid);
    if (!filter(now, net, false, self(), to, src, dst, ethertype, vlan, data, false, nullptr)) {
      dropped(to, "filter blocked", {}, false);
      return ok_status();
    }
    push_credentials(now, net, to, false);
    if (!bridged) {
      Frame f;
      f.nwid = nwid;
      f.ethertype = ethertype;
      f.payload = data;
      (void)vl1_.send_to(now, to, f, false);
    } else {
      const ExtFrame x = ext_frame(nwid, 0, dst, src, ethertype, data);
      (void)vl1_.send_to(now, to, x, false);
    }
    return ok_status();
  }
  // Unicast to a MAC bridged behind a remote node (§16.2.8).
  Address none = 0;
  if (!filter(now, net, false, self(), none, src, dst, ethertype, vlan, data, false, nullptr)) {
    dropped(0, "filter blocked", {}, false);
    return ok_status();
  }
  std::vector<Address> targets;
  auto br = net.bridge_routes.find(dst);
  if (br != net.bridge_routes.end() && br->second != self() && net.is_bridge(br->second)) {
    targets.push_back(br->second);
  } else {
    for (Address b : net.config->specialists_with(NetworkConfig::kSpecialistActiveBridge))
      if (b != self() && targets.size() < 32) targets.push_back(b);
  }
  for (Address t : targets) {
    Address to = t;
    if (!filter(now, net, false, self(), to, src, dst, ethertype, vlan, data, true, nullptr)) {
      dropped(t, "filter blocked (bridge replication)", {}, false);
      continue;
    }
    const ExtFrame x = ext_frame(nwid, 0, dst, src, ethertype, data);
    (void)vl1_.send_to(now, t, x, false);
  }
  return ok_status();
}

// §16.2.5: answer neighbor solicitations for managed addresses locally.
bool Vl2::ndp_emulate(Network& net, Mac src, ByteSpan d) {
  if (d[6] != 58 || d[40] != 135) return false;
  const uint8_t* t = d.data() + 48;
  const uint8_t* m = nullptr;
  Address z = 0;
  for (const auto& ip : net.config->static_ips) {
    if (!ip.is_v6()) continue;
    const uint8_t* b = ip.ip();
    if (ip.prefix_bits() == 88 && b[0] == 0xfd && b[9] == 0x99 && b[10] == 0x93 && std::equal(b, b + 11, t)) {
      z = load_be(t + 11, 5);
      m = b;
      break;
    }
    // 6PLANE is recognised by its prefix fc | h, h = low 32 bits of nwid ^ (nwid >> 32); another
    // fc…/40 static IP is not one.
    const uint32_t h = uint32_t(net.nwid ^ (net.nwid >> 32));
    if (ip.prefix_bits() == 40 && b[0] == 0xfc && load_be32(b + 1) == h && std::equal(b, b + 5, t)) {
      z = load_be(t + 5, 5);
      m = b;
      break;
    }
  }
  if (!m || z == 0 || z == self()) return false;
  const Mac zmac = Mac::from_address(z, net.nwid);
  uint8_t na[72] = {};
  na[0] = 0x60;
  na[5] = 0x20;
  na[6] = 0x3a;
  na[7] = 0xff;
  std::copy(t, t + 16, na + 8);
  std::copy(m, m + 16, na + 24);
  na[40] = 0x88;
  na[44] = 0x60;
  std::copy(t, t + 16, na + 48);
  na[64] = 0x02;
  na[65] = 0x01;
  store_be(na + 66, zmac.value(), 6);
  // ICMPv6 checksum over the pseudo-header and the 32-byte body.
  uint32_t sum = 0;
  auto add = [&](const uint8_t* p, size_t n) {
    for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t(p[i] << 8 | p[i + 1]);
  };
  add(na + 8, 32);
  sum += 32;
  sum += 58;
  add(na + 40, 32);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  store_be16(na + 42, uint16_t(~sum));
  local_frames_.push_back({net.nwid, zmac, src, 0x86DD, 0, Bytes(na, na + 72)});
  return true;
}


// ---- Inbound (§16.4) -------------------------------------------------------------------------------

void Vl2::need_credentials(int64_t now, Address from, const PacketView& pv, uint64_t nwid) {
  ErrorMessage e;
  e.in_re_verb = pv.verb();
  e.in_re_packet_id = pv.packet_id();
  e.code = ErrorCode::NeedMembershipCertificate;
  e.body = ErrorNetwork{nwid, std::nullopt};
  (void)vl1_.send_to(now, from, e, false);
}

bool Vl2::on_frame(int64_t now, Address from, const PacketView& pv, const Frame& f) {
  Network* net = find(f.nwid);
  if (!net) return true;
  if (!gate(now, *net, from)) {
    need_credentials(now, from, pv, f.nwid);
    return false;
  }
  if (f.payload.empty()) return true;
  const Mac src = Mac::from_address(from, f.nwid), dst = net->mac(self());
  Address me = self();
  if (filter(now, *net, true, from, me, src, dst, f.ethertype, 0, f.payload, false, nullptr))
    deliver(f.nwid, src, dst, f.ethertype, 0, f.payload);
  return true;
}

bool Vl2::on_ext_frame(int64_t now, Address from, const PacketView& pv, const ExtFrame& f) {
  Network* net = find(f.nwid);
  if (!net) return true;
  if (f.com) offer_com(now, *net, from, *f.com);
  if (!gate(now, *net, from)) {
    TraceInfo t = frame_trace(trace_code::kIncomingAccessDenied, f.nwid, from, true, f.from, f.to, f.ethertype, 0, f.payload,
                              "access denied");
    t.packet_id = pv.packet_id();
    t.packet_verb = int(pv.verb());
    trace_net(now, *net, "access denied on " + to_hex(f.nwid, 16) + " for " + address_to_string(from) + ": credentials requested", t);
    need_credentials(now, from, pv, f.nwid);
    return false;
  }
  const Mac mine = net->mac(self());
  if (f.from.empty() || f.from == mine) return true;
  // 2002 INCOMING_NETWORK_FRAME_DROPPED with a §15 reason.
  auto dropped = [&](const char* reason) {
    TraceInfo t = frame_trace(trace_code::kIncomingFrameDropped, f.nwid, from, true, f.from, f.to, f.ethertype, 0, f.payload, reason);
    t.packet_id = pv.packet_id();
    t.packet_verb = int(pv.verb());
    trace_net(now, *net, "incoming frame dropped on " + to_hex(f.nwid, 16) + " from " + address_to_string(from) + ": " + reason, t);
  };
  Address me = self();
  bool super = false;
  const bool accepted = filter(now, *net, true, from, me, f.from, f.to, f.ethertype, 0, f.payload, false, &super);
  if (accepted && !super) {
    if (f.from != Mac::from_address(from, f.nwid)) {
      if (!net->is_bridge(from)) {
        dropped("bridging not allowed (remote)");
        return true;
      }
      net->bridge_routes[f.from] = from;
    } else if (f.to != mine && f.to.is_multicast()) {
      if (net->config->multicast_limit == 0) {
        dropped("multicast disabled");
        return true;
      }
    } else if (f.to != mine && !net->am_bridge(self())) {
      dropped("bridging not allowed (local)");
      return true;
    }
  }
  if (accepted) deliver(f.nwid, f.from, f.to, f.ethertype, 0, f.payload);
  if (f.flags & ExtFrame::kFlagAckRequested) {
    OkMessage ok;
    ok.in_re_verb = Verb::ExtFrame;
    ok.in_re_packet_id = pv.packet_id();
    ok.body = OkExtFrame{f.nwid};
    (void)vl1_.send_to(now, from, ok, false);
  }
  return true;
}

Result<std::string> Vl2::explain(uint64_t nwid, ByteSpan frame, bool inbound, Address peer) const {
  auto it = nets_.find(nwid);
  if (it == nets_.end()) return err(ErrorKind::NotFound, "network " + proto::network_id_to_string(nwid) + " is not joined");
  const Network& net = it->second;
  if (!net.config) return err(ErrorKind::State, "network " + proto::network_id_to_string(nwid) + " has no config yet");
  FilterFrame fr;
  if (!parse_ethernet_frame(frame, fr))
    return err("not an Ethernet frame (" + std::to_string(frame.size()) + " bytes, the header needs 14)");
  peer &= 0xffffffffffULL;
  if (peer == 0) {  // the member behind the frame's MAC (0 for multicast / a foreign MAC)
    const Mac m = inbound ? fr.mac_source : fr.mac_dest;
    if (!m.is_multicast() && m.is_network_mac(nwid)) peer = m.to_address(nwid);
  }
  if (peer == self()) return err("the peer must be another member, not this node");
  fr.inbound = inbound;
  fr.source = inbound ? peer : self();
  fr.destination = inbound ? self() : peer;
  auto m = peer != 0 ? net.members.find(peer) : net.members.end();
  // No random source: MATCH_RANDOM sees 0 (always matches). Nothing is sent or stored.
  FilterEnv env{*net.config, self(), m != net.members.end() ? &m->second.m : nullptr, {}};
  return explanation_json(explain_filter(env, fr, true));
}

}  // namespace zt::core
