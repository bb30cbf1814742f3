// NodeStack: one node's view of the shared lwIP — its netifs (one per joined network), its
// outbox and its sockets. See stack.hpp for the threading rules.
#include <algorithm>
#include <cstring>

#include "stack/glue.hpp"

namespace zt::stack {

namespace {

// The netif configuration a network config asks for: the first IPv4 address (lwIP holds one
// per netif), its default gateway (a 0.0.0.0/0 route via an IPv4 address), up to
// LWIP_IPV6_NUM_ADDRESSES IPv6 addresses, the MTU.
NetifConfig config_from(const core::NetworkInfo& info) {
  NetifConfig c;
  c.mac = info.mac.value();
  c.mtu = info.mtu;
  for (const auto& a : info.assigned_addresses) {
    if (a.is_v4() && !c.has_v4) {
      c.has_v4 = true;
      std::memcpy(c.v4, a.ip(), 4);
      c.v4_bits = std::min(a.prefix_bits(), 32u);
    } else if (a.is_v6() && c.v6.size() < LWIP_IPV6_NUM_ADDRESSES) {
      std::array<uint8_t, 16> b;
      std::memcpy(b.data(), a.ip(), 16);
      c.v6.push_back(b);
    }
  }
  for (const auto& r : info.routes) {
    if (c.has_v4 && r.target.is_v4() && r.target.prefix_bits() == 0 && r.via.is_v4())
      std::memcpy(c.gw4, r.via.ip(), 4);
  }
  return c;
}

std::set<proto::MulticastGroup> groups_for(const NetifConfig& c) {
  std::set<proto::MulticastGroup> g;
  if (c.has_v4) g.insert(proto::MulticastGroup::for_ipv4_arp(c.v4));
  for (const auto& a : c.v6) {
    // Solicited-node group 33:33:ff:XX:XX:XX (RFC 4291 2.7.1 mapped per RFC 2464 7).
    const uint64_t mac = 0x3333ff000000ULL | uint64_t(a[13]) << 16 | uint64_t(a[14]) << 8 | a[15];
    g.insert(proto::MulticastGroup{proto::Mac(mac), 0});
  }
  return g;
}

bool prefix_match(const uint8_t* a, const uint8_t* b, unsigned bits) {
  for (unsigned i = 0; i < bits / 8; ++i)
    if (a[i] != b[i]) return false;
  if (bits % 8 == 0) return true;
  const uint8_t m = uint8_t(0xff << (8 - bits % 8));
  return (a[bits / 8] & m) == (b[bits / 8] & m);
}

}  // namespace

NodeStack::NodeStack() : outbox_(std::make_shared<Outbox>()) { outbox_->self = outbox_; }

NodeStack::~NodeStack() {
  try {
    close();
  } catch (...) {
  }
}

std::shared_ptr<NodeStack> NodeStack::attach(runtime::NodeConfig& cfg) {
  ensure_lwip();
  std::shared_ptr<NodeStack> st(new NodeStack());
  std::weak_ptr<NodeStack> w = st;
  auto user_frame = std::move(cfg.on_frame);
  cfg.on_frame = [w, user_frame](uint64_t nwid, proto::Mac src, proto::Mac dst, uint16_t ethertype, uint16_t vlan,
                                 ByteSpan data) {
    auto s = w.lock();
    if (s && s->input(nwid, src, dst, ethertype, vlan, data)) return;
    if (user_frame) user_frame(nwid, src, dst, ethertype, vlan, data);
  };
  auto user_net = std::move(cfg.on_network);
  cfg.on_network = [w, user_net](uint64_t nwid, core::NetworkOp op, const core::NetworkInfo& info) {
    if (auto s = w.lock()) s->network(nwid, op, info);
    if (user_net) user_net(nwid, op, info);
  };
  return st;
}

void NodeStack::start(runtime::Runtime& rt, const std::shared_ptr<runtime::NodeHandle>& node) {
  {
    std::lock_guard lk(mu_);
    if (closed_) return;
    rt_ = &rt;
    node_ = node;
  }
  {
    std::lock_guard lk(outbox_->mu);
    outbox_->rt = &rt;
    outbox_->node = node;
    outbox_->kick_locked();  // frames emitted before start
  }
  std::weak_ptr<NodeStack> w = weak_from_this();
  rt.post([w] {
    if (auto s = w.lock()) s->sync_subscriptions();
  });
}

bool NodeStack::closed() const {
  std::lock_guard lk(mu_);
  return closed_;
}

void NodeStack::close() {
  std::vector<std::pair<Socket*, std::weak_ptr<Socket>>> sockets;
  {
    std::lock_guard lk(mu_);
    if (closed_) return;
    closed_ = true;
    std::lock_guard ol(outbox_->mu);
    outbox_->rt = nullptr;
    outbox_->q.clear();
    sockets.swap(sockets_);
  }
  // Sockets first (their pcbs are bound to these netifs), then the netifs. Not under mu_: a
  // socket call holds its own lock while it asks pick_netif (mu_), and a blocked connect holds
  // it until the loop — which takes mu_ to deliver input — has answered. A socket destroyed
  // meanwhile closes itself (its weak pointer no longer locks).
  for (auto& [raw, weak] : sockets)
    if (auto s = weak.lock()) s->close_from_stack();
  std::lock_guard lk(mu_);
  for (auto& f : inbox_) f.lw = nullptr;  // freed, not delivered
  deliver_input(inbox_);
  inbox_.clear();
  for (auto& n : nets_) post_netif_remove(n->lw);
  nets_.clear();
}

bool NodeStack::on_loop_thread() const {
  std::lock_guard lk(mu_);
  return rt_ && rt_->on_loop_thread();
}

std::vector<proto::InetAddress> NodeStack::addresses(uint64_t nwid) const {
  std::lock_guard lk(mu_);
  for (const auto& n : nets_)
    if (n->nwid == nwid) return n->addrs;
  return {};
}

bool NodeStack::ready(uint64_t nwid) const {
  std::lock_guard lk(mu_);
  for (const auto& n : nets_)
    if (n->nwid == nwid) return n->lw->index != 0 && (n->cfg.has_v4 || !n->cfg.v6.empty());
  return false;
}

StackCounters NodeStack::counters() const {
  std::lock_guard lk(mu_);
  StackCounters c = counters_;
  c.frames_out = outbox_->sent;
  c.dropped_out = outbox_->dropped;
  return c;
}

bool NodeStack::input(uint64_t nwid, proto::Mac src, proto::Mac dst, uint16_t ethertype, uint16_t vlan,
                      ByteSpan data) {
  constexpr size_t kMaxPending = 1024;
  std::unique_lock lk(mu_);
  if (closed_) return false;
  for (const auto& n : nets_) {
    if (n->nwid != nwid) continue;
    const Verdict v = classify(*n, ethertype, vlan, data);
    if (v == Verdict::Pass) return false;
    struct pbuf* p = inbox_.size() < kMaxPending ? input_pbuf(src, dst, ethertype, data) : nullptr;
    if (!p) {
      ++counters_.dropped_in;
      return v == Verdict::Stack;
    }
    ++counters_.frames_in;
    inbox_.push_back({n->lw, p});
    if (!rt_) {  // not started (tests, the fuzzer): deliver at once
      lk.unlock();
      flush_input();
    } else if (!inbox_posted_) {
      // The task runs after the loop has handled this iteration's datagrams.
      inbox_posted_ = true;
      std::weak_ptr<NodeStack> w = weak_from_this();
      rt_->post([w] {
        if (auto s = w.lock()) s->flush_input();
      });
    }
    return v == Verdict::Stack;
  }
  return false;
}

void NodeStack::flush_input() {
  std::lock_guard lk(mu_);  // keeps every listed netif alive (removal is posted under mu_)
  inbox_posted_ = false;
  // A frame whose network went down meanwhile is dropped: its netif may already be gone.
  for (auto& f : inbox_) {
    const bool listed = std::any_of(nets_.begin(), nets_.end(), [&](const auto& n) { return n->lw == f.lw; });
    if (!listed) f.lw = nullptr;
  }
  deliver_input(inbox_);
  inbox_.clear();
}

void NodeStack::network(uint64_t nwid, core::NetworkOp op, const core::NetworkInfo& info) {
  std::unique_lock lk(mu_);
  if (closed_) return;
  auto it = std::find_if(nets_.begin(), nets_.end(), [&](const auto& n) { return n->nwid == nwid; });
  const bool gone = op == core::NetworkOp::Down || op == core::NetworkOp::Destroy;
  if (gone) {
    if (it != nets_.end()) {
      post_netif_remove((*it)->lw);
      nets_.erase(it);
    }
    return;
  }
  if (!info.has_config) return;
  NetifConfig c = config_from(info);
  if (it == nets_.end()) {
    auto n = std::make_unique<NetState>();
    n->nwid = nwid;
    n->lw = new LwNetif();
    n->lw->nwid = nwid;
    n->lw->out = outbox_;
    if (!post_netif_add(n->lw, c)) {
      delete n->lw;  // more netifs than lwIP can number: this network has no stack
      return;
    }
    n->cfg = c;
    nets_.push_back(std::move(n));
    it = nets_.end() - 1;
  } else if (!((*it)->cfg == c)) {
    post_netif_update((*it)->lw, c);
    (*it)->cfg = c;
  }
  (*it)->addrs = info.assigned_addresses;
  (*it)->routes = info.routes;
  (*it)->want = groups_for(c);
  if (rt_ && (*it)->want != (*it)->have) {
    // Subscribing changes core state: not from inside this core callback, a task later.
    std::weak_ptr<NodeStack> w = weak_from_this();
    rt_->post([w] {
      if (auto s = w.lock()) s->sync_subscriptions();
    });
  }
}

// Loop thread: announce the multicast groups the stack's addresses need (ARP group per IPv4,
// solicited-node group per IPv6) so that peers' ARP/NDP reach this node.
void NodeStack::sync_subscriptions() {
  struct Change {
    uint64_t nwid;
    proto::MulticastGroup g;
    bool add;
  };
  std::vector<Change> todo;
  std::shared_ptr<runtime::NodeHandle> h;
  {
    std::lock_guard lk(mu_);
    if (closed_) return;
    h = node_.lock();
    if (!h) return;
    for (auto& n : nets_) {
      for (const auto& g : n->want)
        if (!n->have.count(g)) todo.push_back({n->nwid, g, true});
      for (const auto& g : n->have)
        if (!n->want.count(g)) todo.push_back({n->nwid, g, false});
      n->have = n->want;
    }
  }
  if (todo.empty()) return;
  h->with_node([&](core::Node& node, int64_t now) {
    for (const auto& c : todo)
      (void)(c.add ? node.multicast_subscribe(now, c.nwid, c.g) : node.multicast_unsubscribe(now, c.nwid, c.g));
  });
}

uint8_t NodeStack::pick_netif(int family, const std::optional<proto::InetAddress>& local,
                              const std::optional<proto::InetAddress>& remote) const {
  std::lock_guard lk(mu_);
  const bool v4 = family == AF_INET;
  auto has_family = [&](const NetState& n) { return v4 ? n.cfg.has_v4 : !n.cfg.v6.empty(); };
  for (const auto& n : nets_) {
    if (!has_family(*n) || n->lw->index == 0) continue;
    if (local) {
      for (const auto& a : n->addrs)
        if (a.family() == local->family() && std::memcmp(a.ip(), local->ip(), a.ip_size()) == 0) return n->lw->index;
      continue;
    }
    if (!remote) return n->lw->index;
    for (const auto& a : n->addrs)
      if (a.family() == remote->family() && prefix_match(a.ip(), remote->ip(), a.prefix_bits())) return n->lw->index;
    for (const auto& r : n->routes)
      if (r.target.family() == remote->family() && prefix_match(r.target.ip(), remote->ip(), r.target.prefix_bits()))
        return n->lw->index;
  }
  if (local || !remote) return 0;
  for (const auto& n : nets_)  // no subnet or route matched: the first network of that family
    if (has_family(*n) && n->lw->index != 0) return n->lw->index;
  return 0;
}

void NodeStack::forget_socket(Socket* s) {
  std::lock_guard lk(mu_);
  std::erase_if(sockets_, [s](const auto& e) { return e.first == s; });
}

}  // namespace zt::stack
