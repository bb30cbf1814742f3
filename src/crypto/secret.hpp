// Secret<N>: fixed-size secret bytes that wipe themselves on destruction and never print.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace zt::crypto {

// Wipes memory in a way the compiler may not elide (sodium_memzero).
void secure_zero(void* p, size_t n);
// Constant-time equality.
bool ct_equal(const void* a, const void* b, size_t n);

template <size_t N>
class Secret {
 public:
  Secret() { bytes_.fill(0); }
  explicit Secret(const uint8_t* p) { std::memcpy(bytes_.data(), p, N); }
  Secret(const Secret& o) : bytes_(o.bytes_) {}
  Secret& operator=(const Secret& o) {
    bytes_ = o.bytes_;
    return *this;
  }
  ~Secret() { secure_zero(bytes_.data(), N); }

  static constexpr size_t size() { return N; }
  uint8_t* data() { return bytes_.data(); }
  const uint8_t* data() const { return bytes_.data(); }
  uint8_t& operator[](size_t i) { return bytes_[i]; }
  const uint8_t& operator[](size_t i) const { return bytes_[i]; }
  bool operator==(const Secret& o) const { return ct_equal(bytes_.data(), o.bytes_.data(), N); }

 private:
  std::array<uint8_t, N> bytes_;
};

}  // namespace zt::crypto
