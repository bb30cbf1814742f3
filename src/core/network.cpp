// VL2: virtual networks. PROTOCOL.md §3.5–3.13, §9, §16.
#include "core/network.hpp"

#include <algorithm>
#include <numeric>

#include "base/hex.hpp"
#include "core/rules_engine.hpp"

namespace zt::core {

using namespace zt::proto;

namespace {

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
constexpr int64_t kRetryErrorMs = 500;
constexpr size_t kMaxRetryFrames = 32;
constexpr size_t kMaxPendingPerGroup = 32;
constexpr size_t kChunkMax = 9740;                 // config bytes per chunk (§3.10)
constexpr size_t kConfigCapacity = 400 * 1024;
constexpr size_t kMaxMulticastPayload = 10000;

}  // namespace

const char* network_status_name(NetworkStatus s) {
  switch (s) {
    case NetworkStatus::RequestingConfiguration: return "REQUESTING_CONFIGURATION";
    case NetworkStatus::Ok: return "OK";
    case NetworkStatus::AccessDenied: return "ACCESS_DENIED";
    case NetworkStatus::NotFound: return "NOT_FOUND";
    case NetworkStatus::PortError: return "PORT_ERROR";
    case NetworkStatus::ClientTooOld: return "CLIENT_TOO_OLD";
    case NetworkStatus::AuthenticationRequired: return "AUTHENTICATION_REQUIRED";
    default: return "UNKNOWN";
  }
}

bool Network::is_bridge(Address a) const {
  if (!config) return false;
  for (uint64_t s : config->specialists)
    if ((s & 0xffffffffffULL) == a && (s & NetworkConfig::kSpecialistActiveBridge)) return true;
  return false;
}

Vl2::Vl2(Node::Impl& n) : n_(n) {}

Address Vl2::self() const { return n_.self.address(); }

Network* Vl2::find(uint64_t nwid) {
  auto it = nets_.find(nwid);
  return it == nets_.end() ? nullptr : &it->second;
}

const Identity* Vl2::identity_of(Address a) {
  if (a == self()) return &n_.self;
  Peer* p = n_.find_peer(a);
  return p ? &p->identity : nullptr;
}

NetworkInfo Vl2::info_of(const Network& net) const {
  NetworkInfo i;
  i.nwid = net.nwid;
  i.mac = net.mac(self());
  i.status = net.status;
  i.has_config = net.config.has_value();
  i.authentication_url = net.auth_url;
  i.subscriptions.assign(net.subscriptions.begin(), net.subscriptions.end());
  if (net.config) {
    const auto& c = *net.config;
    i.name = c.name;
    i.is_public = !c.is_private();
    i.mtu = unsigned(c.mtu);
    i.broadcast = (c.flags & NetworkConfig::kFlagEnableBroadcast) != 0;
    i.multicast_limit = unsigned(c.multicast_limit);
    i.revision = c.revision;
    i.assigned_addresses = c.static_ips;
    i.routes = c.routes;
  }
  return i;
}

void Vl2::notify(Network& net, NetworkOp op) { n_.host.network_config(net.nwid, op, info_of(net)); }

// ---- Join / leave / config -------------------------------------------------------------------

Status Vl2::join(int64_t now, uint64_t nwid) {
  if (nwid == 0) return err("invalid network id 0");
  if (nets_.count(nwid)) return ok_status();
  Network& net = nets_[nwid];
  net.nwid = nwid;
  // A cached config lets the network work before the controller answers (§16.1.1).
  if (auto b = n_.host.state_get(StateObject::NetworkConfig, nwid)) {
    auto cfg = NetworkConfig::parse(*b);
    if (cfg.ok() && cfg->nwid == nwid && cfg->issued_to == self()) apply_config(now, net, *cfg, *b, false);
  }
  request_config(now, net);
  trace("joined network " + to_hex(nwid, 16));
  return ok_status();
}

Status Vl2::leave(int64_t now, uint64_t nwid) {
  Network* net = find(nwid);
  if (!net) return err(ErrorKind::NotFound, "network " + to_hex(nwid, 16) + " is not joined");
  notify(*net, NetworkOp::Destroy);
  n_.host.state_put(StateObject::NetworkConfig, nwid, {});
  nets_.erase(nwid);
  trace("left network " + to_hex(nwid, 16));
  return ok_status();
}

void Vl2::request_config(int64_t now, Network& net) {
  net.last_request = now;
  const Address controller = net.nwid >> 24;
  Dictionary md(1024);
  md.set_u64("v", NetworkConfig::kVersion);
  md.set_u64("vend", 1);
  md.set_u64("pv", kProtocolVersion);
  md.set_u64("majv", kWireVersionMajor);
  md.set_u64("minv", kWireVersionMinor);
  md.set_u64("revv", kWireVersionRevision);
  md.set_u64("mr", 1024);
  md.set_u64("mc", 128);
  md.set_u64("mcr", 64);
  md.set_u64("mt", 128);
  md.set_u64("f", 0);
  md.set_u64("revr", 1);
  md.set_string("o", "linux/x86_64");
  if (controller == self()) {
    if (!controller_) {
      net.status = NetworkStatus::NotFound;
      notify(net, NetworkOp::ConfigUpdate);
      return;
    }
    ConfigRequest req;
    req.nwid = net.nwid;
    req.requester = n_.self;
    req.metadata = md.serialize();
    controller_->on_request(now, req);
    return;
  }
  Bytes mdb = md.serialize();
  NetworkConfigRequest r;
  r.nwid = net.nwid;
  r.metadata = mdb;
  r.held = NetworkConfigRequest::Held{net.config ? net.config->revision : 0, net.config ? net.config->timestamp : 0};
  (void)n_.send_to(now, controller, r, true, Verb::NetworkConfigRequest);
}

void Vl2::on_config_chunk(int64_t now, Address from, uint64_t packet_id, const ConfigChunk& c, bool push) {
  Network* net = find(c.nwid);
  if (!net) return;
  const Address controller = c.nwid >> 24;
  if (c.legacy) {
    if (push || from != controller) return;
    auto cfg = NetworkConfig::parse(c.data);
    if (cfg.ok()) apply_config(now, *net, *cfg, c.data, true);
    return;
  }
  if (c.index + uint64_t(c.data.size()) > c.total_length || c.total_length >= kConfigCapacity) return;
  const Identity* ctl = identity_of(controller);
  if (!ctl) {
    n_.send_whois(now, controller);
    return;
  }
  // Find the slot for this update, else the least-used one (§3.10).
  ChunkSlot* slot = nullptr;
  for (auto& s : net->slots)
    if (s.update_id == c.update_id) slot = &s;
  const uint64_t cid = c.chunk_id();
  if (slot && slot->chunk_ids.count(cid)) return;  // duplicate
  if (!slot) {
    slot = &net->slots[0];
    for (auto& s : net->slots)
      if (s.counter < slot->counter) slot = &s;
  }
  if (!c.verify(*ctl)) {
    trace("config chunk for " + to_hex(c.nwid, 16) + " has a bad signature; dropped");
    return;
  }
  if (slot->update_id != c.update_id) {
    *slot = ChunkSlot{};
    slot->update_id = c.update_id;
  }
  if (slot->chunk_ids.size() > kConfigCapacity / 1024 + 1) return;
  ++slot->counter;
  slot->chunk_ids.insert(cid);
  slot->total = c.total_length;
  if (slot->data.size() < c.total_length) slot->data.resize(c.total_length);
  std::copy(c.data.begin(), c.data.end(), slot->data.begin() + c.index);
  slot->received += c.data.size();
  if (slot->received != c.total_length) return;
  Bytes dict(slot->data.begin(), slot->data.begin() + c.total_length);
  const uint64_t update_id = slot->update_id;
  *slot = ChunkSlot{};
  auto cfg = NetworkConfig::parse(dict);
  if (!cfg.ok()) {
    trace("config for " + to_hex(c.nwid, 16) + " does not parse: " + cfg.error());
    return;
  }
  apply_config(now, *net, *cfg, dict, true);
  if (push) {
    // Acknowledge a pushed config: OK in re ECHO (reference quirk, §3.10).
    OkMessage ok;
    ok.in_re_verb = Verb::Echo;
    ok.in_re_packet_id = packet_id;
    Writer w;
    NetworkConfigAck{c.nwid, update_id}.encode(w);
    Bytes body = w.take();
    ok.body = OkEcho{body};
    (void)n_.send_to(now, from, ok, false);
  }
}

void Vl2::apply_config(int64_t now, Network& net, const NetworkConfig& cfg, ByteSpan dict, bool persist) {
  if (cfg.nwid != net.nwid || cfg.issued_to != self()) {
    trace("config for " + to_hex(net.nwid, 16) + " is not for us; ignored");
    return;
  }
  const bool first = !net.config;
  const bool changed = first || net.config->revision != cfg.revision || net.config->timestamp != cfg.timestamp;
  net.config = cfg;
  net.config_received_at = now;
  net.status = NetworkStatus::Ok;
  if (persist && changed) n_.host.state_put(StateObject::NetworkConfig, net.nwid, dict);
  if (!changed) return;
  // Re-push credentials to everyone: our COM changed.
  for (auto& [a, m] : net.members) m.last_pushed = 0;
  notify(net, net.announced_up ? NetworkOp::ConfigUpdate : NetworkOp::Up);
  net.announced_up = true;
  // Announce our groups at once (broadcast may have become enabled), so that senders can
  // find us without waiting for the periodic announcement.
  net.last_full_announce = now;
  const auto groups = announced_groups(net);
  for (Address u : upstream_set(net)) announce(now, net, groups, u);
  trace("network " + to_hex(net.nwid, 16) + " config revision " + std::to_string(cfg.revision) + " applied");
}

// ---- Controller seam -------------------------------------------------------------------------

void Vl2::set_controller(NetworkController* c) {
  controller_ = c;
  if (c) c->attach(this);
}

const Identity& Vl2::controller_identity() const { return n_.self; }

void Vl2::on_config_request(int64_t now, Address from, const PacketView& pv, const NetworkConfigRequest& r) {
  if (!controller_ || (r.nwid >> 24) != self()) {
    ErrorMessage e;
    e.in_re_verb = Verb::NetworkConfigRequest;
    e.in_re_packet_id = pv.packet_id();
    e.code = ErrorCode::UnsupportedOperation;
    e.body = ErrorNetwork{r.nwid, std::nullopt};
    (void)n_.send_to(now, from, e, false);
    return;
  }
  const Identity* id = identity_of(from);
  if (!id) return;
  ConfigRequest req;
  req.nwid = r.nwid;
  req.requester = Identity::parse(id->to_string(false)).value();
  req.metadata.assign(r.metadata.begin(), r.metadata.end());
  req.packet_id = pv.packet_id();
  controller_->on_request(now, req);
}

void Vl2::send_config(int64_t now, Address dest, uint64_t nwid, uint64_t request_packet_id, const Dictionary& config) {
  configured_[{nwid, dest}] = now;
  Bytes dict = config.serialize();
  if (dest == self()) {
    if (Network* net = find(nwid)) {
      auto cfg = NetworkConfig::from_dictionary(config);
      if (cfg.ok()) apply_config(now, *net, *cfg, dict, true);
    }
    return;
  }
  uint64_t update_id = 0;
  while (update_id == 0) update_id = n_.random_u64();
  for (size_t off = 0; off < dict.size() || (off == 0 && dict.empty()); off += kChunkMax) {
    const size_t len = std::min(kChunkMax, dict.size() - off);
    ConfigChunk c;
    c.nwid = nwid;
    c.data = ByteSpan(dict.data() + off, len);
    c.flags = 0;
    c.update_id = update_id;
    c.total_length = uint32_t(dict.size());
    c.index = uint32_t(off);
    c.signature_type = ConfigChunk::kSignatureEd25519;
    const auto sig = n_.self.sign(c.signing_form());
    c.signature = ByteSpan(sig.data(), sig.size());
    if (request_packet_id != 0) {
      OkMessage ok;
      ok.in_re_verb = Verb::NetworkConfigRequest;
      ok.in_re_packet_id = request_packet_id;
      ok.body = c;
      (void)n_.send_to(now, dest, ok, true);
    } else {
      proto::NetworkConfigPush nc;
      nc.chunk = c;
      (void)n_.send_to(now, dest, nc, true);
    }
    if (dict.empty()) break;
  }
}

void Vl2::send_error(int64_t now, Address dest, uint64_t nwid, uint64_t request_packet_id, ErrorCode code, ByteSpan info) {
  if (dest == self()) {
    if (Network* net = find(nwid)) {
      net->status = code == ErrorCode::NetworkAccessDenied ? NetworkStatus::AccessDenied : NetworkStatus::NotFound;
      notify(*net, NetworkOp::ConfigUpdate);
    }
    return;
  }
  if (request_packet_id == 0) return;
  ErrorMessage e;
  e.in_re_verb = Verb::NetworkConfigRequest;
  e.in_re_packet_id = request_packet_id;
  e.code = code;
  ErrorNetwork body{nwid, std::nullopt};
  if (!info.empty()) body.info = info;
  e.body = body;
  (void)n_.send_to(now, dest, e, false);
}

void Vl2::send_revocation(int64_t now, Address dest, const Revocation& rev) {
  NetworkCredentials nc;
  nc.revocations.push_back(rev);
  if (dest == self()) {
    on_credentials(now, self(), nc);
    return;
  }
  (void)n_.send_to(now, dest, nc, true);
}

// ---- Membership --------------------------------------------------------------------------------

MemberRecord& Vl2::member(Network& net, Address a) { return net.members[a]; }

bool Vl2::gate(int64_t now, Network& net, Address peer) {
  if (!net.config) return false;
  const Identity* id = identity_of(peer);
  if (!id) return false;
  MemberRecord& m = member(net, peer);
  if (!m.m.gate(*net.config, *id)) return false;
  // Side effect (§16.1.2): announce our groups to a newly allowed member.
  if (now - m.last_like >= kAnnouncePeriodMs) {
    m.last_like = now;
    announce(now, net, announced_groups(net), peer);
  }
  return true;
}

void Vl2::push_credentials(int64_t now, Network& net, Address to, bool after_error) {
  if (!net.config || to == self()) return;
  MemberRecord& m = member(net, to);
  const int64_t max_age = after_error ? kCredentialRequestRateMs : kCredentialMaxAgeMs;
  if (m.last_pushed != 0 && m.last_pushed >= net.config_received_at && now - m.last_pushed <= max_age) return;
  m.last_pushed = now;
  NetworkCredentials nc;
  if (net.config->com) nc.coms.push_back(*net.config->com);
  nc.capabilities = net.config->capabilities;
  nc.tags = net.config->tags;
  nc.coos = net.config->certificates_of_ownership;
  if (nc.coms.empty() && nc.capabilities.empty() && nc.tags.empty() && nc.coos.empty()) return;
  (void)n_.send_to(now, to, nc, true);
}

void Vl2::offer_com(int64_t now, Network& net, Address from, const CertificateOfMembership& com) {
  const Address to = com.issued_to();
  const Identity* id = identity_of(to);
  if (!id || !net.config) return;
  auto lookup = [this](Address a) { return identity_of(a); };
  auto out = member(net, to).m.offer(net.nwid, com, lookup);
  if (out.outcome == CredentialOutcome::Deferred) n_.send_whois(now, out.missing);
  if (out.outcome == CredentialOutcome::Rejected && *out.reason)
    trace("COM from " + address_to_string(from) + " rejected: " + out.reason);
}

void Vl2::on_credentials(int64_t now, Address from, const NetworkCredentials& c) {
  auto lookup = [this](Address a) { return identity_of(a); };
  std::set<Address> touched;
  for (const auto& com : c.coms) {
    Network* net = find(com.network_id());
    if (!net) continue;
    offer_com(now, *net, from, com);
    touched.insert(com.issued_to());
  }
  auto report = [&](const OfferResult& out, const char* what) {
    if (out.outcome == CredentialOutcome::Deferred) n_.send_whois(now, out.missing);
    if (out.outcome == CredentialOutcome::Rejected && *out.reason)
      trace(std::string(what) + " from " + address_to_string(from) + " rejected: " + out.reason);
  };
  for (const auto& cap : c.capabilities)
    if (Network* net = find(cap.nwid)) report(member(*net, cap.issued_to()).m.offer(net->nwid, cap, lookup), "capability");
  for (const auto& tag : c.tags)
    if (Network* net = find(tag.nwid)) report(member(*net, tag.issued_to).m.offer(net->nwid, tag, lookup), "tag");
  for (const auto& coo : c.coos)
    if (Network* net = find(coo.nwid)) report(member(*net, coo.issued_to).m.offer(net->nwid, coo, lookup), "certificate of ownership");
  for (const auto& rev : c.revocations) {
    Network* net = find(rev.nwid);
    if (!net) continue;
    auto out = member(*net, rev.target).m.offer(net->nwid, rev, lookup);
    report(out, "revocation");
    if (out.outcome == CredentialOutcome::AcceptedNew) {
      trace("revocation for " + address_to_string(rev.target) + " on " + to_hex(rev.nwid, 16) + " accepted");
      // Fast propagate to the members we know (§7.5 step 5).
      if (out.propagate)
        for (auto& [a, m] : net->members)
          if (a != from && a != rev.signed_by && a != self()) {
            NetworkCredentials fwd;
            fwd.revocations.push_back(rev);
            (void)n_.send_to(now, a, fwd, true);
          }
      // Our own membership was revoked: our COM is no longer accepted by others.
      if (rev.target == self() && net->config) {
        net->status = NetworkStatus::AccessDenied;
        notify(*net, NetworkOp::ConfigUpdate);
      }
    }
  }
  // Frames that waited for these credentials (§16.4 "return and retry").
  std::deque<RetryFrame> again;
  for (auto it = retry_.begin(); it != retry_.end();) {
    if (now - it->at > kRetryFrameMs) {  // expired (ZT_RECEIVE_QUEUE_TIMEOUT), not yet swept by on_timer
      it = retry_.erase(it);
    } else if (it->from == from || touched.count(it->from)) {
      again.push_back(std::move(*it));
      it = retry_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& r : again) {
    PacketView pv(r.packet);
    auto msg = decode_message(pv.verb(), pv.payload());
    if (msg.ok()) on_packet(now, r.from, pv, *msg);
    // Refused again: it keeps its first arrival time, so it still expires 5 s after that.
    if (!retry_.empty() && retry_.back().from == r.from && retry_.back().packet == r.packet) retry_.back().at = r.at;
  }
}

// ---- Outbound frames (§16.2) ---------------------------------------------------------------------

void Vl2::deliver(uint64_t nwid, Mac src, Mac dst, uint16_t ethertype, uint16_t vlan, ByteSpan data) {
  n_.host.frame(nwid, src, dst, ethertype, vlan, data);
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
                [this]() { return uint32_t(n_.random_u64()); }};
  FilterResult out = inbound ? filter_inbound(env, fr) : filter_outbound(env, fr, !no_tee);
  // TEE/WATCH copies (§8.2), sent as EXT_FRAME with the reference's flag bytes (§3.6).
  for (const CopyTarget& c : out.copy_targets()) {
    if (c.address == 0 || c.address == self()) continue;
    ExtFrame x;
    x.nwid = net.nwid;
    x.flags = inbound ? (c.watch ? kExtFrameFlagsWatchInbound : kExtFrameFlagsTeeInbound)
                      : (c.watch ? kExtFrameFlagsWatchOutbound : kExtFrameFlagsTeeOutbound);
    x.to = mdst;
    x.from = msrc;
    x.ethertype = ethertype;
    x.payload = data.first(std::min<size_t>(data.size(), c.length ? c.length : data.size()));
    (void)n_.send_to(now, c.address, x, true);
  }
  if (out.verdict == FilterVerdict::Redirect) {
    if (out.redirect_to != 0 && out.redirect_to != self()) {
      ExtFrame x;
      x.nwid = net.nwid;
      x.flags = inbound ? kExtFrameFlagsRedirectInbound : kExtFrameFlagsRedirectOutbound;
      x.to = mdst;
      x.from = msrc;
      x.ethertype = ethertype;
      x.payload = data;
      (void)n_.send_to(now, out.redirect_to, x, true);
    }
    return false;
  }
  if (super_accept) *super_accept = out.verdict == FilterVerdict::SuperAccept;
  if (!out.passed())
    trace(std::string(inbound ? "incoming" : "outgoing") + " frame on " + to_hex(net.nwid, 16) + " blocked by the network rules (" +
          msrc.to_string() + " -> " + mdst.to_string() + ", ethertype " + to_hex(ethertype, 4) + ")");
  return out.passed();
}

Status Vl2::send_frame(int64_t now, uint64_t nwid, Mac src, Mac dst, uint16_t ethertype, uint16_t vlan, ByteSpan data) {
  Network* netp = find(nwid);
  if (!netp) return err(ErrorKind::NotFound, "network " + to_hex(nwid, 16) + " is not joined");
  Network& net = *netp;
  if (!net.config) {
    trace("frame on " + to_hex(nwid, 16) + " dropped: no network config yet");
    return ok_status();
  }
  if (data.size() > net.config->mtu) return err(ErrorKind::TooLarge, "frame of " + std::to_string(data.size()) + " bytes exceeds the network MTU " + std::to_string(net.config->mtu));
  const Mac mine = net.mac(self());
  const bool bridged = src != mine;
  if (bridged && !net.am_bridge(self())) {
    trace("outgoing frame dropped on " + to_hex(nwid, 16) + ": not a bridge (source MAC " + src.to_string() + " is not ours, " + mine.to_string() + ")");
    return ok_status();
  }
  if (dst.is_multicast()) {
    MulticastGroup g{dst, 0};
    if (dst.is_broadcast()) {
      if (ethertype == 0x0806 && data.size() >= 28 && data[2] == 0x08 && data[3] == 0x00 && data[4] == 6 && data[5] == 4 && data[7] == 1) {
        g.adi = load_be32(data.data() + 24);
      } else if (!(net.config->flags & NetworkConfig::kFlagEnableBroadcast)) {
        trace("outgoing frame dropped on " + to_hex(nwid, 16) + ": broadcast disabled");
        return ok_status();
      }
    } else if (ethertype == 0x86DD && data.size() >= 64 && (net.config->flags & NetworkConfig::kFlagNdpEmulation)) {
      if (ndp_emulate(net, src, data)) return ok_status();
    }
    if (net.config->multicast_limit == 0) {
      trace("outgoing frame dropped on " + to_hex(nwid, 16) + ": multicast disabled");
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
      trace("outgoing frame dropped on " + to_hex(nwid, 16) + ": filter blocked");
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
      trace("outgoing frame dropped on " + to_hex(nwid, 16) + ": filter blocked");
      return ok_status();
    }
    push_credentials(now, net, to, false);
    if (!bridged) {
      Frame f;
      f.nwid = nwid;
      f.ethertype = ethertype;
      f.payload = data;
      (void)n_.send_to(now, to, f, false);
    } else {
      ExtFrame x;
      x.nwid = nwid;
      x.flags = 0;
      x.to = dst;
      x.from = src;
      x.ethertype = ethertype;
      x.payload = data;
      (void)n_.send_to(now, to, x, false);
    }
    return ok_status();
  }
  // Unicast to a MAC bridged behind a remote node (§16.2.8).
  Address none = 0;
  if (!filter(now, net, false, self(), none, src, dst, ethertype, vlan, data, false, nullptr)) {
    trace("outgoing frame dropped on " + to_hex(nwid, 16) + ": filter blocked");
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
      trace("outgoing frame dropped on " + to_hex(nwid, 16) + ": filter blocked (bridge replication)");
      continue;
    }
    ExtFrame x;
    x.nwid = nwid;
    x.flags = 0;
    x.to = dst;
    x.from = src;
    x.ethertype = ethertype;
    x.payload = data;
    (void)n_.send_to(now, t, x, false);
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

// ---- Multicast (§16.3) ---------------------------------------------------------------------------

std::vector<MulticastGroup> Vl2::announced_groups(const Network& net) const {
  std::set<MulticastGroup> all(net.subscriptions.begin(), net.subscriptions.end());
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
  for (const auto& u : n_.upstreams) add(u.address);
  return out;
}

void Vl2::announce(int64_t now, Network& net, const std::vector<MulticastGroup>& groups, Address to) {
  if (groups.empty() || to == self()) return;
  MulticastLike like;
  for (const auto& g : groups) {
    like.entries.push_back({net.nwid, g});
    if (like.entries.size() >= 554) {
      (void)n_.send_to(now, to, like, true);
      like.entries.clear();
    }
  }
  if (!like.entries.empty()) (void)n_.send_to(now, to, like, true);
}

Status Vl2::subscribe(int64_t now, uint64_t nwid, const MulticastGroup& g) {
  Network* net = find(nwid);
  if (!net) return err(ErrorKind::NotFound, "network " + to_hex(nwid, 16) + " is not joined");
  if (!net->subscriptions.insert(g).second) return ok_status();
  for (Address u : upstream_set(*net)) announce(now, *net, {g}, u);
  auto ups = upstream_set(*net);
  for (auto& [a, m] : net->members)
    if (std::find(ups.begin(), ups.end(), a) == ups.end() && identity_of(a) && net->config &&
        m.m.gate(*net->config, *identity_of(a)))
      announce(now, *net, {g}, a);
  return ok_status();
}

Status Vl2::unsubscribe(int64_t now, uint64_t nwid, const MulticastGroup& g) {
  Network* net = find(nwid);
  if (!net) return err(ErrorKind::NotFound, "network " + to_hex(nwid, 16) + " is not joined");
  net->subscriptions.erase(g);
  return ok_status();
}

bool Vl2::subscribed_or_behind(const Network* net, const MulticastGroup& g) const {
  if (!net) return false;
  if (net->subscriptions.count(g) || net->bridged_groups.count(g)) return true;
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
  for (size_t i = members.size(); i > 1; --i) std::swap(members[i - 1], members[n_.random_u64() % i]);
  for (Address a : members) {
    if (r.members.size() >= limit || r.members.size() >= 1900) break;
    r.members.push_back(a);
  }
  return r;
}

void Vl2::gather(int64_t now, Network& net, const MulticastGroup& g, unsigned limit) {
  std::vector<Address> targets;
  if (Peer* up = n_.best_upstream(now, 0)) targets.push_back(up->identity.address());
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
    if (t != self()) (void)n_.send_to(now, t, mg, false, Verb::MulticastGather);
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
  (void)n_.send_to(now, to, mf, compress, Verb::MulticastFrame);
  return true;
}

void Vl2::send_multicast(int64_t now, Network& net, Address origin, const MulticastGroup& g, std::optional<Mac> src,
                         uint16_t ethertype, ByteSpan data) {
  const unsigned ml = unsigned(net.config->multicast_limit);
  GroupState& gs = groups_[{net.nwid, g}];
  std::vector<Address> members;
  for (const auto& [a, t] : gs.members) members.push_back(a);
  for (size_t i = members.size(); i > 1; --i) std::swap(members[i - 1], members[n_.random_u64() % i]);
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

// ---- Inbound (§16.4) -------------------------------------------------------------------------------

void Vl2::need_credentials(int64_t now, Address from, const PacketView& pv, uint64_t nwid) {
  ErrorMessage e;
  e.in_re_verb = pv.verb();
  e.in_re_packet_id = pv.packet_id();
  e.code = ErrorCode::NeedMembershipCertificate;
  e.body = ErrorNetwork{nwid, std::nullopt};
  (void)n_.send_to(now, from, e, false);
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
    trace("access denied on " + to_hex(f.nwid, 16) + " for " + address_to_string(from) + ": credentials requested");
    need_credentials(now, from, pv, f.nwid);
    return false;
  }
  const Mac mine = net->mac(self());
  if (f.from.empty() || f.from == mine) return true;
  Address me = self();
  bool super = false;
  const bool accepted = filter(now, *net, true, from, me, f.from, f.to, f.ethertype, 0, f.payload, false, &super);
  if (accepted && !super) {
    if (f.from != Mac::from_address(from, f.nwid)) {
      if (!net->is_bridge(from)) {
        trace("incoming frame dropped on " + to_hex(f.nwid, 16) + " from " + address_to_string(from) + ": bridging not allowed (remote)");
        return true;
      }
      net->bridge_routes[f.from] = from;
    } else if (f.to != mine && f.to.is_multicast()) {
      if (net->config->multicast_limit == 0) {
        trace("incoming frame dropped on " + to_hex(f.nwid, 16) + ": multicast disabled");
        return true;
      }
    } else if (f.to != mine && !net->am_bridge(self())) {
      trace("incoming frame dropped on " + to_hex(f.nwid, 16) + " from " + address_to_string(from) + ": bridging not allowed (local)");
      return true;
    }
  }
  if (accepted) deliver(f.nwid, f.from, f.to, f.ethertype, 0, f.payload);
  if (f.flags & ExtFrame::kFlagAckRequested) {
    OkMessage ok;
    ok.in_re_verb = Verb::ExtFrame;
    ok.in_re_packet_id = pv.packet_id();
    ok.body = OkExtFrame{f.nwid};
    (void)n_.send_to(now, from, ok, false);
  }
  return true;
}

bool Vl2::on_multicast_frame(int64_t now, Address from, const PacketView& pv, const MulticastFrame& f) {
  Network* net = find(f.nwid);
  if (!net) return true;
  if (f.com) offer_com(now, *net, from, *f.com);
  if (!gate(now, *net, from)) {
    need_credentials(now, from, pv, f.nwid);
    return false;
  }
  if (net->config->multicast_limit == 0) {
    trace("incoming multicast dropped on " + to_hex(f.nwid, 16) + ": multicast disabled");
    return true;
  }
  const Mac sender_mac = Mac::from_address(from, f.nwid);
  const Mac src = f.source.value_or(sender_mac);
  if (!f.payload.empty() && f.payload.size() <= kMaxMulticastPayload) {
    if (!f.group.mac.is_multicast()) {
      trace("incoming multicast dropped from " + address_to_string(from) + ": destination not multicast");
      return true;
    }
    if (src.empty() || src.is_multicast() || src == net->mac(self())) {
      trace("incoming multicast dropped from " + address_to_string(from) + ": invalid source MAC");
      return true;
    }
    if (f.flags & MulticastFrame::kFlagReplicate) {
      bool replicator = false;
      for (Address a : net->config->specialists_with(NetworkConfig::kSpecialistMulticastReplicator)) replicator |= a == self();
      if (replicator) send_multicast(now, *net, from, f.group, src, f.ethertype, f.payload);
    }
    if (src != sender_mac) {
      if (!net->is_bridge(from)) {
        trace("incoming multicast dropped on " + to_hex(f.nwid, 16) + " from " + address_to_string(from) + ": bridging not allowed (remote)");
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
      (void)n_.send_to(now, from, ok, false);
    }
  }
  return true;
}

bool Vl2::authorized_for_multicast(int64_t now, uint64_t nwid, Address from) {
  if (nwid == 0) return false;
  if (Network* net = find(nwid); net && gate(now, *net, from)) return true;
  if (n_.am_upstream) return true;
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
  (void)n_.send_to(now, from, ok, false);
}

void Vl2::on_packet(int64_t now, Address from, const PacketView& pv, const Message& m) {
  bool done = true;
  switch (pv.verb()) {
    case Verb::Frame:
      done = on_frame(now, from, pv, std::get<Frame>(m));
      break;
    case Verb::ExtFrame:
      done = on_ext_frame(now, from, pv, std::get<ExtFrame>(m));
      break;
    case Verb::MulticastFrame:
      done = on_multicast_frame(now, from, pv, std::get<MulticastFrame>(m));
      break;
    case Verb::MulticastLike:
      on_like(now, from, std::get<MulticastLike>(m));
      break;
    case Verb::MulticastGather:
      on_gather(now, from, pv, std::get<MulticastGather>(m));
      break;
    case Verb::NetworkCredentials:
      on_credentials(now, from, std::get<NetworkCredentials>(m));
      break;
    case Verb::NetworkConfigRequest:
      on_config_request(now, from, pv, std::get<NetworkConfigRequest>(m));
      break;
    case Verb::NetworkConfig:
      on_config_chunk(now, from, pv.packet_id(), std::get<proto::NetworkConfigPush>(m).chunk, true);
      break;
    case Verb::Ok: {
      const auto& ok = std::get<OkMessage>(m);
      if (ok.in_re_verb == Verb::NetworkConfigRequest) {
        if (const auto* c = std::get_if<ConfigChunk>(&ok.body)) on_config_chunk(now, from, pv.packet_id(), *c, false);
      } else if (ok.in_re_verb == Verb::MulticastGather) {
        if (const auto* g = std::get_if<OkMulticastGather>(&ok.body))
          if (find(g->nwid))
            for (Address a : g->gathered.members) add_group_member(now, g->nwid, g->group, a);
      } else if (ok.in_re_verb == Verb::MulticastFrame) {
        if (const auto* g = std::get_if<OkMulticastFrame>(&ok.body)) {
          if (Network* net = find(g->nwid)) {
            if (g->com) offer_com(now, *net, from, *g->com);
            if (g->gathered)
              for (Address a : g->gathered->members) add_group_member(now, g->nwid, g->group, a);
          }
        }
      }
      break;
    }
    default:
      break;
  }
  if (!done) {
    if (retry_.size() >= kMaxRetryFrames) retry_.pop_front();
    retry_.push_back(RetryFrame{from, Bytes(pv.bytes().begin(), pv.bytes().end()), now, now + kRetryErrorMs});
  }
}

void Vl2::on_error(int64_t now, Address from, const ErrorMessage& e) {
  const auto* body = std::get_if<ErrorNetwork>(&e.body);
  if (!body) return;
  Network* net = find(body->nwid);
  if (!net) return;
  switch (e.code) {
    case ErrorCode::NeedMembershipCertificate:
      push_credentials(now, *net, from, true);
      break;
    case ErrorCode::ObjNotFound:
    case ErrorCode::UnsupportedOperation:
      if (e.in_re_verb == Verb::NetworkConfigRequest && from == (body->nwid >> 24) && net->status != NetworkStatus::NotFound) {
        net->status = NetworkStatus::NotFound;
        notify(*net, NetworkOp::ConfigUpdate);
        trace("network " + to_hex(body->nwid, 16) + ": NOT_FOUND");
      }
      break;
    case ErrorCode::NetworkAccessDenied:
      if (from == (body->nwid >> 24) && net->status != NetworkStatus::AccessDenied) {
        net->status = NetworkStatus::AccessDenied;
        notify(*net, NetworkOp::ConfigUpdate);
        trace("network " + to_hex(body->nwid, 16) + ": ACCESS_DENIED");
      }
      break;
    case ErrorCode::NetworkAuthenticationRequired:
      if (from == (body->nwid >> 24)) {
        net->status = NetworkStatus::AuthenticationRequired;
        if (body->info) {
          auto d = Dictionary::parse(*body->info);
          if (d.ok()) net->auth_url = d->get_string("aU").value_or("");
        }
        notify(*net, NetworkOp::ConfigUpdate);
      }
      break;
    default:
      break;
  }
}

void Vl2::on_peer_known(int64_t now, Address a) {}

void Vl2::on_timer(int64_t now) {
  if (now - last_timer_ < 1000) return;
  last_timer_ = now;
  for (auto& [nwid, net] : nets_) {
    const int64_t every = net.config ? kConfigRetryMs : kConfigRetryNoConfigMs;
    if (now - net.last_request >= every) request_config(now, net);
    if (!net.config) continue;
    // Periodic LIKEs (§16.3.2).
    auto groups = announced_groups(net);
    auto ups = upstream_set(net);
    if (now - net.last_full_announce >= kAnnouncePeriodMs) {
      net.last_full_announce = now;
      for (Address u : ups) announce(now, net, groups, u);
    }
    for (auto& [a, m] : net.members) {
      if (std::find(ups.begin(), ups.end(), a) != ups.end()) continue;
      if (now - m.last_like < kAnnouncePeriodMs) continue;
      const Identity* id = identity_of(a);
      if (!id || !m.m.gate(*net.config, *id)) continue;
      m.last_like = now;
      announce(now, net, groups, a);
    }
  }
  // Expire multicast state. A pending send that still knows nobody asks again (local policy:
  // the reference only gathers when the next multicast is sent).
  for (auto& [key, gs] : groups_) {
    if (gs.pending.empty() || !gs.members.empty() || now - gs.last_gather < 1000) continue;
    Network* net = find(key.first);
    if (!net || !net->config) continue;
    gs.last_gather = now;
    gather(now, *net, key.second, unsigned(net->config->multicast_limit) + 1);
  }
  for (auto it = groups_.begin(); it != groups_.end();) {
    std::erase_if(it->second.members, [&](const auto& kv) { return now - kv.second > kLikeExpireMs; });
    std::erase_if(it->second.pending, [&](const PendingMulticast& p) { return now - p.created > kMulticastTimeoutMs; });
    it = (it->second.members.empty() && it->second.pending.empty()) ? groups_.erase(it) : std::next(it);
  }
  // Gate-refused frames: re-send the credential request, expire.
  std::erase_if(retry_, [&](const RetryFrame& r) { return now - r.at > kRetryFrameMs; });
  std::erase_if(configured_, [&](const auto& kv) { return now - kv.second > kControllerMemoryMs; });
  if (controller_) controller_->on_timer(now);
}

// ---- Node API glue -------------------------------------------------------------------------------

std::vector<NetworkInfo> Vl2::networks() const {
  std::vector<NetworkInfo> out;
  for (const auto& [nwid, net] : nets_) out.push_back(info_of(net));
  return out;
}

std::optional<NetworkInfo> Vl2::network(uint64_t nwid) const {
  auto it = nets_.find(nwid);
  if (it == nets_.end()) return std::nullopt;
  return info_of(it->second);
}

}  // namespace zt::core

namespace zt::core {

std::unique_ptr<Vl2Handler> make_vl2(Node::Impl& n) { return std::make_unique<Vl2>(n); }

static Vl2& vl2_of(Node::Impl& i) { return static_cast<Vl2&>(*i.vl2_owner); }

Status Node::join(int64_t now, uint64_t nwid) { return vl2_of(*impl_).join(now, nwid); }
Status Node::leave(int64_t now, uint64_t nwid) { return vl2_of(*impl_).leave(now, nwid); }
std::vector<NetworkInfo> Node::networks() const { return vl2_of(*impl_).networks(); }
std::optional<NetworkInfo> Node::network(uint64_t nwid) const { return vl2_of(*impl_).network(nwid); }

Status Node::send_frame(int64_t now, uint64_t nwid, proto::Mac src, proto::Mac dst, uint16_t ethertype,
                        uint16_t vlan, ByteSpan data) {
  Vl2& v = vl2_of(*impl_);
  Status st = v.send_frame(now, nwid, src, dst, ethertype, vlan, data);
  v.flush_local_frames();
  return st;
}

Status Node::multicast_subscribe(int64_t now, uint64_t nwid, const proto::MulticastGroup& g) {
  return vl2_of(*impl_).subscribe(now, nwid, g);
}
Status Node::multicast_unsubscribe(int64_t now, uint64_t nwid, const proto::MulticastGroup& g) {
  return vl2_of(*impl_).unsubscribe(now, nwid, g);
}
void Node::set_controller(NetworkController* c) { vl2_of(*impl_).set_controller(c); }

}  // namespace zt::core
