// The per-node IP stack (src/stack) through the C ABI: on 127.0.0.1 a root, a node serving an
// embedded controller and members with (or without) a stack on one private network with IPv4
// and RFC 4193 IPv6 addresses. TCP with a checksum, UDP both families, ARP / NDP / ping
// answered by the stack to a frame-only node (frames built by hand), frames the stack does not
// take still reach on_frame, many stack nodes in one process, closing a node with open sockets.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <functional>
#include <optional>
#include <set>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "ztcore/ztcore.h"

namespace {

using namespace std::chrono_literals;

struct Frame {
  uint64_t src, dst;
  uint16_t ethertype;
  std::vector<uint8_t> data;
};

// What one member saw (guarded by Net::mu).
struct Member {
  zt_node* node = nullptr;
  struct Net* net = nullptr;
  bool has_config = false;
  std::string v4, v6;  // assigned addresses without prefix
  std::vector<Frame> frames;
};

std::string hex(uint64_t v, int digits) {
  char b[32];
  std::snprintf(b, sizeof b, "%0*llx", digits, static_cast<unsigned long long>(v));
  return b;
}

struct Net {
  std::mutex mu;
  std::condition_variable cv;
  zt_runtime* rt = nullptr;
  zt_controller* ctl = nullptr;
  zt_node* root = nullptr;
  zt_node* cnode = nullptr;
  std::vector<uint8_t> planet;
  uint64_t nwid = 0;
  std::vector<std::unique_ptr<Member>> members;

  ~Net() {
    for (auto& m : members) zt_node_free(m->node);
    zt_node_free(cnode);
    zt_node_free(root);
    zt_controller_free(ctl);
    zt_runtime_free(rt);
  }

  template <class P>
  bool wait(P pred, std::chrono::milliseconds t = 30s) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, t, pred);
  }

  static void on_network(zt_node*, void* user, int, const zt_network_info* info) {
    auto* m = static_cast<Member*>(user);
    std::lock_guard lk(m->net->mu);
    m->has_config = info->has_config && info->status == ZT_NETWORK_OK;
    for (unsigned i = 0; i < info->address_count; ++i) {
      std::string a = info->addresses[i];
      a = a.substr(0, a.find('/'));
      (a.find(':') == std::string::npos ? m->v4 : m->v6) = a;
    }
    m->net->cv.notify_all();
  }
  static void on_frame(zt_node*, void* user, const zt_frame* f) {
    auto* m = static_cast<Member*>(user);
    std::lock_guard lk(m->net->mu);
    m->frames.push_back({f->src_mac, f->dst_mac, f->ethertype, std::vector<uint8_t>(f->data, f->data + f->len)});
    m->net->cv.notify_all();
  }

  void options(zt_node_options& o, uint16_t port = 0, const char* identity = nullptr) {
    zt_node_options_init(&o);
    o.port = port;
    o.bind = "127.0.0.1";
    o.allow_loopback = 1;
    o.identity = identity;
    if (!planet.empty()) {
      o.planet = planet.data();
      o.planet_len = planet.size();
    }
  }

  // Root (planet made for its port), controller node and one network with an IPv4 and an IPv6
