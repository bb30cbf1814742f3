// §10.1 request handling and §10.2 management. See embedded_controller.hpp.
#include "controller/embedded_controller.hpp"

#include <algorithm>
#include <cstring>
#include <set>

#include "base/hex.hpp"
#include "controller/objects.hpp"
#include "crypto/crypto.hpp"
#include "proto/netconf.hpp"
#include "proto/vl2.hpp"

namespace zt::controller {

using proto::Address;
using proto::Dictionary;
using proto::ErrorCode;
using proto::Identity;
using proto::InetAddress;
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

namespace {

constexpr int64_t kCtmdDefault = 1800000, kCtmdMin = 300000, kCtmdMax = 7200000;  // §10.1 step 10
constexpr size_t kMaxPoolTrials = 1000;

// True if `ip` lies in the network `net` (address + prefix bits in the port field).
bool net_contains(const InetAddress& net, const InetAddress& ip) {
  if (net.family() != ip.family() || net.empty()) return false;
  unsigned bits = net.prefix_bits(), size = unsigned(net.ip_size());
  if (bits > size * 8) return false;
  for (unsigned i = 0; i < size && bits > 0; ++i) {
    unsigned take = std::min(bits, 8u);
    uint8_t mask = uint8_t(0xff00 >> take);
    if ((net.ip()[i] & mask) != (ip.ip()[i] & mask)) return false;
    bits -= take;
  }
  return true;
}

InetAddress v6_from_halves(uint64_t hi, uint64_t lo) {
  uint8_t b[16];
  store_be64(b, hi);
  store_be64(b + 8, lo);
  return InetAddress::v6(b, 0);
}

json& ensure_array(json& o, const char* key) {
  if (!o[key].is_array()) o[key] = json::array();
  return o[key];
}

}  // namespace

EmbeddedController::EmbeddedController(ControllerDb& db, ControllerOptions opts) : db_(db), opts_(std::move(opts)) {
  if (!opts_.random) opts_.random = [](uint8_t* p, size_t n) { crypto::random_bytes(p, n); };
}

EmbeddedController::~EmbeddedController() = default;

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
  {
    std::lock_guard lk(mu_);
    run_pending(now, out);
    for (auto it = members_.begin(); it != members_.end();) {
      const MemberState& st = it->second;
      int64_t last = std::max(st.last_seen, st.has_request ? st.last_request : st.last_seen);
      if (now - last > opts_.forget_after_ms) it = members_.erase(it);
      else ++it;
    }
  }
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
  auto stored_net = db_.get_network(nwid);
  if (!stored_net) {
    error(ErrorCode::ObjNotFound);
    return;
  }
  json net = std::move(*stored_net);
  init_network(net, nwid, now, /*reset_trace_level=*/false);

  Dictionary meta;
  if (auto md = Dictionary::parse(req.metadata); md) meta = std::move(*md);

  // 5. Member record, defaults filled (the reference resets remoteTraceLevel here: quirk).
  auto stored_member = db_.get_member(nwid, addr);
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
  bool authorized = json_bool(m, "authorized", false);
  if (!authorized) {
    std::string type;
    json credential = nullptr;
    if (!json_bool(net, "private", true)) {
      type = "public";
    } else if (auto a = meta.get_string("a"); a && a->size() > 6 && a->compare(0, 6, "token:") == 0) {
      // The reference throws (and never answers) when authTokens is its default [null];
      // we simply find no token there.
      std::string token = a->substr(6);
      const json& tokens = net["authTokens"];
      if (tokens.is_object()) {
        auto t = tokens.find(token);
        if (t != tokens.end() && t->is_number()) {
          int64_t expiry = t->is_number_unsigned() ? int64_t(t->get<uint64_t>()) : t->get<int64_t>();
          if (expiry == 0 || expiry > now) {
            type = "token";
            credential = token;
          }
        }
      }
    }
    if (!type.empty()) {
      authorized = true;
      m["authorized"] = true;
      m["lastAuthorizedTime"] = now;
      m["lastAuthorizedCredentialType"] = type;
      m["lastAuthorizedCredential"] = credential;
    }
  }

