// Structured traces (core/trace.hpp): frame field extraction, §15 dictionaries, the human
// line; the local API's trace log (service/trace_log.hpp, GET /trace) and the controller's
// REMOTE_TRACE store (controller/remote_traces.hpp). End-to-end: sim/sim_trace_test.cpp.
#include <gtest/gtest.h>

#include "base/hex.hpp"
#include "controller/api_router.hpp"
#include "controller/embedded_controller.hpp"
#include "controller/remote_traces.hpp"
#include "core/trace.hpp"
#include "service/local_api.hpp"
#include "support/controller_support.hpp"

using namespace zt;
using core::TraceInfo;
using nlohmann::json;
using proto::Mac;

namespace {

constexpr uint64_t kNwid = 0x8056c2e21c000001ULL;
const Mac kSrc(0x32aabbccdd01ULL), kDst(0x32aabbccdd02ULL);

Bytes udp4() {
  Bytes p(28, 0);
  p[0] = 0x45, p[9] = 17;
  p[12] = 10, p[15] = 1;
  p[16] = 10, p[19] = 2;
  p[20] = 0x13, p[21] = 0x88;  // 5000
  p[22] = 0x00, p[23] = 0x35;  // 53
  return p;
}

TEST(Trace, SetFrameReadsIpv4AndPorts) {
  TraceInfo t;
  const Bytes p = udp4();
  t.set_frame(kSrc, kDst, 0x0800, 7, p);
  EXPECT_EQ(t.ip_version, 4);
  EXPECT_EQ(t.ip_source_string(), "10.0.0.1");
  EXPECT_EQ(t.ip_dest_string(), "10.0.0.2");
  EXPECT_EQ(t.ip_protocol, 17);
  EXPECT_EQ(t.port_source, 5000);
  EXPECT_EQ(t.port_dest, 53);
  EXPECT_EQ(t.frame_length, 28u);
  EXPECT_EQ(t.frame.size(), 28u);
  EXPECT_EQ(t.vlan, 7);
}

TEST(Trace, SetFrameReadsIpv6AndCapsTheFrameAt256) {
  Bytes p(300, 0);
  p[0] = 0x60, p[6] = 6;  // TCP
  p[8] = 0xfd, p[23] = 1;
  p[24] = 0xfd, p[39] = 2;
  p[40] = 0x00, p[41] = 0x16, p[42] = 0x01, p[43] = 0xbb;
  TraceInfo t;
  t.set_frame(kSrc, kDst, 0x86DD, 0, p);
  EXPECT_EQ(t.ip_version, 6);
  EXPECT_EQ(t.ip_source_string(), "fd00::1");
  EXPECT_EQ(t.ip_dest_string(), "fd00::2");
  EXPECT_EQ(t.ip_protocol, 6);
  EXPECT_EQ(t.port_source, 22);
  EXPECT_EQ(t.port_dest, 443);
  EXPECT_EQ(t.frame_length, 300u);
  EXPECT_EQ(t.frame.size(), 256u);
}

TEST(Trace, SetFrameToleratesTruncatedAndNonIpFrames) {
  for (size_t n = 0; n < 28; ++n) {
    const Bytes p = udp4();
    TraceInfo t;
    t.set_frame(kSrc, kDst, 0x0800, 0, ByteSpan(p).first(n));
    EXPECT_EQ(t.ip_version, n >= 20 ? 4 : 0) << n;
    if (n < 24) EXPECT_EQ(t.port_dest, 0) << n;
  }
  TraceInfo arp;
  const Bytes q = udp4();
  arp.set_frame(kSrc, kDst, 0x0806, 0, q);
  EXPECT_EQ(arp.ip_version, 0);
  EXPECT_EQ(arp.ip_source_string(), "");
}

TEST(Trace, OutgoingDropDictionaryHasSection15Keys) {
  const Bytes p = udp4();  // TraceInfo::frame points into it
  TraceInfo t = core::frame_trace(2000, kNwid, 0, false, kSrc, kDst, 0x0800, 0, p, "multicast disabled");
  auto d = core::remote_trace_dictionary(t);
  ASSERT_TRUE(d);
  std::vector<std::string> keys;
  for (const auto& e : d->entries()) keys.push_back(e.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"event", "networkId", "sourceMac", "destMac", "etherType", "vlanId",
                                            "frameLength", "reason"}));
  EXPECT_EQ(*d->get_string("event"), "2000");
  EXPECT_EQ(*d->get_string("sourceMac"), "000032aabbccdd01");
  EXPECT_EQ(*d->get_string("reason"), "multicast disabled");
  EXPECT_EQ(core::trace_remote_min_level(2000), 10u);
  EXPECT_EQ(core::trace_remote_min_level(2006), 15u);
  EXPECT_EQ(core::trace_remote_min_level(2003), 0u);
  EXPECT_FALSE(core::trace_remote_min_level(1004));
  TraceInfo own;
  own.code = core::trace_code::kNetworkJoined;
  EXPECT_FALSE(core::remote_trace_dictionary(own));
}

