// Dictionary: ZeroTier's key=value text container (PROTOCOL.md §6.1), used for network
// configs, config-request metadata and trace events.
//
// Entries are kept in order (file order when parsed, insertion order when built); lookup is
// exact and case-sensitive and the first matching entry wins. Values are raw bytes (binary
// values are the serialized credentials etc.); escaping happens only in parse()/serialize().
//
// Capacity: a dictionary has a maximum serialized size (default 400 KiB, see §6.1). parse()
// rejects longer input; setters refuse (return false) to grow past it.
// Values, no shared state; not internally synchronized.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.hpp"
#include "base/result.hpp"

namespace zt::proto {

class Dictionary {
 public:
  static constexpr size_t kDefaultCapacity = 400 * 1024;
  // The reference's request-metadata dictionary capacity (§6.1).
  static constexpr size_t kMetadataCapacity = 1024;

  struct Entry {
    std::string key;
    Bytes value;
    bool operator==(const Entry&) const = default;
  };

  explicit Dictionary(size_t capacity = kDefaultCapacity) : capacity_(capacity) {}

  // Parses text up to the first NUL (or the end). Lines are separated by LF or CR (so CRLF
  // works); empty lines and lines without '=' or with an empty key are skipped. Escapes:
  // \0 \r \n \e \\ map to NUL CR LF '=' '\'; a backslash before any other byte yields that
  // byte; a trailing lone backslash is dropped. Error only if the input (up to the NUL) is
  // longer than `capacity`.
  static Result<Dictionary> parse(ByteSpan text, size_t capacity = kDefaultCapacity);
  static Result<Dictionary> parse(std::string_view text, size_t capacity = kDefaultCapacity) {
    return parse(as_bytes(text), capacity);
  }

  // Entries joined by '\n', no trailing newline, no NUL; values escaped (§6.1).
  Bytes serialize() const;
  std::string to_string() const;  // serialize() as a std::string
  // Size serialize() would produce.
  size_t encoded_size() const;

  // ---- lookup (first match) ---------------------------------------------------------------
  const Bytes* get(std::string_view key) const;
  bool contains(std::string_view key) const { return get(key) != nullptr; }
  std::optional<std::string> get_string(std::string_view key) const;
  // Hex integer: leading hex digits up to the first non-hex character (an empty run is 0;
  // more than 16 digits keeps the low 64 bits). nullopt if the key is absent.
  std::optional<uint64_t> get_u64(std::string_view key) const;
  uint64_t get_u64(std::string_view key, uint64_t dflt) const { return get_u64(key).value_or(dflt); }
  // Signed: optional leading '-', then hex magnitude.
  std::optional<int64_t> get_i64(std::string_view key) const;
  // '1', 't', 'T' → true; anything else → false. nullopt if absent.
  std::optional<bool> get_bool(std::string_view key) const;
  bool get_bool(std::string_view key, bool dflt) const { return get_bool(key).value_or(dflt); }

  // ---- building -------------------------------------------------------------------------
  // set_*: replace the first entry with this key, or append. add: always append.
  // All return false (and change nothing) if the key is invalid (empty, or contains
  // '=', '\\', CR, LF, NUL) or the result would exceed the capacity.
  bool set(std::string_view key, ByteSpan value);
  bool set_string(std::string_view key, std::string_view value) { return set(key, as_bytes(value)); }
  // 16 lowercase hex digits (the reference's unsigned integer form).
  bool set_u64(std::string_view key, uint64_t v) { return set_hex(key, v, 16); }
  // `digits` lowercase hex digits (10 for addresses).
  bool set_hex(std::string_view key, uint64_t v, int digits);
  // '-' + 16 hex digits of the magnitude for negative values.
  bool set_i64(std::string_view key, int64_t v);
  bool set_bool(std::string_view key, bool v) { return set_string(key, v ? "1" : "0"); }
  bool add(std::string_view key, ByteSpan value);
  // Removes every entry with this key; returns how many.
  size_t erase(std::string_view key);
  void clear() { entries_.clear(); }

  const std::vector<Entry>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  size_t capacity() const { return capacity_; }

  static bool valid_key(std::string_view key);
  // Escaped form of a value (§6.1 table).
  static void escape_into(ByteSpan value, Bytes& out);

  bool operator==(const Dictionary& o) const { return entries_ == o.entries_; }

 private:
  bool fits_after(size_t removed, size_t added) const;
  static size_t entry_size(std::string_view key, ByteSpan value);

  size_t capacity_;
  std::vector<Entry> entries_;
};

}  // namespace zt::proto
