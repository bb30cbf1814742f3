// Reads the packets of a capture file for the CLI (`ztcore wire decode`, `ztcore rules
// explain --pcap`): classic pcap through libpcap, pcapng through our own block reader.
//
// Why a pcapng reader of our own: libpcap (1.10, Debian 12) refuses a pcapng whose interfaces
// have different link types — exactly what `ztcore node|lab --pcap` writes (raw IP for the
// wire, Ethernet per virtual network) — and it drops the interface names and the packet
// comments, which say which node saw a packet and what the rules decided.
//
// The pcapng reader is hostile-input code (fuzzed by fuzz_pcap_reader): every length is checked
// against its block, a block is at most 64 MiB, and a malformed block ends the read with an
// error after the packets before it were reported. Supported: every section (either byte
// order), Interface Description (if_name, if_tsresol, if_tsoffset), Enhanced, Simple and the
// obsolete Packet block; other blocks are skipped.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/bytes.hpp"
#include "base/result.hpp"

namespace zt::cli {

struct CapturedPacket {
  uint64_t frame_no = 0;       // 1-based, over the whole file
  int linktype = 0;            // LINKTYPE_* of the packet's interface
  double ts = 0;               // seconds since the epoch
  ByteSpan data;               // captured bytes; valid only during the callback
  std::string_view interface;  // pcapng if_name ("" if none, always "" for classic pcap)
  std::string_view comment;    // pcapng opt_comment of the packet ("" if none)
};

using PacketFn = std::function<void(const CapturedPacket&)>;

// Calls `fn` for every packet of the file, in file order. Fails if the file cannot be opened
// or is neither pcap nor pcapng; a malformed block is an error returned after the packets
// before it.
Status for_each_packet(const std::string& path, const PacketFn& fn);

// The pcapng reader alone (the file must be pcapng).
Status for_each_pcapng_packet(const std::string& path, const PacketFn& fn);

}  // namespace zt::cli
