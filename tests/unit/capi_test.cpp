// The C ABI 1.1 end to end, through nothing but include/ztcore/ztcore.h: on 127.0.0.1 a root
// named by a planet from zt_planet_make, a node serving an embedded zt_controller, and three
// members. A private network is created and members are authorized with
// zt_controller_request (zerotier-one's controller paths, no HTTP); frames, user messages and
// the wire tap are observed through the callbacks. Plus the error contract of every new
// function and a SQLite-backed controller surviving free + new.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ztcore/ztcore.h"
#include "support/pg_test_server.hpp"

using nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr uint16_t kEthertype = 0x88b5;  // IEEE 802 local experimental
constexpr uint64_t kBroadcast = 0xffffffffffffULL;
constexpr auto kWait = 30s;  // generous: CI machines are shared

std::string hex(uint64_t v, int digits) {
  char b[32];
  std::snprintf(b, sizeof b, "%0*llx", digits, static_cast<unsigned long long>(v));
  return b;
}

struct Rx {
  uint64_t nwid, src, dst;
  uint16_t ethertype, vlan;
  std::string data;
};

struct UserMsg {
  uint64_t peer, type_id;
  std::string data;
};

struct Lab;

// What one node saw through its callbacks (guarded by Lab::mu).
struct Seen {
  Lab* lab = nullptr;
  bool online = false;
  std::vector<Rx> frames;
  std::vector<std::string> traces;
  // The structured record of each TRACE (ABI 1.3), copied out of the callback.
  struct Trace {
    zt_trace t;
    std::string action, reason, frame;
  };
  std::vector<Trace> trace_infos;
  bool trace_missing = false;  // a TRACE without its zt_trace
  std::vector<UserMsg> messages;
  std::map<uint64_t, zt_network_info> nets;  // last info per network
  std::vector<int> ops;
  size_t wire_in = 0, wire_out = 0;
  std::set<std::string> remotes_in, remotes_out;
  bool wire_bad = false;  // a tap report with an impossible field

  size_t frames_with(const std::string& d) const {
    size_t n = 0;
    for (const auto& f : frames) n += f.data == d;
    return n;
  }
  int status(uint64_t nwid) const {
    auto it = nets.find(nwid);
    return it == nets.end() ? -1 : it->second.status;
  }
  bool traced(const std::string& needle) const {
    for (const auto& t : traces)
      if (t.find(needle) != std::string::npos) return true;
    return false;
  }
};

struct Lab {
  std::mutex mu;
  std::condition_variable cv;

  template <class P>
  bool wait(P pred, std::chrono::milliseconds t = kWait) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, t, pred);
  }
};

void on_event(zt_node*, void* user, const zt_event* e) {
  auto* s = static_cast<Seen*>(user);
  std::lock_guard lk(s->lab->mu);
  switch (e->type) {
    case ZT_EVENT_ONLINE:
      s->online = true;
      break;
    case ZT_EVENT_OFFLINE:
      s->online = false;
      break;
    case ZT_EVENT_TRACE:
      s->traces.emplace_back(e->text ? e->text : "");
      if (!e->trace) {
        s->trace_missing = true;
      } else {
        Seen::Trace t{*e->trace, e->trace->action, e->trace->reason,
                      std::string(reinterpret_cast<const char*>(e->trace->frame), e->trace->frame_captured)};
        t.t.action = t.t.reason = nullptr;
        t.t.frame = nullptr;
        s->trace_infos.push_back(std::move(t));
      }
      break;
    case ZT_EVENT_USER_MESSAGE:
      s->messages.push_back({e->peer, e->type_id, std::string(reinterpret_cast<const char*>(e->data), e->len)});
      break;
    default:
      break;
  }
  s->lab->cv.notify_all();
}

void on_frame(zt_node*, void* user, const zt_frame* f) {
  auto* s = static_cast<Seen*>(user);
  std::lock_guard lk(s->lab->mu);
  s->frames.push_back(
      {f->nwid, f->src_mac, f->dst_mac, f->ethertype, f->vlan, std::string(reinterpret_cast<const char*>(f->data), f->len)});
  s->lab->cv.notify_all();
}

void on_network(zt_node*, void* user, int op, const zt_network_info* info) {
  auto* s = static_cast<Seen*>(user);
  std::lock_guard lk(s->lab->mu);
  s->nets[info->nwid] = *info;
  s->ops.push_back(op);
  s->lab->cv.notify_all();
}

void on_wire(zt_node*, void* user, const zt_wire* w) {
  auto* s = static_cast<Seen*>(user);
  std::lock_guard lk(s->lab->mu);
  const std::string remote = w->remote;
  if ((w->direction != ZT_WIRE_RECEIVED && w->direction != ZT_WIRE_SENT) || w->len == 0 || !w->data ||
      w->time_ms < 1500000000000LL || remote.rfind("127.0.0.1/", 0) != 0)
    s->wire_bad = true;
  if (w->direction == ZT_WIRE_RECEIVED) {
    ++s->wire_in;
    s->remotes_in.insert(remote);
  } else {
    ++s->wire_out;
    s->remotes_out.insert(remote);
  }
}

std::string generate_identity() {
  char buf[512];
  EXPECT_EQ(zt_identity_generate(buf, sizeof buf), ZT_OK) << zt_last_error();
  return buf;
}

struct Response {
  zt_result rc;
  int status = 0;
  json body;
  std::string text;
};

Response request(zt_controller* c, const char* method, const std::string& path, const char* body = nullptr) {
  std::vector<char> out(1 << 20);
  size_t len = 0;
  Response r;
  r.rc = zt_controller_request(c, method, path.c_str(), body, out.data(), out.size(), &len, &r.status);
  if (r.rc == ZT_OK) {
    r.text = out.data();
    EXPECT_EQ(len, r.text.size() + 1);
    r.body = json::parse(r.text, nullptr, false);
  }
  return r;
}

// Runtime, root, controller node and members; every node reports into its own Seen.
class Net {
 public:
  Lab lab;
  zt_runtime* rt = nullptr;
  zt_controller* ctl = nullptr;
  std::vector<uint8_t> planet;
  uint16_t root_port = 0;
  zt_node* root = nullptr;
  zt_node* cnode = nullptr;
  std::vector<zt_node*> members;
  std::map<zt_node*, std::unique_ptr<Seen>> seen;

  ~Net() {
    for (zt_node* m : members) zt_node_free(m);
    zt_node_free(cnode);
    zt_node_free(root);
    zt_controller_free(ctl);
    zt_runtime_free(rt);
  }

  std::unique_ptr<Seen> new_seen() {
    auto s = std::make_unique<Seen>();
    s->lab = &lab;
    return s;
  }

  void options(zt_node_options& o, Seen* s, const char* identity = nullptr, uint16_t port = 0) {
    zt_node_options_init(&o);
    o.port = port;
    o.bind = "127.0.0.1";
    o.allow_loopback = 1;
    o.identity = identity;
    if (!planet.empty()) {
      o.planet = planet.data();
      o.planet_len = planet.size();
    }
    o.user = s;
    o.on_event = on_event;
    o.on_frame = on_frame;
    o.on_network = on_network;
    o.on_wire = on_wire;
  }

