// The local JSON API (service/local_api: routing, auth, zerotier-one shapes), the zerotier-cli
// text rendering, its cpp-httplib transport (service/local_server) and the auth token file
// (runtime/state).
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "base/hex.hpp"
#include "base/version.hpp"
#include "runtime/state.hpp"
#include "service/local_api.hpp"
#include "service/local_server.hpp"

using namespace zt;
namespace api = zt::service;
namespace http = zt::service;
using api::json;

namespace {

constexpr char kToken[] = "abcdefghijklmnopqrstuvwx";
constexpr int64_t kNow = 1700000010000;

core::PeerInfo root_peer() {
  core::PeerInfo p;
  p.address = 0x6aa7906649;
  p.role = core::PeerRole::Planet;
  p.version_major = 1;
  p.version_minor = 14;
  p.version_revision = 1;
  p.latency_ms = 3;
  p.direct = true;
  core::PathInfo path;
  path.address = *proto::InetAddress::parse("127.0.0.1/29993");
  path.local_socket = 0;
  path.last_send = kNow - 1200;
  path.last_receive = kNow - 1100;
  path.alive = true;
  path.preferred = true;
  p.paths.push_back(path);
  return p;
}

core::PeerInfo relayed_leaf() {
  core::PeerInfo p;
  p.address = 0x4b523fcfda;
  p.role = core::PeerRole::Leaf;
  return p;  // version and latency unknown (-1), no paths
}

class FakeBackend : public api::Backend {
 public:
  std::vector<uint64_t> moons;
  std::vector<std::pair<uint64_t, proto::Address>> orbits;
  std::vector<uint64_t> deorbits;

  int64_t now() override { return kNow; }
  core::NodeStatus status() override {
    core::NodeStatus s;
    s.address = 0xdcc856287c;
    s.public_identity = "dcc856287c:0:00";
    s.online = true;
    s.planet_id = 261490609;
    s.planet_timestamp = 1700000000000;
    s.moons = moons;
    return s;
  }
  api::NodeSettings settings() override { return {29994, {"127.0.0.1/29994"}, true}; }
  std::vector<core::PeerInfo> peers() override { return {root_peer(), relayed_leaf()}; }
  std::optional<proto::World> moon_world(uint64_t) override { return std::nullopt; }
  Status orbit(uint64_t id, proto::Address seed) override {
    orbits.emplace_back(id, seed);
    moons.push_back(id);
    return ok_status();
  }
  Status deorbit(uint64_t id) override {
    deorbits.push_back(id);
    std::erase(moons, id);
    return ok_status();
  }
};

http::Request req(std::string method, std::string path, std::string body = "", bool auth = true) {
  http::Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.body = std::move(body);
  if (auth) r.headers["x-zt1-auth"] = kToken;
  return r;
}

json body_of(const http::Response& r) { return json::parse(r.body); }

}  // namespace

// ---- Transport (cpp-httplib) ----------------------------------------------------------------

TEST(LocalHttp, ServerAndClientRoundTripOnLoopback) {
  auto s = http::LocalServer::start("127.0.0.1", 0, [](const http::Request& r) {
    http::Response out;
    out.status = r.path == "/echo" ? 200 : 404;
    auto q = r.query.find("auth");
    out.body = r.method + " " + r.path + " " + r.header("X-ZT1-AUTH") + " " +
               (q == r.query.end() ? "-" : q->second) + " " + r.body;
    return out;
  });
  ASSERT_TRUE(s.ok()) << s.error();
  const uint16_t port = (*s)->port();
  ASSERT_NE(port, 0);
  auto res = http::request("127.0.0.1", port, "POST", "/echo", {{"X-ZT1-Auth", "t"}}, "{\"a\":1}");
  ASSERT_TRUE(res.ok()) << res.error();
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "POST /echo t - {\"a\":1}");
  // Path and query arrive percent-decoded ('+' is a space in the query).
  auto dec = http::request("127.0.0.1", port, "GET", "/e%63ho?auth=a%2Bb+c", {}, "");
  ASSERT_TRUE(dec.ok()) << dec.error();
  EXPECT_EQ(dec->body, "GET /echo  a+b c ");
  // Methods the router refuses still reach it (it answers 405, not the transport).
  auto patch = http::request("127.0.0.1", port, "PATCH", "/echo", {}, "");
  ASSERT_TRUE(patch.ok());
  EXPECT_EQ(patch->status, 200);
  auto missing = http::request("127.0.0.1", port, "GET", "/nope", {}, "");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
  // Bodies over the limit are refused before the handler.
  auto big = http::request("127.0.0.1", port, "POST", "/echo", {}, std::string(http::kMaxBody + 1, 'x'));
  ASSERT_TRUE(big.ok()) << big.error();
  EXPECT_EQ(big->status, 413);
  (*s)->stop();
  (*s)->stop();
  auto refused = http::request("127.0.0.1", port, "GET", "/echo", {}, "", 2000);
  EXPECT_FALSE(refused.ok());
}

