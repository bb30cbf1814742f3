// Fuzz target for the world codec (PROTOCOL.md §5.1): World::parse/read on arbitrary bytes;
// whatever parses re-serializes to a form that parses to the same world, and verify() and
// signing_form() are safe on it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "proto/world.hpp"

using zt::proto::World;

namespace {
void check(bool cond) {
  if (!cond) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  zt::ByteSpan in(data, size);
  // read() consumes a prefix (worlds are embedded in OK(HELLO)).
  zt::Reader r(in);
  auto w = World::read(r);
  if (!w.ok()) {
    check(!w.error().empty());
    return 0;
  }
  check(r.ok() && r.pos() <= size);
  check(w->roots.size() <= World::kMaxRoots);
  for (const auto& root : w->roots) check(root.stable_endpoints.size() <= World::kMaxEndpointsPerRoot);
  zt::Bytes s = w->serialize();
  auto again = World::parse(s);
  check(again.ok());
  check(*again == *w);
  check(again->serialize() == s);
  (void)w->verify();
  check(World::should_replace(*w, *w) == false);
  zt::Bytes f = w->signing_form();
  check(f.size() == s.size() - 96 + 16);
  auto whole = World::parse(in);
  check(whole.ok() == (r.pos() == size));
  return 0;
}
