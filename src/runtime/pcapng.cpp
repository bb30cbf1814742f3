#include "runtime/pcapng.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace zt::runtime {

namespace {

constexpr uint32_t kShb = 0x0A0D0D0A, kIdb = 0x00000001, kEpb = 0x00000006;
constexpr uint16_t kOptEnd = 0, kOptComment = 1, kOptShbUserAppl = 4, kOptIfName = 2, kOptIfDescription = 3,
                   kOptIfTsresol = 9, kOptEpbFlags = 2;

int64_t mono_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Blocks are built in host byte order (the SHB's byte-order magic says which).
void put16(Bytes& b, uint16_t v) { b.insert(b.end(), reinterpret_cast<uint8_t*>(&v), reinterpret_cast<uint8_t*>(&v) + 2); }
void put32(Bytes& b, uint32_t v) { b.insert(b.end(), reinterpret_cast<uint8_t*>(&v), reinterpret_cast<uint8_t*>(&v) + 4); }
void pad32(Bytes& b) { b.resize((b.size() + 3) & ~size_t(3), 0); }

void put_option(Bytes& b, uint16_t code, ByteSpan value) {
  put16(b, code);
  put16(b, uint16_t(value.size()));
  b.insert(b.end(), value.begin(), value.end());
  pad32(b);
}
void put_option(Bytes& b, uint16_t code, std::string_view value) {
  // An option's length is 16 bits; longer text is cut (at a 4-byte-aligned length).
  if (value.size() > 65532) value = value.substr(0, 65532);
  put_option(b, code, as_bytes(value));
}

// Starts a block (type + a length placeholder); finish_block fills the length and appends it.
Bytes begin_block(uint32_t type) {
  Bytes b;
  b.reserve(64);
  put32(b, type);
  put32(b, 0);
  return b;
}
void finish_block(Bytes& b) {
  pad32(b);
  const uint32_t total = uint32_t(b.size() + 4);
  std::memcpy(b.data() + 4, &total, 4);
  put32(b, total);
}

}  // namespace

PcapngWriter::~PcapngWriter() { (void)close(); }

Status PcapngWriter::open(const std::string& path, std::string_view application) {
  std::lock_guard lk(mu_);
  if (f_) return err(ErrorKind::State, "pcap: " + path_ + " is already open");
  if (path.empty()) return err("pcap: empty file name");
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return err(ErrorKind::Io, "pcap: cannot create " + path + ": " + std::strerror(errno));
  struct stat st{};
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) (void)::fchmod(fd, 0644);  // also when it existed
  std::FILE* f = ::fdopen(fd, "wb");
  if (!f) {
    const int e = errno;
    ::close(fd);
    return err(ErrorKind::Io, "pcap: cannot open " + path + ": " + std::strerror(e));
  }
  f_ = f;
  path_ = path;
  error_.reset();
  interfaces_ = 0;
  packets_ = 0;
  Bytes b = begin_block(kShb);
  put32(b, 0x1A2B3C4D);  // byte-order magic
  put16(b, 1);           // major version
  put16(b, 0);           // minor version
  put32(b, 0xFFFFFFFF);  // section length: not given
  put32(b, 0xFFFFFFFF);
  if (!application.empty()) put_option(b, kOptShbUserAppl, application);
  put_option(b, kOptEnd, ByteSpan{});
  finish_block(b);
  if (auto s = put_block(b); !s.ok()) return s;
  return flush_locked();
}

Result<uint32_t> PcapngWriter::add_interface(uint16_t linktype, std::string_view name, std::string_view description) {
  std::lock_guard lk(mu_);
  Bytes b = begin_block(kIdb);
  put16(b, linktype);
  put16(b, 0);  // reserved
  put32(b, 0);  // snaplen: no limit
  if (!name.empty()) put_option(b, kOptIfName, name);
  if (!description.empty()) put_option(b, kOptIfDescription, description);
  const uint8_t tsresol = 6;  // microseconds (the default, written out for clarity)
  put_option(b, kOptIfTsresol, ByteSpan(&tsresol, 1));
  put_option(b, kOptEnd, ByteSpan{});
  finish_block(b);
  if (auto s = put_block(b); !s.ok()) return s.take_error();
  return interfaces_++;
}

