// The C++ API (include/ztcore/ztcore.hpp) over libztcore.so: typed ids, errors as zt::Error,
// RAII ownership (a node keeps its runtime alive; no callback after a node is gone), frames and
// network callbacks through std::function, and the Socket class (TCP and UDP) on the IP stack.
// Everything on 127.0.0.1; one lab (root + controller + two stack members) per test suite.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <sstream>
#include <thread>

#include <unistd.h>

#include "ztcore/ztcore.hpp"

using namespace std::chrono_literals;

namespace {

constexpr uint16_t kEthertype = 0x88b5;

template <class F>
bool wait_for(F&& pred, std::chrono::milliseconds limit = 30s) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

// A root named by its own planet, on a free loopback port.
struct Root {
  std::vector<uint8_t> planet;
  zt::Node node;
  static Root make(zt::Runtime& rt) {
    auto id = zt::generate_identity();
    uint16_t port;
    {
      zt::Node probe(rt, {.bind = "127.0.0.1", .identity = id, .allow_loopback = true});
      port = probe.port();
    }
    auto planet = zt::make_planet(1, 1700000000000ULL, id, "127.0.0.1/" + std::to_string(port));
    zt::Node n(rt, {.port = port, .bind = "127.0.0.1", .planet = planet, .identity = id, .allow_loopback = true});
    return Root{std::move(planet), std::move(n)};
  }
  zt::NodeOptions options() const { return {.bind = "127.0.0.1", .planet = planet, .allow_loopback = true}; }
};

}  // namespace

TEST(CppIds, PrintAsHexAndParse) {
  std::ostringstream s;
  s << zt::Address(0x89e92ceeULL) << " " << zt::NetworkId(0x8056c2e21c000001ULL) << " " << zt::Mac(0x021122334455ULL);
  EXPECT_EQ(s.str(), "0089e92cee 8056c2e21c000001 02:11:22:33:44:55");
  EXPECT_EQ(zt::Address::parse("0089E92CEE"), zt::Address(0x89e92ceeULL));
  EXPECT_EQ(zt::NetworkId::parse("8056c2e21c000001").controller(), zt::Address(0x8056c2e21cULL));
  EXPECT_EQ(zt::NetworkId::of(zt::Address(0x8056c2e21cULL), 1), zt::NetworkId(0x8056c2e21c000001ULL));
  EXPECT_EQ(zt::Address(0xff12345678ffULL).value, 0x12345678ffULL);  // 40 bits
  EXPECT_TRUE(zt::Mac::broadcast().is_broadcast());
  EXPECT_EQ(zt::Mac::of(zt::Address(0x1234567890ULL), zt::NetworkId(0x8056c2e21c000001ULL)).value,
            zt_network_mac(0x1234567890ULL, 0x8056c2e21c000001ULL));
  for (auto bad : {"", "xyz", "123456789012"}) {
    try {
      (void)zt::Address::parse(bad);
      FAIL() << bad;
    } catch (const zt::Error& e) {
      EXPECT_EQ(e.code(), zt::Result::InvalidArgument);
    }
  }
}

TEST(CppErrors, CarryCodeAndMessage) {
  try {
    zt::validate_identity("not an identity");
    FAIL();
  } catch (const zt::Error& e) {
    EXPECT_EQ(e.code(), zt::Result::InvalidArgument);
    EXPECT_STRNE(e.what(), "");
  }
  auto id = zt::generate_identity();
  EXPECT_EQ(zt::validate_identity(id).value, zt::validate_identity(id.substr(0, id.rfind(':'))).value);

  zt::Runtime rt;
  zt::Node a(rt, {.bind = "127.0.0.1", .allow_loopback = true});
  try {  // the same UDP port twice
    zt::Node b(rt, {.port = a.port(), .bind = "127.0.0.1", .allow_loopback = true});
    FAIL();
  } catch (const zt::Error& e) {
    EXPECT_EQ(e.code(), zt::Result::Io) << e.what();
  }
  EXPECT_FALSE(a.network(zt::NetworkId(1)).has_value());  // not joined: nullopt, no throw
  try {
    a.leave(zt::NetworkId(1));
    FAIL();
  } catch (const zt::Error& e) {
    EXPECT_TRUE(e.is(zt::Result::NotFound));
  }
  zt::Controller ctl;
  EXPECT_EQ(ctl.request("GET", "/controller/network/0123456789abcdef").status, 404);
  EXPECT_THROW(ctl.request_ok("GET", "/controller/network/0123456789abcdef"), zt::Error);
}

