// Minimal classic-pcap reader for tests: yields the UDP datagrams of a capture.
//
// Supports the classic format (magic a1b2c3d4 / a1b23c4d, either byte order; not pcapng),
// link types Ethernet (1, with 802.1Q tags), BSD null/loopback (0), raw IP (101) and Linux
// cooked SLL (113); IPv4 (no IP fragments) and IPv6 (no extension headers) carrying UDP.
// Other records are skipped. Header-only; no libpcap needed.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

namespace zt::test {

struct UdpDatagram {
  size_t index = 0;        // record number in the capture (0-based)
  int64_t ts_us = 0;       // capture time, microseconds since the epoch
  bool v6 = false;
  uint8_t src_ip[16] = {};  // 4 meaningful bytes for IPv4
  uint8_t dst_ip[16] = {};
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  std::vector<uint8_t> payload;

  std::string src_string() const { return ip_string(src_ip) + "/" + std::to_string(src_port); }
  std::string dst_string() const { return ip_string(dst_ip) + "/" + std::to_string(dst_port); }

 private:
  std::string ip_string(const uint8_t* ip) const {
    std::string s;
    if (!v6) {
      for (int i = 0; i < 4; ++i) s += (i ? "." : "") + std::to_string(ip[i]);
      return s;
    }
    static const char* hex = "0123456789abcdef";
    for (int i = 0; i < 16; i += 2) {
      if (i) s += ':';
      for (int j = 0; j < 2; ++j) {
        s += hex[ip[i + j] >> 4];
        s += hex[ip[i + j] & 15];
      }
    }
    return s;
  }
};

// Parses a whole pcap image. nullopt if the global header is not classic pcap; a truncated
// last record ends the list.
inline std::optional<std::vector<UdpDatagram>> parse_pcap(const std::vector<uint8_t>& f) {
  if (f.size() < 24) return std::nullopt;
  auto le32 = [](const uint8_t* p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
  };
  auto be16 = [](const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); };
  const uint32_t magic = le32(f.data());
  bool swap = false, nanos = false;
  if (magic == 0xa1b2c3d4u) {
  } else if (magic == 0xd4c3b2a1u) {
    swap = true;
  } else if (magic == 0xa1b23c4du) {
    nanos = true;
  } else if (magic == 0x4d3cb2a1u) {
    swap = nanos = true;
  } else {
    return std::nullopt;
  }
  auto u32 = [&](const uint8_t* p) {
    uint32_t v = le32(p);
    return swap ? __builtin_bswap32(v) : v;
  };
  const uint32_t linktype = u32(f.data() + 20) & 0x0fffffffu;

  std::vector<UdpDatagram> out;
  size_t pos = 24;
  for (size_t index = 0; f.size() - pos >= 16; ++index) {
    const uint8_t* rh = f.data() + pos;
    const uint64_t sec = u32(rh), frac = u32(rh + 4);
    const size_t incl = u32(rh + 8);
    pos += 16;
    if (incl > f.size() - pos) break;
    const uint8_t* p = f.data() + pos;
    size_t n = incl;
    pos += incl;

    // Link layer -> network protocol.
    uint16_t ethertype = 0;
    switch (linktype) {
      case 1:  // Ethernet
        if (n < 14) continue;
        ethertype = be16(p + 12);
        p += 14, n -= 14;
        while ((ethertype == 0x8100 || ethertype == 0x88a8) && n >= 4) {
          ethertype = be16(p + 2);
          p += 4, n -= 4;
        }
        break;
      case 0: {  // BSD loopback: 4-byte host-order family
        if (n < 4) continue;
        const uint32_t fam = le32(p) == 2 || __builtin_bswap32(le32(p)) == 2 ? 2 : 10;
        ethertype = fam == 2 ? 0x0800 : 0x86dd;
        p += 4, n -= 4;
        break;
      }
      case 101:  // raw IP
        if (n < 1) continue;
        ethertype = (p[0] >> 4) == 6 ? 0x86dd : 0x0800;
        break;
      case 113:  // Linux cooked
        if (n < 16) continue;
        ethertype = be16(p + 14);
        p += 16, n -= 16;
        break;
      default:
        continue;
    }

    UdpDatagram d;
    d.index = index;
    d.ts_us = int64_t(sec) * 1000000 + int64_t(nanos ? frac / 1000 : frac);
    if (ethertype == 0x0800) {
      if (n < 20 || (p[0] >> 4) != 4) continue;
      const size_t ihl = size_t(p[0] & 15) * 4;
      const size_t tot = be16(p + 2);
      if (ihl < 20 || tot < ihl || tot > n || p[9] != 17) continue;
      if ((be16(p + 6) & 0x3fff) != 0) continue;  // IP fragment
      std::memcpy(d.src_ip, p + 12, 4);
      std::memcpy(d.dst_ip, p + 16, 4);
      p += ihl, n = tot - ihl;
    } else if (ethertype == 0x86dd) {
      if (n < 40 || (p[0] >> 4) != 6 || p[6] != 17) continue;
      const size_t plen = be16(p + 4);
      if (plen > n - 40) continue;
      d.v6 = true;
      std::memcpy(d.src_ip, p + 8, 16);
      std::memcpy(d.dst_ip, p + 24, 16);
      p += 40, n = plen;
    } else {
      continue;
    }
    if (n < 8) continue;
    const size_t ulen = be16(p + 4);
    if (ulen < 8 || ulen > n) continue;
    d.src_port = be16(p);
    d.dst_port = be16(p + 2);
    d.payload.assign(p + 8, p + ulen);
    out.push_back(std::move(d));
  }
  return out;
}

inline std::optional<std::vector<UdpDatagram>> read_pcap(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::vector<uint8_t> f((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_pcap(f);
}

}  // namespace zt::test
