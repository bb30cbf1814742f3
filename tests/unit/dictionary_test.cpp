// §6.1 dictionary: escaping, typed values, and byte-for-byte re-encoding of the reference
// network-config files.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "proto/dictionary.hpp"

using namespace zt;
using namespace zt::proto;

namespace {

Bytes read_vector(const std::string& name) {
  std::ifstream in(std::string(ZTCORE_VECTORS_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string str(const Bytes& b) { return std::string(b.begin(), b.end()); }

}  // namespace

TEST(Dictionary, EscapingTable) {
  Dictionary d;
  const uint8_t raw[] = {0x00, '\r', '\n', '\\', '=', 'a', 0xff, 0x01};
  ASSERT_TRUE(d.set("k", ByteSpan(raw, sizeof raw)));
  EXPECT_EQ(d.to_string(), std::string("k=\\0\\r\\n\\\\\\ea\xff\x01"));
  auto back = Dictionary::parse(d.serialize());
  ASSERT_TRUE(back);
  EXPECT_EQ(*back->get("k"), Bytes(raw, raw + sizeof raw));
}

TEST(Dictionary, UnknownEscapeYieldsTheCharacter) {
  auto d = Dictionary::parse(std::string_view("a=\\x\\q\\\\z"));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->get_string("a"), "xq\\z");
  // Trailing lone backslash is dropped.
  EXPECT_EQ(Dictionary::parse(std::string_view("a=b\\"))->get_string("a"), "b");
}

TEST(Dictionary, OrderAndFirstMatchWins) {
  auto d = Dictionary::parse(std::string_view("b=1\na=2\nb=3"));
  ASSERT_TRUE(d);
  ASSERT_EQ(d->size(), 3u);
  EXPECT_EQ(d->entries()[0].key, "b");
  EXPECT_EQ(d->entries()[1].key, "a");
  EXPECT_EQ(d->get_string("b"), "1");
  EXPECT_FALSE(d->get("B"));  // case-sensitive
  EXPECT_EQ(d->to_string(), "b=1\na=2\nb=3");
  // set() replaces the first, add() appends.
  Dictionary e = *d;
  e.set_string("b", "x");
  e.add(std::string_view("a"), as_bytes(std::string_view("y")));
  EXPECT_EQ(e.to_string(), "b=x\na=2\nb=3\na=y");
  EXPECT_EQ(e.erase("a"), 2u);
  EXPECT_EQ(e.to_string(), "b=x\nb=3");
}

TEST(Dictionary, StopsAtNulToleratesCrLfAndSkipsJunk) {
  const char text[] = "a=1\r\nb=2\r\n\nnoequals\n=empty\nc=3\0d=4";
  auto d = Dictionary::parse(ByteSpan(reinterpret_cast<const uint8_t*>(text), sizeof text - 1));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->size(), 3u);
  EXPECT_EQ(d->get_string("a"), "1");
  EXPECT_EQ(d->get_string("b"), "2");
  EXPECT_EQ(d->get_string("c"), "3");
  EXPECT_FALSE(d->get("d"));
  EXPECT_FALSE(d->get("noequals"));
}

TEST(Dictionary, Integers) {
  Dictionary d;
  d.set_u64("v", 7);
  d.set_hex("id", 0x8fec3e8ae4ULL, 10);
  d.set_i64("neg", -5);
  d.set_i64("pos", 5);
  d.set_bool("t", true);
  d.set_bool("f", false);
  EXPECT_EQ(d.to_string(),
            "v=0000000000000007\nid=8fec3e8ae4\nneg=-0000000000000005\npos=0000000000000005\nt=1\nf=0");
  EXPECT_EQ(d.get_u64("v"), 7u);
  EXPECT_EQ(d.get_u64("id"), 0x8fec3e8ae4ULL);
  EXPECT_EQ(d.get_i64("neg"), -5);
  EXPECT_EQ(d.get_bool("t"), true);
  EXPECT_EQ(d.get_bool("f"), false);
  EXPECT_FALSE(d.get_u64("missing"));
  EXPECT_EQ(d.get_u64("missing", 42), 42u);
  // Readers accept any number of digits and stop at the first non-hex character.
  auto p = Dictionary::parse(std::string_view("a=1f\nb=ABCdefz99\nc=\nd=T\ne=true\nf=yes"));
  EXPECT_EQ(p->get_u64("a"), 0x1fu);
  EXPECT_EQ(p->get_u64("b"), 0xabcdefu);
  EXPECT_EQ(p->get_u64("c"), 0u);
  EXPECT_EQ(p->get_bool("d"), true);
  EXPECT_EQ(p->get_bool("e"), true);
  EXPECT_EQ(p->get_bool("f"), false);
}

TEST(Dictionary, KeysAreValidated) {
  Dictionary d;
  EXPECT_FALSE(d.set_string("", "x"));
  EXPECT_FALSE(d.set_string("a=b", "x"));
  EXPECT_FALSE(d.set_string("a\nb", "x"));
  EXPECT_FALSE(d.set_string("a\\b", "x"));
  EXPECT_FALSE(d.set_string(std::string_view("a\0b", 3), "x"));
  EXPECT_TRUE(d.empty());
}

TEST(Dictionary, CapacityLimit) {
  Dictionary d(10);
  EXPECT_TRUE(d.set_string("a", "12345678"));  // 10 bytes
  EXPECT_FALSE(d.set_string("b", ""));         // would need 3 more
  EXPECT_FALSE(d.set_string("a", "123456789"));
  EXPECT_TRUE(d.set_string("a", "1234"));
  Dictionary e(4);
  EXPECT_FALSE(e.set_string("a", "\n\n"));  // escaped size counts: 2 + 4
  EXPECT_EQ(d.encoded_size(), d.serialize().size());
  EXPECT_FALSE(Dictionary::parse(std::string_view("a=123456"), 5));
  EXPECT_TRUE(Dictionary::parse(std::string_view("a=123"), 5));
}

TEST(Dictionary, ReferenceConfigsReencodeByteForByte) {
  for (const char* name : {"nodea.networkconfig.dict", "nodeb.networkconfig.dict"}) {
    Bytes file = read_vector(name);
    auto d = Dictionary::parse(file);
    ASSERT_TRUE(d) << d.error();
    EXPECT_EQ(d->serialize(), file) << name;
    std::vector<std::string> keys;
    for (const auto& e : d->entries()) keys.push_back(e.key);
    EXPECT_EQ(keys, (std::vector<std::string>{"v", "nwid", "ts", "ctmd", "r", "id", "tt", "tl", "f", "ml", "t",
                                              "n", "mtu", "C", "COO", "RT", "I", "R", "DNS", "ssov", "ssoe"}));
    EXPECT_EQ(d->get_u64("v"), 7u);
    EXPECT_EQ(d->get_u64("nwid"), 0xd5a72ff358c0ffeeULL);
    EXPECT_EQ(d->get_string("n"), "ztlab");
    EXPECT_EQ(d->get_u64("mtu"), 2800u);
    EXPECT_EQ(d->get_u64("ctmd"), 1800000u);
    EXPECT_EQ(d->get_u64("f"), 6u);
    EXPECT_EQ(d->get_bool("ssoe"), false);
    EXPECT_EQ(d->get("DNS")->size(), 132u);
    EXPECT_EQ(d->get("R")->size(), 2u);
    // Also survives a trailing NUL and CRLF-free rewrite through a copy.
    Bytes with_nul = file;
    with_nul.push_back(0);
    with_nul.push_back('x');
    EXPECT_EQ(Dictionary::parse(with_nul)->serialize(), file);
  }
  EXPECT_EQ(str(read_vector("nodea.networkconfig.dict")).substr(0, 19), "v=0000000000000007\n");
}
