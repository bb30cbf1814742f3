// core rules engine (PROTOCOL.md §8.2, §8.3, §15 rule logs): table-driven frames (IPv4 TCP
// SYN, UDP, ICMP echo, IPv6 with extension headers, ICMPv6/NDP, ARP, short and truncated
// frames) through rule sets covering every match type and action, the NOT/OR/hard-no/hard-yes
// semantics, tags with skipDrop, characteristics incl. COO-authenticated senders, the
// INTEGER_RANGE quirks, and the full filters with the capabilities fallback.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "core/membership.hpp"
#include "core/rules_engine.hpp"
#include "support/credential_factory.hpp"

using namespace zt;
using namespace zt::proto;
using namespace zt::core;
using zt::test::kVectorNwid;
using zt::test::VectorNodes;

namespace {

// ---- Addresses used throughout -------------------------------------------------------------
constexpr Address kSelf = 0x8fec3e8ae4ULL;   // node A
constexpr Address kPeer = 0xeb8cb7d1c8ULL;   // node B
constexpr Address kOther = 0x1122334455ULL;  // a third node (TEE/REDIRECT target)
constexpr uint64_t kTs = 1800000000000ULL;
constexpr uint64_t kCtmd = 1800000;

const Mac kMacSelf = Mac::from_address(kSelf, kVectorNwid);
const Mac kMacPeer = Mac::from_address(kPeer, kVectorNwid);

// ---- Frame builders (Ethernet payloads) ----------------------------------------------------
using IPv4 = std::array<uint8_t, 4>;
using IPv6 = std::array<uint8_t, 16>;

const IPv4 kIp4Self = {10, 147, 17, 14};
const IPv4 kIp4Peer = {10, 147, 17, 42};

Bytes ipv4(uint8_t proto, IPv4 src, IPv4 dst, const Bytes& l4, uint8_t tos = 0) {
  Bytes f(20);
  f[0] = 0x45;
  f[1] = tos;
  store_be16(&f[2], uint16_t(20 + l4.size()));
  store_be16(&f[4], 0x1234);
  store_be16(&f[6], 0x4000);  // DF
  f[8] = 64;
  f[9] = proto;
  std::memcpy(&f[12], src.data(), 4);
  std::memcpy(&f[16], dst.data(), 4);
  f.insert(f.end(), l4.begin(), l4.end());
  return f;
}

Bytes tcp(uint16_t sport, uint16_t dport, uint8_t flags, uint8_t ns = 0) {
  Bytes t(20);
  store_be16(&t[0], sport);
  store_be16(&t[2], dport);
  store_be32(&t[4], 1000);
  t[12] = uint8_t(0x50 | (ns & 0x0f));
  t[13] = flags;
  store_be16(&t[14], 65535);
  return t;
}

Bytes udp(uint16_t sport, uint16_t dport, size_t payload = 4) {
  Bytes u(8 + payload, 0xab);
  store_be16(&u[0], sport);
  store_be16(&u[2], dport);
  store_be16(&u[4], uint16_t(8 + payload));
  store_be16(&u[6], 0);
  return u;
}

Bytes icmp(uint8_t type, uint8_t code) {
  Bytes i(8, 0);
  i[0] = type;
  i[1] = code;
  return i;
}

IPv6 v6(std::initializer_list<uint8_t> head, uint8_t last) {
  IPv6 a{};
  size_t i = 0;
  for (uint8_t b : head) a[i++] = b;
  a[15] = last;
  return a;
}
const IPv6 kIp6Src = v6({0xfd, 0x00}, 1);
const IPv6 kIp6Dst = v6({0xfd, 0x00}, 2);

// IPv6 header + optional extension headers (each: next, len=0 → 8 bytes) + L4.
Bytes ipv6(uint8_t final_proto, const Bytes& l4, std::vector<uint8_t> ext = {}, IPv6 src = kIp6Src,
           IPv6 dst = kIp6Dst, uint8_t tc = 0) {
  Bytes f(40);
  f[0] = uint8_t(0x60 | (tc >> 4));
  f[1] = uint8_t(tc << 4);
  f[6] = ext.empty() ? final_proto : ext[0];
  f[7] = 64;
  std::memcpy(&f[8], src.data(), 16);
  std::memcpy(&f[24], dst.data(), 16);
  for (size_t i = 0; i < ext.size(); ++i) {
    Bytes h(8, 0);
    h[0] = i + 1 < ext.size() ? ext[i + 1] : final_proto;
    h[1] = 0;
    f.insert(f.end(), h.begin(), h.end());
  }
  store_be16(&f[4], uint16_t(f.size() - 40 + l4.size()));
  f.insert(f.end(), l4.begin(), l4.end());
  return f;
}

// ICMPv6 Neighbor Solicitation (135) / Advertisement (136) with a target address.
Bytes ndp(uint8_t type, IPv6 src, IPv6 target) {
  Bytes l4(24, 0);
  l4[0] = type;
  std::memcpy(&l4[8], target.data(), 16);
  return ipv6(58, l4, {}, src, v6({0xff, 0x02}, 1));
}

Bytes arp_request(IPv4 sender, IPv4 target) {
  Bytes a(28, 0);
  store_be16(&a[0], 1);
  store_be16(&a[2], 0x0800);
  a[4] = 6;
  a[5] = 4;
  store_be16(&a[6], 1);
  store_be(&a[8], kMacSelf.value(), 6);
  std::memcpy(&a[14], sender.data(), 4);
  std::memcpy(&a[24], target.data(), 4);
  return a;
}

Bytes cut(Bytes b, size_t n) {
  b.resize(std::min(n, b.size()));
  return b;
}

// ---- Frames by name ---------------------------------------------------------------------------
struct NamedFrame {
  uint16_t ethertype;
  Bytes payload;
  Mac dest = kMacPeer;
};

NamedFrame frame(const std::string& name) {
  if (name == "tcp_syn") return {0x0800, ipv4(6, kIp4Self, kIp4Peer, tcp(40000, 22, 0x02))};
  if (name == "tcp_ack") return {0x0800, ipv4(6, kIp4Self, kIp4Peer, tcp(22, 40000, 0x10, 0x01))};
  if (name == "tcp_trunc") return {0x0800, ipv4(6, kIp4Self, kIp4Peer, {})};  // no TCP header at all
  if (name == "udp") return {0x0800, ipv4(17, kIp4Self, kIp4Peer, udp(5353, 53))};
  if (name == "udp_sport0") return {0x0800, ipv4(17, kIp4Self, kIp4Peer, udp(0, 53))};
  if (name == "udp_tos") return {0x0800, ipv4(17, kIp4Self, kIp4Peer, udp(5353, 53), 0xb8)};
  if (name == "icmp_echo") return {0x0800, ipv4(1, kIp4Self, kIp4Peer, icmp(8, 0))};
  if (name == "icmp_short") return {0x0800, ipv4(1, kIp4Self, kIp4Peer, {8})};  // 1 byte of ICMP
  if (name == "ipv4_short") return {0x0800, cut(ipv4(6, kIp4Self, kIp4Peer, tcp(1, 2, 2)), 19)};
  if (name == "from_192") return {0x0800, ipv4(17, {192, 168, 1, 1}, kIp4Peer, udp(1, 2))};
  if (name == "v6_tcp_ext") return {0x86dd, ipv6(6, tcp(40000, 22, 0x12), {0, 60})};  // HBH, dest opts
  if (name == "v6_udp") return {0x86dd, ipv6(17, udp(5353, 53))};
  if (name == "v6_udp_sport0") return {0x86dd, ipv6(17, udp(0, 53))};
  if (name == "v6_udp_tc") return {0x86dd, ipv6(17, udp(5353, 53), {}, kIp6Src, kIp6Dst, 0xb8)};
  if (name == "v6_echo_ext") return {0x86dd, ipv6(58, icmp(128, 0), {43})};  // routing header
  if (name == "v6_frag") return {0x86dd, ipv6(44, udp(1, 2))};
  if (name == "v6_walk_fail") return {0x86dd, cut(ipv6(17, udp(1, 2), {0}), 44)};  // HBH cut short
  if (name == "v6_short") return {0x86dd, cut(ipv6(17, udp(1, 2)), 39)};
  if (name == "arp") return {0x0806, arp_request(kIp4Self, kIp4Peer), Mac::broadcast()};
  if (name == "lldp") return {0x88cc, Bytes(46, 0x11), Mac(0x0180c200000eULL)};
  if (name == "empty") return {0x0800, {}};
  ADD_FAILURE() << "unknown frame " << name;
  return {};
}

// ---- Rule builders ------------------------------------------------------------------------------
Rule M(RuleType t) {
  Rule r;
  r.type = uint8_t(t);
  return r;
}
Rule NOT(Rule r) {
  r.negate = true;
  return r;
}
Rule OR(Rule r) {
  r.or_ = true;
  return r;
}
Rule ACCEPT() { return Rule::accept(); }
Rule DROP() { return Rule::drop(); }
Rule BREAK() { return M(RuleType::ActionBreak); }
Rule fwd(RuleType t, Address a, uint16_t len = 0) {
  Rule r = M(t);
  r.zt = a;
  r.action_length = len;
  return r;
}
Rule TEE(Address a, uint16_t len = 0) { return fwd(RuleType::ActionTee, a, len); }
Rule WATCH(Address a, uint16_t len = 0) { return fwd(RuleType::ActionWatch, a, len); }
Rule REDIRECT(Address a) { return fwd(RuleType::ActionRedirect, a); }
Rule ether(uint16_t e) {
  Rule r = M(RuleType::MatchEthertype);
  r.ethertype = e;
  return r;
}
Rule ipproto(uint8_t p) {
  Rule r = M(RuleType::MatchIpProtocol);
  r.ip_protocol = p;
  return r;
}
Rule ports(RuleType t, uint16_t lo, uint16_t hi) {
  Rule r = M(t);
  r.range_low = lo;
  r.range_high = hi;
  return r;
}
Rule sport(uint16_t lo, uint16_t hi) { return ports(RuleType::MatchIpSourcePortRange, lo, hi); }
Rule dport(uint16_t lo, uint16_t hi) { return ports(RuleType::MatchIpDestPortRange, lo, hi); }
Rule framesize(uint16_t lo, uint16_t hi) { return ports(RuleType::MatchFrameSizeRange, lo, hi); }
Rule ip4(RuleType t, IPv4 ip, uint8_t bits) {
  Rule r = M(t);
  std::memcpy(r.ip.data(), ip.data(), 4);
  r.ip_prefix = bits;
  return r;
}
Rule ip6(RuleType t, IPv6 ip, uint8_t bits) {
  Rule r = M(t);
  r.ip = ip;
  r.ip_prefix = bits;
  return r;
}
Rule icmp_rule(uint8_t type, int code = -1) {
  Rule r = M(RuleType::MatchIcmp);
  r.icmp_type = type;
  if (code >= 0) {
    r.icmp_code = uint8_t(code);
    r.icmp_flags = 0x01;
  }
  return r;
}
Rule tos(uint8_t mask, uint8_t lo, uint8_t hi) {
  Rule r = M(RuleType::MatchIpTos);
  r.tos_mask = mask;
  r.tos_low = lo;
  r.tos_high = hi;
  return r;
}
Rule chr(uint64_t mask) {
  Rule r = M(RuleType::MatchCharacteristics);
  r.characteristics = mask;
  return r;
}
Rule random_rule(uint32_t p) {
  Rule r = M(RuleType::MatchRandom);
  r.probability = p;
  return r;
}
Rule tagr(RuleType t, uint32_t id, uint32_t value) {
  Rule r = M(t);
  r.tag_id = id;
  r.tag_value = value;
  return r;
}
Rule intrange(uint64_t start, uint64_t end, uint16_t idx, uint8_t format) {
  Rule r = M(RuleType::MatchIntegerRange);
  r.int_start = start;
  r.int_end = end;
  r.int_idx = idx;
  r.int_format = format;
  return r;
}
Rule ztaddr(RuleType t, Address a) {
  Rule r = M(t);
  r.zt = a;
  return r;
}
Rule mac(RuleType t, Mac m) {
  Rule r = M(t);
  r.mac = m;
  return r;
}
Rule vlan(RuleType t, uint16_t v) {
  Rule r = M(t);
  r.vlan_id = v;
  r.vlan_pcp = uint8_t(v);
  r.vlan_dei = uint8_t(v);
  return r;
}
Rule unknown(uint8_t t) {
  Rule r;
  r.type = t;
  return r;
}

// ---- Environment ---------------------------------------------------------------------------------
// Own config: node A on the vector network, own tags 1 = 10, 2 = 0xf0, 3 = 5, 5 = 1.
NetworkConfig own_config(std::vector<Rule> rules = {}) {
  NetworkConfig c;
  c.nwid = kVectorNwid;
  c.timestamp = kTs;
  c.credential_time_max_delta = kCtmd;
  c.issued_to = kSelf;
  c.flags = NetworkConfig::kFlagEnableBroadcast | NetworkConfig::kFlagNdpEmulation;
  c.rules = std::move(rules);
  for (auto [id, value] : std::vector<std::pair<uint32_t, uint32_t>>{{1, 10}, {2, 0xf0}, {3, 5}, {5, 1}})
    c.tags.push_back(test::signed_tag(id, value, kTs, kSelf));
  c.static_ips.push_back(InetAddress::v4(kIp4Self.data(), 24));
  c.static_ips.push_back(rfc4193_address(kVectorNwid, kSelf));
  return c;
}

// The peer's record: tags 1 = 12, 2 = 0x0f, 4 = 99 (timestamp-valid); tag 5 stale.
Membership peer_record() {
  Membership m;
  auto lookup = VectorNodes::get().controller_only();
  for (auto [id, value] : std::vector<std::pair<uint32_t, uint32_t>>{{1, 12}, {2, 0x0f}, {4, 99}})
    EXPECT_TRUE(m.offer(kVectorNwid, test::signed_tag(id, value, kTs, kPeer), lookup).accepted());
  EXPECT_TRUE(m.offer(kVectorNwid, test::signed_tag(5, 1, kTs - 2 * kCtmd, kPeer), lookup).accepted());
  return m;
}

struct Env {
  NetworkConfig cfg = own_config();
  Membership peer = peer_record();
  bool has_peer = true;
  uint32_t rnd = 0x7fffffff;

