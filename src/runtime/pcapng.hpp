// A minimal pcapng writer (draft-ietf-opsawg-pcapng): one Section Header Block, Interface
// Description Blocks added at any time (an interface's IDB is written before its first packet),
// Enhanced Packet Blocks with optional opt_comment and epb_flags (direction). Host byte order
// (the SHB's byte-order magic tells readers), microsecond timestamps (if_tsresol 6), no snaplen.
//
// Threading: every method may be called from any thread (one mutex). Errors are sticky: after
// the first failed write, every later call returns that error and writes nothing.
#pragma once

#include <cstdint>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.hpp"
#include "base/result.hpp"

namespace zt::runtime {

class PcapngWriter {
 public:
  static constexpr uint16_t kLinkEthernet = 1;  // LINKTYPE_ETHERNET: 14-byte header + payload
  static constexpr uint16_t kLinkRaw = 101;     // LINKTYPE_RAW: an IPv4 or IPv6 packet
  enum class Direction : uint8_t { Unknown = 0, Inbound = 1, Outbound = 2 };  // epb_flags bits 0-1

  PcapngWriter() = default;
  ~PcapngWriter();  // close()
  PcapngWriter(const PcapngWriter&) = delete;
  PcapngWriter& operator=(const PcapngWriter&) = delete;

  // Creates (or truncates) the file with mode 0644 and writes the Section Header Block.
  // Errors: ErrorKind::Io with the path and strerror; State if already open.
  Status open(const std::string& path, std::string_view application = "ztcore");
  // Writes an Interface Description Block; returns the interface id (0, 1, ...).
  Result<uint32_t> add_interface(uint16_t linktype, std::string_view name, std::string_view description = {});
  // Writes an Enhanced Packet Block. ts_us: microseconds since the Unix epoch. An empty comment
  // is left out. Comments are written with a trailing '\n' added if missing: Scapy up to 2.5
  // drops a comment without a line separator (secdev/scapy#4345).
  Status write(uint32_t iface, int64_t ts_us, ByteSpan data, std::string_view comment = {},
               Direction dir = Direction::Unknown);
  // Pushes buffered blocks to the file (write() also does every 200 ms).
  Status flush();
  // Flushes and closes; later writes fail with State. Idempotent.
  Status close();

  bool is_open() const;
  const std::string& path() const { return path_; }
  // Number of interfaces and of packets written so far.
  uint32_t interfaces() const;
  uint64_t packets() const;

 private:
  Status put_block(const Bytes& block);  // mutex held
  Status flush_locked();

  mutable std::mutex mu_;
  std::FILE* f_ = nullptr;
  std::string path_;
  std::optional<Error> error_;
  uint32_t interfaces_ = 0;
  uint64_t packets_ = 0;
  int64_t last_flush_ms_ = 0;
};

}  // namespace zt::runtime
