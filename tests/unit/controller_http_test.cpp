// §10.2 HTTP JSON API: a real server on 127.0.0.1 (any free port) driven by an httplib
// client; auth, every path, validation (4xx and no change), pushes marshalled to the "node".
#include <gtest/gtest.h>

#include <httplib.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>

#include "controller/embedded_controller.hpp"
#include "controller/http_api.hpp"
#include "controller/sqlite_db.hpp"
#include "proto/netconf.hpp"
#include "support/controller_backends.hpp"
#include "support/controller_support.hpp"

using namespace zt;
using namespace zt::controller;
using namespace zt::test;
using nlohmann::json;

namespace {

const char* kToken = "test-token-0123456789";
const std::string kNwidStr = "d5a72ff358c0ffee";

std::string temp_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "ztcore-http-XXXXXX").string();
  char* p = mkdtemp(tmpl.data());
  EXPECT_NE(p, nullptr);
  return tmpl;
}

class ControllerHttp : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    dir = temp_dir();
    store = open_test_db(GetParam());
    ASSERT_TRUE(store.db) << store.error;
    db = store.db.get();
    sender = std::make_unique<FakeSender>(load_identity("controller.identity.secret"));
    ControllerOptions o;
    o.random = seeded_random(7);
    ctl = std::make_unique<EmbeddedController>(*db, o);
    ctl->attach(sender.get());
    a = load_identity("nodea.identity.public");

    HttpApiConfig cfg;
    cfg.auth_token = kToken;
    cfg.clock = [this] { return clock.load(); };
    cfg.run_on_node = [this](std::function<void(int64_t)> fn) {
      std::lock_guard lk(node_mu);  // the test's stand-in for the node thread
      ++node_calls;
      fn(clock.load());
    };
    auto api_r = HttpApi::start(*ctl, *db, cfg);
    ASSERT_TRUE(api_r) << api_r.error();
    api = std::move(*api_r);
    ASSERT_NE(api->port(), 0);
    cli = std::make_unique<httplib::Client>("127.0.0.1", api->port());
    cli->set_default_headers({{"X-ZT1-Auth", kToken}});
  }

  void TearDown() override {
    cli.reset();
    if (api) api->stop();
    api.reset();
    ctl.reset();
    store = TestDb();
    std::filesystem::remove_all(dir);
  }

  struct Reply {
    int status = 0;
    json body;
  };
  static Reply to_reply(const httplib::Result& r) {
    EXPECT_TRUE(r) << "no response";
    if (!r) return {};
    Reply out{r->status, json::parse(r->body, nullptr, false)};
    EXPECT_FALSE(out.body.is_discarded()) << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
    return out;
  }
  Reply get(const std::string& path) { return to_reply(cli->Get(path)); }
  Reply post(const std::string& path, const std::string& body) {
    return to_reply(cli->Post(path, body, "application/json"));
  }
  Reply post(const std::string& path, const json& body) { return post(path, body.dump()); }
  Reply put(const std::string& path, const json& body) {
    return to_reply(cli->Put(path, body.dump(), "application/json"));
  }
  Reply del(const std::string& path) { return to_reply(cli->Delete(path)); }

  // A config request arriving at the node (on the "node thread").
  void request(int64_t now, uint64_t pid) {
    std::lock_guard lk(node_mu);
    core::ConfigRequest r;
    r.nwid = kNwid;
    r.requester = a;
    r.metadata = request_metadata();
    r.packet_id = pid;
    ctl->on_request(now, r);
  }

  // The vector network, created through the API the way a user would (no rules: default).
  void create_vector_network() {
    json body = load_json("controller_network.json");
    body.erase("rules");
    auto r = post("/controller/network/" + kNwidStr, body);
    ASSERT_EQ(r.status, 200) << r.body.dump();
  }

  std::string dir;
  TestDb store;
  ControllerDb* db = nullptr;
  std::unique_ptr<FakeSender> sender;
  std::unique_ptr<EmbeddedController> ctl;
  std::unique_ptr<HttpApi> api;
  std::unique_ptr<httplib::Client> cli;
  Identity a;
  std::atomic<int64_t> clock{kTsA - 60000};
  std::mutex node_mu;
  std::atomic<int> node_calls{0};
};

}  // namespace

