// VL2, configuration: join/leave, NETWORK_CONFIG_REQUEST and config chunks (§3.10, §9), and the
// controller seam (§10): a controller attached to this node answers through ControllerSender.
#include "core/network.hpp"

#include <algorithm>

#include "base/hex.hpp"
#include "core/rules_engine.hpp"

namespace zt::core {

using namespace zt::proto;
using namespace vl2_limits;

// ---- Join / leave / config -------------------------------------------------------------------

Status Vl2::join(int64_t now, uint64_t nwid) {
  if (nwid == 0) return err("invalid network id 0");
  if (nets_.count(nwid)) return ok_status();
  Network& net = nets_[nwid];
  net.nwid = nwid;
  // A cached config lets the network work before the controller answers (§16.1.1).
  if (auto b = host_.state_get(StateObject::NetworkConfig, nwid)) {
    auto cfg = NetworkConfig::parse(*b);
    if (cfg.ok() && cfg->nwid == nwid && cfg->issued_to == self()) apply_config(now, net, *cfg, *b, false);
  }
  request_config(now, net);
  trace(trace_code::kNetworkJoined, nwid, "joined network " + to_hex(nwid, 16), "joined");
  return ok_status();
}

Status Vl2::leave(int64_t now, uint64_t nwid) {
  Network* net = find(nwid);
  if (!net) return err(ErrorKind::NotFound, "network " + to_hex(nwid, 16) + " is not joined");
  notify(*net, NetworkOp::Destroy);
  host_.state_put(StateObject::NetworkConfig, nwid, {});
  nets_.erase(nwid);
  trace(trace_code::kNetworkLeft, nwid, "left network " + to_hex(nwid, 16), "left");
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
    req.requester = vl1_.identity();
    req.metadata = md.serialize();
    controller_->on_request(now, req);
    return;
  }
  Bytes mdb = md.serialize();
  NetworkConfigRequest r;
  r.nwid = net.nwid;
  r.metadata = mdb;
  r.held = NetworkConfigRequest::Held{net.config ? net.config->revision : 0, net.config ? net.config->timestamp : 0};
  (void)vl1_.send_to(now, controller, r, true, Verb::NetworkConfigRequest);
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
    vl1_.send_whois(now, controller);
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
    trace(trace_code::kConfigRejected, c.nwid, "config chunk for " + to_hex(c.nwid, 16) + " has a bad signature; dropped", "bad signature", from);
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
    trace(trace_code::kConfigRejected, c.nwid, "config for " + to_hex(c.nwid, 16) + " does not parse: " + cfg.error(), "does not parse: " + cfg.error(), from);
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
    (void)vl1_.send_to(now, from, ok, false);
  }
}

void Vl2::apply_config(int64_t now, Network& net, const NetworkConfig& cfg, ByteSpan dict, bool persist) {
  if (cfg.nwid != net.nwid || cfg.issued_to != self()) {
    trace(trace_code::kConfigRejected, net.nwid, "config for " + to_hex(net.nwid, 16) + " is not for us; ignored", "not for us");
    return;
  }
  const bool first = !net.config;
  const bool changed = first || net.config->revision != cfg.revision || net.config->timestamp != cfg.timestamp;
  net.config = cfg;
  net.config_received_at = now;
  net.status = NetworkStatus::Ok;
  if (persist && changed) host_.state_put(StateObject::NetworkConfig, net.nwid, dict);
  if (!changed) return;
  // Re-push credentials to everyone: our COM changed.
  for (auto& [a, m] : net.members) m.last_pushed = 0;
  update_address_groups(now, net);
  notify(net, net.announced_up ? NetworkOp::ConfigUpdate : NetworkOp::Up);
  net.announced_up = true;
  // Announce our groups at once (broadcast may have become enabled), so that senders can
  // find us without waiting for the periodic announcement.
  net.last_full_announce = now;
  const auto groups = announced_groups(net);
  for (Address u : upstream_set(net)) announce(now, net, groups, u);
  trace(trace_code::kConfigApplied, net.nwid, "network " + to_hex(net.nwid, 16) + " config revision " + std::to_string(cfg.revision) + " applied",
        "revision " + std::to_string(cfg.revision));
}

// ---- Controller seam -------------------------------------------------------------------------

void Vl2::set_controller(NetworkController* c) {
  NetworkController* old = controller_;
  controller_ = c;
  if (old && old != c) old->attach(nullptr);  // detached: it must not send through us any more
  if (c) c->attach(this);
}

const Identity& Vl2::controller_identity() const { return vl1_.identity(); }

void Vl2::on_config_request(int64_t now, Address from, const PacketView& pv, const NetworkConfigRequest& r) {
  if (!controller_ || (r.nwid >> 24) != self()) {
    ErrorMessage e;
    e.in_re_verb = Verb::NetworkConfigRequest;
    e.in_re_packet_id = pv.packet_id();
    e.code = ErrorCode::UnsupportedOperation;
    e.body = ErrorNetwork{r.nwid, std::nullopt};
    (void)vl1_.send_to(now, from, e, false);
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
  while (update_id == 0) update_id = vl1_.random_u64();
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
    const auto sig = vl1_.identity().sign(c.signing_form());
    c.signature = ByteSpan(sig.data(), sig.size());
    if (request_packet_id != 0) {
      OkMessage ok;
      ok.in_re_verb = Verb::NetworkConfigRequest;
      ok.in_re_packet_id = request_packet_id;
      ok.body = c;
      (void)vl1_.send_to(now, dest, ok, true);
    } else {
      proto::NetworkConfigPush nc;
      nc.chunk = c;
      (void)vl1_.send_to(now, dest, nc, true);
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
  (void)vl1_.send_to(now, dest, e, false);
}

void Vl2::send_revocation(int64_t now, Address dest, const Revocation& rev) {
  NetworkCredentials nc;
  nc.revocations.push_back(rev);
  if (dest == self()) {
    on_credentials(now, self(), nc);
    return;
  }
  (void)vl1_.send_to(now, dest, nc, true);
}

}  // namespace zt::core