TEST(CppOwnership, NodeKeepsItsRuntimeAlive) {
  std::optional<zt::Node> node;
  {
    zt::Runtime rt;
    node.emplace(rt, zt::NodeOptions{.bind = "127.0.0.1", .allow_loopback = true});
    EXPECT_EQ(rt.use_count(), 2);
  }  // the Runtime object is gone; its loop is not
  auto st = node->status();
  EXPECT_NE(st.address.value, 0u);
  EXPECT_NE(st.port, 0);
  zt::Node moved = std::move(*node);
  EXPECT_FALSE(*node);
  EXPECT_THROW((void)node->status(), zt::Error);  // an empty handle is an error, not a crash
  EXPECT_EQ(moved.status().address, st.address);
  moved.reset();  // last reference: the node, then the runtime are freed (ASan/LSan check this)
  EXPECT_FALSE(moved);
  try {
    (void)moved.address();
    FAIL();
  } catch (const zt::Error& e) {
    EXPECT_EQ(e.code(), zt::Result::State);
  }
}

TEST(CppOwnership, ControllerOutlivesItsNode) {
  zt::Runtime rt;
  std::optional<zt::Node> cnode;
  {
    zt::Controller ctl;
    cnode.emplace(rt, zt::NodeOptions{.bind = "127.0.0.1", .allow_loopback = true, .controller = &ctl});
  }  // the Controller object is gone; the node still serves it
  auto nwid = zt::NetworkId::of(cnode->address(), 7);
  EXPECT_NO_THROW(cnode->join(nwid));
  cnode.reset();
}

// ABI 1.3: a Trace event carries its structured record (here 9000 NETWORK_JOINED, which fires
// inside join()).
TEST(CppEvents, TraceCarriesItsStructuredRecord) {
  zt::Runtime rt;
  std::vector<std::pair<uint32_t, std::string>> seen;  // only touched inside join() (runtime thread)
  std::vector<std::string> typed;  // name, nwid, reason of trace_view()
  zt::NodeOptions o{.bind = "127.0.0.1"};
  o.on_event = [&seen, &typed](const zt::Event& e) {
    if (e.type == zt::EventType::Trace && e.trace && e.trace->code == 9000) seen.emplace_back(e.trace->code, e.trace->reason);
    auto t = e.trace_view();
    EXPECT_EQ(t.has_value(), e.type == zt::EventType::Trace);
    if (t && t->code == 9000)
      typed.push_back(std::string(t->name()) + " " + t->nwid.to_string() + " " + std::string(t->reason) +
                      (t->rule ? " rule" : "") + (t->capability ? " cap" : "") + (t->peer ? " peer" : ""));
  };
  zt::Node n(rt, o);
  n.join(zt::NetworkId(0x1122334455667788ULL));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].first, 9000u);
  EXPECT_EQ(seen[0].second, "joined");
  ASSERT_EQ(typed.size(), 1u);
  EXPECT_EQ(typed[0], "NETWORK_JOINED 1122334455667788 joined");  // no rule, capability or peer
}

