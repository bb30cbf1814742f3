// Byte buffers and the bounds-checked reader/writer every wire codec uses.
//
// Reader: a cursor over a borrowed span. Every read is bounds-checked; a read past the end
// marks the reader failed ("sticky"): it returns zeros / empty spans from then on and
// ok() stays false. A parser reads the whole layout, then checks ok() once, so parsers read
// like the byte tables in PROTOCOL.md. Loops driven by a count from the wire must also stop
// when !ok() (see Reader::ok) so a hostile count cannot spin.
//
// Writer: appends big-endian integers and bytes to a growable buffer it owns.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace zt {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;
using MutByteSpan = std::span<uint8_t>;

inline ByteSpan as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Big-endian load/store helpers for fixed offsets in already-checked buffers.
inline uint16_t load_be16(const uint8_t* p) { return uint16_t((p[0] << 8) | p[1]); }
inline uint32_t load_be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}
inline uint64_t load_be(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = (v << 8) | p[i];
  return v;
}
inline uint64_t load_be64(const uint8_t* p) { return load_be(p, 8); }
inline void store_be(uint8_t* p, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) p[n - 1 - i] = uint8_t(v >> (8 * i));
}
inline void store_be16(uint8_t* p, uint16_t v) { store_be(p, v, 2); }
inline void store_be32(uint8_t* p, uint32_t v) { store_be(p, v, 4); }
inline void store_be64(uint8_t* p, uint64_t v) { store_be(p, v, 8); }

class Reader {
 public:
  Reader() = default;
  explicit Reader(ByteSpan data) : data_(data) {}
  Reader(const uint8_t* p, size_t n) : data_(p, n) {}

  // False once any read went past the end (or fail() was called). Sticky.
  bool ok() const { return ok_; }
  // True when ok and every byte has been consumed.
  bool done() const { return ok_ && pos_ == data_.size(); }
  size_t pos() const { return pos_; }
  size_t remaining() const { return ok_ ? data_.size() - pos_ : 0; }
  ByteSpan whole() const { return data_; }
  // Everything consumed so far, from the start of the span.
  ByteSpan consumed() const { return data_.first(pos_); }
  void fail() { ok_ = false; }

  uint8_t u8() { return uint8_t(be(1)); }
  uint16_t u16() { return uint16_t(be(2)); }
  uint32_t u32() { return uint32_t(be(4)); }
  uint64_t u40() { return be(5); }
  uint64_t u48() { return be(6); }
  uint64_t u64() { return be(8); }
  // Unsigned big-endian integer of n (<= 8) bytes.
  uint64_t be(size_t n) {
    if (!need(n)) return 0;
    uint64_t v = load_be(data_.data() + pos_, n);
    pos_ += n;
    return v;
  }
  // Borrow the next n bytes (empty span on failure).
  ByteSpan bytes(size_t n) {
    if (!need(n)) return {};
    ByteSpan s = data_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  template <size_t N>
  std::array<uint8_t, N> array() {
    std::array<uint8_t, N> a{};
    ByteSpan s = bytes(N);
    if (!s.empty()) std::memcpy(a.data(), s.data(), N);
    return a;
  }
  ByteSpan rest() { return bytes(remaining()); }
  void skip(size_t n) { (void)bytes(n); }
  // Look at the next byte without consuming it; fails like u8() at end of input.
  uint8_t peek() {
    if (!need(1)) return 0;
    return data_[pos_];
  }

 private:
  bool need(size_t n) {
    if (!ok_ || data_.size() - pos_ < n) {
      ok_ = false;
      return false;
    }
    return true;
  }
  ByteSpan data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

class Writer {
 public:
  Writer() = default;
  explicit Writer(size_t reserve) { buf_.reserve(reserve); }

  Writer& u8(uint8_t v) { buf_.push_back(v); return *this; }
  Writer& u16(uint16_t v) { return be(v, 2); }
  Writer& u32(uint32_t v) { return be(v, 4); }
  Writer& u40(uint64_t v) { return be(v, 5); }
  Writer& u48(uint64_t v) { return be(v, 6); }
  Writer& u64(uint64_t v) { return be(v, 8); }
  Writer& be(uint64_t v, size_t n) {
    size_t at = buf_.size();
    buf_.resize(at + n);
    store_be(buf_.data() + at, v, n);
    return *this;
  }
  Writer& bytes(ByteSpan s) { buf_.insert(buf_.end(), s.begin(), s.end()); return *this; }
  Writer& bytes(std::string_view s) { return bytes(as_bytes(s)); }
  Writer& zeros(size_t n) { buf_.resize(buf_.size() + n, 0); return *this; }
  // Reserve n bytes to be filled later (e.g. a length field); returns their offset.
  size_t placeholder(size_t n) { size_t at = buf_.size(); zeros(n); return at; }
  void patch_be(size_t at, uint64_t v, size_t n) { store_be(buf_.data() + at, v, n); }

  size_t size() const { return buf_.size(); }
  const Bytes& data() const { return buf_; }
  Bytes& data() { return buf_; }
  Bytes take() { return std::move(buf_); }
  ByteSpan span() const { return buf_; }

 private:
  Bytes buf_;
};

}  // namespace zt
