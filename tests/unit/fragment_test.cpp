// Fragmentation and reassembly tests (PROTOCOL.md §2.3).
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "base/hex.hpp"
#include "proto/fragment.hpp"
#include "proto/packet.hpp"

using namespace zt;
using namespace zt::proto;

namespace {

// A 48-byte key for synthetic packets (the capture tests use the real ones).
PeerKey& test_key() {
  static PeerKey k = [] {
    crypto::SymmetricKey s;
    for (size_t i = 0; i < s.size(); ++i) s[i] = uint8_t(0xa5 ^ (i * 13));
    return PeerKey(s);
  }();
  return k;
}

Bytes plain_packet(size_t n, uint64_t id = 0x1122334455667788ull) {
  Writer w;
  begin_packet(w, id, 0xeb8cb7d1c8ull, 0x8fec3e8ae4ull, Verb::Frame);
  for (size_t i = kHeaderSize; i < n; ++i) w.u8(uint8_t(i ^ (i >> 8)));
  return w.take();
}

// Armored packet of n bytes, fragmented flag set as needed for mtu.
Bytes armored_packet(size_t n, size_t mtu, uint64_t id = 0x1122334455667788ull,
                     Cipher c = Cipher::AesGmacSiv) {
  Bytes b = plain_packet(n, id);
  EXPECT_GT(mark_fragmentation(b, mtu), 0u);
  EXPECT_TRUE(armor(b, test_key(), c));
  return b;
}

std::vector<Bytes> split(const Bytes& armored, size_t mtu) {
  std::vector<Bytes> out;
  for_each_fragment(armored, mtu, [&](ByteSpan d) { out.emplace_back(d.begin(), d.end()); });
  return out;
}

Bytes fragment_bytes(uint64_t id, unsigned total, unsigned number, size_t payload_len,
                     uint8_t fill = 0x5a) {
  Bytes f(kFragmentHeaderSize + payload_len, fill);
  store_be64(f.data(), id);
  store_be(f.data() + 8, 0xeb8cb7d1c8ull, 5);
  f[13] = 0xff;
  f[14] = uint8_t((total << 4) | number);
  f[15] = 0;
  return f;
}

}  // namespace

TEST(Fragment, CountAndLimits) {
  EXPECT_EQ(fragment_count(28, 1432), 1u);
  EXPECT_EQ(fragment_count(1432, 1432), 1u);
  EXPECT_EQ(fragment_count(1433, 1432), 2u);
  EXPECT_EQ(fragment_count(1432 + 1416, 1432), 2u);
  EXPECT_EQ(fragment_count(1432 + 1417, 1432), 3u);
  EXPECT_EQ(fragment_count(4000, 1432), 3u);
  EXPECT_EQ(fragment_count(2086, 1432), 2u);  // the captured sizes
  EXPECT_EQ(fragment_count(2566, 1432), 2u);
  EXPECT_EQ(fragment_count(1432 + 6 * 1416, 1432), 7u);  // 9928: the most that fits
  EXPECT_EQ(fragment_count(1432 + 6 * 1416 + 1, 1432), 0u);
  EXPECT_EQ(fragment_count(kMaxPacketSize, 1432), 0u);
  EXPECT_EQ(fragment_count(kMaxPacketSize, 1500), 7u);
  EXPECT_EQ(fragment_count(kMaxPacketSize + 1, 20000), 0u);
  EXPECT_EQ(fragment_count(27, 1432), 0u);
  EXPECT_EQ(fragment_count(100, 27), 0u);
  EXPECT_EQ(fragment_count(100, 28), 7u);  // 1 + ceil(72 / 12)
  EXPECT_EQ(fragment_count(101, 28), 0u);  // 8 pieces
}

TEST(Fragment, MarkFragmentationSetsAndClearsFlag) {
  Bytes b = plain_packet(2000);
  EXPECT_EQ(mark_fragmentation(b, 1432), 2u);
  EXPECT_TRUE(PacketView(b).fragmented());
  EXPECT_EQ(mark_fragmentation(b, 2800), 1u);
  EXPECT_FALSE(PacketView(b).fragmented());
  Bytes big = plain_packet(kMaxPacketSize);
  EXPECT_EQ(mark_fragmentation(big, 1432), 0u);
  EXPECT_FALSE(PacketView(big).fragmented());
}