  FilterEnv env() const {
    return FilterEnv{cfg, kSelf, has_peer ? &peer : nullptr, [r = rnd] { return r; }};
  }
};

FilterFrame make_frame(const NamedFrame& nf, bool inbound, Address dest_override = ~0ULL) {
  FilterFrame f;
  f.inbound = inbound;
  f.source = inbound ? kPeer : kSelf;
  f.destination = dest_override != ~0ULL ? dest_override : (inbound ? kSelf : kPeer);
  f.mac_source = inbound ? kMacPeer : kMacSelf;
  f.mac_dest = nf.dest;
  f.ethertype = nf.ethertype;
  f.payload = nf.payload;
  return f;
}

// ---- The table ---------------------------------------------------------------------------------------
enum Dir { Out, In };
struct Case {
  const char* name;
  std::vector<Rule> rules;
  const char* frame;
  Dir dir;
  ListResult want;
  std::function<void(Env&)> setup = {};
};

const ListResult kNo = ListResult::NoMatch, kDrop = ListResult::Drop, kAcc = ListResult::Accept,
                 kSuper = ListResult::SuperAccept, kRedir = ListResult::Redirect;

const std::vector<Case>& cases() {
  static const std::vector<Case> t = {
      // ---- actions and chains ----
      {"empty list", {}, "udp", Out, kNo},
      {"accept", {ACCEPT()}, "udp", Out, kAcc},
      {"drop", {DROP()}, "udp", Out, kDrop},
      {"break", {BREAK(), ACCEPT()}, "udp", Out, kNo},
      {"priority accepts", {M(RuleType::ActionPriority), DROP()}, "udp", Out, kAcc},
      {"reserved action 7 ignored", {M(RuleType(7)), DROP()}, "udp", Out, kDrop},
      {"match then drop (hit)", {ether(0x0800), DROP(), ACCEPT()}, "udp", Out, kDrop},
      {"match then drop (miss)", {ether(0x0800), DROP(), ACCEPT()}, "arp", Out, kAcc},
      {"unmatched action resets set", {ether(0x86dd), DROP(), ACCEPT()}, "udp", Out, kAcc},
      {"allow-list ipv4", {NOT(ether(0x0800)), NOT(ether(0x0806)), NOT(ether(0x86dd)), DROP(), ACCEPT()}, "udp", Out,
       kAcc},
      {"allow-list arp", {NOT(ether(0x0800)), NOT(ether(0x0806)), NOT(ether(0x86dd)), DROP(), ACCEPT()}, "arp", Out,
       kAcc},
      {"allow-list lldp", {NOT(ether(0x0800)), NOT(ether(0x0806)), NOT(ether(0x86dd)), DROP(), ACCEPT()}, "lldp",
       Out, kDrop},
      {"or chain arp", {ether(0x0806), OR(ether(0x86dd)), DROP(), ACCEPT()}, "arp", Out, kDrop},
      {"or chain v6", {ether(0x0806), OR(ether(0x86dd)), DROP(), ACCEPT()}, "v6_udp", Out, kDrop},
      {"or chain v4", {ether(0x0806), OR(ether(0x86dd)), DROP(), ACCEPT()}, "udp", Out, kAcc},
      {"(a and b) or c: tcp", {ether(0x0800), ipproto(6), OR(ether(0x0806)), DROP(), ACCEPT()}, "tcp_syn", Out, kDrop},
      {"(a and b) or c: udp", {ether(0x0800), ipproto(6), OR(ether(0x0806)), DROP(), ACCEPT()}, "udp", Out, kAcc},
      {"(a and b) or c: arp", {ether(0x0806), ipproto(6), OR(ether(0x0806)), DROP(), ACCEPT()}, "arp", Out, kDrop},
      {"not or", {ether(0x86dd), OR(NOT(ipproto(17))), DROP(), ACCEPT()}, "udp", Out, kAcc},
      {"not or (tcp)", {ether(0x86dd), OR(NOT(ipproto(17))), DROP(), ACCEPT()}, "tcp_syn", Out, kDrop},
      // ---- addresses, VLAN, MAC ----
      {"ztsrc", {ztaddr(RuleType::MatchSourceZeroTierAddress, kSelf), DROP(), ACCEPT()}, "udp", Out, kDrop},
      {"ztsrc other", {ztaddr(RuleType::MatchSourceZeroTierAddress, kOther), DROP(), ACCEPT()}, "udp", Out, kAcc},
      {"ztdest inbound = self", {ztaddr(RuleType::MatchDestZeroTierAddress, kSelf), DROP(), ACCEPT()}, "udp", In, kDrop},
      {"ztdest outbound = peer", {ztaddr(RuleType::MatchDestZeroTierAddress, kPeer), DROP(), ACCEPT()}, "udp", Out,
       kDrop},
      {"vlan id 0", {vlan(RuleType::MatchVlanId, 0), DROP(), ACCEPT()}, "udp", Out, kDrop},
      {"vlan id 5", {vlan(RuleType::MatchVlanId, 5), DROP(), ACCEPT()}, "udp", Out, kAcc},
      {"vlan pcp 0", {vlan(RuleType::MatchVlanPcp, 0), DROP(), ACCEPT()}, "udp", Out, kDrop},
      {"vlan pcp 3", {vlan(RuleType::MatchVlanPcp, 3), DROP(), ACCEPT()}, "udp", Out, kAcc},
      {"vlan dei 1", {vlan(RuleType::MatchVlanDei, 1), DROP(), ACCEPT()}, "udp", Out, kAcc},
      {"mac src", {mac(RuleType::MatchMacSource, kMacSelf), DROP(), ACCEPT()}, "udp", Out, kDrop},
      {"mac dest broadcast", {mac(RuleType::MatchMacDest, Mac::broadcast()), DROP(), ACCEPT()}, "arp", Out, kDrop},
      {"mac dest miss", {mac(RuleType::MatchMacDest, Mac::broadcast()), DROP(), ACCEPT()}, "udp", Out, kAcc},
      // ---- IP addresses ----
      {"ipv4 src /8", {ip4(RuleType::MatchIpv4Source, {10, 0, 0, 0}, 8), DROP(), ACCEPT()}, "udp", Out, kDrop},
      {"ipv4 src /32 miss", {ip4(RuleType::MatchIpv4Source, {10, 147, 17, 15}, 32), DROP(), ACCEPT()}, "udp", Out,
       kAcc},
      {"ipv4 dst /24", {ip4(RuleType::MatchIpv4Dest, {10, 147, 17, 0}, 24), DROP(), ACCEPT()}, "udp", Out, kDrop},
      {"ipv4 /0 matches all", {ip4(RuleType::MatchIpv4Dest, {1, 2, 3, 4}, 0), DROP(), ACCEPT()}, "udp", Out, kDrop},
      {"not ipv4 src, other source", {NOT(ip4(RuleType::MatchIpv4Source, {10, 0, 0, 0}, 8)), DROP(), ACCEPT()},
       "from_192", Out, kDrop},
      {"not ipv4 src, inside", {NOT(ip4(RuleType::MatchIpv4Source, {10, 0, 0, 0}, 8)), DROP(), ACCEPT()}, "udp", Out,
       kAcc},
      {"not ipv4 src on arp: hard-no", {NOT(ip4(RuleType::MatchIpv4Source, {10, 0, 0, 0}, 8)), DROP(), ACCEPT()},
       "arp", Out, kAcc},
      {"not ipv4 src on short: hard-no", {NOT(ip4(RuleType::MatchIpv4Source, {10, 0, 0, 0}, 8)), DROP(), ACCEPT()},
       "ipv4_short", Out, kAcc},
      {"ipv6 src /8", {ip6(RuleType::MatchIpv6Source, v6({0xfd}, 0), 8), DROP(), ACCEPT()}, "v6_udp", Out, kDrop},
      {"ipv6 dst /128", {ip6(RuleType::MatchIpv6Dest, kIp6Dst, 128), DROP(), ACCEPT()}, "v6_udp", Out, kDrop},
      {"ipv6 dst /127 odd bit", {ip6(RuleType::MatchIpv6Dest, v6({0xfd}, 3), 127), DROP(), ACCEPT()}, "v6_udp", Out,
       kDrop},
      {"ipv6 dst /128 miss", {ip6(RuleType::MatchIpv6Dest, v6({0xfd}, 3), 128), DROP(), ACCEPT()}, "v6_udp", Out,
       kAcc},
      {"not ipv6 on v4: hard-no", {NOT(ip6(RuleType::MatchIpv6Source, v6({0xfd}, 0), 8)), DROP(), ACCEPT()}, "udp",
       Out, kAcc},
      {"not ipv6 on short v6: hard-no", {NOT(ip6(RuleType::MatchIpv6Source, v6({0xfd}, 0), 8)), DROP(), ACCEPT()},
       "v6_short", Out, kAcc},
      // ---- TOS / protocol ----
      {"tos v4", {tos(0xfc, 0xb8, 0xb8), DROP(), ACCEPT()}, "udp_tos", Out, kDrop},
      {"tos v4 miss", {tos(0xfc, 0xb8, 0xb8), DROP(), ACCEPT()}, "udp", Out, kAcc},
      {"tos v6 traffic class", {tos(0xff, 0xb0, 0xbf), DROP(), ACCEPT()}, "v6_udp_tc", Out, kDrop},
      {"not tos on arp: hard-no", {NOT(tos(0xff, 0, 0)), DROP(), ACCEPT()}, "arp", Out, kAcc},
      {"ipproto v4", {ipproto(17), DROP(), ACCEPT()}, "udp", Out, kDrop},
      {"ipproto v6 through ext headers", {ipproto(6), DROP(), ACCEPT()}, "v6_tcp_ext", Out, kDrop},
      {"ipproto v6 fragment header is final", {ipproto(44), DROP(), ACCEPT()}, "v6_frag", Out, kDrop},
      {"not ipproto, walk fails: hard-no", {NOT(ipproto(6)), DROP(), ACCEPT()}, "v6_walk_fail", Out, kAcc},
      {"not ipproto on arp: hard-no", {NOT(ipproto(6)), DROP(), ACCEPT()}, "arp", Out, kAcc},
      {"not ipproto on short v4: hard-no", {NOT(ipproto(6)), DROP(), ACCEPT()}, "ipv4_short", Out, kAcc},
      // ---- ICMP ----
      {"icmp type", {icmp_rule(8), DROP(), ACCEPT()}, "icmp_echo", Out, kDrop},
      {"icmp type+code", {icmp_rule(8, 0), DROP(), ACCEPT()}, "icmp_echo", Out, kDrop},
      {"icmp code miss", {icmp_rule(8, 1), DROP(), ACCEPT()}, "icmp_echo", Out, kAcc},
      {"not icmp type only: hard-yes", {NOT(icmp_rule(8)), DROP(), ACCEPT()}, "icmp_echo", Out, kDrop},
      {"not icmp code equal", {NOT(icmp_rule(8, 0)), DROP(), ACCEPT()}, "icmp_echo", Out, kAcc},
      {"not icmp code differs", {NOT(icmp_rule(8, 5)), DROP(), ACCEPT()}, "icmp_echo", Out, kDrop},
      {"not icmp other type: hard-no", {NOT(icmp_rule(0)), DROP(), ACCEPT()}, "icmp_echo", Out, kAcc},
      {"not icmp on udp: hard-no", {NOT(icmp_rule(8)), DROP(), ACCEPT()}, "udp", Out, kAcc},
      {"icmp truncated header", {NOT(icmp_rule(8)), DROP(), ACCEPT()}, "icmp_short", Out, kAcc},
      {"icmpv6 through routing header", {icmp_rule(128, 0), DROP(), ACCEPT()}, "v6_echo_ext", Out, kDrop},
      // ---- ports ----
      {"dport tcp", {dport(22, 22), DROP(), ACCEPT()}, "tcp_syn", Out, kDrop},
      {"dport udp miss", {dport(22, 22), DROP(), ACCEPT()}, "udp", Out, kAcc},
      {"sport range", {sport(5000, 6000), DROP(), ACCEPT()}, "udp", Out, kDrop},
      {"not dport on icmp: plain false", {NOT(dport(22, 22)), DROP(), ACCEPT()}, "icmp_echo", Out, kDrop},
      {"not dport on truncated tcp: plain false", {NOT(dport(22, 22)), DROP(), ACCEPT()}, "tcp_trunc", Out, kDrop},
      {"not dport on arp: hard-no", {NOT(dport(22, 22)), DROP(), ACCEPT()}, "arp", Out, kAcc},
      {"not dport v6 walk fails: hard-no", {NOT(dport(22, 22)), DROP(), ACCEPT()}, "v6_walk_fail", Out, kAcc},
      {"not dport v6 icmp: plain false", {NOT(dport(22, 22)), DROP(), ACCEPT()}, "v6_echo_ext", Out, kDrop},
      {"dport v6 through ext headers", {dport(22, 22), DROP(), ACCEPT()}, "v6_tcp_ext", Out, kDrop},
      {"sport 0 on ipv4 matches", {sport(0, 0), DROP(), ACCEPT()}, "udp_sport0", Out, kDrop},
      {"sport 0 on ipv6 never matches", {sport(0, 0), DROP(), ACCEPT()}, "v6_udp_sport0", Out, kAcc},
      {"sport 0..100 on ipv6 port 0", {sport(0, 100), DROP(), ACCEPT()}, "v6_udp_sport0", Out, kAcc},
      // ---- frame size ----
      {"framesize arp 28 in 0..28", {framesize(0, 28), DROP(), ACCEPT()}, "arp", Out, kDrop},
      {"framesize arp 28 not in 0..27", {framesize(0, 27), DROP(), ACCEPT()}, "arp", Out, kAcc},
      {"framesize empty", {framesize(0, 0), DROP(), ACCEPT()}, "empty", Out, kDrop},
      // ---- unknown matches ----
      {"unknown 20, flag clear", {unknown(20), DROP(), ACCEPT()}, "udp", Out, kAcc},
      {"not unknown 20, flag clear", {NOT(unknown(20)), DROP(), ACCEPT()}, "udp", Out, kDrop},
      {"unknown 60, flag 0x08",
       {unknown(60), DROP(), ACCEPT()},
       "udp",
       Out,
       kDrop,
       [](Env& e) { e.cfg.flags |= NetworkConfig::kFlagUnsupportedMatchResult; }},
      {"not unknown 52, flag 0x08",
       {NOT(unknown(52)), DROP(), ACCEPT()},
       "udp",
       Out,
       kAcc,
       [](Env& e) { e.cfg.flags |= NetworkConfig::kFlagUnsupportedMatchResult; }},
      // ---- random ----
      {"random below", {random_rule(0x80000000u), DROP(), ACCEPT()}, "udp", Out, kDrop},
      {"random equal", {random_rule(0x7fffffffu), DROP(), ACCEPT()}, "udp", Out, kDrop},
      {"random above", {random_rule(0x7ffffffeu), DROP(), ACCEPT()}, "udp", Out, kAcc},
      // ---- INTEGER_RANGE ----
      // Big-endian 16 bits at idx 0 reads bytes 6..7 (idx + 8 − nb): the IPv4 flags/fragment
      // word 0x4000, not the version byte pair 0x4500.
      {"int BE16 quirk reads idx+6", {intrange(0x4000, 0x4000, 0, 15), DROP(), ACCEPT()}, "udp", Out, kDrop},
      {"int BE16 not the naive bytes", {intrange(0x4500, 0x4500, 0, 15), DROP(), ACCEPT()}, "udp", Out, kAcc},
      {"int BE12 masks low bits", {intrange(0x000, 0x000, 0, 11), DROP(), ACCEPT()}, "udp", Out, kDrop},
      {"int BE8 idx 2 reads byte 9 (protocol)", {intrange(17, 17, 2, 7), DROP(), ACCEPT()}, "udp", Out, kDrop},
      {"int BE64 idx 12 reads 12..19 (addresses)",
       {intrange(0x0a93110e0a93112aULL, 0x0a93110e0a93112aULL, 12, 63), DROP(), ACCEPT()},
       "udp",
       Out,
       kDrop},
      // Little-endian 16 bits at idx 2: total length 00 20 → 0x2000.
      {"int LE16", {intrange(0x2000, 0x2000, 2, 0x80 | 15), DROP(), ACCEPT()}, "udp", Out, kDrop},
      // LE 12 bits: top 12 of the 16 → 0x200.
      {"int LE12 keeps top bits", {intrange(0x200, 0x200, 2, 0x80 | 11), DROP(), ACCEPT()}, "udp", Out, kDrop},
      {"int LE16 not big-endian", {intrange(0x0020, 0x0020, 2, 0x80 | 15), DROP(), ACCEPT()}, "udp", Out, kAcc},
      {"int past end reads 0", {intrange(0, 0, 60, 31), DROP(), ACCEPT()}, "udp", Out, kDrop},
      {"int past end LE reads 0", {intrange(0, 0, 35, 0x80 | 7), DROP(), ACCEPT()}, "udp", Out, kDrop},
      // 32-byte frame: BE16 at idx 24 reads bytes 30..31 (UDP payload ab ab), not 24..25.
      {"int BE quirk reads the last bytes", {intrange(0xabab, 0xabab, 24, 15), DROP(), ACCEPT()}, "udp", Out, kDrop},
      {"int BE quirk offset runs past end: 0", {intrange(0xabab, 0xabab, 25, 15), DROP(), ACCEPT()}, "udp", Out,
       kAcc},
      // end < start: span = (end − start) mod 2^32 makes a huge range.
      {"int span wraps to 32 bits", {intrange(0x10, 0x08, 2, 7), DROP(), ACCEPT()}, "udp", Out, kDrop},
      {"int span is 32-bit: end far above", {intrange(0, 0x100000011ULL, 2, 7), DROP(), ACCEPT()}, "udp", Out, kDrop},
      {"int span is 32-bit: truncated away", {intrange(0, 0x100000000ULL, 2, 7), DROP(), ACCEPT()}, "udp", Out, kAcc},
      // ---- TEE / WATCH / REDIRECT ----
      {"tee then accept", {TEE(kOther), ACCEPT()}, "udp", Out, kAcc},
      {"redirect", {REDIRECT(kOther), ACCEPT()}, "udp", Out, kRedir},
      {"redirect to source: no-op", {REDIRECT(kSelf), DROP()}, "udp", Out, kDrop},
      {"redirect to dest: no-op", {REDIRECT(kPeer), DROP()}, "udp", Out, kDrop},
      {"redirect to self inbound: super-accept", {REDIRECT(kSelf), DROP()}, "udp", In, kSuper},
      {"tee to self inbound: super-accept", {TEE(kSelf), DROP()}, "udp", In, kSuper},
      {"watch to self outbound: no-op", {WATCH(kSelf), ACCEPT()}, "udp", Out, kAcc},
      {"redirect to sender inbound: no-op", {REDIRECT(kPeer), DROP()}, "udp", In, kDrop},
      {"unmatched tee to self inbound marks super", {ether(0x1234), TEE(kSelf), ACCEPT()}, "udp", In, kSuper},
      {"unmatched tee to self outbound: plain", {ether(0x1234), TEE(kSelf), ACCEPT()}, "udp", Out, kAcc},
      {"unmatched redirect elsewhere inbound: plain", {ether(0x1234), REDIRECT(kOther), ACCEPT()}, "udp", In, kAcc},
      {"tee then break", {TEE(kOther), BREAK()}, "udp", Out, kNo},
      // ---- tags ----
      {"tdiff within", {tagr(RuleType::MatchTagsDifference, 1, 2), DROP(), ACCEPT()}, "udp", Out, kDrop},
      {"tdiff outside", {tagr(RuleType::MatchTagsDifference, 1, 1), DROP(), ACCEPT()}, "udp", Out, kAcc},
      {"tand", {tagr(RuleType::MatchTagsBitwiseAnd, 2, 0), DROP(), ACCEPT()}, "udp", In, kDrop},
      {"tand miss", {tagr(RuleType::MatchTagsBitwiseAnd, 2, 0xf0), DROP(), ACCEPT()}, "udp", In, kAcc},
      {"tor", {tagr(RuleType::MatchTagsBitwiseOr, 2, 0xff), DROP(), ACCEPT()}, "udp", In, kDrop},
      {"txor", {tagr(RuleType::MatchTagsBitwiseXor, 2, 0xff), DROP(), ACCEPT()}, "udp", Out, kDrop},
      {"txor miss", {tagr(RuleType::MatchTagsBitwiseXor, 1, 0), DROP(), ACCEPT()}, "udp", Out, kAcc},
      {"teq needs both", {tagr(RuleType::MatchTagsEqual, 1, 10), DROP(), ACCEPT()}, "udp", Out, kAcc},
      {"teq both equal",
       {tagr(RuleType::MatchTagsEqual, 1, 12), DROP(), ACCEPT()},
       "udp",
       Out,
       kDrop,
       [](Env& e) { e.cfg.tags[0].value = 12; }},
      {"own tag missing: hard-no", {NOT(tagr(RuleType::MatchTagsEqual, 4, 99)), DROP(), ACCEPT()}, "udp", Out, kAcc},
      {"no peer record outbound: skipDrop",
       {tagr(RuleType::MatchTagsEqual, 1, 0), DROP(), ACCEPT()},
       "udp",
       Out,
       kAcc,
       [](Env& e) { e.has_peer = false; }},
      {"unknown peer outbound: hard-yes", {tagr(RuleType::MatchTagsEqual, 1, 0), ACCEPT(), DROP()}, "udp", Out, kAcc,
       [](Env& e) { e.has_peer = false; }},
      {"unknown peer outbound NOT: still hard-yes + skipDrop",
       {NOT(tagr(RuleType::MatchTagsEqual, 1, 0)), DROP(), ACCEPT()},
       "udp",
       Out,
       kAcc,
       [](Env& e) { e.has_peer = false; }},
      {"skipDrop consumed by first firing drop only",
       {tagr(RuleType::MatchTagsEqual, 1, 0), DROP(), DROP()},
       "udp",
       Out,
       kDrop,
       [](Env& e) { e.has_peer = false; }},
      {"skipDrop survives accept-less chain",
       {tagr(RuleType::MatchTagsEqual, 1, 0), TEE(kOther), ether(0x1234), DROP(), DROP(), ACCEPT()},
       "udp",
       Out,
       kAcc,
       [](Env& e) { e.has_peer = false; }},
      {"peer lacks tag 3, outbound: skipDrop", {tagr(RuleType::MatchTagsEqual, 3, 5), DROP(), ACCEPT()}, "udp", Out,
       kAcc},
      {"peer tag 5 stale = unknown, outbound", {tagr(RuleType::MatchTagsEqual, 5, 1), DROP(), ACCEPT()}, "udp", Out,
       kAcc},
      {"peer tag 5 stale = unknown, inbound", {tagr(RuleType::MatchTagsEqual, 5, 1), ACCEPT(), DROP()}, "udp", In,
       kDrop},
      {"unknown peer tag inbound: hard-no", {tagr(RuleType::MatchTagsEqual, 3, 5), ACCEPT(), DROP()}, "udp", In,
       kDrop},
      {"unknown peer tag inbound after super: lenient",
       {ether(0x1234), REDIRECT(kSelf), tagr(RuleType::MatchTagsEqual, 3, 5), DROP(), ACCEPT()},
       "udp",
       In,
       kSuper},
      {"tseq inbound peer tag", {tagr(RuleType::MatchTagSender, 1, 12), DROP(), ACCEPT()}, "udp", In, kDrop},
      {"tseq inbound peer tag miss", {tagr(RuleType::MatchTagSender, 1, 10), DROP(), ACCEPT()}, "udp", In, kAcc},
      {"tseq inbound unknown: hard-no", {NOT(tagr(RuleType::MatchTagSender, 3, 5)), DROP(), ACCEPT()}, "udp", In,
       kAcc},
      {"tseq outbound own tag", {tagr(RuleType::MatchTagSender, 1, 10), DROP(), ACCEPT()}, "udp", Out, kDrop},
      {"tseq outbound own missing: hard-no", {NOT(tagr(RuleType::MatchTagSender, 4, 99)), DROP(), ACCEPT()}, "udp",
       Out, kAcc},
      {"treq outbound peer tag", {tagr(RuleType::MatchTagReceiver, 4, 99), DROP(), ACCEPT()}, "udp", Out, kDrop},
      {"treq outbound unknown: skipDrop", {tagr(RuleType::MatchTagReceiver, 3, 1), DROP(), ACCEPT()}, "udp", Out,
       kAcc},
      {"treq outbound unknown, no drop after", {tagr(RuleType::MatchTagReceiver, 3, 1), ACCEPT()}, "udp", Out, kAcc},
      {"treq inbound own tag", {tagr(RuleType::MatchTagReceiver, 3, 5), DROP(), ACCEPT()}, "udp", In, kDrop},
      {"tseq after super: hard-yes + skipDrop",
       {ether(0x1234), WATCH(kSelf), NOT(tagr(RuleType::MatchTagSender, 1, 12)), DROP(), ACCEPT()},
       "udp",
       In,
       kSuper},
      // ---- characteristics ----
      {"chr inbound", {chr(kCharInbound), DROP(), ACCEPT()}, "udp", In, kDrop},
      {"chr inbound on outbound", {chr(kCharInbound), DROP(), ACCEPT()}, "udp", Out, kAcc},
      {"chr multicast+broadcast", {chr(kCharBroadcast), DROP(), ACCEPT()}, "arp", Out, kDrop},
      {"chr multicast lldp", {chr(kCharMulticast), DROP(), ACCEPT()}, "lldp", Out, kDrop},
      {"chr broadcast not lldp", {chr(kCharBroadcast), DROP(), ACCEPT()}, "lldp", Out, kAcc},
      {"chr tcp syn", {chr(0x02), DROP(), ACCEPT()}, "tcp_syn", Out, kDrop},
      {"chr tcp syn not ack", {chr(0x10), DROP(), ACCEPT()}, "tcp_syn", Out, kAcc},
      {"chr tcp ns bit", {chr(0x100), DROP(), ACCEPT()}, "tcp_ack", Out, kDrop},
      {"chr syn only: not syn", {chr(0x02), NOT(chr(0x10)), DROP(), ACCEPT()}, "tcp_ack", Out, kAcc},
      {"chr v6 tcp flags via ext headers", {chr(0x12), DROP(), ACCEPT()}, "v6_tcp_ext", Out, kDrop},
      {"chr tcp flags of missing header are 0", {chr(0xfff), DROP(), ACCEPT()}, "tcp_trunc", Out, kAcc},
      {"chr udp has no tcp flags", {chr(0xfff), DROP(), ACCEPT()}, "udp", Out, kAcc},
      {"chr never hard", {NOT(chr(0x02)), DROP(), ACCEPT()}, "arp", Out, kDrop},
  };
  return t;
}

ListOutcome run(const Case& c) {
  Env e;
  if (c.setup) c.setup(e);
  NamedFrame nf = frame(c.frame);
  FilterFrame f = make_frame(nf, c.dir == In);
  return evaluate_rules(e.env(), f, c.rules);
}

}  // namespace

