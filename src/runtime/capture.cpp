#include "runtime/capture.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "base/hex.hpp"
#include "proto/identity.hpp"

namespace zt::runtime {

using proto::InetAddress;
using proto::Mac;

namespace {

// RFC 1071 one's-complement sum, continued from `sum`.
uint32_t sum16(const uint8_t* p, size_t n, uint32_t sum) {
  for (; n > 1; p += 2, n -= 2) sum += uint32_t(p[0]) << 8 | p[1];
  if (n) sum += uint32_t(p[0]) << 8;
  return sum;
}
uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(~sum);
}

bool unspecified(const InetAddress& a) {
  for (size_t i = 0; i < a.ip_size(); ++i)
    if (a.ip()[i]) return false;
  return true;
}

// "89e92cee01 -> 1122334455" for a ZeroTier packet head, "fragment" for a fragment (§5.1/§5.3).
std::string zt_summary(ByteSpan d) {
  if (d.size() >= 16 && d[13] == 0xff) return "fragment";
  if (d.size() < 28) return "short";
  auto addr = [&](size_t off) { return proto::address_to_string(proto::Address(load_be(d.data() + off, 5))); };
  return addr(13) + " -> " + addr(8);
}

}  // namespace

NodeCapture::NodeCapture(std::shared_ptr<PcapngWriter> writer, proto::Address node, std::string label)
    : writer_(std::move(writer)), node_(node), label_(std::move(label)) {}

Status NodeCapture::start() {
  auto id = writer_->add_interface(PcapngWriter::kLinkRaw, name("udp"),
                                   "ztcore node " + proto::address_to_string(node_) +
                                       ": UDP datagrams (IP and UDP headers synthesized)");
  if (!id.ok()) return id.take_error();
  wire_if_ = *id;
  return ok_status();
}

Bytes NodeCapture::ip_udp_packet(const InetAddress& src, const InetAddress& dst, ByteSpan payload) {
  if (src.family() != dst.family() || src.empty()) return {};
  const bool v4 = src.is_v4();
  const size_t ip_len = v4 ? 20 : 40, udp_len = 8 + payload.size();
  if (udp_len > 0xffff - (v4 ? 20 : 0)) return {};
  Bytes p(ip_len + udp_len, 0);
  uint8_t* ip = p.data();
  if (v4) {
    ip[0] = 0x45;
    store_be16(ip + 2, uint16_t(ip_len + udp_len));
    store_be16(ip + 6, 0x4000);  // DF
    ip[8] = 64;
    ip[9] = 17;  // UDP
    std::memcpy(ip + 12, src.ip(), 4);
    std::memcpy(ip + 16, dst.ip(), 4);
    store_be16(ip + 10, fold(sum16(ip, 20, 0)));
  } else {
    ip[0] = 0x60;
    store_be16(ip + 4, uint16_t(udp_len));
    ip[6] = 17;
    ip[7] = 64;
    std::memcpy(ip + 8, src.ip(), 16);
    std::memcpy(ip + 24, dst.ip(), 16);
  }
  uint8_t* udp = ip + ip_len;
  store_be16(udp, src.port());
  store_be16(udp + 2, dst.port());
  store_be16(udp + 4, uint16_t(udp_len));
  if (!payload.empty()) std::memcpy(udp + 8, payload.data(), payload.size());
  // Pseudo-header: addresses, protocol, UDP length.
  uint32_t s = sum16(src.ip(), src.ip_size(), 0);
  s = sum16(dst.ip(), dst.ip_size(), s);
  s += 17 + uint32_t(udp_len);
  uint16_t c = fold(sum16(udp, udp_len, s));
  store_be16(udp + 6, c == 0 ? 0xffff : c);
  return p;
}

Bytes NodeCapture::ethernet_frame(Mac src, Mac dst, uint16_t ethertype, uint16_t vlan, ByteSpan payload) {
  Bytes f(vlan ? 18 : 14);
  store_be(f.data(), dst.value(), 6);
  store_be(f.data() + 6, src.value(), 6);
  if (vlan) {
    store_be16(f.data() + 12, 0x8100);
    store_be16(f.data() + 14, uint16_t(vlan & 0x0fff));
    store_be16(f.data() + 16, ethertype);
  } else {
    store_be16(f.data() + 12, ethertype);
  }
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}

