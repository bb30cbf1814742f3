// Verb payload codecs (PROTOCOL.md §3) against the reference captures: every packet of both
// captures decodes to a known verb with nothing left over and re-encodes byte for byte; the
// verb counts, in-re IDs, HELLO/OK(HELLO) fields and config-chunk signatures match what §3 and
// §14.1 say about the vectors. Then synthetic round trips for the verbs the captures lack, and
// negative cases (truncation, trailing bytes, hostile counts).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/hex.hpp"
#include "proto/credentials.hpp"
#include "proto/fragment.hpp"
#include "proto/identity.hpp"
#include "proto/packet.hpp"
#include "proto/verbs.hpp"
#include "proto/vl2.hpp"
#include "proto/world.hpp"
#include "pcap_util.hpp"
#include "runtime/identity_store.hpp"

using namespace zt;
using namespace zt::proto;

namespace {

const std::string kVectors = ZTCORE_VECTORS_DIR;
constexpr uint64_t kNwid = 0xd5a72ff358c0ffeeULL;
constexpr Address kRoot = 0x765ad94991ULL, kController = 0xd5a72ff358ULL;
constexpr Address kNodeA = 0x8fec3e8ae4ULL, kNodeB = 0xeb8cb7d1c8ULL;

// UDP endpoints of the session nodes (tests/vectors/README.md).
std::string endpoint(Address a) {
  switch (a) {
    case kRoot: return "10.77.0.1/9993";
    case kController: return "10.77.0.2/9994";
    case kNodeA: return "10.77.0.3/9995";
    case kNodeB: return "10.77.0.4/9996";
    default: return "?";
  }
}

Bytes encode(const Message& m) {
  Writer w;
  encode_message(m, w);
  return w.take();
}
template <class T>
Bytes enc(const T& m) {
  Writer w;
  m.encode(w);
  return w.take();
}
Bytes cat(ByteSpan a, ByteSpan b) {
  Bytes out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}
Bytes hex(std::string_view s) { return from_hex(s).value(); }

// The four session identities (with secrets) and pair keys.
class Keyring {
 public:
  static Keyring& get() {
    static Keyring k;
    return k;
  }
  const Identity* id(Address a) const {
    auto it = ids_.find(a);
    return it == ids_.end() ? nullptr : &it->second;
  }
  PeerKey* pair(Address a, Address b) {
    auto k = std::minmax(a, b);
    if (auto it = keys_.find(k); it != keys_.end()) return it->second.get();
    const Identity *ia = id(a), *ib = id(b);
    if (!ia || !ib || a == b) return nullptr;
    return keys_.emplace(k, std::make_unique<PeerKey>(ia->agree(*ib))).first->second.get();
  }
  size_t size() const { return ids_.size(); }