  zt_node* add(zt_node_options& o, std::unique_ptr<Seen> s) {
    zt_node* n = nullptr;
    EXPECT_EQ(zt_node_new(rt, &o, &n), ZT_OK) << zt_last_error();
    if (n) seen[n] = std::move(s);
    return n;
  }

  Seen& of(zt_node* n) { return *seen.at(n); }

  // The root: its port is learned by a probe node on port 0 that is freed again, then the
  // planet names it (another process could take the port in between: retried).
  void start_root() {
    ASSERT_EQ(zt_runtime_new(&rt), ZT_OK);
    const std::string root_id = generate_identity();
    for (int attempt = 0; attempt < 5 && !root; ++attempt) {
      zt_node_options o;
      zt_node_options_init(&o);
      o.port = 0;
      o.bind = "127.0.0.1";
      o.identity = root_id.c_str();
      zt_node* probe = nullptr;
      ASSERT_EQ(zt_node_new(rt, &o, &probe), ZT_OK) << zt_last_error();
      zt_node_status st;
      ASSERT_EQ(zt_node_status_get(probe, &st), ZT_OK);
      root_port = st.port;
      zt_node_free(probe);

      const std::string ep = "127.0.0.1/" + std::to_string(root_port);
      size_t len = 0;
      ASSERT_EQ(zt_planet_make(0x1ab, 1700000000000ULL, root_id.c_str(), ep.c_str(), nullptr, 0, &len), ZT_ERR_TOO_LARGE);
      planet.assign(len, 0);
      ASSERT_EQ(zt_planet_make(0x1ab, 1700000000000ULL, root_id.c_str(), ep.c_str(), planet.data(), planet.size(), &len),
                ZT_OK)
          << zt_last_error();
      auto s = new_seen();
      zt_node_options ro;
      options(ro, s.get(), root_id.c_str(), root_port);
      zt_node* n = nullptr;
      if (zt_node_new(rt, &ro, &n) == ZT_OK) {
        root = n;
        seen[n] = std::move(s);
      }
    }
    ASSERT_NE(root, nullptr) << "cannot start the root: " << zt_last_error();
  }

  void start_controller(zt_controller* c) {
    ctl = c;
    auto s = new_seen();
    zt_node_options o;
    options(o, s.get());
    o.controller = ctl;
    cnode = add(o, std::move(s));
    ASSERT_NE(cnode, nullptr);
  }
};

}  // namespace