TEST_P(ControllerHttp, RequiresTheToken) {
  httplib::Client anon("127.0.0.1", api->port());
  for (std::string path : {std::string("/controller"), std::string("/controller/network"), "/controller/network/" + kNwidStr}) {
    auto r = to_reply(anon.Get(path));
    EXPECT_EQ(r.status, 401) << path;
    EXPECT_TRUE(r.body.contains("error"));
  }
  auto wrong = to_reply(anon.Get("/controller", {{"X-ZT1-Auth", "nope"}}));
  EXPECT_EQ(wrong.status, 401);
  auto write = to_reply(anon.Post("/controller/network/d5a72ff358______", "{}", "application/json"));
  EXPECT_EQ(write.status, 401);
  EXPECT_TRUE(db->list_networks().empty());  // nothing created
  auto bearer = to_reply(anon.Get("/controller", {{"Authorization", std::string("Bearer ") + kToken}}));
  EXPECT_EQ(bearer.status, 200);
}

TEST_P(ControllerHttp, StatusEndpoint) {
  auto r = get("/controller");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["controller"], true);
  EXPECT_EQ(r.body["apiVersion"], 4);
  EXPECT_EQ(r.body["clock"], clock.load());
  EXPECT_EQ(r.body["databaseReady"], true);
}

TEST_P(ControllerHttp, CreateWithRandomIdUnderTheControllerAddress) {
  EXPECT_EQ(get("/controller/network").body, json::array());
  auto r = post("/controller/network/d5a72ff358______", json{{"name", "one"}});
  ASSERT_EQ(r.status, 200) << r.body.dump();
  std::string id = r.body["id"];
  EXPECT_EQ(id.size(), 16u);
  EXPECT_EQ(id.substr(0, 10), "d5a72ff358");
  EXPECT_EQ(r.body["nwid"], id);
  EXPECT_EQ(r.body["name"], "one");
  auto r2 = post("/controller/network", json{{"name", "two"}});  // also accepted
  ASSERT_EQ(r2.status, 200);
  EXPECT_EQ(std::string(r2.body["id"]).substr(0, 10), "d5a72ff358");
  EXPECT_NE(r2.body["id"], r.body["id"]);
  auto list = get("/controller/network");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body.size(), 2u);
  EXPECT_NE(std::find(list.body.begin(), list.body.end(), r.body["id"]), list.body.end());
  // Another controller's prefix, or a malformed one, is refused.
  EXPECT_EQ(post("/controller/network/1122334455______", json::object()).status, 400);
  EXPECT_EQ(post("/controller/network/zz22334455______", json::object()).status, 400);
  EXPECT_EQ(get("/controller/network/d5a72ff358______").status, 405);
  EXPECT_EQ(get("/controller/network").body.size(), 2u);
}

TEST_P(ControllerHttp, NetworkObjectMatchesTheReference) {
  create_vector_network();
  auto r = get("/controller/network/" + kNwidStr);
  ASSERT_EQ(r.status, 200);
  json want = load_json("controller_network.json");
  json got = r.body;
  EXPECT_EQ(got["creationTime"], clock.load());
  want.erase("creationTime");
  got.erase("creationTime");
  EXPECT_EQ(got, want);
  // PUT merges like POST; unchanged writes do not bump the revision.
  auto p = put("/controller/network/" + kNwidStr, json{{"name", "ztlab"}});
  EXPECT_EQ(p.body["revision"], 1);
  p = put("/controller/network/" + kNwidStr, json{{"name", "renamed"}});
  EXPECT_EQ(p.body["revision"], 2);
  EXPECT_EQ(p.body["ipAssignmentPools"], want["ipAssignmentPools"]);  // untouched fields stay
}

