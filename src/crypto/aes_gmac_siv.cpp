// AES-GMAC-SIV (PROTOCOL.md §2.6) on OpenSSL EVP, with the KBKDF of §1.5.
//
// Hot path: every EVP context is created and keyed once per instance; a call only resets
// the IV/counter (EVP_EncryptInit_ex with null cipher and key), so nothing is allocated
// per packet.
#include <openssl/evp.h>

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

// EVP lengths are int; packets are far below that, but feed in chunks to be total.
constexpr size_t kChunk = size_t(1) << 30;

void aad_update(EVP_CIPHER_CTX* gcm, const uint8_t* p, size_t n) {
  while (n) {
    size_t c = n < kChunk ? n : kChunk;
    int outl = 0;
    if (EVP_EncryptUpdate(gcm, nullptr, &outl, p, int(c)) != 1) fatal("GMAC update");
    p += c;
    n -= c;
  }
}

void stream_update(EVP_CIPHER_CTX* ctr, const uint8_t* in, uint8_t* out, size_t n) {
  while (n) {
    size_t c = n < kChunk ? n : kChunk;  // multiple of 16, so no partial-block state carries
    int outl = 0;
    if (EVP_EncryptUpdate(ctr, out, &outl, in, int(c)) != 1 || size_t(outl) != c) fatal("CTR update");
    in += c;
    out += c;
    n -= c;
  }
}

// §2.6 step 6: the counter is the 32-bit big-endian integer in bytes 12..15 only. OpenSSL's
// CTR increments all 128 bits, so a run that would pass 0xffffffff is split at the wrap
// and restarted with bytes 12..15 = 0 (bytes 0..11 unchanged). With the sender's
// `T[12] &= 0x7f` the wrap cannot happen for any real packet, but a received tag is
// attacker-chosen on the decrypt side only up to that same mask, so this is defensive.
void ctr32_xor(EVP_CIPHER_CTX* ctx, const uint8_t counter_block[16], const uint8_t* in, uint8_t* out,
               size_t len) {
  uint8_t cb[16];
  std::memcpy(cb, counter_block, 16);
  while (len) {
    if (EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, cb) != 1) fatal("CTR init");
    uint32_t low = (uint32_t(cb[12]) << 24) | (uint32_t(cb[13]) << 16) | (uint32_t(cb[14]) << 8) | cb[15];
    uint64_t blocks_to_wrap = (uint64_t(1) << 32) - low;  // blocks until low32 returns to 0
    uint64_t bytes_to_wrap = blocks_to_wrap * 16;
    size_t n = (uint64_t(len) <= bytes_to_wrap) ? len : size_t(bytes_to_wrap);
    stream_update(ctx, in, out, n);
    in += n;
    out += n;
    len -= n;
    std::memset(cb + 12, 0, 4);
  }
}

}  // namespace

struct AesGmacSiv::Impl {
  EVP_CIPHER_CTX* gcm = nullptr;      // AES-256-GCM under K0, used as GMAC (AAD only)
  EVP_CIPHER_CTX* ecb_enc = nullptr;  // AES-256-ECB encrypt under K1
  EVP_CIPHER_CTX* ecb_dec = nullptr;  // AES-256-ECB decrypt under K1
  EVP_CIPHER_CTX* ctr = nullptr;      // AES-256-CTR under K1

  ~Impl() {
    EVP_CIPHER_CTX_free(gcm);
    EVP_CIPHER_CTX_free(ecb_enc);
    EVP_CIPHER_CTX_free(ecb_dec);
    EVP_CIPHER_CTX_free(ctr);
  }

  // G = GMAC_K0(nonce iv ‖ 0^32, aad11 ‖ 0^5 ‖ data) (§2.6 step 3).
  void gmac(const uint8_t iv[8], const uint8_t aad11[11], const uint8_t* data, size_t len,
            uint8_t g[16]) {
    uint8_t nonce[12] = {};
    std::memcpy(nonce, iv, 8);
    if (EVP_EncryptInit_ex(gcm, nullptr, nullptr, nullptr, nonce) != 1) fatal("GMAC init");
    uint8_t a[16] = {};
    std::memcpy(a, aad11, 11);
    a[10] &= 0xf8;  // hops never authenticated (§2.1)
    aad_update(gcm, a, 16);
    if (len) aad_update(gcm, data, len);
    uint8_t dummy[16];
    int outl = 0;
    if (EVP_EncryptFinal_ex(gcm, dummy, &outl) != 1) fatal("GMAC final");
    if (EVP_CIPHER_CTX_ctrl(gcm, EVP_CTRL_GCM_GET_TAG, 16, g) != 1) fatal("GMAC tag");
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
  impl_->gcm = new_ctx(EVP_aes_256_gcm(), k0.data(), true);
  impl_->ecb_enc = new_ctx(EVP_aes_256_ecb(), k1.data(), true);
  impl_->ecb_dec = new_ctx(EVP_aes_256_ecb(), k1.data(), false);
  impl_->ctr = new_ctx(EVP_aes_256_ctr(), k1.data(), true);
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
  int outl = 0;
  if (EVP_EncryptUpdate(impl_->ecb_enc, tag_out, &outl, block, 16) != 1 || outl != 16)
    fatal("ECB encrypt");
  uint8_t cb[16];
  std::memcpy(cb, tag_out, 16);
  cb[12] &= 0x7f;
  ctr32_xor(impl_->ctr, cb, payload, payload, len);
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
  ctr32_xor(impl_->ctr, cb, payload, payload, len);
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
  EVP_CIPHER_CTX* ctx = new_ctx(EVP_aes_256_ctr(), key, true);
  ctr32_xor(ctx, counter_block, in, out, len);
  EVP_CIPHER_CTX_free(ctx);
}

}  // namespace zt::crypto