TEST(CApi, PrivateNetworkEndToEnd) {
  Net net;
  ASSERT_NO_FATAL_FAILURE(net.start_root());
  zt_controller* c = nullptr;
  ASSERT_EQ(zt_controller_new(nullptr, &c), ZT_OK) << zt_last_error();
  ASSERT_NO_FATAL_FAILURE(net.start_controller(c));
  const uint64_t caddr = zt_node_address(net.cnode);
  ASSERT_NE(caddr, 0u);

  // The root runs the planet we made.
  zt_node_status rs;
  ASSERT_EQ(zt_node_status_get(net.root, &rs), ZT_OK);
  EXPECT_EQ(rs.planet_id, 0x1abu);
  EXPECT_EQ(rs.planet_timestamp, 1700000000000ULL);

  // A private network under the controller's address.
  const char* netjson = R"({"name":"capi-test","private":true,"enableBroadcast":true,"multicastLimit":32,
      "v4AssignMode":{"zt":true},
      "ipAssignmentPools":[{"ipRangeStart":"10.147.20.1","ipRangeEnd":"10.147.20.254"}],
      "routes":[{"target":"10.147.20.0/24","via":null}]})";
  Response created = request(c, "POST", "/controller/network/" + hex(caddr, 10) + "______", netjson);
  ASSERT_EQ(created.rc, ZT_OK) << zt_last_error();
  ASSERT_EQ(created.status, 200) << created.text;
  ASSERT_TRUE(created.body.is_object()) << created.text;
  const std::string nwid_s = created.body.value("id", "");
  ASSERT_EQ(nwid_s.size(), 16u);
  EXPECT_EQ(nwid_s.substr(0, 10), hex(caddr, 10));
  EXPECT_EQ(created.body.value("nwid", ""), nwid_s);
  EXPECT_EQ(created.body.value("name", ""), "capi-test");
  EXPECT_EQ(created.body.value("private", false), true);
  const uint64_t nwid = std::stoull(nwid_s, nullptr, 16);
  Response listed = request(c, "GET", "/controller/network");
  ASSERT_EQ(listed.status, 200);
  EXPECT_EQ(listed.body, json::array({nwid_s}));

  // Members: n1 joins through its options, n2 and n3 with zt_node_join.
  for (int i = 0; i < 3; ++i) {
    auto s = net.new_seen();
    zt_node_options o;
    net.options(o, s.get());
    if (i == 0) {
      o.join = &nwid;
      o.join_count = 1;
    }
    zt_node* m = net.add(o, std::move(s));
    ASSERT_NE(m, nullptr);
    net.members.push_back(m);
    if (i > 0) {
      ASSERT_EQ(zt_node_join(m, nwid), ZT_OK) << zt_last_error();
    }
  }
  zt_node* n1 = net.members[0];
  zt_node* n2 = net.members[1];
  zt_node* n3 = net.members[2];
  const uint64_t mac1 = zt_network_mac(zt_node_address(n1), nwid);
  const uint64_t mac2 = zt_network_mac(zt_node_address(n2), nwid);
  const uint64_t mac3 = zt_network_mac(zt_node_address(n3), nwid);

  // Not authorized yet: every member is refused.
  ASSERT_TRUE(net.lab.wait([&] {
    for (zt_node* m : net.members)
      if (net.of(m).status(nwid) != ZT_NETWORK_ACCESS_DENIED) return false;
    return true;
  })) << "members did not see ACCESS_DENIED";
  {
    std::lock_guard lk(net.lab.mu);
    EXPECT_STREQ(net.of(n1).nets[nwid].status_name, "ACCESS_DENIED");
    EXPECT_FALSE(net.of(n1).nets[nwid].has_config);
  }

  // Authorize each one.
  for (zt_node* m : net.members) {
    Response r = request(c, "POST", "/controller/network/" + nwid_s + "/member/" + hex(zt_node_address(m), 10),
                         R"({"authorized":true})");
    ASSERT_EQ(r.rc, ZT_OK);
    ASSERT_EQ(r.status, 200) << r.text;
    EXPECT_EQ(r.body.value("authorized", false), true);
    EXPECT_EQ(r.body.value("address", ""), hex(zt_node_address(m), 10));
  }
  ASSERT_TRUE(net.lab.wait([&] {
    for (zt_node* m : net.members)
      if (net.of(m).status(nwid) != ZT_NETWORK_OK) return false;
    return true;
  })) << "members did not get a config";

  // What the callback reported agrees with zt_node_networks / zt_node_network.
  for (zt_node* m : net.members) {
    zt_network_info cb;
    {
      std::lock_guard lk(net.lab.mu);
      cb = net.of(m).nets[nwid];
    }
    EXPECT_EQ(cb.nwid, nwid);
    EXPECT_EQ(cb.mac, zt_network_mac(zt_node_address(m), nwid));
    EXPECT_STREQ(cb.status_name, "OK");
    EXPECT_STREQ(cb.name, "capi-test");
    EXPECT_TRUE(cb.has_config);
    EXPECT_FALSE(cb.is_public);
    EXPECT_TRUE(cb.broadcast);
    EXPECT_EQ(cb.multicast_limit, 32u);
    ASSERT_GE(cb.address_count, 1u);
    EXPECT_EQ(std::string(cb.addresses[0]).rfind("10.147.20.", 0), 0u) << cb.addresses[0];
    EXPECT_NE(std::string(cb.addresses[0]).find("/24"), std::string::npos) << cb.addresses[0];
    ASSERT_EQ(cb.route_count, 1u);
    EXPECT_STREQ(cb.routes[0].target, "10.147.20.0/24");
    EXPECT_STREQ(cb.routes[0].via, "");
    {
      std::lock_guard lk(net.lab.mu);
      const auto& ops = net.of(m).ops;
      EXPECT_NE(std::find(ops.begin(), ops.end(), int(ZT_NETWORK_OP_UP)), ops.end()) << "no OP_UP with the first config";
    }

    auto list = std::make_unique<zt_network_info[]>(2);
    size_t count = 0;
    ASSERT_EQ(zt_node_networks(m, list.get(), 2, &count), ZT_OK);
    ASSERT_EQ(count, 1u);
    auto one = std::make_unique<zt_network_info>();
    ASSERT_EQ(zt_node_network(m, nwid, one.get()), ZT_OK);
    for (const zt_network_info* x : {&list[0], one.get()}) {
      EXPECT_EQ(x->nwid, cb.nwid);
      EXPECT_EQ(x->mac, cb.mac);
      EXPECT_EQ(x->status, cb.status);
      EXPECT_EQ(x->revision, cb.revision);
      EXPECT_EQ(x->mtu, cb.mtu);
      ASSERT_EQ(x->address_count, cb.address_count);
      for (unsigned i = 0; i < cb.address_count; ++i) EXPECT_STREQ(x->addresses[i], cb.addresses[i]);
    }
    // Counting without an array.
    EXPECT_EQ(zt_node_networks(m, nullptr, 0, &count), ZT_OK);
    EXPECT_EQ(count, 1u);
  }
  std::set<std::string> ips;
  {
    std::lock_guard lk(net.lab.mu);
    for (zt_node* m : net.members) ips.insert(net.of(m).nets[nwid].addresses[0]);
  }
  EXPECT_EQ(ips.size(), 3u) << "assigned addresses must differ";

  // Broadcast from n1 reaches n2 and n3 (that it never comes back to n1 is checked in virtual
  // time: tests/sim/sim_silence_test.cpp). UDP may lose a copy, so it is repeated until both
  // have it.
  const std::string ping = "ping from n1";
  ASSERT_TRUE([&] {
    for (int i = 0; i < 10; ++i) {
      EXPECT_EQ(zt_node_send_frame(n1, nwid, mac1, kBroadcast, kEthertype, 0, ping.data(), ping.size()), ZT_OK)
          << zt_last_error();
      if (net.lab.wait([&] { return net.of(n2).frames_with(ping) && net.of(n3).frames_with(ping); }, 3s)) return true;
    }
    return false;
  }()) << "broadcast did not reach n2 and n3";
  {
    std::lock_guard lk(net.lab.mu);
    for (zt_node* m : {n2, n3})
      for (const Rx& f : net.of(m).frames)
        if (f.data == ping) {
          EXPECT_EQ(f.nwid, nwid);
          EXPECT_EQ(f.src, mac1);
          EXPECT_EQ(f.dst, kBroadcast);
          EXPECT_EQ(f.ethertype, kEthertype);
        }
  }

  // Unicast replies to n1's MAC, with bytes that are not text.
  std::string pong2("pong\0from\xff n2", 13), pong3("pong\0from\xff n3", 13);
  for (auto [m, mac, pong] : {std::tuple{n2, mac2, &pong2}, std::tuple{n3, mac3, &pong3}}) {
    ASSERT_TRUE([&] {
      for (int i = 0; i < 10; ++i) {
        EXPECT_EQ(zt_node_send_frame(m, nwid, mac, mac1, kEthertype, 0, pong->data(), pong->size()), ZT_OK);
        if (net.lab.wait([&] { return net.of(n1).frames_with(*pong) > 0; }, 3s)) return true;
      }
      return false;
    }()) << "unicast reply missing";
    std::lock_guard lk(net.lab.mu);
    for (const Rx& f : net.of(n1).frames)
      if (f.data == *pong) {
        EXPECT_EQ(f.src, mac);
        EXPECT_EQ(f.dst, mac1);
        EXPECT_EQ(f.ethertype, kEthertype);
        EXPECT_EQ(f.vlan, 0);
      }
  }

  // A frame with a foreign source MAC is not sent, and a trace names it; the path still works
  // after it. (That the forged frame reaches nobody is checked in virtual time:
  // sim_silence_test.cpp.)
  const std::string forged = "forged";
  EXPECT_EQ(zt_node_send_frame(n1, nwid, 0x02aabbccddeeULL, mac2, kEthertype, 0, forged.data(), forged.size()), ZT_OK);
  ASSERT_TRUE(net.lab.wait([&] { return net.of(n1).traced("02:aa:bb:cc:dd:ee"); })) << "no trace for the forged frame";
  {
    // Its structured record: 2000 OUTGOING_NETWORK_FRAME_DROPPED, "not a bridge", the frame.
    std::lock_guard lk(net.lab.mu);
    EXPECT_FALSE(net.of(n1).trace_missing);
    int found = 0;
    for (const auto& t : net.of(n1).trace_infos) {
      if (t.t.src_mac != 0x02aabbccddeeULL) continue;
      ++found;
      EXPECT_EQ(t.t.code, 2000u);
      EXPECT_EQ(t.t.nwid, nwid);
      EXPECT_EQ(t.t.dst_mac, mac2);
      EXPECT_EQ(t.t.ethertype, kEthertype);
      EXPECT_EQ(t.t.frame_len, forged.size());
      EXPECT_EQ(t.t.ip_version, 0);
      EXPECT_STREQ(t.t.src_ip, "");
      EXPECT_EQ(t.t.inbound, 0);
      EXPECT_EQ(t.t.rule, -1);
      EXPECT_EQ(t.reason, "not a bridge");
      EXPECT_EQ(t.frame, forged);
    }
    EXPECT_EQ(found, 1);
  }
  const std::string marker = "marker after forged";
  ASSERT_TRUE([&] {
    for (int i = 0; i < 10; ++i) {
      EXPECT_EQ(zt_node_send_frame(n1, nwid, mac1, mac2, kEthertype, 0, marker.data(), marker.size()), ZT_OK);
      if (net.lab.wait([&] { return net.of(n2).frames_with(marker) > 0; }, 3s)) return true;
    }
    return false;
  }());

  // A user message round-trips intact (binary payload, 64-bit type id).
  std::string payload(300, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = char(i * 7);
  const uint64_t type_id = 0x0123456789abcdefULL;
  ASSERT_TRUE([&] {
    for (int i = 0; i < 10; ++i) {
      EXPECT_EQ(zt_node_send_user_message(n2, zt_node_address(n3), type_id, payload.data(), payload.size()), ZT_OK);
      if (net.lab.wait([&] { return !net.of(n3).messages.empty(); }, 3s)) return true;
    }
    return false;
  }()) << "user message did not arrive";
  {
    std::lock_guard lk(net.lab.mu);
    const UserMsg& um = net.of(n3).messages.front();
    EXPECT_EQ(um.peer, zt_node_address(n2));
    EXPECT_EQ(um.type_id, type_id);
    EXPECT_EQ(um.data, payload);
  }

  // Multicast groups show up in the network info and go away again.
  const uint64_t group = 0x01005e0000fbULL;
  ASSERT_EQ(zt_node_multicast_subscribe(n2, nwid, group, 7), ZT_OK) << zt_last_error();
  {
    auto info = std::make_unique<zt_network_info>();
    ASSERT_EQ(zt_node_network(n2, nwid, info.get()), ZT_OK);
    bool found = false;
    for (unsigned i = 0; i < info->subscription_count; ++i)
      found |= info->subscriptions[i].mac == group && info->subscriptions[i].adi == 7;
    EXPECT_TRUE(found);
    ASSERT_EQ(zt_node_multicast_unsubscribe(n2, nwid, group, 7), ZT_OK);
    ASSERT_EQ(zt_node_network(n2, nwid, info.get()), ZT_OK);
    for (unsigned i = 0; i < info->subscription_count; ++i) EXPECT_NE(info->subscriptions[i].mac, group);
  }

  // The wire tap saw both directions, with the root among the remotes.
  {
    std::lock_guard lk(net.lab.mu);
    const std::string root_ep = "127.0.0.1/" + std::to_string(net.root_port);
    for (zt_node* m : net.members) {
      const Seen& s = net.of(m);
      EXPECT_FALSE(s.wire_bad);
      EXPECT_GT(s.wire_in, 0u);
      EXPECT_GT(s.wire_out, 0u);
      EXPECT_TRUE(s.remotes_in.count(root_ep)) << "no datagram from the root";
      EXPECT_TRUE(s.remotes_out.count(root_ep)) << "no datagram to the root";
    }
    const Seen& r = net.of(net.root);
    EXPECT_FALSE(r.wire_bad);
    EXPECT_GE(r.remotes_in.size(), 4u);  // controller + 3 members
  }

  // Deauthorize n3: the controller revokes its COM at the members, and the others still talk.
  // (That n3's frames then reach nobody is checked in virtual time: sim_silence_test.cpp.)
  Response deauth = request(c, "POST", "/controller/network/" + nwid_s + "/member/" + hex(zt_node_address(n3), 10),
                            R"({"authorized":false})");
  ASSERT_EQ(deauth.status, 200) << deauth.text;
  EXPECT_EQ(deauth.body.value("authorized", true), false);
  ASSERT_TRUE(net.lab.wait([&] { return net.of(n1).traced("revocation for " + hex(zt_node_address(n3), 10)); }))
      << "n1 did not get the revocation";
  const std::string still = "n2 still works";
  ASSERT_TRUE([&] {
    for (int i = 0; i < 10; ++i) {
      EXPECT_EQ(zt_node_send_frame(n2, nwid, mac2, mac1, kEthertype, 0, still.data(), still.size()), ZT_OK);
      if (net.lab.wait([&] { return net.of(n1).frames_with(still) > 0; }, 3s)) return true;
    }
    return false;
  }());

  // Leaving: DESTROY through the callback, then NOT_FOUND.
  ASSERT_EQ(zt_node_leave(n2, nwid), ZT_OK);
  {
    std::lock_guard lk(net.lab.mu);
    EXPECT_EQ(net.of(n2).ops.back(), ZT_NETWORK_OP_DESTROY);
  }
  size_t count = 99;
  EXPECT_EQ(zt_node_networks(n2, nullptr, 0, &count), ZT_OK);
  EXPECT_EQ(count, 0u);
  EXPECT_EQ(zt_node_leave(n2, nwid), ZT_ERR_NOT_FOUND);
}

