// ztcore::crypto — the only layer that touches libsodium and OpenSSL.
//
// Primitives (PROTOCOL.md §1, §2.5–2.8) behind small functions with fixed-size inputs, so
// callers above never see a library type. Nothing here allocates per call except where a
// std::vector is returned; the packet hot path uses the in-place functions.
//
// Threading: all functions are thread-safe; init() must run once before use (it is called
// by every entry point that needs it, and is cheap after the first call).
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "base/bytes.hpp"
#include "crypto/secret.hpp"

namespace zt::crypto {

// Initialises libsodium (idempotent). Returns false only if the library cannot start.
bool init();

// ---- Hashes -----------------------------------------------------------------------------
using Sha512Digest = std::array<uint8_t, 64>;
using Sha384Digest = std::array<uint8_t, 48>;
Sha512Digest sha512(ByteSpan msg);
Sha384Digest sha384(ByteSpan msg);
Sha384Digest hmac_sha384(ByteSpan key, ByteSpan msg);

// ---- Salsa20 ----------------------------------------------------------------------------
// XOR `len` bytes of `in` into `out` with the Salsa20 keystream (rounds = 12 or 20; 8 is
// also accepted, anything else is a programming error and aborts), starting at 64-byte
// block number `block_counter` (64-bit, little-endian in state words 8..9). in == out is
// allowed; other overlap is not.
void salsa20_xor(const uint8_t key[32], const uint8_t nonce[8], uint64_t block_counter,
                 int rounds, const uint8_t* in, uint8_t* out, size_t len);

// ---- Poly1305 ---------------------------------------------------------------------------
using Poly1305Tag = std::array<uint8_t, 16>;
Poly1305Tag poly1305(const uint8_t key[32], ByteSpan msg);

// ---- Curve25519 / Ed25519 (ZeroTier "C25519", §1.1) ------------------------------------
constexpr size_t kPublicKeySize = 64;   // X25519 public ‖ Ed25519 public
constexpr size_t kPrivateKeySize = 64;  // X25519 scalar ‖ Ed25519 seed
constexpr size_t kSignatureSize = 96;   // Ed25519 sig ‖ SHA-512(msg)[0..31]
constexpr size_t kSymmetricKeySize = 48;

using PublicKey = std::array<uint8_t, kPublicKeySize>;
using PrivateKey = Secret<kPrivateKeySize>;
using Signature = std::array<uint8_t, kSignatureSize>;
using SymmetricKey = Secret<kSymmetricKeySize>;

// Public key from a private key: X25519 base-point mult of bytes 0..31, Ed25519 public
// key from the seed in bytes 32..63.
PublicKey public_from_private(const PrivateKey& priv);
// Just the X25519 half (bytes 0..31), used by the identity generation loop.
std::array<uint8_t, 32> x25519_public(const uint8_t scalar[32]);
// §1.5: K = SHA-512(X25519(my, their))[0..47].
SymmetricKey agree(const PrivateKey& mine, const PublicKey& theirs);
// §1.6 signatures.
Signature sign(const PrivateKey& priv, ByteSpan msg);
bool verify(const PublicKey& pub, ByteSpan msg, ByteSpan sig);

// ---- AES-GMAC-SIV (§2.6) ----------------------------------------------------------------
// Keyed with the 48-byte shared key; derives K0/K1 via the KBKDF of §1.5 and keeps
// expanded AES key schedules. One instance per peer; not safe for concurrent use.
class AesGmacSiv {
 public:
  explicit AesGmacSiv(const SymmetricKey& k);
  ~AesGmacSiv();
  AesGmacSiv(const AesGmacSiv&) = delete;
  AesGmacSiv& operator=(const AesGmacSiv&) = delete;

  // Encrypts `payload` (len bytes) in place. `iv` = the 8 random packet-id bytes,
  // `aad11` = the 11 header bytes 8..18 (hops already zero). Writes the 16-byte tag T:
  // tag_out[0..7] goes to packet bytes 0..7, tag_out[8..15] to bytes 19..26.
  void encrypt(const uint8_t iv[8], const uint8_t aad11[11], uint8_t* payload, size_t len,
               uint8_t tag_out[16]);
  // Decrypts in place and authenticates. `tag` = bytes 0..7 ‖ bytes 19..26 of the packet.
  // Returns false (payload contents unspecified) if authentication fails.
  bool decrypt(const uint8_t tag[16], const uint8_t aad11[11], uint8_t* payload, size_t len);
  // Same, and also returns the sender's 8-byte iv recovered from the tag (§2.6 decrypt step
  // 2), e.g. to re-armor a packet byte for byte. iv_out is written even on failure.
  bool decrypt(const uint8_t tag[16], const uint8_t aad11[11], uint8_t* payload, size_t len,
               uint8_t iv_out[8]);

  // The derived AES keys (for known-answer tests).
  static std::array<uint8_t, 32> kbkdf(const SymmetricKey& k, char label);

  // The raw GMAC step (§2.6 step 3) for known-answer tests: 16-byte tag G over
  // (aad11 with hops bits masked ‖ 5 zero bytes ‖ data) with nonce iv ‖ 00000000 under K0.
  // encrypt()/decrypt() also mask the hops bits (aad11[10] & 0xf8) themselves.
  std::array<uint8_t, 16> gmac(const uint8_t iv[8], const uint8_t aad11[11], const uint8_t* data,
                               size_t len);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// AES-256-CTR where only the last 4 bytes of the 16-byte counter block count (32-bit
// big-endian, wrapping to 0 without carrying into byte 11), as §2.6 step 6 requires.
// AesGmacSiv uses the same routine internally; this standalone form creates a cipher
// context per call and exists for tests and tools. in == out is allowed.
void aes256_ctr32_xor(const uint8_t key[32], const uint8_t counter_block[16], const uint8_t* in,
                      uint8_t* out, size_t len);

// ---- Identity address derivation (§1.2) -------------------------------------------------
// The 64-byte memory-hard digest of a 64-byte public key. Uses a 2 MiB per-thread buffer
// that is allocated on first use and kept. Takes a few milliseconds.
Sha512Digest identity_memory_hard_hash(const PublicKey& pub);

// ---- Randomness (runtime/tools only; the core gets randomness injected) ------------------
void random_bytes(uint8_t* out, size_t n);

}  // namespace zt::crypto
