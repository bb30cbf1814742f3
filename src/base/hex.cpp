#include "base/hex.hpp"

namespace zt {
namespace {
constexpr char kDigits[] = "0123456789abcdef";
int nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string to_hex(ByteSpan b) {
  std::string s;
  s.resize(b.size() * 2);
  for (size_t i = 0; i < b.size(); ++i) {
    s[2 * i] = kDigits[b[i] >> 4];
    s[2 * i + 1] = kDigits[b[i] & 15];
  }
  return s;
}

std::string to_hex(uint64_t v, int digits) {
  std::string s(size_t(digits), '0');
  for (int i = digits - 1; i >= 0 && v; --i, v >>= 4) s[size_t(i)] = kDigits[v & 15];
  return s;
}

std::optional<Bytes> from_hex(std::string_view s) {
  if (s.size() % 2) return std::nullopt;
  Bytes out(s.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = nibble(s[2 * i]), lo = nibble(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = uint8_t((hi << 4) | lo);
  }
  return out;
}

std::optional<uint64_t> parse_hex_u64(std::string_view s) {
  if (s.empty() || s.size() > 16) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    int n = nibble(c);
    if (n < 0) return std::nullopt;
    v = (v << 4) | uint64_t(n);
  }
  return v;
}

}  // namespace zt
