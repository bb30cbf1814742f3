// Hex text <-> bytes, and the fixed-width hex forms ZeroTier uses for addresses and ids.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.hpp"

namespace zt {

std::string to_hex(ByteSpan b);
// Lowercase hex of v, zero-padded to `digits` digits (e.g. 10 for an address, 16 for a nwid).
std::string to_hex(uint64_t v, int digits);
// Strict: even length, hex digits only. nullopt otherwise.
std::optional<Bytes> from_hex(std::string_view s);
// Strict integer parse: 1..16 hex digits, nothing else. nullopt otherwise.
std::optional<uint64_t> parse_hex_u64(std::string_view s);

}  // namespace zt