TEST(LocalHttp, ApiOverTheTransport) {
  FakeBackend b;
  auto s = http::LocalServer::start("127.0.0.1", 0, [&](const http::Request& r) { return api::handle(b, kToken, r); });
  ASSERT_TRUE(s.ok()) << s.error();
  auto ok = http::request("127.0.0.1", (*s)->port(), "GET", "/status", {{api::kAuthHeader, kToken}}, "");
  ASSERT_TRUE(ok.ok()) << ok.error();
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(json::parse(ok->body)["address"], "dcc856287c");
  auto q = http::request("127.0.0.1", (*s)->port(), "GET", std::string("/status?auth=") + kToken, {}, "");
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(q->status, 200);
  auto no = http::request("127.0.0.1", (*s)->port(), "GET", "/status", {}, "");
  ASSERT_TRUE(no.ok());
  EXPECT_EQ(no->status, 401);
  auto patch = http::request("127.0.0.1", (*s)->port(), "PATCH", "/status", {{api::kAuthHeader, kToken}}, "");
  ASSERT_TRUE(patch.ok());
  EXPECT_EQ(patch->status, 405);
}

// ---- Routing and auth -----------------------------------------------------------------------

TEST(LocalApi, RefusesMissingOrWrongTokens) {
  FakeBackend b;
  EXPECT_EQ(api::handle(b, kToken, req("GET", "/status", "", false)).status, 401);
  auto wrong = req("GET", "/status", "", false);
  wrong.headers["x-zt1-auth"] = "abcdefghijklmnopqrstuvwy";
  auto r = api::handle(b, kToken, wrong);
  EXPECT_EQ(r.status, 401);
  EXPECT_TRUE(body_of(r).contains("error"));
  auto query = req("GET", "/status", "", false);
  query.query["auth"] = kToken;
  EXPECT_EQ(api::handle(b, kToken, query).status, 200);
  // An empty configured token never matches (not even an empty header).
  EXPECT_EQ(api::handle(b, "", req("GET", "/status", "", false)).status, 401);
}

TEST(LocalApi, StatusHasZeroTierOneFields) {
  FakeBackend b;
  auto r = api::handle(b, kToken, req("GET", "/status"));
  ASSERT_EQ(r.status, 200);
  json j = body_of(r);
  EXPECT_EQ(j["address"], "dcc856287c");
  EXPECT_EQ(j["online"], true);
  EXPECT_EQ(j["version"], "1.14.1");
  EXPECT_EQ(j["versionMajor"], 1);
  EXPECT_EQ(j["versionMinor"], 14);
  EXPECT_EQ(j["versionRev"], 1);
  EXPECT_EQ(j["planetWorldId"], 261490609u);
  EXPECT_EQ(j["planetWorldTimestamp"], 1700000000000u);
  EXPECT_EQ(j["tcpFallbackActive"], false);
  EXPECT_EQ(j["clock"], kNow);
  EXPECT_EQ(j["ztcoreVersion"], kZtcoreVersion);
  EXPECT_EQ(j["config"]["settings"]["primaryPort"], 29994);
  EXPECT_EQ(j["config"]["settings"]["listeningOn"], json::array({"127.0.0.1/29994"}));
}

