// Internal to src/stack: the shared lwIP instance, netifs and the outbox. Not for other layers.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <set>
#include <span>
#include <vector>

// lwipopts.h declares the core-lock functions and sockets_priv.h lwip_socket_dbg_get_socket
// outside any extern "C": include them with C linkage first (their include guards keep it).
extern "C" {
#include "lwip/opt.h"
#include "lwip/priv/sockets_priv.h"
}
#include "lwip/netif.h"
#include "proto/inet_address.hpp"
#include "proto/netconf.hpp"
#include "proto/vl2.hpp"
#include "stack/stack.hpp"

namespace zt::stack {

// Starts the process's one lwIP (tcpip thread) on first use; thread-safe.
void ensure_lwip();

// Frames lwIP emitted for one node, waiting for the node's loop thread.
struct Outbox {
  struct Frame {
    uint64_t nwid;
    uint64_t src, dst;
    uint16_t ethertype;
    Bytes payload;
  };
  static constexpr size_t kMaxFrames = 8192;  // beyond: dropped like a full NIC queue
  std::mutex mu;
  std::vector<Frame> q;
  bool pending = false;                   // a drain task is posted and has not started
  runtime::Runtime* rt = nullptr;         // null before start() and after close()
  std::weak_ptr<runtime::NodeHandle> node;
  std::weak_ptr<Outbox> self;
  std::atomic<uint64_t> sent{0}, dropped{0};

  // lwIP context: queues one frame (bytes = Ethernet header + payload).
  void push(uint64_t nwid, const uint8_t* frame, size_t len);
  // Loop thread: sends everything queued.
  static void drain(const std::weak_ptr<Outbox>& w);
  // Caller holds mu: posts a drain if frames wait and none is pending.
  void kick_locked();
};

// The desired lwIP configuration of one netif (computed on the loop thread).
struct NetifConfig {
  uint64_t mac = 0;
  unsigned mtu = 2800;
  bool has_v4 = false;
  uint8_t v4[4] = {};
  unsigned v4_bits = 0;
  uint8_t gw4[4] = {};
  std::vector<std::array<uint8_t, 16>> v6;  // at most LWIP_IPV6_NUM_ADDRESSES
  bool operator==(const NetifConfig&) const = default;
};

// One lwIP netif. Created on the loop thread, added/updated/removed (and deleted) on the
// tcpip thread by callbacks posted in that order, so input posted before a removal is
// processed while the netif still exists.
struct LwNetif {
  struct netif nif {};
  uint64_t nwid = 0;
  std::shared_ptr<Outbox> out;
  NetifConfig cfg;                  // tcpip thread
  std::atomic<uint8_t> index{0};    // lwIP netif index once added (0 = not yet / failed)
};

// Loop-side view of one joined network (guarded by NodeStack::mu_).
struct NetState {
  uint64_t nwid = 0;
  LwNetif* lw = nullptr;  // owned by the tcpip side once posted; never null while listed
  NetifConfig cfg;
  std::vector<proto::InetAddress> addrs;    // "ip/bits" as configured
  std::vector<proto::NetworkRoute> routes;
  std::set<proto::MulticastGroup> want, have;  // multicast groups for the stack's addresses
};

// Posts netif add / update / remove to the tcpip thread.
bool post_netif_add(LwNetif* lw, const NetifConfig& c);
void post_netif_update(LwNetif* lw, const NetifConfig& c);
void post_netif_remove(LwNetif* lw);

// Frame → stack decision for one network (see the rule in stack.hpp).
enum class Verdict { Pass, Stack, Both };
Verdict classify(const NetState& n, uint16_t ethertype, uint16_t vlan, ByteSpan data);
// True for IP packets carrying UDP-Lite (IPv4 protocol / IPv6 next header 136, also behind
// IPv6 extension headers). Debian's lwIP 2.1.3 aborts the process (LWIP_ASSERT "delete me" in
// inet_chksum.c) on a UDP-Lite header whose checksum coverage exceeds the packet; we offer no
// UDP-Lite sockets, so such packets never reach lwIP. Found by fuzz_stack_input.
bool carries_udplite(uint16_t ethertype, ByteSpan data);
// The frame as an lwIP pbuf with its Ethernet header rebuilt; nullptr when it must not or
// cannot enter lwIP (over 10,000 bytes, the hostile inputs above, out of pbuf memory).
struct pbuf* input_pbuf(proto::Mac src, proto::Mac dst, uint16_t ethertype, ByteSpan data);
// Feeds frames to lwIP on the calling thread under one hold of the core lock; every pbuf is
// consumed (freed without delivery when lw is nullptr or its netif is not up yet).
struct PendingInput {
  LwNetif* lw;
  struct pbuf* p;
};
void deliver_input(std::span<const PendingInput> frames);

}  // namespace zt::stack
