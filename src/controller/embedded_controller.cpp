// §10.1 request handling and §10.2 management. See embedded_controller.hpp.
#include "controller/embedded_controller.hpp"

#include <algorithm>
#include <set>

#include "base/hex.hpp"
#include "controller/config_builder.hpp"
#include "controller/objects.hpp"
#include "crypto/crypto.hpp"
#include "proto/netconf.hpp"
#include "proto/vl2.hpp"

namespace zt::controller {

using proto::Address;
using proto::Dictionary;
using proto::ErrorCode;
using proto::Identity;
using proto::NetworkConfig;

struct EmbeddedController::Outgoing {
  enum class Kind { Config, Error, Revocation } kind = Kind::Config;
  Address dest = 0;
  uint64_t nwid = 0;
  uint64_t packet_id = 0;
  Dictionary config;
  ErrorCode code = ErrorCode::None;
  Bytes info;
  proto::Revocation revocation;
};

EmbeddedController::EmbeddedController(ControllerDb& db, ControllerOptions opts)
    : db_(db), opts_(std::move(opts)), traces_(opts_.remote_traces_per_network) {
  if (!opts_.random) opts_.random = [](uint8_t* p, size_t n) { crypto::random_bytes(p, n); };
}

void EmbeddedController::on_remote_trace(int64_t now, proto::Address origin, ByteSpan dictionary) {
  const proto::Address self = address();
  auto t = traces_.add(dictionary, origin, now, [self](uint64_t nwid) { return self != 0 && (nwid >> 24) == self; });
  if (t && opts_.log) opts_.log(remote_trace_summary(*t));
}

EmbeddedController::~EmbeddedController() { flush_seen(); }

void EmbeddedController::flush_seen() {
  std::vector<SeenRecord> batch;
  {
    std::lock_guard lk(mu_);
    batch.swap(seen_);
  }
  if (!batch.empty()) db_.record_seen(batch);
}

void EmbeddedController::restore_online(int64_t now) {
  restored_ = true;
  Address self = address_.load();
  if (self == 0) return;
  for (const SeenRecord& r : db_.recent_seen(self, now - opts_.online_window_ms)) {
    if (proto::network_controller(r.nwid) != self || members_.count({r.nwid, r.member})) continue;
    auto id = Identity::parse(r.identity);
    auto md = from_hex(r.metadata);
    if (!id || id->address() != r.member || !md) continue;
    MemberState& st = members_[{r.nwid, r.member}];
    st.has_request = true;
    st.last_request = st.last_seen = std::min(r.last_seen, now);
    if (auto ph = proto::InetAddress::parse(r.physical); ph && !ph->empty()) st.physical = *ph;
    st.has_metadata = true;
    st.identity = *id;
    st.metadata = std::move(*md);
  }
}

bool EmbeddedController::apply_external_change(const DbChange& c) {
  Address self = address_.load();
  if (self == 0 || proto::network_controller(c.nwid) != self) return false;  // not ours: its owner pushes
  std::lock_guard lk(mu_);
  switch (c.kind) {
    case DbChange::Kind::Network:
      pending_.push_back({Pending::Kind::NetworkChanged, c.nwid, 0, {}});
      break;
    case DbChange::Kind::Member:
      pending_.push_back({Pending::Kind::MemberChanged, c.nwid, c.member, {}});
      if (c.deauthorized) pending_.push_back({Pending::Kind::MemberDeauthorized, c.nwid, c.member, {}});
      break;
    case DbChange::Kind::MemberDeleted:
      if (c.deauthorized) pending_.push_back({Pending::Kind::MemberDeauthorized, c.nwid, c.member, {}});
      if (auto it = members_.find({c.nwid, c.member}); it != members_.end()) it->second.has_metadata = false;
      break;
    case DbChange::Kind::NetworkDeleted: {
      // The records are gone: revoke for the members this process has seen.
      std::vector<Address> known;
      for (auto& [key, st] : members_)
        if (key.first == c.nwid) known.push_back(key.second);
      pending_.push_back({Pending::Kind::NetworkDeleted, c.nwid, 0, known});
      break;
    }
  }
  return true;
}

void EmbeddedController::attach(core::ControllerSender* sender) {
  std::lock_guard lk(mu_);
  sender_ = sender;
  address_ = sender ? sender->controller_identity().address() : 0;
}

uint32_t EmbeddedController::random32() {
  uint8_t b[4];
  opts_.random(b, 4);
  return load_be32(b);
}

bool EmbeddedController::online(const MemberState& st, int64_t now) const {
  return st.has_request && now - st.last_request < opts_.online_window_ms;
}

// ---- node-thread entry points ---------------------------------------------------------------

void EmbeddedController::on_request(int64_t now, const core::ConfigRequest& req) {
  std::vector<Outgoing> out;
  {
    std::lock_guard lk(mu_);
    // Packet ID 0 means "push" at the seam, except for the controller node's own request
    // for its own network (made internally, so without a packet): that one is genuine.
    Address self = address_.load();
    bool push = req.packet_id == 0 && req.requester.address() != self;
    Request r{req.nwid, req.requester, req.metadata, req.from, req.packet_id, push};
    handle(now, r, out);
    run_pending(now, out);  // e.g. the push that follows a member save (step 16)
  }
  flush(now, out);
}

void EmbeddedController::on_timer(int64_t now) {
  std::vector<Outgoing> out;
  std::vector<SeenRecord> seen;
  {
    std::lock_guard lk(mu_);
    if (!restored_) restore_online(now);
    if (now - last_seen_flush_ >= opts_.seen_flush_ms || now < last_seen_flush_) {
      last_seen_flush_ = now;
      seen.swap(seen_);
    }
    run_pending(now, out);
    for (auto it = members_.begin(); it != members_.end();) {
      const MemberState& st = it->second;
      int64_t last = std::max(st.last_seen, st.has_request ? st.last_request : st.last_seen);
      if (now - last > opts_.forget_after_ms) it = members_.erase(it);
      else ++it;
    }
  }
  if (!seen.empty()) db_.record_seen(seen);  // one batched write, outside the lock
  flush(now, out);
}

void EmbeddedController::process_pending(int64_t now) {
  std::vector<Outgoing> out;
  {
    std::lock_guard lk(mu_);
    run_pending(now, out);
  }
  flush(now, out);
}

bool EmbeddedController::has_pending() const {
  std::lock_guard lk(mu_);
  return !pending_.empty();
}

std::vector<Address> EmbeddedController::online_members(int64_t now, uint64_t nwid) const {
  std::lock_guard lk(mu_);
  std::vector<Address> out;
  for (auto& [key, st] : members_)
    if (key.first == nwid && online(st, now)) out.push_back(key.second);
  return out;
}

std::map<Address, int64_t> EmbeddedController::last_seen(uint64_t nwid) const {
  std::lock_guard lk(mu_);
  std::map<Address, int64_t> out;
  for (auto& [key, st] : members_)
    if (key.first == nwid && st.last_seen > 0) out[key.second] = st.last_seen;
  return out;
}

void EmbeddedController::flush(int64_t now, std::vector<Outgoing>& out) {
  core::ControllerSender* s;
  {
    std::lock_guard lk(mu_);
    s = sender_;
  }
  if (!s) return;
  for (auto& o : out) {
    switch (o.kind) {
      case Outgoing::Kind::Config:
        s->send_config(now, o.dest, o.nwid, o.packet_id, o.config);
        break;
      case Outgoing::Kind::Error:
        s->send_error(now, o.dest, o.nwid, o.packet_id, o.code, o.info);
        break;
      case Outgoing::Kind::Revocation:
        s->send_revocation(now, o.dest, o.revocation);
        break;
    }
  }
  out.clear();
}

// ---- step 16: pushes and revocations --------------------------------------------------------

void EmbeddedController::run_pending(int64_t now, std::vector<Outgoing>& out) {
  // A push saves the member, which may queue another push for it; such chains settle after
  // one more round (nothing left to assign). Bounded anyway; leftovers wait for on_timer.
  for (int round = 0; round < 4 && !pending_.empty(); ++round) {
    std::vector<Pending> batch;
    batch.swap(pending_);
    std::vector<Pending> done;
    std::set<std::pair<uint64_t, Address>> pushed;  // one push per member per round
    auto push_once = [&](uint64_t nwid, Address a) {
      if (pushed.insert({nwid, a}).second) push_to(now, nwid, a, out);
    };
    for (const Pending& p : batch) {
      if (std::find(done.begin(), done.end(), p) != done.end()) continue;
      done.push_back(p);
      switch (p.kind) {
        case Pending::Kind::NetworkChanged: {
          std::vector<Address> targets;
          for (auto& [key, st] : members_)
            if (key.first == p.nwid && st.has_metadata && online(st, now)) targets.push_back(key.second);
          for (Address a : targets) push_once(p.nwid, a);
          break;
        }
        case Pending::Kind::MemberChanged:
          push_once(p.nwid, p.member);
          break;
        case Pending::Kind::MemberDeauthorized:
          revoke(now, p.nwid, p.member, out);
          break;
        case Pending::Kind::NetworkDeleted:
          for (Address a : p.members) revoke(now, p.nwid, a, out);
          for (auto it = members_.begin(); it != members_.end();)
            it = it->first.first == p.nwid ? members_.erase(it) : std::next(it);
          break;
      }
    }
  }
}

void EmbeddedController::push_to(int64_t now, uint64_t nwid, Address a, std::vector<Outgoing>& out) {
  auto it = members_.find({nwid, a});
  if (it == members_.end() || !it->second.has_metadata || !online(it->second, now)) return;
  // Copies: handle() may touch members_ (the map node stays, but keep the request self-contained).
  Identity id = it->second.identity;
  Bytes md = it->second.metadata;
  Request r{nwid, id, md, it->second.physical, 0, true};
  handle(now, r, out);
}

void EmbeddedController::revoke(int64_t now, uint64_t nwid, Address target, std::vector<Outgoing>& out) {
  if (!sender_) return;
  const Identity& self = sender_->controller_identity();
  proto::Revocation rev;
  rev.id = random32();
  rev.nwid = nwid;
  rev.credential_id = 0;
  rev.threshold = uint64_t(now);
  rev.flags = proto::Revocation::kFlagFastPropagate;
  rev.target = target;
  rev.credential_type = proto::CredentialType::Com;
  if (!rev.sign(self)) return;
  for (auto& [key, st] : members_) {
    if (key.first != nwid || !online(st, now)) continue;
    Outgoing o;
    o.kind = Outgoing::Kind::Revocation;
    o.dest = key.second;
    o.nwid = nwid;
    o.revocation = rev;
    out.push_back(std::move(o));
  }
}

void EmbeddedController::save_member(json& m) {
  auto r = db_.put_member(m);
  if (!r || !r->changed) return;
  m = r->stored;
  if (auto nwid = record_nwid(m))
    if (auto a = record_address(m)) pending_.push_back({Pending::Kind::MemberChanged, *nwid, *a, {}});
}

// ---- §10.1 steps 1–15 -------------------------------------------------------------------

void EmbeddedController::handle(int64_t now, const Request& req, std::vector<Outgoing>& out) {
  if (!sender_) return;
  const Identity& self = sender_->controller_identity();
  const uint64_t nwid = req.nwid;
  const Address addr = req.requester.address();
  const bool genuine = !req.push;

  // 1. Only networks of this controller, and only with a signing key.
  if (!self.has_private() || self.address() != proto::network_controller(nwid)) return;

  // 2. Rate limit genuine requests per (network, member); pushes are not limited.
  MemberState& st = members_[{nwid, addr}];
  if (genuine) {
    if (st.has_request && now - st.last_request < opts_.rate_limit_ms) return;
    st.has_request = true;
    st.last_request = now;
    // 3. Seen (not part of the JSON).
    st.last_seen = now;
    st.physical = req.from;
    if (seen_.size() < 100000) seen_.push_back({nwid, addr, now, req.from ? req.from->to_string() : std::string()});
  }

  auto error = [&](ErrorCode code, Bytes info = {}) {
    if (!genuine) return;  // a push has nobody to answer
    Outgoing o;
    o.kind = Outgoing::Kind::Error;
    o.dest = addr;
    o.nwid = nwid;
    o.packet_id = req.packet_id;
    o.code = code;
    o.info = std::move(info);
    out.push_back(std::move(o));
  };

  // 4. Network.
  // A read that failed (storage down: not ready) is not an answer: the member retries later
  // instead of being told the network does not exist or that it is not authorized.
  auto stored_net = db_.get_network(nwid);
  if (!stored_net) {
    if (!db_.ready()) return;
    error(ErrorCode::ObjNotFound);
    return;
  }
  json net = std::move(*stored_net);
  init_network(net, nwid, now, /*reset_trace_level=*/false);

  Dictionary meta;
  if (auto md = Dictionary::parse(req.metadata); md) meta = std::move(*md);

  // 5. Member record, defaults filled (the reference resets remoteTraceLevel here: quirk).
  auto stored_member = db_.get_member(nwid, addr);
  if (!stored_member && !db_.ready()) return;
  const bool is_new = !stored_member;
  json m = stored_member ? std::move(*stored_member) : json::object();
  init_member(m, nwid, addr, now, /*reset_trace_level=*/true);

  // 6. Identity pinning.
  std::string pinned = json_str(m, "identity");
  if (!pinned.empty()) {
    auto id = Identity::parse(pinned);
    if (!id || !(*id == req.requester)) {
      error(ErrorCode::NetworkAccessDenied);
      return;
    }
  } else {
    m["identity"] = req.requester.to_string(false);
  }

  // 7. Authorization: member flag, public network, auth token.
  const bool authorized = authorize_member(m, net, meta, now);

  // 8. SSO.
  const bool sso_applies = json_bool(net, "ssoEnabled", false) && !json_bool(m, "ssoExempt", false);
  SsoInfo sso;
  if (sso_applies) {
    sso = db_.sso_info(net, m);
    if (json_i64(m, "authenticationExpiryTime", 0) <= now) {
      save_member(m);
      error(ErrorCode::NetworkAuthenticationRequired, sso_error_info(sso).serialize());
      return;
    }
  }

  // 9. Unauthorized requesters are recorded (they show up in the member list).
  if (!authorized) {
    save_member(m);
    error(ErrorCode::NetworkAccessDenied);
    return;
  }
  if (genuine) {
    record_client_version(m, meta);
    st.has_metadata = true;
    st.identity = req.requester;
    st.metadata.assign(req.metadata.begin(), req.metadata.end());
    if (!seen_.empty() && seen_.back().nwid == nwid && seen_.back().member == addr)
      seen_.back().metadata = to_hex(req.metadata);
  }

  // 10–14. The config, from every member record of the network (active bridges, and the IPs
  // the pools must not hand out again).
  const ConfigContext ctx{self, req.requester, nwid, now, meta};
  OtherMembers others;
  others.active_bridges = db_.active_bridges(nwid);
  others.assigned_ips = [this, nwid] { return db_.assigned_ips(nwid); };
  NetworkConfig nc = build_config(ctx, net, m, is_new, others, sso_applies ? &sso : nullptr, opts_.random);

  // 15. Credentials, save, send.
  if (!issue_credentials(nc, ctx)) {
    error(ErrorCode::ObjNotFound);
    return;
  }
  save_member(m);
  auto dict = nc.to_dictionary();
  if (!dict) {
    error(ErrorCode::ObjNotFound);
    return;
  }
  Outgoing o;
  o.kind = Outgoing::Kind::Config;
  o.dest = addr;
  o.nwid = nwid;
  o.packet_id = req.packet_id;
  o.config = std::move(*dict);
  out.push_back(std::move(o));
}

// ---- management -----------------------------------------------------------------------------

ApiResponse EmbeddedController::list_networks() {
  json arr = json::array();
  for (uint64_t id : db_.list_networks()) arr.push_back(proto::network_id_to_string(id));
  return {200, arr};
}

ApiResponse EmbeddedController::get_network(uint64_t nwid) {
  auto n = db_.get_network(nwid);
  if (!n) return ApiResponse::error(404, "network " + proto::network_id_to_string(nwid) + " not found");
  return {200, *n};
}

ApiResponse EmbeddedController::write_network_locked(int64_t now, uint64_t nwid, const json& body) {
  Address self = address_.load();
  auto cur = db_.get_network(nwid);
  // On a shared Db (scale-out) any process may change any existing network (its owner
  // learns of it and pushes); only the owner creates one.
  if (self != 0 && proto::network_controller(nwid) != self && !(db_.shared() && cur))
    return ApiResponse::error(400, "network " + proto::network_id_to_string(nwid) +
                                       " does not belong to this controller (" + proto::address_to_string(self) + ")");
  json n = cur ? *cur : json::object();
  init_network(n, nwid, now, /*reset_trace_level=*/true);
  if (auto st = apply_network_update(n, body); !st) return ApiResponse::error(400, st.error());
  auto r = db_.put_network(n);
  if (!r) return ApiResponse::error(500, "storage: " + r.error());
  if (r->changed && cur) pending_.push_back({Pending::Kind::NetworkChanged, nwid, 0, {}});
  return {200, r->stored};
}

ApiResponse EmbeddedController::write_network(int64_t now, uint64_t nwid, const json& body) {
  std::lock_guard lk(mu_);
  return write_network_locked(now, nwid, body);
}

ApiResponse EmbeddedController::create_network(int64_t now, const json& body) {
  Address self = address_.load();
  if (self == 0) return ApiResponse::error(503, "controller is not attached to a node yet");
  if (!body.is_object()) return ApiResponse::error(400, "body: expected a JSON object");
  std::lock_guard lk(mu_);
  for (int tries = 0; tries < 4096; ++tries) {
    uint64_t number = random32() & 0xffffff;
    if (number == 0) continue;
    uint64_t nwid = (self << 24) | number;
    if (db_.get_network(nwid)) continue;
    return write_network_locked(now, nwid, body);
  }
  return ApiResponse::error(500, "could not find a free network number");
}

ApiResponse EmbeddedController::delete_network(int64_t now, uint64_t nwid) {
  std::lock_guard lk(mu_);
  if (!db_.get_network(nwid))
    return ApiResponse::error(404, "network " + proto::network_id_to_string(nwid) + " not found");
  std::vector<Address> members;
  for (auto& [a, rev] : db_.member_revisions(nwid)) members.push_back(a);
  auto r = db_.delete_network(nwid);
  if (!r) return ApiResponse::error(500, "storage: " + r.error());
  if (!r->has_value()) return ApiResponse::error(404, "network " + proto::network_id_to_string(nwid) + " not found");
  pending_.push_back({Pending::Kind::NetworkDeleted, nwid, 0, members});
  return {200, **r};
}

ApiResponse EmbeddedController::list_members(uint64_t nwid) {
  if (!db_.get_network(nwid))
    return ApiResponse::error(404, "network " + proto::network_id_to_string(nwid) + " not found");
  json o = json::object();
  for (auto& [a, rev] : db_.member_revisions(nwid)) o[proto::address_to_string(a)] = rev;
  return {200, o};
}

ApiResponse EmbeddedController::get_member(uint64_t nwid, Address a) {
  if (!db_.get_network(nwid))
    return ApiResponse::error(404, "network " + proto::network_id_to_string(nwid) + " not found");
  auto m = db_.get_member(nwid, a);
  if (!m) return ApiResponse::error(404, "member " + proto::address_to_string(a) + " not found");
  return {200, *m};
}

ApiResponse EmbeddedController::write_member(int64_t now, uint64_t nwid, Address a, const json& body) {
  std::lock_guard lk(mu_);
  if (!db_.get_network(nwid))
    return ApiResponse::error(404, "network " + proto::network_id_to_string(nwid) + " not found");
  if (proto::address_reserved(a)) return ApiResponse::error(400, "reserved member address");
  auto cur = db_.get_member(nwid, a);
  json m = cur ? *cur : json::object();
  init_member(m, nwid, a, now, /*reset_trace_level=*/true);
  auto u = apply_member_update(m, body, now);
  if (!u) return ApiResponse::error(400, u.error());
  auto r = db_.put_member(m);
  if (!r) return ApiResponse::error(500, "storage: " + r.error());
  if (r->changed) pending_.push_back({Pending::Kind::MemberChanged, nwid, a, {}});
  if (u->deauthorized) pending_.push_back({Pending::Kind::MemberDeauthorized, nwid, a, {}});
  return {200, r->stored};
}

ApiResponse EmbeddedController::delete_member(int64_t now, uint64_t nwid, Address a) {
  std::lock_guard lk(mu_);
  if (!db_.get_network(nwid))
    return ApiResponse::error(404, "network " + proto::network_id_to_string(nwid) + " not found");
  auto r = db_.delete_member(nwid, a);
  if (!r) return ApiResponse::error(500, "storage: " + r.error());
  if (!r->has_value()) return ApiResponse::error(404, "member " + proto::address_to_string(a) + " not found");
  // Deleting an authorized member deauthorizes it: revoke its COM. Its remembered request is
  // forgotten so later network changes push nothing to it.
  if (json_bool(**r, "authorized", false)) pending_.push_back({Pending::Kind::MemberDeauthorized, nwid, a, {}});
  if (auto it = members_.find({nwid, a}); it != members_.end()) it->second.has_metadata = false;
  return {200, **r};
}

}  // namespace zt::controller