TEST(RulesEngineTable, EveryCase) {
  for (const Case& c : cases()) {
    ListOutcome o = run(c);
    EXPECT_EQ(o.result, c.want) << c.name << ": got " << list_result_name(o.result) << ", want "
                                << list_result_name(c.want);
  }
}

// ---- Actions in detail ---------------------------------------------------------------------------

TEST(RulesEngineActions, TeeWatchCopyTargets) {
  Env e;
  NamedFrame nf = frame("udp");
  FilterFrame f = make_frame(nf, false);
  const uint32_t len = uint32_t(nf.payload.size());

  ListOutcome o = evaluate_rules(e.env(), f, std::vector<Rule>{TEE(kOther), ACCEPT()});
  ASSERT_TRUE(o.copy);
  EXPECT_EQ(*o.copy, (CopyTarget{kOther, len, false}));
  EXPECT_EQ(o.destination, kPeer);

  o = evaluate_rules(e.env(), f, std::vector<Rule>{WATCH(kOther, 10), ACCEPT()});
  EXPECT_EQ(*o.copy, (CopyTarget{kOther, 10, true}));
  o = evaluate_rules(e.env(), f, std::vector<Rule>{WATCH(kOther, 60000), ACCEPT()});
  EXPECT_EQ(o.copy->length, len) << "length is capped at the frame length";

  // A later TEE overwrites an earlier one; one to 0 clears it.
  o = evaluate_rules(e.env(), f, std::vector<Rule>{TEE(kOther), WATCH(0x2222222222ULL, 4), ACCEPT()});
  EXPECT_EQ(*o.copy, (CopyTarget{0x2222222222ULL, 4, true}));
  o = evaluate_rules(e.env(), f, std::vector<Rule>{TEE(kOther), TEE(0), ACCEPT()});
  EXPECT_FALSE(o.copy);
  // A TEE whose chain did not match does nothing.
  o = evaluate_rules(e.env(), f, std::vector<Rule>{ether(0x1234), TEE(kOther), ACCEPT()});
  EXPECT_FALSE(o.copy);
  // TEE to source / own address (outbound) / destination: no copy.
  for (Address a : {kSelf, kPeer}) {
    o = evaluate_rules(e.env(), f, std::vector<Rule>{TEE(a), ACCEPT()});
    EXPECT_FALSE(o.copy) << std::hex << a;
  }
  // Only the low 40 bits of the 64-bit target field count.
  o = evaluate_rules(e.env(), f, std::vector<Rule>{TEE(0xff00000000000000ULL | kOther), ACCEPT()});
  EXPECT_EQ(o.copy->address, kOther);
  // Copy survives a BREAK (the full filter sends it if something else accepts).
  o = evaluate_rules(e.env(), f, std::vector<Rule>{TEE(kOther), BREAK()});
  EXPECT_EQ(o.result, ListResult::NoMatch);
  EXPECT_TRUE(o.copy);
}

