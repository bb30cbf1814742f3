// Fragmentation and reassembly (PROTOCOL.md §2.3).
//
// Send: before armor, mark_fragmentation(packet, mtu) sets the fragmented flag when needed (the
// flag is authenticated, so it must be final before armor). After armor, the head is
// packet.first(mtu) and fragments 1..n-1 are written by write_fragment() into a caller buffer,
// or all pieces are produced by for_each_fragment().
//
// Receive: a Defragmenter (sans-IO, time passed in) collects heads and fragments in any order
// and hands back each complete packet exactly once. Bounded memory, hostile-input safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/bytes.hpp"
#include "proto/packet.hpp"

namespace zt::proto {

// ---- Fragment datagram view ------------------------------------------------------------------
// Accessors over a fragment datagram; valid() checks the indicator, the length and the counts
// (1 <= number < total <= kMaxFragments). Accessors return 0 / empty on short buffers.
class FragmentView {
 public:
  explicit FragmentView(ByteSpan b) : b_(b) {}
  bool valid() const;
  uint64_t packet_id() const { return b_.size() >= 8 ? load_be64(b_.data()) : 0; }
  Address dest() const { return b_.size() >= 13 ? load_be(b_.data() + kOffDest, 5) : 0; }
  unsigned total() const { return b_.size() > kFragOffCounts ? b_[kFragOffCounts] >> 4 : 0; }
  unsigned number() const { return b_.size() > kFragOffCounts ? b_[kFragOffCounts] & 0x0f : 0; }
  unsigned hops() const { return b_.size() > kFragOffHops ? b_[kFragOffHops] & kHopsMask : 0; }
  ByteSpan payload() const {
    return b_.size() > kFragmentHeaderSize ? b_.subspan(kFragmentHeaderSize) : ByteSpan{};
  }

 private:
  ByteSpan b_;
};

// ---- Sending ---------------------------------------------------------------------------------
// Pieces (head included) needed to send a packet of `size` bytes at `mtu`: 1 if it fits,
// else 1 + ceil((size - mtu) / (mtu - 16)). 0 if it cannot be sent: size outside
// [kHeaderSize, kMaxPacketSize], mtu < kHeaderSize, or more than kMaxFragments pieces.
// Note: at mtu 1432 at most 1432 + 6 * 1416 = 9928 bytes fit in 7 pieces.
unsigned fragment_count(size_t size, size_t mtu);
// Before armor: sets or clears the fragmented flag for sending `packet` at `mtu`. Returns
// fragment_count() (0: cannot be sent, flag untouched).
unsigned mark_fragmentation(MutByteSpan packet, size_t mtu);
// After armor: writes fragment `number` (1..count-1) of `armored` into `out` (needs
// min(mtu, 16 + remaining) bytes) and returns its length; 0 on bad arguments. hops = 0.
size_t write_fragment(ByteSpan armored, size_t mtu, unsigned number, MutByteSpan out);

// Calls emit(ByteSpan datagram) for the head then each fragment in order. The head is a
// subspan of `armored` (no copy); fragments are built in a stack buffer. Returns the number
// of datagrams emitted (0 if the packet cannot be sent at this mtu).
template <class Emit>
unsigned for_each_fragment(ByteSpan armored, size_t mtu, Emit&& emit) {
  const unsigned n = fragment_count(armored.size(), mtu);
  if (n == 0) return 0;
  if (n == 1) {
    emit(armored);
    return 1;
  }
  emit(armored.first(mtu));
  std::array<uint8_t, kMaxPacketSize> buf;
  for (unsigned i = 1; i < n; ++i) {
    const size_t len = write_fragment(armored, mtu, i, buf);
    emit(ByteSpan(buf.data(), len));
  }
  return n;
}

// ---- Receiving -------------------------------------------------------------------------------
// Reassembly keyed by packet ID (wire bytes 0..7). Accepts the head and the fragments in any
// order; duplicates are ignored (first copy wins); a fragment whose total disagrees with the
// first one seen for that ID is ignored. An entry is dropped when it completes, when it is
// older than kTimeoutMs (measured from its first piece), when the pieces would exceed
// kMaxPacketSize, or when the table is full and a new ID arrives (the oldest entry goes).
// Memory: capacity entries of kMaxPacketSize bytes each, allocated once in the constructor.
// Not thread-safe.
class Defragmenter {
 public:
  static constexpr size_t kDefaultCapacity = 32;
  static constexpr int64_t kTimeoutMs = 5000;  // ZT_RECEIVE_QUEUE_TIMEOUT

  explicit Defragmenter(size_t capacity = kDefaultCapacity);

  // Feeds one datagram (classified internally). Returns the complete packet when this
  // datagram completes one, or when it is an unfragmented head (returned as-is, a view of
  // `datagram`); otherwise an empty span. A returned reassembled packet is a view into
  // internal storage, valid until the next non-const call.
  ByteSpan add(ByteSpan datagram, int64_t now);
  // Same, for a datagram already known to be a head with the fragmented flag set.
  ByteSpan add_head(ByteSpan head, int64_t now);
  // Same, for a datagram already known to be a fragment (classify() == Fragment).
  ByteSpan add_fragment(ByteSpan fragment, int64_t now);

  // Drops entries older than kTimeoutMs. Called by add*(); call it from the timer too.
  void expire(int64_t now);
  // Earliest time at which an entry will expire (INT64_MAX when empty).
  int64_t next_deadline() const;
  size_t pending() const;  // entries in progress
  size_t capacity() const { return entries_.size(); }

 private:
  struct Piece {
    uint16_t off = 0;  // in Entry::arena
    uint16_t len = 0;
  };
  struct Entry {
    bool used = false;
    uint64_t id = 0;
    int64_t created = 0;
    uint8_t total = 0;      // 0 until a fragment tells us
    uint8_t have = 0;       // bit i = piece i (0 = head) received
    uint16_t arena_used = 0;
    std::array<Piece, kMaxFragments> pieces{};
    std::array<uint8_t, kMaxPacketSize> arena;
  };

  Entry* find_or_create(uint64_t id, int64_t now);
  ByteSpan store_piece(Entry& e, unsigned index, ByteSpan data);

  std::vector<Entry> entries_;
  std::array<uint8_t, kMaxPacketSize> out_;
};

}  // namespace zt::proto
