// §10.2: the controller reads API bodies the way zerotier-one's controller does — booleans
// leniently (OSUtils::jsonBool: "true"/"false" strings, numbers), bad array entries dropped,
// a bad remoteTraceTarget nulled, fields of the wrong kind ignored — so tools written against
// it (ztncui posts form values as strings) work. Only a body that is not an object is refused.
// Also: the HTTP API's hook for the node's /status and /peer, and its 1 MiB body limit.
#include <gtest/gtest.h>

#include <httplib.h>

#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>

#include "controller/embedded_controller.hpp"
#include "controller/http_api.hpp"
#include "controller/objects.hpp"
#include "controller/sqlite_db.hpp"
#include "support/controller_support.hpp"

using namespace zt;
using namespace zt::controller;
using nlohmann::json;

namespace {

constexpr uint64_t kNet = 0xd5a72ff358c0ffeeULL;

json fresh_network() {
  json n;
  init_network(n, kNet, 1000, true);
  return n;
}

json updated(const json& body) {
  json n = fresh_network();
  Status st = apply_network_update(n, body);
  EXPECT_TRUE(st.ok()) << body.dump() << ": " << (st.ok() ? "" : st.error());
  return n;
}

json fresh_member() {
  json m;
  init_member(m, kNet, 0x8fec3e8ae4ULL, 1000, true);
  return m;
}

TEST(ControllerLenient, BooleansReadAsTheReferenceReadsThem) {
  struct Case {
    json v;
    bool dflt;
    bool want;
  };
  const Case cases[] = {
      {true, false, true},          {false, true, false},       {"true", false, true},
      {"True", false, true},        {"t", false, true},         {"1", false, true},
      {"10", false, true},          {"false", true, false},     {"False", true, false},
      {"0", true, false},           {"", true, false},          {"yes", true, false},
      {" true", true, false},       {1, false, true},           {0, true, false},
      {-1, false, true},            {7u, false, true},          {0.5, true, false},
      {2.5, false, true},           {nullptr, true, true},      {nullptr, false, false},
      {json::array(), true, true},  {json::object(), false, false}};
  for (const Case& c : cases)
    EXPECT_EQ(json_lenient_bool(c.v, c.dflt), c.want) << c.v.dump() << " dflt " << c.dflt;
}

TEST(ControllerLenient, NetworkBooleansFromStrings) {
  json n = updated({{"private", "false"}, {"enableBroadcast", "false"}});
  EXPECT_EQ(n["private"], false);
  EXPECT_EQ(n["enableBroadcast"], false);
  n = updated({{"private", "true"}, {"enableBroadcast", 1}});
  EXPECT_EQ(n["private"], true);
  EXPECT_EQ(n["enableBroadcast"], true);
  // Neither true nor false: the reference's defaults (private true, broadcast false).
  n = updated({{"private", nullptr}, {"enableBroadcast", json::array()}});
  EXPECT_EQ(n["private"], true);
  EXPECT_EQ(n["enableBroadcast"], false);
  // Stored JSON booleans stay booleans whatever came in.
  EXPECT_TRUE(n["private"].is_boolean());
}

TEST(ControllerLenient, AssignModes) {
  EXPECT_EQ(updated({{"v4AssignMode", {{"zt", "true"}}}})["v4AssignMode"], json({{"zt", true}}));
  EXPECT_EQ(updated({{"v4AssignMode", {{"zt", "false"}}}})["v4AssignMode"], json({{"zt", false}}));
  EXPECT_EQ(updated({{"v4AssignMode", "zt"}})["v4AssignMode"], json({{"zt", true}}));
  EXPECT_EQ(updated({{"v4AssignMode", "ztx"}})["v4AssignMode"], json({{"zt", false}}));
  EXPECT_EQ(updated({{"v4AssignMode", 3}})["v4AssignMode"], json({{"zt", false}}));
  // An unticked form box is an absent key: off, even if it was on.
  json n = fresh_network();
  ASSERT_TRUE(apply_network_update(n, {{"v4AssignMode", {{"zt", true}}}}).ok());
  ASSERT_TRUE(apply_network_update(n, {{"v4AssignMode", json::object()}}).ok());
  EXPECT_EQ(n["v4AssignMode"], json({{"zt", false}}));

  EXPECT_EQ(updated({{"v6AssignMode", {{"zt", "true"}, {"rfc4193", "1"}}}})["v6AssignMode"],
            json({{"zt", true}, {"rfc4193", true}, {"6plane", false}}));
  ASSERT_TRUE(apply_network_update(n, {{"v6AssignMode", {{"6plane", "true"}, {"zt", "true"}}}}).ok());
  ASSERT_TRUE(apply_network_update(n, {{"v6AssignMode", {{"zt", "true"}}}}).ok());
  EXPECT_EQ(n["v6AssignMode"], json({{"zt", true}, {"rfc4193", false}, {"6plane", false}}));
  EXPECT_EQ(updated({{"v6AssignMode", "rfc4193,6plane"}})["v6AssignMode"],
            json({{"zt", false}, {"rfc4193", true}, {"6plane", true}}));
  EXPECT_EQ(updated({{"v6AssignMode", nullptr}})["v6AssignMode"],
            json({{"zt", false}, {"rfc4193", false}, {"6plane", false}}));
}

TEST(ControllerLenient, BadRoutesAndPoolsAreDropped) {
  json n = updated({{"routes",
                     {{{"target", "10.9.0.0/24"}, {"via", nullptr}},
                      {{"target", "10.0.0.0/33"}},
                      {{"target", "nonsense"}},
                      "not an object",
                      {{"target", 5}},
                      {{"target", "10.8.0.0/16"}, {"via", "fd00::1"}},
                      {{"target", "fd00::/8"}, {"via", "fd00::1"}},
                      {{"target", "10.7.0.0/16"}, {"via", "bogus"}}}}});
  EXPECT_EQ(n["routes"], json::parse(R"([{"target":"10.9.0.0/24","via":null},{"target":"10.8.0.0/16","via":null},
                                        {"target":"fd00::/8","via":"fd00::1"},{"target":"10.7.0.0/16","via":null}])"));
  n = updated({{"ipAssignmentPools",
                {{{"ipRangeStart", "10.9.0.1"}, {"ipRangeEnd", "10.9.0.254"}},
                 {{"ipRangeStart", "10.9.0.1"}, {"ipRangeEnd", "fd00::1"}},
                 {{"ipRangeStart", "10.9.0.1"}},
                 {{"ipRangeStart", "x"}, {"ipRangeEnd", "y"}},
                 7}}});
  EXPECT_EQ(n["ipAssignmentPools"], json::parse(R"([{"ipRangeStart":"10.9.0.1","ipRangeEnd":"10.9.0.254"}])"));

  // Not an array: the stored value stays.
  json before = updated({{"routes", {{{"target", "10.1.0.0/16"}}}}});
  json after = before;
  ASSERT_TRUE(apply_network_update(after, {{"routes", "x"}, {"ipAssignmentPools", 3}, {"rules", {{"a", 1}}}}).ok());
  EXPECT_EQ(after, before);
}

TEST(ControllerLenient, RulesDropBadEntriesAndReadNotOrLeniently) {
  json n = updated({{"rules",
                     {{{"type", "MATCH_ETHERTYPE"}, {"etherType", 2048}, {"not", "true"}, {"or", "0"}},
                      {{"type", "MATCH_BOGUS"}},
                      {{"type", "ACTION_PRIORITY"}},
                      42,
                      {{"type", "ACTION_ACCEPT"}}}}});
  ASSERT_EQ(n["rules"].size(), 2u) << n["rules"].dump();
  EXPECT_EQ(n["rules"][0]["type"], "MATCH_ETHERTYPE");
  EXPECT_EQ(n["rules"][0]["not"], true);
  EXPECT_EQ(n["rules"][0]["or"], false);
  EXPECT_EQ(n["rules"][1]["type"], "ACTION_ACCEPT");

  auto r = proto::rule_from_json(json{{"type", "MATCH_VLAN_ID"}, {"vlanId", 5}, {"not", 1}, {"or", "True"}});
  ASSERT_TRUE(r) << r.error();
  EXPECT_TRUE(r->negate);
  EXPECT_TRUE(r->or_);

  n = updated({{"capabilities",
                {{{"id", 2}, {"default", "true"}, {"rules", {{{"type", "ACTION_DROP"}}, {{"type", "NOPE"}}}}},
                 {{"id", "x1"}, {"default", "0"}},
                 "junk"}}});
  ASSERT_EQ(n["capabilities"].size(), 2u) << n["capabilities"].dump();
  EXPECT_EQ(n["capabilities"][0]["id"], 0);  // a string without leading digits reads as 0
  EXPECT_EQ(n["capabilities"][0]["default"], false);
  EXPECT_EQ(n["capabilities"][1]["id"], 2);
  EXPECT_EQ(n["capabilities"][1]["default"], true);
  EXPECT_EQ(n["capabilities"][1]["rules"].size(), 1u);
}

TEST(ControllerLenient, TraceTargetDnsAndScalars) {
  EXPECT_EQ(updated({{"remoteTraceTarget", "xyz"}})["remoteTraceTarget"], nullptr);
  EXPECT_EQ(updated({{"remoteTraceTarget", 12}})["remoteTraceTarget"], nullptr);
  EXPECT_EQ(updated({{"remoteTraceTarget", "8FEC3E8AE4"}})["remoteTraceTarget"], "8fec3e8ae4");

  json n = updated({{"dns", {{"domain", "zt.example"}, {"servers", {"10.9.0.53", "not-an-ip", 5, "fd00::53"}}}}});
  EXPECT_EQ(n["dns"], json::parse(R"({"domain":"zt.example","servers":["10.9.0.53","fd00::53"]})"));
  EXPECT_EQ(updated({{"dns", {{"domain", 7}}}})["dns"], json::parse(R"({"domain":"","servers":[]})"));
  json before = n;
  ASSERT_TRUE(apply_network_update(n, {{"dns", "x"}}).ok());  // not an object: stays
  EXPECT_EQ(n, before);
  ASSERT_TRUE(apply_network_update(n, {{"dns", nullptr}}).ok());  // null: none
  EXPECT_EQ(n["dns"], json::array());

  n = updated({{"mtu", "1400"}, {"multicastLimit", "64"}, {"name", 42}});
  EXPECT_EQ(n["mtu"], 1400);
  EXPECT_EQ(n["multicastLimit"], 64);
  EXPECT_EQ(n["name"], "42");
  EXPECT_EQ(updated({{"name", true}})["name"], "1");
  EXPECT_EQ(updated({{"name", nullptr}})["name"], "");
  n = updated({{"mtu", "big"}, {"multicastLimit", -3}});
  EXPECT_EQ(n["mtu"], 1280);  // "big" reads as 0, clamped
  EXPECT_EQ(n["multicastLimit"], 32);
  EXPECT_EQ(updated({{"authTokens", "x"}})["authTokens"], json::array({nullptr}));
  EXPECT_EQ(updated({{"authTokens", {{"good", 0}, {"bad", -1}, {"worse", "1"}}}})["authTokens"], json({{"good", 0}}));
}

TEST(ControllerLenient, OnlyNonObjectBodiesAreRefused) {
  for (const json& body : {json("x"), json::array({1}), json(3), json(nullptr), json(true)}) {
    json n = fresh_network();
    EXPECT_FALSE(apply_network_update(n, body).ok()) << body.dump();
    EXPECT_EQ(n, fresh_network());
    json m = fresh_member();
    EXPECT_FALSE(apply_member_update(m, body, 2000)) << body.dump();
  }
}

TEST(ControllerLenient, MemberFieldsFromStrings) {
  json m = fresh_member();
  auto u = apply_member_update(m, {{"authorized", "true"}, {"activeBridge", "True"}, {"noAutoAssignIps", 1}}, 2000);
  ASSERT_TRUE(u) << u.error();
  EXPECT_TRUE(u->authorized_changed);
  EXPECT_FALSE(u->deauthorized);
  EXPECT_EQ(m["authorized"], true);
  EXPECT_EQ(m["lastAuthorizedTime"], 2000);
  EXPECT_EQ(m["lastAuthorizedCredentialType"], "api");
  EXPECT_EQ(m["activeBridge"], true);
  EXPECT_EQ(m["noAutoAssignIps"], true);

  u = apply_member_update(m, {{"authorized", "false"}, {"activeBridge", "false"}}, 3000);
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->deauthorized);
  EXPECT_EQ(m["authorized"], false);
  EXPECT_EQ(m["lastDeauthorizedTime"], 3000);
  EXPECT_EQ(m["activeBridge"], false);