// §14 item 10: a 4,000-byte packet at MTU 1432 -> head + 2 fragments with exact headers.
TEST(Fragment, FourThousandBytesAtDefaultMtu) {
  const Bytes a = armored_packet(4000, kDefaultPhysMtu);
  ASSERT_TRUE(PacketView(a).fragmented());
  const auto pieces = split(a, kDefaultPhysMtu);
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces[0], Bytes(a.begin(), a.begin() + 1432));
  ASSERT_EQ(pieces[1].size(), 1432u);
  ASSERT_EQ(pieces[2].size(), 16u + (4000 - 1432 - 1416));
  for (unsigned i = 1; i <= 2; ++i) {
    const Bytes& f = pieces[i];
    EXPECT_EQ(to_hex(ByteSpan(f).first(13)), to_hex(ByteSpan(a).first(13)));  // ID + dest
    EXPECT_EQ(f[13], 0xff);
    EXPECT_EQ(f[14], 0x30 | i);
    EXPECT_EQ(f[15], 0x00);
    FragmentView v(f);
    EXPECT_TRUE(v.valid());
    EXPECT_EQ(v.total(), 3u);
    EXPECT_EQ(v.number(), i);
    EXPECT_EQ(v.packet_id(), PacketView(a).packet_id());
    EXPECT_EQ(v.dest(), 0xeb8cb7d1c8ull);
    EXPECT_EQ(classify(f), DatagramKind::Fragment);
  }
  EXPECT_EQ(Bytes(pieces[1].begin() + 16, pieces[1].end()), Bytes(a.begin() + 1432, a.begin() + 2848));
  EXPECT_EQ(Bytes(pieces[2].begin() + 16, pieces[2].end()), Bytes(a.begin() + 2848, a.end()));

  // write_fragment argument checks.
  Bytes out(2000);
  EXPECT_EQ(write_fragment(a, 1432, 0, out), 0u);
  EXPECT_EQ(write_fragment(a, 1432, 3, out), 0u);
  EXPECT_EQ(write_fragment(a, 1432, 1, MutByteSpan(out).first(1431)), 0u);
  EXPECT_EQ(write_fragment(a, 1432, 2, MutByteSpan(out).first(1168)), 1168u);
  EXPECT_EQ(write_fragment(ByteSpan(a).first(1000), 1432, 1, out), 0u);
}

