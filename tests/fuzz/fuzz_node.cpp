// Fuzz target: one whole Node (VL1 + the VL2 hooks behind it) fed arbitrary datagrams with
// advancing time (PROTOCOL.md §2, §3, §5). Nothing may crash, hang or leak; bad input is
// dropped and counted.
//
// The node is "nodea" of tests/vectors/identities.txt (constant below; the harness reads no
// files), with a planet naming the vector root at 10.77.0.1/9993, the address it has in
// session.pcap, so datagrams captured from the root to node A authenticate.
//
// Input: a sequence of records; each starts with an op byte:
//   op & 3 == 0  [2] len, len bytes: a datagram from the root's address (10.77.0.1/9993)
//   op & 3 == 1  [2] len, len bytes: a datagram from a stranger (10.77.0.9/9993)
//   op & 3 == 2  [2] len, len bytes = verb byte + payload: the harness wraps it in a header
//                from the root (hops = op >> 5) and armors it with the root's key (cipher
//                AES-GMAC-SIV if op & 0x10, else Salsa20/12), so the fuzzer reaches the
//                authenticated verb handlers
//   op & 3 == 3  advance the clock by (op >> 2) × 1000 ms and run background tasks
// Every record also advances the clock by 1 ms. len is big-endian, clamped to what is left.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "core/node.hpp"
#include "proto/packet.hpp"
#include "proto/world.hpp"

using namespace zt;
using namespace zt::proto;

namespace {

// tests/vectors/identities.txt [nodea] secret and [root] public.
constexpr const char* kNodeSecret =
    "8fec3e8ae4:0:7c88d0907e67546a706e8908ceb0c3de8133f058997234439784815ab5f0cf35ec25493dff87dfc8cdf2f8cdd3d0ffea3ad1df7b9937bf7ffd7a72c832f141e9:"
    "7078ca7293f99985e937ebf114d136cf4c90b56de2b4b064114c738fe4c912d950de9130ab8d168aba265ee335212831a48eb5bee3f584622ee98e32930f2355";
constexpr const char* kRootPublic =
    "765ad94991:0:3a67c447bae0bc105f06e23118310f06b05aab0519ec5017f7bb7c54b9e4321d2d3eb987bd8d1234555824eb21fcea21f8c94108ddf6c6fc060bb071291e1c64";

class NullHost : public core::Host {
 public:
  void wire_send(int64_t, const InetAddress&, ByteSpan data, unsigned) override { sent += data.size(); }
  std::optional<Bytes> state_get(core::StateObject, uint64_t) override { return std::nullopt; }
  void state_put(core::StateObject, uint64_t, ByteSpan) override {}
  void event(const core::Event& e) override { events += e.data.size() + 1; }
  void random(uint8_t* out, size_t n) override {
    for (size_t i = 0; i < n; ++i) out[i] = uint8_t((counter_ += 0x9e3779b97f4a7c15ull) >> 56);
  }
  size_t sent = 0, events = 0;

 private:
  uint64_t counter_ = 0;
};

struct Fixture {
  Identity node = *Identity::parse(kNodeSecret);
  Identity root = *Identity::parse(kRootPublic);
  InetAddress root_addr = *InetAddress::parse("10.77.0.1/9993");
  InetAddress stranger = *InetAddress::parse("10.77.0.9/9993");
  World planet;
  std::unique_ptr<PeerKey> root_key;  // node <-> root, for op 2

  Fixture() {
    planet.type = World::Type::Planet;
    planet.id = 0x76adf1;  // the vector planet's ID; unsigned here (the node does not check)
    planet.timestamp = 1;
    WorldRoot r;
    r.identity = root;
    r.stable_endpoints.push_back(root_addr);
    planet.roots.push_back(r);
    root_key = std::make_unique<PeerKey>(node.agree(root));
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Fixture& f = fixture();
  NullHost host;
  core::NodeOptions o;
  o.identity = f.node;
  o.planet = f.planet;
  int64_t now = 1'700'000'000'000;
  auto created = core::Node::create(host, o, now);
  if (!created.ok()) __builtin_trap();
  core::Node& node = **created;

  static std::vector<uint8_t> pkt(kMaxPacketSize + 64);
  size_t pos = 0;
  unsigned records = 0;
  while (pos < size && records++ < 256) {
    const uint8_t op = data[pos++];
    now += 1;
    if ((op & 3) == 3) {
      now += int64_t(op >> 2) * 1000;
      (void)node.process_background_tasks(now);
      continue;
    }
    size_t len = 0;
    if (size - pos >= 2) {
      len = size_t(data[pos]) << 8 | data[pos + 1];
      pos += 2;
    } else {
      pos = size;
    }
    len = std::min(len, size - pos);
    const ByteSpan body(data + pos, len);
    pos += len;
    switch (op & 3) {
      case 0:
        (void)node.process_wire_packet(now, 0, f.root_addr, body);
        break;
      case 1:
        (void)node.process_wire_packet(now, 0, f.stranger, body);
        break;
      case 2: {
        if (len == 0 || kOffVerb + len > kMaxPacketSize) break;
        write_header(MutByteSpan(pkt.data(), kHeaderSize), 0x0102030405060708ull + records,
                     f.node.address(), f.root.address(), Verb::Nop);
        std::memcpy(pkt.data() + kOffVerb, body.data(), len);
        const MutByteSpan p(pkt.data(), kOffVerb + len);
        if (!armor(p, *f.root_key, (op & 0x10) ? Cipher::AesGmacSiv : Cipher::Salsa2012)) break;
        MutPacketView(p).set_hops((op >> 5) & 7);
        // Sent whole (a datagram is at most kMaxPacketSize; the node defragments itself).
        (void)node.process_wire_packet(now, 0, f.root_addr, p);
        break;
      }
      default:
        break;
    }
  }
  (void)node.process_background_tasks(now + 120000);
  (void)node.peers(now);
  (void)node.status(now);
  return 0;
}