// pool (not RFC 4193: that would make the cores emulate NDP and the stack's NDP untested).
  void start() {
    ASSERT_EQ(zt_runtime_new(&rt), ZT_OK);
    char id[512];
    ASSERT_EQ(zt_identity_generate(id, sizeof id), ZT_OK);
    for (int attempt = 0; attempt < 5 && !root; ++attempt) {
      zt_node_options o;
      options(o, 0, id);
      zt_node* probe = nullptr;
      ASSERT_EQ(zt_node_new(rt, &o, &probe), ZT_OK) << zt_last_error();
      zt_node_status st;
      ASSERT_EQ(zt_node_status_get(probe, &st), ZT_OK);
      zt_node_free(probe);
      const std::string ep = "127.0.0.1/" + std::to_string(st.port);
      size_t len = 0;
      ASSERT_EQ(zt_planet_make(0x1ab, 1700000000000ULL, id, ep.c_str(), nullptr, 0, &len), ZT_ERR_TOO_LARGE);
      planet.assign(len, 0);
      ASSERT_EQ(zt_planet_make(0x1ab, 1700000000000ULL, id, ep.c_str(), planet.data(), planet.size(), &len), ZT_OK);
      options(o, st.port, id);
      if (zt_node_new(rt, &o, &root) != ZT_OK) root = nullptr;
    }
    ASSERT_NE(root, nullptr) << zt_last_error();
    ASSERT_EQ(zt_controller_new(nullptr, &ctl), ZT_OK);
    zt_node_options o;
    options(o);
    o.controller = ctl;
    ASSERT_EQ(zt_node_new(rt, &o, &cnode), ZT_OK) << zt_last_error();
    const char* body = R"({"name":"stack-test","private":true,"enableBroadcast":true,"multicastLimit":256,
        "v4AssignMode":{"zt":true},"v6AssignMode":{"zt":true},
        "ipAssignmentPools":[{"ipRangeStart":"10.99.0.1","ipRangeEnd":"10.99.3.254"},
                             {"ipRangeStart":"fd00:99::1","ipRangeEnd":"fd00:99::ffff"}],
        "routes":[{"target":"10.99.0.0/22","via":null},{"target":"fd00:99::/64","via":null}]})";
    std::string out = request("POST", "/controller/network/" + hex(zt_node_address(cnode), 10) + "______", body);
    auto j = nlohmann::json::parse(out, nullptr, false);
    ASSERT_TRUE(j.is_object() && j.contains("id")) << out;
    nwid = std::stoull(j["id"].get<std::string>(), nullptr, 16);
  }

  std::string request(const char* method, const std::string& path, const char* body) {
    std::vector<char> out(1 << 16);
    size_t len = 0;
    int status = 0;
    EXPECT_EQ(zt_controller_request(ctl, method, path.c_str(), body, out.data(), out.size(), &len, &status), ZT_OK);
    EXPECT_EQ(status, 200) << out.data();
    return out.data();
  }

  // Adds, joins and authorizes a member (identity: given, else generated by zt_node_new).
  Member& add(bool stack, const char* identity = nullptr) {
    auto m = std::make_unique<Member>();
    m->net = this;
    zt_node_options o;
    options(o, 0, identity);
    o.user = m.get();
    o.on_network = on_network;
    o.on_frame = on_frame;
    o.stack = stack;
    o.join = &nwid;
    o.join_count = 1;
    EXPECT_EQ(zt_node_new(rt, &o, &m->node), ZT_OK) << zt_last_error();
    request("POST", "/controller/network/" + hex(nwid, 16) + "/member/" + hex(zt_node_address(m->node), 10),
            R"({"authorized":true})");
    members.push_back(std::move(m));
    return *members.back();
  }

  bool configured(Member& m) {
    return wait([&] { return m.has_config && !m.v4.empty() && !m.v6.empty(); }, 60s);
  }
};

// A connected socket (retried while the peer's stack comes up: its netif appears right after
// the config, its ARP group subscription a moment later).
zt_socket* connect_retry(zt_node* n, int family, const std::string& ip, uint16_t port) {
  for (int i = 0; i < 100; ++i) {
    zt_socket* s = nullptr;
    if (zt_socket_new(n, family, ZT_SOCK_STREAM, &s) != ZT_OK) return nullptr;
    zt_socket_set_timeout(s, 2000);
    if (zt_socket_connect(s, ip.c_str(), port) == ZT_OK) return s;
    zt_socket_close(s);
    std::this_thread::sleep_for(100ms);
  }
  return nullptr;
}

zt_socket* listen_retry(zt_node* n, int family, int type, uint16_t port) {
  for (int i = 0; i < 100; ++i) {
    zt_socket* s = nullptr;
    if (zt_socket_new(n, family, type, &s) != ZT_OK) return nullptr;
    if (zt_socket_bind(s, nullptr, port) == ZT_OK && (type == ZT_SOCK_DGRAM || zt_socket_listen(s, 8) == ZT_OK)) return s;
    zt_socket_close(s);
    std::this_thread::sleep_for(50ms);
  }
  return nullptr;
}

