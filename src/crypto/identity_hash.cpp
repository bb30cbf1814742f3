// The identity "memory-hard hash" (PROTOCOL.md §1.2) on libsodium's Salsa20/20.
//
// One continuous keystream (key d[0..31], nonce d[32..39]) is consumed one 64-byte block per
// step: blocks 0..32767 fill the 2 MiB buffer, blocks 32768..163839 encrypt the digest in
// the mixing loop. The keystream does not depend on the data it encrypts, so both phases
// draw it in large batches (libsodium's vectorised path) instead of 64 bytes per call.
#include <sodium.h>

#include <cstring>
#include <memory>

#include "crypto/crypto.hpp"

namespace zt::crypto {
namespace {

constexpr size_t kMem = 2097152;               // §1.2 M
constexpr size_t kBlocks = kMem / 64;          // 32768 fill blocks
constexpr size_t kWords = kMem / 8;            // 262144 words
constexpr size_t kBatchBlocks = 256;           // loop keystream drawn 16 KiB at a time
constexpr size_t kBatch = kBatchBlocks * 64;

struct Scratch {
  uint8_t mem[kMem];
  uint8_t ks[kBatch];
};

Scratch& scratch() {
  // Reused per thread: validation runs often (every new peer) and 2 MiB per call would be
  // a large allocation each time.
  thread_local std::unique_ptr<Scratch> s;
  if (!s) s = std::make_unique<Scratch>();
  return *s;
}

inline uint64_t be64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

Sha512Digest identity_memory_hard_hash(const PublicKey& pub) {
  init();
  Sha512Digest d;
  crypto_hash_sha512(d.data(), pub.data(), pub.size());
  uint8_t key[32], nonce[8];
  std::memcpy(key, d.data(), 32);
  std::memcpy(nonce, d.data() + 32, 8);

  Scratch& s = scratch();
  uint8_t* mem = s.mem;
  // Step 3: block i = block i-1 XOR keystream block i, i.e. a running XOR of the keystream.
  crypto_stream_salsa20(mem, kMem, nonce, key);
  for (size_t i = 64; i < kMem; i += 8) {
    uint64_t cur, prev;
    std::memcpy(&cur, mem + i, 8);
    std::memcpy(&prev, mem + i - 64, 8);
    cur ^= prev;
    std::memcpy(mem + i, &cur, 8);
  }

  // Step 4: 131072 iterations, each swapping one buffer word with one digest word, then
  // encrypting the digest with the next keystream block.
  uint64_t counter = kBlocks;
  size_t avail = 0, used = 0;
  for (size_t i = 0; i < kWords; i += 2) {
    size_t idx1 = size_t(be64(mem + 8 * i) % 8);
    size_t idx2 = size_t(be64(mem + 8 * (i + 1)) % kWords);
    uint8_t tmp[8];
    std::memcpy(tmp, mem + 8 * idx2, 8);
    std::memcpy(mem + 8 * idx2, d.data() + 8 * idx1, 8);
    std::memcpy(d.data() + 8 * idx1, tmp, 8);
    if (used == avail) {
      std::memset(s.ks, 0, kBatch);
      crypto_stream_salsa20_xor_ic(s.ks, s.ks, kBatch, nonce, counter, key);
      counter += kBatchBlocks;
      avail = kBatchBlocks;
      used = 0;
    }
    const uint8_t* k = s.ks + 64 * used++;
    for (int j = 0; j < 64; ++j) d[size_t(j)] ^= k[j];
  }
  sodium_memzero(key, sizeof key);
  return d;
}

}  // namespace zt::crypto