TEST_P(ControllerHttp, MembersLifecycleWithPushesAndRevocation) {
  create_vector_network();
  auto list = get("/controller/network/" + kNwidStr + "/member");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body, json::object());

  clock = kTsA - 5000;
  request(kTsA - 5000, 0x77);
  auto sent = sender->take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].code, ErrorCode::NetworkAccessDenied);
  list = get("/controller/network/" + kNwidStr + "/member");
  EXPECT_EQ(list.body, json({{"8fec3e8ae4", 1}}));
  auto m = get("/controller/network/" + kNwidStr + "/member/8fec3e8ae4");
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(m.body["authorized"], false);
  EXPECT_EQ(m.body["identity"], a.to_string());

  clock = kTsA - 4990;
  auto auth = post("/controller/network/" + kNwidStr + "/member/8fec3e8ae4", json{{"authorized", true}});
  ASSERT_EQ(auth.status, 200);
  EXPECT_EQ(auth.body["authorized"], true);
  EXPECT_EQ(auth.body["lastAuthorizedCredentialType"], "api");
  EXPECT_EQ(auth.body["lastAuthorizedTime"], kTsA - 4990);
  EXPECT_GE(node_calls.load(), 1);

  request(kTsA, 0x78);
  sent = sender->take();
  ASSERT_EQ(sent.size(), 2u);  // OK + push after the member save
  EXPECT_EQ(sent[0].config.serialize(), read_vector("nodea.networkconfig.dict"));
  m = get("/controller/network/" + kNwidStr + "/member/8fec3e8ae4");
  EXPECT_EQ(m.body["ipAssignments"], json::array({"10.147.17.14"}));
  EXPECT_EQ(m.body["revision"], 3);
  EXPECT_EQ(m.body["vMajor"], 1);

  // A network change is pushed to the online member before the HTTP reply.
  clock = kTsA + 1000;
  auto ch = post("/controller/network/" + kNwidStr, json{{"mtu", 1500}});
  ASSERT_EQ(ch.status, 200);
  sent = sender->take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].packet_id, 0u);
  EXPECT_EQ(decode(sent[0].config).mtu, 1500u);

  // Deauthorizing revokes the member's COM.
  clock = kTsA + 2000;
  auto deauth = post("/controller/network/" + kNwidStr + "/member/8fec3e8ae4", json{{"authorized", false}});
  ASSERT_EQ(deauth.status, 200);
  EXPECT_EQ(deauth.body["lastDeauthorizedTime"], kTsA + 2000);
  sent = sender->take();
  bool revoked = false;
  for (auto& s : sent)
    if (s.kind == FakeSender::Sent::Kind::Revocation) {
      revoked = true;
      EXPECT_EQ(s.rev.target, a.address());
      EXPECT_EQ(s.dest, a.address());
    }
  EXPECT_TRUE(revoked);

  auto gone = del("/controller/network/" + kNwidStr + "/member/8fec3e8ae4");
  ASSERT_EQ(gone.status, 200);
  EXPECT_EQ(gone.body["address"], "8fec3e8ae4");
  EXPECT_EQ(get("/controller/network/" + kNwidStr + "/member/8fec3e8ae4").status, 404);
  EXPECT_EQ(get("/controller/network/" + kNwidStr + "/member").body, json::object());

  // Members can be pre-created (POST creates when the network exists).
  auto pre = put("/controller/network/" + kNwidStr + "/member/eb8cb7d1c8", json{{"name", "b"}});
  ASSERT_EQ(pre.status, 200);
  EXPECT_EQ(pre.body["name"], "b");
  EXPECT_FALSE(pre.body.contains("identity"));

  auto u = get("/unstable/controller/network/" + kNwidStr + "/member");
  ASSERT_EQ(u.status, 200);
  EXPECT_EQ(u.body["data"].size(), 1u);
  EXPECT_EQ(u.body["meta"]["totalCount"], 1);
  auto un = get("/unstable/controller/network");
  EXPECT_EQ(un.body["data"][0]["id"], kNwidStr);

  auto dn = del("/controller/network/" + kNwidStr);
  ASSERT_EQ(dn.status, 200);
  EXPECT_EQ(dn.body["id"], kNwidStr);
  EXPECT_EQ(get("/controller/network/" + kNwidStr).status, 404);
  EXPECT_EQ(get("/controller/network").body, json::array());
}

