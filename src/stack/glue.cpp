// The lwIP side of the stack: one tcpip thread per process, netifs, frames in and out.
// Threading and the consumption / forwarding rules are described in stack.hpp.
#include <sys/random.h>
#include <unistd.h>
#include <cstdlib>
#include <ctime>

#include "stack/glue.hpp"

#include <unistd.h>

#include <cstring>
#include <future>
#include <thread>

#include "lwip/etharp.h"
#include "lwip/ethip6.h"
#include "lwip/init.h"
#include "lwip/ip.h"
#include "lwip/nd6.h"
#include "lwip/pbuf.h"
#include "lwip/tcpip.h"
#include "netif/ethernet.h"

namespace zt::stack {

namespace {

std::once_flag g_lwip_once;
std::atomic<size_t> g_netifs{0};
std::atomic<long> g_tcpip_tid{0};
// lwIP numbers netifs with a u8 and reserves 255; keep one spare.
constexpr size_t kMaxNetifs = 254;

// ---- output (lwIP context: core lock held) ------------------------------------------------

// The netif that owns `src` (IPv4, network byte order), or null.
struct netif* owner_v4(const uint8_t src[4]) {
  struct netif* n;
  NETIF_FOREACH(n) {
    if (std::memcmp(&netif_ip4_addr(n)->addr, src, 4) == 0 && !ip4_addr_isany_val(*netif_ip4_addr(n))) return n;
  }
  return nullptr;
}

struct netif* owner_v6(const uint8_t src[16]) {
  struct netif* n;
  NETIF_FOREACH(n) {
    for (int i = 0; i < LWIP_IPV6_NUM_ADDRESSES; ++i)
      if (ip6_addr_isvalid(netif_ip6_addr_state(n, i)) && std::memcmp(netif_ip6_addr(n, i)->addr, src, 16) == 0)
        return n;
  }
  return nullptr;
}

// The forwarding guard on output: an IPv4 packet leaves through the netif that owns its
// source address (see stack.hpp); a packet whose source no netif owns is dropped.
err_t output4(struct netif* nif, struct pbuf* p, const ip4_addr_t* next_hop) {
  uint8_t src[4];
  if (pbuf_copy_partial(p, src, 4, 12) != 4) return ERR_OK;
  if (std::memcmp(&netif_ip4_addr(nif)->addr, src, 4) != 0) {
    struct netif* o = owner_v4(src);
    if (!o) return ERR_OK;
    nif = o;
  }
  return etharp_output(nif, p, next_hop);
}

err_t output6(struct netif* nif, struct pbuf* p, const ip6_addr_t* next_hop) {
  uint8_t src[16];
  if (pbuf_copy_partial(p, src, 16, 8) != 16) return ERR_OK;
  static const uint8_t kAny[16] = {};
  // Unspecified or link-local sources (MLD, DAD) stay on the netif lwIP chose.
  if (std::memcmp(src, kAny, 16) != 0 && !(src[0] == 0xfe && (src[1] & 0xc0) == 0x80)) {
    struct netif* o = owner_v6(src);
    if (!o) return ERR_OK;
    nif = o;
  }
  return ethip6_output(nif, p, next_hop);
}

err_t linkoutput(struct netif* nif, struct pbuf* p) {
  auto* lw = static_cast<LwNetif*>(nif->state);
  const size_t len = p->tot_len;
  if (len < 14 || len > 14 + 10000) return ERR_OK;
  uint8_t buf[14 + 10000];
  if (pbuf_copy_partial(p, buf, uint16_t(len), 0) != len) return ERR_OK;
  lw->out->push(lw->nwid, buf, len);
  return ERR_OK;
}

// The interface MTU lwIP sends with: the network's MTU, capped so that one full IP packet fits
// one ZeroTier FRAME in one UDP datagram of the default physical MTU (1432 bytes = 28 bytes of
// packet header and verb + 8 network ID + 2 ethertype + 1394). lwIP derives the TCP MSS it uses
// and announces from it (1354), so neither side's segments need ZeroTier fragmentation: half
// the datagrams, syscalls and reassembly per byte compared with 1460-byte segments (measured
// in docs/PERFORMANCE.md). Larger frames from peers are still accepted.
constexpr unsigned kOneDatagramMtu = 1432 - 28 - 10;
uint16_t interface_mtu(unsigned network_mtu) { return uint16_t(std::min(network_mtu, kOneDatagramMtu)); }

err_t netif_init_cb(struct netif* nif) {
  auto* lw = static_cast<LwNetif*>(nif->state);
  nif->name[0] = 'z';
  nif->name[1] = 't';
  nif->hwaddr_len = 6;
  for (int i = 0; i < 6; ++i) nif->hwaddr[i] = uint8_t(lw->cfg.mac >> (40 - 8 * i));
  nif->mtu = interface_mtu(lw->cfg.mtu);
  nif->mtu6 = nif->mtu;
  nif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_IGMP | NETIF_FLAG_MLD6;
  nif->output = output4;
  nif->output_ip6 = output6;
  nif->linkoutput = linkoutput;
  // Addresses come from the controller: no SLAAC and no router solicitations.
  nif->ip6_autoconfig_enabled = 0;
  return ERR_OK;
}

// ---- netif configuration (tcpip thread) -----------------------------------------------------

void apply_v4(LwNetif* lw, const NetifConfig& c) {
  ip4_addr_t ip{}, mask{}, gw{};
  if (c.has_v4) {
    std::memcpy(&ip.addr, c.v4, 4);
    const uint32_t m = c.v4_bits == 0 ? 0 : c.v4_bits >= 32 ? 0xffffffffu : ~0u << (32 - c.v4_bits);
    mask.addr = lwip_htonl(m);
    std::memcpy(&gw.addr, c.gw4, 4);
  }
  netif_set_addr(&lw->nif, &ip, &mask, &gw);
}

void apply_v6(LwNetif* lw, const NetifConfig& c) {
  struct netif* n = &lw->nif;
  // Drop addresses no longer configured, then add the new ones as PREFERRED (the controller
  // assigned them: no duplicate address detection, which would delay them by a second).
  for (int i = 0; i < LWIP_IPV6_NUM_ADDRESSES; ++i) {
    if (ip6_addr_isinvalid(netif_ip6_addr_state(n, i))) continue;
    bool keep = false;
    for (const auto& a : c.v6) keep = keep || std::memcmp(netif_ip6_addr(n, i)->addr, a.data(), 16) == 0;
    if (!keep) netif_ip6_addr_set_state(n, i, IP6_ADDR_INVALID);
  }
  for (const auto& a : c.v6) {
    ip6_addr_t ip{};
    std::memcpy(ip.addr, a.data(), 16);
    ip6_addr_clear_zone(&ip);
    if (netif_get_ip6_addr_match(n, &ip) >= 0) continue;
    s8_t idx = -1;
    if (netif_add_ip6_address(n, &ip, &idx) == ERR_OK && idx >= 0) netif_ip6_addr_set_state(n, idx, IP6_ADDR_PREFERRED);
  }
}

struct NetifCmd {
  LwNetif* lw;
  NetifConfig cfg;
};

void add_cb(void* arg) {
  std::unique_ptr<NetifCmd> c(static_cast<NetifCmd*>(arg));
  LwNetif* lw = c->lw;
  lw->cfg = c->cfg;
  ip4_addr_t any{};
  if (!netif_add(&lw->nif, &any, &any, &any, lw, netif_init_cb, tcpip_input)) return;
  apply_v4(lw, c->cfg);
  apply_v6(lw, c->cfg);
  netif_set_up(&lw->nif);
  netif_set_link_up(&lw->nif);
  lw->nif.rs_count = 0;  // no router solicitations (set again by set_up / set_link_up)
  lw->index = netif_get_index(&lw->nif);
}

void update_cb(void* arg) {
  std::unique_ptr<NetifCmd> c(static_cast<NetifCmd*>(arg));
  LwNetif* lw = c->lw;
  if (lw->index == 0) return;
  lw->cfg = c->cfg;
  lw->nif.mtu = interface_mtu(c->cfg.mtu);
  lw->nif.mtu6 = lw->nif.mtu;
  apply_v4(lw, c->cfg);
  apply_v6(lw, c->cfg);
}

void remove_cb(void* arg) {
  auto* lw = static_cast<LwNetif*>(arg);
  if (lw->index != 0) netif_remove(&lw->nif);
  delete lw;
  --g_netifs;
}

// tcpip_callback waits (briefly) only while the tcpip mailbox is full; the tcpip thread never
// waits for a loop thread, so this cannot deadlock.
void post_cb(tcpip_callback_fn fn, void* arg) {
  while (tcpip_callback(fn, arg) != ERR_OK) std::this_thread::yield();
}

}  // namespace

void ensure_lwip() {
  std::call_once(g_lwip_once, [] {
    // Debian's lwIP draws its first ephemeral port (LWIP_RANDOMIZE_INITIAL_LOCAL_PORTS) and its
    // other random values from libc rand(), which nobody seeds: every process would open its
    // first connection from the same port, and a restarted node would collide with the
    // connection a peer still holds in TIME_WAIT (seen against a stock host with
    // tcp_rfc1337=1). Seed it from the OS once, before lwIP initialises. (The initial sequence
    // number is a counter in this lwIP build and cannot be randomised without rebuilding it.)
    unsigned seed = 0;
    if (::getrandom(&seed, sizeof seed, 0) != sizeof seed) seed = unsigned(::time(nullptr)) ^ unsigned(::getpid());
    std::srand(seed);
    std::promise<void> ready;
    tcpip_init(
        [](void* p) {
          g_tcpip_tid = long(::gettid());
          static_cast<std::promise<void>*>(p)->set_value();
        },
        &ready);
    ready.get_future().wait();
  });
}

void with_core_lock(const std::function<void()>& fn) {
  ensure_lwip();
  LOCK_TCPIP_CORE();
  try {
    fn();
  } catch (...) {
    UNLOCK_TCPIP_CORE();
    throw;
  }
  UNLOCK_TCPIP_CORE();
}

size_t netif_count() { return g_netifs.load(); }

long tcpip_thread_tid() { return g_tcpip_tid.load(); }

void tcpip_barrier() {
  ensure_lwip();
  std::promise<void> done;
  post_cb([](void* p) { static_cast<std::promise<void>*>(p)->set_value(); }, &done);
  done.get_future().wait();
}

bool post_netif_add(LwNetif* lw, const NetifConfig& c) {
  if (++g_netifs > kMaxNetifs) {
    --g_netifs;
    return false;
  }
  lw->cfg = c;
  post_cb(add_cb, new NetifCmd{lw, c});
  return true;
}

void post_netif_update(LwNetif* lw, const NetifConfig& c) { post_cb(update_cb, new NetifCmd{lw, c}); }

void post_netif_remove(LwNetif* lw) { post_cb(remove_cb, lw); }

// ---- frames out -------------------------------------------------------------------------------

void Outbox::push(uint64_t nwid, const uint8_t* frame, size_t len) {
  std::lock_guard lk(mu);
  if (q.size() >= kMaxFrames) {
    ++dropped;
    return;
  }
  Frame f;
  f.nwid = nwid;
  f.dst = load_be(frame, 6);
  f.src = load_be(frame + 6, 6);
  f.ethertype = uint16_t(frame[12] << 8 | frame[13]);
  f.payload.assign(frame + 14, frame + len);
  q.push_back(std::move(f));
  kick_locked();
}

void Outbox::kick_locked() {
  if (pending || !rt || q.empty()) return;
  pending = true;
  std::weak_ptr<Outbox> w = self;
  rt->post([w] { drain(w); });
}

void Outbox::drain(const std::weak_ptr<Outbox>& w) {
  auto ob = w.lock();
  if (!ob) return;  // the stack is gone: nothing to send
  std::vector<Frame> batch;
  {
    std::lock_guard lk(ob->mu);
    batch.swap(ob->q);
    ob->pending = false;
  }
  auto h = ob->node.lock();
  if (!h || batch.empty()) return;
  // with_node on the loop thread runs inline; it skips a node that was stopped meanwhile.
  // send_frame_on_loop: the node's own send, recorded by a running capture (--pcap).
  h->with_node([&](core::Node&, int64_t now) {
    for (const auto& f : batch)
      (void)h->send_frame_on_loop(now, f.nwid, proto::Mac(f.src), proto::Mac(f.dst), f.ethertype, 0, f.payload);
  });
  ob->sent += batch.size();
}

// ---- frames in ----------------------------------------------------------------------------------

namespace {

bool is_v4_broadcast(const NetState& n, const uint8_t* d) {
  if (d[0] == 255 && d[1] == 255 && d[2] == 255 && d[3] == 255) return true;
  if (!n.cfg.has_v4 || n.cfg.v4_bits >= 31) return false;
  const uint32_t m = n.cfg.v4_bits == 0 ? 0 : ~0u << (32 - n.cfg.v4_bits);
  return (load_be32(d) | m) == 0xffffffffu && (load_be32(d) & m) == (load_be32(n.cfg.v4) & m);
}

Verdict classify_v6(const NetState& n, const uint8_t* d) {
  for (const auto& a : n.cfg.v6) {
    if (std::memcmp(d, a.data(), 16) == 0) return Verdict::Stack;
    // Solicited-node group ff02::1:ffXX:XXXX of this address (NDP neighbour solicitations).
    static const uint8_t kSn[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};
    if (std::memcmp(d, kSn, 13) == 0 && std::memcmp(d + 13, a.data() + 13, 3) == 0) return Verdict::Stack;
  }
  static const uint8_t kAllNodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  if (!n.cfg.v6.empty() && std::memcmp(d, kAllNodes, 16) == 0) return Verdict::Both;
  return Verdict::Pass;
}

}  // namespace

Verdict classify(const NetState& n, uint16_t ethertype, uint16_t vlan, ByteSpan data) {
  if (vlan != 0 || !n.lw || n.lw->index == 0) return Verdict::Pass;
  const uint8_t* d = data.data();
  switch (ethertype) {
    case 0x0806:  // ARP for IPv4 over Ethernet, target protocol address at 24
      if (data.size() >= 28 && n.cfg.has_v4 && std::memcmp(d + 24, n.cfg.v4, 4) == 0) return Verdict::Stack;
      return Verdict::Pass;
    case 0x0800:
      if (data.size() < 20 || (d[0] >> 4) != 4 || !n.cfg.has_v4) return Verdict::Pass;
      if (std::memcmp(d + 16, n.cfg.v4, 4) == 0) return Verdict::Stack;
      return is_v4_broadcast(n, d + 16) ? Verdict::Both : Verdict::Pass;
    case 0x86dd:
      if (data.size() < 40 || (d[0] >> 4) != 6) return Verdict::Pass;
      return classify_v6(n, d + 24);
    default:
      return Verdict::Pass;
  }
}

bool carries_udplite(uint16_t ethertype, ByteSpan data) {
  constexpr uint8_t kUdpLite = 136;
  const uint8_t* d = data.data();
  if (ethertype == 0x0800) return data.size() >= 20 && d[9] == kUdpLite;
  if (ethertype != 0x86dd || data.size() < 40) return false;
  uint8_t next = d[6];
  size_t off = 40;
  // Walk hop-by-hop (0), routing (43), fragment (44) and destination options (60) headers:
  // lwIP follows the same chain (a fragment header names the reassembled payload's protocol).
  for (int hops = 0; hops < 16; ++hops) {
    if (next == kUdpLite) return true;
    if (next != 0 && next != 43 && next != 44 && next != 60) return false;
    if (off + 8 > data.size()) return false;
    const size_t len = next == 44 ? 8 : (size_t(d[off + 1]) + 1) * 8;
    next = d[off];
    off += len;
  }
  return true;  // absurdly long chains are not worth lwIP's time either
}

struct pbuf* input_pbuf(proto::Mac src, proto::Mac dst, uint16_t ethertype, ByteSpan data) {
  if (data.size() > 10000 || carries_udplite(ethertype, data)) return nullptr;
  struct pbuf* p = pbuf_alloc(PBUF_RAW, uint16_t(14 + data.size()), PBUF_RAM);
  if (!p) return nullptr;
  auto* b = static_cast<uint8_t*>(p->payload);
  const auto d = dst.bytes(), s = src.bytes();
  std::memcpy(b, d.data(), 6);
  std::memcpy(b + 6, s.data(), 6);
  b[12] = uint8_t(ethertype >> 8);
  b[13] = uint8_t(ethertype);
  std::memcpy(b + 14, data.data(), data.size());
  return p;
}

void deliver_input(std::span<const PendingInput> frames) {
  if (frames.empty()) return;
  // Run here, on the caller's (loop) thread, instead of being posted to the tcpip thread: no
  // thread hand-off (futex wake-up, context switch) per segment and ACK, and a whole receive
  // batch under one hold of the lock, so a reader blocked in recv wakes once per batch.
  LOCK_TCPIP_CORE();
  for (const auto& f : frames) {
    if (f.lw && f.lw->index != 0)
      ethernet_input(f.p, &f.lw->nif);  // consumes p
    else
      pbuf_free(f.p);
  }
  UNLOCK_TCPIP_CORE();
}

}  // namespace zt::stack
