// §6.2 network config: both cached configs decode to the values the reference node reported
// (listnetworks JSON) and re-encode byte for byte; limits and malformed values.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "base/hex.hpp"
#include "proto/netconf.hpp"

using namespace zt;
using namespace zt::proto;

namespace {

Bytes read_vector(const std::string& name) {
  std::ifstream in(std::string(ZTCORE_VECTORS_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

nlohmann::json load_json(const std::string& name) {
  std::ifstream in(std::string(ZTCORE_VECTORS_DIR) + "/" + name);
  return nlohmann::json::parse(in);
}

Identity load_identity(const std::string& name) {
  Bytes b = read_vector(name);
  std::string s(b.begin(), b.end());
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return *Identity::parse(s);
}

NetworkConfig load_config(const std::string& node) {
  auto c = NetworkConfig::parse(read_vector(node + ".networkconfig.dict"));
  EXPECT_TRUE(c) << c.error();
  return *c;
}

Dictionary base_dict() { return *Dictionary::parse(read_vector("nodea.networkconfig.dict")); }

}  // namespace

TEST(NetworkConfig, MatchesListnetworks) {
  Identity controller = load_identity("controller.identity.public");
  for (std::string node : {"nodea", "nodeb"}) {
    SCOPED_TRACE(node);
    NetworkConfig c = load_config(node);
    auto j = load_json(node + "_listnetworks.json").at(0);
    Identity member = load_identity(node + ".identity.public");

    EXPECT_EQ(network_id_to_string(c.nwid), j.at("nwid").get<std::string>());
    EXPECT_EQ(c.name, j.at("name").get<std::string>());
    EXPECT_EQ(c.mtu, j.at("mtu").get<uint64_t>());
    EXPECT_EQ(c.revision, j.at("netconfRevision").get<uint64_t>());
    EXPECT_EQ(c.is_private() ? "PRIVATE" : "PUBLIC", j.at("type").get<std::string>());
    EXPECT_EQ(c.broadcast_enabled(), j.at("broadcastEnabled").get<bool>());
    EXPECT_EQ(c.mac().to_string(), j.at("mac").get<std::string>());
    EXPECT_EQ(c.issued_to, member.address());
    EXPECT_EQ(c.controller(), controller.address());

    std::vector<std::string> assigned;
    for (const auto& ip : c.static_ips) assigned.push_back(ip.to_string());
    EXPECT_EQ(assigned, j.at("assignedAddresses").get<std::vector<std::string>>());

    ASSERT_EQ(c.routes.size(), j.at("routes").size());
    for (size_t i = 0; i < c.routes.size(); ++i) {
      const auto& jr = j.at("routes").at(i);
      EXPECT_EQ(c.routes[i].target.to_string(), jr.at("target").get<std::string>());
      EXPECT_TRUE(c.routes[i].via.empty());
      EXPECT_TRUE(jr.at("via").is_null());
      EXPECT_EQ(c.routes[i].flags, jr.at("flags").get<uint16_t>());
      EXPECT_EQ(c.routes[i].metric, jr.at("metric").get<uint16_t>());
    }
    EXPECT_EQ(c.dns.domain, j.at("dns").at("domain").get<std::string>());
    EXPECT_TRUE(c.dns.servers.empty());
    EXPECT_TRUE(j.at("dns").at("servers").empty());

    // Values named in §6.2.
    EXPECT_EQ(c.version, 7u);
    EXPECT_EQ(c.flags, 0x06u);
    EXPECT_TRUE(c.ndp_emulation());
    EXPECT_EQ(c.multicast_limit, 32u);
    EXPECT_EQ(c.type, NetworkConfig::kTypePrivate);
    EXPECT_EQ(c.credential_time_max_delta, 1800000u);
    EXPECT_EQ(c.remote_trace_target, 0u);
    EXPECT_EQ(c.remote_trace_level, 0u);
    EXPECT_EQ(c.rules, std::vector<Rule>{Rule::accept()});
    EXPECT_FALSE(c.sso_enabled);
    EXPECT_EQ(c.sso_version, 0u);
    EXPECT_TRUE(c.capabilities.empty());
    EXPECT_TRUE(c.tags.empty());
    EXPECT_TRUE(c.specialists.empty());
    ASSERT_TRUE(c.com);
    EXPECT_EQ(c.com->timestamp(), c.timestamp);
    EXPECT_TRUE(c.com->verify(controller));
    ASSERT_EQ(c.certificates_of_ownership.size(), 1u);
    EXPECT_TRUE(c.certificates_of_ownership[0].verify(controller));
    // The RFC4193 static IP is the §4.5 derivation.
    EXPECT_EQ(c.static_ips[0], rfc4193_address(c.nwid, c.issued_to));
  }
}

TEST(NetworkConfig, ReencodesByteForByte) {
  for (std::string node : {"nodea", "nodeb"}) {
    Bytes file = read_vector(node + ".networkconfig.dict");
    NetworkConfig c = load_config(node);
    auto d = c.to_dictionary();
    ASSERT_TRUE(d) << d.error();
    EXPECT_EQ(d->serialize(), file) << node;
    // And decoding the re-encoding gives the same config.
    auto again = NetworkConfig::from_dictionary(*d);
    ASSERT_TRUE(again);
    EXPECT_EQ(*again, c);
  }
}

TEST(NetworkConfig, WriterOrderWithAllOptionalKeys) {
  NetworkConfig c = load_config("nodea");
  Tag t;
  t.nwid = c.nwid;
  t.id = 3;
  c.tags.push_back(t);
  Capability cap;
  cap.nwid = c.nwid;
  ASSERT_TRUE(cap.set_rules({Rule::accept()}));
  c.capabilities.push_back(cap);
  c.specialists.push_back(NetworkConfig::kSpecialistActiveBridge | 0xeb8cb7d1c8ULL);
  c.dns.domain = "zt.example";
  c.dns.servers.push_back(*InetAddress::parse("10.147.17.1/53"));
  c.sso_enabled = true;
  c.sso_version = 1;
  c.authentication_url = "https://a.example/";
  c.authentication_expiry_time = 1234;
  c.issuer_url = "https://i.example/";
  c.sso_client_id = "cid";
  auto d = c.to_dictionary();
  ASSERT_TRUE(d);
  std::vector<std::string> keys;
  for (const auto& e : d->entries()) keys.push_back(e.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"v", "nwid", "ts", "ctmd", "r", "id", "tt", "tl", "f", "ml", "t", "n",
                                            "mtu", "C", "CAP", "TAG", "COO", "S", "RT", "I", "R", "DNS", "ssov",
                                            "ssoe", "aurl", "aexpt", "iurl", "ssocid"}));
  auto back = NetworkConfig::from_dictionary(*d);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(*back, c);
  EXPECT_TRUE(back->is_active_bridge(0xeb8cb7d1c8ULL));
  EXPECT_FALSE(back->is_active_bridge(0x8fec3e8ae4ULL));
  EXPECT_EQ(back->specialists_with(NetworkConfig::kSpecialistActiveBridge),
            std::vector<Address>{0xeb8cb7d1c8ULL});
  EXPECT_TRUE(back->tag(3));
  EXPECT_FALSE(back->tag(4));
  EXPECT_EQ(back->dns.domain, "zt.example");
  // Empty lists are omitted, DNS is always present.
  NetworkConfig m;
  m.nwid = 1;
  m.issued_to = 2;
  auto md = m.to_dictionary();
  std::vector<std::string> mkeys;
  for (const auto& e : md->entries()) mkeys.push_back(e.key);
  EXPECT_EQ(mkeys, (std::vector<std::string>{"v", "nwid", "ts", "ctmd", "r", "id", "tt", "tl", "f", "ml", "t", "n",
                                             "mtu", "DNS", "ssov", "ssoe"}));
  EXPECT_EQ(md->get("DNS")->size(), 132u);
}

TEST(NetworkConfig, TagsAndCapabilitiesAreSortedOnRead) {
  NetworkConfig c = load_config("nodea");
  for (uint32_t id : {9u, 2u, 5u}) {
    Tag t;
    t.id = id;
    c.tags.push_back(t);
    Capability cap;
    cap.id = id;
    c.capabilities.push_back(cap);
  }
  auto back = NetworkConfig::from_dictionary(*c.to_dictionary());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->tags[0].id, 2u);
  EXPECT_EQ(back->tags[2].id, 9u);
  EXPECT_EQ(back->capabilities[0].id, 2u);
  EXPECT_EQ(back->capabilities[1].id, 5u);
}

