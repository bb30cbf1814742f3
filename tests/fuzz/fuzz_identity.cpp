// Fuzz target for the identity codecs (PROTOCOL.md §1.3, §1.4): Identity::parse on the input
// as text and Identity::read on the input as binary. Must never crash, read out of bounds or
// leak; whatever parses must re-serialize to an equivalent form. validate() is not called:
// it costs a 2 MiB memory-hard hash per input and is not a parser.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "base/bytes.hpp"
#include "proto/identity.hpp"

using zt::proto::Identity;

namespace {
void check(bool cond) {
  if (!cond) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Text form.
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto t = Identity::parse(text);
  if (t.ok()) {
    const Identity& id = t.value();
    check(!zt::proto::address_reserved(id.address()));
    std::string s = id.to_string(true);
    auto again = Identity::parse(s);
    check(again.ok());
    check(again.value() == id);
    check(again.value().has_private() == id.has_private());
    check(again.value().to_string(true) == s);
  } else {
    check(!t.error().empty());
  }

  // Binary form, possibly followed by more bytes (identities are embedded in packets).
  zt::Reader r(data, size);
  auto b = Identity::read(r);
  if (b.ok()) {
    const Identity& id = b.value();
    check(r.ok());
    size_t used = r.pos();
    check(used == zt::proto::kIdentityPublicSize || used == zt::proto::kIdentitySecretSize);
    zt::Writer w;
    id.write(w, true);
    check(w.size() == used);
    check(std::equal(w.data().begin(), w.data().end(), data));
    zt::Reader r2(w.span());
    auto again = Identity::read(r2);
    check(again.ok() && r2.done() && again.value() == id);
    // Text of a binary-parsed identity parses back to the same identity.
    auto via_text = Identity::parse(id.to_string(true));
    check(via_text.ok() && via_text.value() == id);
  }
  return 0;
}