uint64_t fnv1a(uint64_t h, const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

}  // namespace

TEST(Stack, TcpTenMegabytesWithChecksum) {
  Net net;
  ASSERT_NO_FATAL_FAILURE(net.start());
  Member& a = net.add(true);
  Member& b = net.add(true);
  ASSERT_TRUE(net.configured(a) && net.configured(b));
  zt_socket* srv = listen_retry(b.node, ZT_AF_INET, ZT_SOCK_STREAM, 7000);
  ASSERT_NE(srv, nullptr) << zt_last_error();

  constexpr size_t kTotal = 10 << 20;
  uint64_t rx_sum = 0xcbf29ce484222325ULL;
  size_t rx_total = 0;
  std::thread server([&] {
    zt_socket* c = nullptr;
    char ip[64];
    uint16_t port = 0;
    ASSERT_EQ(zt_socket_accept(srv, &c, ip, sizeof ip, &port), ZT_OK) << zt_last_error();
    EXPECT_EQ(std::string(ip), a.v4);
    std::vector<uint8_t> buf(65536);
    for (;;) {
      size_t got = 0;
      ASSERT_EQ(zt_socket_recv(c, buf.data(), buf.size(), &got), ZT_OK) << zt_last_error();
      if (got == 0) break;
      rx_sum = fnv1a(rx_sum, buf.data(), got);
      rx_total += got;
    }
    const char ok[] = "done";
    size_t sent = 0;
    EXPECT_EQ(zt_socket_send(c, ok, 4, &sent), ZT_OK);
    zt_socket_close(c);
  });

  zt_socket* s = connect_retry(a.node, ZT_AF_INET, b.v4, 7000);
  ASSERT_NE(s, nullptr) << zt_last_error();
  char lip[64], pip[64];
  uint16_t lport = 0, pport = 0;
  ASSERT_EQ(zt_socket_local_address(s, lip, sizeof lip, &lport), ZT_OK);
  ASSERT_EQ(zt_socket_peer_address(s, pip, sizeof pip, &pport), ZT_OK);
  EXPECT_EQ(std::string(lip), a.v4);
  EXPECT_EQ(std::string(pip), b.v4);
  EXPECT_EQ(pport, 7000);
  ASSERT_EQ(zt_socket_set_timeout(s, -1), ZT_OK);
  std::vector<uint8_t> data(kTotal);
  uint64_t x = 88172645463325252ULL;
  for (auto& v : data) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    v = uint8_t(x);
  }
  const uint64_t tx_sum = fnv1a(0xcbf29ce484222325ULL, data.data(), data.size());
  size_t off = 0;
  while (off < data.size()) {
    size_t sent = 0;
    ASSERT_EQ(zt_socket_send(s, data.data() + off, std::min<size_t>(100000, data.size() - off), &sent), ZT_OK)
        << zt_last_error();
    off += sent;
  }
  ASSERT_EQ(zt_socket_shutdown(s, ZT_SHUT_WR), ZT_OK);
  char reply[16] = {};
  size_t got = 0;
  ASSERT_EQ(zt_socket_recv(s, reply, sizeof reply, &got), ZT_OK) << zt_last_error();
  server.join();
  EXPECT_EQ(std::string(reply, got), "done");
  EXPECT_EQ(rx_total, kTotal);
  EXPECT_EQ(rx_sum, tx_sum);
  zt_socket_close(s);
  zt_socket_close(srv);
}

namespace {

// ---- hand-built frames (Ethernet payloads) --------------------------------------------------

uint32_t sum16(const uint8_t* p, size_t n, uint32_t s = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) s += uint32_t(p[i] << 8 | p[i + 1]);
  if (n & 1) s += uint32_t(p[n - 1] << 8);
  return s;
}
uint16_t fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return uint16_t(~s);
}
void put16(std::vector<uint8_t>& v, size_t at, uint16_t x) {
  v[at] = uint8_t(x >> 8);
  v[at + 1] = uint8_t(x);
}
std::array<uint8_t, 4> ip4(const std::string& s) {
  std::array<uint8_t, 4> a{};
  EXPECT_EQ(inet_pton(AF_INET, s.c_str(), a.data()), 1) << s;
  return a;
}
std::array<uint8_t, 16> ip6(const std::string& s) {
  std::array<uint8_t, 16> a{};
  EXPECT_EQ(inet_pton(AF_INET6, s.c_str(), a.data()), 1) << s;
  return a;
}
void put_mac(std::vector<uint8_t>& v, size_t at, uint64_t mac) {
  for (int i = 0; i < 6; ++i) v[at + size_t(i)] = uint8_t(mac >> (40 - 8 * i));
}

