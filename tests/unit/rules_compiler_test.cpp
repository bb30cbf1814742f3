// The rules language compiler (PROTOCOL.md §8.5, docs/RULES.md): every keyword against its
// hand-written JSON, every rule read back by the controller's JSON reader, the error messages
// and positions, and the docs' examples against tests/vectors/rules/.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "proto/rules_compiler.hpp"
#include "proto/rules_json.hpp"

using namespace zt::proto;
using json = nlohmann::json;

namespace {

json compile_ok(const std::string& src) {
  json out;
  RulesCompileError e;
  bool ok = compile_rules(src, out, e);
  EXPECT_TRUE(ok) << src << "\n→ " << e.to_string();
  if (!ok) return json();
  // Every rule the compiler emits is one the controller reads.
  auto rules = rules_from_json(out["config"]["rules"]);
  EXPECT_TRUE(rules) << out["config"]["rules"].dump() << ": " << (rules ? "" : rules.error());
  for (const auto& c : out["config"]["capabilities"]) {
    auto cr = rules_from_json(c["rules"]);
    EXPECT_TRUE(cr) << c.dump();
  }
  return out;
}

json rules_of(const std::string& src) { return compile_ok(src)["config"]["rules"]; }

std::string compile_err(const std::string& src) {
  json out = "untouched";
  RulesCompileError e;
  EXPECT_FALSE(compile_rules(src, out, e)) << src << "\n→ " << out.dump();
  EXPECT_EQ(out, json("untouched"));
  return e.to_string();
}

json m(const char* type, json fields, bool n = false, bool o = false) {
  fields["type"] = type;
  fields["not"] = n;
  fields["or"] = o;
  return fields;
}
json act(const char* type) { return json{{"type", type}}; }

struct Case {
  const char* src;
  json expect;  // the base rules
};

TEST(RulesCompiler, EveryMatchKeyword) {
  const json acc = act("ACTION_ACCEPT");
  const Case cases[] = {
      {"accept ztsrc 89e92ceee5;", json::array({m("MATCH_SOURCE_ZEROTIER_ADDRESS", {{"zt", "89e92ceee5"}}), acc})},
      {"accept ztdest 89E92CEEE5;", json::array({m("MATCH_DEST_ZEROTIER_ADDRESS", {{"zt", "89e92ceee5"}}), acc})},
      {"accept vlan 4094;", json::array({m("MATCH_VLAN_ID", {{"vlanId", 4094}}), acc})},
      {"accept vlanpcp 7;", json::array({m("MATCH_VLAN_PCP", {{"vlanPcp", 7}}), acc})},
      {"accept vlandei 1;", json::array({m("MATCH_VLAN_DEI", {{"vlanDei", 1}}), acc})},
      {"accept ethertype 0x86dd;", json::array({m("MATCH_ETHERTYPE", {{"etherType", 0x86dd}}), acc})},
      {"accept ethertype 2048;", json::array({m("MATCH_ETHERTYPE", {{"etherType", 0x800}}), acc})},
      {"accept macsrc 01:02:03:0A:0b:0c;", json::array({m("MATCH_MAC_SOURCE", {{"mac", "01:02:03:0a:0b:0c"}}), acc})},
      {"accept macdest 010203040506;", json::array({m("MATCH_MAC_DEST", {{"mac", "01:02:03:04:05:06"}}), acc})},
      {"accept ipsrc 10.1.0.0/16;", json::array({m("MATCH_IPV4_SOURCE", {{"ip", "10.1.0.0/16"}}), acc})},
      {"accept ipdest 10.1.2.3/32;", json::array({m("MATCH_IPV4_DEST", {{"ip", "10.1.2.3/32"}}), acc})},
      {"accept ipsrc fd00::/8;", json::array({m("MATCH_IPV6_SOURCE", {{"ip", "fd00::/8"}}), acc})},
      {"accept ipdest fd00::1/128;", json::array({m("MATCH_IPV6_DEST", {{"ip", "fd00::1/128"}}), acc})},
      {"accept iptos 0xfc 0x10-0x20;", json::array({m("MATCH_IP_TOS", {{"mask", 0xfc}, {"start", 16}, {"end", 32}}), acc})},
      {"accept iptos 255 8;", json::array({m("MATCH_IP_TOS", {{"mask", 255}, {"start", 8}, {"end", 8}}), acc})},
      {"accept ipprotocol 17;", json::array({m("MATCH_IP_PROTOCOL", {{"ipProtocol", 17}}), acc})},
      {"accept icmp 8 -1;", json::array({m("MATCH_ICMP", {{"icmpType", 8}, {"icmpCode", nullptr}}), acc})},
      {"accept icmp 3 4;", json::array({m("MATCH_ICMP", {{"icmpType", 3}, {"icmpCode", 4}}), acc})},
      {"accept sport 1024-65535;", json::array({m("MATCH_IP_SOURCE_PORT_RANGE", {{"start", 1024}, {"end", 65535}}), acc})},
      {"accept dport 22;", json::array({m("MATCH_IP_DEST_PORT_RANGE", {{"start", 22}, {"end", 22}}), acc})},
      {"accept framesize 64-1500;", json::array({m("MATCH_FRAME_SIZE_RANGE", {{"start", 64}, {"end", 1500}}), acc})},
      {"accept chr 0,63;", json::array({m("MATCH_CHARACTERISTICS", {{"mask", "8000000000000001"}}), acc})},
      {"accept random 0.5;", json::array({m("MATCH_RANDOM", {{"probability", 2147483647}}), acc})},
      {"accept random 1;", json::array({m("MATCH_RANDOM", {{"probability", 4294967295U}}), acc})},
      {"accept random 7;", json::array({m("MATCH_RANDOM", {{"probability", 4294967295U}}), acc})},
      {"accept random 0;", json::array({m("MATCH_RANDOM", {{"probability", 0}}), acc})},
      {"accept tand 5 1;", json::array({m("MATCH_TAGS_BITWISE_AND", {{"id", 5}, {"value", 1}}), acc})},
      {"accept tor 5 2;", json::array({m("MATCH_TAGS_BITWISE_OR", {{"id", 5}, {"value", 2}}), acc})},
      {"accept txor 5 3;", json::array({m("MATCH_TAGS_BITWISE_XOR", {{"id", 5}, {"value", 3}}), acc})},
      {"accept tdiff 5 4;", json::array({m("MATCH_TAGS_DIFFERENCE", {{"id", 5}, {"value", 4}}), acc})},
      {"accept teq 5 0xffffffff;", json::array({m("MATCH_TAGS_EQUAL", {{"id", 5}, {"value", 4294967295U}}), acc})},
      {"accept tseq 4294967295 6;", json::array({m("MATCH_TAG_SENDER", {{"id", 4294967295U}, {"value", 6}}), acc})},
      {"accept treq 5 7;", json::array({m("MATCH_TAG_RECEIVER", {{"id", 5}, {"value", 7}}), acc})},
  };
  for (const auto& c : cases) EXPECT_EQ(rules_of(c.src), c.expect) << c.src;
}

TEST(RulesCompiler, Names) {
  const std::pair<const char*, int> eth[] = {{"ipv4", 0x0800}, {"arp", 0x0806},   {"wol", 0x0842},
                                             {"rarp", 0x8035}, {"ipv6", 0x86dd},  {"atalk", 0x809b},
                                             {"aarp", 0x80f3}, {"ipx_a", 0x8137}, {"ipx_b", 0x8138}};
  for (auto [n, v] : eth)
    EXPECT_EQ(rules_of(std::string("drop ethertype ") + n + ";")[0]["etherType"], v) << n;
  const std::pair<const char*, int> proto[] = {
      {"icmp", 1},  {"icmp4", 1}, {"icmpv4", 1},   {"igmp", 2},  {"ipip", 4},  {"tcp", 6},
      {"egp", 8},   {"igp", 9},   {"udp", 17},     {"rdp", 27},  {"esp", 50},  {"ah", 51},
      {"icmp6", 58}, {"icmpv6", 58}, {"l2tp", 115}, {"sctp", 132}, {"udplite", 136}};
  for (auto [n, v] : proto)
    EXPECT_EQ(rules_of(std::string("drop ipprotocol ") + n + ";")[0]["ipProtocol"], v) << n;
  const std::pair<const char*, const char*> chr[] = {
      {"inbound", "8000000000000000"},  {"multicast", "4000000000000000"}, {"broadcast", "2000000000000000"},
      {"ipauth", "1000000000000000"},   {"macauth", "0800000000000000"},   {"tcp_fin", "0000000000000001"},
      {"tcp_syn", "0000000000000002"},  {"tcp_rst", "0000000000000004"},   {"tcp_psh", "0000000000000008"},
      {"tcp_ack", "0000000000000010"},  {"tcp_urg", "0000000000000020"},   {"tcp_ece", "0000000000000040"},
      {"tcp_cwr", "0000000000000080"},  {"tcp_ns", "0000000000000100"},    {"tcp_rs2", "0000000000000200"},
      {"tcp_rs1", "0000000000000400"},  {"tcp_rs0", "0000000000000800"}};
  for (auto [n, v] : chr) EXPECT_EQ(rules_of(std::string("drop chr ") + n + ";")[0]["mask"], v) << n;
  EXPECT_EQ(rules_of("drop chr tcp_syn,,tcp_ack,32;")[0]["mask"], "0000000100000012");
  // Names are case-sensitive (as the reference: only keywords are case-insensitive).
  EXPECT_EQ(compile_err("drop ethertype IPV4;"), "1:16: Invalid numeric value.");
  EXPECT_EQ(compile_err("drop chr TCP_SYN;"), "1:10: Invalid bit index (range 0-63) or unrecognized name.");
}

TEST(RulesCompiler, ActionsAndModifiers) {
  EXPECT_EQ(rules_of("drop; accept; break;"),
            json::array({act("ACTION_DROP"), act("ACTION_ACCEPT"), act("ACTION_BREAK")}));
  EXPECT_EQ(rules_of("DROP;"), json::array({act("ACTION_DROP")}));
  EXPECT_EQ(rules_of("tee 128 0123456789 ethertype arp;"),
            json::array({m("MATCH_ETHERTYPE", {{"etherType", 0x806}}),
                         json{{"type", "ACTION_TEE"}, {"address", "0123456789"}, {"length", 128}}}));
  EXPECT_EQ(rules_of("watch 0 abcdef0123;"),
            json::array({json{{"type", "ACTION_WATCH"}, {"address", "abcdef0123"}, {"length", 0}}}));
  // -1 ("whole frame") is kept as the 16-bit field the controller stores.
  EXPECT_EQ(rules_of("tee -1 abcdef0123;")[0]["length"], 65535);
  EXPECT_EQ(rules_of("redirect ABCDEF0123 not dport 80;"),
            json::array({m("MATCH_IP_DEST_PORT_RANGE", {{"start", 80}, {"end", 80}}, true),
                         json{{"type", "ACTION_REDIRECT"}, {"address", "abcdef0123"}}}));
  // not/or apply to the next match only; and is the default combiner.
  EXPECT_EQ(rules_of("drop not or vlan 1 and vlan 2 or not vlan 3;"),
            json::array({m("MATCH_VLAN_ID", {{"vlanId", 1}}, true, true), m("MATCH_VLAN_ID", {{"vlanId", 2}}),
                         m("MATCH_VLAN_ID", {{"vlanId", 3}}, true, true), act("ACTION_DROP")}));
  // Statements span lines; comments start at a token beginning with '#'.
  EXPECT_EQ(rules_of("# c\ndrop # ipv4?\n  not ethertype ipv4 #x\n;\naccept; # end"),
            json::array({m("MATCH_ETHERTYPE", {{"etherType", 0x800}}, true), act("ACTION_DROP"),
                         act("ACTION_ACCEPT")}));
  EXPECT_EQ(rules_of(""), json::array());
  EXPECT_EQ(rules_of("accept ethertype arp"), rules_of("accept ethertype arp;"));  // end of text closes
}

TEST(RulesCompiler, MacrosTagsCaps) {
  json out = compile_ok(
      "macro allow($net,$port)\n  accept ipsrc $net dport $port;\n;\n"
      "include allow(10.0.0.0/8,22)\n"
      "tag role id 7 flag 0 admin flag 1 ops flag admin,ops,4 staff enum 1 web enum 2 db default staff;\n"
      "tag plain id 8;\n"
      "tag zero id 9 default 0;\n"
      "cap sshcap id 1000 default accept dport 22; ;\n"
      "cap other id 0x10 include allow(fd00::/8,80) ;\n"
      "accept teq role db or tand role admin or tseq role 3;\n");
  EXPECT_EQ(out["config"]["rules"],
            json::array({m("MATCH_IPV4_SOURCE", {{"ip", "10.0.0.0/8"}}),
                         m("MATCH_IP_DEST_PORT_RANGE", {{"start", 22}, {"end", 22}}), act("ACTION_ACCEPT"),
                         m("MATCH_TAGS_EQUAL", {{"id", 7}, {"value", 2}}),
                         m("MATCH_TAGS_BITWISE_AND", {{"id", 7}, {"value", 1}}, false, true),
                         m("MATCH_TAG_SENDER", {{"id", 7}, {"value", 3}}, false, true), act("ACTION_ACCEPT")}));
  EXPECT_EQ(out["config"]["capabilities"],
            json::parse(R"([{"id":1000,"default":true,"rules":[
              {"type":"MATCH_IP_DEST_PORT_RANGE","not":false,"or":false,"start":22,"end":22},{"type":"ACTION_ACCEPT"}]},
              {"id":16,"default":false,"rules":[
              {"type":"MATCH_IPV6_SOURCE","not":false,"or":false,"ip":"fd00::/8"},
              {"type":"MATCH_IP_DEST_PORT_RANGE","not":false,"or":false,"start":80,"end":80},{"type":"ACTION_ACCEPT"}]}])"));
  EXPECT_EQ(out["capabilitiesByName"], json::parse(R"({"sshcap":1000,"other":16})"));
  // config.tags: the reference CLI's `default || null` (0 → null).
  EXPECT_EQ(out["config"]["tags"], json::parse(R"([{"id":7,"default":19},{"id":8,"default":null},{"id":9,"default":null}])"));
  EXPECT_EQ(out["tagsByName"], json::parse(R"({
    "role":{"id":7,"default":19,"enums":{"web":1,"db":2},"flags":{"admin":1,"ops":2,"staff":19}},
    "plain":{"id":8,"default":null,"enums":{},"flags":{}},
    "zero":{"id":9,"default":0,"enums":{},"flags":{}}})"));
  // Definitions may follow their use; names are lowercased where defined.
  EXPECT_EQ(rules_of("accept teq t x;\ntag T id 3 enum 5 X;")[0]["value"], 5);
  // A flag name wins over an enum name in matches; an enum name wins in `default`.
  json both = compile_ok("tag t id 1 flag 0 a enum 9 a default a; accept teq t a;");
  EXPECT_EQ(both["config"]["rules"][0]["value"], 1);
  EXPECT_EQ(both["tagsByName"]["t"]["default"], 9);
  // Nested macros; parameters only substitute match arguments.
  EXPECT_EQ(rules_of("macro a($x) drop vlan $x; ; macro b include a(5) ; include b"),
            json::array({m("MATCH_VLAN_ID", {{"vlanId", 5}}), act("ACTION_DROP")}));
}

