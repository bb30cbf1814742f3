// AES-GMAC-SIV (PROTOCOL.md §2.6) on OpenSSL, with the KBKDF of §1.5.
//
// Hot path: everything is keyed once per instance and nothing per packet goes through
// OpenSSL 3's OSSL_PARAM machinery (EVP_EncryptInit_ex with a new IV, ctrl(GET_TAG),
// get_iv_length and set_padding all look parameters up by name, which profiled at ~20 % of
// the frame loop). Per packet we only call EVP_EncryptUpdate/EVP_DecryptUpdate on
// pre-keyed AES-256-ECB contexts (AES-NI via the provider) and the CRYPTO_gcm128_* GHASH
// routines (PCLMULQDQ, chosen by OpenSSL at runtime):
//   * GMAC = GCM with AAD only: a GCM128_CONTEXT whose block function is the ECB context
//     under K0 (used for H at construction and for E_K0(J0) per packet).
//   * CTR with the 32-bit counter of §2.6 step 6: counter blocks are written in batches,
//     ECB-encrypted under K1 and XORed into the data. Incrementing only the low 32 bits
//     as a uint32_t gives the required wrap (no carry into byte 11) by construction.
// Nothing is allocated per packet.
#include <openssl/evp.h>
#include <openssl/modes.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "crypto/crypto.hpp"

namespace zt::crypto {
namespace {

[[noreturn]] void fatal(const char* what) {
  // A keyed EVP context failing a fixed-size operation means OpenSSL itself is broken
  // (or out of memory at construction); there is no safe value to return.
  std::fprintf(stderr, "ztcore: fatal crypto error: %s\n", what);
  std::abort();
}

EVP_CIPHER_CTX* new_ctx(const EVP_CIPHER* c, const uint8_t key[32], bool enc) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (!ctx) fatal("EVP_CIPHER_CTX_new");
  if (EVP_CipherInit_ex(ctx, c, nullptr, key, nullptr, enc ? 1 : 0) != 1) fatal("EVP_CipherInit_ex");
  EVP_CIPHER_CTX_set_padding(ctx, 0);
  return ctx;
}

// Whole 16-byte blocks through a pre-keyed, unpadded ECB context (in == out allowed).
// n is at most kBatch blocks here, far below INT_MAX.
inline void ecb_blocks(EVP_CIPHER_CTX* ecb, const uint8_t* in, uint8_t* out, size_t bytes) {
  int outl = 0;
  if (EVP_EncryptUpdate(ecb, out, &outl, in, int(bytes)) != 1 || size_t(outl) != bytes) fatal("ECB encrypt");
}

// block128_f for CRYPTO_gcm128: `key` is the ECB encrypt context under K0.
void gcm_block(const unsigned char in[16], unsigned char out[16], const void* key) {
  ecb_blocks(static_cast<EVP_CIPHER_CTX*>(const_cast<void*>(key)), in, out, 16);
}

// §2.6 step 6: the counter is the 32-bit big-endian integer in bytes 12..15 only; it wraps
// from 0xffffffff to 0 with bytes 0..11 unchanged. (With the sender's `T[12] &= 0x7f` the
// wrap cannot happen for any real packet, but a received tag is attacker-chosen on the
// decrypt side only up to that same mask.) `ecb` is an encrypt context under the CTR key.
constexpr size_t kBatch = 96;  // blocks per ECB call: 1.5 KiB on the stack, a whole MTU packet

void ctr32_xor(EVP_CIPHER_CTX* ecb, const uint8_t counter_block[16], const uint8_t* in, uint8_t* out,
               size_t len) {
  alignas(16) uint8_t ks[kBatch * 16];
  uint32_t ctr = (uint32_t(counter_block[12]) << 24) | (uint32_t(counter_block[13]) << 16) |
                 (uint32_t(counter_block[14]) << 8) | uint32_t(counter_block[15]);
  while (len) {
    size_t blocks = (len + 15) / 16;
    if (blocks > kBatch) blocks = kBatch;
    for (size_t b = 0; b < blocks; ++b, ++ctr) {  // uint32_t: wraps mod 2^32, no carry
      uint8_t* cb = ks + 16 * b;
      std::memcpy(cb, counter_block, 12);
      cb[12] = uint8_t(ctr >> 24);
      cb[13] = uint8_t(ctr >> 16);
      cb[14] = uint8_t(ctr >> 8);
      cb[15] = uint8_t(ctr);
    }
    ecb_blocks(ecb, ks, ks, blocks * 16);
    size_t n = blocks * 16 < len ? blocks * 16 : len;
    for (size_t i = 0; i < n; ++i) out[i] = uint8_t(in[i] ^ ks[i]);
    in += n;
    out += n;
    len -= n;
  }
}

}  // namespace

struct AesGmacSiv::Impl {
  EVP_CIPHER_CTX* k0_enc = nullptr;   // AES-256-ECB encrypt under K0 (GCM block function)
  GCM128_CONTEXT* gcm = nullptr;      // GHASH state keyed with H = E_K0(0), used as GMAC
  EVP_CIPHER_CTX* ecb_enc = nullptr;  // AES-256-ECB encrypt under K1 (tag and CTR keystream)
  EVP_CIPHER_CTX* ecb_dec = nullptr;  // AES-256-ECB decrypt under K1

