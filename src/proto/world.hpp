// Worlds: planets and moons (PROTOCOL.md §5.1).
//
// A World is a signed list of root servers with their stable endpoints. Planets (type 1)
// define the global root set; moons (type 127) add user-defined roots. Updates are signed
// with the stored world's "updates must be signed by" key (should_replace()).
//
// Plain aggregate with public fields; read() enforces the wire limits. No shared state.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "base/bytes.hpp"
#include "base/result.hpp"
#include "crypto/crypto.hpp"
#include "proto/identity.hpp"
#include "proto/inet_address.hpp"

namespace zt::proto {

struct WorldRoot {
  Identity identity;                       // public form
  std::vector<InetAddress> stable_endpoints;  // ≤ 32
  bool operator==(const WorldRoot&) const = default;
};

// A signing key pair as stored in "planet_signing_keypair.c25519" / moon JSON:
// 64-byte public key ‖ 64-byte private key (§1.1 layout for each half).
struct WorldKeypair {
  crypto::PublicKey pub{};
  crypto::PrivateKey priv;
  // Exactly 128 bytes; the private half is not checked against the public half.
  static Result<WorldKeypair> parse(ByteSpan bytes128);
};

struct World {
  enum class Type : uint8_t { Null = 0, Planet = 1, Moon = 127 };
  static constexpr size_t kMaxRoots = 4;
  static constexpr size_t kMaxEndpointsPerRoot = 32;

  Type type = Type::Null;
  uint64_t id = 0;
  uint64_t timestamp = 0;
  crypto::PublicKey update_key{};  // "updates must be signed by"
  crypto::Signature signature{};
  std::vector<WorldRoot> roots;
  Bytes moon_dictionary;  // moons only: the attached dictionary (empty in practice)

  // Consumes exactly one world. Errors: type not 1/127, > 4 roots, > 32 endpoints per root,
  // a bad identity or InetAddress, truncation. (Type 0 "null" is not a valid wire world.)
  static Result<World> read(Reader& r);
  // Whole buffer must be exactly one world.
  static Result<World> parse(ByteSpan bytes);
  void write(Writer& w) const;
  Bytes serialize() const;

  // 7f×8 | type | id | ts | updateKey | roots | (moon: [2] dict len + dict) | f7×8.
  Bytes signing_form() const;
  // Signs with `key` (does not change update_key).
  void sign(const crypto::PrivateKey& key);
  // Signature verifies with this world's own update key.
  bool verify() const;
  // Signature verifies with `key` (used for updates: the stored world's key).
  bool verify_with(const crypto::PublicKey& key) const;

  // Builds a world whose update key is kp.pub and signs it with kp.priv. Errors on limits.
  static Result<World> make(Type type, uint64_t id, uint64_t timestamp, const WorldKeypair& kp,
                            std::vector<WorldRoot> roots);

  // §5.1 update rule: true iff `received` should replace `stored`. An empty (Null) stored
  // world is replaced by any non-empty received world (no signature check, as in the
  // reference; callers that want one use received.verify()); otherwise same type and ID,
  // strictly newer timestamp, and received's signature verifies with stored's update key.
  static bool should_replace(const World& stored, const World& received);

  bool empty() const { return type == Type::Null; }
  bool operator==(const World&) const = default;
};

const char* world_type_name(World::Type t);  // "planet", "moon", "null"

}  // namespace zt::proto
