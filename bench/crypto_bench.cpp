// Crypto hot paths (PROTOCOL.md §2.5, §2.6) and identity costs (§1.2).
// Packet-sized work is 1400 bytes, the payload of a full-MTU packet; throughput is reported
// as bytes/s via SetBytesProcessed.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "crypto/crypto.hpp"
#include "proto/identity.hpp"

using namespace zt;

namespace {

constexpr size_t kPacket = 1400;

struct Buf {
  std::vector<uint8_t> data = std::vector<uint8_t>(kPacket);
  Buf() {
    for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i * 7 + 1);
  }
};

crypto::SymmetricKey fixed_key() {
  crypto::SymmetricKey k;
  for (size_t i = 0; i < k.size(); ++i) k[i] = uint8_t(i + 1);
  return k;
}

// Raw Salsa20/12 XOR of 1400 bytes (keystream from block 1, as §2.5 uses it).
void BM_Salsa2012Xor(benchmark::State& st) {
  Buf b;
  uint8_t key[32] = {1, 2, 3}, nonce[8] = {4, 5, 6};
  for (auto _ : st) {
    crypto::salsa20_xor(key, nonce, 1, 12, b.data.data(), b.data.data(), b.data.size());
    benchmark::DoNotOptimize(b.data.data());
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(kPacket));
}
BENCHMARK(BM_Salsa2012Xor);

void BM_Poly1305(benchmark::State& st) {
  Buf b;
  uint8_t key[32] = {9, 8, 7};
  for (auto _ : st) {
    auto t = crypto::poly1305(key, b.data);
    benchmark::DoNotOptimize(t);
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(kPacket));
}
BENCHMARK(BM_Poly1305);

// The cipher-1 primitive cost of one 1400-byte packet: Poly1305 key block, Salsa20/12 XOR,
// Poly1305 over the ciphertext.
void BM_Salsa2012Poly1305(benchmark::State& st) {
  Buf b;
  uint8_t key[32] = {1, 2, 3}, nonce[8] = {4, 5, 6};
  for (auto _ : st) {
    uint8_t block0[64] = {};
    crypto::salsa20_xor(key, nonce, 0, 12, block0, block0, 64);
    crypto::salsa20_xor(key, nonce, 1, 12, b.data.data(), b.data.data(), b.data.size());
    auto t = crypto::poly1305(block0, b.data);
    benchmark::DoNotOptimize(t);
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(kPacket));
}
BENCHMARK(BM_Salsa2012Poly1305);

void BM_Salsa20Xor20Rounds(benchmark::State& st) {
  Buf b;
  uint8_t key[32] = {1, 2, 3}, nonce[8] = {4, 5, 6};
  for (auto _ : st) {
    crypto::salsa20_xor(key, nonce, 1, 20, b.data.data(), b.data.data(), b.data.size());
    benchmark::DoNotOptimize(b.data.data());
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(kPacket));
}
BENCHMARK(BM_Salsa20Xor20Rounds);

void BM_AesGmacSivEncrypt(benchmark::State& st) {
  Buf b;
  crypto::AesGmacSiv siv(fixed_key());
  const uint8_t iv[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  const uint8_t aad[11] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0x18};
  uint8_t tag[16];
  for (auto _ : st) {
    siv.encrypt(iv, aad, b.data.data(), b.data.size(), tag);
    benchmark::DoNotOptimize(tag);
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(kPacket));
}
BENCHMARK(BM_AesGmacSivEncrypt);

void BM_AesGmacSivDecrypt(benchmark::State& st) {
  crypto::AesGmacSiv siv(fixed_key());
  const uint8_t iv[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  const uint8_t aad[11] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0x18};
  Buf plain;
  std::vector<uint8_t> ct = plain.data;
  uint8_t tag[16];
  siv.encrypt(iv, aad, ct.data(), ct.size(), tag);
  std::vector<uint8_t> work(ct.size());
  for (auto _ : st) {
    std::memcpy(work.data(), ct.data(), ct.size());  // decrypt is in place; restore input
    bool ok = siv.decrypt(tag, aad, work.data(), work.size());
    if (!ok) st.SkipWithError("authentication failed");
    benchmark::DoNotOptimize(ok);
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(kPacket));
}
BENCHMARK(BM_AesGmacSivDecrypt);

// Per-peer setup: KBKDF x2 and four keyed EVP contexts.
void BM_AesGmacSivSetup(benchmark::State& st) {
  auto k = fixed_key();
  for (auto _ : st) {
    crypto::AesGmacSiv siv(k);
    benchmark::DoNotOptimize(&siv);
  }
}
BENCHMARK(BM_AesGmacSivSetup);

// A fresh identity from the OS random source (proto takes randomness injected).
proto::Identity new_identity() {
  return proto::Identity::generate([](uint8_t* p, size_t n) { crypto::random_bytes(p, n); });
}

void BM_Agree(benchmark::State& st) {
  auto a = new_identity();
  auto b = new_identity();
  for (auto _ : st) {
    auto k = a.agree(b);
    benchmark::DoNotOptimize(k.data());
  }
}
BENCHMARK(BM_Agree);

void BM_Sign(benchmark::State& st) {
  auto a = new_identity();
  Buf b;
  for (auto _ : st) {
    auto s = a.sign(b.data);
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_Sign);

void BM_Verify(benchmark::State& st) {
  auto a = new_identity();
  Buf b;
  auto s = a.sign(b.data);
  for (auto _ : st) {
    bool ok = a.verify(b.data, s);
    benchmark::DoNotOptimize(ok);
  }
}
BENCHMARK(BM_Verify);

// §1.2: one memory-hard hash, i.e. the cost of validating a peer's identity.
void BM_IdentityValidate(benchmark::State& st) {
  auto id = proto::Identity::parse(new_identity().to_string(false));
  if (!id.ok()) {
    st.SkipWithError("parse failed");
    return;
  }
  for (auto _ : st) {
    bool ok = id->validate();
    if (!ok) st.SkipWithError("invalid");
    benchmark::DoNotOptimize(ok);
  }
}
BENCHMARK(BM_IdentityValidate)->Unit(benchmark::kMillisecond);

// Expected ~15 memory-hard hashes per identity (d[0] < 17 has probability 17/256); the
// variance is large, so run enough iterations for a stable mean.
void BM_IdentityGenerate(benchmark::State& st) {
  for (auto _ : st) {
    auto id = new_identity();
    benchmark::DoNotOptimize(id.address());
  }
}
BENCHMARK(BM_IdentityGenerate)->Unit(benchmark::kMillisecond)->Iterations(40);

}  // namespace
