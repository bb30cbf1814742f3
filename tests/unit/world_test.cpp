// §5.1 worlds: the vector planet and moon parse, verify, re-sign byte for byte; make()
// reproduces the planet; the update rule; tampering and malformed input.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "base/hex.hpp"
#include "proto/world.hpp"

using namespace zt;
using namespace zt::proto;

namespace {

Bytes read_vector(const std::string& name) {
  std::ifstream in(std::string(ZTCORE_VECTORS_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string read_text(const std::string& name) {
  Bytes b = read_vector(name);
  std::string s(b.begin(), b.end());
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

World planet() {
  auto w = World::parse(read_vector("planet"));
  EXPECT_TRUE(w) << w.error();
  return *w;
}

World moon() {
  auto w = World::parse(read_vector("moon_000000765ad94991.moon"));
  EXPECT_TRUE(w) << w.error();
  return *w;
}

WorldKeypair planet_keypair() {
  auto kp = WorldKeypair::parse(read_vector("planet_signing_keypair.c25519"));
  EXPECT_TRUE(kp) << kp.error();
  return *kp;
}

WorldKeypair moon_keypair() {
  std::ifstream in(std::string(ZTCORE_VECTORS_DIR) + "/moon.json");
  auto j = nlohmann::json::parse(in);
  Bytes both = *from_hex(j.at("signingKey").get<std::string>());
  Bytes priv = *from_hex(j.at("signingKey_SECRET").get<std::string>());
  both.insert(both.end(), priv.begin(), priv.end());
  return *WorldKeypair::parse(both);
}

}  // namespace

TEST(World, PlanetParsesWithNothingLeftAndVerifies) {
  Bytes file = read_vector("planet");
  ASSERT_EQ(file.size(), 257u);
  World w = planet();
  EXPECT_EQ(w.type, World::Type::Planet);
  EXPECT_EQ(w.id, 7777777u);
  EXPECT_EQ(w.timestamp, 1795605682582ULL);
  ASSERT_EQ(w.roots.size(), 1u);
  EXPECT_EQ(w.roots[0].identity.to_string(), read_text("root.identity.public"));
  ASSERT_EQ(w.roots[0].stable_endpoints.size(), 1u);
  EXPECT_EQ(w.roots[0].stable_endpoints[0].to_string(), "10.77.0.1/9993");
  EXPECT_TRUE(w.moon_dictionary.empty());
  EXPECT_TRUE(w.verify());
  EXPECT_EQ(w.serialize(), file);
  // The update key is the public half of the signing key pair.
  EXPECT_EQ(w.update_key, planet_keypair().pub);
}

TEST(World, PlanetResignReproducesSignature) {
  World w = planet();
  auto stored = w.signature;
  w.signature = {};
  w.sign(planet_keypair().priv);
  EXPECT_EQ(w.signature, stored);
  // Signing form framing: 7f×8 … f7×8.
  Bytes f = w.signing_form();
  EXPECT_EQ(to_hex(ByteSpan(f).first(8)), "7f7f7f7f7f7f7f7f");
  EXPECT_EQ(to_hex(ByteSpan(f).last(8)), "f7f7f7f7f7f7f7f7");
  EXPECT_EQ(f.size(), 257u - 96 + 16);
}

TEST(World, MoonParsesVerifiesAndResigns) {
  Bytes file = read_vector("moon_000000765ad94991.moon");
  ASSERT_EQ(file.size(), 259u);
  World w = moon();
  EXPECT_EQ(w.type, World::Type::Moon);
  EXPECT_EQ(w.id, 0x765ad94991ULL);
  ASSERT_EQ(w.roots.size(), 1u);
  EXPECT_EQ(w.roots[0].identity.address(), 0x765ad94991ULL);
  EXPECT_EQ(w.roots[0].stable_endpoints[0].to_string(), "10.77.0.1/9993");
  EXPECT_TRUE(w.verify());
  EXPECT_EQ(w.serialize(), file);
  WorldKeypair kp = moon_keypair();
  EXPECT_EQ(w.update_key, kp.pub);
  auto stored = w.signature;
  w.sign(kp.priv);
  EXPECT_EQ(w.signature, stored);
}

TEST(World, MakeReproducesVectorPlanet) {
  auto root = Identity::parse(read_text("root.identity.public"));
  ASSERT_TRUE(root);
  WorldRoot r{*root, {*InetAddress::parse("10.77.0.1/9993")}};
  auto w = World::make(World::Type::Planet, 7777777, 1795605682582ULL, planet_keypair(), {r});
  ASSERT_TRUE(w) << w.error();
  EXPECT_EQ(w->serialize(), read_vector("planet"));
  // A secret identity is written in public form.
  auto root_secret = Identity::parse(read_text("root.identity.secret"));
  ASSERT_TRUE(root_secret);
  WorldRoot rs{*root_secret, {*InetAddress::parse("10.77.0.1/9993")}};
  auto w2 = World::make(World::Type::Planet, 7777777, 1795605682582ULL, planet_keypair(), {rs});
  ASSERT_TRUE(w2);
  EXPECT_EQ(w2->serialize(), read_vector("planet"));
}

TEST(World, MakeReproducesVectorMoon) {
  auto root = Identity::parse(read_text("root.identity.public"));
  WorldRoot r{*root, {*InetAddress::parse("10.77.0.1/9993")}};
  World m = moon();
  auto w = World::make(World::Type::Moon, 0x765ad94991ULL, m.timestamp, moon_keypair(), {r});
  ASSERT_TRUE(w);
  EXPECT_EQ(w->serialize(), read_vector("moon_000000765ad94991.moon"));
}

TEST(World, MakeRejectsLimits) {
  auto root = Identity::parse(read_text("root.identity.public"));
  WorldRoot r{*root, {}};
  std::vector<WorldRoot> five(5, r);
  EXPECT_FALSE(World::make(World::Type::Planet, 1, 1, planet_keypair(), five));
  EXPECT_FALSE(World::make(World::Type::Null, 1, 1, planet_keypair(), {r}));
  WorldRoot many{*root, std::vector<InetAddress>(33, *InetAddress::parse("10.0.0.1/1"))};
  EXPECT_FALSE(World::make(World::Type::Planet, 1, 1, planet_keypair(), {many}));
}

TEST(World, TamperingBreaksSignature) {
  Bytes file = read_vector("planet");
  // Flip one bit anywhere outside the signature: either parsing or verification fails.
  for (size_t i = 0; i < file.size(); ++i) {
    if (i >= 81 && i < 177) continue;  // the signature itself (checked below)
    Bytes t = file;
    t[i] ^= 0x01;
    auto w = World::parse(t);
    if (w) {
      EXPECT_FALSE(w->verify()) << "byte " << i;
    }
  }
  Bytes t = file;
  t[100] ^= 0x80;  // inside the signature
  ASSERT_TRUE(World::parse(t));
  EXPECT_FALSE(World::parse(t)->verify());
  // Wrong trailer (7f instead of f7) would not verify: re-sign with 7f×8 trailer by hand.
  World w = planet();
  Bytes bad = w.signing_form();
  for (size_t i = bad.size() - 8; i < bad.size(); ++i) bad[i] = 0x7f;
  EXPECT_FALSE(crypto::verify(w.update_key, bad, w.signature));
}

TEST(World, TruncationAndLimits) {
  Bytes file = read_vector("planet");
  for (size_t n = 0; n < file.size(); ++n) EXPECT_FALSE(World::parse(ByteSpan(file).first(n))) << n;
  Bytes extra = file;
  extra.push_back(0);
  EXPECT_FALSE(World::parse(extra));
  Reader r(extra);
  EXPECT_TRUE(World::read(r));  // read() consumes exactly one world
  EXPECT_EQ(r.remaining(), 1u);
  Bytes t = file;
  t[0] = 2;  // unknown type
  EXPECT_FALSE(World::parse(t));
  t = file;
  t[177] = 5;  // 5 roots > 4
  EXPECT_FALSE(World::parse(t));
  t = file;
  t[178 + 71] = 33;  // 33 endpoints > 32
  EXPECT_FALSE(World::parse(t));
  Bytes moonf = read_vector("moon_000000765ad94991.moon");
  moonf[moonf.size() - 1] = 1;  // dictionary length 1 but no bytes
  EXPECT_FALSE(World::parse(moonf));
}

TEST(World, UpdateRule) {
  World stored = planet();
  WorldKeypair kp = planet_keypair();
  World newer = stored;
  newer.timestamp += 1;
  newer.sign(kp.priv);
  EXPECT_TRUE(World::should_replace(stored, newer));
  // Same timestamp or older: no.
  EXPECT_FALSE(World::should_replace(stored, stored));
  World older = stored;
  older.timestamp -= 1;
  older.sign(kp.priv);
  EXPECT_FALSE(World::should_replace(stored, older));
  // Different ID or type: no.
  World other_id = newer;
  other_id.id += 1;
  other_id.sign(kp.priv);
  EXPECT_FALSE(World::should_replace(stored, other_id));
  World as_moon = newer;
  as_moon.type = World::Type::Moon;
  as_moon.sign(kp.priv);
  EXPECT_FALSE(World::should_replace(stored, as_moon));
  // Signed with another key (even if it names that key as its update key): no.
  WorldKeypair mk = moon_keypair();
  World rogue = newer;
  rogue.update_key = mk.pub;
  rogue.sign(mk.priv);
  EXPECT_TRUE(rogue.verify());
  EXPECT_FALSE(World::should_replace(stored, rogue));
  // Key rotation: signed by the stored key, naming a new key → accepted; the next update
  // must then be signed by the new key.
  World rotated = newer;
  rotated.update_key = mk.pub;
  rotated.sign(kp.priv);
  EXPECT_TRUE(World::should_replace(stored, rotated));
  World after = rotated;
  after.timestamp += 1;
  after.sign(mk.priv);
  EXPECT_TRUE(World::should_replace(rotated, after));
  after.sign(kp.priv);
  EXPECT_FALSE(World::should_replace(rotated, after));
  // Empty stored world is replaced by anything non-empty.
  EXPECT_TRUE(World::should_replace(World{}, stored));
  EXPECT_FALSE(World::should_replace(stored, World{}));
}

TEST(World, KeypairFile) {
  EXPECT_FALSE(WorldKeypair::parse(Bytes(127)));
  EXPECT_FALSE(WorldKeypair::parse(Bytes(129)));
  EXPECT_EQ(crypto::public_from_private(planet_keypair().priv), planet_keypair().pub);
}
