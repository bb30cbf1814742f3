// §4.2–§4.5: MACs, multicast groups, network IDs, managed IPv6 — against the worked examples
// and the nodes' listnetworks output.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/hex.hpp"
#include "proto/vl2.hpp"

using namespace zt;
using namespace zt::proto;

namespace {

constexpr uint64_t kNwid = 0xd5a72ff358c0ffeeULL;
constexpr Address kNodeA = 0x8fec3e8ae4ULL;
constexpr Address kNodeB = 0xeb8cb7d1c8ULL;

nlohmann::json load_json(const std::string& name) {
  std::ifstream in(std::string(ZTCORE_VECTORS_DIR) + "/" + name);
  EXPECT_TRUE(in.good()) << name;
  return nlohmann::json::parse(in);
}

}  // namespace

TEST(Mac, WorkedExamples) {
  EXPECT_EQ(Mac::from_address(kNodeA, kNwid).to_string(), "ee:70:2c:66:79:cb");
  EXPECT_EQ(Mac::from_address(kNodeB, kNwid).to_string(), "ee:14:4c:ef:22:e7");
  EXPECT_EQ(Mac::network_first_octet(kNwid), 0xee);
}

TEST(Mac, ReverseRecoversAddress) {
  EXPECT_EQ(Mac::parse("ee:70:2c:66:79:cb")->to_address(kNwid), kNodeA);
  EXPECT_EQ(Mac::parse("ee:14:4c:ef:22:e7")->to_address(kNwid), kNodeB);
  EXPECT_TRUE(Mac::parse("ee:14:4c:ef:22:e7")->is_network_mac(kNwid));
  EXPECT_FALSE(Mac::parse("33:33:ff:ef:22:e7")->is_network_mac(kNwid));
  // Round trip over a spread of addresses and networks.
  for (uint64_t nwid : std::initializer_list<uint64_t>{kNwid, 0x1122334455667752ULL, 1, ~uint64_t(0)})
    for (Address a : std::initializer_list<Address>{kNodeA, kNodeB, 1, 0xfeffffffffULL})
      EXPECT_EQ(Mac::from_address(a, nwid).to_address(nwid), a);
}

TEST(Mac, Avoids0x52FirstOctet) {
  // (nwid & 0xfe) | 0x02 == 0x52 for low bytes 0x50..0x53 → 0x32.
  for (uint64_t low : {0x50u, 0x51u, 0x52u, 0x53u}) {
    uint64_t nwid = 0xd5a72ff358c0ff00ULL | low;
    EXPECT_EQ(Mac::network_first_octet(nwid), 0x32) << low;
    Mac m = Mac::from_address(kNodeA, nwid);
    EXPECT_EQ(m.first_octet(), 0x32);
    EXPECT_EQ(m.to_address(nwid), kNodeA);
  }
  EXPECT_EQ(Mac::network_first_octet(0x54), 0x56);
  EXPECT_EQ(Mac::network_first_octet(0x01), 0x02);
  // Result is always unicast and locally administered.
  for (uint64_t low = 0; low < 256; ++low) {
    uint8_t f = Mac::network_first_octet(low);
    EXPECT_EQ(f & 0x01, 0);
    EXPECT_EQ(f & 0x02, 2);
  }
}

TEST(Mac, TextParsing) {
  auto m = Mac::parse("EE-70-2C-66-79-CB");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->value(), 0xee702c6679cbULL);
  EXPECT_FALSE(Mac::parse("ee:70:2c:66:79"));
  EXPECT_FALSE(Mac::parse("ee:70:2c:66:79:cg"));
  EXPECT_FALSE(Mac::parse("ee:70:2c:66:79:cb:"));
  EXPECT_FALSE(Mac::parse("ee7002c:66:79:cb"));
  EXPECT_TRUE(Mac::broadcast().is_broadcast());
  EXPECT_TRUE(Mac::broadcast().is_multicast());
  EXPECT_TRUE(Mac::parse("01:00:5e:00:00:01")->is_multicast());
  EXPECT_FALSE(Mac::parse("ee:70:2c:66:79:cb")->is_multicast());
  auto b = Mac(0x0102030405060708ULL).bytes();  // upper bits dropped
  EXPECT_EQ(to_hex(ByteSpan(b)), "030405060708");
}

TEST(MulticastGroup, AddressResolutionGroups) {
  // Node A's ARP group (4.3): ff:ff:ff:ff:ff:ff / 10.147.17.14.
  auto a4 = InetAddress::parse("10.147.17.14/24");
  auto g = MulticastGroup::for_ip(*a4);
  ASSERT_TRUE(g);
  EXPECT_EQ(g->mac, Mac::broadcast());
  EXPECT_EQ(g->adi, 0x0a93110eu);
  EXPECT_EQ(MulticastGroup::for_ipv4_arp(0x0a93112au).to_string(), "ff:ff:ff:ff:ff:ff/0a93112a");
  // NDP solicited-node group of its RFC4193 address: 33:33:ff:3e:8a:e4.
  InetAddress v6 = rfc4193_address(kNwid, kNodeA);
  EXPECT_EQ(MulticastGroup::for_ip(v6)->mac.to_string(), "33:33:ff:3e:8a:e4");
  EXPECT_EQ(MulticastGroup::for_ip(v6)->adi, 0u);
  EXPECT_FALSE(MulticastGroup::for_ip(InetAddress()));
  // The link-local group seen in listnetworks (fe80::…:66:79:cb).
  auto ll = InetAddress::parse("fe80::ec70:2cff:fe66:79cb");
  EXPECT_EQ(MulticastGroup::for_ip(*ll)->mac.to_string(), "33:33:ff:66:79:cb");
}

