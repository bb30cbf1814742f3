// Fragmentation and reassembly, PROTOCOL.md §2.3. See fragment.hpp for the contracts.
#include "proto/fragment.hpp"

#include <algorithm>
#include <climits>
#include <cstring>

namespace zt::proto {

bool FragmentView::valid() const {
  if (b_.size() <= kFragmentHeaderSize || b_.size() > kMaxPacketSize) return false;
  if (b_[kFragOffIndicator] != kFragmentIndicator) return false;
  // 1 <= number < total <= 7. A number >= total could never be placed in the packet, and
  // would let a piece count reach `total` with a hole in the middle.
  const unsigned t = total(), n = number();
  return n >= 1 && n < t && t <= kMaxFragments;
}

// ---- Sending ---------------------------------------------------------------------------------

unsigned fragment_count(size_t size, size_t mtu) {
  if (size < kHeaderSize || size > kMaxPacketSize || mtu < kHeaderSize) return 0;
  if (size <= mtu) return 1;
  const size_t chunk = mtu - kFragmentHeaderSize;
  const size_t n = 1 + (size - mtu + chunk - 1) / chunk;
  return n <= kMaxFragments ? unsigned(n) : 0;
}

unsigned mark_fragmentation(MutByteSpan packet, size_t mtu) {
  const unsigned n = fragment_count(packet.size(), mtu);
  if (n != 0) MutPacketView(packet).set_fragmented(n > 1);
  return n;
}

size_t write_fragment(ByteSpan armored, size_t mtu, unsigned number, MutByteSpan out) {
  const unsigned n = fragment_count(armored.size(), mtu);
  if (n < 2 || number < 1 || number >= n) return 0;
  const size_t chunk = mtu - kFragmentHeaderSize;
  const size_t start = mtu + size_t(number - 1) * chunk;
  const size_t plen = std::min(chunk, armored.size() - start);
  if (out.size() < kFragmentHeaderSize + plen) return 0;
  uint8_t* o = out.data();
  std::memcpy(o, armored.data(), 13);  // packet ID (post-armor) + destination
  o[kFragOffIndicator] = kFragmentIndicator;
  o[kFragOffCounts] = uint8_t((n << 4) | number);
  o[kFragOffHops] = 0;
  std::memcpy(o + kFragmentHeaderSize, armored.data() + start, plen);
  return kFragmentHeaderSize + plen;
}

// ---- Receiving -------------------------------------------------------------------------------

Defragmenter::Defragmenter(size_t capacity) : entries_(std::max<size_t>(capacity, 1)) {}

namespace {
bool expired(int64_t created, int64_t now) {
  // Written to avoid signed overflow for any pair of timestamps.
  return now > created && uint64_t(now) - uint64_t(created) >= uint64_t(Defragmenter::kTimeoutMs);
}
}  // namespace

void Defragmenter::expire(int64_t now) {
  for (Entry& e : entries_)
    if (e.used && expired(e.created, now)) e.used = false;
}

int64_t Defragmenter::next_deadline() const {
  int64_t d = INT64_MAX;
  for (const Entry& e : entries_) {
    if (!e.used) continue;
    const int64_t t = e.created > INT64_MAX - kTimeoutMs ? INT64_MAX : e.created + kTimeoutMs;
    d = std::min(d, t);
  }
  return d;
}

size_t Defragmenter::pending() const {
  return size_t(std::count_if(entries_.begin(), entries_.end(), [](const Entry& e) { return e.used; }));
}

Defragmenter::Entry* Defragmenter::find_or_create(uint64_t id, int64_t now) {
  Entry* free_slot = nullptr;
  Entry* oldest = nullptr;
  for (Entry& e : entries_) {
    if (!e.used) {
      if (!free_slot) free_slot = &e;
      continue;
    }
    if (e.id == id) return &e;
    if (!oldest || e.created < oldest->created) oldest = &e;
  }
  Entry* e = free_slot ? free_slot : oldest;  // table full: the oldest entry goes
  e->used = true;
  e->id = id;
  e->created = now;
  e->total = 0;
  e->have = 0;
  e->arena_used = 0;
  return e;
}

ByteSpan Defragmenter::store_piece(Entry& e, unsigned index, ByteSpan data) {
  if (data.size() > kMaxPacketSize - e.arena_used) {
    e.used = false;  // would exceed the maximum packet size: hostile or broken, drop it all
    return {};
  }
  std::memcpy(e.arena.data() + e.arena_used, data.data(), data.size());
  e.pieces[index] = Piece{e.arena_used, uint16_t(data.size())};
  e.arena_used = uint16_t(e.arena_used + data.size());
  e.have = uint8_t(e.have | (1u << index));

  if (e.total == 0 || e.have != uint8_t((1u << e.total) - 1)) return {};
  // Complete: head ‖ fragment 1 ‖ ... ‖ fragment total-1.
  size_t n = 0;
  for (unsigned i = 0; i < e.total; ++i) {
    std::memcpy(out_.data() + n, e.arena.data() + e.pieces[i].off, e.pieces[i].len);
    n += e.pieces[i].len;
  }
  e.used = false;
  return ByteSpan(out_.data(), n);
}

ByteSpan Defragmenter::add_head(ByteSpan head, int64_t now) {
  expire(now);
  const PacketView v(head);
  if (!v.valid() || !v.fragmented() || head[kFragOffIndicator] == kFragmentIndicator) return {};
  Entry* e = find_or_create(v.packet_id(), now);
  if (e->have & 1u) return {};  // duplicate head
  return store_piece(*e, 0, head);
}

ByteSpan Defragmenter::add_fragment(ByteSpan fragment, int64_t now) {
  expire(now);
  const FragmentView f(fragment);
  if (!f.valid()) return {};
  Entry* e = find_or_create(f.packet_id(), now);
  if (e->total == 0) {
    e->total = uint8_t(f.total());
  } else if (e->total != f.total()) {
    return {};  // disagrees with the first fragment seen: ignore it
  }
  if (e->have & (1u << f.number())) return {};  // duplicate
  return store_piece(*e, f.number(), f.payload());
}

ByteSpan Defragmenter::add(ByteSpan datagram, int64_t now) {
  switch (classify(datagram)) {
    case DatagramKind::Head:
      if (!PacketView(datagram).fragmented()) return datagram;
      return add_head(datagram, now);
    case DatagramKind::Fragment:
      return add_fragment(datagram, now);
    default:
      return {};
  }
}

}  // namespace zt::proto
