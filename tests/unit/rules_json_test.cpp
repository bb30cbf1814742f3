// §10.3 JSON rule objects and the rule-type table they share with the §8.1 wire codec:
// every type goes wire → JSON → wire against hand-written reference renderings, the
// controller's parsing leniencies and errors, and the reference vectors.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>

#include "base/hex.hpp"
#include "proto/dictionary.hpp"
#include "proto/rules.hpp"
#include "proto/rules_json.hpp"

using namespace zt;
using namespace zt::proto;
using json = nlohmann::json;

namespace {

std::string read_vector(const std::string& name) {
  std::ifstream in(std::string(ZTCORE_VECTORS_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

Rule from_wire(const std::string& hex) {
  Bytes b = *from_hex(hex);
  Reader r(b);
  auto rule = Rule::read(r);
  EXPECT_TRUE(rule) << hex << ": " << rule.error();
  return rule ? *rule : Rule{};
}

std::string to_wire(const Rule& r) {
  Writer w;
  r.write(w);
  return to_hex(w.span());
}

Result<Rule> parse(const char* text, RuleJsonTypes t = RuleJsonTypes::Reference) {
  return rule_from_json(json::parse(text), t);
}

// Canonical wire form of one rule of every known type (and a few unassigned ones) with the
// JSON the reference controller's renderer gives for it, written out by hand from §10.3.
struct Case {
  const char* wire;
  const char* json;
};
const Case kCases[] = {
    {"0000", R"({"type":"ACTION_DROP"})"},
    {"0100", R"({"type":"ACTION_ACCEPT"})"},
    {"020e0000008fec3e8ae4112233440080", R"({"type":"ACTION_TEE","address":"8fec3e8ae4","flags":287454020,"length":128})"},
    {"030e000000eb8cb7d1c8000000000000", R"({"type":"ACTION_WATCH","address":"eb8cb7d1c8","flags":0,"length":0})"},
    {"040e000000d5a72ff358000000010000", R"({"type":"ACTION_REDIRECT","address":"d5a72ff358","flags":1})"},
    {"0500", R"({"type":"ACTION_BREAK"})"},
    {"0600", R"({"type":"ACTION_PRIORITY"})"},
    {"18058fec3e8ae4", R"({"type":"MATCH_SOURCE_ZEROTIER_ADDRESS","not":false,"or":false,"zt":"8fec3e8ae4"})"},
    {"9905eb8cb7d1c8", R"({"type":"MATCH_DEST_ZEROTIER_ADDRESS","not":true,"or":false,"zt":"eb8cb7d1c8"})"},
    {"1a020123", R"({"type":"MATCH_VLAN_ID","not":false,"or":false,"vlanId":291})"},
    {"1b0105", R"({"type":"MATCH_VLAN_PCP","not":false,"or":false,"vlanPcp":5})"},
    {"1c0101", R"({"type":"MATCH_VLAN_DEI","not":false,"or":false,"vlanDei":1})"},
    {"1d06ee702c6679cb", R"({"type":"MATCH_MAC_SOURCE","not":false,"or":false,"mac":"ee:70:2c:66:79:cb"})"},
    {"5e06ffffffffffff", R"({"type":"MATCH_MAC_DEST","not":false,"or":true,"mac":"ff:ff:ff:ff:ff:ff"})"},
    {"1f050a93110018", R"({"type":"MATCH_IPV4_SOURCE","not":false,"or":false,"ip":"10.147.17.0/24"})"},
    {"2005c0a8010120", R"({"type":"MATCH_IPV4_DEST","not":false,"or":false,"ip":"192.168.1.1/32"})"},
    {"2111fdd5a72ff358c0ffee9993000000000058",
     R"({"type":"MATCH_IPV6_SOURCE","not":false,"or":false,"ip":"fdd5:a72f:f358:c0ff:ee99:9300::/88"})"},
    {"e211fc00000000000000000000000000000028", R"({"type":"MATCH_IPV6_DEST","not":true,"or":true,"ip":"fc00::/40"})"},
    {"2303fc0810", R"({"type":"MATCH_IP_TOS","not":false,"or":false,"mask":252,"start":8,"end":16})"},
    {"240111", R"({"type":"MATCH_IP_PROTOCOL","not":false,"or":false,"ipProtocol":17})"},
    {"250286dd", R"({"type":"MATCH_ETHERTYPE","not":false,"or":false,"etherType":34525})"},
    {"2603870001", R"({"type":"MATCH_ICMP","not":false,"or":false,"icmpType":135,"icmpCode":0})"},
    {"2603080000", R"({"type":"MATCH_ICMP","not":false,"or":false,"icmpType":8,"icmpCode":null})"},
    {"27040400ffff", R"({"type":"MATCH_IP_SOURCE_PORT_RANGE","not":false,"or":false,"start":1024,"end":65535})"},
    {"280400160016", R"({"type":"MATCH_IP_DEST_PORT_RANGE","not":false,"or":false,"start":22,"end":22})"},
    {"29088000000000000002", R"({"type":"MATCH_CHARACTERISTICS","not":false,"or":false,"mask":"8000000000000002"})"},
    {"2a04004005dc", R"({"type":"MATCH_FRAME_SIZE_RANGE","not":false,"or":false,"start":64,"end":1500})"},
    {"2b047fffffff", R"({"type":"MATCH_RANDOM","not":false,"or":false,"probability":2147483647})"},
    {"2c08000003e800000007", R"({"type":"MATCH_TAGS_DIFFERENCE","not":false,"or":false,"id":1000,"value":7})"},
    {"2d08000003e800000007", R"({"type":"MATCH_TAGS_BITWISE_AND","not":false,"or":false,"id":1000,"value":7})"},
    {"ee08000003e800000007", R"({"type":"MATCH_TAGS_BITWISE_OR","not":true,"or":true,"id":1000,"value":7})"},
    {"2f08000003e800000007", R"({"type":"MATCH_TAGS_BITWISE_XOR","not":false,"or":false,"id":1000,"value":7})"},
    {"3008000003e800000007", R"({"type":"MATCH_TAGS_EQUAL","not":false,"or":false,"id":1000,"value":7})"},
    {"3108000003e800000007", R"({"type":"MATCH_TAG_SENDER","not":false,"or":false,"id":1000,"value":7})"},
    {"3208000003e800000007", R"({"type":"MATCH_TAG_RECEIVER","not":false,"or":false,"id":1000,"value":7})"},
    // The reference renders INTEGER_RANGE start/end as 16 hex digits (not numbers).
    {"3313000000000000000a0000000000000014000e8f",
     R"({"type":"INTEGER_RANGE","not":false,"or":false,"start":"000000000000000a","end":"0000000000000014",
         "idx":14,"little":true,"bits":16})"},
    {"3313000000000000000000000000ffffffff000007",
     R"({"type":"INTEGER_RANGE","not":false,"or":false,"start":"0000000000000000","end":"00000000ffffffff",
         "idx":0,"little":false,"bits":8})"},
    // Unassigned types: not in the reference's JSON (it renders {}); ours names them.
    {"1400", R"({"type":"UNKNOWN_20","not":false,"or":false,"typeCode":20})"},
    {"bf00", R"({"type":"UNKNOWN_63","not":true,"or":false,"typeCode":63})"},
    {"0900", R"({"type":"UNKNOWN_9","typeCode":9})"},
};

}  // namespace

TEST(RuleTable, CoversEveryKnownTypeOnce) {
  std::set<uint8_t> types;
  std::set<std::string> names;
  for (const RuleTypeInfo& t : rule_types()) {
    EXPECT_TRUE(types.insert(t.type).second) << t.name;
    EXPECT_TRUE(names.insert(t.name).second) << t.name;
    EXPECT_EQ(rule_type_info(t.type), &t);
    EXPECT_EQ(rule_type_by_name(t.name), &t);
    EXPECT_EQ(rule_type_name(t.type), t.name);
    size_t n = 0;
    std::set<std::string> keys;
    for (const RuleField& f : t.fields) {
      n += rule_wire_size(f.wire);
      EXPECT_EQ(f.key == nullptr, f.json == RuleJson::None) << t.name;
      if (f.key) {
        EXPECT_TRUE(keys.insert(f.key).second) << t.name << "." << f.key;
      }
      EXPECT_FALSE(keys.count("type") || keys.count("not") || keys.count("or")) << t.name;
    }
    EXPECT_EQ(n, t.wire_length) << t.name;
    // Reference-parseable = everything but PRIORITY and INTEGER_RANGE (§10.3).
    EXPECT_EQ(t.reference_json, t.type != 6 && t.type != 51) << t.name;
  }
  EXPECT_EQ(types.size(), 7u + 28u);
  for (unsigned t = 0; t < 64; ++t) EXPECT_EQ(rule_type_info(uint8_t(t)) != nullptr, t <= 6 || (t >= 24 && t <= 51)) << t;
  EXPECT_EQ(rule_type_by_name("MATCH_INTEGER_RANGE"), nullptr);  // the reference name lacks MATCH_
  EXPECT_EQ(rule_type_by_name("match_ethertype"), nullptr);
}

TEST(RuleJson, EveryTypeWireToJsonToWire) {
  std::set<uint8_t> seen;
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.wire);
    const Rule r = from_wire(c.wire);
    seen.insert(r.type);
    EXPECT_EQ(to_wire(r), c.wire);  // the cases are canonical
    const json want = json::parse(c.json);
    const json got = rule_to_json(r);
    EXPECT_EQ(got, want) << got.dump();
    auto back = rule_from_json(got, RuleJsonTypes::All);
    ASSERT_TRUE(back) << back.error();
    EXPECT_EQ(to_wire(*back), c.wire);
    if (rule_type_info(r.type)) {
      EXPECT_EQ(*back, r);
    }
    // The controller (Reference) accepts exactly the reference-parseable types.
    const RuleTypeInfo* info = rule_type_info(r.type);
    auto ref = rule_from_json(got, RuleJsonTypes::Reference);
    EXPECT_EQ(ref.ok(), info && info->reference_json) << (ref ? "" : ref.error());
  }
  for (const RuleTypeInfo& t : rule_types()) EXPECT_TRUE(seen.count(t.type)) << t.name;
  // A whole list.
  std::vector<Rule> all;
  for (const Case& c : kCases) all.push_back(from_wire(c.wire));
  auto back = rules_from_json(rules_to_json(all), kMaxNetworkRules, RuleJsonTypes::All);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(serialize_rules(*back), serialize_rules(all));
}