TEST(Trace, SummaryIsOneReadableLine) {
  const Bytes p = udp4();
  TraceInfo t = core::frame_trace(2006, kNwid, 0x89e92ceee5, true, kSrc, kDst, 0x0800, 0, p, "rule 2 DROP");
  t.rule = 2;
  t.action = "DROP";
  const std::string s = core::trace_summary(t);
  EXPECT_EQ(s.find('\n'), std::string::npos);
  for (const char* want : {"2006", "NETWORK_FILTER_TRACE", "8056c2e21c000001", "rule 2 DROP", "10.0.0.1:5000",
                           "10.0.0.2:53", "32:aa:bb:cc:dd:01", "peer 89e92ceee5"})
    EXPECT_NE(s.find(want), std::string::npos) << want << " in " << s;
}

// GET /trace over the local API: JSON lines after a sequence number.
class TraceBackend : public service::Backend {
 public:
  service::TraceLog log{3};
  int64_t now() override { return 0; }
  core::NodeStatus status() override { return {}; }
  service::NodeSettings settings() override { return {}; }
  std::vector<core::PeerInfo> peers() override { return {}; }
  std::optional<proto::World> moon_world(uint64_t) override { return std::nullopt; }
  Status orbit(uint64_t, proto::Address) override { return ok_status(); }
  Status deorbit(uint64_t) override { return ok_status(); }
  service::TraceLog* trace_log() override { return &log; }
};

TEST(Trace, LocalApiServesTheTraceLogAsJsonLines) {
  TraceBackend b;
  const Bytes p = udp4();
  for (int i = 0; i < 5; ++i) {
    TraceInfo t = core::frame_trace(2002, kNwid, 0x89e92ceee5, true, kSrc, kDst, 0x0800, 0, p, "multicast disabled");
    core::Event e{core::EventType::Trace, "dropped " + std::to_string(i)};
    e.trace = &t;
    b.log.push(e, 1700000000000 + i);
  }
  service::Request r;
  r.method = "GET";
  r.path = "/trace";
  r.headers["x-zt1-auth"] = "tok";
  r.query["after"] = "3";
  auto res = service::handle(b, "tok", r);
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.content_type, "application/x-ndjson");
  std::vector<json> lines;
  size_t at = 0;
  while (at < res.body.size()) {
    size_t nl = res.body.find('\n', at);
    lines.push_back(json::parse(res.body.substr(at, nl - at)));
    at = nl + 1;
  }
  ASSERT_EQ(lines.size(), 2u);  // capacity 3 keeps 3..5; after 3: 4 and 5
  EXPECT_EQ(lines[0]["seq"], 4);
  EXPECT_EQ(lines[1]["text"], "dropped 4");
  EXPECT_EQ(lines[1]["code"], 2002);
  EXPECT_EQ(lines[1]["sourceIp"], "10.0.0.1");
  EXPECT_EQ(lines[1]["destPort"], 53);
  EXPECT_EQ(lines[1]["reason"], "multicast disabled");
  EXPECT_NE(service::format_trace(lines[1]).find("TRACE 2002 INCOMING_NETWORK_FRAME_DROPPED"), std::string::npos);
  r.query["after"] = "x";
  EXPECT_EQ(service::handle(b, "tok", r).status, 400);
}