TEST(RulesEngineActions, RedirectChangesDestination) {
  Env e;
  NamedFrame nf = frame("udp");
  FilterFrame f = make_frame(nf, false);
  ListOutcome o = evaluate_rules(e.env(), f, std::vector<Rule>{REDIRECT(kOther), ACCEPT()});
  EXPECT_EQ(o.result, ListResult::Redirect);
  EXPECT_EQ(o.destination, kOther);
  // Multicast (destination 0): a redirect to 0 is "the destination" and a no-op.
  FilterFrame mc = make_frame(nf, false, 0);
  o = evaluate_rules(e.env(), mc, std::vector<Rule>{REDIRECT(0), DROP()});
  EXPECT_EQ(o.result, ListResult::Drop);
  // ZT destination matches see the original destination.
  o = evaluate_rules(e.env(), mc, std::vector<Rule>{ztaddr(RuleType::MatchDestZeroTierAddress, 0), DROP()});
  EXPECT_EQ(o.result, ListResult::Drop);
}

TEST(RulesEngineActions, NoRandomSourceMeansZero) {
  Env e;
  NamedFrame nf = frame("udp");
  FilterFrame f = make_frame(nf, false);
  FilterEnv env{e.cfg, kSelf, nullptr, {}};
  EXPECT_EQ(evaluate_rules(env, f, std::vector<Rule>{random_rule(0), DROP(), ACCEPT()}).result, ListResult::Drop);
}

