// UDP extraction for `ztcore wire decode` (see pcap_reader.hpp).
#include "pcap_reader.hpp"

#include <pcap/pcap.h>

#include <memory>
#include <string_view>

#include "pcapng_reader.hpp"

namespace zt::cli {
namespace {

// Link types not always named by older pcap headers.
constexpr int kLinkRaw = 101;    // LINKTYPE_RAW (DLT_RAW is 12 or 14 depending on the OS)
constexpr int kLinkIpv4 = 228;   // DLT_IPV4
constexpr int kLinkIpv6 = 229;   // DLT_IPV6
constexpr int kLinkSll = 113;    // DLT_LINUX_SLL
constexpr int kLinkSll2 = 276;   // DLT_LINUX_SLL2
constexpr int kLinkNull = 0;     // DLT_NULL: 4-byte host-order address family
constexpr int kLinkLoop = 108;   // DLT_LOOP: 4-byte network-order address family
constexpr int kLinkEthernet = 1;

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86dd;
constexpr uint16_t kEtherVlan = 0x8100;
constexpr uint16_t kEtherQinQ = 0x88a8;
constexpr uint8_t kProtoUdp = 17;

enum class Net { Skip, Ipv4, Ipv6, Guess };

struct Frame {
  Net net = Net::Skip;
  ByteSpan l3;
};

// Strips the link-layer header; Skip for non-IP frames.
Frame strip_link(int link, ByteSpan b) {
  Reader r(b);
  auto by_ethertype = [&](uint16_t et) -> Frame {
    if (et == kEtherIpv4) return {Net::Ipv4, r.rest()};
    if (et == kEtherIpv6) return {Net::Ipv6, r.rest()};
    return {};
  };
  switch (link) {
    case kLinkEthernet: {
      r.skip(12);  // destination, source MAC
      uint16_t et = r.u16();
      while (r.ok() && (et == kEtherVlan || et == kEtherQinQ)) {
        r.skip(2);  // tag control information
        et = r.u16();
      }
      if (!r.ok()) return {};
      return by_ethertype(et);
    }
    case kLinkSll: {  // 16-byte header, protocol at 14
      r.skip(14);
      uint16_t et = r.u16();
      if (!r.ok()) return {};
      return by_ethertype(et);
    }
    case kLinkSll2: {  // 20-byte header, protocol at 0
      uint16_t et = r.u16();
      r.skip(18);
      if (!r.ok()) return {};
      return by_ethertype(et);
    }
    case kLinkNull:
    case kLinkLoop: {
      if (b.size() < 4) return {};
      // The family is in host order of the capturing machine for DLT_NULL; accept both.
      uint32_t be = load_be32(b.data());
      uint32_t le = uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 |
                    uint32_t(b[3]) << 24;
      uint32_t fam = (link == kLinkLoop) ? be : (be < 256 ? be : le);
      ByteSpan rest = b.subspan(4);
      if (fam == 2) return {Net::Ipv4, rest};
      // AF_INET6 differs per OS: 10 Linux, 24 NetBSD/OpenBSD, 28 FreeBSD, 30 macOS.
      if (fam == 10 || fam == 24 || fam == 28 || fam == 30) return {Net::Ipv6, rest};
      return {};
    }
    case kLinkIpv4: return {Net::Ipv4, b};
    case kLinkIpv6: return {Net::Ipv6, b};
    case kLinkRaw:
    case DLT_RAW:
      return {Net::Guess, b};
    default: return {};
  }
}

bool supported_link(int link) {
  switch (link) {
    case kLinkEthernet: case kLinkSll: case kLinkSll2: case kLinkNull: case kLinkLoop:
    case kLinkIpv4: case kLinkIpv6: case kLinkRaw: case DLT_RAW:
      return true;
    default:
      return false;
  }
}

// Parses IPv4/IPv6 + UDP. Returns false if the frame is not UDP (skip). On a malformed
// IP/UDP frame returns true with d.error set.
bool parse_ip_udp(Net net, ByteSpan l3, UdpDatagram& d) {
  if (net == Net::Guess) {
    if (l3.empty()) return false;
    uint8_t v = l3[0] >> 4;
    if (v == 4) net = Net::Ipv4;
    else if (v == 6) net = Net::Ipv6;
    else return false;
  }
  Reader r(l3);
  uint8_t proto = 0;
  ByteSpan l4;
  if (net == Net::Ipv4) {
    uint8_t vihl = r.u8();
    r.skip(1);  // DSCP/ECN
    uint16_t total = r.u16();
    r.skip(2);  // identification
    uint16_t frag = r.u16();
    r.skip(1);  // TTL
    proto = r.u8();
    r.skip(2);  // checksum
    auto src = r.array<4>();
    auto dst = r.array<4>();
    if (!r.ok()) {
      if (proto != 0 && proto != kProtoUdp) return false;
      d.error = "truncated IPv4 header";
      return true;
    }
    if (proto != kProtoUdp) return false;
    size_t ihl = size_t(vihl & 0x0f) * 4;
    if ((vihl >> 4) != 4 || ihl < 20 || total < ihl || ihl > l3.size()) {
      d.error = "malformed IPv4 header";
      return true;
    }
    d.src = proto::InetAddress::v4(src.data(), 0);
    d.dst = proto::InetAddress::v4(dst.data(), 0);
    if ((frag & 0x3fff) != 0) {  // more-fragments flag or non-zero offset
      d.error = "IPv4 fragment (IP reassembly not supported)";
      return true;
    }
    size_t end = total < l3.size() ? total : l3.size();
    if (end < total) {
      d.error = "IPv4 packet truncated in capture";
      return true;
    }
    l4 = l3.subspan(ihl, end - ihl);
  } else {
    uint32_t vtcfl = r.u32();
    uint16_t plen = r.u16();
    uint8_t next = r.u8();
    r.skip(1);  // hop limit
    auto src = r.array<16>();
    auto dst = r.array<16>();
    if (!r.ok() || (vtcfl >> 28) != 6) {
      d.error = "malformed IPv6 header";
      return true;
    }
    d.src = proto::InetAddress::v6(src.data(), 0);
    d.dst = proto::InetAddress::v6(dst.data(), 0);
    // Walk extension headers: hop-by-hop 0, routing 43, fragment 44, destination options 60.
    for (int i = 0; i < 8 && r.ok(); ++i) {
      if (next == 0 || next == 43 || next == 60) {
        uint8_t nh = r.u8();
        uint8_t len = r.u8();
        r.skip(size_t(len) * 8 + 6);
        next = nh;
      } else if (next == 44) {
        uint8_t nh = r.u8();
        r.skip(1);
        uint16_t off = r.u16();
        r.skip(4);
        if ((off & 0xfff9) != 0) {  // offset or more-fragments set
          if (nh != kProtoUdp) return false;
          d.error = "IPv6 fragment (IP reassembly not supported)";
          return true;
        }
        next = nh;
      } else {
        break;
      }
    }
    if (next != kProtoUdp) return false;
    if (!r.ok()) {
      d.error = "truncated IPv6 extension headers";
      return true;
    }
    size_t end = 40 + size_t(plen);
    if (end > l3.size()) {
      d.error = "IPv6 packet truncated in capture";
      return true;
    }
    if (r.pos() > end) {  // the extension headers run past the payload length
      d.error = "IPv6 extension headers longer than the payload";
      return true;
    }
    l4 = l3.subspan(r.pos(), end - r.pos());
  }
  Reader u(l4);
  uint16_t sport = u.u16();
  uint16_t dport = u.u16();
  uint16_t ulen = u.u16();
  u.skip(2);  // checksum
  if (!u.ok()) {
    d.error = "truncated UDP header";
    return true;
  }
  d.src.set_port(sport);
  d.dst.set_port(dport);
  if (ulen < 8 || ulen > l4.size()) {
    d.error = "bad UDP length " + std::to_string(ulen);
    return true;
  }
  d.payload = l4.subspan(8, ulen - 8);
  return true;
}

// Our own captures name each virtual network's interface "zt-<nwid>" ("<node>/zt-<nwid>" in
// the lab's file): decrypted Ethernet frames, not ZeroTier wire traffic.
bool is_virtual_network_interface(std::string_view name) {
  const size_t slash = name.rfind('/');
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  if (name.size() != 19 || name.substr(0, 3) != "zt-") return false;
  for (char c : name.substr(3))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

Status for_each_udp(const std::string& path, const std::function<void(const UdpDatagram&)>& fn,
                    const UdpOptions& opts) {
  uint64_t packets = 0, usable = 0;
  int first_unsupported = -1;
  Status st = for_each_packet(path, [&](const CapturedPacket& p) {
    ++packets;
    if (!opts.interface.empty() ? p.interface != opts.interface : is_virtual_network_interface(p.interface))
      return;
    if (!supported_link(p.linktype)) {
      if (first_unsupported < 0) first_unsupported = p.linktype;
      return;
    }
    ++usable;
    UdpDatagram d;
    d.frame_no = p.frame_no;
    d.ts = p.ts;
    d.interface = p.interface;
    Frame f = strip_link(p.linktype, p.data);
    if (f.net == Net::Skip) return;
    if (!parse_ip_udp(f.net, f.l3, d)) return;
    fn(d);
  });
  if (!st) return st;
  if (usable == 0 && first_unsupported >= 0) {
    const char* name = pcap_datalink_val_to_name(first_unsupported);
    return err(path + ": unsupported link type " + std::to_string(first_unsupported) +
               (name ? std::string(" (") + name + ")" : std::string()));
  }
  if (usable == 0 && !opts.interface.empty() && packets > 0)
    return err(path + ": no packet on an interface named '" + opts.interface + "'");
  return ok_status();
}

}  // namespace zt::cli
