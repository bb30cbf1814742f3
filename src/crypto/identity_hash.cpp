// The identity "memory-hard hash" (PROTOCOL.md §1.2) on libsodium's Salsa20/20.
//
// One continuous keystream (key d[0..31], nonce d[32..39]) is consumed one 64-byte block per
// step: blocks 0..32767 fill the 2 MiB buffer, blocks 32768..163839 encrypt the digest in
// the mixing loop. The keystream does not depend on the data it encrypts, so both phases
// draw it in large batches (libsodium's vectorised path) instead of 64 bytes per call.
#include <sodium.h>

#include <bit>
#include <cstring>
#include <memory>

#include "crypto/crypto.hpp"

namespace zt::crypto {
namespace {

constexpr size_t kMem = 2097152;               // §1.2 M
constexpr size_t kBlocks = kMem / 64;          // 32768 fill blocks
constexpr size_t kWords = kMem / 8;            // 262144 words
constexpr size_t kBatchBlocks = 256;           // loop keystream drawn 16 KiB at a time
constexpr size_t kBatchWords = kBatchBlocks * 8;

// Word arrays, written bytewise by libsodium (char access may alias any object) and read
// as raw 8-byte words. Plain indexing keeps unoptimised and sanitizer builds fast too: the
// hash runs in every identity test.
struct Scratch {
  uint64_t mem[kWords];
  uint64_t ks[kBatchWords];
};

Scratch& scratch() {
  // Reused per thread: validation runs often (every new peer) and 2 MiB per call would be
  // a large allocation each time.
  thread_local std::unique_ptr<Scratch> s;
  if (!s) s = std::make_unique<Scratch>();
  return *s;
}

// The big-endian value of a word's 8 raw bytes (§1.2 BE64).
inline uint64_t be64(uint64_t raw) {
  if constexpr (std::endian::native == std::endian::little) return __builtin_bswap64(raw);
  return raw;
}

}  // namespace

Sha512Digest identity_memory_hard_hash(const PublicKey& pub) {
  init();
  uint64_t d[8];
  auto* db = reinterpret_cast<unsigned char*>(d);
  crypto_hash_sha512(db, pub.data(), pub.size());
  uint8_t key[32], nonce[8];
  std::memcpy(key, db, 32);
  std::memcpy(nonce, db + 32, 8);

  Scratch& s = scratch();
  uint64_t* mem = s.mem;
  // Step 3: block i = block i-1 XOR keystream block i, i.e. a running XOR of the keystream
  // at a distance of one block (8 words).
  crypto_stream_salsa20(reinterpret_cast<unsigned char*>(mem), kMem, nonce, key);
  for (size_t i = 8; i < kWords; ++i) mem[i] ^= mem[i - 8];

  // Step 4: 131072 iterations, each swapping one buffer word with one digest word, then
  // encrypting the digest with the next keystream block.
  uint64_t counter = kBlocks;
  size_t avail = 0, used = 0;
  for (size_t i = 0; i < kWords; i += 2) {
    size_t idx1 = size_t(be64(mem[i]) % 8);
    size_t idx2 = size_t(be64(mem[i + 1]) % kWords);
    uint64_t tmp = mem[idx2];
    mem[idx2] = d[idx1];
    d[idx1] = tmp;
    if (used == avail) {
      auto* ks = reinterpret_cast<unsigned char*>(s.ks);
      std::memset(ks, 0, sizeof s.ks);
      crypto_stream_salsa20_xor_ic(ks, ks, sizeof s.ks, nonce, counter, key);
      counter += kBatchBlocks;
      avail = kBatchBlocks;
      used = 0;
    }
    const uint64_t* k = s.ks + 8 * used++;
    for (int j = 0; j < 8; ++j) d[j] ^= k[j];
  }
  Sha512Digest out;
  std::memcpy(out.data(), d, 64);
  sodium_memzero(key, sizeof key);
  return out;
}

}  // namespace zt::crypto