 private:
  Keyring() {
    for (const char* role : {"root", "controller", "nodea", "nodeb"}) {
      auto id = runtime::load_identity_file(kVectors + "/" + role + ".identity.secret");
      if (id && id->has_private()) ids_.emplace(id->address(), *id);
    }
  }
  std::map<Address, Identity> ids_;
  std::map<std::pair<Address, Address>, std::unique_ptr<PeerKey>> keys_;
};

// One authenticated, decrypted, decompressed packet of a capture.
struct Packet {
  std::string capture;
  size_t index = 0;      // record number of the datagram that completed it
  int64_t ts_ms = 0;
  std::string src, dst;  // UDP endpoints, "ip/port"
  bool reassembled = false;
  uint64_t wire_id = 0;
  Address source = 0, dest = 0;
  Bytes plain;           // whole packet, plaintext, decompressed (verb flag cleared)
  Verb verb() const { return PacketView(plain).verb(); }
  ByteSpan payload() const { return PacketView(plain).payload(); }
};

struct Capture {
  std::vector<Packet> packets;
  size_t datagrams = 0, junk = 0, fragments = 0, failures = 0;
  std::vector<std::string> problems;
};

Capture load(const std::string& name) {
  Capture c;
  auto dgs = test::read_pcap(kVectors + "/" + name);
  if (!dgs) {
    c.problems.push_back("cannot read " + name);
    return c;
  }
  Defragmenter defrag;
  for (const auto& d : *dgs) {
    ++c.datagrams;
    DatagramKind kind = classify(d.payload);
    if (kind == DatagramKind::Drop || kind == DatagramKind::Beacon) {
      ++c.junk;
      continue;
    }
    if (kind == DatagramKind::Fragment) ++c.fragments;
    const int64_t now = d.ts_us / 1000;
    ByteSpan whole = defrag.add(d.payload, now);
    if (whole.empty()) continue;
    Packet p;
    p.capture = name;
    p.index = d.index;
    p.ts_ms = now;
    p.src = d.src_string();
    p.dst = d.dst_string();
    p.reassembled = kind == DatagramKind::Fragment || PacketView(whole).fragmented();
    Bytes buf(kMaxPacketSize);
    std::copy(whole.begin(), whole.end(), buf.begin());
    size_t len = whole.size();
    PacketView hv(ByteSpan(buf.data(), len));
    p.wire_id = hv.packet_id();
    p.source = hv.source();
    p.dest = hv.dest();
    PeerKey* key = Keyring::get().pair(p.source, p.dest);
    if (!key || !dearmor(MutByteSpan(buf.data(), len), *key)) {
      ++c.failures;
      c.problems.push_back(name + " #" + std::to_string(d.index) + ": does not authenticate");
      continue;
    }
    auto n = decompress_payload(MutByteSpan(buf.data(), buf.size()), len);
    if (!n) {
      ++c.failures;
      c.problems.push_back(name + " #" + std::to_string(d.index) + ": LZ4 failed");
      continue;
    }
    buf.resize(*n);
    p.plain = std::move(buf);
    c.packets.push_back(std::move(p));
  }
  return c;
}

const Capture& session() {
  static Capture c = load("session.pcap");
  return c;
}
const Capture& fragmented() {
  static Capture c = load("frames_fragmented.pcap");
  return c;
}

// "HELLO", "OK(HELLO)", "ERROR(NETWORK_CONFIG_REQUEST)".
std::string label(const Message& m) {
  if (auto* ok = std::get_if<OkMessage>(&m))
    return std::string("OK(") + verb_name(ok->in_re_verb) + ")";
  if (std::holds_alternative<ErrorMessage>(m)) return "ERROR";
  return verb_name(message_verb(m));
}

std::map<std::string, int> count_verbs(const Capture& c) {
  std::map<std::string, int> counts;
  for (const auto& p : c.packets) {
    auto m = decode_message(p.verb(), p.payload());
    counts[m ? label(*m) : "undecodable"]++;
  }
  return counts;
}

const Identity& published(const char* role) {
  static std::map<std::string, Identity> cache;
  auto it = cache.find(role);
  if (it == cache.end())
    it = cache.emplace(role, runtime::load_identity_file(kVectors + "/" + role + ".identity.public").value()).first;
  return it->second;
}

// ---- Captures -----------------------------------------------------------------------------------

TEST(VerbsCapture, EveryDatagramAuthenticates) {
  ASSERT_EQ(Keyring::get().size(), 4u);
  for (const Capture* c : {&session(), &fragmented()}) {
    EXPECT_TRUE(c->problems.empty()) << c->problems.front();
    EXPECT_EQ(c->failures, 0u);
  }
  EXPECT_EQ(session().datagrams, 256u);
  EXPECT_EQ(session().junk, 3u);  // the 4-byte NAT-opening junk datagrams (§3.4)
  EXPECT_EQ(session().packets.size(), 253u);
  EXPECT_EQ(fragmented().datagrams, 30u);
  EXPECT_EQ(fragmented().fragments, 10u);
  EXPECT_EQ(fragmented().packets.size(), 20u);
  size_t reassembled = 0;
  for (const auto& p : fragmented().packets) reassembled += p.reassembled;
  EXPECT_EQ(reassembled, 10u);
}

TEST(VerbsCapture, EveryPacketDecodesAndReencodesExactly) {
  size_t n = 0;
  for (const Capture* c : {&session(), &fragmented()}) {
    for (const auto& p : c->packets) {
      SCOPED_TRACE(p.capture + " #" + std::to_string(p.index) + " " + verb_name(p.verb()));
      auto m = decode_message(p.verb(), p.payload());
      ASSERT_TRUE(m) << m.error();
      EXPECT_FALSE(std::holds_alternative<UnknownVerb>(*m));
      EXPECT_EQ(message_verb(*m), p.verb());
      Bytes again = encode(*m);
      ASSERT_EQ(to_hex(again), to_hex(p.payload())) << "re-encoding differs";
      // The OK/ERROR bodies are typed (not raw) for every reply in the captures.
      if (auto* ok = std::get_if<OkMessage>(&*m)) {
        EXPECT_FALSE(std::holds_alternative<RawBody>(ok->body));
      }
      if (auto* er = std::get_if<ErrorMessage>(&*m)) {
        EXPECT_FALSE(std::holds_alternative<RawBody>(er->body));
      }
      ++n;
    }
  }
  EXPECT_EQ(n, 273u);
}

TEST(VerbsCapture, VerbCountsMatchSection14) {
  // §14.1's table counts both captures together (273 packets); per capture:
  const std::map<std::string, int> want_session = {
      {"HELLO", 21}, {"OK(HELLO)", 20}, {"WHOIS", 41}, {"OK(WHOIS)", 41},
      {"RENDEZVOUS", 6}, {"FRAME", 28}, {"ECHO", 2}, {"OK(ECHO)", 4},
      {"MULTICAST_LIKE", 29}, {"NETWORK_CREDENTIALS", 3}, {"NETWORK_CONFIG_REQUEST", 6},
      {"ERROR", 4}, {"OK(NETWORK_CONFIG_REQUEST)", 2}, {"NETWORK_CONFIG", 2},
      {"MULTICAST_GATHER", 38}, {"OK(MULTICAST_GATHER)", 2}, {"MULTICAST_FRAME", 1},
      {"PUSH_DIRECT_PATHS", 3}};
  const std::map<std::string, int> want_fragmented = {
      {"NETWORK_CREDENTIALS", 2}, {"FRAME", 10}, {"ECHO", 2}, {"OK(ECHO)", 2},
      {"WHOIS", 2}, {"OK(WHOIS)", 2}};
  const std::map<std::string, int> want_total = {
      {"HELLO", 21}, {"OK(HELLO)", 20}, {"WHOIS", 43}, {"OK(WHOIS)", 43},
      {"RENDEZVOUS", 6}, {"FRAME", 38}, {"ECHO", 4}, {"OK(ECHO)", 6},
      {"MULTICAST_LIKE", 29}, {"NETWORK_CREDENTIALS", 5}, {"NETWORK_CONFIG_REQUEST", 6},
      {"ERROR", 4}, {"OK(NETWORK_CONFIG_REQUEST)", 2}, {"NETWORK_CONFIG", 2},
      {"MULTICAST_GATHER", 38}, {"OK(MULTICAST_GATHER)", 2}, {"MULTICAST_FRAME", 1},
      {"PUSH_DIRECT_PATHS", 3}};
  auto s = count_verbs(session());
  auto f = count_verbs(fragmented());
  EXPECT_EQ(s, want_session);
  EXPECT_EQ(f, want_fragmented);
  std::map<std::string, int> total = s;
  for (auto& [k, v] : f) total[k] += v;
  EXPECT_EQ(total, want_total);
}

TEST(VerbsCapture, InReIdsMatchAnEarlierRequest) {
  size_t matched = 0;
  for (const Capture* c : {&session(), &fragmented()}) {
    std::map<uint64_t, const Packet*> seen;  // wire ID → first packet with it
    for (const auto& p : c->packets) {
      auto m = decode_message(p.verb(), p.payload());
      ASSERT_TRUE(m);
      Verb in_re{};
      uint64_t id = 0;
      bool reply = false;
      if (auto* ok = std::get_if<OkMessage>(&*m)) in_re = ok->in_re_verb, id = ok->in_re_packet_id, reply = true;
      if (auto* er = std::get_if<ErrorMessage>(&*m)) in_re = er->in_re_verb, id = er->in_re_packet_id, reply = true;
      if (reply) {
        SCOPED_TRACE(p.capture + " #" + std::to_string(p.index));
        auto it = seen.find(id);
        ASSERT_NE(it, seen.end()) << "in-re " << to_hex(id, 16) << " not seen before";
        const Packet& req = *it->second;
        EXPECT_EQ(req.source, p.dest);
        EXPECT_EQ(req.dest, p.source);
        // §3.10 quirk: a NETWORK_CONFIG push is acknowledged with an OK in re ECHO.
        if (in_re == Verb::Echo && req.verb() == Verb::NetworkConfig) {
          auto push = NetworkConfigPush::decode(req.payload()).value();
          auto ack = NetworkConfigAck::decode(std::get<OkEcho>(std::get<OkMessage>(*m).body).payload);
          ASSERT_TRUE(ack) << ack.error();
          EXPECT_EQ(ack->nwid, kNwid);
          EXPECT_EQ(ack->update_id, push.chunk.update_id);
        } else {
          EXPECT_EQ(req.verb(), in_re);
        }
        ++matched;
      }
      seen.emplace(p.wire_id, &p);
    }
  }
  EXPECT_EQ(matched, 77u);  // §14.1
}

TEST(VerbsCapture, HelloFieldsAsVerified) {
  auto planet = World::parse([] {
    auto dgs = std::ifstream(kVectors + "/planet", std::ios::binary);
    return Bytes((std::istreambuf_iterator<char>(dgs)), std::istreambuf_iterator<char>());
  }());
  ASSERT_TRUE(planet) << planet.error();
  std::map<uint64_t, std::pair<Hello, const Packet*>> hellos;
  size_t n_hello = 0, n_ok = 0;
  for (const auto& p : session().packets) {
    auto m = decode_message(p.verb(), p.payload());
    ASSERT_TRUE(m);
    if (auto* h = std::get_if<Hello>(&*m)) {
      SCOPED_TRACE("HELLO #" + std::to_string(p.index));
      ++n_hello;
      EXPECT_EQ(PacketView(p.plain).cipher(), Cipher::None);
      EXPECT_EQ(h->protocol_version, 12);
      EXPECT_EQ(h->version_major, 1);
      EXPECT_EQ(h->version_minor, 14);
      EXPECT_EQ(h->version_revision, 1);
      EXPECT_LT(std::llabs(int64_t(h->timestamp) - p.ts_ms), 2000) << "timestamp = sender's clock (ms)";
      EXPECT_EQ(h->identity.address(), p.source);
      const Identity* pub = Keyring::get().id(p.source);
      ASSERT_NE(pub, nullptr);
      EXPECT_TRUE(h->identity == *pub);
      ASSERT_TRUE(h->sent_to);
      EXPECT_EQ(h->sent_to->to_string(), p.dst);
      ASSERT_TRUE(h->planet);
      EXPECT_EQ(h->planet->id, 0x76adf1u);
      EXPECT_EQ(h->planet->id, planet->id);
      EXPECT_EQ(h->planet->timestamp, planet->timestamp);
      // cryptField region: decrypts to a moon count of 0 with nothing after it (§2.8).
      ASSERT_EQ(h->moons_region.size(), 2u);
      Bytes pkt = p.plain;
      size_t off = kHeaderSize + h->crypt_offset(p.payload().size());
      EXPECT_EQ(off + 2, pkt.size());
      PeerKey* key = Keyring::get().pair(p.source, p.dest);
      ASSERT_TRUE(crypt_field(key->key(), pkt, off, pkt.size() - off));
      auto moons = HelloMoons::decode(ByteSpan(pkt).subspan(off));
      ASSERT_TRUE(moons) << moons.error();
      EXPECT_TRUE(moons->moons.empty());
      hellos.emplace(p.wire_id, std::make_pair(*h, &p));
    } else if (auto* ok = std::get_if<OkMessage>(&*m); ok && ok->in_re_verb == Verb::Hello) {
      SCOPED_TRACE("OK(HELLO) #" + std::to_string(p.index));
      ++n_ok;
      const auto& o = std::get<OkHello>(ok->body);
      auto it = hellos.find(ok->in_re_packet_id);
      ASSERT_NE(it, hellos.end());
      EXPECT_EQ(o.timestamp, it->second.first.timestamp) << "echoes the HELLO timestamp";
      EXPECT_EQ(o.protocol_version, 12);
      EXPECT_EQ(o.version_major, 1);
      EXPECT_EQ(o.version_minor, 14);
      EXPECT_EQ(o.version_revision, 1);
      ASSERT_TRUE(o.observed_from);
      EXPECT_EQ(o.observed_from->to_string(), it->second.second->src) << "HELLO's UDP source";
      ASSERT_TRUE(o.world_updates) << "2-byte length present even when 0";
      EXPECT_TRUE(o.world_updates->empty());
      auto ws = o.worlds();
      ASSERT_TRUE(ws);
      EXPECT_TRUE(ws->empty());
    }
  }
  EXPECT_EQ(n_hello, 21u);
  EXPECT_EQ(n_ok, 20u);
}

TEST(VerbsCapture, ConfigChunksVerifyWithController) {
  const Identity& controller = published("controller");
  std::set<uint64_t> update_ids;
  size_t chunks = 0;
  for (const auto& p : session().packets) {
    auto m = decode_message(p.verb(), p.payload());
    ASSERT_TRUE(m);
    const ConfigChunk* c = nullptr;
    if (auto* nc = std::get_if<NetworkConfigPush>(&*m)) c = &nc->chunk;
    if (auto* ok = std::get_if<OkMessage>(&*m)) c = std::get_if<ConfigChunk>(&ok->body);
    if (!c) continue;
    ++chunks;
    EXPECT_EQ(p.source, kController);
    EXPECT_FALSE(c->legacy);
    EXPECT_EQ(c->nwid, kNwid);
    EXPECT_EQ(c->data.size(), 1153u);
    EXPECT_EQ(c->total_length, 1153u);
    EXPECT_EQ(c->index, 0u);
    EXPECT_EQ(c->flags, 0);
    EXPECT_EQ(c->signature_type, 1);
    EXPECT_EQ(c->signature.size(), 96u);
    EXPECT_TRUE(c->verify(controller));
    EXPECT_FALSE(c->verify(published("nodea")));
    update_ids.insert(c->update_id);
    // Signing form = payload bytes 0..26+L (nwid through chunk index).
    Bytes sf = c->signing_form();
    ByteSpan body = p.verb() == Verb::Ok ? p.payload().subspan(9) : p.payload();
    EXPECT_EQ(to_hex(sf), to_hex(body.first(27 + c->data.size())));
    // Tampering with the data or the index breaks the signature.
    ConfigChunk t = *c;
    t.index = 1;
    EXPECT_FALSE(t.verify(controller));
    Bytes data(c->data.begin(), c->data.end());
    data[100] ^= 1;
    t = *c;
    t.data = data;
    EXPECT_FALSE(t.verify(controller));
  }
  EXPECT_EQ(chunks, 4u);
  EXPECT_EQ(update_ids.size(), 4u);
}

TEST(VerbsCapture, OtherVerbsAsVerified) {
  const Identity& controller = published("controller");
  for (const Capture* c : {&session(), &fragmented()}) {
    for (const auto& p : c->packets) {
      SCOPED_TRACE(p.capture + " #" + std::to_string(p.index));
      auto m = decode_message(p.verb(), p.payload());
      ASSERT_TRUE(m);
      if (auto* w = std::get_if<Whois>(&*m)) {
        EXPECT_EQ(p.payload().size(), 5u);
        EXPECT_EQ(w->addresses.size(), 1u);
      } else if (auto* ok = std::get_if<OkMessage>(&*m); ok && ok->in_re_verb == Verb::Whois) {
        const auto& ids = std::get<OkWhois>(ok->body).identities;
        ASSERT_EQ(ids.size(), 1u);
        const Identity* pub = Keyring::get().id(ids[0].address());
        ASSERT_NE(pub, nullptr);
        EXPECT_TRUE(ids[0] == *pub);
      } else if (auto* g = std::get_if<MulticastGather>(&*m)) {
        EXPECT_EQ(g->nwid, kNwid);
        EXPECT_EQ(g->flags, 0x01);
        EXPECT_EQ(g->limit, 33u);
        ASSERT_TRUE(g->com);
        EXPECT_EQ(g->com->issued_to(), p.source);
        EXPECT_TRUE(g->com->verify(controller));
        EXPECT_TRUE(p.dest == kRoot || p.dest == kController);
      } else if (auto* ok = std::get_if<OkMessage>(&*m); ok && ok->in_re_verb == Verb::MulticastGather) {
        const auto& o = std::get<OkMulticastGather>(ok->body);
        EXPECT_EQ(o.group, (MulticastGroup{Mac::broadcast(), 0x0a93112a}));
        EXPECT_EQ(o.gathered.total_known, 1u);
        EXPECT_EQ(o.gathered.members, std::vector<Address>{kNodeB});
      } else if (auto* mf = std::get_if<MulticastFrame>(&*m)) {
        EXPECT_EQ(mf->flags, 0x02);
        EXPECT_EQ(mf->gather_limit, std::optional<uint32_t>(33));
        EXPECT_FALSE(mf->source);
        EXPECT_FALSE(mf->com);
        EXPECT_EQ(mf->group, (MulticastGroup{Mac::broadcast(), 0x0a93112a}));
        EXPECT_EQ(mf->ethertype, 0x0806);
        EXPECT_EQ(mf->payload.size(), 28u);
      } else if (auto* pd = std::get_if<PushDirectPaths>(&*m)) {
        ASSERT_EQ(pd->paths.size(), 2u);
        for (const auto& path : pd->paths) {
          EXPECT_EQ(path.flags, 0);
          EXPECT_TRUE(path.extensions.empty());
          EXPECT_TRUE(path.address.is_v4());
          EXPECT_EQ(path.address.to_string(), endpoint(p.source));  // the sender's own
        }
      } else if (auto* nc = std::get_if<NetworkCredentials>(&*m)) {
        EXPECT_EQ(p.payload().size(), 456u);
        ASSERT_EQ(nc->coms.size(), 1u);
        EXPECT_TRUE(nc->coms[0].verify(controller));
        EXPECT_EQ(nc->coms[0].issued_to(), p.source);
        EXPECT_EQ(nc->sections, 4);
        EXPECT_TRUE(nc->capabilities.empty());
        EXPECT_TRUE(nc->tags.empty());
        EXPECT_TRUE(nc->revocations.empty());
        ASSERT_EQ(nc->coos.size(), 1u);
        EXPECT_TRUE(nc->coos[0].verify(controller));
      } else if (auto* r = std::get_if<NetworkConfigRequest>(&*m)) {
        EXPECT_EQ(r->nwid, kNwid);
        EXPECT_EQ(p.dest, kController);
        EXPECT_EQ(p.payload().size(), 289u);
        std::string md(r->metadata.begin(), r->metadata.end());
        EXPECT_EQ(md.rfind("v=0000000000000007\nvend=0000000000000001\npv=000000000000000c\n", 0), 0u) << md;
        EXPECT_NE(md.find("\no=linux/x86_64"), std::string::npos);
        EXPECT_TRUE(r->held);
      } else if (auto* f = std::get_if<Frame>(&*m)) {
        EXPECT_EQ(f->nwid, kNwid);
        EXPECT_TRUE(f->ethertype == 0x86dd || f->ethertype == 0x0800 || f->ethertype == 0x0806);
        ASSERT_FALSE(f->payload.empty());
        uint8_t v = f->payload[0] >> 4;
        if (f->ethertype == 0x86dd) {
          EXPECT_EQ(v, 6);
        } else if (f->ethertype == 0x0800) {
          EXPECT_EQ(v, 4);
        } else {
          EXPECT_EQ(f->payload.size(), 28u);
        }
      } else if (auto* rv = std::get_if<Rendezvous>(&*m)) {
        EXPECT_EQ(p.source, kRoot);
        EXPECT_EQ(rv->flags, 0);
        EXPECT_TRUE(rv->at.is_v4());
        EXPECT_EQ(rv->at.ip_string().rfind("10.77.0.", 0), 0u);
      } else if (auto* er = std::get_if<ErrorMessage>(&*m)) {
        EXPECT_EQ(er->in_re_verb, Verb::NetworkConfigRequest);
        EXPECT_EQ(er->code, ErrorCode::NetworkAccessDenied);
        const auto& b = std::get<ErrorNetwork>(er->body);
        EXPECT_EQ(b.nwid, kNwid);
        EXPECT_FALSE(b.info) << "no dictionary before authorization";
      }
    }
  }
}

// ---- Negative cases on captured payloads ---------------------------------------------------------

// One sample payload per (verb label) from the captures.
std::map<std::string, std::pair<Verb, Bytes>> samples() {
  std::map<std::string, std::pair<Verb, Bytes>> out;
  for (const Capture* c : {&session(), &fragmented()})
    for (const auto& p : c->packets) {
      auto m = decode_message(p.verb(), p.payload());
      if (!m) continue;
      out.emplace(label(*m), std::make_pair(p.verb(), Bytes(p.payload().begin(), p.payload().end())));
    }
  return out;
}

TEST(VerbsNegative, EveryPrefixFailsCleanlyOrReencodesToItself) {
  // decode(prefix) must never crash; when it accepts (optional trailing fields, payloads that
  // run to the end) the message must re-encode to exactly the prefix.
  auto s = samples();
  ASSERT_EQ(s.size(), 18u);
  for (const auto& [name, vp] : s) {
    const auto& [verb, payload] = vp;
    size_t accepted = 0;
    for (size_t n = 0; n < payload.size(); ++n) {
      ByteSpan prefix(payload.data(), n);
      auto m = decode_message(verb, prefix);
      if (!m) {
        EXPECT_FALSE(m.error().empty());
        continue;
      }
      ++accepted;
      EXPECT_EQ(to_hex(encode(*m)), to_hex(prefix)) << name << " prefix " << n;
    }
    // Exact layouts: losing the last byte is always an error.
    static const std::set<std::string> exact = {
        "OK(HELLO)", "OK(WHOIS)", "WHOIS", "RENDEZVOUS", "MULTICAST_LIKE", "NETWORK_CREDENTIALS",
        "NETWORK_CONFIG_REQUEST", "ERROR", "OK(NETWORK_CONFIG_REQUEST)", "NETWORK_CONFIG",
        "MULTICAST_GATHER", "OK(MULTICAST_GATHER)", "PUSH_DIRECT_PATHS"};
    if (exact.count(name)) {
      EXPECT_FALSE(decode_message(verb, ByteSpan(payload.data(), payload.size() - 1))) << name;
    }
  }
}

TEST(VerbsNegative, TrailingGarbage) {
  auto s = samples();
  const Bytes junk = {0x00, 0x42};
  // Verbs whose last field runs to the end of the packet absorb extra bytes (and re-encode
  // them); every other layout rejects them.
  static const std::set<std::string> open_ended = {"HELLO", "FRAME", "ECHO", "OK(ECHO)",
                                                   "MULTICAST_FRAME"};
  for (const auto& [name, vp] : s) {
    for (size_t extra = 1; extra <= junk.size(); ++extra) {
      Bytes longer = cat(vp.second, ByteSpan(junk.data(), extra));
      auto m = decode_message(vp.first, longer);
      if (open_ended.count(name)) {
        ASSERT_TRUE(m) << name << ": " << m.error();
        EXPECT_EQ(encode(*m), longer) << name;
      } else {
        EXPECT_FALSE(m) << name << " + " << extra << " bytes";
      }
    }
  }
}

TEST(VerbsNegative, HostileCounts) {
  // PUSH_DIRECT_PATHS claiming 65535 records with one present.
  Bytes pdp = hex("ffff" "00" "0000" "04" "06" "0a4d0001" "2709");
  EXPECT_FALSE(PushDirectPaths::decode(pdp));
  // A record whose extension length runs past the end.
  EXPECT_FALSE(PushDirectPaths::decode(hex("0001" "00" "ffff" "04")));
  // Address length past the end.
  EXPECT_FALSE(PushDirectPaths::decode(hex("0001" "00" "0000" "04" "ff" "0a4d0001")));
  // OK(MULTICAST_GATHER) listing 65535 members with one present.
  Bytes okg = hex("d5a72ff358c0ffee" "ffffffffffff" "0a93112a" "00000001" "ffff" "eb8cb7d1c8");
  EXPECT_FALSE(OkMulticastGather::decode(okg));
  okg[8 + 6 + 4 + 4] = 0;
  okg[8 + 6 + 4 + 5] = 1;
  EXPECT_TRUE(OkMulticastGather::decode(okg));
  // HELLO moons: 65535 announced.
  EXPECT_FALSE(HelloMoons::decode(hex("ffff" "7f" "0000000000000001" "0000000000000002")));
  EXPECT_TRUE(HelloMoons::decode(hex("0001" "7f" "0000000000000001" "0000000000000002")));
  EXPECT_FALSE(HelloMoons::decode(hex("0000" "00")));  // trailing byte
  EXPECT_FALSE(HelloMoons::decode({}));
  // NETWORK_CREDENTIALS: no COMs, 65535 capabilities announced, none present.
  EXPECT_FALSE(NetworkCredentials::decode(hex("00" "ffff")));
  // ... a truncated count.
  EXPECT_FALSE(NetworkCredentials::decode(hex("00" "00")));
  // ... no terminator at all.
  EXPECT_FALSE(NetworkCredentials::decode({}));
  // Config chunk: data length past the end; signature length past the end.
  EXPECT_FALSE(ConfigChunk::decode(hex("d5a72ff358c0ffee" "ffff" "00")));
  EXPECT_FALSE(ConfigChunk::decode(hex("d5a72ff358c0ffee" "0001" "41" "00" "0000000000000001"
                                       "00000001" "00000000" "01" "ffff" "00")));
  // ERROR(NETWORK_AUTHENTICATION_REQUIRED) with a dictionary length past the end.
  EXPECT_FALSE(ErrorMessage::decode(hex("0b" "0102030405060708" "09" "d5a72ff358c0ffee" "0100" "41")));
  // WHOIS: empty and partial address.
  EXPECT_FALSE(Whois::decode({}));
  EXPECT_FALSE(Whois::decode(hex("0102030405" "01")));
  // OK(WHOIS) with nothing, or a truncated identity.
  EXPECT_FALSE(OkWhois::decode({}));
  EXPECT_FALSE(OkWhois::decode(hex("8fec3e8ae400" "7c88")));
  // RENDEZVOUS with an address length that is neither 4 nor 16.
  EXPECT_FALSE(Rendezvous::decode(hex("00" "d5a72ff358" "2712" "05" "0a4d000200")));
  EXPECT_FALSE(Rendezvous::decode(hex("00" "d5a72ff358" "2712" "10" "0a4d0002")));
  // MULTICAST_LIKE with a partial tuple.
  EXPECT_FALSE(MulticastLike::decode(Bytes(17, 1)));
  EXPECT_FALSE(MulticastLike::decode(Bytes(19, 1)));
  // USER_MESSAGE shorter than its type ID.
  EXPECT_FALSE(UserMessage::decode(Bytes(7, 1)));
  // OK / ERROR envelopes shorter than their fixed part.
  EXPECT_FALSE(OkMessage::decode(Bytes(8, 1)));
  EXPECT_FALSE(ErrorMessage::decode(Bytes(9, 1)));
  // EXT_FRAME announcing a COM that is not there (version byte 0).
  EXPECT_FALSE(ExtFrame::decode(hex("d5a72ff358c0ffee" "01" "00" "ffffffffffff" "ee702c6679cb" "0800")));
  // MULTICAST_GATHER with a COM flag but a bad COM (version 1, 9 qualifiers > 8).
  EXPECT_FALSE(MulticastGather::decode(hex("d5a72ff358c0ffee" "01" "ffffffffffff" "00000000" "00000021" "01" "0009")));
  // NETWORK_CONFIG never accepts the legacy short form; OK(NETWORK_CONFIG_REQUEST) does.
  Bytes legacy = hex("d5a72ff358c0ffee" "0003" "763d37");
  EXPECT_FALSE(NetworkConfigPush::decode(legacy));
  auto lc = ConfigChunk::decode(legacy);
  ASSERT_TRUE(lc);
  EXPECT_TRUE(lc->legacy);
  EXPECT_FALSE(lc->verify(published("controller")));
  EXPECT_EQ(enc(*lc), legacy);
}

TEST(VerbsNegative, HelloRejectsBadIdentityAndPartialPlanet) {
  auto s = samples();
  const Bytes& hello = s.at("HELLO").second;
  // Identity type byte (payload offset 13 + 5) not 0.
  Bytes bad = hello;
  bad[18] = 1;
  EXPECT_FALSE(Hello::decode(bad));
  // A private-key length in a HELLO identity.
  bad = hello;
  bad[13 + 70] = 64;
  EXPECT_FALSE(Hello::decode(bad));
  // Stop after the identity, after the sent-to address: accepted (old senders).
  auto h = Hello::decode(ByteSpan(hello).first(84)).value();
  EXPECT_FALSE(h.sent_to);
  EXPECT_FALSE(h.planet);
  h = Hello::decode(ByteSpan(hello).first(84 + 7)).value();
  ASSERT_TRUE(h.sent_to);
  EXPECT_FALSE(h.planet);
  // A partial planet ID/timestamp is an error.
  EXPECT_FALSE(Hello::decode(ByteSpan(hello).first(84 + 7 + 8)));
  // Unknown InetAddress type in sent-to.
  bad = hello;
  bad[84] = 0x09;
  EXPECT_FALSE(Hello::decode(bad));
}

// ---- Synthetic round trips for what the captures lack -------------------------------------------

template <class T>
void round_trip(const T& msg, Verb verb) {
  Bytes b = enc(msg);
  auto m = decode_message(verb, b);
  ASSERT_TRUE(m) << verb_name(verb) << ": " << m.error();
  ASSERT_TRUE(std::holds_alternative<T>(*m)) << verb_name(verb);
  EXPECT_EQ(message_verb(*m), verb);
  EXPECT_EQ(to_hex(encode(*m)), to_hex(b)) << verb_name(verb);
}

Com sample_com() {
  static Com c = [] {
    auto ctrl = runtime::load_identity_file(kVectors + "/controller.identity.secret").value();
    Com com = Com::make(1795605736580ULL, 1800000, kNwid, published("nodea"));
    EXPECT_TRUE(com.sign(ctrl));
    return com;
  }();
  return c;
}

TEST(VerbsSynthetic, ExtFrame) {
  const uint8_t body[] = {0x45, 0, 0, 20};
  ExtFrame f;
  f.nwid = kNwid;
  f.flags = ExtFrame::kFlagAckRequested;
  f.to = Mac::from_address(kNodeB, kNwid);
  f.from = Mac(0x020000000001ULL);
  f.ethertype = 0x0800;
  f.payload = body;
  round_trip(f, Verb::ExtFrame);
  Bytes b = enc(f);
  EXPECT_EQ(to_hex(b), "d5a72ff358c0ffee" "10" "ee144cef22e7" "020000000001" "0800" "45000014");
  // With a COM: flag 0x01 is derived from the optional field.
  f.com = sample_com();
  f.flags = 0x02;  // TEE copy (§3.6 table); kept as is
  round_trip(f, Verb::ExtFrame);
  const Bytes d_wire = enc(f);  // decoded views point into this buffer
  auto d = ExtFrame::decode(d_wire).value();
  EXPECT_EQ(d.flags, 0x03);
  ASSERT_TRUE(d.com);
  EXPECT_TRUE(*d.com == sample_com());
  EXPECT_EQ(d.to, f.to);
  EXPECT_EQ(d.from, f.from);
  EXPECT_EQ(Bytes(d.payload.begin(), d.payload.end()), Bytes(std::begin(body), std::end(body)));
  // Flag says COM, COM removed: encode clears the flag.
  f.com.reset();
  f.flags = 0x01;
  EXPECT_EQ(enc(f)[8], 0x00);
}

TEST(VerbsSynthetic, OkBodies) {
  OkMessage ok;
  ok.in_re_verb = Verb::ExtFrame;
  ok.in_re_packet_id = 0x0102030405060708ULL;
  ok.body = OkExtFrame{kNwid};
  round_trip(ok, Verb::Ok);
  EXPECT_EQ(to_hex(enc(ok)), "07" "0102030405060708" "d5a72ff358c0ffee");

  OkMulticastFrame omf;
  omf.nwid = kNwid;
  omf.group = MulticastGroup::broadcast();
  omf.gathered = GatherResults{3, {kNodeA, kNodeB}};
  ok.in_re_verb = Verb::MulticastFrame;
  ok.body = omf;
  round_trip(ok, Verb::Ok);
  EXPECT_EQ(to_hex(enc(ok)), "0e" "0102030405060708" "d5a72ff358c0ffee" "ffffffffffff" "00000000"
                             "02" "00000003" "0002" "8fec3e8ae4" "eb8cb7d1c8");
  omf.com = sample_com();  // old responders: flag 0x01 + COM before the results
  ok.body = omf;
  round_trip(ok, Verb::Ok);
  const Bytes d_wire = enc(ok);  // decoded views point into this buffer
  auto d = OkMessage::decode(d_wire).value();
  const auto& b = std::get<OkMulticastFrame>(d.body);
  EXPECT_EQ(b.flags, 0x03);
  EXPECT_TRUE(b.com);
  EXPECT_EQ(b.gathered->members.size(), 2u);

  // OK(HELLO) from an old responder: no address, no worlds; and one with a planet update.
  OkHello oh;
  oh.timestamp = 1234;
  oh.protocol_version = 4;
  ok.in_re_verb = Verb::Hello;
  ok.body = oh;
  round_trip(ok, Verb::Ok);
  EXPECT_EQ(enc(ok).size(), 9u + 13u);
  std::ifstream in(kVectors + "/planet", std::ios::binary);
  Bytes planet((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  oh.observed_from = InetAddress::parse("10.77.0.3/9995");
  oh.world_updates = ByteSpan(planet);
  ok.body = oh;
  round_trip(ok, Verb::Ok);
  const Bytes dh_wire = enc(ok);  // decoded views point into this buffer
  auto dh = OkMessage::decode(dh_wire).value();
  auto worlds = std::get<OkHello>(dh.body).worlds();
  ASSERT_TRUE(worlds) << worlds.error();
  ASSERT_EQ(worlds->size(), 1u);
  EXPECT_EQ((*worlds)[0].id, 0x76adf1u);
  EXPECT_TRUE((*worlds)[0].verify());
  // A world list with a truncated world fails to parse (the OK itself is fine).
  Bytes cut(planet.begin(), planet.end() - 1);
  oh.world_updates = ByteSpan(cut);
  EXPECT_FALSE(oh.worlds());

  // Unknown in-re verb: raw body.
  ok.in_re_verb = Verb::PushDirectPaths;
  ok.body = RawBody{planet};
  round_trip(ok, Verb::Ok);
  EXPECT_TRUE(std::holds_alternative<RawBody>(OkMessage::decode(enc(ok))->body));
}

TEST(VerbsSynthetic, ErrorBodies) {
  ErrorMessage e;
  e.in_re_verb = Verb::MulticastFrame;
  e.in_re_packet_id = 42;
  e.code = ErrorCode::UnwantedMulticast;
  e.body = ErrorUnwantedMulticast{kNwid, MulticastGroup{Mac::broadcast(), 0x0a93112a}};
  round_trip(e, Verb::Error);
  EXPECT_EQ(to_hex(enc(e)), "0e" "000000000000002a" "08" "d5a72ff358c0ffee" "ffffffffffff" "0a93112a");

  const std::string dict = "aV=1\niU=https://issuer.example\naN=nonce";
  e.in_re_verb = Verb::NetworkConfigRequest;
  e.code = ErrorCode::NetworkAuthenticationRequired;
  e.body = ErrorNetwork{kNwid, as_bytes(dict)};
  round_trip(e, Verb::Error);
  const Bytes d_wire = enc(e);  // decoded views point into this buffer
  auto d = ErrorMessage::decode(d_wire).value();
  const auto& en = std::get<ErrorNetwork>(d.body);
  ASSERT_TRUE(en.info);
  EXPECT_EQ(std::string(en.info->begin(), en.info->end()), dict);
  e.body = ErrorNetwork{kNwid, std::nullopt};  // "missing dictionary" form
  round_trip(e, Verb::Error);

  // NEED_MEMBERSHIP_CERTIFICATE: exactly [8] nwid.
  e.in_re_verb = Verb::Frame;
  e.code = ErrorCode::NeedMembershipCertificate;
  e.body = ErrorNetwork{kNwid, std::nullopt};
  round_trip(e, Verb::Error);
  EXPECT_FALSE(ErrorMessage::decode(cat(enc(e), hex("0000"))));
  // OBJ_NOT_FOUND: [8] nwid in re NETWORK_CONFIG_REQUEST, raw otherwise.
  e.code = ErrorCode::ObjNotFound;
  e.in_re_verb = Verb::NetworkConfigRequest;
  round_trip(e, Verb::Error);
  e.in_re_verb = Verb::Whois;
  Bytes raw = hex("8fec3e8ae4");
  e.body = RawBody{raw};
  round_trip(e, Verb::Error);
  // IDENTITY_COLLISION: empty body.
  e.in_re_verb = Verb::Hello;
  e.code = ErrorCode::IdentityCollision;
  e.body = RawBody{};
  round_trip(e, Verb::Error);
  EXPECT_EQ(enc(e).size(), 10u);
  // Unknown code values survive.
  Bytes odd = hex("01" "0000000000000001" "7e" "abcd");
  auto o = ErrorMessage::decode(odd).value();
  EXPECT_EQ(uint8_t(o.code), 0x7e);
  EXPECT_EQ(enc(o), odd);
}

TEST(VerbsSynthetic, HelloWithMoonsAndOldForms) {
  const auto& a = Keyring::get();
  const Identity* na = a.id(kNodeA);
  ASSERT_NE(na, nullptr);
  HelloMoons moons;
  moons.moons.push_back({World::Type::Moon, 0x000000765ad94991ULL, 1795605700000ULL});
  moons.moons.push_back({World::Type::Moon, 0x0000001122334455ULL, 0});
  Bytes moon_bytes = enc(moons);
  EXPECT_EQ(moon_bytes.size(), 2u + 2 * 17);

  Hello h;
  h.timestamp = 1795605699610ULL;
  h.identity = Identity::parse(na->to_string(false)).value();
  h.sent_to = InetAddress::parse("10.77.0.1/9993");
  h.planet = Hello::Planet{0x76adf1, 1795605682582ULL};
  h.moons_region = moon_bytes;

  // Build a full packet: header, payload, cryptField over the region, armor (cipher 0).
  Writer w;
  begin_packet(w, 0x1122334455667788ULL, kRoot, kNodeA, Verb::Hello);
  h.encode(w);
  Bytes pkt = w.take();
  const size_t off = kHeaderSize + h.crypt_offset(pkt.size() - kHeaderSize);
  PeerKey key(na->agree(*Keyring::get().id(kRoot)));
  ASSERT_TRUE(crypt_field(key.key(), pkt, off, pkt.size() - off));
  ASSERT_TRUE(armor(pkt, key, Cipher::None));

  // Receive: dearmor, decode, decrypt the region, parse the moons.
  ASSERT_TRUE(dearmor(pkt, key));
  auto d = Hello::decode(PacketView(pkt).payload());
  ASSERT_TRUE(d) << d.error();
  EXPECT_TRUE(d->identity == *na);
  EXPECT_EQ(d->sent_to->to_string(), "10.77.0.1/9993");
  EXPECT_EQ(d->planet->timestamp, 1795605682582ULL);
  ASSERT_EQ(d->moons_region.size(), moon_bytes.size());
  EXPECT_NE(Bytes(d->moons_region.begin(), d->moons_region.end()), moon_bytes) << "still encrypted";
  ASSERT_TRUE(crypt_field(key.key(), pkt, off, pkt.size() - off));
  auto dm = HelloMoons::decode(ByteSpan(pkt).subspan(off));
  ASSERT_TRUE(dm) << dm.error();
  ASSERT_EQ(dm->moons.size(), 2u);
  EXPECT_EQ(dm->moons[0].id, 0x000000765ad94991ULL);
  EXPECT_EQ(dm->moons[1].timestamp, 0u);

  // Old forms: every optional field dropped in turn.
  h.moons_region = {};
  round_trip(h, Verb::Hello);
  h.planet.reset();
  round_trip(h, Verb::Hello);
  h.sent_to.reset();
  round_trip(h, Verb::Hello);
  EXPECT_EQ(enc(h).size(), 13u + 71u);
  // A sent-to of "unknown" (type 0).
  h.sent_to = InetAddress{};
  round_trip(h, Verb::Hello);
  EXPECT_EQ(enc(h).size(), 13u + 71u + 1u);
}

TEST(VerbsSynthetic, PushDirectPathsVariants) {
  PushDirectPaths p;
  PushDirectPaths::Path v4;
  v4.address = *InetAddress::parse("10.77.0.4/9996");
  PushDirectPaths::Path v6;
  v6.flags = PushDirectPaths::kFlagClusterRedirect;
  v6.address = *InetAddress::parse("fd00::1/9993");
  const Bytes ext = {0xaa, 0xbb};
  v6.extensions = ext;
  PushDirectPaths::Path other;
  other.other_type = 9;
  const Bytes raw = {1, 2, 3};
  other.other_address = raw;
  p.paths = {v4, v6, other};
  round_trip(p, Verb::PushDirectPaths);
  EXPECT_EQ(to_hex(enc(p)),
            "0003"
            "00" "0000" "04" "06" "0a4d0004" "270c"
            "02" "0002" "aabb" "06" "12" "fd000000000000000000000000000001" "2709"
            "00" "0000" "09" "03" "010203");
  // IPv4 type with a non-IPv4 length is kept raw.
  const Bytes odd = hex("0001" "00" "0000" "04" "04" "0a4d0004");  // views point into it
  auto d = PushDirectPaths::decode(odd).value();
  EXPECT_EQ(d.paths[0].other_type, 4);
  EXPECT_EQ(to_hex(enc(d)), "0001" "00" "0000" "04" "04" "0a4d0004");
}

TEST(VerbsSynthetic, CredentialsAllSections) {
  auto ctrl = runtime::load_identity_file(kVectors + "/controller.identity.secret").value();
  NetworkCredentials nc;
  nc.coms = {sample_com()};
  Tag t;
  t.nwid = kNwid;
  t.timestamp = 1795605736580ULL;
  t.id = 7;
  t.value = 99;
  t.issued_to = kNodeA;
  ASSERT_TRUE(t.sign(ctrl));
  nc.tags = {t};
  Revocation r;
  r.id = 1;
  r.nwid = kNwid;
  r.credential_id = 7;
  r.threshold = 1795605736581ULL;
  r.target = kNodeA;
  r.credential_type = CredentialType::Tag;
  ASSERT_TRUE(r.sign(ctrl));
  nc.revocations = {r};
  Capability cap;
  cap.nwid = kNwid;
  cap.timestamp = 1795605736580ULL;
  cap.id = 3;
  ASSERT_TRUE(cap.sign(ctrl, kNodeA));
  nc.capabilities = {cap};
  round_trip(nc, Verb::NetworkCredentials);
  const Bytes d_wire = enc(nc);  // decoded views point into this buffer
  auto d = NetworkCredentials::decode(d_wire).value();
  ASSERT_EQ(d.tags.size(), 1u);
  EXPECT_TRUE(d.tags[0].verify(ctrl));
  ASSERT_EQ(d.revocations.size(), 1u);
  EXPECT_TRUE(d.revocations[0].verify(ctrl));
  ASSERT_EQ(d.capabilities.size(), 1u);
  EXPECT_TRUE(d.capabilities[0].verify(ctrl));
  EXPECT_TRUE(d.coos.empty());

  // The controller's revocation push (§7.5): 0 COMs, 0 caps, 0 tags, 1 revocation, 0 COOs.
  NetworkCredentials push;
  push.revocations = {r};
  Bytes pb = enc(push);
  EXPECT_EQ(to_hex(ByteSpan(pb).first(7)), "00" "0000" "0000" "0001");
  EXPECT_EQ(to_hex(ByteSpan(pb).last(2)), "0000");
  round_trip(push, Verb::NetworkCredentials);

  // Old senders stop after any complete section.
  for (uint8_t sections = 0; sections <= 4; ++sections) {
    NetworkCredentials old;
    old.coms = {sample_com()};
    old.sections = sections;
    Bytes ob = enc(old);
    auto od = NetworkCredentials::decode(ob);
    ASSERT_TRUE(od) << od.error();
    EXPECT_EQ(od->sections, sections);
    EXPECT_EQ(enc(*od), ob);
  }
}

TEST(VerbsSynthetic, MulticastFrameAllFlags) {
  const Bytes body(60, 0x5a);
  MulticastFrame m;
  m.nwid = kNwid;
  m.flags = MulticastFrame::kFlagReplicate;
  m.com = sample_com();
  m.gather_limit = 33;
  m.source = Mac(0x3200000000aaULL);
  m.group = MulticastGroup{Mac(0x3333ff000001ULL), 0};
  m.ethertype = 0x86dd;
  m.payload = body;
  round_trip(m, Verb::MulticastFrame);
  const Bytes d_wire = enc(m);  // decoded views point into this buffer
  auto d = MulticastFrame::decode(d_wire).value();
  EXPECT_EQ(d.flags, 0x0f);
  EXPECT_EQ(d.gather_limit, std::optional<uint32_t>(33));
  EXPECT_EQ(d.source, m.source);
  EXPECT_EQ(d.group, m.group);
  // Only the source MAC.
  m.com.reset();
  m.gather_limit.reset();
  m.flags = 0;
  round_trip(m, Verb::MulticastFrame);
  EXPECT_EQ(to_hex(ByteSpan(enc(m)).first(9 + 6)), "d5a72ff358c0ffee" "04" "3200000000aa");
}

TEST(VerbsSynthetic, SmallVerbs) {
  // RENDEZVOUS over IPv6.
  Rendezvous rv;
  rv.with = kNodeB;
  rv.at = *InetAddress::parse("fd00::4/9996");
  round_trip(rv, Verb::Rendezvous);
  EXPECT_EQ(to_hex(enc(rv)), "00" "eb8cb7d1c8" "270c" "10" "fd000000000000000000000000000004");
  // USER_MESSAGE with and without data.
  const Bytes data = {'h', 'i'};
  round_trip(UserMessage{0x10000, data}, Verb::UserMessage);
  round_trip(UserMessage{0x10000, {}}, Verb::UserMessage);
  EXPECT_EQ(to_hex(enc(UserMessage{0x10000, data})), "0000000000010000" "6869");
  // REMOTE_TRACE: two dictionaries, an empty one, and an unterminated tail.
  Bytes rt = hex("613d31" "00" "00" "623d32" "00" "7878");
  auto t = RemoteTrace::decode(rt).value();
  ASSERT_EQ(t.dictionaries.size(), 3u);
  EXPECT_EQ(t.dictionaries[0].size(), 3u);
  EXPECT_TRUE(t.dictionaries[1].empty());
  EXPECT_EQ(t.unterminated.size(), 2u);
  EXPECT_EQ(enc(t), rt);
  round_trip(t, Verb::RemoteTrace);
  // Raw multipath verbs and NOP.
  const Bytes ack = {0, 0, 1, 0};
  round_trip(Ack{{ack}}, Verb::Ack);
  round_trip(QosMeasurement{{ack}}, Verb::QosMeasurement);
  round_trip(PathNegotiationRequest{{ack}}, Verb::PathNegotiationRequest);
  round_trip(Nop{{ack}}, Verb::Nop);
  // Unassigned verbs are not errors.
  auto u = decode_message(Verb(0x0f), ack);
  ASSERT_TRUE(u);
  ASSERT_TRUE(std::holds_alternative<UnknownVerb>(*u));
  EXPECT_EQ(uint8_t(message_verb(*u)), 0x0f);
  EXPECT_EQ(encode(*u), ack);
  // The compressed flag bit in a verb value is ignored by dispatch.
  auto e = decode_message(Verb(0x88), ack);
  ASSERT_TRUE(e);
  EXPECT_TRUE(std::holds_alternative<Echo>(*e));
  // An in-re verb byte with high bits set is kept raw (unknown verb, raw body).
  Bytes odd_ok = hex("81" "0102030405060708" "aabb");
  auto oo = OkMessage::decode(odd_ok).value();
  EXPECT_EQ(uint8_t(oo.in_re_verb), 0x81);
  EXPECT_TRUE(std::holds_alternative<RawBody>(oo.body));
  EXPECT_EQ(enc(oo), odd_ok);
  // MULTICAST_LIKE with zero and two tuples.
  round_trip(MulticastLike{}, Verb::MulticastLike);
  MulticastLike ml;
  ml.entries.push_back({kNwid, MulticastGroup::broadcast()});
  ml.entries.push_back({kNwid, MulticastGroup{Mac(0x01005e000001ULL), 0}});
  round_trip(ml, Verb::MulticastLike);
  EXPECT_EQ(enc(ml).size(), 36u);
  // NETWORK_CONFIG_REQUEST from an old sender (no held revision/timestamp).
  NetworkConfigRequest r;
  r.nwid = kNwid;
  const std::string md = "v=0000000000000007";
  r.metadata = as_bytes(md);
  r.held.reset();
  round_trip(r, Verb::NetworkConfigRequest);
  EXPECT_EQ(enc(r).size(), 10u + md.size());
  r.held = NetworkConfigRequest::Held{5, 6};
  round_trip(r, Verb::NetworkConfigRequest);
  EXPECT_FALSE(NetworkConfigRequest::decode(cat(enc(r), hex("00"))));
  // The NETWORK_CONFIG ack body is exactly 16 bytes.
  NetworkConfigAck ack16{kNwid, 0x1234};
  EXPECT_EQ(to_hex(enc(ack16)), "d5a72ff358c0ffee" "0000000000001234");
  EXPECT_FALSE(NetworkConfigAck::decode(Bytes(15, 0)));
  EXPECT_FALSE(NetworkConfigAck::decode(Bytes(17, 0)));
}

TEST(VerbsSynthetic, ConfigChunkSignAndFold) {
  auto ctrl = runtime::load_identity_file(kVectors + "/controller.identity.secret").value();
  const std::string dict = "v=0000000000000007\nnwid=d5a72ff358c0ffee";
  ConfigChunk c;
  c.nwid = kNwid;
  c.data = as_bytes(dict).first(10);
  c.update_id = 0xabcdef;
  c.total_length = uint32_t(dict.size());
  c.index = 0;
  crypto::Signature sig = ctrl.sign(c.signing_form());
  c.signature = sig;
  EXPECT_TRUE(c.verify(ctrl));
  round_trip(NetworkConfigPush{c}, Verb::NetworkConfig);
  // chunk_id folds signature bytes 0..15: byte i into position i mod 8.
  uint8_t f[8] = {};
  for (int i = 0; i < 16; ++i) f[i % 8] ^= sig[size_t(i)];
  EXPECT_EQ(c.chunk_id(), load_be64(f));
  // Wrong signature type or length never verifies.
  ConfigChunk t = c;
  t.signature_type = 2;
  EXPECT_FALSE(t.verify(ctrl));
  t = c;
  t.signature = ByteSpan(sig).first(95);
  EXPECT_FALSE(t.verify(ctrl));
  round_trip(NetworkConfigPush{t}, Verb::NetworkConfig);  // still a well-formed chunk
}

}  // namespace

// ---- Seed corpus generator for tests/fuzz/fuzz_verbs ---------------------------------------------
// Not a check: with ZTCORE_WRITE_FUZZ_CORPUS=<dir> it writes selector byte + plaintext payload
// files (up to 3 per verb label, distinct sizes, from both captures) plus synthetic messages
// for the verbs the captures lack. Regenerate with:
//   ZTCORE_WRITE_FUZZ_CORPUS=tests/fuzz/corpus/fuzz_verbs build/tests/ztcore_tests \
//     --gtest_filter=VerbsCorpus.*
TEST(VerbsCorpus, Write) {
  const char* dir = std::getenv("ZTCORE_WRITE_FUZZ_CORPUS");
  if (!dir) GTEST_SKIP() << "set ZTCORE_WRITE_FUZZ_CORPUS=<dir> to write the seed corpus";
  auto write = [&](const std::string& name, uint8_t selector, ByteSpan payload) {
    std::ofstream out(std::string(dir) + "/" + name, std::ios::binary);
    out.put(char(selector));
    out.write(reinterpret_cast<const char*>(payload.data()), std::streamsize(payload.size()));
    ASSERT_TRUE(out.good()) << name;
  };
  std::map<std::string, std::set<size_t>> sizes;
  for (const Capture* c : {&session(), &fragmented()})
    for (const auto& p : c->packets) {
      auto m = decode_message(p.verb(), p.payload());
      ASSERT_TRUE(m);
      std::string l = label(*m);
      auto& s = sizes[l];
      if (s.size() >= 3 || s.count(p.payload().size())) continue;
      s.insert(p.payload().size());
      std::string name = l;
      for (char& ch : name)
        if (ch == '(' || ch == ')') ch = '_';
      write(name + std::to_string(s.size()), uint8_t(p.verb()), p.payload());
    }
  auto synth = [&](const std::string& name, Verb v, const Message& m) {
    write("synthetic_" + name, uint8_t(v), encode(m));
  };
  const Bytes body = {0x45, 0, 0, 20, 1, 2, 3, 4};
  ExtFrame ef{kNwid, 0x10, sample_com(), Mac(0xee144cef22e7ULL), Mac(0x020000000001ULL), 0x0800, body};
  synth("ext_frame_com", Verb::ExtFrame, ef);
  ef.com.reset();
  synth("ext_frame", Verb::ExtFrame, ef);
  OkMulticastFrame omf{kNwid, MulticastGroup::broadcast(), 0, sample_com(), GatherResults{2, {kNodeA}}};
  synth("ok_multicast_frame", Verb::Ok, OkMessage{Verb::MulticastFrame, 1, omf});
  synth("ok_ext_frame", Verb::Ok, OkMessage{Verb::ExtFrame, 2, OkExtFrame{kNwid}});
  const std::string dict = "aV=0\naU=https://example.com/auth";
  synth("error_auth_required", Verb::Error,
        ErrorMessage{Verb::NetworkConfigRequest, 3, ErrorCode::NetworkAuthenticationRequired,
                     ErrorNetwork{kNwid, as_bytes(dict)}});
  synth("error_unwanted_multicast", Verb::Error,
        ErrorMessage{Verb::MulticastFrame, 4, ErrorCode::UnwantedMulticast,
                     ErrorUnwantedMulticast{kNwid, MulticastGroup::broadcast()}});
  synth("error_need_com", Verb::Error,
        ErrorMessage{Verb::Frame, 5, ErrorCode::NeedMembershipCertificate, ErrorNetwork{kNwid, {}}});
  MulticastFrame mf{kNwid, 0x08, sample_com(), 7, Mac(0x3200000000aaULL), MulticastGroup::broadcast(), 0x0806, body};
  synth("multicast_frame_all", Verb::MulticastFrame, mf);
  PushDirectPaths pdp;
  pdp.paths.push_back({0x02, body, *InetAddress::parse("fd00::1/9993"), 0, {}});
  pdp.paths.push_back({0x00, {}, InetAddress{}, 9, body});
  synth("push_direct_paths_v6", Verb::PushDirectPaths, pdp);
  synth("user_message", Verb::UserMessage, UserMessage{0x10000, body});
  const Bytes rt = {'a', '=', '1', 0, 0, 'b', '=', '2', 0, 'x'};
  synth("remote_trace", Verb::RemoteTrace, RemoteTrace::decode(rt).value());
  synth("rendezvous_v6", Verb::Rendezvous, Rendezvous{0, kNodeB, *InetAddress::parse("fd00::4/9996")});
  HelloMoons hm;
  hm.moons.push_back({World::Type::Moon, 0x765ad94991ULL, 1});
  write("hello_moons", 0x20, enc(hm));
  write("config_ack", 0x21, enc(NetworkConfigAck{kNwid, 9}));
  write("error_network_info", 0x23, enc(ErrorNetwork{kNwid, as_bytes(dict)}));
}