TEST(NetworkConfig, RequiredKeysAndDefaults) {
  Dictionary d = base_dict();
  d.erase("nwid");
  EXPECT_FALSE(NetworkConfig::from_dictionary(d));
  d = base_dict();
  d.set_u64("id", 0);
  EXPECT_FALSE(NetworkConfig::from_dictionary(d));
  d = base_dict();
  d.set_u64("v", 5);
  EXPECT_FALSE(NetworkConfig::from_dictionary(d));
  d = base_dict();
  d.erase("mtu");
  d.erase("t");
  EXPECT_EQ(NetworkConfig::from_dictionary(d)->mtu, 2800u);
  EXPECT_TRUE(NetworkConfig::from_dictionary(d)->is_private());
  d.set_u64("mtu", 100);
  EXPECT_EQ(NetworkConfig::from_dictionary(d)->mtu, 1280u);
  d.set_u64("mtu", 100000);
  EXPECT_EQ(NetworkConfig::from_dictionary(d)->mtu, 10000u);
  d.set_u64("t", 1);
  EXPECT_FALSE(NetworkConfig::from_dictionary(d)->is_private());
  d.set_string("n", std::string(200, 'x'));
  EXPECT_EQ(NetworkConfig::from_dictionary(d)->name.size(), 127u);
}