  // 8. SSO.
  const bool sso_applies = json_bool(net, "ssoEnabled", false) && !json_bool(m, "ssoExempt", false);
  SsoInfo sso;
  if (sso_applies) {
    sso = db_.sso_info(net, m);
    if (json_i64(m, "authenticationExpiryTime", 0) <= now) {
      save_member(m);
      Dictionary info;
      if (sso.version == 0) {
        info.set_u64("aV", 0);
        info.set_string("aU", sso.authentication_url);
      } else {
        info.set_u64("aV", 1);
        info.set_string("iU", sso.issuer_url);
        info.set_string("aCU", sso.central_url);
        info.set_string("aN", sso.nonce);
        info.set_string("aS", sso.state);
        info.set_string("aCID", sso.client_id);
      }
      error(ErrorCode::NetworkAuthenticationRequired, info.serialize());
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
    m["vMajor"] = int64_t(meta.get_u64("majv", 0));
    m["vMinor"] = int64_t(meta.get_u64("minv", 0));
    m["vRev"] = int64_t(meta.get_u64("revv", 0));
    m["vProto"] = int64_t(meta.get_u64("pv", 0));
    st.has_metadata = true;
    st.identity = req.requester;
    st.metadata.assign(req.metadata.begin(), req.metadata.end());
  }

  // 10. Config basics.
  NetworkConfig nc;
  nc.nwid = nwid;
  nc.type = json_bool(net, "private", true) ? NetworkConfig::kTypePrivate : NetworkConfig::kTypePublic;
  nc.timestamp = uint64_t(now);
  nc.issued_to = addr;
  int64_t ctmd = kCtmdDefault;
  if (net.contains("certificateTimeoutWindowSize") && net["certificateTimeoutWindowSize"].is_number())
    ctmd = json_i64(net, "certificateTimeoutWindowSize", kCtmdDefault);
  ctmd = std::clamp(ctmd, kCtmdMin, kCtmdMax);
  nc.credential_time_max_delta = uint64_t(ctmd);
  nc.revision = json_u64(net, "revision", 0);
  nc.flags = json_bool(net, "enableBroadcast", true) ? NetworkConfig::kFlagEnableBroadcast : 0;
  nc.name = json_str(net, "name");
  if (nc.name.size() > NetworkConfig::kMaxNameLength) nc.name.resize(NetworkConfig::kMaxNameLength);
  nc.mtu = std::clamp<uint64_t>(json_u64(net, "mtu", NetworkConfig::kDefaultMtu), NetworkConfig::kMinMtu,
                                NetworkConfig::kMaxMtu);
  nc.multicast_limit = json_u64(net, "multicastLimit", 32);
  if (sso_applies) {
    nc.sso_enabled = true;
    nc.sso_version = sso.version;
    nc.authentication_expiry_time = json_i64(m, "authenticationExpiryTime", 0);
    nc.authentication_url = sso.authentication_url;
    nc.issuer_url = sso.issuer_url;
    nc.central_endpoint_url = sso.central_url;
    nc.sso_nonce = sso.nonce;
    nc.sso_state = sso.state;
    nc.sso_client_id = sso.client_id;
  }
  {
    auto hex10 = [](const std::string& s) -> std::optional<uint64_t> {
      if (s.size() != 10) return std::nullopt;
      return parse_hex_u64(s);
    };
    if (auto t = hex10(json_str(m, "remoteTraceTarget"))) {
      nc.remote_trace_target = *t;
      nc.remote_trace_level = json_u64(m, "remoteTraceLevel", 0);
    } else {
      nc.remote_trace_target = hex10(json_str(net, "remoteTraceTarget")).value_or(0);
      nc.remote_trace_level = json_u64(net, "remoteTraceLevel", 0);
    }
  }

  // Every member record of the network (with this member's in-flight version): active
  // bridges for `S`, and every assigned IP for the pools.
  std::vector<json> all = db_.members_of(nwid);
  std::set<InetAddress> allocated;
  std::vector<Address> bridges;
  bool self_listed = false;
  for (const json& other : all) {
    auto oa = record_address(other);
    if (!oa) continue;
    const json& rec = *oa == addr ? m : other;
    self_listed = self_listed || *oa == addr;
    if (json_bool(rec, "activeBridge", false)) bridges.push_back(*oa);
    auto ips = other.find("ipAssignments");
    if (ips != other.end() && ips->is_array())
      for (const json& s : *ips)
        if (s.is_string())
          if (auto ip = parse_ip(s.get_ref<const std::string&>())) allocated.insert(*ip);
  }
  if (!self_listed && json_bool(m, "activeBridge", false)) bridges.push_back(addr);
  std::sort(bridges.begin(), bridges.end());
  for (Address b : bridges) nc.specialists.push_back(b | NetworkConfig::kSpecialistActiveBridge);

  // 11. Rules, capabilities, tags.
  if (meta.get_u64("revr", 0) == 0) {
    nc.rules = {proto::Rule::accept()};
  } else {
    if (net["rules"].is_array())
      for (const json& rj : net["rules"]) {
        if (nc.rules.size() >= NetworkConfig::kMaxRules) break;
        if (auto r = rule_from_json(rj)) nc.rules.push_back(*r);
      }

    std::map<uint32_t, const json*> net_caps;
    if (net["capabilities"].is_array())
      for (const json& c : net["capabilities"])
        if (c.is_object() && c.contains("id")) net_caps.emplace(uint32_t(json_u64(c, "id", 0)), &c);
    json& member_caps = ensure_array(m, "capabilities");
    if (is_new && net["capabilities"].is_array()) {
      for (const json& c : net["capabilities"]) {
        if (!c.is_object() || !json_bool(c, "default", false) || !c.contains("id")) continue;
        uint32_t id = uint32_t(json_u64(c, "id", 0));
        bool have = std::any_of(member_caps.begin(), member_caps.end(),
                                [&](const json& x) { return x.is_number() && uint32_t(x.get<uint64_t>()) == id; });
        if (!have) member_caps.push_back(id);
      }
    }
    for (const json& x : member_caps) {
      if (nc.capabilities.size() >= NetworkConfig::kMaxCapabilities) break;
      if (!x.is_number_integer()) continue;
      auto c = net_caps.find(uint32_t(x.get<uint64_t>()));
      if (c == net_caps.end()) continue;
      std::vector<proto::Rule> rules;
      const json& cr = (*c->second)["rules"];
      if (cr.is_array())
        for (const json& rj : cr) {
          if (rules.size() >= proto::kMaxCapabilityRules) break;
          if (auto r = rule_from_json(rj)) rules.push_back(*r);
        }
      proto::Capability cap;
      cap.nwid = nwid;
      cap.timestamp = uint64_t(now);
      cap.id = c->first;
      cap.max_custody = 1;
      cap.set_rules(rules);
      if (cap.sign(self, addr)) nc.capabilities.push_back(std::move(cap));
    }

    std::map<uint32_t, uint32_t> tags;
    json& member_tags = ensure_array(m, "tags");
    for (const json& t : member_tags)
      if (t.is_array() && t.size() == 2 && t[0].is_number_integer() && t[1].is_number_integer())
        tags[uint32_t(t[0].get<uint64_t>())] = uint32_t(t[1].get<uint64_t>());
    if (net["tags"].is_array())
      for (const json& t : net["tags"]) {
        if (!t.is_object() || !t.contains("id")) continue;
        auto d = t.find("default");
        if (d == t.end() || !d->is_number_integer()) continue;
        uint32_t id = uint32_t(json_u64(t, "id", 0));
        if (tags.count(id)) continue;
        uint32_t value = uint32_t(d->get<uint64_t>());
        tags[id] = value;
        member_tags.push_back(json::array({id, value}));  // any member, new or not
      }
    for (auto [id, value] : tags) {
      if (nc.tags.size() >= NetworkConfig::kMaxTags) break;
      proto::Tag tag;
      tag.nwid = nwid;
      tag.timestamp = uint64_t(now);
      tag.id = id;
      tag.value = value;
      tag.issued_to = addr;
      if (tag.sign(self)) nc.tags.push_back(std::move(tag));
    }
  }

  // 12. Routes.
  if (net["routes"].is_array())
    for (const json& r : net["routes"]) {
      if (nc.routes.size() >= NetworkConfig::kMaxRoutes) break;
      if (!r.is_object()) continue;
      auto target = parse_cidr(json_str(r, "target"));
      if (!target) continue;
      proto::NetworkRoute route;
      route.target = *target;
      if (auto via = parse_ip(json_str(r, "via")); via && via->family() == target->family()) route.via = *via;
      nc.routes.push_back(route);
    }

  // 13. Static IPs (order matters: it is also the COO order).
  const bool no_auto = json_bool(m, "noAutoAssignIps", false);
  const json v6mode = net["v6AssignMode"].is_object() ? net["v6AssignMode"] : json::object();
  const json v4mode = net["v4AssignMode"].is_object() ? net["v4AssignMode"] : json::object();
  auto add_ip = [&](const InetAddress& ip) {
    if (nc.static_ips.size() < NetworkConfig::kMaxStaticIps) nc.static_ips.push_back(ip);
  };
  if (!no_auto) {
    if (json_bool(v6mode, "rfc4193", false)) {
      add_ip(proto::rfc4193_address(nwid, addr));
      nc.flags |= NetworkConfig::kFlagNdpEmulation;
    }
    if (json_bool(v6mode, "6plane", false)) {
      add_ip(proto::sixplane_address(nwid, addr));
      nc.flags |= NetworkConfig::kFlagNdpEmulation;
    }
  }
  bool have_v4 = false, have_v6 = false;
  json& ip_assignments = ensure_array(m, "ipAssignments");
  std::set<InetAddress> mine;
  for (const json& s : ip_assignments) {
    if (!s.is_string()) continue;
    auto ip = parse_ip(s.get_ref<const std::string&>());
    if (!ip) continue;
    mine.insert(*ip);
    unsigned best = 0;  // the largest prefix among the routes containing it
    for (const auto& rt : nc.routes)
      if (net_contains(rt.target, *ip)) best = std::max(best, rt.target.prefix_bits());
    if (best == 0) continue;  // outside every route: kept in the record, not in the config
    InetAddress with = *ip;
    with.set_port(uint16_t(best));
    add_ip(with);
    (ip->is_v4() ? have_v4 : have_v6) = true;
  }
  auto take = [&](const InetAddress& candidate, unsigned prefix) {
    if (prefix == 0 || allocated.count(candidate) || mine.count(candidate)) return false;
    ip_assignments.push_back(candidate.ip_string());
    mine.insert(candidate);
    InetAddress with = candidate;
    with.set_port(uint16_t(prefix));
    add_ip(with);
    return true;
  };
  const json pools = net["ipAssignmentPools"].is_array() ? net["ipAssignmentPools"] : json::array();
  if (!no_auto && json_bool(v6mode, "zt", false) && !have_v6) {
    for (const json& p : pools) {
      if (have_v6) break;
      auto s = parse_ip(json_str(p, "ipRangeStart")), e = parse_ip(json_str(p, "ipRangeEnd"));
      if (!s || !e || !s->is_v6() || !e->is_v6()) continue;
      const uint64_t shi = load_be64(s->ip()), slo = load_be64(s->ip() + 8);
      const uint64_t ehi = load_be64(e->ip()), elo = load_be64(e->ip() + 8);
      for (size_t trial = 0; trial < kMaxPoolTrials && !have_v6; ++trial) {
        uint64_t hi, lo;
        if (trial == 0 && elo > slo && elo - slo >= 0xffffffffffULL) {
          hi = shi;
          lo = slo + addr;
        } else {
          uint8_t r[16];
          opts_.random(r, sizeof r);
          uint64_t rhi = load_be64(r), rlo = load_be64(r + 8);
          hi = ehi > shi ? shi + rhi % (ehi - shi) : shi;
          lo = elo > slo ? slo + rlo % (elo - slo) : slo;
        }
        InetAddress candidate = v6_from_halves(hi, lo);
        unsigned prefix = 0;  // the last matching gateway-less IPv6 route
        for (const auto& rt : nc.routes)
          if (rt.via.empty() && rt.target.is_v6() && net_contains(rt.target, candidate))
            prefix = rt.target.prefix_bits();
        have_v6 = take(candidate, prefix);
      }
    }
  }
  if (!no_auto && json_bool(v4mode, "zt", false) && !have_v4) {
    for (const json& p : pools) {
      if (have_v4) break;
      auto s = parse_ip(json_str(p, "ipRangeStart")), e = parse_ip(json_str(p, "ipRangeEnd"));
      if (!s || !e || !s->is_v4() || !e->is_v4()) continue;
      const uint32_t start = s->ipv4(), end = e->ipv4();
      if (end < start || start == 0) continue;
      // The reference's counter walk (worked example in §10.1 step 13d).
      const uint32_t span = end - start;
      uint32_t counter = uint32_t(addr);
      const uint64_t trials = std::min<uint64_t>(kMaxPoolTrials, uint64_t(span) + 1);
      for (uint64_t k = 0; k < trials && !have_v4; ++k) {
        uint32_t ip = span ? start + counter % span : start;
        ++counter;
        if ((ip & 0xff) == 0xff) continue;
        unsigned prefix = 0;  // the first IPv4 route (any via) whose network holds it
        for (const auto& rt : nc.routes) {
          if (!rt.target.is_v4()) continue;
          unsigned bits = rt.target.prefix_bits();
          uint32_t mask = bits == 0 ? 0 : bits >= 32 ? 0xffffffffu : ~(0xffffffffu >> bits);
          if ((ip & mask) == rt.target.ipv4()) {
            prefix = bits;
            break;
          }
        }
        have_v4 = take(InetAddress::v4(ip, 0), prefix);
      }
    }
  }

  // 14. DNS.
  if (net["dns"].is_object()) {
    const json& d = net["dns"];
    nc.dns.domain = json_str(d, "domain");
    if (nc.dns.domain.size() > 127) nc.dns.domain.resize(127);
    if (d.contains("servers") && d["servers"].is_array()) {
      size_t n = 0;
      for (const json& s : d["servers"]) {
        if (n++ >= proto::NetworkDns::kMaxServers) break;
        if (!s.is_string()) continue;
        if (auto ip = parse_ip(s.get_ref<const std::string&>())) nc.dns.servers.push_back(*ip);
      }
    }
  }

  // 15. Credentials, save, send.
  if (!nc.static_ips.empty()) {
    proto::CertificateOfOwnership coo;
    coo.nwid = nwid;
    coo.timestamp = uint64_t(now);
    coo.flags = 0;
    coo.id = 1;
    coo.issued_to = addr;
    for (const auto& ip : nc.static_ips) coo.add_ip(ip);  // stops at 16
    if (coo.sign(self)) nc.certificates_of_ownership.push_back(std::move(coo));
  }
  auto com = proto::CertificateOfMembership::make(uint64_t(now), uint64_t(ctmd), nwid, req.requester);
  if (!com.sign(self)) {
    error(ErrorCode::ObjNotFound);
    return;
  }
  nc.com = std::move(com);

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
  if (self != 0 && proto::network_controller(nwid) != self)
    return ApiResponse::error(400, "network " + proto::network_id_to_string(nwid) +
                                       " does not belong to this controller (" + proto::address_to_string(self) + ")");
  auto cur = db_.get_network(nwid);
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