namespace {

// Result of a ztcore call made from inside a callback (-100: none made yet).
std::atomic<int> g_from_callback{-100};

void call_back_in(zt_node* node, void*, const zt_event* e) {
  if (e->type != ZT_EVENT_TRACE || std::strstr(e->text, "joined network") == nullptr) return;
  static zt_network_info info;
  g_from_callback = zt_node_network(node, 0x1122334455667788ULL, &info);
}

}  // namespace

// ABI 1.4: every binding names trace codes through the library's one table (PROTOCOL.md §15
// names for the reference's codes, ztcore's own from 9000).
TEST(CApi, TraceCodeNames) {
  EXPECT_STREQ(zt_trace_code_name(2006), "NETWORK_FILTER_TRACE");
  EXPECT_STREQ(zt_trace_code_name(2000), "OUTGOING_NETWORK_FRAME_DROPPED");
  EXPECT_STREQ(zt_trace_code_name(1004), "PACKET_MAC_FAILURE");
  EXPECT_STREQ(zt_trace_code_name(9000), "NETWORK_JOINED");
  EXPECT_STREQ(zt_trace_code_name(9008), "CONTROLLER_QUEUE_FULL");
  EXPECT_STREQ(zt_trace_code_name(2004), "UNKNOWN");
  EXPECT_STREQ(zt_trace_code_name(0xFFFFFFFFu), "UNKNOWN");
}

