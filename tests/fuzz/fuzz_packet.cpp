// Fuzz target: datagram classification, header/fragment views, dearmor with a fixed key
// (all cipher suites), cryptField and LZ4 decompression on arbitrary bytes (PROTOCOL.md §2).
#include <cstdint>
#include <cstring>
#include <vector>

#include "proto/fragment.hpp"
#include "proto/packet.hpp"

using namespace zt;
using namespace zt::proto;

namespace {
PeerKey& fixed_key() {
  static PeerKey k = [] {
    crypto::SymmetricKey s;
    for (size_t i = 0; i < s.size(); ++i) s[i] = uint8_t(i * 29 + 7);
    return PeerKey(s);
  }();
  return k;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteSpan in(data, size);
  static std::vector<uint8_t> buf(kMaxPacketSize);

  switch (classify(in)) {
    case DatagramKind::Beacon:
      (void)beacon_source(in);
      return 0;
    case DatagramKind::Fragment: {
      const FragmentView f(in);
      (void)f.valid();
      (void)(f.packet_id() + f.dest() + f.total() + f.number() + f.hops() + f.payload().size());
      return 0;
    }
    case DatagramKind::Head:
      break;
    default:
      return 0;
  }
  if (size > kMaxPacketSize) __builtin_trap();  // classify() must have dropped it

  std::memcpy(buf.data(), data, size);
  const MutByteSpan pkt(buf.data(), size);
  const PacketView v(pkt);
  (void)(v.packet_id() + v.dest() + v.source() + v.flags() + v.hops() + v.mac());
  (void)verb_name(v.verb());
  (void)cipher_name(v.cipher());
  (void)check_trusted_path(pkt, 0x0123456789abcdefull);

  uint8_t iv[8];
  const bool authentic = dearmor(pkt, fixed_key(), iv);
  // Whether or not it authenticated, the decoders behind it must be safe on the bytes:
  // exercise decompression on the (now arbitrary) buffer with the full capacity.
  buf[kOffVerb] |= uint8_t(authentic ? 0 : kVerbFlagCompressed);
  auto n = decompress_payload(MutByteSpan(buf.data(), buf.size()), size);
  if (n && (*n < kHeaderSize || *n > kMaxPacketSize)) __builtin_trap();
  if (size > 40) (void)crypt_field(fixed_key().key(), MutByteSpan(buf.data(), size), size / 2, size - size / 2);
  return 0;
}