  u = apply_member_update(m,
                          {{"ipAssignments", {"10.9.0.7", "10.0.0.300", 5, "10.9.0.7/24", "fd00::7"}},
                           {"tags", {{1, 2}, {1}, "x", {"3", "4"}}},
                           {"capabilities", {2, "x", "1", nullptr}},
                           {"name", "laptop"},
                           {"remoteTraceTarget", "nothex!!!!"},
                           {"authenticationExpiryTime", "5000"}},
                          4000);
  ASSERT_TRUE(u);
  EXPECT_EQ(m["ipAssignments"], json::parse(R"(["10.9.0.7","fd00::7"])"));
  EXPECT_EQ(m["tags"], json::parse("[[1,2],[3,4]]"));
  EXPECT_EQ(m["capabilities"], json::parse("[0,1,2]"));  // "x" reads as 0, null is dropped
  EXPECT_EQ(m["name"], "laptop");
  EXPECT_EQ(m["remoteTraceTarget"], nullptr);
  EXPECT_EQ(m["authenticationExpiryTime"], 5000);

  json before = m;  // arrays of another kind: the stored values stay
  ASSERT_TRUE(apply_member_update(m, {{"ipAssignments", "x"}, {"tags", 1}, {"capabilities", "y"}}, 5000));
  EXPECT_EQ(m, before);
}