std::vector<uint8_t> arp_request(uint64_t smac, const std::string& sip, const std::string& tip) {
  std::vector<uint8_t> f(28, 0);
  put16(f, 0, 1);
  put16(f, 2, 0x0800);
  f[4] = 6;
  f[5] = 4;
  put16(f, 6, 1);
  put_mac(f, 8, smac);
  auto s = ip4(sip), t = ip4(tip);
  std::memcpy(&f[14], s.data(), 4);
  std::memcpy(&f[24], t.data(), 4);
  return f;
}

std::vector<uint8_t> icmp4_echo(const std::string& src, const std::string& dst, const std::string& text) {
  std::vector<uint8_t> f(20 + 8 + text.size(), 0);
  f[0] = 0x45;
  put16(f, 2, uint16_t(f.size()));
  f[8] = 64;
  f[9] = 1;
  auto s = ip4(src), d = ip4(dst);
  std::memcpy(&f[12], s.data(), 4);
  std::memcpy(&f[16], d.data(), 4);
  put16(f, 10, fold(sum16(f.data(), 20)));
  f[20] = 8;  // echo request
  put16(f, 24, 0x1234);
  put16(f, 26, 1);
  std::memcpy(&f[28], text.data(), text.size());
  put16(f, 22, fold(sum16(&f[20], f.size() - 20)));
  return f;
}

// IPv6 + ICMPv6 with its pseudo-header checksum.
std::vector<uint8_t> icmp6(const std::array<uint8_t, 16>& src, const std::array<uint8_t, 16>& dst, uint8_t hops,
                           const std::vector<uint8_t>& body) {
  std::vector<uint8_t> f(40 + body.size(), 0);
  f[0] = 0x60;
  put16(f, 4, uint16_t(body.size()));
  f[6] = 58;
  f[7] = hops;
  std::memcpy(&f[8], src.data(), 16);
  std::memcpy(&f[24], dst.data(), 16);
  std::memcpy(&f[40], body.data(), body.size());
  const uint32_t pseudo = sum16(&f[8], 32) + uint32_t(body.size()) + 58;
  put16(f, 42, fold(sum16(&f[40], body.size(), pseudo)));
  return f;
}

std::vector<uint8_t> neighbor_solicitation(uint64_t smac, const std::string& src, const std::string& target) {
  auto t = ip6(target);
  std::array<uint8_t, 16> sn = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, t[13], t[14], t[15]};
  std::vector<uint8_t> body(24 + 8, 0);
  body[0] = 135;
  std::memcpy(&body[8], t.data(), 16);
  body[24] = 1;  // source link-layer address option
  body[25] = 1;
  put_mac(body, 26, smac);
  return icmp6(ip6(src), sn, 255, body);
}

uint64_t solicited_node_mac(const std::string& target) {
  auto t = ip6(target);
  return 0x3333ff000000ULL | uint64_t(t[13]) << 16 | uint64_t(t[14]) << 8 | t[15];
}

// The first frame `m` received that matches, waiting up to 10 s.
std::optional<Frame> wait_frame(Net& net, Member& m, const std::function<bool(const Frame&)>& match) {
  std::optional<Frame> out;
  net.wait(
      [&] {
        for (const auto& f : m.frames)
          if (match(f)) {
            out = f;
            return true;
          }
        return false;
      },
      10s);
  return out;
}

}  // namespace

