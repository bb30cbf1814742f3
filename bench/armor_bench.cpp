// Packet armor/dearmor throughput vs the raw primitives underneath, in the same run
// (PROTOCOL.md §2.5, §2.6). Target: armor+dearmor >= 90% of the raw primitive throughput.
//
//   BM_Raw_Salsa2012Poly1305  one pass of the cipher-1 work: Salsa20/12 XOR + Poly1305 over
//                             1,400 bytes, once to send and once to receive
//   BM_ArmorDearmor_Salsa2012 armor() + dearmor() of a 1,400-byte packet, cipher 1
//   BM_Raw_AesGmacSiv         AesGmacSiv::encrypt + decrypt of the 1,372 bytes after the header
//   BM_ArmorDearmor_AesGmacSiv armor() + dearmor() of a 1,400-byte packet, cipher 3
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "crypto/crypto.hpp"
#include "proto/packet.hpp"

using namespace zt;
using namespace zt::proto;

namespace {

constexpr size_t kPacket = 1400;

crypto::SymmetricKey bench_key() {
  crypto::SymmetricKey k;
  for (size_t i = 0; i < k.size(); ++i) k[i] = uint8_t(i * 31 + 1);
  return k;
}

std::vector<uint8_t> bench_packet() {
  std::vector<uint8_t> b(kPacket);
  write_header(b, 0x0102030405060708ull, 0xeb8cb7d1c8ull, 0x8fec3e8ae4ull, Verb::Frame);
  for (size_t i = kHeaderSize; i < b.size(); ++i) b[i] = uint8_t(i);
  return b;
}

// Raw cipher-1 work for one packet in each direction: keystream XOR over the encrypted
// part and a Poly1305 over it, with a fixed key/nonce (no mangling, no header handling).
void BM_Raw_Salsa2012Poly1305(benchmark::State& st) {
  const auto k = bench_key();
  auto b = bench_packet();
  const uint8_t nonce[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  uint8_t mac_key[32] = {9};
  for (auto _ : st) {
    // send
    crypto::salsa20_xor(k.data(), nonce, 1, 12, b.data() + kOffVerb, b.data() + kOffVerb, kPacket - kOffVerb);
    auto t1 = crypto::poly1305(mac_key, ByteSpan(b.data() + kOffVerb, kPacket - kOffVerb));
    // receive
    auto t2 = crypto::poly1305(mac_key, ByteSpan(b.data() + kOffVerb, kPacket - kOffVerb));
    crypto::salsa20_xor(k.data(), nonce, 1, 12, b.data() + kOffVerb, b.data() + kOffVerb, kPacket - kOffVerb);
    benchmark::DoNotOptimize(t1);
    benchmark::DoNotOptimize(t2);
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(kPacket));
}
BENCHMARK(BM_Raw_Salsa2012Poly1305);

void BM_ArmorDearmor_Salsa2012(benchmark::State& st) {
  PeerKey key(bench_key());
  const auto plain = bench_packet();
  auto b = plain;
  for (auto _ : st) {
    std::memcpy(b.data(), plain.data(), kHeaderSize);  // fresh header, as a sender would have
    if (!armor(b, key, Cipher::Salsa2012)) st.SkipWithError("armor failed");
    if (!dearmor(b, key)) st.SkipWithError("dearmor failed");
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(kPacket));
}
BENCHMARK(BM_ArmorDearmor_Salsa2012);

void BM_Raw_AesGmacSiv(benchmark::State& st) {
  crypto::AesGmacSiv aes(bench_key());
  auto b = bench_packet();
  const uint8_t iv[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  uint8_t aad[11] = {};
  std::memcpy(aad, b.data() + kOffDest, 11);
  uint8_t tag[16];
  for (auto _ : st) {
    aes.encrypt(iv, aad, b.data() + kOffVerb, kPacket - kOffVerb, tag);
    if (!aes.decrypt(tag, aad, b.data() + kOffVerb, kPacket - kOffVerb)) st.SkipWithError("auth");
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(kPacket));
}
BENCHMARK(BM_Raw_AesGmacSiv);

void BM_ArmorDearmor_AesGmacSiv(benchmark::State& st) {
  PeerKey key(bench_key());
  const auto plain = bench_packet();
  auto b = plain;
  for (auto _ : st) {
    std::memcpy(b.data(), plain.data(), kHeaderSize);
    if (!armor(b, key, Cipher::AesGmacSiv)) st.SkipWithError("armor failed");
    if (!dearmor(b, key)) st.SkipWithError("dearmor failed");
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(kPacket));
}
BENCHMARK(BM_ArmorDearmor_AesGmacSiv);

// For reference: cipher 0 (MAC only) and the one-sided costs.
void BM_ArmorDearmor_None(benchmark::State& st) {
  PeerKey key(bench_key());
  const auto plain = bench_packet();
  auto b = plain;
  for (auto _ : st) {
    std::memcpy(b.data(), plain.data(), kHeaderSize);
    if (!armor(b, key, Cipher::None)) st.SkipWithError("armor failed");
    if (!dearmor(b, key)) st.SkipWithError("dearmor failed");
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(kPacket));
}
BENCHMARK(BM_ArmorDearmor_None);

}  // namespace
