// Fuzz target for the five credential codecs (PROTOCOL.md §7): each of COM, Capability, Tag,
// COO and Revocation is read from the input; whatever parses must write/read/write to the
// same bytes, and signing_form()/verify() must be safe on it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "proto/credentials.hpp"

using namespace zt::proto;

namespace {
void check(bool cond) {
  if (!cond) std::abort();
}

const Identity& signer() {
  // The vectors' controller (public form): any identity will do for exercising verify().
  static const Identity id = *Identity::parse(
      "d5a72ff358:0:2c33a668d8b9acdd0185241009cb3714ec29fc11e3cf75fdc9b7bb355f2d5346724035f73abc56"
      "023da63b983410e54b005476611aa6ebf09ccefd1cd8544451");
  return id;
}

template <class T>
zt::Bytes write(const T& v) {
  zt::Writer w;
  v.write(w);
  return w.take();
}

template <class T>
void one(zt::ByteSpan in) {
  zt::Reader r(in);
  auto v = T::read(r);
  if (!v.ok()) {
    check(!v.error().empty());
    return;
  }
  check(r.ok());
  zt::Bytes w1 = write(*v);
  zt::Reader r2(w1);
  auto v2 = T::read(r2);
  check(v2.ok());
  check(r2.done());
  check(write(*v2) == w1);
  (void)v->signing_form();
  (void)v->verify(signer());
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  zt::ByteSpan in(data, size);
  one<CertificateOfMembership>(in);
  one<Capability>(in);
  one<Tag>(in);
  one<CertificateOfOwnership>(in);
  one<Revocation>(in);

  // The COM is lossless: what was consumed is exactly what is written.
  zt::Reader r(in);
  auto com = CertificateOfMembership::read(r);
  if (com.ok()) {
    check(com->qualifiers().size() <= CertificateOfMembership::kMaxQualifiers);
    zt::Bytes w = write(*com);
    check(zt::ByteSpan(w).size() == r.pos());
    check(std::equal(w.begin(), w.end(), in.begin()));
    (void)com->agrees_with(*com, signer());
  }
  zt::Reader rc(in);
  auto cap = Capability::read(rc);
  if (cap.ok()) {
    (void)cap->rules();
    auto v = cap->verify([](Address a) -> const Identity* { return a == signer().address() ? &signer() : nullptr; });
    (void)v;
  }
  return 0;
}