// A frame-only node F and a stack node S on one network: S's stack answers F's ARP request,
// ping, neighbour solicitation and ping6; a frame the stack does not take (lab ethertype)
// still reaches S's on_frame.
TEST(Stack, AnswersArpPingNdpToAFrameOnlyNode) {
  Net net;
  ASSERT_NO_FATAL_FAILURE(net.start());
  Member& f = net.add(false);
  Member& s = net.add(true);
  ASSERT_TRUE(net.configured(f) && net.configured(s));
  const uint64_t fmac = zt_network_mac(zt_node_address(f.node), net.nwid);
  const uint64_t smac = zt_network_mac(zt_node_address(s.node), net.nwid);

  // ARP (repeated: the stack's netif and group subscription come up right after the config).
  std::optional<Frame> reply;
  for (int i = 0; i < 50 && !reply; ++i) {
    auto req = arp_request(fmac, f.v4, s.v4);
    ASSERT_EQ(zt_node_send_frame(f.node, net.nwid, fmac, 0xffffffffffffULL, 0x0806, 0, req.data(), req.size()), ZT_OK);
    reply = wait_frame(net, f, [&](const Frame& x) { return x.ethertype == 0x0806 && x.data.size() >= 28 && x.data[7] == 2; });
  }
  ASSERT_TRUE(reply) << "no ARP reply";
  EXPECT_EQ(reply->src, smac);
  EXPECT_EQ(reply->dst, fmac);
  auto sip = ip4(s.v4);
  EXPECT_EQ(std::memcmp(&reply->data[14], sip.data(), 4), 0);  // sender IP = S
  uint64_t sha = 0;
  for (int i = 0; i < 6; ++i) sha = sha << 8 | reply->data[8 + size_t(i)];
  EXPECT_EQ(sha, smac);

  // ping
  auto echo = icmp4_echo(f.v4, s.v4, "ztcore ping");
  ASSERT_EQ(zt_node_send_frame(f.node, net.nwid, fmac, smac, 0x0800, 0, echo.data(), echo.size()), ZT_OK);
  auto pong = wait_frame(net, f, [&](const Frame& x) { return x.ethertype == 0x0800 && x.data.size() >= 28 && x.data[9] == 1 && x.data[20] == 0; });
  ASSERT_TRUE(pong) << "no ICMP echo reply";
  EXPECT_EQ(std::string(pong->data.begin() + 28, pong->data.end()), "ztcore ping");
  EXPECT_EQ(fold(sum16(pong->data.data(), 20)), 0) << "bad IPv4 header checksum";

  // NDP: a neighbour solicitation to S's solicited-node group.
  auto ns = neighbor_solicitation(fmac, f.v6, s.v6);
  ASSERT_EQ(zt_node_send_frame(f.node, net.nwid, fmac, solicited_node_mac(s.v6), 0x86dd, 0, ns.data(), ns.size()), ZT_OK);
  auto na = wait_frame(net, f, [&](const Frame& x) { return x.ethertype == 0x86dd && x.data.size() >= 64 && x.data[40] == 136; });
  ASSERT_TRUE(na) << "no neighbour advertisement";
  EXPECT_EQ(na->src, smac);
  auto target = ip6(s.v6);
  EXPECT_EQ(std::memcmp(&na->data[48], target.data(), 16), 0);

  // ping6
  std::vector<uint8_t> body = {128, 0, 0, 0, 0x12, 0x34, 0, 1, 'v', '6'};
  auto e6 = icmp6(ip6(f.v6), ip6(s.v6), 64, body);
  ASSERT_EQ(zt_node_send_frame(f.node, net.nwid, fmac, smac, 0x86dd, 0, e6.data(), e6.size()), ZT_OK);
  auto r6 = wait_frame(net, f, [&](const Frame& x) { return x.ethertype == 0x86dd && x.data.size() >= 48 && x.data[40] == 129; });
  ASSERT_TRUE(r6) << "no ICMPv6 echo reply";
  EXPECT_EQ(std::string(r6->data.begin() + 48, r6->data.end()), "v6");

  // Not for the stack: passed on to S's on_frame; and the stack consumed F's ARP/IP to S.
  const std::string lab = "lab frame";
  ASSERT_EQ(zt_node_send_frame(f.node, net.nwid, fmac, smac, 0x88b5, 0, lab.data(), lab.size()), ZT_OK);
  ASSERT_TRUE(wait_frame(net, s, [&](const Frame& x) { return x.ethertype == 0x88b5; })) << "lab frame not delivered";
  std::lock_guard lk(net.mu);
  for (const auto& x : s.frames) {
    EXPECT_NE(x.ethertype, 0x0806) << "ARP for the stack reached on_frame";
    if (x.ethertype == 0x0800) {
      EXPECT_NE(x.data[9], 1) << "ICMP for the stack reached on_frame";
    }
  }
}