Status PcapngWriter::write(uint32_t iface, int64_t ts_us, ByteSpan data, std::string_view comment, Direction dir) {
  std::lock_guard lk(mu_);
  if (iface >= interfaces_ && f_ && !error_)
    return err("pcap: interface " + std::to_string(iface) + " was not added");
  if (data.size() > 0x7FFFFFF0) return err(ErrorKind::TooLarge, "pcap: packet too large");
  Bytes b = begin_block(kEpb);
  b.reserve(32 + data.size() + comment.size() + 16);
  const uint64_t ts = uint64_t(ts_us < 0 ? 0 : ts_us);
  put32(b, iface);
  put32(b, uint32_t(ts >> 32));
  put32(b, uint32_t(ts));
  put32(b, uint32_t(data.size()));  // captured length
  put32(b, uint32_t(data.size()));  // original length
  b.insert(b.end(), data.begin(), data.end());
  pad32(b);
  if (!comment.empty()) {
    if (comment.back() == '\n') {
      put_option(b, kOptComment, comment);
    } else {
      std::string c(comment.substr(0, std::min<size_t>(comment.size(), 65531)));
      c += '\n';
      put_option(b, kOptComment, c);
    }
  }
  if (dir != Direction::Unknown) {
    const uint32_t flags = uint32_t(dir);
    put_option(b, kOptEpbFlags, ByteSpan(reinterpret_cast<const uint8_t*>(&flags), 4));
  }
  if (!comment.empty() || dir != Direction::Unknown) put_option(b, kOptEnd, ByteSpan{});
  finish_block(b);
  if (auto s = put_block(b); !s.ok()) return s;
  ++packets_;
  if (const int64_t now = mono_ms(); now - last_flush_ms_ >= 200) return flush_locked();
  return ok_status();
}

Status PcapngWriter::put_block(const Bytes& block) {
  if (error_) return *error_;
  if (!f_) return err(ErrorKind::State, "pcap: not open");
  if (std::fwrite(block.data(), 1, block.size(), f_) != block.size()) {
    error_ = err(ErrorKind::Io, "pcap: cannot write " + path_ + ": " + std::strerror(errno));
    return *error_;
  }
  return ok_status();
}

Status PcapngWriter::flush_locked() {
  if (error_) return *error_;
  if (!f_) return err(ErrorKind::State, "pcap: not open");
  last_flush_ms_ = mono_ms();
  if (std::fflush(f_) != 0) {
    error_ = err(ErrorKind::Io, "pcap: cannot write " + path_ + ": " + std::strerror(errno));
    return *error_;
  }
  return ok_status();
}

Status PcapngWriter::flush() {
  std::lock_guard lk(mu_);
  return flush_locked();
}

Status PcapngWriter::close() {
  std::lock_guard lk(mu_);
  if (!f_) return error_ ? Status(*error_) : ok_status();
  Status st = flush_locked();
  if (std::fclose(f_) != 0 && st.ok()) {
    error_ = err(ErrorKind::Io, "pcap: cannot close " + path_ + ": " + std::strerror(errno));
    st = *error_;
  }
  f_ = nullptr;
  return st;
}

bool PcapngWriter::is_open() const {
  std::lock_guard lk(mu_);
  return f_ != nullptr;
}

uint32_t PcapngWriter::interfaces() const {
  std::lock_guard lk(mu_);
  return interfaces_;
}

uint64_t PcapngWriter::packets() const {
  std::lock_guard lk(mu_);
  return packets_;
}

}  // namespace zt::runtime