TEST(MulticastGroup, WireForm) {
  MulticastGroup g{Mac::broadcast(), 0x0a93110e};
  Writer w;
  g.write(w);
  EXPECT_EQ(to_hex(w.span()), "ffffffffffff0a93110e");
  Reader r(w.span());
  EXPECT_EQ(MulticastGroup::read(r), g);
  EXPECT_TRUE(r.done());
  Reader short_r(w.span().first(9));
  MulticastGroup::read(short_r);
  EXPECT_FALSE(short_r.ok());
}

TEST(NetworkId, ControllerAndText) {
  EXPECT_EQ(network_controller(kNwid), 0xd5a72ff358ULL);
  EXPECT_EQ(network_id_to_string(kNwid), "d5a72ff358c0ffee");
  EXPECT_EQ(network_id_to_string(0x1), "0000000000000001");
  EXPECT_EQ(parse_network_id("D5A72FF358C0FFEE"), kNwid);
  EXPECT_FALSE(parse_network_id("d5a72ff358c0ffe"));
  EXPECT_FALSE(parse_network_id("d5a72ff358c0ffeg"));
}

TEST(ManagedIpv6, Rfc4193WorkedExample) {
  EXPECT_EQ(rfc4193_address(kNwid, kNodeA).to_string(), "fdd5:a72f:f358:c0ff:ee99:938f:ec3e:8ae4/88");
  EXPECT_EQ(rfc4193_address(kNwid, kNodeB).to_string(), "fdd5:a72f:f358:c0ff:ee99:93eb:8cb7:d1c8/88");
  InetAddress a = rfc4193_address(kNwid, kNodeA);
  EXPECT_EQ(rfc4193_embedded_address(kNwid, a.ip()), kNodeA);
  EXPECT_FALSE(rfc4193_embedded_address(kNwid ^ 1, a.ip()));
  EXPECT_FALSE(sixplane_embedded_address(kNwid, a.ip()));
}

TEST(ManagedIpv6, SixPlaneWorkedExample) {
  InetAddress a = sixplane_address(kNwid, kNodeA);
  EXPECT_EQ(a.to_string(), "fc8d:67d0:1d8f:ec3e:8ae4::1/40");
  EXPECT_EQ(a.prefix_bits(), 40u);
  EXPECT_EQ(sixplane_embedded_address(kNwid, a.ip()), kNodeA);
  // Any address in the member's /80 maps to the member (4.5).
  uint8_t other[16];
  std::memcpy(other, a.ip(), 16);
  other[15] = 0x77;
  other[12] = 0x12;
  EXPECT_EQ(sixplane_embedded_address(kNwid, other), kNodeA);
}

TEST(Vl2, MatchesListnetworksOutput) {
  struct Node {
    const char* file;
    Address addr;
  } nodes[] = {{"nodea_listnetworks.json", kNodeA}, {"nodeb_listnetworks.json", kNodeB}};
  for (const auto& n : nodes) {
    auto j = load_json(n.file).at(0);
    uint64_t nwid = *parse_network_id(j.at("nwid").get<std::string>());
    EXPECT_EQ(nwid, kNwid);
    EXPECT_EQ(network_controller(nwid), 0xd5a72ff358ULL);
    EXPECT_EQ(Mac::from_address(n.addr, nwid).to_string(), j.at("mac").get<std::string>());
    EXPECT_EQ(Mac::parse(j.at("mac").get<std::string>())->to_address(nwid), n.addr);
    auto assigned = j.at("assignedAddresses").get<std::vector<std::string>>();
    EXPECT_NE(std::find(assigned.begin(), assigned.end(), rfc4193_address(nwid, n.addr).to_string()),
              assigned.end());
    // The solicited-node group of the MAC-derived (EUI-64) link-local address is subscribed;
    // its last three bytes are the MAC's last three.
    Mac mac = Mac::from_address(n.addr, nwid);
    auto mb = mac.bytes();
    uint8_t ll[16] = {0xfe, 0x80};
    ll[13] = mb[3];
    ll[14] = mb[4];
    ll[15] = mb[5];
    bool found = false;
    for (const auto& s : j.at("multicastSubscriptions"))
      if (s.at("mac") == MulticastGroup::for_ipv6_ndp(ll).mac.to_string() && s.at("adi") == 0) found = true;
    EXPECT_TRUE(found) << n.file;
  }
}
