// The controller takes the rules language (docs/RULES.md) as a network's `rulesSource`: it
// compiles it, stores the compiled rules/capabilities/tags and the text (returned by GET); a
// compile error is 400 {"error":"LINE:COL: message"} and nothing changes. SQLite backend.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "controller/embedded_controller.hpp"
#include "controller/sqlite_db.hpp"
#include "support/controller_support.hpp"

using namespace zt;
using namespace zt::controller;
using nlohmann::json;

namespace {

constexpr uint64_t kNet = 0xd5a72ff358c0ffeeULL;  // the vectors' controller d5a72ff358

class ControllerRulesSource : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ztcore-rulessrc-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir = tmpl;
    auto d = SqliteControllerDb::open_home(dir);
    ASSERT_TRUE(d) << d.error();
    db = std::move(*d);
    sender = std::make_unique<test::FakeSender>(test::load_identity("controller.identity.secret"));
    ctl = std::make_unique<EmbeddedController>(*db);
    ctl->attach(sender.get());
  }
  void TearDown() override {
    ctl.reset();
    db.reset();
    std::filesystem::remove_all(dir);
  }
  std::string dir;
  std::unique_ptr<SqliteControllerDb> db;
  std::unique_ptr<test::FakeSender> sender;
  std::unique_ptr<EmbeddedController> ctl;
};

TEST_F(ControllerRulesSource, CompiledAndStoredWithTheText) {
  const std::string src =
      "tag dept id 7 enum 1 a enum 2 b default b;\n"
      "cap ssh id 100 accept ipprotocol tcp dport 22; ;\n"
      "drop not ethertype ipv4 and not ethertype arp;\n"
      "accept teq dept a;\n";
  auto r = ctl->write_network(1000, kNet, json{{"rulesSource", src}, {"name", "n1"}});
  ASSERT_EQ(r.status, 200) << r.body.dump();
  auto g = ctl->get_network(kNet);
  ASSERT_EQ(g.status, 200);
  const json& n = g.body;
  EXPECT_EQ(n["rulesSource"], src);
  EXPECT_EQ(n["name"], "n1");
  EXPECT_EQ(n["rules"], json::parse(R"([
    {"type":"MATCH_ETHERTYPE","not":true,"or":false,"etherType":2048},
    {"type":"MATCH_ETHERTYPE","not":true,"or":false,"etherType":2054},
    {"type":"ACTION_DROP"},
    {"type":"MATCH_TAGS_EQUAL","not":false,"or":false,"id":7,"value":1},
    {"type":"ACTION_ACCEPT"}])"))
      << n["rules"].dump();
  ASSERT_EQ(n["capabilities"].size(), 1u) << n["capabilities"].dump();
  EXPECT_EQ(n["capabilities"][0]["id"], 100);
  EXPECT_EQ(n["capabilities"][0]["default"], false);
  EXPECT_EQ(n["capabilities"][0]["rules"].size(), 3u);
  EXPECT_EQ(n["capabilities"][0]["rules"][1]["start"], 22);
  EXPECT_EQ(n["tags"], json::parse(R"([{"id":7,"default":2}])"));
}

TEST_F(ControllerRulesSource, ErrorIs400AndChangesNothing) {
  ASSERT_EQ(ctl->write_network(1000, kNet, json{{"rulesSource", "accept;"}, {"name", "before"}}).status, 200);
  json before = ctl->get_network(kNet).body;
  auto r = ctl->write_network(2000, kNet, json{{"rulesSource", "accept;\ndrop vlan x;"}, {"name", "after"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, json({{"error", "2:11: Invalid numeric value."}})) << r.body.dump();
  EXPECT_EQ(ctl->get_network(kNet).body, before);
  // A non-string rulesSource is ignored, as the reference ignores fields of the wrong kind.
  EXPECT_EQ(ctl->write_network(3000, kNet, json{{"rulesSource", 5}}).status, 200);
  EXPECT_EQ(ctl->get_network(kNet).body["rulesSource"], "accept;");
  // A blank text is stored and leaves the rules alone (a GET of a fresh network echoed back).
  ASSERT_EQ(ctl->write_network(4000, kNet, json{{"rulesSource", " \n"}}).status, 200);
  json n = ctl->get_network(kNet).body;
  EXPECT_EQ(n["rulesSource"], " \n");
  EXPECT_EQ(n["rules"], before["rules"]);
}

}  // namespace
