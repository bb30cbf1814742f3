// Capture file reading for the CLI (see pcapng_reader.hpp). Block layout: the pcapng draft
// (IETF opsawg-pcapng): every block is [4] type [4] total length ... [4] total length, in the
// byte order the Section Header Block's byte-order magic announces.
#include "pcapng_reader.hpp"

#include <pcap/pcap.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

namespace zt::cli {
namespace {

constexpr uint32_t kShb = 0x0A0D0D0A;  // the same bytes in either order
constexpr uint32_t kIdb = 1;
constexpr uint32_t kObsoletePb = 2;
constexpr uint32_t kSpb = 3;
constexpr uint32_t kEpb = 6;
constexpr uint32_t kByteOrderMagic = 0x1A2B3C4D;
constexpr uint32_t kMaxBlock = 64u << 20;

constexpr uint16_t kOptEnd = 0;
constexpr uint16_t kOptComment = 1;
constexpr uint16_t kOptIfName = 2;
constexpr uint16_t kOptIfTsresol = 9;
constexpr uint16_t kOptIfTsoffset = 14;

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};

struct Interface {
  int linktype = 0;
  uint32_t snaplen = 0;
  std::string name;
  long double unit = 1e-6L;  // seconds per timestamp tick
  int64_t offset = 0;        // seconds added to every timestamp
};

// One block's body (after type and length, before the trailing length) in its section's order.
class Body {
 public:
  Body(ByteSpan b, bool big) : b_(b), big_(big) {}
  size_t size() const { return b_.size(); }
  bool has(size_t off, size_t n) const { return off <= b_.size() && n <= b_.size() - off; }
  uint16_t u16(size_t off) const {
    const uint8_t* p = b_.data() + off;
    return big_ ? uint16_t(p[0] << 8 | p[1]) : uint16_t(p[1] << 8 | p[0]);
  }
  uint32_t u32(size_t off) const {
    const uint8_t* p = b_.data() + off;
    return big_ ? load_be32(p) : uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
  }
  uint64_t u64(size_t off) const {
    return big_ ? uint64_t(u32(off)) << 32 | u32(off + 4) : uint64_t(u32(off + 4)) << 32 | u32(off);
  }
  ByteSpan span(size_t off, size_t n) const { return b_.subspan(off, n); }

  // Calls fn(code, value offset, value length) for each option from `off` to the end of the
  // body, stopping at opt_endofopt. False if an option runs past the body.
  template <typename Fn>
  bool options(size_t off, Fn&& fn) const {
    while (has(off, 4)) {
      const uint16_t code = u16(off), len = u16(off + 2);
      if (code == kOptEnd) return true;
      const size_t padded = (size_t(len) + 3) & ~size_t(3);
      if (!has(off + 4, padded)) return false;
      fn(code, off + 4, size_t(len));
      off += 4 + padded;
    }
    return off == size();
  }