TEST(RuleJson, IntegerRangeKeepsTheReadersSpan) {
  // On the wire end is absolute; the reader keeps end − start truncated to 32 bits (§8.1), so
  // the rendering shows start + span, and JSON input is truncated the same way.
  Rule r = from_wire("3313" "0000000000000010" "0000000100000015" "0000" "07");
  EXPECT_EQ(rule_to_json(r)["end"], "0000000000000015");
  auto p = parse(R"({"type":"INTEGER_RANGE","start":16,"end":"0x100000015","bits":8})", RuleJsonTypes::All);
  ASSERT_TRUE(p) << p.error();
  EXPECT_EQ(p->int_end, 0x15u);
  EXPECT_EQ(p->int_span(), 5u);
  auto dflt = parse(R"({"type":"INTEGER_RANGE","start":"ff"})", RuleJsonTypes::All);
  ASSERT_TRUE(dflt);
  EXPECT_EQ(dflt->int_end, 0xffu);  // end defaults to start
  EXPECT_EQ(dflt->int_bits(), 1u);
  EXPECT_FALSE(parse(R"({"type":"INTEGER_RANGE","bits":0})", RuleJsonTypes::All));
  EXPECT_FALSE(parse(R"({"type":"INTEGER_RANGE","bits":65})", RuleJsonTypes::All));
  // "little" is a boolean read the reference's way (a number > 0 is true, a string t/T/1).
  auto little = parse(R"({"type":"INTEGER_RANGE","little":1})", RuleJsonTypes::All);
  ASSERT_TRUE(little) << little.error();
  EXPECT_EQ(rule_to_json(*little)["little"], true);
  auto big = parse(R"({"type":"INTEGER_RANGE","little":"false"})", RuleJsonTypes::All);
  ASSERT_TRUE(big) << big.error();
  EXPECT_EQ(rule_to_json(*big)["little"], false);
  auto ref = parse(R"({"type":"INTEGER_RANGE"})");
  ASSERT_FALSE(ref);
  EXPECT_EQ(ref.error(), "rule.type: unsupported rule type 'INTEGER_RANGE'");
}

