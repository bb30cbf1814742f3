// A node's packet capture ("pcap of both layers", `ztcore node --pcap`, zt_node_pcap_start):
// one pcapng file (PcapngWriter) holding, per node,
//
//   * a wire interface "udp" (LINKTYPE_RAW): every UDP datagram the node sent or received, as
//     an IPv4/IPv6 packet whose IP and UDP headers are synthesized from the socket's local
//     address and the remote address (checksums valid; TTL 64). Wireshark's ZeroTier dissector
//     (UDP 9993) and Scapy (IP/IPv6 / UDP) see the encrypted ZeroTier packets. A socket bound to
//     0.0.0.0 or :: has its local IP found once per remote IP by a route lookup (a connected
//     UDP probe socket); epb_flags carries the direction.
//   * one interface per joined network "zt-<nwid>" (LINKTYPE_ETHERNET): the decrypted frames
//     the node delivered to its host (including to its IP stack) and the frames the host sent,
//     with the 14-byte Ethernet header rebuilt (+ an 802.1Q tag when vlan != 0), each with a
//     comment "in from <address> accepted" / "out to <address> sent" / "... dropped: <why>".
//
// With a label (several nodes in one file, `ztcore lab`), interface names are "<label>/udp"
// and "<label>/zt-<nwid>". Loop thread only; the writer itself is thread-safe.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "proto/vl2.hpp"
#include "runtime/pcapng.hpp"
#include "runtime/runtime.hpp"

namespace zt::runtime {

class NodeCapture {
 public:
  NodeCapture(std::shared_ptr<PcapngWriter> writer, proto::Address node, std::string label);
  // Writes the wire interface's IDB.
  Status start();

  // One UDP datagram. `local` = the socket's bound address and port.
  void wire(WireDirection dir, const proto::InetAddress& local, const proto::InetAddress& remote, ByteSpan datagram);
  // One Ethernet frame of network `nwid` (payload without the 14-byte header). The comment is
  // "in from <peer> <verdict>" or "out to <peer> <verdict>"; peer 0 = derived from the source
  // (in) or destination (out) MAC: a ZeroTier address, "broadcast", "multicast <mac>" or a
  // bridged MAC. Verdict e.g. "accepted", "sent", "dropped: <reason>".
  void write_frame(FrameDirection dir, uint64_t nwid, proto::Mac src, proto::Mac dst, uint16_t ethertype,
                   uint16_t vlan, ByteSpan payload, std::string_view verdict, proto::Address peer = 0);

  const std::shared_ptr<PcapngWriter>& writer() const { return writer_; }

  // Exposed for tests: the synthesized IP+UDP packet of a datagram (empty if the families of
  // local and remote differ and no local address is known).
  static Bytes ip_udp_packet(const proto::InetAddress& src, const proto::InetAddress& dst, ByteSpan payload);
  // The rebuilt Ethernet frame.
  static Bytes ethernet_frame(proto::Mac src, proto::Mac dst, uint16_t ethertype, uint16_t vlan, ByteSpan payload);

 private:
  proto::InetAddress local_for(const proto::InetAddress& bound, const proto::InetAddress& remote);
  std::string name(std::string_view base) const { return label_.empty() ? std::string(base) : label_ + "/" + std::string(base); }

  std::shared_ptr<PcapngWriter> writer_;
  proto::Address node_;
  std::string label_;
  uint32_t wire_if_ = 0;
  bool failed_ = false;  // the writer failed once; stop trying (the error is kept in the writer)
  std::map<uint64_t, uint32_t> net_if_;                          // nwid → interface id
  std::map<proto::InetAddress, proto::InetAddress> local_ips_;  // remote IP → local IP (route lookup)
};

}  // namespace zt::runtime
