// Fuzz target for the dictionary text codec (PROTOCOL.md §6.1): Dictionary::parse on arbitrary
// bytes, every typed getter on every key, and the round trip parse(serialize(d)) == d.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "proto/dictionary.hpp"

using zt::proto::Dictionary;

namespace {
void check(bool cond) {
  if (!cond) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  zt::ByteSpan in(data, size);
  auto d = Dictionary::parse(in);
  if (!d.ok()) {
    check(!d.error().empty());
    return 0;
  }
  for (const auto& e : d->entries()) {
    check(!e.key.empty());
    (void)d->get_u64(e.key);
    (void)d->get_i64(e.key);
    (void)d->get_bool(e.key);
    (void)d->get_string(e.key);
  }
  zt::Bytes s = d->serialize();
  check(s.size() == d->encoded_size());
  auto again = Dictionary::parse(s);
  check(again.ok());
  check(*again == *d);
  check(again->serialize() == s);
  // A small capacity either parses the same entries or refuses.
  auto small = Dictionary::parse(in, 64);
  if (small.ok()) check(*small == *d);
  return 0;
}
