// The controller's web UI (web_ui.hpp): the embedded files, served without the token with their
// content types and ETags, while the JSON API next to them still needs the token; and the
// members' "lastSeen" the page shows.
#include <gtest/gtest.h>

#include <httplib.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "controller/embedded_controller.hpp"
#include "controller/http_api.hpp"
#include "controller/sqlite_db.hpp"
#include "controller/web_ui.hpp"
#include "support/controller_support.hpp"

using namespace zt;
using namespace zt::controller;
using namespace zt::test;
using nlohmann::json;

namespace {

const char* kToken = "web-ui-test-token-42";
const std::string kNwidStr = "d5a72ff358c0ffee";

TEST(WebUiAssets, TheFilesOfWebAreEmbedded) {
  std::set<std::string> paths;
  for (const WebAsset& a : web_assets()) {
    paths.insert(std::string(a.path));
    EXPECT_FALSE(a.body.empty()) << a.path;
    EXPECT_TRUE(std::regex_match(std::string(a.etag), std::regex("\"[0-9a-f]{16}\""))) << a.etag;
  }
  for (const char* p : {"/index.html", "/app.js", "/app.css", "/favicon.svg"}) EXPECT_TRUE(paths.count(p)) << p;
  const WebAsset* index = find_web_asset("/");
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->path, "/index.html");
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(find_web_asset("/app.js")->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(find_web_asset("/app.css")->content_type, "text/css; charset=utf-8");
  EXPECT_EQ(find_web_asset("/favicon.svg")->content_type, "image/svg+xml");
  EXPECT_EQ(find_web_asset("/nothing.js"), nullptr);
  EXPECT_EQ(find_web_asset("/controller"), nullptr);
  EXPECT_EQ(find_web_asset("app.js"), nullptr);  // paths start with "/"
}

// Everything the page loads is served by the controller (no CDN, no internet at run time).
TEST(WebUiAssets, ThePageLoadsOnlyLocalFiles) {
  std::string html(find_web_asset("/")->body);
  std::regex ref(R"((src|href)="([^"]*)\")");
  int local = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), ref); it != std::sregex_iterator(); ++it) {
    std::string target = (*it)[2];
    if (target.rfind("#", 0) == 0) continue;  // in-page links
    EXPECT_EQ(target.find(':'), std::string::npos) << "external reference " << target;
    EXPECT_NE(find_web_asset("/" + target), nullptr) << target << " is not embedded";
    ++local;
  }
  EXPECT_GE(local, 3);  // app.js, app.css, favicon.svg
  for (const WebAsset& a : web_assets()) {
    std::string body(a.body);
    EXPECT_EQ(body.find("https://"), std::string::npos) << a.path;
    EXPECT_EQ(body.find("//cdn"), std::string::npos) << a.path;
  }
}

class WebUiHttp : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ztcore-webui-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir = tmpl;
    auto d = SqliteControllerDb::open_home(dir);
    ASSERT_TRUE(d) << d.error();
    db = std::move(*d);
    sender = std::make_unique<FakeSender>(load_identity("controller.identity.secret"));
    ControllerOptions o;
    o.random = seeded_random(11);
    ctl = std::make_unique<EmbeddedController>(*db, o);
    ctl->attach(sender.get());
    HttpApiConfig cfg;
    cfg.auth_token = kToken;
    cfg.clock = [] { return kTsA; };
    cfg.run_on_node = [](std::function<void(int64_t)> fn) { fn(kTsA); };
    auto r = HttpApi::start(*ctl, *db, cfg);
    ASSERT_TRUE(r) << r.error();
    api = std::move(*r);
    anon = std::make_unique<httplib::Client>("127.0.0.1", api->port());
    authed = std::make_unique<httplib::Client>("127.0.0.1", api->port());
    authed->set_default_headers({{"X-ZT1-Auth", kToken}});
  }
  void TearDown() override {
    anon.reset();
    authed.reset();
    if (api) api->stop();
    api.reset();
    ctl.reset();
    db.reset();
    std::filesystem::remove_all(dir);
  }

  std::string dir;
  std::unique_ptr<SqliteControllerDb> db;
  std::unique_ptr<FakeSender> sender;
  std::unique_ptr<EmbeddedController> ctl;
  std::unique_ptr<HttpApi> api;
  std::unique_ptr<httplib::Client> anon, authed;
};