// Node::explain's reader of the library's JSON: escapes, nulls, nested values skipped, and
// anything that is not that shape refused (Node::explain then throws Error(Internal)).
TEST(CppExplain, ReadsTheTopLevelOfTheJson) {
  zt::Explanation x;
  ASSERT_TRUE(zt::detail::JsonTop(R"( {"verdict":"redirect","rule":12,"capability":4294967295,)"
                                  R"("reason":"a \"q\" \\ \n \u00e9 \ud83d\ude00 /","redirect_to":"00ab12cd34",)"
                                  R"("rules":[{"text":"}]\"","match":null,"x":[1,-2.5e3,true,{"y":[]}]}],"later":{}} )")
                  .explanation(x));
  EXPECT_EQ(x.verdict, "redirect");
  EXPECT_EQ(x.rule, 12);
  EXPECT_EQ(x.capability, 4294967295u);
  EXPECT_EQ(x.reason, "a \"q\" \\ \n \xc3\xa9 \xf0\x9f\x98\x80 /");
  EXPECT_EQ(x.redirect_to, zt::Address(0xab12cd34ULL));
  EXPECT_FALSE(x.accepted());
  zt::Explanation y;
  ASSERT_TRUE(zt::detail::JsonTop(R"({"verdict":"super-accept","rule":null,"capability":null,"redirect_to":null})")
                  .explanation(y));
  EXPECT_TRUE(y.accepted());
  EXPECT_FALSE(y.rule || y.capability || y.redirect_to);
  for (const char* bad : {"", "{", "[]", R"({"verdict":"drop",})", R"({"verdict":"drop"} x)", R"({"rule":"1"})",
                          R"({"verdict":"a\qb"})", R"({"reason":"\ud800"})", R"({"rules":[1,]})", R"({"capability":-1})"}) {
    zt::Explanation z;
    EXPECT_FALSE(zt::detail::JsonTop(bad).explanation(z)) << bad;
  }
}

TEST(CppPcap, StartStopAndBadPath) {
  zt::Runtime rt;
  zt::Node n(rt, {.bind = "127.0.0.1", .allow_loopback = true});
  const auto dir = std::filesystem::temp_directory_path() / ("ztcore_hpp_pcap_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  try {
    n.pcap_start((dir / "missing" / "n.pcapng").string());
    FAIL();
  } catch (const zt::Error& e) {
    EXPECT_EQ(e.code(), zt::Result::Io) << e.what();
  }
  EXPECT_THROW(n.pcap_start(""), zt::Error);
  EXPECT_NO_THROW(n.pcap_stop());  // nothing running
  const auto path = dir / "n.pcapng";
  n.pcap_start(path.string());
  const zt::NetworkId nwid(0x1122334455667788ULL);
  n.join(nwid);  // no config ever: the frame is captured as dropped
  n.send_frame(nwid, zt::Mac::broadcast(), kEthertype, "captured");
  n.pcap_stop();
  std::ifstream in(path, std::ios::binary);
  const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GE(file.size(), 28u);
  EXPECT_EQ(file.substr(0, 4), std::string("\x0a\x0d\x0d\x0a", 4));  // pcapng Section Header Block
  EXPECT_EQ(file.size() % 4, 0u);
  EXPECT_NE(file.find("zt-" + nwid.to_string()), std::string::npos);
  EXPECT_NE(file.find("captured"), std::string::npos);
  std::filesystem::remove_all(dir);
}

// The shared lab: root, controller node, private network 10.78.0.0/24 and two members with the IP
// stack whose frames are recorded.
class CppLab : public ::testing::Test {
 protected:
  struct Seen {
    std::mutex mu;
    std::vector<std::string> frames;
    int network_ok = 0;
  };
  static inline zt::Runtime* rt;
  static inline Root* root;
  static inline zt::Controller* ctl;
  static inline zt::Node *cnode, *a, *b;
  static inline zt::NetworkId nwid;
  static inline Seen *seen_a, *seen_b;
  static inline std::string ip_a, ip_b;

  static zt::NodeOptions member(Seen* seen) {
    auto o = root->options();
    o.join = {nwid};
    o.stack = true;
    o.on_frame = [seen](const zt::Frame& f) {
      if (f.ethertype != kEthertype) return;
      std::lock_guard lk(seen->mu);
      seen->frames.emplace_back(f.text());
    };
    o.on_network = [seen](zt::NetworkOp, const zt::NetworkInfo& info) {
      std::lock_guard lk(seen->mu);
      if (info.status == zt::NetworkStatus::Ok) ++seen->network_ok;
    };
    return o;
  }

