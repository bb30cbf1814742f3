#include "proto/dictionary.hpp"

#include "base/hex.hpp"

namespace zt::proto {
namespace {

int hex_digit(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

uint64_t leading_hex(ByteSpan s) {
  uint64_t v = 0;
  for (uint8_t c : s) {
    int d = hex_digit(c);
    if (d < 0) break;
    v = (v << 4) | uint64_t(d);
  }
  return v;
}

size_t escaped_size(ByteSpan v) {
  size_t n = v.size();
  for (uint8_t c : v)
    if (c == 0 || c == '\r' || c == '\n' || c == '\\' || c == '=') ++n;
  return n;
}

}  // namespace

bool Dictionary::valid_key(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key)
    if (c == '=' || c == '\\' || c == '\r' || c == '\n' || c == '\0') return false;
  return true;
}

void Dictionary::escape_into(ByteSpan value, Bytes& out) {
  for (uint8_t c : value) {
    switch (c) {
      case 0: out.push_back('\\'); out.push_back('0'); break;
      case '\r': out.push_back('\\'); out.push_back('r'); break;
      case '\n': out.push_back('\\'); out.push_back('n'); break;
      case '\\': out.push_back('\\'); out.push_back('\\'); break;
      case '=': out.push_back('\\'); out.push_back('e'); break;
      default: out.push_back(c); break;
    }
  }
}

Result<Dictionary> Dictionary::parse(ByteSpan text, size_t capacity) {
  // Everything after the first NUL is not part of the dictionary.
  size_t end = 0;
  while (end < text.size() && text[end] != 0) ++end;
  if (end > capacity)
    return err("dictionary: " + std::to_string(end) + " bytes exceeds capacity " + std::to_string(capacity));

  Dictionary d(capacity);
  size_t i = 0;
  while (i < end) {
    // Key: up to '=' or a line end.
    size_t ks = i;
    while (i < end && text[i] != '=' && text[i] != '\n' && text[i] != '\r') ++i;
    if (i >= end || text[i] != '=') {  // no '=' on this line: skip it
      if (i < end) ++i;
      continue;
    }
    std::string key(reinterpret_cast<const char*>(text.data() + ks), i - ks);
    ++i;  // '='
    Bytes value;
    while (i < end && text[i] != '\n' && text[i] != '\r') {
      uint8_t c = text[i++];
      if (c != '\\') {
        value.push_back(c);
        continue;
      }
      if (i >= end) break;  // trailing lone backslash
      uint8_t e = text[i++];
      switch (e) {
        case '0': value.push_back(0); break;
        case 'r': value.push_back('\r'); break;
        case 'n': value.push_back('\n'); break;
        case 'e': value.push_back('='); break;
        default: value.push_back(e); break;  // includes "\\"
      }
    }
    if (i < end) ++i;  // the line end
    if (key.empty()) continue;
    d.entries_.push_back(Entry{std::move(key), std::move(value)});
  }
  return d;
}

size_t Dictionary::entry_size(std::string_view key, ByteSpan value) {
  return key.size() + 1 + escaped_size(value);
}

size_t Dictionary::encoded_size() const {
  size_t n = 0;
  for (const auto& e : entries_) n += entry_size(e.key, e.value);
  if (!entries_.empty()) n += entries_.size() - 1;  // separators
  return n;
}

Bytes Dictionary::serialize() const {
  Bytes out;
  out.reserve(encoded_size());
  bool first = true;
  for (const auto& e : entries_) {
    if (!first) out.push_back('\n');
    first = false;
    out.insert(out.end(), e.key.begin(), e.key.end());
    out.push_back('=');
    escape_into(e.value, out);
  }
  return out;
}

std::string Dictionary::to_string() const {
  Bytes b = serialize();
  return std::string(b.begin(), b.end());
}

const Bytes* Dictionary::get(std::string_view key) const {
  for (const auto& e : entries_)
    if (e.key == key) return &e.value;
  return nullptr;
}

std::optional<std::string> Dictionary::get_string(std::string_view key) const {
  const Bytes* v = get(key);
  if (!v) return std::nullopt;
  return std::string(v->begin(), v->end());
}

std::optional<uint64_t> Dictionary::get_u64(std::string_view key) const {
  const Bytes* v = get(key);
  if (!v) return std::nullopt;
  return leading_hex(*v);
}

std::optional<int64_t> Dictionary::get_i64(std::string_view key) const {
  const Bytes* v = get(key);
  if (!v) return std::nullopt;
  if (!v->empty() && (*v)[0] == '-') return int64_t(0 - leading_hex(ByteSpan(*v).subspan(1)));
  return int64_t(leading_hex(*v));
}

std::optional<bool> Dictionary::get_bool(std::string_view key) const {
  const Bytes* v = get(key);
  if (!v) return std::nullopt;
  return !v->empty() && ((*v)[0] == '1' || (*v)[0] == 't' || (*v)[0] == 'T');
}

bool Dictionary::fits_after(size_t removed, size_t added) const {
  size_t cur = encoded_size();
  size_t next = cur - removed + added;
  return next <= capacity_;
}

bool Dictionary::set(std::string_view key, ByteSpan value) {
  if (!valid_key(key)) return false;
  for (auto& e : entries_) {
    if (e.key != key) continue;
    if (!fits_after(entry_size(e.key, e.value), entry_size(key, value))) return false;
    e.value.assign(value.begin(), value.end());
    return true;
  }
  return add(key, value);
}

bool Dictionary::add(std::string_view key, ByteSpan value) {
  if (!valid_key(key)) return false;
  size_t added = entry_size(key, value) + (entries_.empty() ? 0 : 1);
  if (!fits_after(0, added)) return false;
  entries_.push_back(Entry{std::string(key), Bytes(value.begin(), value.end())});
  return true;
}

bool Dictionary::set_hex(std::string_view key, uint64_t v, int digits) {
  return set_string(key, to_hex(v, digits));
}

bool Dictionary::set_i64(std::string_view key, int64_t v) {
  if (v >= 0) return set_u64(key, uint64_t(v));
  return set_string(key, "-" + to_hex(0 - uint64_t(v), 16));
}

size_t Dictionary::erase(std::string_view key) {
  size_t before = entries_.size();
  std::erase_if(entries_, [&](const Entry& e) { return e.key == key; });
  return before - entries_.size();
}

}  // namespace zt::proto