TEST(LocalApi, PeersAndOnePeer) {
  FakeBackend b;
  auto r = api::handle(b, kToken, req("GET", "/peer"));
  ASSERT_EQ(r.status, 200);
  json j = body_of(r);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["address"], "6aa7906649");
  EXPECT_EQ(j[0]["role"], "PLANET");
  EXPECT_EQ(j[0]["latency"], 3);
  EXPECT_EQ(j[0]["version"], "1.14.1");
  EXPECT_EQ(j[0]["isBonded"], false);
  EXPECT_EQ(j[0]["paths"][0]["address"], "127.0.0.1/29993");
  EXPECT_EQ(j[0]["paths"][0]["lastSend"], kNow - 1200);
  EXPECT_EQ(j[0]["paths"][0]["active"], true);
  EXPECT_EQ(j[0]["paths"][0]["expired"], false);
  EXPECT_EQ(j[0]["paths"][0]["preferred"], true);
  EXPECT_EQ(j[1]["version"], "-1.-1.-1");
  EXPECT_EQ(j[1]["latency"], -1);
  EXPECT_EQ(j[1]["paths"], json::array());

  EXPECT_EQ(body_of(api::handle(b, kToken, req("GET", "/peer/6aa7906649/")))["role"], "PLANET");
  EXPECT_EQ(api::handle(b, kToken, req("GET", "/peer/0000000001")).status, 404);
  EXPECT_EQ(api::handle(b, kToken, req("GET", "/peer/6aa790664")).status, 400);
  EXPECT_EQ(api::handle(b, kToken, req("GET", "/peer/6aa790664g")).status, 400);
  EXPECT_EQ(api::handle(b, kToken, req("POST", "/peer")).status, 405);
}

TEST(LocalApi, MoonsOrbitAndDeorbit) {
  FakeBackend b;
  EXPECT_EQ(body_of(api::handle(b, kToken, req("GET", "/moon"))), json::array());
  auto r = api::handle(b, kToken, req("POST", "/moon/deadbeef00", R"({"seed":"deadbeef00"})"));
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(b.orbits.size(), 1u);
  EXPECT_EQ(b.orbits[0], std::make_pair(uint64_t(0xdeadbeef00), proto::Address(0xdeadbeef00)));
  json m = body_of(r);
  EXPECT_EQ(m["id"], "000000deadbeef00");
  EXPECT_EQ(m["waiting"], true);
  EXPECT_EQ(m["roots"], json::array());

  // "seedAddress" is accepted too; PUT is POST; no body = no seed.
  EXPECT_EQ(api::handle(b, kToken, req("PUT", "/moon/1234", R"({"seedAddress":"0000001234"})")).status, 200);
  EXPECT_EQ(b.orbits.back().second, 0x1234u);
  EXPECT_EQ(api::handle(b, kToken, req("POST", "/moon/5678")).status, 200);
  EXPECT_EQ(b.orbits.back().second, 0u);
  EXPECT_EQ(body_of(api::handle(b, kToken, req("GET", "/moon"))).size(), 3u);

  EXPECT_EQ(api::handle(b, kToken, req("POST", "/moon/1", "not json")).status, 400);
  EXPECT_EQ(api::handle(b, kToken, req("POST", "/moon/1", R"({"seed":42})")).status, 400);
  EXPECT_EQ(api::handle(b, kToken, req("POST", "/moon/1", R"({"seed":"xyz"})")).status, 400);
  EXPECT_EQ(api::handle(b, kToken, req("POST", "/moon/0")).status, 400);
  EXPECT_EQ(api::handle(b, kToken, req("POST", "/moon/12345678901234567")).status, 400);

  EXPECT_EQ(api::handle(b, kToken, req("DELETE", "/moon/9999")).status, 404);
  EXPECT_EQ(api::handle(b, kToken, req("DELETE", "/moon/deadbeef00")).status, 200);
  EXPECT_EQ(b.deorbits, std::vector<uint64_t>{0xdeadbeef00});
  EXPECT_EQ(api::handle(b, kToken, req("GET", "/moon/deadbeef00")).status, 404);
  EXPECT_EQ(api::handle(b, kToken, req("GET", "/moon/1234")).status, 200);
}