 private:
  ByteSpan b_;
  bool big_;
};

std::string_view as_text(ByteSpan b) {
  std::string_view s(reinterpret_cast<const char*>(b.data()), b.size());
  while (!s.empty() && (s.back() == '\0' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

class PcapngReader {
 public:
  PcapngReader(const std::string& path, FILE* f, const PacketFn& fn) : path_(path), f_(f), fn_(fn) {}

  Status run() {
    for (;;) {
      uint8_t head[8];
      const size_t got = std::fread(head, 1, sizeof head, f_);
      if (got == 0 && std::feof(f_)) return ok_status();
      if (got != sizeof head) return fail("truncated block header");
      const uint32_t type_le = uint32_t(head[0]) | uint32_t(head[1]) << 8 | uint32_t(head[2]) << 16 |
                               uint32_t(head[3]) << 24;
      if (type_le == kShb) {
        if (auto s = section(head); !s) return s;
        continue;
      }
      if (!in_section_) return fail("not a pcapng file (no Section Header Block first)");
      const uint32_t type = order32(head), len = order32(head + 4);
      if (auto s = block(type, len); !s) return s;
    }
  }

 private:
  uint32_t order32(const uint8_t* p) const {
    return big_ ? load_be32(p) : uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
  }

  Error fail(const std::string& why) const {
    return err(path_ + ": pcapng block at offset " + std::to_string(offset_) + ": " + why);
  }

  // Reads the rest of a block of `len` bytes whose first `have` bytes were read already;
  // body_ holds the bytes between the length field and the trailing length.
  Status read_body(uint32_t len, size_t have) {
    if (len < 12 || len % 4 != 0) return fail("bad block length " + std::to_string(len));
    if (len > kMaxBlock) return fail("block of " + std::to_string(len) + " bytes (at most 64 MiB)");
    buf_.resize(len - have);
    if (std::fread(buf_.data(), 1, buf_.size(), f_) != buf_.size()) return fail("truncated block");
    if (order32(buf_.data() + buf_.size() - 4) != len) return fail("trailing length differs from the leading one");
    return ok_status();
  }

  Status section(const uint8_t head[8]) {
    uint8_t bom[4];
    if (std::fread(bom, 1, 4, f_) != 4) return fail("truncated Section Header Block");
    if (load_be32(bom) == kByteOrderMagic)
      big_ = true;
    else if ((uint32_t(bom[0]) | uint32_t(bom[1]) << 8 | uint32_t(bom[2]) << 16 | uint32_t(bom[3]) << 24) ==
             kByteOrderMagic)
      big_ = false;
    else
      return fail("bad byte-order magic");
    const uint32_t len = order32(head + 4);
    if (len < 28) return fail("Section Header Block too short");
    if (auto s = read_body(len, 12); !s) return s;
    const uint16_t major = uint16_t(big_ ? buf_[0] << 8 | buf_[1] : buf_[1] << 8 | buf_[0]);
    if (major != 1) return fail("unsupported pcapng major version " + std::to_string(major));
    in_section_ = true;
    interfaces_.clear();  // interface ids are per section
    offset_ += len;
    return ok_status();
  }

  Status block(uint32_t type, uint32_t len) {
    if (auto s = read_body(len, 8); !s) return s;
    const Body b(ByteSpan(buf_).first(buf_.size() - 4), big_);
    Status s = ok_status();
    switch (type) {
      case kIdb: s = interface(b); break;
      case kEpb: s = enhanced_packet(b); break;
      case kSpb: s = simple_packet(b); break;
      case kObsoletePb: s = obsolete_packet(b); break;
      default: break;  // statistics, name resolution, journal, custom...: not needed here
    }
    if (!s) return s;
    offset_ += len;
    return ok_status();
  }

  Status interface(const Body& b) {
    if (!b.has(0, 8)) return fail("Interface Description Block too short");
    Interface i;
    i.linktype = b.u16(0);
    i.snaplen = b.u32(4);
    bool bad_resol = false;
    const bool ok = b.options(8, [&](uint16_t code, size_t off, size_t n) {
      if (code == kOptIfName) i.name = std::string(as_text(b.span(off, n)));
      if (code == kOptIfTsresol && n >= 1) {
        const uint8_t r = b.span(off, 1)[0];
        const bool two = r & 0x80;
        const int e = r & 0x7f;
        if ((two && e > 63) || (!two && e > 18)) bad_resol = true;
        i.unit = two ? std::ldexp(1.0L, -e) : std::pow(10.0L, -e);
      }
      if (code == kOptIfTsoffset && n >= 8) i.offset = int64_t(b.u64(off));
    });
    if (!ok) return fail("interface options run past the block");
    if (bad_resol) return fail("unsupported if_tsresol");
    interfaces_.push_back(std::move(i));
    return ok_status();
  }

  Status packet(uint32_t iface, uint64_t ticks, ByteSpan data, std::string_view comment) {
    if (iface >= interfaces_.size())
      return fail("packet on interface " + std::to_string(iface) + ", only " + std::to_string(interfaces_.size()) +
                  " described");
    const Interface& i = interfaces_[iface];
    CapturedPacket p;
    p.frame_no = ++frames_;
    p.linktype = i.linktype;
    p.ts = double(static_cast<long double>(ticks) * i.unit + static_cast<long double>(i.offset));
    p.data = data;
    p.interface = i.name;
    p.comment = comment;
    fn_(p);
    return ok_status();
  }

  Status enhanced_packet(const Body& b) {
    if (!b.has(0, 20)) return fail("Enhanced Packet Block too short");
    const uint32_t caplen = b.u32(12);
    const size_t padded = (size_t(caplen) + 3) & ~size_t(3);
    if (!b.has(20, padded)) return fail("captured length " + std::to_string(caplen) + " runs past the block");
    std::string_view comment;
    if (!b.options(20 + padded, [&](uint16_t code, size_t off, size_t n) {
          if (code == kOptComment && comment.empty()) comment = as_text(b.span(off, n));
        }))
      return fail("packet options run past the block");
    return packet(b.u32(0), uint64_t(b.u32(4)) << 32 | b.u32(8), b.span(20, caplen), comment);
  }

  Status simple_packet(const Body& b) {
    if (!b.has(0, 4)) return fail("Simple Packet Block too short");
    if (interfaces_.empty()) return fail("Simple Packet Block before any interface");
    size_t n = std::min<size_t>(b.u32(0), b.size() - 4);
    if (interfaces_[0].snaplen != 0) n = std::min<size_t>(n, interfaces_[0].snaplen);
    return packet(0, 0, b.span(4, n), {});
  }

  Status obsolete_packet(const Body& b) {
    if (!b.has(0, 20)) return fail("Packet Block too short");
    const uint32_t caplen = b.u32(12);
    if (!b.has(20, caplen)) return fail("captured length " + std::to_string(caplen) + " runs past the block");
    return packet(b.u16(0), uint64_t(b.u32(4)) << 32 | b.u32(8), b.span(20, caplen), {});
  }

  const std::string& path_;
  FILE* f_;
  const PacketFn& fn_;
  bool big_ = false;
  bool in_section_ = false;
  uint64_t offset_ = 0;
  uint64_t frames_ = 0;
  std::vector<Interface> interfaces_;
  Bytes buf_;
};

struct PcapCloser {
  void operator()(pcap_t* p) const { pcap_close(p); }
};

Status for_each_classic(const std::string& path, const PacketFn& fn) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  std::unique_ptr<pcap_t, PcapCloser> p(pcap_open_offline(path.c_str(), errbuf));
  if (!p) return err(path + ": " + errbuf);
  const int link = pcap_datalink(p.get());
  uint64_t n = 0;
  for (;;) {
    pcap_pkthdr* h = nullptr;
    const u_char* data = nullptr;
    const int rc = pcap_next_ex(p.get(), &h, &data);
    if (rc == PCAP_ERROR_BREAK) return ok_status();  // end of file
    if (rc == PCAP_ERROR) return err(path + ": " + pcap_geterr(p.get()));
    if (rc != 1) continue;
    CapturedPacket c;
    c.frame_no = ++n;
    c.linktype = link;
    c.ts = double(h->ts.tv_sec) + double(h->ts.tv_usec) / 1e6;
    c.data = ByteSpan(data, h->caplen);
    fn(c);
  }
}

}  // namespace

Status for_each_pcapng_packet(const std::string& path, const PacketFn& fn) {
  std::unique_ptr<FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) return err(path + ": " + std::strerror(errno));
  return PcapngReader(path, f.get(), fn).run();
}

Status for_each_packet(const std::string& path, const PacketFn& fn) {
  uint8_t magic[4] = {};
  {
    std::unique_ptr<FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
    if (!f) return err(path + ": " + std::strerror(errno));
    if (std::fread(magic, 1, 4, f.get()) != 4) return err(path + ": too short for a capture file");
  }
  if (load_be32(magic) == kShb) return for_each_pcapng_packet(path, fn);
  return for_each_classic(path, fn);
}

}  // namespace zt::cli
