// Fuzz target: the frame -> stack path (src/stack): arbitrary Ethernet payloads offered to a
// node stack's netif as ARP / IPv4 / IPv6 / other frames, then processed by lwIP. Input:
//   [0] kind: low 2 bits = 0 ARP, 1 IPv4, 2 IPv6, 3 ethertype from [1..2];
//       bit 2: aim at the stack (patch the destination / ARP target to its address, so the
//       frame is consumed instead of passed on); bit 3: fix the IPv4 header checksum;
//       bit 4: fix the TCP/UDP/ICMP checksum (IPv4 and IPv6), so the transport code is reached
//   [1..2] ethertype (kind 3), then the payload.
// Every frame is followed by a barrier on the tcpip thread, so a crash is found on its input.
#include <cstdint>
#include <cstring>
#include <vector>

#include "stack/stack.hpp"

using namespace zt;

namespace {

constexpr uint64_t kNwid = 0x8056c2e21c000001ULL;
const uint8_t kV4[4] = {10, 1, 0, 2};
const uint8_t kV6[16] = {0xfd, 0x80, 0x56, 0xc2, 0xe2, 0x1c, 0, 0, 0, 1, 0x99, 0x93, 0x11, 0x22, 0x33, 0x44};

uint32_t sum16(const uint8_t* p, size_t n, uint32_t s = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) s += uint32_t(p[i] << 8 | p[i + 1]);
  if (n & 1) s += uint32_t(p[n - 1] << 8);
  return s;
}
uint16_t fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return uint16_t(~s);
}

// Fixes the transport checksum of an IP packet (pseudo-header per RFC 793 / 768 / 4443).
void fix_transport(std::vector<uint8_t>& d, bool v6) {
  size_t hl, plen;
  uint8_t proto;
  uint32_t s = 0;
  if (!v6) {
    if (d.size() < 20) return;
    hl = size_t(d[0] & 15) * 4;
    if (hl < 20 || hl > d.size()) return;
    proto = d[9];
    plen = d.size() - hl;
    s = sum16(d.data() + 12, 8);
    if (proto != 1) s += proto + uint32_t(plen);
  } else {
    if (d.size() < 40) return;
    hl = 40;
    proto = d[6];
    plen = d.size() - 40;
    s = sum16(d.data() + 8, 32) + proto + uint32_t(plen);
  }
  size_t off = proto == 6 ? 16 : proto == 17 ? 6 : (proto == 1 || proto == 58) ? 2 : 0;
  if (off == 0 || hl + off + 2 > d.size()) return;
  d[hl + off] = d[hl + off + 1] = 0;
  const uint16_t c = fold(sum16(d.data() + hl, plen, s));
  d[hl + off] = uint8_t(c >> 8);
  d[hl + off + 1] = uint8_t(c);
}

struct Harness {
  runtime::NodeConfig cfg;
  std::shared_ptr<stack::NodeStack> st;
  Harness() {
    st = stack::NodeStack::attach(cfg);
    core::NetworkInfo info;
    info.nwid = kNwid;
    info.mac = proto::Mac(0x32aabbccdd01ULL);
    info.has_config = true;
    info.status = core::NetworkStatus::Ok;
    auto v4 = proto::InetAddress::v4(kV4, 24);
    auto v6 = proto::InetAddress::v6(kV6, 88);
    info.assigned_addresses = {v4, v6};
    cfg.on_network(kNwid, core::NetworkOp::Up, info);
    stack::tcpip_barrier();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Harness h;
  if (size < 3) return 0;
  const uint8_t kind = data[0];
  uint16_t ethertype = (kind & 3) == 0 ? 0x0806 : (kind & 3) == 1 ? 0x0800 : (kind & 3) == 2 ? 0x86dd
                                                                                : uint16_t(data[1] << 8 | data[2]);
  std::vector<uint8_t> d(data + 3, data + size);
  const bool aim = kind & 4;
  if (aim && ethertype == 0x0806 && d.size() >= 28) std::memcpy(&d[24], kV4, 4);
  if (aim && ethertype == 0x0800 && d.size() >= 20) {
    d[0] = uint8_t(0x40 | (d[0] & 15));
    std::memcpy(&d[16], kV4, 4);
  }
  if (aim && ethertype == 0x86dd && d.size() >= 40) {
    d[0] = uint8_t(0x60 | (d[0] & 15));
    std::memcpy(&d[24], kV6, 16);
  }
  if ((kind & 8) && ethertype == 0x0800 && d.size() >= 20) {
    const size_t hl = std::min<size_t>(size_t(d[0] & 15) * 4, d.size());
    d[10] = d[11] = 0;
    const uint16_t c = fold(sum16(d.data(), hl));
    d[10] = uint8_t(c >> 8);
    d[11] = uint8_t(c);
  }
  if (kind & 16) fix_transport(d, ethertype == 0x86dd);
  const proto::Mac peer(0x32aabbccdd02ULL);
  const proto::Mac dst = (kind & 32) ? proto::Mac::broadcast() : proto::Mac(0x32aabbccdd01ULL);
  // Through the NodeConfig callback, exactly as the runtime delivers frames.
  h.cfg.on_frame(kNwid, peer, dst, ethertype, (kind & 64) ? 5 : 0, ByteSpan(d.data(), d.size()));
  stack::tcpip_barrier();
  return 0;
}