// ---- Rule log (§15) --------------------------------------------------------------------------------

TEST(RulesEngineLog, NibblesPerRule) {
  Env e;
  NamedFrame nf = frame("tcp_syn");
  FilterFrame f = make_frame(nf, false);
  // r0 ether ipv4: set 1, m 1 → 0xA; r1 ipproto 17: set 1, m 0 → 0x6; r2 OR arp: set 0,
  // m 0 → 0x5; r3 DROP (set 0) → 0; r4 ACCEPT returns → 0.
  ListOutcome o =
      evaluate_rules(e.env(), f, std::vector<Rule>{ether(0x0800), ipproto(17), OR(ether(0x0806)), DROP(), ACCEPT()});
  EXPECT_EQ(o.result, ListResult::Accept);
  EXPECT_EQ(o.log.bytes()[0], 0x6a);
  EXPECT_EQ(o.log.bytes()[1], 0x05);
  EXPECT_EQ(o.log.bytes()[2], 0x00);
  EXPECT_EQ(o.log.entry(2), 5);
  // Short-circuited match logs 1.
  o = evaluate_rules(e.env(), f, std::vector<Rule>{ether(0x0806), ipproto(6), ACCEPT()});
  EXPECT_EQ(o.log.bytes()[0], 0x16);
  // Hard-no under NOT logs m = 1 (m := NOT), set before = 1.
  NamedFrame arp = frame("arp");
  FilterFrame fa = make_frame(arp, false);
  o = evaluate_rules(e.env(), fa, std::vector<Rule>{NOT(ip4(RuleType::MatchIpv4Source, {10, 0, 0, 0}, 8)), ACCEPT()});
  EXPECT_EQ(o.log.entry(0), 0xa);
  // Rules past 1024 are evaluated but not logged (no overflow).
  std::vector<Rule> many(1100, ether(0x0800));
  many.push_back(ACCEPT());
  o = evaluate_rules(e.env(), f, many);
  EXPECT_EQ(o.result, ListResult::Accept);
  EXPECT_EQ(o.log.entry(1023), 0xa);
  EXPECT_EQ(o.log.entry(1099), 0);
}