TEST(Trace, ControllerStoreDecodesAndKeepsOnlyItsNetworks) {
  const Bytes p = udp4();
  TraceInfo t = core::frame_trace(2006, kNwid, 0, true, kSrc, kDst, 0x0800, 0, p, "");
  t.zt_source = 0x89e92ceee5;
  t.filter_result = 1;
  const Bytes dict = core::remote_trace_dictionary(t)->serialize();
  controller::RemoteTraceStore store(2);
  const uint64_t owner = kNwid >> 24;
  auto owns = [owner](uint64_t nwid) { return (nwid >> 24) == owner; };
  auto j = store.add(dict, 0x89e92ceee5, 42, owns);
  ASSERT_TRUE(j);
  EXPECT_EQ((*j)["event"], "2006");
  EXPECT_EQ((*j)["name"], "NETWORK_FILTER_TRACE");
  EXPECT_EQ((*j)["networkId"], "8056c2e21c000001");
  EXPECT_EQ((*j)["sourceZtAddr"], "89e92ceee5");
  EXPECT_EQ((*j)["sourceMac"], "32:aa:bb:cc:dd:01");
  EXPECT_EQ((*j)["filterInbound"], true);
  EXPECT_EQ((*j)["filterResult"], 1);
  EXPECT_EQ((*j)["frameData"], to_hex(p));
  EXPECT_EQ((*j)["origin"], "89e92ceee5");
  EXPECT_FALSE(store.add(dict, 1, 43, [](uint64_t) { return false; }));
  EXPECT_FALSE(store.add(as_bytes(std::string_view("garbage")), 1, 43, owns));
  store.add(dict, 1, 44, owns);
  store.add(dict, 1, 45, owns);
  json kept = store.list(kNwid);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_EQ(kept[1]["receivedAt"], 45);
  EXPECT_TRUE(store.list(1).empty());
  // At most kMaxNetworks networks are kept, whatever members send.
  for (uint64_t i = 1; i <= controller::RemoteTraceStore::kMaxNetworks; ++i) {
    t.nwid = kNwid + i;
    const bool stored = store.add(core::remote_trace_dictionary(t)->serialize(), 1, 50, owns).has_value();
    EXPECT_EQ(stored, i < controller::RemoteTraceStore::kMaxNetworks) << i;
  }
  EXPECT_EQ(store.list(kNwid).size(), 2u);
}

// The controller's node hands REMOTE_TRACE to the controller, which serves it at
// GET /controller/network/<nwid>/trace (404 for an unknown network; others' networks ignored).
TEST(Trace, ControllerApiServesRemoteTraces) {
  controller::MemoryControllerDb db;
  test::FakeSender sender(test::load_identity("controller.identity.secret"));
  std::vector<std::string> logged;
  controller::ControllerOptions o;
  o.log = [&](const std::string& l) { logged.push_back(l); };
  controller::EmbeddedController ctl(db, o);
  ctl.attach(&sender);
  const uint64_t nwid = (ctl.address() << 24) | 0x000abc;
  ASSERT_TRUE(ctl.write_network(1000, nwid, json{{"name", "t"}}).ok());
  const Bytes p = udp4();
  TraceInfo t = core::frame_trace(2006, nwid, 0, false, kSrc, kDst, 0x0800, 0, p, "");
  t.zt_source = 0x89e92ceee5;
  ctl.on_remote_trace(2000, 0x89e92ceee5, core::remote_trace_dictionary(t)->serialize());
  t.nwid = kNwid;  // not this controller's network
  ctl.on_remote_trace(2001, 0x89e92ceee5, core::remote_trace_dictionary(t)->serialize());
  auto r = controller::route_api(ctl, db, 3000, "GET", "/controller/network/" + to_hex(nwid, 16) + "/trace", "");
  ASSERT_EQ(r.response.status, 200) << r.response.body.dump();
  ASSERT_EQ(r.response.body.size(), 1u);
  EXPECT_EQ(r.response.body[0]["event"], "2006");
  EXPECT_EQ(r.response.body[0]["receivedAt"], 2000);
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_NE(logged[0].find("REMOTE_TRACE from 89e92ceee5 2006 NETWORK_FILTER_TRACE"), std::string::npos) << logged[0];
  EXPECT_EQ(controller::route_api(ctl, db, 3000, "GET", "/controller/network/" + to_hex(nwid + 1, 16) + "/trace", "")
                .response.status,
            404);
  EXPECT_EQ(controller::route_api(ctl, db, 3000, "POST", "/controller/network/" + to_hex(nwid, 16) + "/trace", "")
                .response.status,
            405);
}

}  // namespace