  static void SetUpTestSuite() {
    rt = new zt::Runtime;
    root = new Root(Root::make(*rt));
    ctl = new zt::Controller;
    auto co = root->options();
    co.controller = ctl;
    cnode = new zt::Node(*rt, co);
    nwid = zt::NetworkId::of(cnode->address(), 1);
    ctl->request_ok("POST", "/controller/network/" + nwid.to_string(),
                    R"({"private":true,"v4AssignMode":{"zt":true},
                        "ipAssignmentPools":[{"ipRangeStart":"10.78.0.1","ipRangeEnd":"10.78.0.254"}],
                        "routes":[{"target":"10.78.0.0/24","via":null}]})");
    seen_a = new Seen;
    seen_b = new Seen;
    a = new zt::Node(*rt, member(seen_a));
    b = new zt::Node(*rt, member(seen_b));
    ctl->authorize(nwid, a->address());
    ctl->authorize(nwid, b->address());
    ASSERT_TRUE(wait_for([] {
      auto na = a->network(nwid), nb = b->network(nwid);
      if (!na || !nb) return false;
      ip_a = na->ip();
      ip_b = nb->ip();
      return !ip_a.empty() && !ip_b.empty();
    }));
  }
  static void TearDownTestSuite() {
    delete a;
    delete b;
    delete seen_a;
    delete seen_b;
    delete cnode;
    delete ctl;
    delete root;
    delete rt;
  }
};

TEST_F(CppLab, NetworkInfoAndFrames) {
  auto info = a->network(nwid);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->nwid, nwid);
  EXPECT_EQ(info->mac, a->mac(nwid));
  EXPECT_EQ(info->status, zt::NetworkStatus::Ok);
  EXPECT_EQ(info->status_name, "OK");
  EXPECT_EQ(info->ip().rfind("10.78.0.", 0), 0u) << info->ip();
  ASSERT_FALSE(info->routes.empty());
  EXPECT_EQ(info->routes[0].target, "10.78.0.0/24");
  {
    std::lock_guard lk(seen_a->mu);
    EXPECT_GE(seen_a->network_ok, 1);
  }
  // Unicast a→b and broadcast b→all; resend until seen (UDP on loopback may drop).
  ASSERT_TRUE(wait_for([] {
    a->send_frame(nwid, b->mac(nwid), kEthertype, "hello b");
    b->send_frame(nwid, zt::Mac::broadcast(), kEthertype, std::string_view("hello all"));
    std::this_thread::sleep_for(100ms);
    std::scoped_lock lk(seen_a->mu, seen_b->mu);
    auto has = [](const std::vector<std::string>& v, const char* s) { return std::find(v.begin(), v.end(), s) != v.end(); };
    return has(seen_b->frames, "hello b") && has(seen_a->frames, "hello all");
  }));
  std::vector<zt::Address> peers;
  for (auto& p : a->peers()) peers.push_back(p.address);
  EXPECT_NE(std::find(peers.begin(), peers.end(), root->node.address()), peers.end());
  EXPECT_GT(a->counters().packets_in, 0u);
}

// A node's callbacks never run after its destructor: the state they touch is freed right after
// and another node keeps sending to it (ASan reports any late call as heap-use-after-free).
TEST_F(CppLab, NoCallbackAfterNodeIsGone) {
  struct State {
    std::atomic<int> frames{0}, wires{0};
  };
  auto state = std::make_unique<State>();
  auto o = root->options();
  o.join = {nwid};
  State* s = state.get();
  o.on_frame = [s](const zt::Frame&) { s->frames++; };
  o.on_wire = [s](const zt::Wire&) { s->wires++; };
  o.on_event = [s](const zt::Event&) { s->wires++; };
  auto c = std::make_unique<zt::Node>(*rt, o);
  ctl->authorize(nwid, c->address());
  ASSERT_TRUE(wait_for([&] { auto n = c->network(nwid); return n && n->status == zt::NetworkStatus::Ok; }));
  const zt::Mac cmac = c->mac(nwid);
  std::atomic<bool> stop{false};
  std::thread sender([&] {
    while (!stop) {
      try {
        a->send_frame(nwid, cmac, kEthertype, "to c");
      } catch (const zt::Error&) {
      }
      std::this_thread::sleep_for(1ms);
    }
  });
  ASSERT_TRUE(wait_for([&] { return s->frames > 0; }));
  c.reset();
  const int frames = s->frames, wires = s->wires;
  state.reset();  // what the callbacks captured is gone
  std::this_thread::sleep_for(300ms);
  stop = true;
  sender.join();
  EXPECT_GT(frames, 0);
  EXPECT_GT(wires, 0);
}