// ---- Characteristics: sender authentication -----------------------------------------------------------

TEST(RulesEngineCharacteristics, SenderIpAuthenticatedInbound) {
  const auto& n = VectorNodes::get();
  Env e;
  e.cfg = test::vector_config("nodea");
  e.peer = Membership{};
  // B's COO from its cached config lists 10.147.17.42 and B's RFC4193 address.
  NetworkConfig cfg_b = test::vector_config("nodeb");
  ASSERT_TRUE(e.peer.offer(kVectorNwid, cfg_b.certificates_of_ownership[0], n.controller_only()).accepted());
  e.cfg.timestamp = cfg_b.timestamp;

  auto cf = [&](const NamedFrame& nf, bool inbound, Mac src) {
    FilterFrame f = make_frame(nf, inbound);
    f.mac_source = src;
    return frame_characteristics(e.env(), f);
  };
  const IPv4 b4 = {10, 147, 17, 42}, other4 = {10, 147, 17, 99};
  EXPECT_TRUE(cf({0x0800, ipv4(17, b4, kIp4Self, udp(1, 2))}, true, kMacPeer) & kCharSenderIpAuthenticated);
  EXPECT_FALSE(cf({0x0800, ipv4(17, other4, kIp4Self, udp(1, 2))}, true, kMacPeer) & kCharSenderIpAuthenticated);
  // ARP: sender protocol address.
  EXPECT_TRUE(cf({0x0806, arp_request(b4, kIp4Self)}, true, kMacPeer) & kCharSenderIpAuthenticated);
  EXPECT_FALSE(cf({0x0806, arp_request(other4, kIp4Self)}, true, kMacPeer) & kCharSenderIpAuthenticated);
  EXPECT_FALSE(cf({0x0806, cut(arp_request(b4, kIp4Self), 27)}, true, kMacPeer) & kCharSenderIpAuthenticated);
  // The COO lists no MAC.
  EXPECT_FALSE(cf({0x0800, ipv4(17, b4, kIp4Self, udp(1, 2))}, true, kMacPeer) & kCharSenderMacAuthenticated);

  // IPv6: implicit RFC4193 rule (node A has f = 0x06 and its RFC4193 address): any address
  // in the network's /88 is authenticated, even naming another node.
  IPv6 any_rfc{};
  std::memcpy(any_rfc.data(), rfc4193_address(kVectorNwid, 0x0102030405ULL).ip(), 16);
  EXPECT_TRUE(cf({0x86dd, ipv6(17, udp(1, 2), {}, any_rfc)}, true, kMacPeer) & kCharSenderIpAuthenticated);
  EXPECT_FALSE(cf({0x86dd, ipv6(17, udp(1, 2), {}, kIp6Src)}, true, kMacPeer) & kCharSenderIpAuthenticated);
  // NDP: NS is authenticated outright (even with no peer record, even outbound); NA by target.
  EXPECT_TRUE(cf({0x86dd, ndp(135, kIp6Src, kIp6Dst)}, true, kMacPeer) & kCharSenderIpAuthenticated);
  EXPECT_TRUE(cf({0x86dd, ndp(136, kIp6Src, any_rfc)}, true, kMacPeer) & kCharSenderIpAuthenticated);
  EXPECT_FALSE(cf({0x86dd, ndp(136, any_rfc, kIp6Src)}, true, kMacPeer) & kCharSenderIpAuthenticated)
      << "NA judged by its target, not its source";
  // A truncated NS (< 64 bytes) is an ordinary packet judged by its source.
  EXPECT_TRUE(cf({0x86dd, cut(ndp(135, any_rfc, kIp6Dst), 63)}, true, kMacPeer) & kCharSenderIpAuthenticated);
  EXPECT_FALSE(cf({0x86dd, cut(ndp(135, kIp6Src, kIp6Dst), 63)}, true, kMacPeer) & kCharSenderIpAuthenticated);
  e.has_peer = false;
  EXPECT_TRUE(cf({0x86dd, ndp(135, kIp6Src, kIp6Dst)}, false, kMacSelf) & kCharSenderIpAuthenticated);
  EXPECT_FALSE(cf({0x0800, ipv4(17, b4, kIp4Self, udp(1, 2))}, true, kMacPeer) & kCharSenderIpAuthenticated)
      << "no record, no ownership";
  // NDP emulation off: the implicit rule is gone.
  e.has_peer = true;
  e.cfg.flags &= ~NetworkConfig::kFlagNdpEmulation;
  EXPECT_FALSE(cf({0x86dd, ipv6(17, udp(1, 2), {}, any_rfc)}, true, kMacPeer) & kCharSenderIpAuthenticated);
}