TEST(LocalApi, NetworksAnswer501UntilTheBackendImplementsThem) {
  FakeBackend b;
  EXPECT_EQ(body_of(api::handle(b, kToken, req("GET", "/network"))), json::array());
  auto r = api::handle(b, kToken, req("POST", "/network/8056c2e21c000001", "{}"));
  EXPECT_EQ(r.status, 501);
  EXPECT_EQ(body_of(r)["error"], "virtual networks are not implemented yet");
  EXPECT_EQ(api::handle(b, kToken, req("DELETE", "/network/8056c2e21c000001")).status, 501);
  EXPECT_EQ(api::handle(b, kToken, req("GET", "/network/8056c2e21c000001")).status, 404);
  EXPECT_EQ(api::handle(b, kToken, req("POST", "/network/8056c2e21c00001")).status, 400);
  EXPECT_EQ(api::handle(b, kToken, req("POST", "/network/8056c2e21c000001", "[")).status, 400);

  // Wiring networks later is overriding join/leave/networks; the routes stay as they are.
  struct WithNetworks : FakeBackend {
    std::vector<uint64_t> joined;
    std::optional<Status> join(uint64_t nwid) override {
      joined.push_back(nwid);
      return ok_status();
    }
    std::optional<Status> leave(uint64_t nwid) override {
      std::erase(joined, nwid);
      return ok_status();
    }
    json networks() override {
      json a = json::array();
      for (auto n : joined) a.push_back({{"id", to_hex(n, 16)}, {"nwid", to_hex(n, 16)}, {"status", "OK"}});
      return a;
    }
  } w;
  r = api::handle(w, kToken, req("POST", "/network/8056c2e21c000001"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(body_of(r)["status"], "OK");
  EXPECT_EQ(body_of(api::handle(w, kToken, req("GET", "/network"))).size(), 1u);
  EXPECT_EQ(api::handle(w, kToken, req("GET", "/network/8056c2e21c000001")).status, 200);
  EXPECT_EQ(api::handle(w, kToken, req("DELETE", "/network/8056c2e21c000001")).status, 200);
  EXPECT_TRUE(w.joined.empty());
}

TEST(LocalApi, NetworkJsonHasZeroTierOneFields) {
  core::NetworkInfo n;
  n.nwid = 0x8056c2e21c000001;
  n.mac = proto::Mac(0x262746815c34);
  n.name = "earth";
  n.status = core::NetworkStatus::Ok;
  n.is_public = true;
  n.revision = 7;
  n.assigned_addresses.push_back(*proto::InetAddress::parse("10.147.17.5/24"));
  proto::NetworkRoute r;
  r.target = *proto::InetAddress::parse("10.147.17.0/24");
  n.routes.push_back(r);
  json j = api::network_json(n);
  EXPECT_EQ(j["id"], "8056c2e21c000001");
  EXPECT_EQ(j["nwid"], "8056c2e21c000001");
  EXPECT_EQ(j["mac"], "26:27:46:81:5c:34");
  EXPECT_EQ(j["name"], "earth");
  EXPECT_EQ(j["status"], "OK");
  EXPECT_EQ(j["type"], "PUBLIC");
  EXPECT_EQ(j["mtu"], 2800);
  EXPECT_EQ(j["netconfRevision"], 7);
  EXPECT_EQ(j["assignedAddresses"], json::array({"10.147.17.5/24"}));
  EXPECT_EQ(j["routes"][0]["target"], "10.147.17.0/24");
  EXPECT_TRUE(j["routes"][0]["via"].is_null());
  EXPECT_EQ(api::format_listnetworks(json::array({j})),
            "200 listnetworks <nwid> <name> <mac> <status> <type> <dev> <ZT assigned ips>\n"
            "200 listnetworks 8056c2e21c000001 earth 26:27:46:81:5c:34 OK PUBLIC - 10.147.17.5/24\n");
}

TEST(LocalApi, UnknownPathsAndMethods) {
  FakeBackend b;
  EXPECT_EQ(api::handle(b, kToken, req("GET", "/")).status, 404);
  EXPECT_EQ(api::handle(b, kToken, req("GET", "/nope")).status, 404);
  EXPECT_EQ(api::handle(b, kToken, req("GET", "/status/x")).status, 404);
  EXPECT_EQ(api::handle(b, kToken, req("PATCH", "/status")).status, 405);
  EXPECT_EQ(api::handle(b, kToken, req("HEAD", "/status")).status, 405);
  EXPECT_EQ(api::handle(b, kToken, req("POST", "/status")).status, 405);
  auto r = api::handle(b, kToken, req("GET", "/nope"));
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_TRUE(body_of(r)["error"].is_string());
}

// ---- zerotier-cli text ----------------------------------------------------------------------

TEST(LocalApi, CliTextMatchesZeroTierCli) {
  FakeBackend b;
  json status = body_of(api::handle(b, kToken, req("GET", "/status")));
  EXPECT_EQ(api::format_info(status), "200 info dcc856287c 1.14.1 ONLINE\n");
  status["online"] = false;
  EXPECT_EQ(api::format_info(status), "200 info dcc856287c 1.14.1 OFFLINE\n");

  json peers = body_of(api::handle(b, kToken, req("GET", "/peer")));
  EXPECT_EQ(api::format_peers(peers, kNow),
            "200 peers\n"
            "<ztaddr> <ver> <role> <lat> <link> <lastTX> <lastRX> <path>\n"
            "6aa7906649 1.14.1 PLANET 3 DIRECT 1200 1100 127.0.0.1/29993\n"
            "4b523fcfda - LEAF -1 RELAY -1 -1 -\n");
  EXPECT_EQ(api::format_listpeers(peers, kNow),
            "200 listpeers <ztaddr> <path> <latency> <version> <role>\n"
            "200 listpeers 6aa7906649 127.0.0.1/29993;1200;1100 3 1.14.1 PLANET\n"
            "200 listpeers 4b523fcfda - -1 - LEAF\n");

  json nets = json::array({{{"nwid", "8056c2e21c000001"},
                            {"name", "earth"},
                            {"mac", "26:27:46:81:5c:34"},
                            {"status", "OK"},
                            {"type", "PUBLIC"},
                            {"portDeviceName", "zt0"},
                            {"assignedAddresses", {"10.1.2.3/16", "fd00::1/88"}}}});
  EXPECT_EQ(api::format_listnetworks(nets),
            "200 listnetworks <nwid> <name> <mac> <status> <type> <dev> <ZT assigned ips>\n"
            "200 listnetworks 8056c2e21c000001 earth 26:27:46:81:5c:34 OK PUBLIC zt0 10.1.2.3/16,fd00::1/88\n");
}

// ---- auth token file ------------------------------------------------------------------------

TEST(LocalApi, TokenFileIsCreatedOnceWithMode0600) {
  const std::string t = runtime::random_token();
  EXPECT_EQ(t.size(), runtime::kAuthTokenLength);
  for (char c : t) EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) << c;
  EXPECT_NE(runtime::random_token(), t);

  const auto dir = std::filesystem::temp_directory_path() / ("ztcore_token_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto a = runtime::load_or_create_auth_token(dir.string());
  ASSERT_TRUE(a.ok()) << a.error();
  struct stat st {};
  ASSERT_EQ(::stat((dir / api::kTokenFile).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = runtime::load_or_create_auth_token(dir.string());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *a);
  // A token written by hand (trailing newline) is read back trimmed; an empty one is an error.
  ASSERT_TRUE(runtime::write_file_atomic((dir / api::kTokenFile).string(), as_bytes("handmade\n"), 0600));
  EXPECT_EQ(*runtime::load_or_create_auth_token(dir.string()), "handmade");
  ASSERT_TRUE(runtime::write_file_atomic((dir / api::kTokenFile).string(), as_bytes("\n"), 0600));
  EXPECT_FALSE(runtime::load_or_create_auth_token(dir.string()).ok());
  std::filesystem::remove_all(dir);
}

// ---- hostile or odd input -------------------------------------------------------------------

TEST(LocalApi, InvalidUtf8InThePathIsA400NotA500) {
  FakeBackend b;
  auto r = api::handle(b, kToken, req("GET", "/peer/\xff\xfe"));
  EXPECT_EQ(r.status, 400);
  EXPECT_TRUE(body_of(r).contains("error"));
}

TEST(LocalApi, CliTextToleratesOddShapes) {
  // Fields of the wrong type, non-object rows: defaults, never an exception.
  const json peers = json::parse(
      R"([1, {"address":"x","latency":"slow","versionMajor":"a","paths":[{"preferred":true,"active":true,"lastSend":"x"}]}])");
  EXPECT_NO_THROW(api::format_peers(peers, kNow));
  EXPECT_NO_THROW(api::format_listpeers(peers, kNow));
  EXPECT_NE(api::format_peers(peers, kNow).find("x - LEAF -1 DIRECT -1 -1 -\n"), std::string::npos)
      << api::format_peers(peers, kNow);
  EXPECT_EQ(api::format_info(json{{"online", "yes"}, {"address", 5}}), "200 info - - OFFLINE\n");
  EXPECT_NO_THROW(api::format_listnetworks(json::parse(R"([2, {"nwid":1,"assignedAddresses":[1,"a"]}])")));
}
