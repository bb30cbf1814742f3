#include "proto/world.hpp"

#include <cstring>

namespace zt::proto {
namespace {

// Body shared by the wire form and the signing form: everything except the signature.
// `with_signature` inserts the 96-byte signature after the update key (wire form).
void write_body(const World& w, Writer& out, bool with_signature) {
  out.u8(uint8_t(w.type));
  out.u64(w.id);
  out.u64(w.timestamp);
  out.bytes(ByteSpan(w.update_key));
  if (with_signature) out.bytes(ByteSpan(w.signature));
  out.u8(uint8_t(w.roots.size()));
  for (const auto& root : w.roots) {
    root.identity.write(out, false);
    out.u8(uint8_t(root.stable_endpoints.size()));
    for (const auto& ep : root.stable_endpoints) ep.write(out);
  }
  if (w.type == World::Type::Moon) {
    out.u16(uint16_t(w.moon_dictionary.size()));
    out.bytes(w.moon_dictionary);
  }
}

}  // namespace

Result<WorldKeypair> WorldKeypair::parse(ByteSpan bytes) {
  if (bytes.size() != crypto::kPublicKeySize + crypto::kPrivateKeySize)
    return err("world keypair: expected 128 bytes, got " + std::to_string(bytes.size()));
  WorldKeypair kp;
  std::memcpy(kp.pub.data(), bytes.data(), crypto::kPublicKeySize);
  kp.priv = crypto::PrivateKey(bytes.data() + crypto::kPublicKeySize);
  return kp;
}

const char* world_type_name(World::Type t) {
  switch (t) {
    case World::Type::Planet: return "planet";
    case World::Type::Moon: return "moon";
    default: return "null";
  }
}

Result<World> World::read(Reader& r) {
  World w;
  uint8_t type = r.u8();
  if (!r.ok()) return err("world: truncated");
  if (type != uint8_t(Type::Planet) && type != uint8_t(Type::Moon))
    return err("world: unknown type " + std::to_string(type));
  w.type = Type(type);
  w.id = r.u64();
  w.timestamp = r.u64();
  w.update_key = r.array<crypto::kPublicKeySize>();
  w.signature = r.array<crypto::kSignatureSize>();
  size_t nroots = r.u8();
  if (!r.ok()) return err("world: truncated header");
  if (nroots > kMaxRoots) return err("world: " + std::to_string(nroots) + " roots (max 4)");
  for (size_t i = 0; i < nroots; ++i) {
    WorldRoot root;
    auto id = Identity::read(r);
    if (!id) return err("world: root " + std::to_string(i) + ": " + id.error());
    root.identity = std::move(*id);
    size_t neps = r.u8();
    if (!r.ok()) return err("world: truncated root");
    if (neps > kMaxEndpointsPerRoot)
      return err("world: root " + std::to_string(i) + " has " + std::to_string(neps) + " endpoints (max 32)");
    for (size_t j = 0; j < neps; ++j) {
      auto ep = InetAddress::read(r);
      if (!ep) return err("world: endpoint: " + ep.error());
      root.stable_endpoints.push_back(*ep);
    }
    w.roots.push_back(std::move(root));
  }
  if (w.type == Type::Moon) {
    size_t dlen = r.u16();
    ByteSpan d = r.bytes(dlen);
    if (!r.ok()) return err("world: truncated moon dictionary");
    w.moon_dictionary.assign(d.begin(), d.end());
  }
  if (!r.ok()) return err("world: truncated");
  return w;
}

Result<World> World::parse(ByteSpan bytes) {
  Reader r(bytes);
  auto w = read(r);
  if (!w) return w;
  if (!r.done()) return err("world: " + std::to_string(r.remaining()) + " trailing bytes");
  return w;
}

void World::write(Writer& w) const { write_body(*this, w, true); }

Bytes World::serialize() const {
  Writer w(512);
  write(w);
  return w.take();
}

Bytes World::signing_form() const {
  Writer w(512);
  for (int i = 0; i < 8; ++i) w.u8(0x7f);
  write_body(*this, w, false);
  // The trailer really is 0xf7, not 0x7f (§5.1).
  for (int i = 0; i < 8; ++i) w.u8(0xf7);
  return w.take();
}

void World::sign(const crypto::PrivateKey& key) { signature = crypto::sign(key, signing_form()); }

bool World::verify() const { return verify_with(update_key); }

bool World::verify_with(const crypto::PublicKey& key) const {
  return crypto::verify(key, signing_form(), signature);
}

Result<World> World::make(Type type, uint64_t id, uint64_t timestamp, const WorldKeypair& kp,
                          std::vector<WorldRoot> roots) {
  if (type != Type::Planet && type != Type::Moon) return err("world: type must be planet or moon");
  if (roots.size() > kMaxRoots) return err("world: at most 4 roots");
  for (const auto& r : roots) {
    if (r.identity.empty()) return err("world: root without identity");
    if (r.stable_endpoints.size() > kMaxEndpointsPerRoot) return err("world: at most 32 endpoints per root");
    for (const auto& ep : r.stable_endpoints)
      if (ep.empty()) return err("world: empty endpoint");
  }
  World w;
  w.type = type;
  w.id = id;
  w.timestamp = timestamp;
  w.update_key = kp.pub;
  w.roots = std::move(roots);
  w.sign(kp.priv);
  return w;
}

bool World::should_replace(const World& stored, const World& received) {
  if (received.empty()) return false;
  // §5.1: an empty/unknown stored world is replaced by anything (the reference does not
  // check the newcomer's own signature here).
  if (stored.empty()) return true;
  return stored.type == received.type && stored.id == received.id &&
         received.timestamp > stored.timestamp && received.verify_with(stored.update_key);
}

}  // namespace zt::proto