TEST(Fragment, ReassemblesInEveryOrderAndDearmors) {
  const Bytes a = armored_packet(4000, kDefaultPhysMtu);
  const auto pieces = split(a, kDefaultPhysMtu);
  std::vector<size_t> order(pieces.size());
  std::iota(order.begin(), order.end(), 0);
  int perms = 0;
  do {
    Defragmenter d;
    ByteSpan done;
    for (size_t k = 0; k < order.size(); ++k) {
      done = d.add(pieces[order[k]], 1000 + int64_t(k));
      if (k + 1 < order.size()) {
        EXPECT_TRUE(done.empty());
      }
    }
    ASSERT_EQ(Bytes(done.begin(), done.end()), a);
    EXPECT_EQ(d.pending(), 0u);
    Bytes p(done.begin(), done.end());
    EXPECT_TRUE(dearmor(p, test_key()));
    const Bytes plain = plain_packet(4000);
    EXPECT_EQ(Bytes(p.begin() + kOffVerb, p.end()), Bytes(plain.begin() + kOffVerb, plain.end()));
    ++perms;
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_EQ(perms, 6);
}

TEST(Fragment, SevenPiecesAllOrdersSample) {
  const size_t mtu = 1500;
  const Bytes a = armored_packet(kMaxPacketSize, mtu, 77, Cipher::Salsa2012);
  const auto pieces = split(a, mtu);
  ASSERT_EQ(pieces.size(), 7u);
  std::vector<size_t> order(7);
  std::iota(order.begin(), order.end(), 0);
  int n = 0;
  do {
    if (n++ % 97) continue;  // a spread sample of the 5,040 orders
    Defragmenter d;
    ByteSpan done;
    for (size_t k : order) done = d.add(pieces[k], 0);
    ASSERT_EQ(Bytes(done.begin(), done.end()), a);
  } while (std::next_permutation(order.begin(), order.end()));
}

TEST(Fragment, UnfragmentedHeadPassesThrough) {
  Defragmenter d;
  const Bytes a = armored_packet(500, kDefaultPhysMtu);
  ASSERT_FALSE(PacketView(a).fragmented());
  ByteSpan out = d.add(a, 0);
  EXPECT_EQ(out.data(), a.data());
  EXPECT_EQ(out.size(), a.size());
  EXPECT_EQ(d.pending(), 0u);
  EXPECT_TRUE(d.add_head(a, 0).empty());  // add_head wants the fragmented flag
  EXPECT_TRUE(d.add(Bytes(4, 0), 0).empty());
  EXPECT_TRUE(d.add(Bytes(13, 0), 0).empty());
}

TEST(Fragment, DuplicatesIgnoredAndCompletesOnce) {
  const Bytes a = armored_packet(3000, kDefaultPhysMtu);
  const auto pieces = split(a, kDefaultPhysMtu);
  ASSERT_EQ(pieces.size(), 3u);
  Defragmenter d;
  EXPECT_TRUE(d.add(pieces[1], 0).empty());
  EXPECT_TRUE(d.add(pieces[1], 1).empty());
  EXPECT_TRUE(d.add(pieces[0], 2).empty());
  EXPECT_TRUE(d.add(pieces[0], 3).empty());
  EXPECT_EQ(d.pending(), 1u);
  ByteSpan done = d.add(pieces[2], 4);
  EXPECT_EQ(Bytes(done.begin(), done.end()), a);
  EXPECT_EQ(d.pending(), 0u);
  // A late duplicate starts a new entry that never completes by itself and then expires.
  EXPECT_TRUE(d.add(pieces[2], 5).empty());
  EXPECT_EQ(d.pending(), 1u);
  d.expire(5 + Defragmenter::kTimeoutMs);
  EXPECT_EQ(d.pending(), 0u);
}

TEST(Fragment, Timeout) {
  const Bytes a = armored_packet(3000, kDefaultPhysMtu);
  const auto pieces = split(a, kDefaultPhysMtu);
  {
    Defragmenter d;
    EXPECT_EQ(d.next_deadline(), INT64_MAX);
    EXPECT_TRUE(d.add(pieces[0], 10000).empty());
    EXPECT_EQ(d.next_deadline(), 15000);
    EXPECT_TRUE(d.add(pieces[1], 14999).empty());
    EXPECT_FALSE(d.add(pieces[2], 14999).empty());  // just in time
  }
  {
    Defragmenter d;
    EXPECT_TRUE(d.add(pieces[0], 10000).empty());
    EXPECT_TRUE(d.add(pieces[1], 12000).empty());
    EXPECT_TRUE(d.add(pieces[2], 15000).empty());  // too late: entry expired first
    EXPECT_EQ(d.pending(), 1u);                     // (the late piece starts a new one)
  }
  {
    Defragmenter d;  // time going backwards does not expire anything or overflow
    EXPECT_TRUE(d.add(pieces[0], INT64_MAX).empty());
    EXPECT_EQ(d.next_deadline(), INT64_MAX);
    EXPECT_TRUE(d.add(pieces[1], INT64_MIN).empty());
    EXPECT_FALSE(d.add(pieces[2], 0).empty());
  }
}

TEST(Fragment, EvictsOldestWhenFull) {
  Defragmenter d(4);
  EXPECT_EQ(d.capacity(), 4u);
  std::vector<std::vector<Bytes>> all;
  for (uint64_t id = 1; id <= 5; ++id) {
    all.push_back(split(armored_packet(2000, kDefaultPhysMtu, id), kDefaultPhysMtu));
    EXPECT_TRUE(d.add(all.back()[0], int64_t(id)).empty());
    EXPECT_EQ(d.pending(), std::min<size_t>(id, 4));
  }
  // Packet 1 (the oldest) was evicted by packet 5; the others complete.
  EXPECT_FALSE(d.add(all[1][1], 11).empty());
  EXPECT_FALSE(d.add(all[2][1], 12).empty());
  EXPECT_FALSE(d.add(all[3][1], 13).empty());
  EXPECT_FALSE(d.add(all[4][1], 14).empty());
  EXPECT_TRUE(d.add(all[0][1], 15).empty());
  EXPECT_EQ(d.pending(), 1u);  // the orphan fragment, waiting for a head that is gone
  Defragmenter def;
  EXPECT_EQ(def.capacity(), 32u);
}

TEST(Fragment, BadCountsRejected) {
  Defragmenter d;
  struct Case {
    unsigned total, number;
  } bad[] = {{0, 0}, {0, 1}, {1, 0}, {1, 1}, {2, 0}, {2, 2}, {3, 5}, {8, 1}, {15, 14}, {7, 7}};
  for (auto c : bad) {
    const Bytes f = fragment_bytes(9, c.total, c.number, 100);
    EXPECT_FALSE(FragmentView(f).valid()) << c.total << "/" << c.number;
    EXPECT_TRUE(d.add(f, 0).empty());
    EXPECT_TRUE(d.add_fragment(f, 0).empty());
  }
  EXPECT_EQ(d.pending(), 0u);
  EXPECT_TRUE(FragmentView(fragment_bytes(9, 7, 6, 1)).valid());
  EXPECT_TRUE(FragmentView(fragment_bytes(9, 2, 1, 1)).valid());
  EXPECT_FALSE(FragmentView(fragment_bytes(9, 2, 1, 0)).valid());  // no payload
  Bytes wrong = fragment_bytes(9, 2, 1, 10);
  wrong[13] = 0xfe;
  EXPECT_FALSE(FragmentView(wrong).valid());
  EXPECT_TRUE(d.add_fragment(wrong, 0).empty());
  EXPECT_EQ(FragmentView(Bytes(5, 0)).total(), 0u);
  EXPECT_EQ(FragmentView(Bytes(5, 0)).packet_id(), 0u);
}

TEST(Fragment, DisagreeingTotalIgnored) {
  const Bytes a = armored_packet(3000, kDefaultPhysMtu);
  const auto pieces = split(a, kDefaultPhysMtu);  // total 3
  const uint64_t id = PacketView(a).packet_id();
  Defragmenter d;
  EXPECT_TRUE(d.add(pieces[1], 0).empty());
  EXPECT_TRUE(d.add(fragment_bytes(id, 2, 1, 50), 0).empty());  // claims total 2
  EXPECT_TRUE(d.add(pieces[0], 0).empty());                      // not complete with total 2
  ByteSpan done = d.add(pieces[2], 0);
  EXPECT_EQ(Bytes(done.begin(), done.end()), a);
}

TEST(Fragment, OversizeReassemblyDropped) {
  Defragmenter d;
  const uint64_t id = 0xabcdef;
  Bytes head(kMaxPacketSize - 100, 0);
  ASSERT_TRUE(write_header(head, id, 1, 2, Verb::Frame));
  MutPacketView(head).set_fragmented(true);
  EXPECT_TRUE(d.add(head, 0).empty());
  EXPECT_EQ(d.pending(), 1u);
  EXPECT_TRUE(d.add(fragment_bytes(id, 2, 1, 101), 0).empty());  // 10,025 bytes total
  EXPECT_EQ(d.pending(), 0u);
  // Exactly kMaxPacketSize is fine.
  EXPECT_TRUE(d.add(head, 0).empty());
  ByteSpan done = d.add(fragment_bytes(id, 2, 1, 100), 0);
  EXPECT_EQ(done.size(), kMaxPacketSize);
  // Pieces of maximum size from hostile senders never overflow the arena.
  for (unsigned i = 1; i < 7; ++i)
    EXPECT_TRUE(d.add(fragment_bytes(id + 1, 7, i, kMaxPacketSize - 16), 0).empty());
  // Each odd piece fits alone, each even one overflows and drops the entry.
  EXPECT_EQ(d.pending(), 0u);
}