TEST_F(CppLab, SocketTcpEchoAndUdp) {
  zt::Socket srv = zt::Socket::tcp(*b);
  ASSERT_TRUE(wait_for([&] {  // b's stack comes up right after its config
    try {
      srv.bind("", 7007);
      return true;
    } catch (const zt::Error&) {
      return false;
    }
  }, 5s));
  srv.listen();
  EXPECT_EQ(srv.local_address().port, 7007);
  zt::Socket cli = zt::Socket::tcp(*a);
  cli.set_timeout(10s);
  cli.connect(ip_b, 7007);
  auto [conn, peer] = srv.accept();
  EXPECT_EQ(peer.ip, ip_a);
  EXPECT_EQ(cli.peer_address().ip, ip_b);
  EXPECT_EQ(conn.local_address().to_string(), ip_b + ":7007");
  cli.send_all("ping over tcp");
  conn.set_timeout(10s);
  std::string got;
  while (got.size() < 13) {
    auto part = conn.recv();
    ASSERT_FALSE(part.empty());
    got += part;
  }
  EXPECT_EQ(got, "ping over tcp");
  conn.send_all(got);
  std::string back;
  while (back.size() < got.size()) back += cli.recv();
  EXPECT_EQ(back, got);
  cli.shutdown(ZT_SHUT_WR);
  EXPECT_EQ(conn.recv(), "");  // end of stream
  conn.close();
  EXPECT_FALSE(conn);
  EXPECT_THROW(conn.send("x"), zt::Error);

  // Nothing listening: refused.
  zt::Socket refused = zt::Socket::tcp(*a);
  refused.set_timeout(10s);
  try {
    refused.connect(ip_b, 7008);
    FAIL();
  } catch (const zt::Error& e) {
    EXPECT_EQ(e.code(), zt::Result::ConnRefused) << e.what();
  }

  // UDP: b bound, a sends datagrams until one arrives; b answers to the sender.
  zt::Socket ub = zt::Socket::udp(*b), ua = zt::Socket::udp(*a);
  ub.bind("", 7009);
  ub.set_timeout(200ms);
  ua.set_timeout(3s);
  std::pair<std::string, zt::Endpoint> dg;
  ASSERT_TRUE(wait_for([&] {
    ua.sendto("udp ping", ip_b, 7009);
    try {
      dg = ub.recvfrom();
      return true;
    } catch (const zt::Error& e) {
      return e.is(zt::Result::Timeout) || e.is(zt::Result::Again) ? false : throw;
    }
  }, 10s));
  EXPECT_EQ(dg.first, "udp ping");
  EXPECT_EQ(dg.second.ip, ip_a);
  ub.sendto("udp pong", dg.second.ip, dg.second.port);
  auto [reply, from] = ua.recvfrom();
  EXPECT_EQ(reply, "udp pong");
  EXPECT_EQ(from.to_string(), ip_b + ":7009");

  // Non-blocking: nothing waiting is Error(Again).
  ub.set_timeout(0ms);
  try {
    (void)ub.recvfrom();
    FAIL();
  } catch (const zt::Error& e) {
    EXPECT_TRUE(e.is(zt::Result::Again)) << e.what();
  }
}

TEST_F(CppLab, SocketOutlivingItsNodeIsAnError) {
  auto o = root->options();
  o.join = {nwid};
  o.stack = true;
  auto c = std::make_unique<zt::Node>(*rt, o);
  zt::Socket s = zt::Socket::udp(*c);
  c.reset();
  try {
    s.sendto("x", ip_a, 9);
    FAIL();
  } catch (const zt::Error& e) {
    EXPECT_EQ(e.code(), zt::Result::State) << e.what();
  }
  s.close();  // frees (ASan checks)
}