TEST(RulesEngineCharacteristics, SenderMacAuthenticatedAndOutboundOwnCoos) {
  const auto& n = VectorNodes::get();
  Env e;
  e.peer = Membership{};
  ASSERT_TRUE(e.peer.offer(kVectorNwid, test::signed_coo(1, kTs, kPeer, {}, {kMacPeer}), n.controller_only())
                  .accepted());
  NamedFrame nf = frame("lldp");
  FilterFrame in = make_frame(nf, true);
  EXPECT_TRUE(frame_characteristics(e.env(), in) & kCharSenderMacAuthenticated);
  in.mac_source = Mac(0x020000000001ULL);
  EXPECT_FALSE(frame_characteristics(e.env(), in) & kCharSenderMacAuthenticated);
  // Rule-level: drop inbound frames whose sender MAC is not authenticated.
  std::vector<Rule> rules = {chr(kCharInbound), NOT(chr(kCharSenderMacAuthenticated)), DROP(), ACCEPT()};
  EXPECT_EQ(evaluate_rules(e.env(), in, rules).result, ListResult::Drop);
  in.mac_source = kMacPeer;
  EXPECT_EQ(evaluate_rules(e.env(), in, rules).result, ListResult::Accept);

  // Outbound uses our own COOs from the config (node A's vector config lists 10.147.17.14),
  // as they are, without the implicit IPv6 rule.
  e.cfg = test::vector_config("nodea");
  e.cfg.certificates_of_ownership[0].timestamp = 1;  // own COOs are not time-checked
  NamedFrame keep{0x0800, ipv4(17, kIp4Self, kIp4Peer, udp(1, 2))};
  FilterFrame out = make_frame(keep, false);
  EXPECT_TRUE(frame_characteristics(e.env(), out) & kCharSenderIpAuthenticated);
  NamedFrame spoof{0x0800, ipv4(17, {10, 147, 17, 99}, kIp4Peer, udp(1, 2))};
  out.payload = spoof.payload;
  EXPECT_FALSE(frame_characteristics(e.env(), out) & kCharSenderIpAuthenticated);
  IPv6 any_rfc{};
  std::memcpy(any_rfc.data(), rfc4193_address(kVectorNwid, 0x0102030405ULL).ip(), 16);
  NamedFrame v6out{0x86dd, ipv6(17, udp(1, 2), {}, any_rfc)};
  FilterFrame o6 = make_frame(v6out, false);
  EXPECT_FALSE(frame_characteristics(e.env(), o6) & kCharSenderIpAuthenticated);
}

// ---- Full filters (§8.3) ---------------------------------------------------------------------------------

namespace {

NetworkConfig with_caps(std::vector<Rule> base, std::vector<std::pair<uint32_t, std::vector<Rule>>> caps) {
  NetworkConfig c = own_config(std::move(base));
  for (auto& [id, rules] : caps) c.capabilities.push_back(test::signed_capability(id, kTs, kSelf, rules));
  return c;
}

}  // namespace

TEST(RulesEngineFilter, OutboundBaseOutcomes) {
  Env e;
  NamedFrame nf = frame("udp");
  FilterFrame f = make_frame(nf, false);

  e.cfg.rules = {ACCEPT()};
  FilterResult r = filter_outbound(e.env(), f, true);
  EXPECT_EQ(r.verdict, FilterVerdict::Accept);
  EXPECT_EQ(r.trace_result, 1);
  EXPECT_TRUE(r.passed());
  EXPECT_FALSE(r.matching_capability);

  e.cfg.rules = {DROP()};
  r = filter_outbound(e.env(), f, true);
  EXPECT_EQ(r.verdict, FilterVerdict::Drop);
  EXPECT_EQ(r.trace_result, 0);

  e.cfg.rules = {};
  r = filter_outbound(e.env(), f, true);
  EXPECT_EQ(r.verdict, FilterVerdict::Drop) << "no match and no capability";

  // TEE + ACCEPT: copy only when copies are allowed.
  e.cfg.rules = {TEE(kOther, 8), ACCEPT()};
  r = filter_outbound(e.env(), f, true);
  ASSERT_EQ(r.copy_count, 1u);
  EXPECT_EQ(r.copies[0], (CopyTarget{kOther, 8, false}));
  r = filter_outbound(e.env(), f, false);
  EXPECT_EQ(r.copy_count, 0u);
  EXPECT_EQ(r.verdict, FilterVerdict::Accept);

  // TEE then DROP: copies are made only for accepted frames.
  e.cfg.rules = {TEE(kOther), DROP()};
  r = filter_outbound(e.env(), f, true);
  EXPECT_EQ(r.verdict, FilterVerdict::Drop);
  EXPECT_EQ(r.copy_count, 0u);

  // REDIRECT: reported as Redirect (trace 0), even with copies suppressed.
  e.cfg.rules = {REDIRECT(kOther)};
  r = filter_outbound(e.env(), f, false);
  EXPECT_EQ(r.verdict, FilterVerdict::Redirect);
  EXPECT_EQ(r.redirect_to, kOther);
  EXPECT_EQ(r.trace_result, 0);
  EXPECT_FALSE(r.passed());

  // REDIRECT to 0 on a unicast frame: the destination becomes 0, which is not a redirect.
  e.cfg.rules = {REDIRECT(0)};
  r = filter_outbound(e.env(), f, true);
  EXPECT_EQ(r.verdict, FilterVerdict::Accept);
}

TEST(RulesEngineFilter, OutboundCapabilitiesAscendingId) {
  Env e;
  // Capabilities in the config out of order: 5 accepts ARP, 3 tees+accepts IPv4 (and BREAKs
  // otherwise: an unmatched action resets the chain, so ACCEPT after TEE would fire), 2 drops.
  e.cfg = with_caps({}, {{5, {ether(0x0806), ACCEPT()}},
                         {3, {NOT(ether(0x0800)), BREAK(), TEE(kOther, 16), ACCEPT()}},
                         {2, {DROP()}}});
  NamedFrame v4 = frame("udp"), arp = frame("arp"), v6f = frame("v6_udp");

  FilterResult r = filter_outbound(e.env(), make_frame(v4, false), true);
  EXPECT_EQ(r.verdict, FilterVerdict::Accept);
  ASSERT_TRUE(r.matching_capability);
  EXPECT_EQ(*r.matching_capability, 3u);
  ASSERT_EQ(r.copy_count, 1u);
  EXPECT_EQ(r.copies[0].address, kOther);
  EXPECT_EQ(r.capability_log.entry(0), 0xa);
  EXPECT_EQ(r.base_rule, -1) << "no base rule decided";
  EXPECT_EQ(r.capability_rule, 3) << "capability 3's ACCEPT (index 3) decided";

  r = filter_outbound(e.env(), make_frame(arp, false, 0), true);
  EXPECT_EQ(r.capability_rule, 1);
  EXPECT_EQ(r.verdict, FilterVerdict::Accept);
  EXPECT_EQ(*r.matching_capability, 5u);

  r = filter_outbound(e.env(), make_frame(v6f, false), true);
  EXPECT_EQ(r.verdict, FilterVerdict::Drop);
  EXPECT_FALSE(r.matching_capability);
  EXPECT_EQ(r.trace_result, 0);

  EXPECT_EQ(r.base_rule, -1);
  EXPECT_EQ(r.capability_rule, -1);

  // Base DROP never reaches the capabilities; base BREAK does.
  e.cfg.rules = {ether(0x0800), DROP()};
  r = filter_outbound(e.env(), make_frame(v4, false), true);
  EXPECT_EQ(r.verdict, FilterVerdict::Drop);
  EXPECT_EQ(r.base_rule, 1) << "the DROP at index 1 decided";
  EXPECT_EQ(r.capability_rule, -1);
  // Base TEE then BREAK, capability accepts: capability copy first, then the base copy.
  e.cfg.rules = {TEE(0x2222222222ULL), BREAK()};
  r = filter_outbound(e.env(), make_frame(v4, false), true);
  EXPECT_EQ(r.verdict, FilterVerdict::Accept);
  ASSERT_EQ(r.copy_count, 2u);
  EXPECT_EQ(r.copies[0].address, kOther);
  EXPECT_EQ(r.copies[1].address, 0x2222222222ULL);
  EXPECT_EQ(r.copy_targets().size(), 2u);
}