TEST(NetworkConfig, MalformedBinaryValues) {
  const char* keys[] = {"C", "COO", "RT", "I", "R", "DNS"};
  for (const char* key : keys) {
    SCOPED_TRACE(key);
    Bytes v = *base_dict().get(key);
    // Every strict prefix of each value is rejected (DNS, RT, I, R, C, COO are all exact).
    for (size_t n = 1; n < v.size(); ++n) {
      Dictionary d = base_dict();
      d.set(key, ByteSpan(v).first(n));
      auto c = NetworkConfig::from_dictionary(d);
      if (std::string(key) == "I" && n == 19) continue;  // one whole address is valid
      EXPECT_FALSE(c) << n;
    }
  }
  Dictionary d = base_dict();
  d.set("S", Bytes(7));
  EXPECT_FALSE(NetworkConfig::from_dictionary(d));
  d.set("S", Bytes(8 * 257));
  EXPECT_FALSE(NetworkConfig::from_dictionary(d));
  d.set("S", Bytes(8 * 256));
  EXPECT_TRUE(NetworkConfig::from_dictionary(d));
}

TEST(NetworkConfig, Limits) {
  Dictionary d = base_dict();
  // 33 static IPs.
  Writer w;
  for (int i = 0; i < 33; ++i) InetAddress::parse("10.0.0." + std::to_string(i) + "/24")->write(w);
  d.set("I", w.span());
  EXPECT_FALSE(NetworkConfig::from_dictionary(d));
  d.set("I", w.span().first(32 * 7));
  EXPECT_EQ(NetworkConfig::from_dictionary(d)->static_ips.size(), 32u);
  // 1025 rules.
  d = base_dict();
  d.set("R", serialize_rules(std::vector<Rule>(1025, Rule::accept())));
  EXPECT_FALSE(NetworkConfig::from_dictionary(d));
  d.set("R", serialize_rules(std::vector<Rule>(1024, Rule::accept())));
  EXPECT_EQ(NetworkConfig::from_dictionary(d)->rules.size(), 1024u);
  // 5 COOs.
  d = base_dict();
  Bytes coo = *d.get("COO");
  Bytes five;
  for (int i = 0; i < 5; ++i) five.insert(five.end(), coo.begin(), coo.end());
  d.set("COO", five);
  EXPECT_FALSE(NetworkConfig::from_dictionary(d));
  d.set("COO", ByteSpan(five).first(coo.size() * 4));
  EXPECT_EQ(NetworkConfig::from_dictionary(d)->certificates_of_ownership.size(), 4u);
  // 129 routes.
  d = base_dict();
  Bytes rt = *d.get("RT");
  Bytes many;
  for (int i = 0; i < 129; ++i) many.insert(many.end(), rt.begin(), rt.end());
  d.set("RT", many);
  EXPECT_FALSE(NetworkConfig::from_dictionary(d));
}

TEST(NetworkConfig, FlagNames) {
  EXPECT_EQ(network_flag_names(0x06), (std::vector<std::string>{"enableBroadcast", "ndpEmulation"}));
  EXPECT_EQ(network_flag_names(0x19),
            (std::vector<std::string>{"unsupportedMatchResult", "disableCompression", "0x0000000000000001"}));
}
