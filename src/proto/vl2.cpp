#include "proto/vl2.hpp"

#include <cstring>

#include "base/hex.hpp"

namespace zt::proto {
namespace {

int nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// §4.2: the 40-bit XOR mask taken from nwid bytes 1..5 (counting from the least
// significant byte): MAC bits 39..32 get (nwid >> 8) & 0xff, …, bits 7..0 (nwid >> 40).
uint64_t network_mac_mask(uint64_t nwid) {
  uint64_t m = 0;
  for (int i = 1; i <= 5; ++i) m = (m << 8) | ((nwid >> (8 * i)) & 0xff);
  return m;
}

}  // namespace

std::optional<Mac> Mac::parse(std::string_view text) {
  // Six two-digit groups separated by ':' or '-'.
  if (text.size() != 17) return std::nullopt;
  uint64_t v = 0;
  for (size_t g = 0; g < 6; ++g) {
    size_t at = g * 3;
    int hi = nibble(text[at]), lo = nibble(text[at + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    if (g < 5 && text[at + 2] != ':' && text[at + 2] != '-') return std::nullopt;
    v = (v << 8) | uint64_t((hi << 4) | lo);
  }
  return Mac(v);
}

uint8_t Mac::network_first_octet(uint64_t nwid) {
  uint8_t f = uint8_t((nwid & 0xfe) | 0x02);
  // 0x52 is avoided: that first octet is commonly used by other virtualization stacks.
  return f == 0x52 ? 0x32 : f;
}

Mac Mac::from_address(Address a, uint64_t nwid) {
  uint64_t low = (a & 0xffffffffffULL) ^ network_mac_mask(nwid);
  return Mac((uint64_t(network_first_octet(nwid)) << 40) | low);
}

Address Mac::to_address(uint64_t nwid) const {
  return (v_ & 0xffffffffffULL) ^ network_mac_mask(nwid);
}

std::array<uint8_t, 6> Mac::bytes() const {
  std::array<uint8_t, 6> b{};
  store_be(b.data(), v_, 6);
  return b;
}

std::string Mac::to_string() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  s.reserve(17);
  for (int i = 5; i >= 0; --i) {
    uint8_t b = uint8_t(v_ >> (8 * i));
    s.push_back(kDigits[b >> 4]);
    s.push_back(kDigits[b & 15]);
    if (i) s.push_back(':');
  }
  return s;
}

MulticastGroup MulticastGroup::for_ipv4_arp(const uint8_t ip[4]) {
  return {Mac::broadcast(), load_be32(ip)};
}

MulticastGroup MulticastGroup::for_ipv4_arp(uint32_t ip) { return {Mac::broadcast(), ip}; }

MulticastGroup MulticastGroup::for_ipv6_ndp(const uint8_t ip[16]) {
  uint64_t m = 0x3333ff000000ULL | (uint64_t(ip[13]) << 16) | (uint64_t(ip[14]) << 8) | ip[15];
  return {Mac(m), 0};
}

std::optional<MulticastGroup> MulticastGroup::for_ip(const InetAddress& ip) {
  if (ip.is_v4()) return for_ipv4_arp(ip.ip());
  if (ip.is_v6()) return for_ipv6_ndp(ip.ip());
  return std::nullopt;
}

MulticastGroup MulticastGroup::read(Reader& r) {
  MulticastGroup g;
  g.mac = Mac::read(r);
  g.adi = r.u32();
  return g;
}

void MulticastGroup::write(Writer& w) const {
  mac.write(w);
  w.u32(adi);
}

std::string MulticastGroup::to_string() const { return mac.to_string() + "/" + to_hex(adi, 8); }

std::string network_id_to_string(uint64_t nwid) { return to_hex(nwid, 16); }

std::optional<uint64_t> parse_network_id(std::string_view text) {
  if (text.size() != 16) return std::nullopt;
  return parse_hex_u64(text);
}

InetAddress rfc4193_address(uint64_t nwid, Address a) {
  uint8_t ip[16];
  ip[0] = 0xfd;
  store_be64(ip + 1, nwid);
  ip[9] = 0x99;
  ip[10] = 0x93;
  store_be(ip + 11, a & 0xffffffffffULL, 5);
  return InetAddress::v6(ip, 88);
}

InetAddress sixplane_address(uint64_t nwid, Address a) {
  uint8_t ip[16] = {};
  ip[0] = 0xfc;
  store_be32(ip + 1, uint32_t(nwid ^ (nwid >> 32)));
  store_be(ip + 5, a & 0xffffffffffULL, 5);
  ip[15] = 0x01;
  return InetAddress::v6(ip, 40);
}

std::optional<Address> rfc4193_embedded_address(uint64_t nwid, const uint8_t ip[16]) {
  InetAddress ref = rfc4193_address(nwid, 0);
  if (std::memcmp(ref.ip(), ip, 11) != 0) return std::nullopt;
  return load_be(ip + 11, 5);
}

std::optional<Address> sixplane_embedded_address(uint64_t nwid, const uint8_t ip[16]) {
  InetAddress ref = sixplane_address(nwid, 0);
  if (std::memcmp(ref.ip(), ip, 5) != 0) return std::nullopt;
  return load_be(ip + 5, 5);
}

}  // namespace zt::proto
