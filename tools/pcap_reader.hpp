// Reads UDP datagrams out of a capture file (classic pcap via libpcap, pcapng via
// pcapng_reader.hpp, including ztcore's own two-layer captures). Used by `ztcore wire decode`.
//
// Link types: Ethernet (DLT_EN10MB, with 802.1Q/802.1ad tags), Linux cooked (SLL, SLL2),
// raw IP (DLT_RAW, LINKTYPE_RAW, DLT_IPV4, DLT_IPV6) and BSD loopback (DLT_NULL, DLT_LOOP).
// Network layer: IPv4 and IPv6 (extension headers skipped). Only UDP is reported; other
// protocols and non-IP frames are skipped silently. A frame that claims to be IP/UDP but is
// truncated or malformed is reported with `error` set, never thrown.
#pragma once

#include <functional>
#include <string>

#include "base/bytes.hpp"
#include "base/result.hpp"
#include "proto/inet_address.hpp"

namespace zt::cli {

struct UdpDatagram {
  double ts = 0;  // capture time, seconds since the epoch (microsecond resolution)
  uint64_t frame_no = 0;  // 1-based index of the frame in the capture
  proto::InetAddress src, dst;  // "ip/port"
  ByteSpan payload;  // view into the reader's buffer; valid only during the callback
  std::string error;  // non-empty: the frame looked like IP/UDP but could not be parsed
  std::string_view interface;  // pcapng interface name ("" if none); valid during the callback
};

struct UdpOptions {
  // Only packets of the pcapng interface with this name. Empty: every interface except the
  // virtual-network ones of ztcore's captures ("zt-<nwid>", "<node>/zt-<nwid>"), whose
  // decrypted Ethernet frames are no wire traffic.
  std::string interface;
};

// Calls `fn` for every UDP datagram (or malformed IP/UDP frame) in the file, in capture
// order. Fails if the file cannot be opened or none of its packets has a supported link type
// (packets of other link types in a pcapng are skipped); a read error in the middle of the
// file is returned after the frames before it.
Status for_each_udp(const std::string& path, const std::function<void(const UdpDatagram&)>& fn,
                    const UdpOptions& opts = {});

}  // namespace zt::cli