// The HTTP layer: string booleans authorize, the node hook answers /status and /peer, bodies
// over 1 MiB get 413 with a JSON error.
class ControllerLenientHttp : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ztcore-lenient-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir = tmpl;
    auto d = SqliteControllerDb::open_home(dir);
    ASSERT_TRUE(d) << d.error();
    db = std::move(*d);
    sender = std::make_unique<test::FakeSender>(test::load_identity("controller.identity.secret"));
    ctl = std::make_unique<EmbeddedController>(*db);
    ctl->attach(sender.get());
    HttpApiConfig cfg;
    cfg.auth_token = "tok";
    cfg.node_api = [this](const std::string& method, const std::string& path) -> std::optional<NodeApiReply> {
      std::lock_guard lk(mu);
      node_calls.push_back(method + " " + path);
      if (path != "/status" && path.rfind("/peer", 0) != 0) return std::nullopt;
      return NodeApiReply{200, json{{"address", "89e92ceee5"}, {"path", path}}.dump()};
    };
    auto api_r = HttpApi::start(*ctl, *db, cfg);
    ASSERT_TRUE(api_r) << api_r.error();
    api = std::move(*api_r);
    cli = std::make_unique<httplib::Client>("127.0.0.1", api->port());
    cli->set_default_headers({{"X-ZT1-Auth", "tok"}});
  }
  void TearDown() override {
    cli.reset();
    api.reset();
    ctl.reset();
    db.reset();
    std::filesystem::remove_all(dir);
  }

  std::string dir;
  std::unique_ptr<SqliteControllerDb> db;
  std::unique_ptr<test::FakeSender> sender;
  std::unique_ptr<EmbeddedController> ctl;
  std::unique_ptr<HttpApi> api;
  std::unique_ptr<httplib::Client> cli;
  std::mutex mu;
  std::vector<std::string> node_calls;  // written on the server thread under mu
};

