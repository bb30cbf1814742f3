// The stack's input guard (src/stack/glue.*): packets Debian's lwIP 2.1.3 would abort on
// never reach it. The fuzz corpus holds the frame that found it (udplite-coverage-past-end).
#include <gtest/gtest.h>

#include <vector>

#include "stack/glue.hpp"

namespace {

using zt::ByteSpan;
using zt::stack::carries_udplite;

std::vector<uint8_t> v6(uint8_t next, std::vector<uint8_t> ext = {}) {
  std::vector<uint8_t> p(40, 0);
  p[0] = 0x60;
  p[6] = next;
  p.insert(p.end(), ext.begin(), ext.end());
  p.resize(p.size() + 8, 0);  // a transport header's worth
  return p;
}

TEST(StackGuard, UdpLiteOverIpv4) {
  std::vector<uint8_t> p(28, 0);
  p[0] = 0x45;
  p[9] = 136;
  EXPECT_TRUE(carries_udplite(0x0800, ByteSpan(p.data(), p.size())));
  p[9] = 17;  // plain UDP passes
  EXPECT_FALSE(carries_udplite(0x0800, ByteSpan(p.data(), p.size())));
  EXPECT_FALSE(carries_udplite(0x0800, ByteSpan(p.data(), 10)));  // too short to judge: lwIP drops it
}

TEST(StackGuard, UdpLiteOverIpv6BehindExtensionHeaders) {
  auto direct = v6(136);
  EXPECT_TRUE(carries_udplite(0x86dd, ByteSpan(direct.data(), direct.size())));
  // hop-by-hop (8 bytes) -> fragment (8 bytes) -> UDP-Lite
  auto chained = v6(0, {44, 0, 0, 0, 0, 0, 0, 0, 136, 0, 0, 0, 0, 0, 0, 0});
  EXPECT_TRUE(carries_udplite(0x86dd, ByteSpan(chained.data(), chained.size())));
  // destination options of length 16 (hdr ext len 1) -> UDP
  std::vector<uint8_t> dst(16, 0);
  dst[0] = 17;
  dst[1] = 1;
  auto udp = v6(60, dst);
  EXPECT_FALSE(carries_udplite(0x86dd, ByteSpan(udp.data(), udp.size())));
  // a chain running off the end is not UDP-Lite (lwIP drops it as truncated)
  auto cut = v6(0);
  cut.resize(44);
  EXPECT_FALSE(carries_udplite(0x86dd, ByteSpan(cut.data(), cut.size())));
  auto arp = std::vector<uint8_t>(28, 136);
  EXPECT_FALSE(carries_udplite(0x0806, ByteSpan(arp.data(), arp.size())));
}

}  // namespace