TEST_F(WebUiHttp, PagesAreServedWithoutTheTokenWithTheirContentType) {
  for (const WebAsset& a : web_assets()) {
    auto r = anon->Get(std::string(a.path));
    ASSERT_TRUE(r) << a.path;
    EXPECT_EQ(r->status, 200) << a.path;
    EXPECT_EQ(r->get_header_value("Content-Type"), a.content_type) << a.path;
    EXPECT_EQ(r->body, a.body) << a.path;
    EXPECT_EQ(r->get_header_value("ETag"), a.etag) << a.path;
    EXPECT_EQ(r->get_header_value("Cache-Control"), "no-cache") << a.path;
    EXPECT_EQ(r->get_header_value("X-Content-Type-Options"), "nosniff") << a.path;
    EXPECT_NE(r->get_header_value("Content-Security-Policy").find("default-src 'self'"), std::string::npos);
  }
  auto root = anon->Get("/");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->status, 200);
  EXPECT_EQ(root->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_EQ(root->body, find_web_asset("/index.html")->body);
  EXPECT_NE(root->body.find("<script src=\"app.js\""), std::string::npos);

  auto head = anon->Head("/app.js");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_TRUE(head->body.empty());
}

TEST_F(WebUiHttp, AConditionalGetWithTheETagIs304) {
  const WebAsset* js = find_web_asset("/app.js");
  auto same = anon->Get("/app.js", httplib::Headers{{"If-None-Match", std::string(js->etag)}});
  ASSERT_TRUE(same);
  EXPECT_EQ(same->status, 304);
  EXPECT_TRUE(same->body.empty());
  EXPECT_EQ(same->get_header_value("ETag"), js->etag);
  auto listed = anon->Get("/app.js", httplib::Headers{{"If-None-Match", "\"0000000000000000\", W/" + std::string(js->etag)}});
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->status, 304);
  auto other = anon->Get("/app.js", httplib::Headers{{"If-None-Match", "\"0000000000000000\""}});
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 200);
  EXPECT_EQ(other->body, js->body);
}

TEST_F(WebUiHttp, TheApiStillNeedsTheToken) {
  for (const char* path : {"/controller", "/controller/network", "/unstable/controller/network",
                           "/controller/network/d5a72ff358c0ffee/member", "/nothing.js", "/index.htm"}) {
    auto r = anon->Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 401) << path;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json") << path;
  }
  // Only GET/HEAD are pages: a write to "/" goes to the API (and needs the token).
  auto post = anon->Post("/", "{}", "application/json");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 401);
  auto create = anon->Post("/controller/network", "{\"name\":\"x\"}", "application/json");
  ASSERT_TRUE(create);
  EXPECT_EQ(create->status, 401);
  auto list = authed->Get("/controller/network");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->status, 200);
  EXPECT_EQ(json::parse(list->body), json::array());  // the anonymous POST created nothing
  auto wrong = anon->Get("/controller", httplib::Headers{{"X-ZT1-Auth", "not-the-token"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto ok = authed->Get("/controller");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

// The members table's "last seen": the unstable member list carries lastSeen (ms of the last
// accepted config request since the controller started; 0 = not seen).
TEST_F(WebUiHttp, UnstableMemberListCarriesLastSeen) {
  auto c = authed->Post("/controller/network/" + kNwidStr, "{\"name\":\"web\"}", "application/json");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->status, 200) << c->body;
  auto pre = authed->Post("/controller/network/" + kNwidStr + "/member/eb8cb7d1c8", "{\"name\":\"b\"}",
                          "application/json");
  ASSERT_TRUE(pre);
  ASSERT_EQ(pre->status, 200);

  core::ConfigRequest req;
  req.nwid = kNwid;
  req.requester = load_identity("nodea.identity.public");
  req.metadata = request_metadata();
  req.packet_id = 0x55;
  ctl->on_request(kTsA - 1234, req);

  auto r = authed->Get("/unstable/controller/network/" + kNwidStr + "/member");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  json j = json::parse(r->body);
  ASSERT_EQ(j["data"].size(), 2u);
  std::map<std::string, json> by_addr;
  for (auto& m : j["data"]) by_addr[m["address"].get<std::string>()] = m;
  std::string a = proto::address_to_string(req.requester.address());
  ASSERT_TRUE(by_addr.count(a)) << j.dump();
  EXPECT_EQ(by_addr[a]["lastSeen"], kTsA - 1234);
  EXPECT_EQ(by_addr["eb8cb7d1c8"]["lastSeen"], 0);
  // Not part of the stored record.
  auto one = authed->Get("/controller/network/" + kNwidStr + "/member/" + a);
  ASSERT_TRUE(one);
  EXPECT_FALSE(json::parse(one->body).contains("lastSeen"));
}

}  // namespace
