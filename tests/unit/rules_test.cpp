// §8.1 rule encoding: every type round-trips, unknown types are skipped by L, limits, and the
// default [ACCEPT] set of the vector configs.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "base/hex.hpp"
#include "proto/dictionary.hpp"
#include "proto/rules.hpp"

using namespace zt;
using namespace zt::proto;

namespace {

Bytes read_vector(const std::string& name) {
  std::ifstream in(std::string(ZTCORE_VECTORS_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

Rule make(RuleType t) {
  Rule r;
  r.type = uint8_t(t);
  return r;
}

// One populated rule of every known type, with the expected wire hex.
std::vector<std::pair<Rule, std::string>> every_type() {
  std::vector<std::pair<Rule, std::string>> v;
  auto add = [&](Rule r, std::string hex) { v.emplace_back(r, std::move(hex)); };
  add(make(RuleType::ActionDrop), "0000");
  add(make(RuleType::ActionAccept), "0100");
  {
    Rule r = make(RuleType::ActionTee);
    r.zt = 0x8fec3e8ae4;
    r.action_flags = 0x11223344;
    r.action_length = 128;
    add(r, "020e0000008fec3e8ae4112233440080");
  }
  {
    Rule r = make(RuleType::ActionWatch);
    r.zt = 0xeb8cb7d1c8;
    add(r, "030e000000eb8cb7d1c8000000000000");
  }
  {
    Rule r = make(RuleType::ActionRedirect);
    r.zt = 0xd5a72ff358;
    r.action_flags = 1;
    add(r, "040e000000d5a72ff358000000010000");
  }
  add(make(RuleType::ActionBreak), "0500");
  add(make(RuleType::ActionPriority), "0600");
  {
    Rule r = make(RuleType::MatchSourceZeroTierAddress);
    r.zt = 0x8fec3e8ae4;
    add(r, "18058fec3e8ae4");
  }
  {
    Rule r = make(RuleType::MatchDestZeroTierAddress);
    r.zt = 0xeb8cb7d1c8;
    r.negate = true;
    add(r, "9905eb8cb7d1c8");
  }
  {
    Rule r = make(RuleType::MatchVlanId);
    r.vlan_id = 0x0123;
    add(r, "1a020123");
  }
  {
    Rule r = make(RuleType::MatchVlanPcp);
    r.vlan_pcp = 5;
    add(r, "1b0105");
  }
  {
    Rule r = make(RuleType::MatchVlanDei);
    r.vlan_dei = 1;
    add(r, "1c0101");
  }
  {
    Rule r = make(RuleType::MatchMacSource);
    r.mac = *Mac::parse("ee:70:2c:66:79:cb");
    add(r, "1d06ee702c6679cb");
  }
  {
    Rule r = make(RuleType::MatchMacDest);
    r.mac = Mac::broadcast();
    r.or_ = true;
    add(r, "5e06ffffffffffff");
  }
  {
    Rule r = make(RuleType::MatchIpv4Source);
    r.ip = {10, 147, 17, 0};
    r.ip_prefix = 24;
    add(r, "1f050a93110018");
  }
  {
    Rule r = make(RuleType::MatchIpv4Dest);
    r.ip = {192, 168, 1, 1};
    r.ip_prefix = 32;
    add(r, "2005c0a8010120");
  }
  {
    Rule r = make(RuleType::MatchIpv6Source);
    r.ip = {0xfd, 0xd5, 0xa7, 0x2f, 0xf3, 0x58, 0xc0, 0xff, 0xee, 0x99, 0x93};
    r.ip_prefix = 88;
    add(r, "2111fdd5a72ff358c0ffee9993000000000058");
  }
  {
    Rule r = make(RuleType::MatchIpv6Dest);
    r.ip[0] = 0xfc;
    r.ip_prefix = 40;
    r.negate = true;
    r.or_ = true;
    add(r, "e211fc00000000000000000000000000000028");
  }
  {
    Rule r = make(RuleType::MatchIpTos);
    r.tos_mask = 0xfc;
    r.tos_low = 8;
    r.tos_high = 16;
    add(r, "2303fc0810");
  }
  {
    Rule r = make(RuleType::MatchIpProtocol);
    r.ip_protocol = 17;
    add(r, "240111");
  }
  {
    Rule r = make(RuleType::MatchEthertype);
    r.ethertype = 0x86dd;
    add(r, "250286dd");
  }
  {
    Rule r = make(RuleType::MatchIcmp);
    r.icmp_type = 135;
    r.icmp_code = 0;
    r.icmp_flags = 1;
    add(r, "2603870001");
  }
  {
    Rule r = make(RuleType::MatchIpSourcePortRange);
    r.range_low = 1024;
    r.range_high = 65535;
    add(r, "27040400ffff");
  }
  {
    Rule r = make(RuleType::MatchIpDestPortRange);
    r.range_low = 22;
    r.range_high = 22;
    add(r, "280400160016");
  }
  {
    Rule r = make(RuleType::MatchCharacteristics);
    r.characteristics = 0x8000000000000002ULL;
    add(r, "29088000000000000002");
  }
  {
    Rule r = make(RuleType::MatchFrameSizeRange);
    r.range_low = 64;
    r.range_high = 1500;
    add(r, "2a04004005dc");
  }
  {
    Rule r = make(RuleType::MatchRandom);
    r.probability = 0x7fffffff;
    add(r, "2b047fffffff");
  }
  const RuleType tags[] = {RuleType::MatchTagsDifference, RuleType::MatchTagsBitwiseAnd,
                           RuleType::MatchTagsBitwiseOr,  RuleType::MatchTagsBitwiseXor,
                           RuleType::MatchTagsEqual,      RuleType::MatchTagSender,
                           RuleType::MatchTagReceiver};
  for (RuleType t : tags) {
    Rule r = make(t);
    r.tag_id = 1000;
    r.tag_value = 7;
    add(r, to_hex(uint64_t(t), 2) + "08000003e800000007");
  }
  {
    Rule r = make(RuleType::MatchIntegerRange);
    r.int_start = 10;
    r.int_end = 20;
    r.int_idx = 14;
    r.int_format = 0x80 | 15;
    add(r, "3313000000000000000a0000000000000014000e8f");
  }
  return v;
}

std::string hex_of(const Rule& r) {
  Writer w;
  r.write(w);
  return to_hex(w.span());
}

}  // namespace

TEST(Rules, EveryKnownTypeRoundTrips) {
  auto all = every_type();
  EXPECT_EQ(all.size(), 7u + 28u);  // 7 actions + matches 24..51
  for (const auto& [rule, hex] : all) {
    SCOPED_TRACE(rule_type_name(rule.type));
    EXPECT_TRUE(rule.known());
    EXPECT_EQ(hex_of(rule), hex);
    Bytes b = *from_hex(hex);
    Reader r(b);
    auto back = Rule::read(r);
    ASSERT_TRUE(back) << back.error();
    EXPECT_TRUE(r.done());
    EXPECT_EQ(*back, rule);
  }
  // A whole list.
  std::vector<Rule> list;
  for (const auto& p : all) list.push_back(p.first);
  Bytes b = serialize_rules(list);
  auto back = parse_rules(b);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, list);
  Reader r(b);
  auto counted = read_rules(r, list.size());
  ASSERT_TRUE(counted);
  EXPECT_TRUE(r.done());
}

TEST(Rules, UnknownTypesAreKeptAndSkippedByLength) {
  // Unassigned match 20 with 3 field bytes, reserved action 9 with 2, match 63 with 0,
  // then ACCEPT.
  Bytes b = *from_hex("9403aabbcc0902010d3f000100");
  auto rules = parse_rules(b);
  ASSERT_TRUE(rules) << rules.error();
  ASSERT_EQ(rules->size(), 4u);
  EXPECT_EQ((*rules)[0].type, 20);
  EXPECT_TRUE((*rules)[0].negate);
  EXPECT_FALSE((*rules)[0].known());
  EXPECT_EQ((*rules)[1].type, 9);
  EXPECT_EQ((*rules)[2].type, 63);
  EXPECT_EQ((*rules)[3].rule_type(), RuleType::ActionAccept);
  EXPECT_EQ(rule_type_name(20), "UNKNOWN_20");
  // The writer emits L = 0 for unknown types (as the reference does).
  EXPECT_EQ(to_hex(serialize_rules(*rules)), "940009003f000100");
  EXPECT_EQ(*parse_rules(serialize_rules(*rules)), *rules);
  // A known type with a longer field: fields from the start, the rest skipped.
  auto longer = parse_rules(*from_hex("250408000000" "0100"));
  ASSERT_TRUE(longer);
  ASSERT_EQ(longer->size(), 2u);
  EXPECT_EQ((*longer)[0].ethertype, 0x0800);
  // PRIORITY / DROP / ACCEPT / BREAK with a non-zero L on the wire: field skipped.
  auto pr = parse_rules(*from_hex("0601050100"));
  ASSERT_TRUE(pr);
  EXPECT_EQ(pr->size(), 2u);
}

TEST(Rules, MalformedInput) {
  EXPECT_FALSE(parse_rules(*from_hex("25")));          // no length
  EXPECT_FALSE(parse_rules(*from_hex("250208")));      // field truncated
  EXPECT_FALSE(parse_rules(*from_hex("250108")));      // L shorter than the type's field
  EXPECT_FALSE(parse_rules(*from_hex("1403aabb")));    // unknown type, field truncated
  EXPECT_TRUE(parse_rules(Bytes{}));                   // empty list is fine
  // Count limits.
  Bytes many = serialize_rules(std::vector<Rule>(kMaxNetworkRules + 1, Rule::accept()));
  EXPECT_FALSE(parse_rules(many));
  EXPECT_TRUE(parse_rules(ByteSpan(many).first(2 * kMaxNetworkRules)));
  Reader r(many);
  EXPECT_FALSE(read_rules(r, 65, kMaxCapabilityRules));
  Reader r2(many);
  EXPECT_TRUE(read_rules(r2, 64, kMaxCapabilityRules));
  Bytes one_rule = *from_hex("0100");
  Reader r3(one_rule);
  EXPECT_FALSE(read_rules(r3, 2));  // count larger than the data
}

TEST(Rules, DefaultAcceptSetFromConfig) {
  for (const char* name : {"nodea.networkconfig.dict", "nodeb.networkconfig.dict"}) {
    auto d = Dictionary::parse(read_vector(name));
    ASSERT_TRUE(d);
    const Bytes* r = d->get("R");
    ASSERT_TRUE(r);
    EXPECT_EQ(to_hex(*r), "0100");
    auto rules = parse_rules(*r);
    ASSERT_TRUE(rules);
    ASSERT_EQ(rules->size(), 1u);
    EXPECT_EQ((*rules)[0], Rule::accept());
    EXPECT_EQ(serialize_rules(*rules), *r);
    EXPECT_EQ(describe((*rules)[0]), "ACTION_ACCEPT");
  }
}

TEST(Rules, Describe) {
  Rule eth = make(RuleType::MatchEthertype);
  eth.ethertype = 0x0800;
  eth.negate = true;
  EXPECT_EQ(describe(eth), "not MATCH_ETHERTYPE etherType=0x0800");
  Rule ip = make(RuleType::MatchIpv4Source);
  ip.ip = {10, 0, 0, 0};
  ip.ip_prefix = 8;
  ip.or_ = true;
  EXPECT_EQ(describe(ip), "or MATCH_IPV4_SOURCE ip=10.0.0.0/8");
  Rule tee = make(RuleType::ActionTee);
  tee.zt = 0x8fec3e8ae4;
  tee.action_length = 64;
  EXPECT_EQ(describe(tee), "ACTION_TEE address=8fec3e8ae4 flags=0x0 length=64");
  Rule icmp = make(RuleType::MatchIcmp);
  icmp.icmp_type = 8;
  EXPECT_EQ(describe(icmp), "MATCH_ICMP icmpType=8 icmpCode=any");
  EXPECT_EQ(rule_type_name(51), "INTEGER_RANGE");
  for (const auto& [rule, hex] : every_type())
    EXPECT_NE(describe(rule).find(rule_type_name(rule.type)), std::string::npos) << hex;
}

TEST(Rules, IntegerRangeSpan) {
  Rule r = make(RuleType::MatchIntegerRange);
  r.int_start = 0xfffffffffffffff0ULL;
  r.int_end = 0x10;  // wraps
  EXPECT_EQ(r.int_span(), 0x20u);
  r.int_format = 0x80 | 7;
  EXPECT_EQ(r.int_bits(), 8u);
  EXPECT_TRUE(r.int_little_endian());
}