TEST_P(ControllerHttp, BadInputIs4xxAndChangesNothing) {
  create_vector_network();
  ASSERT_EQ(post("/controller/network/" + kNwidStr + "/member/8fec3e8ae4", json{{"name", "a"}}).status, 200);
  json net_before = get("/controller/network/" + kNwidStr).body;
  json mem_before = get("/controller/network/" + kNwidStr + "/member/8fec3e8ae4").body;
  int calls_before = node_calls.load();

  auto check = [&](const Reply& r, int status, const std::string& what) {
    EXPECT_EQ(r.status, status) << what << ": " << r.body.dump();
    EXPECT_TRUE(r.body.contains("error")) << what;
    EXPECT_TRUE(r.body["error"].is_string()) << what;
  };
  check(post("/controller/network/" + kNwidStr, std::string("{\"name\": ")), 400, "malformed JSON");
  check(post("/controller/network/" + kNwidStr, std::string("[1,2]")), 400, "array body");
  check(post("/controller/network/" + kNwidStr + "/member/8fec3e8ae4", std::string("{oops")), 400, "member JSON");
  check(get("/controller/network/xyz"), 400, "bad nwid");
  check(get("/controller/network/d5a72ff358c0ffe"), 400, "short nwid");
  check(get("/controller/network/" + kNwidStr + "/member/123"), 400, "bad address");
  check(post("/controller/network/" + kNwidStr + "/member/ff00000000", json::object()), 400, "reserved address");
  check(get("/controller/network/d5a72ff358123456"), 404, "unknown network");
  check(get("/controller/network/d5a72ff358123456/member"), 404, "unknown network members");
  check(post("/controller/network/d5a72ff358123456/member/8fec3e8ae4", json{{"authorized", true}}), 404,
        "member of unknown network");
  check(del("/controller/network/d5a72ff358123456"), 404, "delete unknown");
  check(post("/controller/network/1122334455667788", json::object()), 400, "foreign nwid");
  check(get("/controller/nothing"), 404, "unknown path");
  check(get("/elsewhere"), 404, "outside the API");
  check(del("/controller/network"), 405, "delete the list");
  check(post("/controller", json::object()), 405, "post status");
  // A body over the 1 MiB cap: refused before it is parsed.
  check(post("/controller/network/" + kNwidStr, "{\"name\":\"" + std::string(1100 * 1024, 'x') + "\"}"), 413,
        "huge body");

  EXPECT_EQ(get("/controller/network/" + kNwidStr).body, net_before);
  EXPECT_EQ(get("/controller/network/" + kNwidStr + "/member/8fec3e8ae4").body, mem_before);
  EXPECT_EQ(get("/controller/network").body, json::array({kNwidStr}));
  EXPECT_FALSE(db->get_member(kNwid, 0x1122334455ULL).has_value());
  EXPECT_EQ(node_calls.load(), calls_before);  // no write happened, nothing marshalled
}

// Names and other strings that look like SQL are data on every backend: stored and read back
// verbatim, nothing else touched.
TEST_P(ControllerHttp, SqlLookingStringsAreJustData) {
  create_vector_network();
  const std::string nasty = "x'); DROP TABLE member; --\" OR 1=1; \\ $$ ; DELETE FROM network";
  const std::string mpath = "/controller/network/" + kNwidStr + "/member/8fec3e8ae4";
  ASSERT_EQ(post("/controller/network/" + kNwidStr, json{{"name", nasty}}).status, 200);
  ASSERT_EQ(post(mpath, json{{"name", nasty + " member"}, {"authorized", true}}).status, 200);
  EXPECT_EQ(get("/controller/network/" + kNwidStr).body["name"], nasty);
  EXPECT_EQ(get(mpath).body["name"], nasty + " member");
  EXPECT_EQ(get("/controller/network").body, json::array({kNwidStr}));
  // A path segment that looks like SQL is not an address.
  EXPECT_EQ(get("/controller/network/" + kNwidStr + "/member/1'%20OR%201=1").status, 400);
  EXPECT_EQ(db->get_network(kNwid)->at("name"), nasty);
  EXPECT_EQ(db->members_of(kNwid).size(), 1u);
}

TEST_P(ControllerHttp, EmptyBodyIsAnEmptyObject) {
  auto r = to_reply(cli->Post("/controller/network/" + kNwidStr, "", "application/json"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["name"], "");
  EXPECT_EQ(r.body["private"], true);
}

TEST_P(ControllerHttp, StopIsCleanAndIdempotent) {
  uint16_t port = api->port();
  api->stop();
  api->stop();
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(1);
  EXPECT_FALSE(c.Get("/controller"));
}

INSTANTIATE_TEST_SUITE_P(Backends, ControllerHttp, ::testing::Values(Backend::Sqlite, Backend::Postgres),
                         backend_name);

TEST(ControllerHttpToken, StartRefusesAnEmptyToken) {
  MemoryControllerDb db;
  EmbeddedController ctl(db);
  HttpApiConfig cfg;
  EXPECT_FALSE(HttpApi::start(ctl, db, cfg));
}