TEST(RuleJson, ReferenceLeniencies) {
  // icmpCode absent or null: any code.
  auto icmp = parse(R"({"type":"MATCH_ICMP","icmpType":8})");
  ASSERT_TRUE(icmp);
  EXPECT_EQ(icmp->icmp_flags, 0);
  // Range ends default to the start; integers as decimal strings.
  auto port = parse(R"({"type":"MATCH_IP_DEST_PORT_RANGE","start":"443"})");
  ASSERT_TRUE(port) << port.error();
  EXPECT_EQ(port->range_low, 443);
  EXPECT_EQ(port->range_high, 443);
  auto tos = parse(R"({"type":"MATCH_IP_TOS","mask":255,"start":4})");
  ASSERT_TRUE(tos);
  EXPECT_EQ(tos->tos_high, 4);
  // MAC: non-hex characters ignored; IP: bits capped, bare address = host.
  auto mac = parse(R"({"type":"MATCH_MAC_SOURCE","mac":"EE-70-2C-66-79-CB"})");
  ASSERT_TRUE(mac);
  EXPECT_EQ(mac->mac.to_string(), "ee:70:2c:66:79:cb");
  auto ip = parse(R"({"type":"MATCH_IPV6_DEST","ip":"fd00::1/200"})");
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->ip_prefix, 128);
  auto host = parse(R"({"type":"MATCH_IPV4_DEST","ip":"10.0.0.1"})");
  ASSERT_TRUE(host);
  EXPECT_EQ(host->ip_prefix, 32);
  // Hex fields: with or without 0x, or a number; addresses masked to 40 bits.
  auto tee = parse(R"({"type":"ACTION_TEE","address":"0x11223344556677"})");
  ASSERT_TRUE(tee);
  EXPECT_EQ(tee->zt, 0x3344556677u);
  auto chr = parse(R"({"type":"MATCH_CHARACTERISTICS","mask":4096})");
  ASSERT_TRUE(chr);
  EXPECT_EQ(rule_to_json(*chr)["mask"], "0000000000001000");
  // Absent integer fields are 0; unknown keys are ignored; not/or on actions are kept.
  auto eth = parse(R"({"type":"MATCH_ETHERTYPE","comment":"x"})");
  ASSERT_TRUE(eth);
  EXPECT_EQ(eth->ethertype, 0);
  auto drop = parse(R"({"type":"ACTION_DROP","not":true,"or":null})");
  ASSERT_TRUE(drop);
  EXPECT_TRUE(drop->negate);
  EXPECT_FALSE(drop->or_);
}