TEST(RulesEngineFilter, OutboundCapabilityRedirect) {
  Env e;
  e.cfg = with_caps({}, {{1, {REDIRECT(kOther)}}});
  FilterResult r = filter_outbound(e.env(), make_frame(frame("udp"), false), false);
  EXPECT_EQ(r.verdict, FilterVerdict::Redirect);
  EXPECT_EQ(r.redirect_to, kOther);
  EXPECT_EQ(*r.matching_capability, 1u);
}

TEST(RulesEngineFilter, InboundOutcomes) {
  Env e;
  NamedFrame nf = frame("udp");
  FilterFrame f = make_frame(nf, true);

  e.cfg.rules = {ACCEPT()};
  FilterResult r = filter_inbound(e.env(), f);
  EXPECT_EQ(r.verdict, FilterVerdict::Accept);
  EXPECT_EQ(r.trace_result, 1);

  // Own address as a WATCH target: super-accept (2).
  e.cfg.rules = {WATCH(kSelf)};
  r = filter_inbound(e.env(), f);
  EXPECT_EQ(r.verdict, FilterVerdict::SuperAccept);
  EXPECT_EQ(r.trace_result, 2);

  // Non-firing TEE to us then ACCEPT: super-accept through the flag.
  e.cfg.rules = {ether(0x1234), TEE(kSelf), ACCEPT()};
  EXPECT_EQ(filter_inbound(e.env(), f).verdict, FilterVerdict::SuperAccept);

  // REDIRECT elsewhere inbound: Redirect (the caller sends EXT_FRAME 0x0a), result 0.
  e.cfg.rules = {REDIRECT(kOther)};
  r = filter_inbound(e.env(), f);
  EXPECT_EQ(r.verdict, FilterVerdict::Redirect);
  EXPECT_EQ(r.redirect_to, kOther);
  EXPECT_EQ(r.trace_result, 0);

  // Inbound copies are always allowed.
  e.cfg.rules = {TEE(kOther), ACCEPT()};
  r = filter_inbound(e.env(), f);
  EXPECT_EQ(r.copy_count, 1u);

  e.cfg.rules = {DROP()};
  r = filter_inbound(e.env(), f);
  EXPECT_EQ(r.verdict, FilterVerdict::Drop);

  // No match, no peer record: drop.
  e.cfg.rules = {};
  e.has_peer = false;
  EXPECT_EQ(filter_inbound(e.env(), f).verdict, FilterVerdict::Drop);
}

TEST(RulesEngineFilter, InboundPeerCapabilities) {
  const auto& n = VectorNodes::get();
  Env e;
  e.cfg.rules = {ether(0x0800), DROP()};  // no match for everything else
  // The peer's capabilities: 9 accepts ARP, 4 super-accepts LLDP via WATCH to us, 7 is
  // stale, 6 was revoked; 1 drops (a DROP just ends that capability).
  auto offer = [&](uint32_t id, uint64_t ts, std::vector<Rule> rules) {
    ASSERT_TRUE(e.peer.offer(kVectorNwid, test::signed_capability(id, ts, kPeer, rules), n.controller_only())
                    .accepted());
  };
  offer(9, kTs, {NOT(ether(0x0806)), BREAK(), TEE(kOther), ACCEPT()});
  offer(4, kTs, {ether(0x88cc), WATCH(kSelf)});
  offer(7, kTs + 2 * kCtmd, {ACCEPT()});
  offer(6, kTs, {ACCEPT()});
  offer(1, kTs, {DROP()});
  ASSERT_TRUE(e.peer
                  .offer(kVectorNwid, test::signed_revocation(CredentialType::Capability, 6, kTs, kPeer),
                         n.controller_only())
                  .accepted());

  FilterResult r = filter_inbound(e.env(), make_frame(frame("arp"), true));
  EXPECT_EQ(r.verdict, FilterVerdict::Accept);
  EXPECT_EQ(*r.matching_capability, 9u);
  ASSERT_EQ(r.copy_count, 1u);
  EXPECT_EQ(r.copies[0].address, kOther);

  r = filter_inbound(e.env(), make_frame(frame("lldp"), true));
  EXPECT_EQ(r.verdict, FilterVerdict::SuperAccept);
  EXPECT_EQ(*r.matching_capability, 4u);
  EXPECT_EQ(r.trace_result, 2);

  // IPv6: nothing valid accepts (7 stale, 6 revoked).
  r = filter_inbound(e.env(), make_frame(frame("v6_udp"), true));
  EXPECT_EQ(r.verdict, FilterVerdict::Drop);
  EXPECT_FALSE(r.matching_capability);

  // Base DROP wins over capabilities.
  r = filter_inbound(e.env(), make_frame(frame("udp"), true));
  EXPECT_EQ(r.verdict, FilterVerdict::Drop);
}

// ---- Robustness -------------------------------------------------------------------------------------

TEST(RulesEngineRobustness, EveryMatchOnEveryTruncationOfEveryFrame) {
  // All match types (incl. unknown ones) with and without NOT on every prefix of every frame:
  // no crash, no out-of-bounds read (run under ASan), deterministic.
  std::vector<Rule> all;
  for (uint8_t t = 16; t < 64; ++t) {
    Rule r;
    r.type = t;
    r.range_high = 0xffff;
    r.int_format = uint8_t(t * 7);
    r.int_idx = uint16_t(t);
    r.ip_prefix = uint8_t(t * 5);
    r.characteristics = ~0ULL;
    all.push_back(r);
    r.negate = true;
    r.or_ = true;
    all.push_back(r);
  }
  all.push_back(ACCEPT());
  Env e;
  for (const char* name : {"tcp_syn", "udp", "icmp_echo", "v6_tcp_ext", "v6_echo_ext", "arp", "lldp"}) {
    NamedFrame nf = frame(name);
    for (size_t n = 0; n <= nf.payload.size(); ++n) {
      Bytes part(nf.payload.begin(), nf.payload.begin() + long(n));
      for (bool inbound : {false, true}) {
        FilterFrame f = make_frame({nf.ethertype, part, nf.dest}, inbound);
        f.payload = part;
        ListOutcome a = evaluate_rules(e.env(), f, all);
        ListOutcome b = evaluate_rules(e.env(), f, all);
        EXPECT_EQ(a.result, b.result);
        EXPECT_EQ(a.log.bytes(), b.log.bytes());
      }
    }
  }
}

TEST(RulesEngineRobustness, Ipv6WalkEdges) {
  EXPECT_FALSE(ipv6_payload(Bytes(39, 0)));
  Bytes h(40, 0);
  h[6] = 17;
  auto p = ipv6_payload(h);  // header only: protocol 17 with the L4 header at len
  ASSERT_TRUE(p);
  EXPECT_EQ(p->protocol, 17);
  EXPECT_EQ(p->offset, 40u);
  h[6] = 0;  // HBH but no room for it
  EXPECT_FALSE(ipv6_payload(h));
  Bytes e2 = ipv6(6, {}, {0, 43, 60, 135});
  p = ipv6_payload(e2);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->protocol, 6);
  EXPECT_EQ(p->offset, 40u + 4 * 8);
  // A length byte pointing past the end fails.
  Bytes e3 = ipv6(6, {}, {60});
  e3[41] = 200;
  EXPECT_FALSE(ipv6_payload(e3));
}