TEST_F(ControllerLenientHttp, StatusAndPeerGoToTheNode) {
  auto r = cli->Get("/status");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body)["address"], "89e92ceee5");
  r = cli->Get("/peer/89e92ceee5?x=1");
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(r->body)["path"], "/peer/89e92ceee5");
  r = cli->Get("/controller");  // the controller's own paths never reach the hook
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(r->body)["controller"], true);
  r = cli->Get("/elsewhere");  // the hook declines: the router's 404
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  {
    std::lock_guard lk(mu);
    EXPECT_EQ(node_calls, (std::vector<std::string>{"GET /status", "GET /peer/89e92ceee5", "GET /elsewhere"}));
  }

  httplib::Client anon("127.0.0.1", api->port());
  r = anon.Get("/status");  // the token is checked first
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
}

TEST_F(ControllerLenientHttp, StringBooleansOverHttpAndBodyLimit) {
  auto r = cli->Post("/controller/network/" + std::string("d5a72ff358c0ffee"),
                     R"({"private":"false","v4AssignMode":{"zt":"true"}})", "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json n = json::parse(r->body);
  EXPECT_EQ(n["private"], false);
  EXPECT_EQ(n["v4AssignMode"]["zt"], true);
  r = cli->Post("/controller/network/d5a72ff358c0ffee/member/8fec3e8ae4", R"({"authorized":"true"})",
                "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["authorized"], true);

  r = cli->Post("/controller/network/d5a72ff358c0ffee", "[1,2]", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);

  std::string big = R"({"name":")" + std::string(kMaxRequestBody, 'a') + R"("})";
  r = cli->Post("/controller/network/d5a72ff358c0ffee", big, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  json e = json::parse(r->body, nullptr, false);
  ASSERT_TRUE(e.is_object()) << r->body;
  EXPECT_TRUE(e["error"].is_string());
  r = cli->Get("/controller/network/d5a72ff358c0ffee");
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(r->body)["name"], "");  // the oversized write changed nothing
}

}  // namespace
