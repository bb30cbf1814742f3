#include <gtest/gtest.h>

#include "base/bytes.hpp"
#include "base/hex.hpp"
#include "proto/inet_address.hpp"

using namespace zt;

TEST(Reader, ReadsBigEndianAndFailsStickyPastEnd) {
  const uint8_t buf[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};
  Reader r(buf, sizeof buf);
  EXPECT_EQ(r.u16(), 0x0102);
  EXPECT_EQ(r.u40(), 0x0304050607ull);
  EXPECT_TRUE(r.done());
  EXPECT_EQ(r.u8(), 0);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.u8(), 0);  // stays failed
  EXPECT_TRUE(r.bytes(0).empty());
  EXPECT_FALSE(r.ok());
}

TEST(Reader, HugeLengthDoesNotOverflow) {
  const uint8_t buf[4] = {};
  Reader r(buf, sizeof buf);
  r.skip(2);
  EXPECT_TRUE(r.bytes(SIZE_MAX).empty());
  EXPECT_FALSE(r.ok());
}

TEST(Writer, WritesBigEndianAndPatches) {
  Writer w;
  w.u8(1).u16(0x0203).u40(0x0405060708ull);
  size_t at = w.placeholder(2);
  w.u8(9);
  w.patch_be(at, 0xabcd, 2);
  EXPECT_EQ(to_hex(w.span()), "0102030405060708abcd09");
}

TEST(Hex, RoundTripAndStrictness) {
  EXPECT_EQ(to_hex(0x765ad94991ull, 10), "765ad94991");
  EXPECT_EQ(to_hex(0x1ull, 16), "0000000000000001");
  auto b = from_hex("00ffAb");
  ASSERT_TRUE(b);
  EXPECT_EQ(to_hex(*b), "00ffab");
  EXPECT_FALSE(from_hex("abc"));
  EXPECT_FALSE(from_hex("zz"));
  EXPECT_EQ(parse_hex_u64("d5a72ff358c0ffee").value(), 0xd5a72ff358c0ffeeull);
  EXPECT_FALSE(parse_hex_u64("12345678901234567"));
  EXPECT_FALSE(parse_hex_u64(""));
}

TEST(InetAddress, BinaryFormsMatchSpec) {
  // §4.1 example: 10.1.2.3/24 serializes as 04 0a 01 02 03 00 18
  auto a = proto::InetAddress::parse("10.1.2.3/24");
  ASSERT_TRUE(a);
  Writer w;
  a->write(w);
  EXPECT_EQ(to_hex(w.span()), "040a0102030018");
  Reader r(w.span());
  auto back = proto::InetAddress::read(r);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, *a);
  EXPECT_TRUE(r.done());

  Writer n;
  proto::InetAddress().write(n);
  EXPECT_EQ(to_hex(n.span()), "00");

  auto v6 = proto::InetAddress::parse("fdd5:a72f:f358:c0ff:ee99:938f:ec3e:8ae4/88");
  ASSERT_TRUE(v6);
  Writer w6;
  v6->write(w6);
  EXPECT_EQ(to_hex(w6.span()), "06fdd5a72ff358c0ffee99938fec3e8ae40058");
  EXPECT_EQ(v6->to_string(), "fdd5:a72f:f358:c0ff:ee99:938f:ec3e:8ae4/88");
}

TEST(InetAddress, RejectsBadInput) {
  const uint8_t unknown[] = {0x09, 1, 2, 3};
  Reader r(unknown, sizeof unknown);
  EXPECT_FALSE(proto::InetAddress::read(r).ok());
  const uint8_t trunc[] = {0x06, 1, 2, 3};
  Reader r2(trunc, sizeof trunc);
  EXPECT_FALSE(proto::InetAddress::read(r2).ok());
  EXPECT_FALSE(proto::InetAddress::parse("1.2.3.4/70000"));
  EXPECT_FALSE(proto::InetAddress::parse("not an ip"));
  auto p = proto::InetAddress::parse("[::1]:9993");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->is_loopback());
  EXPECT_EQ(p->port(), 9993);
}
