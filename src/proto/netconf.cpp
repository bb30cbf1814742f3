#include "proto/netconf.hpp"

#include <algorithm>
#include <cstring>

#include "base/hex.hpp"

namespace zt::proto {
namespace {

// Reads a concatenation of credentials of type T filling a whole binary value.
template <class T>
Status read_all(const Bytes& blob, size_t max, std::vector<T>& out, const char* what) {
  Reader r(blob);
  while (r.remaining() > 0) {
    if (out.size() >= max) return err(std::string(what) + ": more than " + std::to_string(max));
    auto v = T::read(r);
    if (!v) return err(std::string(what) + ": " + v.error());
    out.push_back(std::move(*v));
  }
  return ok_status();
}

Status read_dns(const Bytes& blob, NetworkDns& dns) {
  Reader r(blob);
  ByteSpan domain = r.bytes(NetworkDns::kDomainSize);
  if (!r.ok()) return err("DNS: truncated domain");
  size_t n = 0;
  while (n < domain.size() && domain[n] != 0) ++n;
  if (n == domain.size()) --n;  // keep room for the terminating NUL, as the reference does
  dns.domain.assign(reinterpret_cast<const char*>(domain.data()), n);
  for (size_t i = 0; i < NetworkDns::kMaxServers; ++i) {
    auto a = InetAddress::read(r);
    if (!a) return err("DNS: server: " + a.error());
    if (!a->empty()) dns.servers.push_back(*a);
  }
  if (!r.done()) return err("DNS: trailing bytes");
  return ok_status();
}

void write_dns(const NetworkDns& dns, Writer& w) {
  size_t n = std::min(dns.domain.size(), NetworkDns::kDomainSize - 1);
  w.bytes(std::string_view(dns.domain).substr(0, n));
  w.zeros(NetworkDns::kDomainSize - n);
  for (size_t i = 0; i < NetworkDns::kMaxServers; ++i) {
    if (i < dns.servers.size())
      dns.servers[i].write(w);
    else
      InetAddress().write(w);
  }
}

}  // namespace

Result<NetworkConfig> NetworkConfig::parse(ByteSpan text) {
  auto d = Dictionary::parse(text);
  if (!d) return d.take_error();
  return from_dictionary(*d);
}

Result<NetworkConfig> NetworkConfig::from_dictionary(const Dictionary& d) {
  NetworkConfig c;
  c.nwid = d.get_u64("nwid", 0);
  if (c.nwid == 0) return err("netconf: missing or zero nwid");
  c.issued_to = d.get_u64("id", 0) & 0xffffffffffULL;
  if (c.issued_to == 0) return err("netconf: missing or zero id");
  c.version = d.get_u64("v", 0);
  if (c.version < 6) return err("netconf: legacy config version " + std::to_string(c.version) + " not supported");
  c.timestamp = d.get_u64("ts", 0);
  c.credential_time_max_delta = d.get_u64("ctmd", 0);
  c.revision = d.get_u64("r", 0);
  c.remote_trace_target = d.get_u64("tt", 0) & 0xffffffffffULL;
  c.remote_trace_level = d.get_u64("tl", 0);
  c.flags = d.get_u64("f", 0);
  c.multicast_limit = d.get_u64("ml", 0);
  c.type = d.get_u64("t", kTypePrivate);
  c.name = d.get_string("n").value_or("");
  if (c.name.size() > kMaxNameLength) c.name.resize(kMaxNameLength);
  c.mtu = std::clamp<uint64_t>(d.get_u64("mtu", kDefaultMtu), kMinMtu, kMaxMtu);

  if (const Bytes* b = d.get("C")) {
    Reader r(*b);
    auto com = CertificateOfMembership::read(r);
    if (!com) return err("netconf: C: " + com.error());
    if (!r.done()) return err("netconf: C: trailing bytes");
    c.com = std::move(*com);
  }
  if (const Bytes* b = d.get("CAP")) {
    if (auto s = read_all(*b, kMaxCapabilities, c.capabilities, "netconf: CAP"); !s) return s.take_error();
    std::stable_sort(c.capabilities.begin(), c.capabilities.end(),
                     [](const Capability& a, const Capability& b) { return a.id < b.id; });
  }
  if (const Bytes* b = d.get("TAG")) {
    if (auto s = read_all(*b, kMaxTags, c.tags, "netconf: TAG"); !s) return s.take_error();
    std::stable_sort(c.tags.begin(), c.tags.end(), [](const Tag& a, const Tag& b) { return a.id < b.id; });
  }
  if (const Bytes* b = d.get("COO")) {
    if (auto s = read_all(*b, kMaxCertificatesOfOwnership, c.certificates_of_ownership, "netconf: COO"); !s)
      return s.take_error();
  }
  if (const Bytes* b = d.get("S")) {
    if (b->size() % 8) return err("netconf: S: length not a multiple of 8");
    if (b->size() / 8 > kMaxSpecialists) return err("netconf: S: too many specialists");
    for (size_t i = 0; i < b->size(); i += 8) c.specialists.push_back(load_be64(b->data() + i));
  }
  if (const Bytes* b = d.get("RT")) {
    Reader r(*b);
    while (r.remaining() > 0) {
      if (c.routes.size() >= kMaxRoutes) return err("netconf: RT: more than 128 routes");
      NetworkRoute rt;
      auto target = InetAddress::read(r);
      if (!target) return err("netconf: RT: target: " + target.error());
      auto via = InetAddress::read(r);
      if (!via) return err("netconf: RT: via: " + via.error());
      rt.target = *target;
      rt.via = *via;
      rt.flags = r.u16();
      rt.metric = r.u16();
      if (!r.ok()) return err("netconf: RT: truncated");
      c.routes.push_back(rt);
    }
  }
  if (const Bytes* b = d.get("I")) {
    Reader r(*b);
    while (r.remaining() > 0) {
      if (c.static_ips.size() >= kMaxStaticIps) return err("netconf: I: more than 32 addresses");
      auto ip = InetAddress::read(r);
      if (!ip) return err("netconf: I: " + ip.error());
      c.static_ips.push_back(*ip);
    }
  }
  if (const Bytes* b = d.get("R")) {
    auto rules = parse_rules(*b, kMaxRules);
    if (!rules) return err("netconf: R: " + rules.error());
    c.rules = std::move(*rules);
  }
  if (const Bytes* b = d.get("DNS")) {
    if (auto s = read_dns(*b, c.dns); !s) return err("netconf: " + s.error());
  }
  c.sso_version = d.get_u64("ssov", 0);
  c.sso_enabled = d.get_bool("ssoe", false);
  if (c.sso_enabled) {
    c.authentication_url = d.get_string("aurl").value_or("");
    c.authentication_expiry_time = d.get_i64("aexpt").value_or(0);
    c.issuer_url = d.get_string("iurl").value_or("");
    c.central_endpoint_url = d.get_string("ssoce").value_or("");
    c.sso_nonce = d.get_string("sson").value_or("");
    c.sso_state = d.get_string("ssos").value_or("");
    c.sso_client_id = d.get_string("ssocid").value_or("");
    c.sso_provider = d.get_string("ssop").value_or("");
  }
  return c;
}

Result<Dictionary> NetworkConfig::to_dictionary(size_t capacity) const {
  Dictionary d(capacity);
  bool ok = true;
  auto blob = [&](const char* key, const Writer& w) {
    if (w.size()) ok = ok && d.add(key, w.span());
  };
  ok = ok && d.add("v", as_bytes(to_hex(version, 16)));
  ok = ok && d.add("nwid", as_bytes(to_hex(nwid, 16)));
  ok = ok && d.add("ts", as_bytes(to_hex(timestamp, 16)));
  ok = ok && d.add("ctmd", as_bytes(to_hex(credential_time_max_delta, 16)));
  ok = ok && d.add("r", as_bytes(to_hex(revision, 16)));
  ok = ok && d.add("id", as_bytes(to_hex(issued_to, 10)));
  ok = ok && d.add("tt", as_bytes(to_hex(remote_trace_target, 10)));
  ok = ok && d.add("tl", as_bytes(to_hex(remote_trace_level, 16)));
  ok = ok && d.add("f", as_bytes(to_hex(flags, 16)));
  ok = ok && d.add("ml", as_bytes(to_hex(multicast_limit, 16)));
  ok = ok && d.add("t", as_bytes(to_hex(type, 16)));
  ok = ok && d.add("n", as_bytes(name));
  ok = ok && d.add("mtu", as_bytes(to_hex(mtu, 16)));
  {
    Writer w;
    if (com) com->write(w);
    blob("C", w);
  }
  {
    Writer w;
    for (const auto& x : capabilities) x.write(w);
    blob("CAP", w);
  }
  {
    Writer w;
    for (const auto& x : tags) x.write(w);
    blob("TAG", w);
  }
  {
    Writer w;
    for (const auto& x : certificates_of_ownership) x.write(w);
    blob("COO", w);
  }
  {
    Writer w;
    for (uint64_t s : specialists) w.u64(s);
    blob("S", w);
  }
  {
    Writer w;
    for (const auto& rt : routes) {
      rt.target.write(w);
      rt.via.write(w);
      w.u16(rt.flags).u16(rt.metric);
    }
    blob("RT", w);
  }
  {
    Writer w;
    for (const auto& ip : static_ips) ip.write(w);
    blob("I", w);
  }
  {
    Writer w;
    write_rules(w, rules);
    blob("R", w);
  }
  {
    Writer w(NetworkDns::kDomainSize + NetworkDns::kMaxServers * 19);
    write_dns(dns, w);
    blob("DNS", w);
  }
  ok = ok && d.add("ssov", as_bytes(to_hex(sso_version, 16)));
  ok = ok && d.add("ssoe", as_bytes(std::string_view(sso_enabled ? "1" : "0")));
  if (sso_enabled) {
    // Order after ssoe is not covered by the vectors (§6.2 lists the keys only).
    auto str = [&](const char* key, const std::string& v) {
      if (!v.empty()) ok = ok && d.add(key, as_bytes(v));
    };
    str("aurl", authentication_url);
    if (authentication_expiry_time < 0)
      ok = ok && d.add("aexpt", as_bytes("-" + to_hex(0 - uint64_t(authentication_expiry_time), 16)));
    else
      ok = ok && d.add("aexpt", as_bytes(to_hex(uint64_t(authentication_expiry_time), 16)));
    if (sso_version >= 1) {
      str("iurl", issuer_url);
      str("ssoce", central_endpoint_url);
      str("sson", sso_nonce);
      str("ssos", sso_state);
      str("ssocid", sso_client_id);
      str("ssop", sso_provider);
    }
  }
  if (!ok) return err("netconf: dictionary capacity exceeded");
  return d;
}

std::vector<Address> NetworkConfig::specialists_with(uint64_t flag_mask) const {
  std::vector<Address> out;
  for (uint64_t s : specialists)
    if (s & flag_mask) out.push_back(s & 0xffffffffffULL);
  return out;
}

bool NetworkConfig::is_active_bridge(Address a) const {
  for (uint64_t s : specialists)
    if ((s & 0xffffffffffULL) == a && (s & kSpecialistActiveBridge)) return true;
  return false;
}

const Tag* NetworkConfig::tag(uint32_t id) const {
  for (const auto& t : tags)
    if (t.id == id) return &t;
  return nullptr;
}

const Capability* NetworkConfig::capability(uint32_t id) const {
  for (const auto& c : capabilities)
    if (c.id == id) return &c;
  return nullptr;
}

std::vector<std::string> network_flag_names(uint64_t flags) {
  std::vector<std::string> out;
  struct {
    uint64_t bit;
    const char* name;
  } const kNames[] = {
      {NetworkConfig::kFlagEnableBroadcast, "enableBroadcast"},
      {NetworkConfig::kFlagNdpEmulation, "ndpEmulation"},
      {NetworkConfig::kFlagUnsupportedMatchResult, "unsupportedMatchResult"},
      {NetworkConfig::kFlagDisableCompression, "disableCompression"},
  };
  uint64_t known = 0;
  for (const auto& n : kNames) {
    known |= n.bit;
    if (flags & n.bit) out.push_back(n.name);
  }
  for (int b = 0; b < 64; ++b) {
    uint64_t bit = uint64_t(1) << b;
    if ((flags & bit) && !(known & bit)) out.push_back("0x" + to_hex(bit, 16));
  }
  return out;
}

}  // namespace zt::proto