TEST(Stack, UdpEchoBothFamilies) {
  Net net;
  ASSERT_NO_FATAL_FAILURE(net.start());
  Member& a = net.add(true);
  Member& b = net.add(true);
  ASSERT_TRUE(net.configured(a) && net.configured(b));
  for (int family : {ZT_AF_INET, ZT_AF_INET6}) {
    const std::string& bip = family == ZT_AF_INET ? b.v4 : b.v6;
    const std::string& aip = family == ZT_AF_INET ? a.v4 : a.v6;
    zt_socket* srv = listen_retry(b.node, family, ZT_SOCK_DGRAM, 9000);
    ASSERT_NE(srv, nullptr) << zt_last_error();
    std::thread echo([&] {
      char buf[512], ip[64];
      size_t got = 0;
      uint16_t port = 0;
      ASSERT_EQ(zt_socket_set_timeout(srv, 20000), ZT_OK);
      ASSERT_EQ(zt_socket_recvfrom(srv, buf, sizeof buf, &got, ip, sizeof ip, &port), ZT_OK) << zt_last_error();
      EXPECT_EQ(std::string(ip), aip);
      EXPECT_EQ(zt_socket_sendto(srv, buf, got, ip, port), ZT_OK) << zt_last_error();
    });
    zt_socket* c = nullptr;
    ASSERT_EQ(zt_socket_new(a.node, family, ZT_SOCK_DGRAM, &c), ZT_OK);
    ASSERT_EQ(zt_socket_set_timeout(c, 300), ZT_OK);
    const std::string msg = "udp echo " + std::to_string(family);
    char buf[512], ip[64];
    size_t got = 0;
    uint16_t port = 0;
    zt_result rc = ZT_ERR_TIMEOUT;
    // UDP over a fresh network: the first datagrams may wait for ARP/NDP; resend until echoed.
    for (int i = 0; i < 60 && rc != ZT_OK; ++i) {
      ASSERT_EQ(zt_socket_sendto(c, msg.data(), msg.size(), bip.c_str(), 9000), ZT_OK) << zt_last_error();
      rc = zt_socket_recvfrom(c, buf, sizeof buf, &got, ip, sizeof ip, &port);
      if (rc != ZT_OK) {
        EXPECT_EQ(rc, ZT_ERR_TIMEOUT) << zt_last_error();
      }
    }
    ASSERT_EQ(rc, ZT_OK);
    echo.join();
    EXPECT_EQ(std::string(buf, got), msg);
    EXPECT_EQ(std::string(ip), bip);
    EXPECT_EQ(port, 9000);
    zt_socket_close(c);
    zt_socket_close(srv);
  }
}

