// Fuzz target: a sequence of datagrams into one Defragmenter (PROTOCOL.md §2.3).
//
// Input format: repeated records [u16 BE length][u8 time step (ms / 64)][length bytes]; a
// short final record takes what is left. A small capacity makes eviction reachable.
#include <cstdint>
#include <cstring>

#include "proto/fragment.hpp"
#include "proto/packet.hpp"

using namespace zt;
using namespace zt::proto;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Defragmenter* defrag = new Defragmenter(4);
  // Fresh state per input: drain everything from the previous run.
  defrag->expire(INT64_MAX);
  if (defrag->pending() != 0) __builtin_trap();

  Reader r(data, size);
  int64_t now = 1795605700000;
  while (r.remaining() >= 3) {
    const size_t len = r.u16();
    now += int64_t(r.u8()) * 64;
    const ByteSpan dg = r.bytes(len < r.remaining() ? len : r.remaining());
    const ByteSpan done = defrag->add(dg, now);
    if (!done.empty()) {
      // Anything handed back is a plausible packet: a head-sized, bounded buffer.
      if (done.size() < kHeaderSize || done.size() > kMaxPacketSize) __builtin_trap();
      volatile uint8_t sink = done[done.size() - 1];
      (void)sink;
    }
    if (defrag->pending() > defrag->capacity()) __builtin_trap();
    if (defrag->pending() && defrag->next_deadline() > now + Defragmenter::kTimeoutMs) __builtin_trap();
  }
  return 0;
}
