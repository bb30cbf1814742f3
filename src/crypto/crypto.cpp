// Crypto primitives on libsodium (hashes, Salsa20, Poly1305, X25519, Ed25519, randomness)
// and OpenSSL (SHA-384, HMAC-SHA-384). AES-GMAC-SIV lives in aes_gmac_siv.cpp, the identity
// memory-hard hash in identity_hash.cpp.
#include "crypto/crypto.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace zt::crypto {

bool init() {
  // sodium_init() is itself idempotent and thread-safe; caching the answer keeps the
  // per-call cost to one atomic load.
  static const bool ok = sodium_init() >= 0;
  return ok;
}

void secure_zero(void* p, size_t n) {
  if (n) sodium_memzero(p, n);
}

bool ct_equal(const void* a, const void* b, size_t n) {
  if (n == 0) return true;
  return sodium_memcmp(a, b, n) == 0;
}

// ---- Hashes -----------------------------------------------------------------------------

Sha512Digest sha512(ByteSpan msg) {
  init();  // selects libsodium's fastest implementations; one guard check after the first call
  Sha512Digest d;
  crypto_hash_sha512(d.data(), msg.data(), msg.size());
  return d;
}

namespace {
// Fetched once: in OpenSSL 3 the legacy EVP_sha384() getter triggers an implicit fetch on
// every use, which is the dominant cost for short messages.
const EVP_MD* md_sha384() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA384", nullptr);
  return md ? md : EVP_sha384();
}

[[noreturn]] void fatal(const char* what) {
  // Only reached if OpenSSL cannot run a fixed, valid operation (out of memory, broken
  // provider). There is no meaningful recovery and no safe wrong answer to return.
  std::fprintf(stderr, "ztcore: fatal crypto error: %s\n", what);
  std::abort();
}
}  // namespace

Sha384Digest sha384(ByteSpan msg) {
  Sha384Digest d;
  unsigned int n = 0;
  if (EVP_Digest(msg.data(), msg.size(), d.data(), &n, md_sha384(), nullptr) != 1 || n != d.size())
    fatal("SHA-384");
  return d;
}

Sha384Digest hmac_sha384(ByteSpan key, ByteSpan msg) {
  Sha384Digest d;
  unsigned int n = 0;
  // HMAC() with an empty key needs a non-null pointer.
  static const uint8_t kEmpty = 0;
  const uint8_t* k = key.empty() ? &kEmpty : key.data();
  if (!HMAC(md_sha384(), k, int(key.size()), msg.data(), msg.size(), d.data(), &n) || n != d.size())
    fatal("HMAC-SHA-384");
  return d;
}

// ---- Salsa20 ----------------------------------------------------------------------------

namespace {
inline void xor_into(uint8_t* out, const uint8_t* in, const uint8_t* ks, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t a, b;
    std::memcpy(&a, in + i, 8);
    std::memcpy(&b, ks + i, 8);
    a ^= b;
    std::memcpy(out + i, &a, 8);
  }
  for (; i < n; ++i) out[i] = in[i] ^ ks[i];
}
}  // namespace

void salsa20_xor(const uint8_t key[32], const uint8_t nonce[8], uint64_t block_counter,
                 int rounds, const uint8_t* in, uint8_t* out, size_t len) {
  init();
  if (len == 0) return;
  if (rounds == 20) {
    crypto_stream_salsa20_xor_ic(out, in, len, nonce, block_counter, key);
    return;
  }
  // libsodium 1.0.18 has no crypto_stream_salsa2012_xor_ic, so the reduced-round variants
  // run the libsodium core function block by block. Core input = nonce (8) ‖ 64-bit
  // little-endian block counter (8): words 6..9 of the Salsa20 state, constants default to
  // "expand 32-byte k" (PROTOCOL.md §2.5 step 2).
  int (*core)(unsigned char*, const unsigned char*, const unsigned char*, const unsigned char*);
  if (rounds == 12) {
    core = crypto_core_salsa2012;
  } else if (rounds == 8) {
    core = crypto_core_salsa208;
  } else {
    fatal("salsa20_xor: rounds must be 8, 12 or 20");
  }
  uint8_t ctr_in[16];
  std::memcpy(ctr_in, nonce, 8);
  uint8_t ks[64];
  while (len) {
    for (int i = 0; i < 8; ++i) ctr_in[8 + i] = uint8_t(block_counter >> (8 * i));
    core(ks, ctr_in, key, nullptr);
    size_t n = len < 64 ? len : 64;
    xor_into(out, in, ks, n);
    in += n;
    out += n;
    len -= n;
    ++block_counter;
  }
  sodium_memzero(ks, sizeof ks);
}