// Errors and readiness: refused connect, non-blocking accept/recv, the eventfd, sockets on a
// node without a stack.
TEST(Stack, ErrorsAndReadiness) {
  Net net;
  ASSERT_NO_FATAL_FAILURE(net.start());
  Member& a = net.add(true);
  Member& b = net.add(true);
  Member& plain = net.add(false);
  ASSERT_TRUE(net.configured(a) && net.configured(b));
  zt_socket* x = nullptr;
  EXPECT_EQ(zt_socket_new(plain.node, ZT_AF_INET, ZT_SOCK_STREAM, &x), ZT_ERR_STATE);
  EXPECT_EQ(zt_socket_new(a.node, 99, ZT_SOCK_STREAM, &x), ZT_ERR_INVALID_ARGUMENT);

  zt_socket* srv = listen_retry(b.node, ZT_AF_INET, ZT_SOCK_STREAM, 7100);
  ASSERT_NE(srv, nullptr);
  zt_socket* dup = nullptr;
  ASSERT_EQ(zt_socket_new(b.node, ZT_AF_INET, ZT_SOCK_STREAM, &dup), ZT_OK);
  EXPECT_EQ(zt_socket_bind(dup, nullptr, 7100), ZT_ERR_ADDR_IN_USE);
  zt_socket_close(dup);
  // A port is per node and per family, as on separate hosts: lwIP's port table is
  // process-wide, but "any" binds to the node's own address on the network.
  zt_socket* other_node = listen_retry(a.node, ZT_AF_INET, ZT_SOCK_STREAM, 7100);
  EXPECT_NE(other_node, nullptr) << "port 7100 on node a while node b listens on it";
  zt_socket* other_family = listen_retry(b.node, ZT_AF_INET6, ZT_SOCK_STREAM, 7100);
  EXPECT_NE(other_family, nullptr) << "IPv6 port 7100 on node b while its IPv4 port is taken";
  if (other_node) zt_socket_close(other_node);
  if (other_family) zt_socket_close(other_family);
  ASSERT_EQ(zt_socket_set_timeout(srv, 0), ZT_OK);
  zt_socket* none = nullptr;
  EXPECT_EQ(zt_socket_accept(srv, &none, nullptr, 0, nullptr), ZT_ERR_AGAIN);

  zt_socket* c = connect_retry(a.node, ZT_AF_INET, b.v4, 7100);
  ASSERT_NE(c, nullptr);
  // The listener's eventfd becomes readable for the pending connection.
  pollfd p{zt_socket_fd(srv), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10000), 1);
  int rev = 0;
  ASSERT_EQ(zt_socket_poll(srv, &rev), ZT_OK);
  EXPECT_TRUE(rev & ZT_POLLIN);
  zt_socket* acc = nullptr;
  ASSERT_EQ(zt_socket_accept(srv, &acc, nullptr, 0, nullptr), ZT_OK);
  ASSERT_EQ(zt_socket_set_timeout(acc, 0), ZT_OK);
  char buf[16];
  size_t got = 0;
  EXPECT_EQ(zt_socket_recv(acc, buf, sizeof buf, &got), ZT_ERR_AGAIN);
  size_t sent = 0;
  ASSERT_EQ(zt_socket_send(c, "hi", 2, &sent), ZT_OK);
  pollfd q{zt_socket_fd(acc), POLLIN, 0};
  ASSERT_EQ(::poll(&q, 1, 10000), 1);
  ASSERT_EQ(zt_socket_poll(acc, &rev), ZT_OK);
  EXPECT_TRUE(rev & ZT_POLLIN);
  ASSERT_EQ(zt_socket_recv(acc, buf, sizeof buf, &got), ZT_OK);
  EXPECT_EQ(std::string(buf, got), "hi");
  ASSERT_EQ(zt_socket_set_timeout(acc, 200), ZT_OK);
  EXPECT_EQ(zt_socket_recv(acc, buf, sizeof buf, &got), ZT_ERR_TIMEOUT);

  // Nobody listens on 7101: refused.
  zt_socket* r = nullptr;
  ASSERT_EQ(zt_socket_new(a.node, ZT_AF_INET, ZT_SOCK_STREAM, &r), ZT_OK);
  ASSERT_EQ(zt_socket_set_timeout(r, 5000), ZT_OK);
  EXPECT_EQ(zt_socket_connect(r, b.v4.c_str(), 7101), ZT_ERR_CONN_REFUSED) << zt_last_error();
  zt_socket_close(r);
  zt_socket_close(acc);
  zt_socket_close(c);
  zt_socket_close(srv);
}

