// VL2: virtual networks (PROTOCOL.md §3.5–3.13, §9, §16) — the common part: network state and
// NetworkInfo, membership and credentials (§7.6, §16.1.2–16.1.3), dispatch of what VL1 hands
// up, timers. The rest of the layer: network_config.cpp (join, config, controller seam),
// network_frames.cpp (unicast frames out and in, §16.2, §16.4.1–16.4.2), network_multicast.cpp
// (§16.3, §16.4.3).
#include "core/network.hpp"

#include <algorithm>

#include "base/hex.hpp"
#include "core/rules_engine.hpp"

namespace zt::core {

using namespace zt::proto;
using namespace vl2_limits;

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

Vl2::Vl2(Host& host, Vl1Port& vl1) : host_(host), vl1_(vl1) {}

Address Vl2::self() const { return vl1_.identity().address(); }

Network* Vl2::find(uint64_t nwid) {
  auto it = nets_.find(nwid);
  return it == nets_.end() ? nullptr : &it->second;
}

const Identity* Vl2::identity_of(Address a) { return vl1_.identity_of(a); }

NetworkInfo Vl2::info_of(const Network& net) const {
  NetworkInfo i;
  i.nwid = net.nwid;
  i.mac = net.mac(self());
  i.status = net.status;
  i.has_config = net.config.has_value();
  i.authentication_url = net.auth_url;
  std::set<MulticastGroup> subs(net.subscriptions.begin(), net.subscriptions.end());
  subs.insert(net.address_groups.begin(), net.address_groups.end());
  i.subscriptions.assign(subs.begin(), subs.end());
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

void Vl2::notify(Network& net, NetworkOp op) { host_.network_config(net.nwid, op, info_of(net)); }


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
  (void)vl1_.send_to(now, to, nc, true);
}

Address Vl2::offer_com(int64_t now, Network& net, Address from, const CertificateOfMembership& com, bool hold) {
  const Address to = com.issued_to();
  const Identity* id = identity_of(to);
  if (!id || !net.config) return 0;
  auto lookup = [this](Address a) { return identity_of(a); };
  auto out = member(net, to).m.offer(net.nwid, com, lookup);
  if (out.outcome == CredentialOutcome::Deferred) {
    vl1_.send_whois(now, out.missing);
    if (hold) {
      NetworkCredentials nc;
      nc.coms.push_back(com);
      hold_credentials(now, from, out.missing, std::move(nc));
    }
    return out.missing;
  }
  if (out.outcome == CredentialOutcome::Rejected && *out.reason) {
    TraceInfo t;
    t.credential_type = 1;
    t.credential_timestamp = com.timestamp();
    t.credential_issued_to = to;
    t.reason = out.reason;
    trace_credential(now, net, from, "COM", t);
  }
  return 0;
}

void Vl2::hold_credentials(int64_t now, Address from, Address missing, NetworkCredentials creds) {
  if (missing == 0) return;
  if (deferred_.size() >= kDeferredCredentialMax) deferred_.pop_front();
  deferred_.push_back({from, missing, now, std::move(creds)});
}

void Vl2::on_credentials(int64_t now, Address from, const NetworkCredentials& c) {
  auto lookup = [this](Address a) { return identity_of(a); };
  std::set<Address> touched;
  std::set<Address> missing;  // signers to WHOIS; the whole message is offered again then
  for (const auto& com : c.coms) {
    Network* net = find(com.network_id());
    if (!net) continue;
    if (const Address m = offer_com(now, *net, from, com, false)) missing.insert(m);
    touched.insert(com.issued_to());
  }
  // `t` carries the credential's §15 fields (type, id, timestamp, issued-to / target).
  auto report = [&](Network& net, const OfferResult& out, const char* what, TraceInfo t) {
    if (out.outcome == CredentialOutcome::Deferred) {
      vl1_.send_whois(now, out.missing);
      missing.insert(out.missing);
    }
    if (out.outcome == CredentialOutcome::Rejected && *out.reason) {
      t.reason = out.reason;
      trace_credential(now, net, from, what, std::move(t));
    }
  };
  auto cred = [](int type, uint64_t id, uint64_t ts, Address to) {
    TraceInfo t;
    t.credential_type = type;
    t.credential_id = id;
    t.credential_timestamp = ts;
    t.credential_issued_to = to;
    return t;
  };
  for (const auto& cap : c.capabilities)
    if (Network* net = find(cap.nwid))
      report(*net, member(*net, cap.issued_to()).m.offer(net->nwid, cap, lookup), "capability",
             cred(2, cap.id, cap.timestamp, cap.issued_to()));
  for (const auto& tag : c.tags)
    if (Network* net = find(tag.nwid)) {
      TraceInfo t = cred(3, tag.id, tag.timestamp, tag.issued_to);
      t.credential_info = tag.value;
      report(*net, member(*net, tag.issued_to).m.offer(net->nwid, tag, lookup), "tag", t);
    }
  for (const auto& coo : c.coos)
    if (Network* net = find(coo.nwid))
      report(*net, member(*net, coo.issued_to).m.offer(net->nwid, coo, lookup), "certificate of ownership",
             cred(4, coo.id, coo.timestamp, coo.issued_to));
  for (const auto& rev : c.revocations) {
    Network* net = find(rev.nwid);
    if (!net) continue;
    auto out = member(*net, rev.target).m.offer(net->nwid, rev, lookup);
    TraceInfo rt = cred(6, rev.id, 0, 0);
    rt.revocation_target = rev.target;
    report(*net, out, "revocation", rt);
    if (out.outcome == CredentialOutcome::AcceptedNew) {
      trace(trace_code::kCredentialAccepted, rev.nwid,
            "revocation for " + address_to_string(rev.target) + " on " + to_hex(rev.nwid, 16) + " accepted",
            "revocation accepted", rev.target);
      // Fast propagate to the members we know (§7.5 step 5).
      if (out.propagate)
        for (auto& [a, m] : net->members)
          if (a != from && a != rev.signed_by && a != self()) {
            NetworkCredentials fwd;
            fwd.revocations.push_back(rev);
            (void)vl1_.send_to(now, a, fwd, true);
          }
      // Our own membership was revoked: our COM is no longer accepted by others.
      if (rev.target == self() && net->config) {
        net->status = NetworkStatus::AccessDenied;
        notify(*net, NetworkOp::ConfigUpdate);
      }
    }
  }
  // Whatever waits for a signer's identity is offered again, whole, when the WHOIS answers
  // (on_peer_known); what was already accepted is then merely redundant.
  for (Address m : missing) hold_credentials(now, from, m, c);
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
        trace(trace_code::kNetworkStatus, body->nwid, "network " + to_hex(body->nwid, 16) + ": NOT_FOUND", "NOT_FOUND", from);
      }
      break;
    case ErrorCode::NetworkAccessDenied:
      if (from == (body->nwid >> 24) && net->status != NetworkStatus::AccessDenied) {
        net->status = NetworkStatus::AccessDenied;
        notify(*net, NetworkOp::ConfigUpdate);
        trace(trace_code::kNetworkStatus, body->nwid, "network " + to_hex(body->nwid, 16) + ": ACCESS_DENIED", "ACCESS_DENIED", from);
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

void Vl2::on_peer_known(int64_t now, Address a) {
  std::vector<DeferredCredentials> ready;
  for (auto it = deferred_.begin(); it != deferred_.end();) {
    if (it->missing == a) {
      ready.push_back(std::move(*it));
      it = deferred_.erase(it);
    } else {
      ++it;
    }
  }
  // A custody chain may name yet another unknown signer: on_credentials holds it again.
  for (auto& d : ready) on_credentials(now, d.from, d.creds);
}

void Vl2::on_timer(int64_t now) {
  if (now - last_timer_ < 1000) return;
  last_timer_ = now;
  while (!deferred_.empty() && now - deferred_.front().at > kDeferredCredentialMs) deferred_.pop_front();
  for (const auto& d : deferred_) vl1_.send_whois(now, d.missing);  // until answered (rate-limited)
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