// The error contract of the ABI 1.1 node functions, on a node without planet or network.
TEST(CApi, NodeFunctionsRejectBadInput) {
  zt_runtime* rt = nullptr;
  ASSERT_EQ(zt_runtime_new(&rt), ZT_OK);
  zt_node_options o;
  zt_node_options_init(&o);
  o.port = 0;
  o.bind = "127.0.0.1";
  o.allow_loopback = 1;
  o.on_event = call_back_in;
  zt_node* n = nullptr;
  ASSERT_EQ(zt_node_new(rt, &o, &n), ZT_OK) << zt_last_error();
  const uint64_t nwid = 0x1122334455667788ULL;
  auto info = std::make_unique<zt_network_info>();
  size_t count = 0;
  const uint64_t mine = zt_network_mac(zt_node_address(n), nwid);

  // Null pointers.
  EXPECT_EQ(zt_node_join(nullptr, nwid), ZT_ERR_INVALID_ARGUMENT);
  EXPECT_GT(std::strlen(zt_last_error()), 0u);
  EXPECT_EQ(zt_node_leave(nullptr, nwid), ZT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(zt_node_networks(nullptr, info.get(), 1, &count), ZT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(zt_node_networks(n, info.get(), 1, nullptr), ZT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(zt_node_networks(n, nullptr, 1, &count), ZT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(zt_node_network(nullptr, nwid, info.get()), ZT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(zt_node_network(n, nwid, nullptr), ZT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(zt_node_send_frame(nullptr, nwid, mine, kBroadcast, kEthertype, 0, "x", 1), ZT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(zt_node_send_frame(n, nwid, mine, kBroadcast, kEthertype, 0, nullptr, 1), ZT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(zt_node_multicast_subscribe(nullptr, nwid, 0x01005e0000fbULL, 0), ZT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(zt_node_multicast_unsubscribe(nullptr, nwid, 0x01005e0000fbULL, 0), ZT_ERR_INVALID_ARGUMENT);

  // Not joined.
  EXPECT_EQ(zt_node_network(n, nwid, info.get()), ZT_ERR_NOT_FOUND);
  EXPECT_NE(std::string(zt_last_error()).find("not joined"), std::string::npos) << zt_last_error();
  EXPECT_EQ(zt_node_leave(n, nwid), ZT_ERR_NOT_FOUND);
  EXPECT_EQ(zt_node_send_frame(n, nwid, mine, kBroadcast, kEthertype, 0, "x", 1), ZT_ERR_NOT_FOUND);
  EXPECT_EQ(zt_node_multicast_subscribe(n, nwid, 0x01005e0000fbULL, 0), ZT_ERR_NOT_FOUND);
  EXPECT_EQ(zt_node_multicast_unsubscribe(n, nwid, 0x01005e0000fbULL, 0), ZT_ERR_NOT_FOUND);
  EXPECT_EQ(zt_node_join(n, 0), ZT_ERR_INVALID_ARGUMENT);

  // Joined (no controller answers): status REQUESTING_CONFIGURATION, no config.
  ASSERT_EQ(zt_node_join(n, nwid), ZT_OK);
  EXPECT_EQ(g_from_callback.load(), ZT_ERR_STATE);  // the join's trace callback tried to call in
  ASSERT_EQ(zt_node_join(n, nwid), ZT_OK);  // idempotent
  ASSERT_EQ(zt_node_network(n, nwid, info.get()), ZT_OK);
  EXPECT_EQ(info->status, ZT_NETWORK_REQUESTING_CONFIGURATION);
  EXPECT_STREQ(info->status_name, "REQUESTING_CONFIGURATION");
  EXPECT_EQ(info->has_config, 0);
  EXPECT_EQ(info->mac, mine);
  EXPECT_EQ(info->address_count, 0u);
  // Too large for any network; MACs wider than 48 bits.
  std::vector<uint8_t> big(10001, 0x55);
  EXPECT_EQ(zt_node_send_frame(n, nwid, mine, kBroadcast, kEthertype, 0, big.data(), big.size()), ZT_ERR_TOO_LARGE);
  EXPECT_EQ(zt_node_send_frame(n, nwid, mine | (1ULL << 48), kBroadcast, kEthertype, 0, "x", 1), ZT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(zt_node_multicast_subscribe(n, nwid, 1ULL << 50, 0), ZT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(zt_node_multicast_subscribe(n, nwid, 0x01005e0000fbULL, 0), ZT_OK);

  // join at start with a NULL array is refused.
  zt_node_options bad;
  zt_node_options_init(&bad);
  bad.port = 0;
  bad.bind = "127.0.0.1";
  bad.join_count = 1;
  zt_node* m = nullptr;
  EXPECT_EQ(zt_node_new(rt, &bad, &m), ZT_ERR_INVALID_ARGUMENT);
  // An ABI 1.0 caller (struct ends at `user`): the 1.1 fields behind it are not read.
  zt_node_options old;
  zt_node_options_init(&old);
  old.port = 0;
  old.bind = "127.0.0.1";
  old.struct_size = offsetof(zt_node_options, user) + sizeof(void*);
  old.join_count = 1;  // garbage a 1.0 caller would not have set: must be ignored
  old.controller = reinterpret_cast<zt_controller*>(uintptr_t(0x10));
  ASSERT_EQ(zt_node_new(rt, &old, &m), ZT_OK) << zt_last_error();
  EXPECT_EQ(zt_node_networks(m, nullptr, 0, &count), ZT_OK);
  EXPECT_EQ(count, 0u);
  zt_node_free(m);

  zt_node_free(n);
  zt_runtime_free(rt);
}

// Management requests without HTTP: status codes, bad input changes nothing, buffer sizes.
TEST(CApi, ControllerRequests) {
  zt_controller* c = nullptr;
  EXPECT_EQ(zt_controller_new(nullptr, nullptr), ZT_ERR_INVALID_ARGUMENT);
  ASSERT_EQ(zt_controller_new(nullptr, &c), ZT_OK);
  const std::string nw = "/controller/network/d5a72ff358c0ffee";

  Response st = request(c, "GET", "/controller");
  ASSERT_EQ(st.rc, ZT_OK);
  EXPECT_EQ(st.status, 200);
  EXPECT_EQ(st.body.value("controller", false), true);
  EXPECT_EQ(st.body.value("apiVersion", 0), 4);

  // Not attached to a node: creating under "<address>______" needs the address (503), an
  // explicit network id works.
  EXPECT_EQ(request(c, "POST", "/controller/network/0123456789______", "{}").status, 503);
  Response made = request(c, "POST", nw, R"({"name":"before","private":true})");
  ASSERT_EQ(made.status, 200) << made.text;
  EXPECT_EQ(made.body.value("name", ""), "before");
  const auto rev = made.body.value("revision", 0);

  // Bad JSON: 400 and nothing changed.
  Response bad = request(c, "POST", nw, R"({"name": "after", )");
  ASSERT_EQ(bad.rc, ZT_OK);
  EXPECT_EQ(bad.status, 400);
  EXPECT_TRUE(bad.body.contains("error"));
  EXPECT_EQ(request(c, "POST", nw, R"([{"private":false}])").status, 400);  // not an object
  Response again = request(c, "GET", nw);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body.value("name", ""), "before");
  EXPECT_EQ(again.body.value("revision", 0), rev);
  EXPECT_EQ(again.body.value("private", false), true);

  // Unknown paths and objects, bad ids, methods.
  EXPECT_EQ(request(c, "GET", "/nope").status, 404);
  EXPECT_EQ(request(c, "GET", "/controller/elsewhere").status, 404);
  EXPECT_EQ(request(c, "GET", "/controller/network/aaaaaaaaaaaaaaaa").status, 404);
  EXPECT_EQ(request(c, "GET", nw + "/member/0102030405").status, 404);
  EXPECT_EQ(request(c, "GET", "/controller/network/xyz").status, 400);
  EXPECT_EQ(request(c, "DELETE", "/controller").status, 405);

  // Members: create, list, delete.
  Response mem = request(c, "POST", nw + "/member/0102030405", R"({"authorized":true})");
  ASSERT_EQ(mem.status, 200) << mem.text;
  EXPECT_EQ(mem.body.value("authorized", false), true);
  Response members = request(c, "GET", nw + "/member");
  EXPECT_EQ(members.status, 200);
  EXPECT_TRUE(members.body.contains("0102030405")) << members.text;
  EXPECT_EQ(request(c, "DELETE", nw + "/member/0102030405").status, 200);
  EXPECT_EQ(request(c, "GET", nw + "/member/0102030405").status, 404);

  // Output buffer too small: ZT_ERR_TOO_LARGE, *out_len = needed size; then it fits.
  char small[8];
  size_t need = 0;
  int status = 0;
  EXPECT_EQ(zt_controller_request(c, "GET", nw.c_str(), nullptr, small, sizeof small, &need, &status), ZT_ERR_TOO_LARGE);
  EXPECT_EQ(status, 200);
  EXPECT_GT(need, sizeof small);
  EXPECT_EQ(zt_controller_request(c, "GET", nw.c_str(), nullptr, nullptr, 0, &need, &status), ZT_ERR_TOO_LARGE);
  std::vector<char> exact(need);
  size_t got = 0;
  EXPECT_EQ(zt_controller_request(c, "GET", nw.c_str(), nullptr, exact.data(), exact.size(), &got, &status), ZT_OK);
  EXPECT_EQ(got, need);
  EXPECT_EQ(exact.back(), '\0');
  EXPECT_EQ(json::parse(exact.data()).value("name", ""), "before");

  // Null pointers.
  char out[256];
  EXPECT_EQ(zt_controller_request(nullptr, "GET", "/controller", nullptr, out, sizeof out, &got, &status),
            ZT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(zt_controller_request(c, nullptr, "/controller", nullptr, out, sizeof out, &got, &status),
            ZT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(zt_controller_request(c, "GET", nullptr, nullptr, out, sizeof out, &got, &status), ZT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(zt_controller_request(c, "GET", "/controller", nullptr, nullptr, sizeof out, &got, &status),
            ZT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(zt_controller_request(c, "GET", "/controller", nullptr, out, sizeof out, nullptr, &status),
            ZT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(zt_controller_request(c, "GET", "/controller", nullptr, out, sizeof out, &got, nullptr),
            ZT_ERR_INVALID_ARGUMENT);
  zt_controller_free(c);
  zt_controller_free(nullptr);
}

// A controller serves one node at a time; freeing the node frees the controller for another.
TEST(CApi, ControllerServesOneNodeAtATime) {
  zt_runtime* rt = nullptr;
  ASSERT_EQ(zt_runtime_new(&rt), ZT_OK);
  zt_controller* c = nullptr;
  ASSERT_EQ(zt_controller_new(nullptr, &c), ZT_OK);
  zt_node_options o;
  zt_node_options_init(&o);
  o.port = 0;
  o.bind = "127.0.0.1";
  o.controller = c;
  zt_node *a = nullptr, *b = nullptr;
  ASSERT_EQ(zt_node_new(rt, &o, &a), ZT_OK) << zt_last_error();
  EXPECT_EQ(zt_node_new(rt, &o, &b), ZT_ERR_STATE);
  // Attached: a network can be created under the node's address.
  Response r = request(c, "POST", "/controller/network/" + hex(zt_node_address(a), 10) + "______", "{}");
  ASSERT_EQ(r.status, 200) << r.text;
  EXPECT_EQ(r.body.value("id", "").substr(0, 10), hex(zt_node_address(a), 10));
  EXPECT_EQ(request(c, "POST", "/controller/network/0000000001______", "{}").status, 400);  // not ours
  zt_node_free(a);
  ASSERT_EQ(zt_node_new(rt, &o, &b), ZT_OK) << zt_last_error();
  EXPECT_EQ(request(c, "GET", "/controller/network").body.size(), 1u);
  // Freeing the runtime first, then the node and the controller, is fine too.
  zt_runtime_free(rt);
  EXPECT_EQ(zt_node_join(b, 0x1122334455667788ULL), ZT_ERR_STATE);
  EXPECT_EQ(request(c, "GET", "/controller/network").status, 200);
  zt_node_free(b);
  zt_controller_free(c);
}

// Against the contract but safe: a controller freed while its node runs is detached from the
// node first, and the node keeps working (its timers no longer reach the controller).
TEST(CApi, ControllerFreedBeforeItsNode) {
  zt_runtime* rt = nullptr;
  ASSERT_EQ(zt_runtime_new(&rt), ZT_OK);
  zt_controller* c = nullptr;
  ASSERT_EQ(zt_controller_new(nullptr, &c), ZT_OK);
  zt_node_options o;
  zt_node_options_init(&o);
  o.port = 0;
  o.bind = "127.0.0.1";
  o.controller = c;
  zt_node* n = nullptr;
  ASSERT_EQ(zt_node_new(rt, &o, &n), ZT_OK) << zt_last_error();
  ASSERT_EQ(request(c, "POST", "/controller/network/" + hex(zt_node_address(n), 10) + "______", "{}").status, 200);
  zt_controller_free(c);
  std::this_thread::sleep_for(1500ms);  // a few timer ticks of the node (ASan would see a stale call)
  // Its own network is now served by nobody: joining it ends in NOT_FOUND, not a crash.
  const uint64_t own = (zt_node_address(n) << 24) | 0x123456;
  ASSERT_EQ(zt_node_join(n, own), ZT_OK);
  auto info = std::make_unique<zt_network_info>();
  ASSERT_EQ(zt_node_network(n, own, info.get()), ZT_OK);
  EXPECT_EQ(info->status, ZT_NETWORK_NOT_FOUND);
  zt_node_status st;
  EXPECT_EQ(zt_node_status_get(n, &st), ZT_OK);
  zt_node_free(n);
  zt_runtime_free(rt);
}

TEST(CApi, SqliteControllerKeepsNetworks) {
  std::string dir = (std::filesystem::temp_directory_path() / "ztcore-capi-XXXXXX").string();
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  const std::string db = dir + "/controller.db";
  const std::string nw = "/controller/network/d5a72ff358c0ffee";
  zt_controller* c = nullptr;
  ASSERT_EQ(zt_controller_new(db.c_str(), &c), ZT_OK) << zt_last_error();
  Response made = request(c, "POST", nw, R"({"name":"kept","private":true})");
  ASSERT_EQ(made.status, 200) << made.text;
  ASSERT_EQ(request(c, "POST", nw + "/member/0102030405", R"({"authorized":true})").status, 200);
  zt_controller_free(c);

  c = nullptr;
  ASSERT_EQ(zt_controller_new(db.c_str(), &c), ZT_OK) << zt_last_error();
  Response got = request(c, "GET", nw);
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.body.value("name", ""), "kept");
  EXPECT_EQ(got.body.value("revision", 0), made.body.value("revision", -1));
  Response mem = request(c, "GET", nw + "/member/0102030405");
  EXPECT_EQ(mem.status, 200);
  EXPECT_EQ(mem.body.value("authorized", false), true);
  zt_controller_free(c);

  // A path that cannot be a database: ZT_ERR_IO with a message.
  EXPECT_EQ(zt_controller_new((dir + "/no/such/dir/x.db").c_str(), &c), ZT_ERR_IO);
  EXPECT_GT(std::strlen(zt_last_error()), 0u);
  std::filesystem::remove_all(dir);
}

TEST(CApi, PlanetMake) {
  const std::string id = generate_identity();
  uint64_t addr = 0;
  ASSERT_EQ(zt_identity_validate(id.c_str(), &addr), ZT_OK);
  const std::string pub = id.substr(0, id.rfind(':'));  // "addr:0:pub" (no secret)
  std::vector<uint8_t> out(4096);
  size_t len = 0;

  ASSERT_EQ(zt_planet_make(42, 1700000000123ULL, id.c_str(), "127.0.0.1/9993,::1/9993", out.data(), out.size(), &len),
            ZT_OK)
      << zt_last_error();
  ASSERT_GT(len, 0u);
  EXPECT_EQ(out[0], 1);  // type 1: planet
  // Too small: the needed size is reported; a zero buffer is a size query.
  size_t len2 = 0;
  EXPECT_EQ(zt_planet_make(42, 1700000000123ULL, id.c_str(), "127.0.0.1/9993,::1/9993", out.data(), 10, &len2),
            ZT_ERR_TOO_LARGE);
  EXPECT_EQ(len2, len);
  EXPECT_EQ(zt_planet_make(42, 1700000000123ULL, id.c_str(), "127.0.0.1/9993,::1/9993", nullptr, 0, &len2),
            ZT_ERR_TOO_LARGE);
  EXPECT_EQ(len2, len);

  // A node accepts it (signature verifies) and reports its id and timestamp.
  zt_runtime* rt = nullptr;
  ASSERT_EQ(zt_runtime_new(&rt), ZT_OK);
  zt_node_options o;
  zt_node_options_init(&o);
  o.port = 0;
  o.bind = "127.0.0.1";
  o.planet = out.data();
  o.planet_len = len;
  zt_node* n = nullptr;
  ASSERT_EQ(zt_node_new(rt, &o, &n), ZT_OK) << zt_last_error();
  zt_node_status st;
  ASSERT_EQ(zt_node_status_get(n, &st), ZT_OK);
  EXPECT_EQ(st.planet_id, 42u);
  EXPECT_EQ(st.planet_timestamp, 1700000000123ULL);
  zt_node_free(n);
  zt_runtime_free(rt);

  // Bad input.
  auto make = [&](const char* ident, const char* eps) {
    return zt_planet_make(42, 1, ident, eps, out.data(), out.size(), &len);
  };
  EXPECT_EQ(make("not an identity", "127.0.0.1/9993"), ZT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(make(pub.c_str(), "127.0.0.1/9993"), ZT_ERR_INVALID_ARGUMENT);  // cannot sign
  std::string tampered = id;
  tampered[0] = tampered[0] == '1' ? '2' : '1';  // address no longer matches the key
  EXPECT_EQ(make(tampered.c_str(), "127.0.0.1/9993"), ZT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(make(id.c_str(), "not-an-endpoint"), ZT_ERR_INVALID_ARGUMENT);
  EXPECT_GT(std::strlen(zt_last_error()), 0u);
  EXPECT_EQ(make(id.c_str(), "127.0.0.1"), ZT_ERR_INVALID_ARGUMENT);  // no port
  EXPECT_EQ(make(id.c_str(), ""), ZT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(make(nullptr, "127.0.0.1/9993"), ZT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(make(id.c_str(), nullptr), ZT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(zt_planet_make(42, 1, id.c_str(), "127.0.0.1/9993", out.data(), out.size(), nullptr), ZT_ERR_INVALID_ARGUMENT);
}

TEST(CApi, NetworkMacWorkedExample) {
  // PROTOCOL.md §4.2 (tests/unit/vl2_test.cpp Mac.WorkedExamples).
  EXPECT_EQ(zt_network_mac(0x8fec3e8ae4ULL, 0xd5a72ff358c0ffeeULL), 0xee702c6679cbULL);
  EXPECT_EQ(zt_network_mac(0xeb8cb7d1c8ULL, 0xd5a72ff358c0ffeeULL), 0xee144cef22e7ULL);
}

// zt_controller_new takes a PostgreSQL URL too (controller/db_factory.hpp): records survive
// free + new, and a bad URL is ZT_ERR_IO whose message does not repeat the URL's password.
TEST(CapiController, PostgresUrlKeepsRecordsAcrossFreeAndNew) {
  std::string error;
  std::string url = zt::test::pg_fresh_database(&error);
  ASSERT_FALSE(url.empty()) << error;
  const std::string path = "/controller/network/d5a72ff358c0ffee";
  {
    zt_controller* c = nullptr;
    ASSERT_EQ(zt_controller_new(url.c_str(), &c), ZT_OK) << zt_last_error();
    auto r = request(c, "POST", path, R"({"name":"via-capi"})");
    ASSERT_EQ(r.rc, ZT_OK);
    EXPECT_EQ(r.status, 200) << r.text;
    zt_controller_free(c);
  }
  zt_controller* c = nullptr;
  ASSERT_EQ(zt_controller_new(url.c_str(), &c), ZT_OK) << zt_last_error();
  auto r = request(c, "GET", path);
  ASSERT_EQ(r.rc, ZT_OK);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.value("name", ""), "via-capi");
  zt_controller_free(c);
  zt_controller* bad = nullptr;
  EXPECT_EQ(zt_controller_new("postgresql://u:hunter2@127.0.0.1:1/x?connect_timeout=2", &bad), ZT_ERR_IO);
  EXPECT_EQ(std::string(zt_last_error()).find("hunter2"), std::string::npos) << zt_last_error();
}

// ABI 1.3 packet capture: argument errors, a bad path, and what a node without a network config
// writes (its outgoing frame is captured as dropped, with the core's reason).
TEST(CApi, PcapStartStop) {
  zt_runtime* rt = nullptr;
  ASSERT_EQ(zt_runtime_new(&rt), ZT_OK);
  zt_node_options o;
  zt_node_options_init(&o);
  o.port = 0;
  o.bind = "127.0.0.1";
  o.allow_loopback = 1;
  zt_node* n = nullptr;
  ASSERT_EQ(zt_node_new(rt, &o, &n), ZT_OK) << zt_last_error();
  const auto dir = std::filesystem::temp_directory_path() / ("ztcore_capi_pcap_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "n.pcapng").string();

  EXPECT_EQ(zt_node_pcap_start(nullptr, path.c_str()), ZT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(zt_node_pcap_start(n, nullptr), ZT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(zt_node_pcap_start(n, ""), ZT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(zt_node_pcap_stop(nullptr), ZT_ERR_INVALID_ARGUMENT);
  const std::string bad = (dir / "missing" / "n.pcapng").string();
  EXPECT_EQ(zt_node_pcap_start(n, bad.c_str()), ZT_ERR_IO);
  EXPECT_NE(std::string(zt_last_error()).find(bad), std::string::npos) << zt_last_error();
  EXPECT_EQ(zt_node_pcap_stop(n), ZT_OK);  // nothing running

  ASSERT_EQ(zt_node_pcap_start(n, path.c_str()), ZT_OK) << zt_last_error();
  const uint64_t nwid = 0x1122334455667788ULL;
  ASSERT_EQ(zt_node_join(n, nwid), ZT_OK);
  ASSERT_EQ(zt_node_send_frame(n, nwid, zt_network_mac(zt_node_address(n), nwid), kBroadcast, kEthertype, 0, "hi", 2),
            ZT_OK);
  ASSERT_EQ(zt_node_pcap_stop(n), ZT_OK) << zt_last_error();
  std::ifstream in(path, std::ios::binary);
  const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(file.size() % 4, 0u);
  EXPECT_NE(file.find("zt-1122334455667788"), std::string::npos);
  EXPECT_NE(file.find("out to broadcast dropped: "), std::string::npos);
  EXPECT_NE(file.find("no network config yet"), std::string::npos);

  // Freeing the node closes a running capture.
  ASSERT_EQ(zt_node_pcap_start(n, path.c_str()), ZT_OK);
  zt_node_free(n);
  EXPECT_GT(std::filesystem::file_size(path), 0u);
  EXPECT_EQ(std::filesystem::file_size(path) % 4, 0u);
  zt_runtime_free(rt);
  std::filesystem::remove_all(dir);
}

// zt_node_explain (ABI 1.3): a member of a network whose rules come from rulesSource explains
// frames against its current config: accepted by a base rule, by its capability, dropped by
// the default; plus the out-buffer and error contract.
namespace {

std::vector<uint8_t> eth_ipv4(uint64_t src_mac, uint64_t dst_mac, uint8_t proto, std::vector<uint8_t> l4) {
  std::vector<uint8_t> f;
  for (int i = 5; i >= 0; --i) f.push_back(uint8_t(dst_mac >> (8 * i)));
  for (int i = 5; i >= 0; --i) f.push_back(uint8_t(src_mac >> (8 * i)));
  f.push_back(0x08);
  f.push_back(0x00);
  std::vector<uint8_t> ip = {0x45, 0, 0, uint8_t(20 + l4.size()), 0, 1, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2};
  f.insert(f.end(), ip.begin(), ip.end());
  f.insert(f.end(), l4.begin(), l4.end());
  return f;
}

json explain(zt_node* n, uint64_t nwid, const std::vector<uint8_t>& f, int inbound, uint64_t peer) {
  size_t need = 0;
  EXPECT_EQ(zt_node_explain(n, nwid, f.data(), f.size(), inbound, peer, nullptr, 0, &need), ZT_ERR_TOO_LARGE);
  std::vector<char> out(need);
  size_t got = 0;
  EXPECT_EQ(zt_node_explain(n, nwid, f.data(), f.size(), inbound, peer, out.data(), out.size(), &got), ZT_OK)
      << zt_last_error();
  EXPECT_EQ(got, need);
  return json::parse(std::string(out.data()), nullptr, false);
}

}  // namespace

TEST(CApi, NodeExplainsFramesAgainstItsConfig) {
  Net net;
  ASSERT_NO_FATAL_FAILURE(net.start_root());
  zt_controller* c = nullptr;
  ASSERT_EQ(zt_controller_new(nullptr, &c), ZT_OK) << zt_last_error();
  ASSERT_NO_FATAL_FAILURE(net.start_controller(c));
  const uint64_t caddr = zt_node_address(net.cnode);
  json body = {{"name", "explain"},
               {"private", true},
               {"rulesSource", "tag department id 1000 default 10;\n"
                               "cap ssh id 2000 accept ipprotocol tcp dport 22; ;\n"
                               "drop not ethertype ipv4 and not ethertype arp;\n"
                               "accept ipprotocol icmp;\n"}};
  Response created = request(c, "POST", "/controller/network/" + hex(caddr, 10) + "______", body.dump().c_str());
  ASSERT_EQ(created.status, 200) << created.text;
  const std::string nwid_s = created.body.value("id", "");
  const uint64_t nwid = std::stoull(nwid_s, nullptr, 16);

  auto s = net.new_seen();
  zt_node_options o;
  net.options(o, s.get());
  o.join = &nwid;
  o.join_count = 1;
  zt_node* m = net.add(o, std::move(s));
  ASSERT_NE(m, nullptr);
  net.members.push_back(m);
  const uint64_t me = zt_node_address(m);
  Response auth = request(c, "POST", "/controller/network/" + nwid_s + "/member/" + hex(me, 10),
                          R"({"authorized":true,"capabilities":[2000]})");
  ASSERT_EQ(auth.status, 200) << auth.text;
  ASSERT_TRUE(net.lab.wait([&] { return net.of(m).status(nwid) == ZT_NETWORK_OK; })) << "no config";

  const uint64_t peer = 0x2222222222ULL;
  const uint64_t my_mac = zt_network_mac(me, nwid), peer_mac = zt_network_mac(peer, nwid);
  json j = explain(m, nwid, eth_ipv4(my_mac, peer_mac, 1, {8, 0, 0, 0, 0, 1, 0, 1}), 0, peer);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["verdict"], "accept");
  EXPECT_EQ(j["rule"], 4);
  EXPECT_TRUE(j["capability"].is_null());
  EXPECT_EQ(j["reason"], "rule 4 ACCEPT: ipprotocol 1 = 1");
  ASSERT_TRUE(j["rules"].is_array());
  EXPECT_EQ(j["rules"].size(), 5u);

  // TCP to port 22: the member's capability 2000. The peer comes from the destination MAC.
  std::vector<uint8_t> tcp(20, 0);
  tcp[0] = 0x9c;
  tcp[3] = 22;
  tcp[12] = 0x50;
  j = explain(m, nwid, eth_ipv4(my_mac, peer_mac, 6, tcp), 0, 0);
  EXPECT_EQ(j["verdict"], "accept");
  EXPECT_EQ(j["capability"], 2000);
  EXPECT_EQ(j["rule"], 2);
  // Inbound the sender's capabilities count: we hold none of the peer's, so the default drop.
  j = explain(m, nwid, eth_ipv4(peer_mac, my_mac, 6, tcp), 1, peer);
  EXPECT_EQ(j["verdict"], "drop");
  EXPECT_TRUE(j["rule"].is_null());
  EXPECT_EQ(j["reason"], "no rule matched: default DROP");

  // Errors.
  const std::vector<uint8_t> f = eth_ipv4(my_mac, peer_mac, 1, {8, 0, 0, 0});
  char small[8];
  size_t need = 0;
  EXPECT_EQ(zt_node_explain(m, nwid, f.data(), f.size(), 0, peer, small, sizeof small, &need), ZT_ERR_TOO_LARGE);
  EXPECT_GT(need, sizeof small);
  EXPECT_EQ(zt_node_explain(m, nwid, f.data(), f.size(), 0, peer, small, sizeof small, nullptr), ZT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(zt_node_explain(nullptr, nwid, f.data(), f.size(), 0, peer, small, sizeof small, &need),
            ZT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(zt_node_explain(m, nwid, nullptr, 10, 0, peer, small, sizeof small, &need), ZT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(zt_node_explain(m, nwid, f.data(), 13, 0, peer, small, sizeof small, &need), ZT_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(zt_last_error()).find("Ethernet"), std::string::npos) << zt_last_error();
  EXPECT_EQ(zt_node_explain(m, nwid, f.data(), f.size(), 0, me, small, sizeof small, &need), ZT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(zt_node_explain(m, nwid, f.data(), f.size(), 0, 1ULL << 40, small, sizeof small, &need),
            ZT_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(zt_node_explain(m, nwid ^ 1, f.data(), f.size(), 0, peer, small, sizeof small, &need), ZT_ERR_NOT_FOUND);
  ASSERT_EQ(zt_node_join(m, nwid ^ 1), ZT_OK);  // no such network: never a config
  EXPECT_EQ(zt_node_explain(m, nwid ^ 1, f.data(), f.size(), 0, peer, small, sizeof small, &need), ZT_ERR_STATE);
}