// ---- Poly1305 ---------------------------------------------------------------------------

Poly1305Tag poly1305(const uint8_t key[32], ByteSpan msg) {
  init();
  Poly1305Tag t;
  crypto_onetimeauth_poly1305(t.data(), msg.data(), msg.size(), key);
  return t;
}

// ---- Curve25519 / Ed25519 ---------------------------------------------------------------

std::array<uint8_t, 32> x25519_public(const uint8_t scalar[32]) {
  init();
  std::array<uint8_t, 32> p;
  crypto_scalarmult_curve25519_base(p.data(), scalar);
  return p;
}

PublicKey public_from_private(const PrivateKey& priv) {
  init();
  PublicKey pub;
  auto x = x25519_public(priv.data());
  std::memcpy(pub.data(), x.data(), 32);
  uint8_t sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_seed_keypair(pub.data() + 32, sk, priv.data() + 32);
  sodium_memzero(sk, sizeof sk);
  return pub;
}

SymmetricKey agree(const PrivateKey& mine, const PublicKey& theirs) {
  init();
  // §1.5. libsodium refuses small-order peer points; the reference does not check and
  // hashes the all-zero X25519 output. We do the same so the key matches what the peer
  // computes (such a key is public, but only the misbehaving peer's own sessions use it).
  uint8_t raw[32];
  if (crypto_scalarmult_curve25519(raw, mine.data(), theirs.data()) != 0) {
    // Small-order point: libsodium may return before writing; the true X25519 result is
    // all zeros.
    std::memset(raw, 0, sizeof raw);
  }
  uint8_t h[64];
  crypto_hash_sha512(h, raw, sizeof raw);
  SymmetricKey k(h);  // first 48 bytes
  sodium_memzero(raw, sizeof raw);
  sodium_memzero(h, sizeof h);
  return k;
}

Signature sign(const PrivateKey& priv, ByteSpan msg) {
  init();
  // §1.6: Ed25519 over the first 32 bytes of SHA-512(msg); the digest half is appended.
  Signature sig{};
  uint8_t h[64];
  crypto_hash_sha512(h, msg.data(), msg.size());
  uint8_t pk[crypto_sign_PUBLICKEYBYTES];
  uint8_t sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_seed_keypair(pk, sk, priv.data() + 32);
  crypto_sign_detached(sig.data(), nullptr, h, 32, sk);
  std::memcpy(sig.data() + 64, h, 32);
  sodium_memzero(sk, sizeof sk);
  return sig;
}

bool verify(const PublicKey& pub, ByteSpan msg, ByteSpan sig) {
  init();
  if (sig.size() != kSignatureSize) return false;
  uint8_t h[64];
  crypto_hash_sha512(h, msg.data(), msg.size());
  if (std::memcmp(sig.data() + 64, h, 32) != 0) return false;  // public data, no need for ct
  return crypto_sign_verify_detached(sig.data(), h, 32, pub.data() + 32) == 0;
}

// ---- Randomness -------------------------------------------------------------------------

void random_bytes(uint8_t* out, size_t n) {
  init();
  randombytes_buf(out, n);
}

}  // namespace zt::crypto