InetAddress NodeCapture::local_for(const InetAddress& bound, const InetAddress& remote) {
  if (bound.family() == remote.family() && !unspecified(bound)) return bound;
  InetAddress key = remote;
  key.set_port(0);
  auto it = local_ips_.find(key);
  if (it == local_ips_.end()) {
    // Where would the kernel send from? A connected UDP socket says, without sending anything.
    InetAddress found = remote.is_v4() ? InetAddress::v4(0u, 0) : InetAddress::v6(std::array<uint8_t, 16>{}.data(), 0);
    const int fd = ::socket(remote.is_v4() ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_storage ss{};
    const socklen_t sl = remote.to_sockaddr(&ss);
    if (fd >= 0 && sl && ::connect(fd, reinterpret_cast<sockaddr*>(&ss), sl) == 0) {
      sockaddr_storage me{};
      socklen_t ml = sizeof me;
      if (::getsockname(fd, reinterpret_cast<sockaddr*>(&me), &ml) == 0)
        if (auto a = InetAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&me)); a && a->family() == remote.family())
          found = *a;
    }
    if (fd >= 0) ::close(fd);
    if (local_ips_.size() >= 1024) local_ips_.clear();
    it = local_ips_.emplace(key, found).first;
  }
  InetAddress local = it->second;
  local.set_port(bound.port());
  return local;
}

void NodeCapture::wire(WireDirection dir, const InetAddress& local_bound, const InetAddress& remote, ByteSpan datagram) {
  if (failed_) return;
  const int64_t ts = now_us();
  const InetAddress local = local_for(local_bound, remote);
  const bool in = dir == WireDirection::Received;
  const Bytes pkt = in ? ip_udp_packet(remote, local, datagram) : ip_udp_packet(local, remote, datagram);
  const std::string comment = (in ? "in from " : "out to ") + remote.to_string() + ": " + zt_summary(datagram);
  failed_ = !writer_->write(wire_if_, ts, pkt, comment,
                            in ? PcapngWriter::Direction::Inbound : PcapngWriter::Direction::Outbound).ok();
}

void NodeCapture::write_frame(FrameDirection dir, uint64_t nwid, Mac src, Mac dst, uint16_t ethertype, uint16_t vlan,
                              ByteSpan payload, std::string_view verdict, proto::Address peer) {
  if (failed_) return;
  const int64_t ts = now_us();
  auto it = net_if_.find(nwid);
  if (it == net_if_.end()) {
    auto id = writer_->add_interface(PcapngWriter::kLinkEthernet, name("zt-" + to_hex(nwid, 16)),
                                     "ztcore node " + proto::address_to_string(node_) + ": Ethernet frames of network " +
                                         to_hex(nwid, 16) + " (decrypted)");
    if (!id.ok()) {
      failed_ = true;
      return;
    }
    it = net_if_.emplace(nwid, *id).first;
  }
  const bool in = dir == FrameDirection::In;
  std::string who;
  const Mac m = in ? src : dst;
  if (peer != 0) {
    who = proto::address_to_string(peer);
  } else if (m.is_broadcast()) {
    who = "broadcast";
  } else if (m.is_multicast()) {
    who = "multicast " + m.to_string();
  } else if (m.is_network_mac(nwid)) {
    who = proto::address_to_string(m.to_address(nwid));
  } else {
    who = m.to_string() + " (bridged)";
  }
  std::string comment = (in ? "in from " : "out to ") + who;
  if (!verdict.empty()) comment += " " + std::string(verdict);
  failed_ = !writer_
                 ->write(it->second, ts, ethernet_frame(src, dst, ethertype, vlan, payload), comment,
                         in ? PcapngWriter::Direction::Inbound : PcapngWriter::Direction::Outbound)
                 .ok();
}

}  // namespace zt::runtime
