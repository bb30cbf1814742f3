// Verb payload codecs (PROTOCOL.md §3). Each message's reader and writer sit together; the
// byte layouts are in verbs.hpp next to each struct.
#include "proto/verbs.hpp"

#include <algorithm>
#include <string>

namespace zt::proto {
namespace {

// Error helpers: "<WHAT>: truncated" etc.
Error fail(const char* what, const char* why) { return err(std::string(what) + ": " + why); }
Error fail(const char* what, const std::string& why) { return err(std::string(what) + ": " + why); }

// After a fixed layout: the reader must have succeeded and consumed everything.
template <class T>
Result<T> finish(Reader& r, T&& v, const char* what) {
  if (!r.ok()) return fail(what, "truncated");
  if (!r.done()) return fail(what, std::to_string(r.remaining()) + " trailing bytes");
  return std::forward<T>(v);
}

// Upper bound for reserve() with a count taken from the wire: never more elements than the
// remaining bytes could hold.
size_t bounded(size_t count, const Reader& r, size_t min_elem_size) {
  return std::min(count, r.remaining() / std::max<size_t>(min_elem_size, 1));
}

Result<Com> read_com(Reader& r, const char* what) {
  auto c = Com::read(r);
  if (!c) return fail(what, "COM: " + c.error());
  return c;
}

}  // namespace

// ---- Gather results (§3.12): [4] total | [2] N | N×[5] --------------------------------------
Result<GatherResults> GatherResults::read(Reader& r) {
  GatherResults g;
  g.total_known = r.u32();
  size_t n = r.u16();
  if (!r.ok()) return fail("gather results", "truncated");
  g.members.reserve(bounded(n, r, 5));
  for (size_t i = 0; i < n && r.ok(); ++i) g.members.push_back(r.u40());
  if (!r.ok()) return fail("gather results", "truncated member list");
  return g;
}

void GatherResults::write(Writer& w) const {
  w.u32(total_known);
  size_t n = std::min<size_t>(members.size(), 0xffff);
  w.u16(uint16_t(n));
  for (size_t i = 0; i < n; ++i) w.u40(members[i]);
}

// ---- HELLO (§3.2) ---------------------------------------------------------------------------
Result<Hello> Hello::decode(ByteSpan payload) {
  Reader r(payload);
  Hello h;
  h.protocol_version = r.u8();
  h.version_major = r.u8();
  h.version_minor = r.u8();
  h.version_revision = r.u16();
  h.timestamp = r.u64();
  if (!r.ok()) return fail("HELLO", "truncated");
  auto id = Identity::read(r);
  if (!id) return fail("HELLO", "identity: " + id.error());
  h.identity = std::move(*id);
  if (h.identity.has_private()) return fail("HELLO", "identity carries a private key");
  // Everything from here on is optional; old senders stop after any complete field.
  if (r.remaining() == 0) return h;
  auto at = InetAddress::read(r);
  if (!at) return fail("HELLO", "sent-to address: " + at.error());
  h.sent_to = *at;
  if (r.remaining() == 0) return h;
  Planet p;
  p.id = r.u64();
  p.timestamp = r.u64();
  if (!r.ok()) return fail("HELLO", "truncated planet id/timestamp");
  h.planet = p;
  h.moons_region = r.rest();  // cryptField region, to the end of the packet
  return h;
}

void Hello::encode(Writer& w) const {
  w.u8(protocol_version).u8(version_major).u8(version_minor).u16(version_revision).u64(timestamp);
  identity.write(w, false);
  // Optional fields are written up to the last one present (earlier ones are implied).
  const bool want_region = !moons_region.empty();
  const bool want_planet = planet.has_value() || want_region;
  const bool want_sent_to = sent_to.has_value() || want_planet;
  if (!want_sent_to) return;
  sent_to.value_or(InetAddress{}).write(w);
  if (!want_planet) return;
  Planet p = planet.value_or(Planet{});
  w.u64(p.id).u64(p.timestamp);
  w.bytes(moons_region);
}

// HELLO cryptField plaintext: [2] N | N × ([1] type | [8] id | [8] ts).
Result<HelloMoons> HelloMoons::decode(ByteSpan plaintext) {
  Reader r(plaintext);
  HelloMoons m;
  size_t n = r.u16();
  m.moons.reserve(bounded(n, r, 17));
  for (size_t i = 0; i < n && r.ok(); ++i) {
    Entry e;
    e.type = World::Type(r.u8());
    e.id = r.u64();
    e.timestamp = r.u64();
    m.moons.push_back(e);
  }
  return finish(r, std::move(m), "HELLO moons");
}

void HelloMoons::encode(Writer& w) const {
  size_t n = std::min<size_t>(moons.size(), 0xffff);
  w.u16(uint16_t(n));
  for (size_t i = 0; i < n; ++i) w.u8(uint8_t(moons[i].type)).u64(moons[i].id).u64(moons[i].timestamp);
}

// ---- OK(HELLO) (§3.2) ----------------------------------------------------------------------
Result<OkHello> OkHello::decode(ByteSpan body) {
  Reader r(body);
  OkHello o;
  o.timestamp = r.u64();
  o.protocol_version = r.u8();
  o.version_major = r.u8();
  o.version_minor = r.u8();
  o.version_revision = r.u16();
  if (!r.ok()) return fail("OK(HELLO)", "truncated");
  if (r.remaining() == 0) return o;
  auto from = InetAddress::read(r);
  if (!from) return fail("OK(HELLO)", "address: " + from.error());
  o.observed_from = *from;
  if (r.remaining() == 0) return o;
  size_t len = r.u16();
  ByteSpan worlds = r.bytes(len);
  if (!r.ok()) return fail("OK(HELLO)", "truncated world updates");
  o.world_updates = worlds;
  return finish(r, std::move(o), "OK(HELLO)");
}

void OkHello::encode(Writer& w) const {
  w.u64(timestamp).u8(protocol_version).u8(version_major).u8(version_minor).u16(version_revision);
  if (!observed_from && !world_updates) return;
  observed_from.value_or(InetAddress{}).write(w);
  if (!world_updates) return;
  size_t len = std::min<size_t>(world_updates->size(), 0xffff);
  w.u16(uint16_t(len));
  w.bytes(world_updates->first(len));
}

Result<std::vector<World>> OkHello::worlds() const {
  std::vector<World> out;
  if (!world_updates) return out;
  Reader r(*world_updates);
  while (r.ok() && r.remaining() > 0) {
    auto w = World::read(r);
    if (!w) return fail("OK(HELLO) world update", w.error());
    out.push_back(std::move(*w));
  }
  return out;
}

// ---- OK(WHOIS) (§3.3): identities back to back ---------------------------------------------
Result<OkWhois> OkWhois::decode(ByteSpan body) {
  Reader r(body);
  OkWhois o;
  while (r.ok() && r.remaining() > 0) {
    auto id = Identity::read(r);
    if (!id) return fail("OK(WHOIS)", "identity: " + id.error());
    if (id->has_private()) return fail("OK(WHOIS)", "identity carries a private key");
    o.identities.push_back(std::move(*id));
  }
  if (o.identities.empty()) return fail("OK(WHOIS)", "no identity");
  return finish(r, std::move(o), "OK(WHOIS)");
}

void OkWhois::encode(Writer& w) const {
  for (const auto& id : identities) id.write(w, false);
}

// ---- NETWORK_CONFIG acknowledgement (§3.10): [8] nwid | [8] update id --------------------------
Result<NetworkConfigAck> NetworkConfigAck::decode(ByteSpan body) {
  Reader r(body);
  NetworkConfigAck a;
  a.nwid = r.u64();
  a.update_id = r.u64();
  return finish(r, std::move(a), "NETWORK_CONFIG ack");
}

void NetworkConfigAck::encode(Writer& w) const { w.u64(nwid).u64(update_id); }

// ---- Config chunk (§3.10) --------------------------------------------------------------------
Result<ConfigChunk> ConfigChunk::decode(ByteSpan body, bool allow_legacy) {
  Reader r(body);
  ConfigChunk c;
  c.nwid = r.u64();
  size_t len = r.u16();
  c.data = r.bytes(len);
  if (!r.ok()) return fail("config chunk", "truncated");
  if (r.remaining() == 0) {
    if (!allow_legacy) return fail("config chunk", "legacy form (no signature) not allowed here");
    c.legacy = true;
    return c;
  }
  c.flags = r.u8();
  c.update_id = r.u64();
  c.total_length = r.u32();
  c.index = r.u32();
  c.signature_type = r.u8();
  size_t sig_len = r.u16();
  c.signature = r.bytes(sig_len);
  return finish(r, std::move(c), "config chunk");
}

void ConfigChunk::encode(Writer& w) const {
  w.u64(nwid);
  size_t len = std::min<size_t>(data.size(), 0xffff);
  w.u16(uint16_t(len));
  w.bytes(data.first(len));
  if (legacy) return;
  w.u8(flags).u64(update_id).u32(total_length).u32(index).u8(signature_type);
  size_t sl = std::min<size_t>(signature.size(), 0xffff);
  w.u16(uint16_t(sl));
  w.bytes(signature.first(sl));
}

Bytes ConfigChunk::signing_form() const {
  Writer w(27 + data.size());
  w.u64(nwid);
  size_t len = std::min<size_t>(data.size(), 0xffff);
  w.u16(uint16_t(len));
  w.bytes(data.first(len));
  w.u8(flags).u64(update_id).u32(total_length).u32(index);
  return w.take();
}

bool ConfigChunk::verify(const Identity& controller) const {
  if (legacy || signature_type != kSignatureEd25519 || signature.size() != crypto::kSignatureSize)
    return false;
  return controller.verify(signing_form(), signature);
}

uint64_t ConfigChunk::chunk_id() const {
  uint8_t folded[8] = {};
  for (size_t i = 0; i < 16 && i < signature.size(); ++i) folded[i % 8] ^= signature[i];
  return load_be64(folded);
}

// ---- OK(MULTICAST_GATHER) (§3.12) ------------------------------------------------------------
Result<OkMulticastGather> OkMulticastGather::decode(ByteSpan body) {
  Reader r(body);
  OkMulticastGather o;
  o.nwid = r.u64();
  o.group = MulticastGroup::read(r);
  if (!r.ok()) return fail("OK(MULTICAST_GATHER)", "truncated");
  auto g = GatherResults::read(r);
  if (!g) return fail("OK(MULTICAST_GATHER)", g.error());
  o.gathered = std::move(*g);
  return finish(r, std::move(o), "OK(MULTICAST_GATHER)");
}

void OkMulticastGather::encode(Writer& w) const {
  w.u64(nwid);
  group.write(w);
  gathered.write(w);
}

// ---- OK(MULTICAST_FRAME) (§3.13) -------------------------------------------------------------
Result<OkMulticastFrame> OkMulticastFrame::decode(ByteSpan body) {
  Reader r(body);
  OkMulticastFrame o;
  o.nwid = r.u64();
  o.group = MulticastGroup::read(r);
  o.flags = r.u8();
  if (!r.ok()) return fail("OK(MULTICAST_FRAME)", "truncated");
  if (o.flags & kFlagCom) {
    auto c = read_com(r, "OK(MULTICAST_FRAME)");
    if (!c) return c.take_error();
    o.com = std::move(*c);
  }
  if (o.flags & kFlagGatherResults) {
    auto g = GatherResults::read(r);
    if (!g) return fail("OK(MULTICAST_FRAME)", g.error());
    o.gathered = std::move(*g);
  }
  return finish(r, std::move(o), "OK(MULTICAST_FRAME)");
}

void OkMulticastFrame::encode(Writer& w) const {
  uint8_t f = uint8_t(flags & ~(kFlagCom | kFlagGatherResults));
  if (com) f |= kFlagCom;
  if (gathered) f |= kFlagGatherResults;
  w.u64(nwid);
  group.write(w);
  w.u8(f);
  if (com) com->write(w);
  if (gathered) gathered->write(w);
}

// ---- OK(EXT_FRAME) (§3.6): [8] nwid ----------------------------------------------------------
Result<OkExtFrame> OkExtFrame::decode(ByteSpan body) {
  Reader r(body);
  OkExtFrame o;
  o.nwid = r.u64();
  return finish(r, std::move(o), "OK(EXT_FRAME)");
}

void OkExtFrame::encode(Writer& w) const { w.u64(nwid); }

// ---- OK envelope (§3.1): [1] in-re verb | [8] in-re id | body ---------------------------------
namespace {
template <class T>
Result<OkMessage::Body> ok_body(Result<T> r) {
  if (!r) return r.take_error();
  return OkMessage::Body(std::move(*r));
}
}  // namespace

Result<OkMessage> OkMessage::decode(ByteSpan payload) {
  Reader r(payload);
  OkMessage m;
  m.in_re_verb = Verb(r.u8());  // raw byte: a value with stray high bits is an unknown verb
  m.in_re_packet_id = r.u64();
  if (!r.ok()) return fail("OK", "truncated");
  ByteSpan body = r.rest();
  Result<Body> b = Body(RawBody{body});
  switch (m.in_re_verb) {
    case Verb::Hello: b = ok_body(OkHello::decode(body)); break;
    case Verb::Whois: b = ok_body(OkWhois::decode(body)); break;
    case Verb::Echo: b = ok_body(OkEcho::decode(body)); break;
    case Verb::NetworkConfigRequest: b = ok_body(ConfigChunk::decode(body, true)); break;
    case Verb::MulticastGather: b = ok_body(OkMulticastGather::decode(body)); break;
    case Verb::MulticastFrame: b = ok_body(OkMulticastFrame::decode(body)); break;
    case Verb::ExtFrame: b = ok_body(OkExtFrame::decode(body)); break;
    default: break;  // no defined body: keep raw
  }
  if (!b) return b.take_error();
  m.body = std::move(*b);
  return m;
}

void OkMessage::encode(Writer& w) const {
  w.u8(uint8_t(in_re_verb)).u64(in_re_packet_id);
  std::visit([&](const auto& body) { body.encode(w); }, body);
}

// ---- ERROR bodies (§3.1, §3.10, §3.11, §3.13) --------------------------------------------------
Result<ErrorNetwork> ErrorNetwork::decode(ByteSpan body, bool allow_info) {
  Reader r(body);
  ErrorNetwork e;
  e.nwid = r.u64();
  if (!r.ok()) return fail("ERROR body", "truncated network id");
  if (allow_info && r.remaining() > 0) {
    size_t len = r.u16();
    e.info = r.bytes(len);
  }
  return finish(r, std::move(e), "ERROR body");
}

void ErrorNetwork::encode(Writer& w) const {
  w.u64(nwid);
  if (!info) return;
  size_t len = std::min<size_t>(info->size(), 0xffff);
  w.u16(uint16_t(len));
  w.bytes(info->first(len));
}

Result<ErrorUnwantedMulticast> ErrorUnwantedMulticast::decode(ByteSpan body) {
  Reader r(body);
  ErrorUnwantedMulticast e;
  e.nwid = r.u64();
  e.group = MulticastGroup::read(r);
  return finish(r, std::move(e), "ERROR(UNWANTED_MULTICAST) body");
}

void ErrorUnwantedMulticast::encode(Writer& w) const {
  w.u64(nwid);
  group.write(w);
}

// ---- ERROR envelope (§3.1): [1] in-re verb | [8] in-re id | [1] code | body ------------------
Result<ErrorMessage> ErrorMessage::decode(ByteSpan payload) {
  Reader r(payload);
  ErrorMessage m;
  m.in_re_verb = Verb(r.u8());
  m.in_re_packet_id = r.u64();
  m.code = ErrorCode(r.u8());
  if (!r.ok()) return fail("ERROR", "truncated");
  ByteSpan body = r.rest();
  m.body = RawBody{body};
  auto network = [&](bool allow_info) -> Status {
    auto e = ErrorNetwork::decode(body, allow_info);
    if (!e) return e.take_error();
    m.body = std::move(*e);
    return ok_status();
  };
  Status st = ok_status();
  switch (m.code) {
    case ErrorCode::NeedMembershipCertificate: st = network(false); break;
    case ErrorCode::NetworkAccessDenied:
    case ErrorCode::NetworkAuthenticationRequired: st = network(true); break;
    case ErrorCode::ObjNotFound:
    case ErrorCode::UnsupportedOperation:
      if (m.in_re_verb == Verb::NetworkConfigRequest) st = network(false);
      break;
    case ErrorCode::UnwantedMulticast: {
      auto e = ErrorUnwantedMulticast::decode(body);
      if (!e) return e.take_error();
      m.body = std::move(*e);
      break;
    }
    default: break;  // no defined body
  }
  if (!st) return st.take_error();
  return m;
}

void ErrorMessage::encode(Writer& w) const {
  w.u8(uint8_t(in_re_verb)).u64(in_re_packet_id).u8(uint8_t(code));
  std::visit([&](const auto& b) { b.encode(w); }, body);
}

// ---- WHOIS (§3.3): N×[5] ---------------------------------------------------------------------
Result<Whois> Whois::decode(ByteSpan payload) {
  if (payload.empty()) return fail("WHOIS", "no address");
  if (payload.size() % 5 != 0) return fail("WHOIS", "length not a multiple of 5");
  Reader r(payload);
  Whois m;
  m.addresses.reserve(payload.size() / 5);
  while (r.remaining() > 0) m.addresses.push_back(r.u40());
  return finish(r, std::move(m), "WHOIS");
}

void Whois::encode(Writer& w) const {
  for (Address a : addresses) w.u40(a);
}

// ---- RENDEZVOUS (§3.4): [1] flags | [5] addr | [2] port | [1] len | ip ------------------------
Result<Rendezvous> Rendezvous::decode(ByteSpan payload) {
  Reader r(payload);
  Rendezvous m;
  m.flags = r.u8();
  m.with = r.u40();
  uint16_t port = r.u16();
  uint8_t len = r.u8();
  if (!r.ok()) return fail("RENDEZVOUS", "truncated");
  if (len == 4) {
    auto ip = r.array<4>();
    m.at = InetAddress::v4(ip.data(), port);
  } else if (len == 16) {
    auto ip = r.array<16>();
    m.at = InetAddress::v6(ip.data(), port);
  } else {
    return fail("RENDEZVOUS", "address length " + std::to_string(len) + " (want 4 or 16)");
  }
  return finish(r, std::move(m), "RENDEZVOUS");
}

void Rendezvous::encode(Writer& w) const {
  w.u8(flags).u40(with).u16(at.port()).u8(uint8_t(at.ip_size()));
  w.bytes(ByteSpan(at.ip(), at.ip_size()));
}

// ---- FRAME (§3.5): [8] nwid | [2] ethertype | payload --------------------------------------------
Result<Frame> Frame::decode(ByteSpan payload) {
  Reader r(payload);
  Frame m;
  m.nwid = r.u64();
  m.ethertype = r.u16();
  if (!r.ok()) return fail("FRAME", "truncated");
  m.payload = r.rest();
  return m;
}

void Frame::encode(Writer& w) const { w.u64(nwid).u16(ethertype).bytes(payload); }

// ---- EXT_FRAME (§3.6) --------------------------------------------------------------------------
Result<ExtFrame> ExtFrame::decode(ByteSpan payload) {
  Reader r(payload);
  ExtFrame m;
  m.nwid = r.u64();
  m.flags = r.u8();
  if (!r.ok()) return fail("EXT_FRAME", "truncated");
  if (m.flags & kFlagCom) {
    auto c = read_com(r, "EXT_FRAME");
    if (!c) return c.take_error();
    m.com = std::move(*c);
  }
  m.to = Mac::read(r);
  m.from = Mac::read(r);
  m.ethertype = r.u16();
  if (!r.ok()) return fail("EXT_FRAME", "truncated");
  m.payload = r.rest();
  return m;
}

void ExtFrame::encode(Writer& w) const {
  uint8_t f = uint8_t(flags & ~kFlagCom);
  if (com) f |= kFlagCom;
  w.u64(nwid).u8(f);
  if (com) com->write(w);
  to.write(w);
  from.write(w);
  w.u16(ethertype).bytes(payload);
}

// ---- MULTICAST_LIKE (§3.8): N × ([8] nwid | [6] MAC | [4] ADI) -------------------------------
Result<MulticastLike> MulticastLike::decode(ByteSpan payload) {
  if (payload.size() % 18 != 0) return fail("MULTICAST_LIKE", "length not a multiple of 18");
  Reader r(payload);
  MulticastLike m;
  m.entries.reserve(payload.size() / 18);
  while (r.ok() && r.remaining() > 0) {
    Entry e;
    e.nwid = r.u64();
    e.group = MulticastGroup::read(r);
    m.entries.push_back(e);
  }
  return finish(r, std::move(m), "MULTICAST_LIKE");
}

void MulticastLike::encode(Writer& w) const {
  for (const auto& e : entries) {
    w.u64(e.nwid);
    e.group.write(w);
  }
}

// ---- NETWORK_CREDENTIALS (§3.9) ------------------------------------------------------------------
namespace {
// [2] n then n credentials of type T.
template <class T>
Status read_section(Reader& r, std::vector<T>& out, const char* what) {
  size_t n = r.u16();
  if (!r.ok()) return fail("NETWORK_CREDENTIALS", std::string("truncated ") + what + " count");
  out.reserve(bounded(n, r, 16));
  for (size_t i = 0; i < n; ++i) {
    auto c = T::read(r);
    if (!c) return fail("NETWORK_CREDENTIALS", std::string(what) + " #" + std::to_string(i) + ": " + c.error());
    out.push_back(std::move(*c));
  }
  return ok_status();
}

template <class T>
void write_section(Writer& w, const std::vector<T>& v) {
  size_t n = std::min<size_t>(v.size(), 0xffff);
  w.u16(uint16_t(n));
  for (size_t i = 0; i < n; ++i) v[i].write(w);
}
}  // namespace

Result<NetworkCredentials> NetworkCredentials::decode(ByteSpan payload) {
  Reader r(payload);
  NetworkCredentials m;
  // COMs start with their version byte (1); a 0x00 ends the list.
  while (r.ok() && r.peek() != 0) {
    auto c = read_com(r, "NETWORK_CREDENTIALS");
    if (!c) return c.take_error();
    m.coms.push_back(std::move(*c));
  }
  r.skip(1);  // the 0x00 terminator
  if (!r.ok()) return fail("NETWORK_CREDENTIALS", "missing COM list terminator");
  m.sections = 0;
  Status st = ok_status();
  if (st && r.remaining() > 0) { st = read_section(r, m.capabilities, "capability"); ++m.sections; }
  if (st && r.remaining() > 0) { st = read_section(r, m.tags, "tag"); ++m.sections; }
  if (st && r.remaining() > 0) { st = read_section(r, m.revocations, "revocation"); ++m.sections; }
  if (st && r.remaining() > 0) { st = read_section(r, m.coos, "certificate of ownership"); ++m.sections; }
  if (!st) return st.take_error();
  return finish(r, std::move(m), "NETWORK_CREDENTIALS");
}

void NetworkCredentials::encode(Writer& w) const {
  for (const auto& c : coms) c.write(w);
  w.u8(0);
  int n = std::min<int>(sections, 4);
  if (!coos.empty()) n = 4;
  else if (!revocations.empty()) n = std::max(n, 3);
  else if (!tags.empty()) n = std::max(n, 2);
  else if (!capabilities.empty()) n = std::max(n, 1);
  if (n >= 1) write_section(w, capabilities);
  if (n >= 2) write_section(w, tags);
  if (n >= 3) write_section(w, revocations);
  if (n >= 4) write_section(w, coos);
}

// ---- NETWORK_CONFIG_REQUEST (§3.10) ----------------------------------------------------------
Result<NetworkConfigRequest> NetworkConfigRequest::decode(ByteSpan payload) {
  Reader r(payload);
  NetworkConfigRequest m;
  m.nwid = r.u64();
  size_t len = r.u16();
  m.metadata = r.bytes(len);
  if (!r.ok()) return fail("NETWORK_CONFIG_REQUEST", "truncated");
  if (r.remaining() == 0) {
    m.held.reset();  // old sender: no held revision / timestamp
    return m;
  }
  Held h;
  h.revision = r.u64();
  h.timestamp = r.u64();
  m.held = h;
  return finish(r, std::move(m), "NETWORK_CONFIG_REQUEST");
}

void NetworkConfigRequest::encode(Writer& w) const {
  w.u64(nwid);
  size_t len = std::min<size_t>(metadata.size(), 0xffff);
  w.u16(uint16_t(len));
  w.bytes(metadata.first(len));
  if (held) w.u64(held->revision).u64(held->timestamp);
}

// ---- NETWORK_CONFIG (§3.10) -------------------------------------------------------------------
Result<NetworkConfigPush> NetworkConfigPush::decode(ByteSpan payload) {
  auto c = ConfigChunk::decode(payload, false);
  if (!c) return fail("NETWORK_CONFIG", c.error());
  return NetworkConfigPush{std::move(*c)};
}

// ---- MULTICAST_GATHER (§3.12) ------------------------------------------------------------------
Result<MulticastGather> MulticastGather::decode(ByteSpan payload) {
  Reader r(payload);
  MulticastGather m;
  m.nwid = r.u64();
  m.flags = r.u8();
  m.group = MulticastGroup::read(r);
  m.limit = r.u32();
  if (!r.ok()) return fail("MULTICAST_GATHER", "truncated");
  if (m.flags & kFlagCom) {
    auto c = read_com(r, "MULTICAST_GATHER");
    if (!c) return c.take_error();
    m.com = std::move(*c);
  }
  return finish(r, std::move(m), "MULTICAST_GATHER");
}

void MulticastGather::encode(Writer& w) const {
  uint8_t f = uint8_t(flags & ~kFlagCom);
  if (com) f |= kFlagCom;
  w.u64(nwid).u8(f);
  group.write(w);
  w.u32(limit);
  if (com) com->write(w);
}

// ---- MULTICAST_FRAME (§3.13) -------------------------------------------------------------------
Result<MulticastFrame> MulticastFrame::decode(ByteSpan payload) {
  Reader r(payload);
  MulticastFrame m;
  m.nwid = r.u64();
  m.flags = r.u8();
  if (!r.ok()) return fail("MULTICAST_FRAME", "truncated");
  if (m.flags & kFlagCom) {
    auto c = read_com(r, "MULTICAST_FRAME");
    if (!c) return c.take_error();
    m.com = std::move(*c);
  }
  if (m.flags & kFlagGatherLimit) m.gather_limit = r.u32();
  if (m.flags & kFlagSourceMac) m.source = Mac::read(r);
  m.group = MulticastGroup::read(r);
  m.ethertype = r.u16();
  if (!r.ok()) return fail("MULTICAST_FRAME", "truncated");
  m.payload = r.rest();
  return m;
}

void MulticastFrame::encode(Writer& w) const {
  uint8_t f = uint8_t(flags & ~(kFlagCom | kFlagGatherLimit | kFlagSourceMac));
  if (com) f |= kFlagCom;
  if (gather_limit) f |= kFlagGatherLimit;
  if (source) f |= kFlagSourceMac;
  w.u64(nwid).u8(f);
  if (com) com->write(w);
  if (gather_limit) w.u32(*gather_limit);
  if (source) source->write(w);
  group.write(w);
  w.u16(ethertype).bytes(payload);
}

// ---- PUSH_DIRECT_PATHS (§3.14) -----------------------------------------------------------------
Result<PushDirectPaths> PushDirectPaths::decode(ByteSpan payload) {
  Reader r(payload);
  PushDirectPaths m;
  size_t n = r.u16();
  m.paths.reserve(bounded(n, r, 5));
  for (size_t i = 0; i < n && r.ok(); ++i) {
    Path p;
    p.flags = r.u8();
    p.extensions = r.bytes(r.u16());
    uint8_t type = r.u8();
    uint8_t len = r.u8();
    ByteSpan addr = r.bytes(len);
    if (!r.ok()) break;
    if (type == 4 && len == 6) {
      p.address = InetAddress::v4(addr.data(), load_be16(addr.data() + 4));
    } else if (type == 6 && len == 18) {
      p.address = InetAddress::v6(addr.data(), load_be16(addr.data() + 16));
    } else if (type == 0) {
      // Type 0 cannot be kept in other_type (0 means "use address"): only an empty one is
      // representable, as a None address.
      if (len != 0) return fail("PUSH_DIRECT_PATHS", "address type 0 with non-zero length");
    } else {
      p.other_type = type;
      p.other_address = addr;
    }
    m.paths.push_back(p);
  }
  return finish(r, std::move(m), "PUSH_DIRECT_PATHS");
}

void PushDirectPaths::encode(Writer& w) const {
  size_t n = std::min<size_t>(paths.size(), 0xffff);
  w.u16(uint16_t(n));
  for (size_t i = 0; i < n; ++i) {
    const Path& p = paths[i];
    size_t el = std::min<size_t>(p.extensions.size(), 0xffff);
    w.u8(p.flags).u16(uint16_t(el)).bytes(p.extensions.first(el));
    if (p.other_type != 0) {
      size_t al = std::min<size_t>(p.other_address.size(), 0xff);
      w.u8(p.other_type).u8(uint8_t(al)).bytes(p.other_address.first(al));
    } else if (p.address.is_v4() || p.address.is_v6()) {
      w.u8(p.address.is_v4() ? 4 : 6).u8(uint8_t(p.address.ip_size() + 2));
      w.bytes(ByteSpan(p.address.ip(), p.address.ip_size())).u16(p.address.port());
    } else {
      w.u8(0).u8(0);
    }
  }
}

// ---- USER_MESSAGE (§3.15): [8] type | data -------------------------------------------------------
Result<UserMessage> UserMessage::decode(ByteSpan payload) {
  Reader r(payload);
  UserMessage m;
  m.type_id = r.u64();
  if (!r.ok()) return fail("USER_MESSAGE", "truncated type id");
  m.data = r.rest();
  return m;
}

void UserMessage::encode(Writer& w) const { w.u64(type_id).bytes(data); }

// ---- REMOTE_TRACE (§3.16): (dictionary NUL)* ------------------------------------------------------
Result<RemoteTrace> RemoteTrace::decode(ByteSpan payload) {
  RemoteTrace m;
  size_t start = 0;
  for (size_t i = 0; i < payload.size(); ++i) {
    if (payload[i] != 0) continue;
    m.dictionaries.push_back(payload.subspan(start, i - start));
    start = i + 1;
  }
  m.unterminated = payload.subspan(start);
  return m;
}

void RemoteTrace::encode(Writer& w) const {
  for (ByteSpan d : dictionaries) w.bytes(d).u8(0);
  w.bytes(unterminated);
}

// ---- Dispatch ----------------------------------------------------------------------------------
namespace {
template <class T, class R>
Result<Message> as_message(Result<R> r) {
  if (!r) return r.take_error();
  if constexpr (std::is_same_v<T, R>) {
    return Message(std::move(*r));
  } else {
    return Message(T{std::move(*r)});  // the RawBody-derived wrappers
  }
}
}  // namespace

Result<Message> decode_message(Verb v, ByteSpan p) {
  const Verb verb = Verb(uint8_t(v) & kVerbMask);
  switch (verb) {
    case Verb::Nop: return as_message<Nop>(RawBody::decode(p));
    case Verb::Hello: return as_message<Hello>(Hello::decode(p));
    case Verb::Error: return as_message<ErrorMessage>(ErrorMessage::decode(p));
    case Verb::Ok: return as_message<OkMessage>(OkMessage::decode(p));
    case Verb::Whois: return as_message<Whois>(Whois::decode(p));
    case Verb::Rendezvous: return as_message<Rendezvous>(Rendezvous::decode(p));
    case Verb::Frame: return as_message<Frame>(Frame::decode(p));
    case Verb::ExtFrame: return as_message<ExtFrame>(ExtFrame::decode(p));
    case Verb::Echo: return as_message<Echo>(Echo::decode(p));
    case Verb::MulticastLike: return as_message<MulticastLike>(MulticastLike::decode(p));
    case Verb::NetworkCredentials: return as_message<NetworkCredentials>(NetworkCredentials::decode(p));
    case Verb::NetworkConfigRequest: return as_message<NetworkConfigRequest>(NetworkConfigRequest::decode(p));
    case Verb::NetworkConfig: return as_message<NetworkConfigPush>(NetworkConfigPush::decode(p));
    case Verb::MulticastGather: return as_message<MulticastGather>(MulticastGather::decode(p));
    case Verb::MulticastFrame: return as_message<MulticastFrame>(MulticastFrame::decode(p));
    case Verb::PushDirectPaths: return as_message<PushDirectPaths>(PushDirectPaths::decode(p));
    case Verb::Ack: return as_message<Ack>(RawBody::decode(p));
    case Verb::QosMeasurement: return as_message<QosMeasurement>(RawBody::decode(p));
    case Verb::UserMessage: return as_message<UserMessage>(UserMessage::decode(p));
    case Verb::RemoteTrace: return as_message<RemoteTrace>(RemoteTrace::decode(p));
    case Verb::PathNegotiationRequest: return as_message<PathNegotiationRequest>(RawBody::decode(p));
    default: return Message(UnknownVerb{uint8_t(verb), p});
  }
}

namespace {
struct VerbOf {
  Verb operator()(const Nop&) const { return Verb::Nop; }
  Verb operator()(const Hello&) const { return Verb::Hello; }
  Verb operator()(const ErrorMessage&) const { return Verb::Error; }
  Verb operator()(const OkMessage&) const { return Verb::Ok; }
  Verb operator()(const Whois&) const { return Verb::Whois; }
  Verb operator()(const Rendezvous&) const { return Verb::Rendezvous; }
  Verb operator()(const Frame&) const { return Verb::Frame; }
  Verb operator()(const ExtFrame&) const { return Verb::ExtFrame; }
  Verb operator()(const Echo&) const { return Verb::Echo; }
  Verb operator()(const MulticastLike&) const { return Verb::MulticastLike; }
  Verb operator()(const NetworkCredentials&) const { return Verb::NetworkCredentials; }
  Verb operator()(const NetworkConfigRequest&) const { return Verb::NetworkConfigRequest; }
  Verb operator()(const NetworkConfigPush&) const { return Verb::NetworkConfig; }
  Verb operator()(const MulticastGather&) const { return Verb::MulticastGather; }
  Verb operator()(const MulticastFrame&) const { return Verb::MulticastFrame; }
  Verb operator()(const PushDirectPaths&) const { return Verb::PushDirectPaths; }
  Verb operator()(const Ack&) const { return Verb::Ack; }
  Verb operator()(const QosMeasurement&) const { return Verb::QosMeasurement; }
  Verb operator()(const UserMessage&) const { return Verb::UserMessage; }
  Verb operator()(const RemoteTrace&) const { return Verb::RemoteTrace; }
  Verb operator()(const PathNegotiationRequest&) const { return Verb::PathNegotiationRequest; }
  Verb operator()(const UnknownVerb& u) const { return Verb(u.verb & kVerbMask); }
};
}  // namespace

void encode_message(const Message& m, Writer& w) {
  std::visit(
      [&](const auto& msg) {
        using T = std::decay_t<decltype(msg)>;
        if constexpr (std::is_same_v<T, UnknownVerb>) {
          w.bytes(msg.payload);
        } else {
          msg.encode(w);
        }
      },
      m);
}

Verb message_verb(const Message& m) { return std::visit(VerbOf{}, m); }

}  // namespace zt::proto