TEST(RulesCompiler, Errors) {
  const std::pair<const char*, const char*> cases[] = {
      {"frobnicate;", "1:1: Unrecognized action or directive in rule set."},
      {"drop\n  vlan;", "2:3: Missing argument(s) to match."},
      {"drop vlan not;", "1:6: Missing argument(s) to match (invalid argument or argument is reserved word)."},
      {"drop foo 1;", "1:6: Unrecognized match type \"foo\"."},
      {"drop vlan 65536;", "1:11: Invalid numeric value."},
      {"drop vlanpcp 256;", "1:14: Invalid numeric value."},
      {"drop ethertype 12x;", "1:16: Invalid numeric value."},
      {"drop ztsrc 12345;", "1:12: Invalid ZeroTier address."},
      {"drop macsrc 01:02:03;", "1:13: Invalid MAC address."},
      {"drop ipsrc 10.0.0.1;", "1:12: Missing /bits netmask length designation in IP."},
      {"drop ipsrc 10.0.0.300/8;", "1:12: Invalid IP address (not valid IPv4 or IPv6)."},
      {"drop ipsrc 10.0.0.0/33;", "1:12: Invalid /bits netmask length in IP."},
      {"drop icmp 256 0;", "1:11: Missing or invalid ICMP type."},
      {"drop icmp 8 x;", "1:13: Invalid ICMP code (use -1 for none)."},
      {"drop dport 20-10;", "1:12: Invalid numeric range."},
      {"drop dport 1-2-3;", "1:12: Invalid numeric range."},
      {"drop sport 65536;", "1:12: Invalid numeric range."},
      {"drop iptos 256 1;", "1:12: Invalid mask."},
      {"drop iptos 1 300;", "1:14: Invalid value range."},
      {"drop chr 64;", "1:10: Invalid bit index (range 0-63) or unrecognized name."},
      {"drop random x;", "1:13: Invalid probability (a number from 0.0 to 1.0)."},
      {"drop tand nosuch 1;", "1:11: Undefined tag name and invalid tag value."},
      {"tag t id 1; drop tand t nosuch;", "1:25: Invalid tag value or unrecognized flag/enum name."},
      {"tee 1 0123456789x;", "1:7: Missing or invalid ZeroTier address target for tee/watch."},
      {"tee 70000 0123456789;", "1:5: Tee/watch max packet length to forward invalid or out of range."},
      {"watch 5;", "1:1: The tee and watch actions require two parameters (max length or 0 for all, target)."},
      {"redirect;", "1:1: The redirect action requires a target parameter."},
      {"redirect xyz;", "1:10: Missing or invalid ZeroTier address target for redirect."},
      {"include;", "1:1: Include directive is missing a macro name."},
      {"include nosuch;", "1:9: Macro name not found."},
      {"macro m($a) drop vlan $a; ; include m", "1:37: Missing one or more required macro parameter."},
      {"macro m drop vlan $a; ; include m", "1:19: Undefined variable name."},
      {"macro m include m ; include m", "1:17: Macros included too deeply (a macro includes itself?)."},
      {"macro", "1:1: Macro definition is missing name."},
      {"macro 9x drop;;", "1:7: Invalid macro name."},
      {"macro drop(x) accept;;", "1:7: Macro name is a reserved word."},
      {"macro m accept;; macro M drop;;", "1:24: Multiple definition of macro name."},
      {"tag;", "1:1: Tag definition is missing name."},
      {"tag x-y id 1;", "1:5: Invalid tag name."},
      {"tag vlan id 1;", "1:5: Tag name is a reserved word."},
      {"tag t id 1; tag T id 2;", "1:17: Multiple definition of tag name."},
      {"tag t;", "1:5: Tag definition is missing a numeric ID."},
      {"tag t id 1 id 2;", "1:12: Duplicate tag id definition."},
      {"tag t id 4294967296;", "1:10: Invalid or out of range tag ID."},
      {"tag t id 1 default 1 default 2;", "1:22: Duplicate tag default directive."},
      {"tag t id 1 default nosuch;", "1:20: Invalid tag default (not a number or a flag/enum name of this tag)."},
      {"tag t id 1 flag 32 x;", "1:17: Bit index invalid, out of range, or references an undefined flag name."},
      {"tag t id 1 flag 1 a flag 2 a;", "1:28: Duplicate flag name in tag definition."},
      {"tag t id 1 flag 1;", "1:12: Missing tag flag name or bit index."},
      {"tag t id 1 enum x a;", "1:17: Tag enum value invalid or out of range."},
      {"tag t id 1 enum 1 a enum 2 a;", "1:28: Duplicate enum name in tag definition."},
      {"tag t id 1 enum 1 9a;", "1:19: Invalid or reserved tag enum name."},
      {"tag t id 1 colour 3;", "1:12: Unrecognized keyword in tag definition."},
      {"cap;", "1:1: Capability definition is missing name."},
      {"cap accept id 1;", "1:5: Capability name is a reserved word."},
      {"cap c accept;", "1:5: Capability definition is missing a numeric ID."},
      {"cap c id x accept;", "1:7: Invalid or out of range capability ID."},
      {"cap c id 1 id 2 accept;", "1:12: Duplicate id directive in capability definition."},
      {"cap c id 1 accept; cap d id 1 accept;", "1:26: Duplicate capability ID."},
      {"cap c id 1 accept; cap c id 2 accept;", "1:24: Multiple definition of capability name."},
      {"cap c id 1 drop vlan x;;", "1:22: Invalid numeric value."},
      {"accept;\n\n   drop vlan 1\n ipsrc\n", "4:2: Missing argument(s) to match."},
  };
  for (auto [src, msg] : cases) EXPECT_EQ(compile_err(src), msg) << src;
  // Macro expansion is bounded: macros that include each other twice grow exponentially.
  std::string bomb = "macro m0 ;\n";
  for (int i = 1; i < 24; ++i)
    bomb += "macro m" + std::to_string(i) + " include m" + std::to_string(i - 1) + " include m" +
            std::to_string(i - 1) + " ;\n";
  bomb += "include m23";
  std::string e = compile_err(bomb);
  EXPECT_EQ(e.substr(e.find(": ") + 2), "Too many macro inclusions (more than 16384).");
  std::string many = "macro m0\n";
  for (int i = 0; i < 100; ++i) many += "accept vlan 1;\n";
  many += ";\n";
  for (int i = 0; i < 100; ++i) many += "include m0\n";
  e = compile_err(many);
  EXPECT_EQ(e.substr(e.find(": ") + 2), "Too many rules (more than 16384).");
}

std::string read_vector(const std::string& name) {
  std::ifstream in(std::string(ZTCORE_VECTORS_DIR) + "/rules/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The examples of docs/RULES.md, each against its hand-checked compiled JSON.
TEST(RulesCompiler, DocExamples) {
  for (const char* name : {"default", "caps_and_tags", "macros"}) {
    json expect = json::parse(read_vector(std::string(name) + ".json"));
    EXPECT_EQ(compile_ok(read_vector(std::string(name) + ".rules")), expect) << name;
  }
}

}  // namespace