TEST(RuleJson, ErrorsNameTheField) {
  auto e = [](const char* text) {
    auto r = parse(text);
    return r ? std::string("(parsed)") : r.error();
  };
  EXPECT_EQ(e(R"([1])"), "rule: expected an object");
  EXPECT_EQ(e(R"({})"), "rule.type: expected a string");
  EXPECT_EQ(e(R"({"type":7})"), "rule.type: expected a string");
  EXPECT_EQ(e(R"({"type":"NOPE"})"), "rule.type: unsupported rule type 'NOPE'");
  EXPECT_EQ(e(R"({"type":"ACTION_PRIORITY"})"), "rule.type: unsupported rule type 'ACTION_PRIORITY'");
  EXPECT_EQ(e(R"({"type":"UNKNOWN_20"})"), "rule.type: unsupported rule type 'UNKNOWN_20'");
  EXPECT_EQ(e(R"({"type":"MATCH_ETHERTYPE","etherType":65536})"), "rule.etherType: must be at most 65535");
  EXPECT_EQ(e(R"({"type":"MATCH_VLAN_ID","vlanId":-1})"), "rule.vlanId: must not be negative");
  EXPECT_EQ(e(R"({"type":"MATCH_RANDOM","probability":0.5})"), "rule.probability: expected an integer");
  EXPECT_EQ(e(R"({"type":"MATCH_TAG_SENDER","id":"1e3"})"), "rule.id: expected an integer");
  EXPECT_EQ(e(R"({"type":"MATCH_ICMP","icmpCode":256})"), "rule.icmpCode: must be at most 255");
  EXPECT_EQ(e(R"({"type":"MATCH_SOURCE_ZEROTIER_ADDRESS","zt":"xyz"})"), "rule.zt: expected a hex string");
  EXPECT_EQ(e(R"({"type":"MATCH_MAC_DEST"})"), "rule.mac: expected a string");
  EXPECT_EQ(e(R"({"type":"MATCH_MAC_DEST","mac":"aa:bb"})"), "rule.mac: expected a MAC address (12 hex digits)");
  EXPECT_EQ(e(R"({"type":"MATCH_IPV4_SOURCE","ip":"fd00::1/8"})"), "rule.ip: expected an IPv4 address/bits");
  EXPECT_EQ(e(R"({"type":"MATCH_IPV6_SOURCE","ip":"10.0.0.0/8"})"), "rule.ip: expected an IPv6 address/bits");
  EXPECT_EQ(e(R"({"type":"MATCH_IPV4_SOURCE","ip":"10.0.0.0/x"})"), "rule.ip: expected an IPv4 address/bits");
  // The All dialect: only unassigned numbers, written canonically.
  for (const char* bad : {"UNKNOWN_24", "UNKNOWN_020", "UNKNOWN_64", "UNKNOWN_", "UNKNOWN_-1"})
    EXPECT_FALSE(rule_from_json(json{{"type", bad}}, RuleJsonTypes::All)) << bad;
  // Arrays: the index of the bad entry, and the limit.
  auto arr = rules_from_json(json::parse(R"([{"type":"ACTION_ACCEPT"},{"type":"X"}])"));
  ASSERT_FALSE(arr);
  EXPECT_EQ(arr.error(), "[1]: rule.type: unsupported rule type 'X'");
  EXPECT_FALSE(rules_from_json(json::object()));
  EXPECT_FALSE(rules_from_json(json::array({json{{"type", "ACTION_DROP"}}, json{{"type", "ACTION_DROP"}}}), 1));
}

TEST(RuleJson, ReferenceVectors) {
  // The reference controller's stored network (default rules) and the config it issued for
  // that network: the JSON rules encode to exactly the config's `R` bytes, and our rendering
  // of them parses back to the same rules.
  const json net = json::parse(read_vector("controller_network.json"));
  auto rules = rules_from_json(net["rules"]);
  ASSERT_TRUE(rules) << rules.error();
  const std::string dict_text = read_vector("nodea.networkconfig.dict");
  auto dict = Dictionary::parse(as_bytes(dict_text));
  ASSERT_TRUE(dict);
  ASSERT_TRUE(dict->get("R"));
  EXPECT_EQ(serialize_rules(*rules), *dict->get("R"));
  auto wire = parse_rules(*dict->get("R"));
  ASSERT_TRUE(wire);
  EXPECT_EQ(*wire, *rules);
  // Rendered as the reference renders an action (no not/or), which parses back the same.
  EXPECT_EQ(rules_to_json(*wire), json::parse(R"([{"type":"ACTION_ACCEPT"}])"));
  EXPECT_EQ(*rules_from_json(rules_to_json(*wire)), *rules);
}