  ~Impl() {
    if (gcm) CRYPTO_gcm128_release(gcm);  // cleanses H and the per-packet state
    EVP_CIPHER_CTX_free(k0_enc);
    EVP_CIPHER_CTX_free(ecb_enc);
    EVP_CIPHER_CTX_free(ecb_dec);
  }

  // G = GMAC_K0(nonce iv ‖ 0^32, aad11 ‖ 0^5 ‖ data) (§2.6 step 3): standard AES-GCM with
  // a 96-bit nonce, empty plaintext and AAD = A ‖ P.
  void gmac(const uint8_t iv[8], const uint8_t aad11[11], const uint8_t* data, size_t len,
            uint8_t g[16]) {
    uint8_t nonce[12] = {};
    std::memcpy(nonce, iv, 8);
    CRYPTO_gcm128_setiv(gcm, nonce, sizeof nonce);  // resets GHASH and lengths, computes E_K0(J0)
    uint8_t a[16] = {};
    std::memcpy(a, aad11, 11);
    a[10] &= 0xf8;  // hops never authenticated (§2.1)
    if (CRYPTO_gcm128_aad(gcm, a, 16) != 0) fatal("GMAC aad");
    if (len && CRYPTO_gcm128_aad(gcm, data, len) != 0) fatal("GMAC aad");
    CRYPTO_gcm128_tag(gcm, g, 16);
  }
};

std::array<uint8_t, 32> AesGmacSiv::kbkdf(const SymmetricKey& k, char label) {
  // §1.5: HMAC-SHA-384(K, 00000000 'Z' 'T' label 00 00 00000180), first 32 bytes.
  const uint8_t msg[13] = {0, 0, 0, 0, 'Z', 'T', uint8_t(label), 0, 0, 0, 0, 0x01, 0x80};
  auto h = hmac_sha384(ByteSpan(k.data(), k.size()), ByteSpan(msg, sizeof msg));
  std::array<uint8_t, 32> out;
  std::memcpy(out.data(), h.data(), 32);
  secure_zero(h.data(), h.size());
  return out;
}

AesGmacSiv::AesGmacSiv(const SymmetricKey& k) : impl_(std::make_unique<Impl>()) {
  auto k0 = kbkdf(k, '0');
  auto k1 = kbkdf(k, '1');
  impl_->k0_enc = new_ctx(EVP_aes_256_ecb(), k0.data(), true);
  impl_->gcm = CRYPTO_gcm128_new(impl_->k0_enc, gcm_block);
  if (!impl_->gcm) fatal("CRYPTO_gcm128_new");
  impl_->ecb_enc = new_ctx(EVP_aes_256_ecb(), k1.data(), true);
  impl_->ecb_dec = new_ctx(EVP_aes_256_ecb(), k1.data(), false);
  secure_zero(k0.data(), k0.size());
  secure_zero(k1.data(), k1.size());
}

AesGmacSiv::~AesGmacSiv() = default;

std::array<uint8_t, 16> AesGmacSiv::gmac(const uint8_t iv[8], const uint8_t aad11[11],
                                         const uint8_t* data, size_t len) {
  std::array<uint8_t, 16> g;
  impl_->gmac(iv, aad11, data, len, g.data());
  return g;
}

void AesGmacSiv::encrypt(const uint8_t iv[8], const uint8_t aad11[11], uint8_t* payload, size_t len,
                         uint8_t tag_out[16]) {
  uint8_t g[16];
  impl_->gmac(iv, aad11, payload, len, g);
  uint8_t block[16];
  std::memcpy(block, iv, 8);
  for (int i = 0; i < 8; ++i) block[8 + i] = g[i] ^ g[8 + i];  // fold (step 4)
  ecb_blocks(impl_->ecb_enc, block, tag_out, 16);
  uint8_t cb[16];
  std::memcpy(cb, tag_out, 16);
  cb[12] &= 0x7f;
  ctr32_xor(impl_->ecb_enc, cb, payload, payload, len);
}

bool AesGmacSiv::decrypt(const uint8_t tag[16], const uint8_t aad11[11], uint8_t* payload, size_t len) {
  uint8_t iv[8];
  return decrypt(tag, aad11, payload, len, iv);
}

bool AesGmacSiv::decrypt(const uint8_t tag[16], const uint8_t aad11[11], uint8_t* payload, size_t len,
                         uint8_t iv_out[8]) {
  uint8_t cb[16];
  std::memcpy(cb, tag, 16);
  cb[12] &= 0x7f;
  ctr32_xor(impl_->ecb_enc, cb, payload, payload, len);
  uint8_t x[16];
  int outl = 0;
  if (EVP_DecryptUpdate(impl_->ecb_dec, x, &outl, tag, 16) != 1 || outl != 16) fatal("ECB decrypt");
  uint8_t g[16];
  std::memcpy(iv_out, x, 8);
  impl_->gmac(x, aad11, payload, len, g);  // x[0..7] = iv
  uint8_t m[8];
  for (int i = 0; i < 8; ++i) m[i] = g[i] ^ g[8 + i];
  return ct_equal(m, x + 8, 8);
}

void aes256_ctr32_xor(const uint8_t key[32], const uint8_t counter_block[16], const uint8_t* in,
                      uint8_t* out, size_t len) {
  EVP_CIPHER_CTX* ctx = new_ctx(EVP_aes_256_ecb(), key, true);
  ctr32_xor(ctx, counter_block, in, out, len);
  EVP_CIPHER_CTX_free(ctx);
}

}  // namespace zt::crypto