// zt_node_free with open sockets (listening, connected, UDP) closes them; the handles then
// fail with ZT_ERR_STATE and zt_socket_close only frees memory (ASan checks the rest).
TEST(Stack, FreeingANodeClosesItsSockets) {
  Net net;
  ASSERT_NO_FATAL_FAILURE(net.start());
  Member& a = net.add(true);
  Member& b = net.add(true);
  ASSERT_TRUE(net.configured(a) && net.configured(b));
  zt_socket* srv = listen_retry(b.node, ZT_AF_INET, ZT_SOCK_STREAM, 7200);
  ASSERT_NE(srv, nullptr);
  zt_socket* c = connect_retry(a.node, ZT_AF_INET, b.v4, 7200);
  ASSERT_NE(c, nullptr);
  zt_socket* acc = nullptr;
  ASSERT_EQ(zt_socket_accept(srv, &acc, nullptr, 0, nullptr), ZT_OK);
  zt_socket* u = nullptr;
  ASSERT_EQ(zt_socket_new(b.node, ZT_AF_INET6, ZT_SOCK_DGRAM, &u), ZT_OK);
  zt_node_free(b.node);
  b.node = nullptr;
  char buf[8];
  size_t got = 0;
  EXPECT_EQ(zt_socket_recv(acc, buf, sizeof buf, &got), ZT_ERR_STATE);
  EXPECT_EQ(zt_socket_listen(srv, 1), ZT_ERR_STATE);
  int rev = 0;
  EXPECT_EQ(zt_socket_poll(srv, &rev), ZT_OK);
  EXPECT_TRUE(rev & ZT_POLLHUP);
  zt_socket_close(acc);
  zt_socket_close(srv);
  zt_socket_close(u);
  // A's end learns nothing (B vanished without a FIN) but works and closes normally.
  size_t sent = 0;
  EXPECT_EQ(zt_socket_send(c, "x", 1, &sent), ZT_OK);
  zt_socket_close(c);
}

// Many stack nodes in one process (netifs sharing one subnet in one lwIP): each answers ping
// from a frame-only node, with its own MAC.
TEST(Stack, HundredStackNodesAnswerPing) {
  constexpr size_t kNodes = 100;
  Net net;
  ASSERT_NO_FATAL_FAILURE(net.start());
  Member& f = net.add(false);
  // Identities are memory-hard to make: generate them on every core first.
  std::vector<std::array<char, 512>> ids(kNodes);
  std::vector<std::thread> gen;
  const unsigned workers = std::max(2u, std::thread::hardware_concurrency());
  for (unsigned w = 0; w < workers; ++w)
    gen.emplace_back([&, w] {
      for (size_t i = w; i < kNodes; i += workers) EXPECT_EQ(zt_identity_generate(ids[i].data(), 512), ZT_OK);
    });
  for (auto& t : gen) t.join();
  std::vector<Member*> ms;
  for (size_t i = 0; i < kNodes; ++i) ms.push_back(&net.add(true, ids[i].data()));
  ASSERT_TRUE(net.configured(f));
  for (Member* m : ms) ASSERT_TRUE(net.configured(*m));
  const uint64_t fmac = zt_network_mac(zt_node_address(f.node), net.nwid);
  std::map<std::string, uint64_t> mac_of;
  for (Member* m : ms) mac_of[m->v4] = zt_network_mac(zt_node_address(m->node), net.nwid);
  std::set<std::string> answered;
  for (int round = 0; round < 30 && answered.size() < kNodes; ++round) {
    for (Member* m : ms) {
      if (answered.count(m->v4)) continue;
      auto req = arp_request(fmac, f.v4, m->v4);  // teaches each stack F's MAC
      (void)zt_node_send_frame(f.node, net.nwid, fmac, 0xffffffffffffULL, 0x0806, 0, req.data(), req.size());
      auto echo = icmp4_echo(f.v4, m->v4, "n");
      (void)zt_node_send_frame(f.node, net.nwid, fmac, mac_of[m->v4], 0x0800, 0, echo.data(), echo.size());
    }
    net.wait(
        [&] {
          for (const auto& x : f.frames) {
            if (x.ethertype != 0x0800 || x.data.size() < 28 || x.data[9] != 1 || x.data[20] != 0) continue;
            char src[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &x.data[12], src, sizeof src);
            auto it = mac_of.find(src);
            if (it != mac_of.end() && it->second == x.src) answered.insert(src);
          }
          return answered.size() == kNodes;
        },
        1s);
  }
  EXPECT_EQ(answered.size(), kNodes);
}