// ABI 1.3 diagnostics against real rules: on network 2 of the lab's controller a member drops
// ethertype 0x88b6 when it receives it (`drop chr inbound ethertype 0x88b6; accept;`, rules 0 chr,
// 1 ethertype, 2 drop, 3 accept). explain gives the verdicts without sending; the real frame is
// then dropped by the receiver, whose trace and capture name the same rule.
TEST_F(CppLab, ExplainTraceAndPcapAgreeOnARulesDrop) {
  constexpr uint16_t kDropped = 0x88b6;
  const zt::NetworkId rnwid = zt::NetworkId::of(cnode->address(), 2);
  ctl->request_ok("POST", "/controller/network/" + rnwid.to_string(),
                  R"({"name":"rules","private":true,"rulesSource":"drop chr inbound ethertype 0x88b6;\naccept;\n"})");
  struct Copy {  // a Trace copied out of the callback
    uint32_t code;
    std::string name;
    zt::NetworkId nwid;
    zt::Address peer;
    zt::Mac src, dst;
    uint16_t ethertype;
    bool inbound;
    std::optional<int> rule;
    std::string action, reason, frame;
    std::optional<uint32_t> capability;
  };
  struct Seen {
    std::mutex mu;
    std::vector<Copy> traces;
    std::vector<std::string> frames;
  };
  auto seen = std::make_shared<Seen>();
  auto ro = root->options();
  ro.join = {rnwid};
  ro.on_event = [seen](const zt::Event& e) {
    auto t = e.trace_view();
    if (!t || t->code != 2006) return;
    std::lock_guard lk(seen->mu);
    seen->traces.push_back({t->code, std::string(t->name()), t->nwid, t->peer, t->src_mac, t->dst_mac, t->ethertype,
                            t->inbound, t->rule, std::string(t->action), std::string(t->reason),
                            std::string(reinterpret_cast<const char*>(t->frame.data()), t->frame.size()), t->capability});
  };
  ro.on_frame = [seen](const zt::Frame& f) {
    std::lock_guard lk(seen->mu);
    seen->frames.emplace_back(f.text());
  };
  auto so = root->options();
  so.join = {rnwid};
  zt::Node recv(*rt, ro), send(*rt, so);
  ctl->authorize(rnwid, recv.address());
  ctl->authorize(rnwid, send.address());
  ASSERT_TRUE(wait_for([&] {
    auto r = recv.network(rnwid), s = send.network(rnwid);
    return r && s && r->status == zt::NetworkStatus::Ok && s->status == zt::NetworkStatus::Ok;
  }));

  const std::string marker = "dropped on the way in";
  auto frame = [&](uint16_t ethertype) {
    std::vector<uint8_t> f;
    for (zt::Mac m : {recv.mac(rnwid), send.mac(rnwid)})
      for (int i = 5; i >= 0; --i) f.push_back(uint8_t(m.value >> (8 * i)));
    f.push_back(uint8_t(ethertype >> 8));
    f.push_back(uint8_t(ethertype));
    f.insert(f.end(), marker.begin(), marker.end());
    return f;
  };
  // Sending passes (rule 3); receiving is dropped by rule 2; another ethertype passes both ways.
  zt::Explanation out = send.explain(rnwid, frame(kDropped));
  EXPECT_EQ(out.verdict, "accept");
  EXPECT_TRUE(out.accepted());
  EXPECT_EQ(out.rule, 3);
  EXPECT_FALSE(out.capability);
  EXPECT_EQ(out.reason.rfind("rule 3 ACCEPT", 0), 0u) << out.reason;
  zt::Explanation in = recv.explain(rnwid, frame(kDropped), true, send.address());
  EXPECT_EQ(in.verdict, "drop");
  EXPECT_FALSE(in.accepted());
  EXPECT_EQ(in.rule, 2);
  EXPECT_FALSE(in.capability);
  EXPECT_FALSE(in.redirect_to);
  EXPECT_EQ(in.reason.rfind("rule 2 DROP", 0), 0u) << in.reason;
  EXPECT_EQ(in.json.rfind("{\"verdict\":\"drop\"", 0), 0u) << in.json;
  EXPECT_NE(in.json.find("\"rules\":[{"), std::string::npos) << in.json;
  EXPECT_EQ(recv.explain(rnwid, frame(kDropped), true).rule, 2);  // the peer from the source MAC
  zt::Explanation other = recv.explain(rnwid, frame(kEthertype), true, send.address());
  EXPECT_EQ(other.verdict, "accept");
  EXPECT_EQ(other.rule, 3);

  // Errors: not joined, joined without a config, a frame shorter than its header, peer = self.
  auto expect_error = [&](zt::Result want, auto&& call) {
    try {
      call();
      ADD_FAILURE() << "no zt::Error";
    } catch (const zt::Error& e) {
      EXPECT_EQ(e.code(), want) << e.what();
    }
  };
  const zt::NetworkId unknown(rnwid.value ^ 0xff);
  expect_error(zt::Result::NotFound, [&] { (void)send.explain(unknown, frame(kDropped)); });
  send.join(unknown);  // the controller has no such network: never a config
  expect_error(zt::Result::State, [&] { (void)send.explain(unknown, frame(kDropped)); });
  send.leave(unknown);
  const std::vector<uint8_t> f = frame(kDropped);
  expect_error(zt::Result::InvalidArgument, [&] { (void)send.explain(rnwid, std::span(f).first(13)); });
  expect_error(zt::Result::InvalidArgument, [&] { (void)send.explain(rnwid, f, false, send.address()); });

  // The real frame: the receiver drops it by the rule explain named, traces that and captures it.
  const auto dir = std::filesystem::temp_directory_path() / ("ztcore_hpp_rules_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto pcap = dir / "recv.pcapng";
  recv.pcap_start(pcap.string());
  ASSERT_TRUE(wait_for([&] {
    send.send_frame(rnwid, recv.mac(rnwid), kDropped, marker);
    std::this_thread::sleep_for(100ms);
    std::lock_guard lk(seen->mu);
    return !seen->traces.empty();
  }));
  recv.pcap_stop();
  {
    std::lock_guard lk(seen->mu);
    const Copy& t = seen->traces.front();
    EXPECT_EQ(t.code, 2006u);
    EXPECT_EQ(t.name, "NETWORK_FILTER_TRACE");
    EXPECT_EQ(t.nwid, rnwid);
    EXPECT_EQ(t.peer, send.address());
    EXPECT_EQ(t.src, send.mac(rnwid));
    EXPECT_EQ(t.dst, recv.mac(rnwid));
    EXPECT_EQ(t.ethertype, kDropped);
    EXPECT_TRUE(t.inbound);
    EXPECT_EQ(t.rule, in.rule);
    EXPECT_EQ(t.action, "DROP");
    EXPECT_FALSE(t.capability);
    EXPECT_EQ(t.reason.rfind("rule 2 DROP", 0), 0u) << t.reason;
    EXPECT_EQ(t.frame, marker);
    EXPECT_EQ(std::count(seen->frames.begin(), seen->frames.end(), marker), 0);
  }
  std::ifstream file_in(pcap, std::ios::binary);
  const std::string file((std::istreambuf_iterator<char>(file_in)), std::istreambuf_iterator<char>());
  ASSERT_GE(file.size(), 4u);
  EXPECT_EQ(file.substr(0, 4), std::string("\x0a\x0d\x0d\x0a", 4));  // pcapng Section Header Block
  EXPECT_NE(file.find("zt-" + rnwid.to_string()), std::string::npos);
  EXPECT_NE(file.find(marker), std::string::npos);
  EXPECT_NE(file.find("in from " + send.address().to_string() + " dropped: rule 2 DROP"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(CppSocket, NodeWithoutStackRefuses) {
  zt::Runtime rt;
  zt::Node n(rt, {.bind = "127.0.0.1", .allow_loopback = true});
  try {
    (void)zt::Socket::tcp(n);
    FAIL();
  } catch (const zt::Error& e) {
    EXPECT_EQ(e.code(), zt::Result::State);
  }
}
