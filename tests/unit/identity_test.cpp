// Identity tests (PROTOCOL.md §1, §14 items 1-3, 5) against the reference vectors in
// tests/vectors/identities.txt, plus structural rejection and file handling.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "base/hex.hpp"
#include "proto/identity.hpp"
#include "runtime/identity_store.hpp"

using namespace zt;
using zt::proto::Identity;

namespace {

const std::string kVectors = ZTCORE_VECTORS_DIR;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// identities.txt: "[section]" headers followed by "key = value" lines; '#' comments.
using Section = std::map<std::string, std::string>;
struct VectorFile {
  std::vector<std::pair<std::string, Section>> sections;
  const Section* find(const std::string& name) const {
    for (const auto& [n, s] : sections)
      if (n == name) return &s;
    return nullptr;
  }
};

const VectorFile& vectors() {
  static VectorFile vf = [] {
    VectorFile f;
    std::ifstream in(kVectors + "/identities.txt");
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      if (line[0] == '[') {
        f.sections.push_back({line.substr(1, line.find(']') - 1), {}});
        continue;
      }
      auto eq = line.find(" = ");
      std::string key, value;
      if (eq != std::string::npos) {
        key = line.substr(0, eq);
        value = line.substr(eq + 3);
      } else if (line.size() >= 2 && line.compare(line.size() - 2, 2, " =") == 0) {
        key = line.substr(0, line.size() - 2);  // "message_hex = " with an empty value
      } else {
        continue;
      }
      if (!f.sections.empty()) f.sections.back().second[key] = value;
    }
    return f;
  }();
  return vf;
}

const char* const kIdentityLabels[] = {"root", "ctrl", "nodea", "nodeb", "extra1",
                                       "extra2", "extra3", "extra4", "extra5", "extra6"};

Identity must_parse(const std::string& s) {
  auto r = Identity::parse(s);
  EXPECT_TRUE(r.ok()) << s << ": " << (r.ok() ? "" : r.error());
  return r.ok() ? r.value() : Identity();
}

std::string tmp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("ztcore_identity_test_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

}  // namespace

TEST(IdentityVectors, FileHasTenIdentitiesAndSixSignatures) {
  int ids = 0, sigs = 0;
  for (const auto& [name, s] : vectors().sections) {
    if (s.count("secret")) ++ids;
    if (s.count("signature")) ++sigs;
  }
  EXPECT_EQ(ids, 10);
  EXPECT_EQ(sigs, 6);
}

TEST(IdentityVectors, ParseValidateAndReproduceForms) {
  for (const char* label : kIdentityLabels) {
    SCOPED_TRACE(label);
    const Section* s = vectors().find(label);
    ASSERT_NE(s, nullptr);
    Identity sec = must_parse(s->at("secret"));
    Identity pub = must_parse(s->at("public"));
    EXPECT_TRUE(sec.has_private());
    EXPECT_FALSE(pub.has_private());
    EXPECT_EQ(proto::address_to_string(sec.address()), s->at("address"));
    EXPECT_EQ(sec, pub);
    // Address derivation (§1.2) and the public key re-derived from the secret (§1.1).
    EXPECT_TRUE(pub.validate()) << pub.validate_reason();
    EXPECT_TRUE(sec.validate()) << sec.validate_reason();
    EXPECT_EQ(sec.validate_reason(), "");
    auto d = Identity::memory_hard_hash(pub.public_key());
    EXPECT_LT(d[0], 17);
    EXPECT_EQ(load_be(d.data() + 59, 5), pub.address());
    EXPECT_EQ(to_hex(crypto::public_from_private(sec.private_key())), to_hex(pub.public_key()));
    // Text forms reproduce the reference's exactly ('getpublic' output and secret form).
    EXPECT_EQ(sec.to_string(false), s->at("public"));
    EXPECT_EQ(sec.to_string(true), s->at("secret"));
    EXPECT_EQ(pub.to_string(true), s->at("public"));  // no private part to print
    if (s->count("getpublic_output")) {
      EXPECT_EQ(pub.to_string(), s->at("getpublic_output"));
    }
    EXPECT_NE(s->at("validate_public").find("is a valid identity"), std::string::npos);
  }
}

TEST(IdentityVectors, SessionIdentityFilesMatchIdentitiesTxt) {
  const std::pair<const char*, const char*> files[] = {
      {"root", "root"}, {"controller", "ctrl"}, {"nodea", "nodea"}, {"nodeb", "nodeb"}};
  for (const auto& [file, label] : files) {
    SCOPED_TRACE(file);
    auto sec = runtime::load_identity_file(kVectors + "/" + file + ".identity.secret");
    auto pub = runtime::load_identity_file(kVectors + "/" + file + ".identity.public");
    ASSERT_TRUE(sec.ok()) << sec.error();
    ASSERT_TRUE(pub.ok()) << pub.error();
    EXPECT_EQ(sec->to_string(true), vectors().find(label)->at("secret"));
    EXPECT_EQ(pub->to_string(), vectors().find(label)->at("public"));
  }
}

TEST(IdentityVectors, EveryPublicKeyBitFlipFailsValidation) {
  // All 512 bits of one identity, and a spread of bits for every other one (each check
  // costs one memory-hard hash).
  for (const char* label : kIdentityLabels) {
    SCOPED_TRACE(label);
    Identity id = must_parse(vectors().find(label)->at("public"));
    const bool all = std::strcmp(label, "nodea") == 0;
    for (size_t bit = 0; bit < 512; bit += all ? 1 : 37) {
      std::string t = id.to_string();
      auto pubhex = t.substr(13);
      Bytes pub = from_hex(pubhex).value();
      pub[bit / 8] ^= uint8_t(1u << (bit % 8));
      Identity f = must_parse(t.substr(0, 13) + to_hex(pub));
      EXPECT_FALSE(f.validate()) << "bit " << bit;
      EXPECT_NE(f.validate_reason(), "") << "bit " << bit;
    }
    // The address flipped instead (public key intact) also fails.
    Identity wrong_addr = must_parse(proto::address_to_string(id.address() ^ 1) + id.to_string().substr(10));
    EXPECT_FALSE(wrong_addr.validate());
  }
}

TEST(IdentityVectors, SecretWithForeignPublicKeyFailsValidation) {
  Identity a = must_parse(vectors().find("nodea")->at("secret"));
  Identity b = must_parse(vectors().find("nodeb")->at("secret"));
  std::string mixed = b.to_string(false) + a.to_string(true).substr(a.to_string(false).size());
  Identity m = must_parse(mixed);  // B's address and public key, A's private key
  EXPECT_TRUE(m.has_private());
  EXPECT_FALSE(m.validate());
  EXPECT_NE(m.validate_reason().find("private key"), std::string::npos);
}

TEST(IdentityVectors, TextBinaryTextRoundTrip) {
  for (const char* label : kIdentityLabels) {
    SCOPED_TRACE(label);
    const Section* s = vectors().find(label);
    for (bool with_private : {false, true}) {
      Identity id = must_parse(s->at("secret"));
      Writer w;
      id.write(w, with_private);
      ASSERT_EQ(w.size(), with_private ? proto::kIdentitySecretSize : proto::kIdentityPublicSize);
      EXPECT_EQ(to_hex(ByteSpan(w.data()).subspan(0, 5)), s->at("address"));
      EXPECT_EQ(w.data()[5], 0);
      EXPECT_EQ(w.data()[70], with_private ? 64 : 0);
      // Trailing bytes must be left for the caller.
      Bytes buf = w.data();
      buf.push_back(0xab);
      Reader r(buf);
      auto back = Identity::read(r);
      ASSERT_TRUE(back.ok()) << back.error();
      EXPECT_EQ(r.remaining(), 1u);
      EXPECT_EQ(back->has_private(), with_private);
      EXPECT_EQ(back->to_string(true), with_private ? s->at("secret") : s->at("public"));
    }
  }
}

TEST(IdentityVectors, IdtoolSignaturesReproducedAndVerified) {
  int checked = 0;
  for (const auto& [name, s] : vectors().sections) {
    if (!s.count("signature")) continue;
    SCOPED_TRACE(name);
    // "sign <label> <msg>"
    std::string label = name.substr(5, name.find(' ', 5) - 5);
    Identity signer = must_parse(vectors().find(label)->at("secret"));
    Identity signer_pub = must_parse(vectors().find(label)->at("public"));
    Identity other = must_parse(vectors().find(label == "root" ? "nodea" : "root")->at("public"));
    Bytes msg = from_hex(s.at("message_hex")).value();
    Bytes want = from_hex(s.at("signature")).value();
    ASSERT_EQ(want.size(), crypto::kSignatureSize);
    auto sig = signer.sign(msg);
    EXPECT_EQ(to_hex(sig), s.at("signature"));  // byte for byte (Ed25519 is deterministic)
    EXPECT_EQ(s.at("deterministic"), "yes");
    // verify_with_public: valid
    EXPECT_NE(s.at("verify_with_public").find("signature valid"), std::string::npos);
    EXPECT_TRUE(signer_pub.verify(msg, want));
    // verify_tampered_sig: FAILED (any byte of either half)
    EXPECT_NE(s.at("verify_tampered_sig").find("FAILED"), std::string::npos);
    for (size_t i : {size_t(0), size_t(31), size_t(32), size_t(63), size_t(64), size_t(95)}) {
      Bytes t = want;
      t[i] ^= 0x01;
      EXPECT_FALSE(signer_pub.verify(msg, t)) << "byte " << i;
    }
    // verify_wrong_identity: FAILED
    EXPECT_NE(s.at("verify_wrong_identity").find("FAILED"), std::string::npos);
    EXPECT_FALSE(other.verify(msg, want));
    // A different message fails too.
    Bytes msg2 = msg;
    msg2.push_back('x');
    EXPECT_FALSE(signer_pub.verify(msg2, want));
    ++checked;
  }
  EXPECT_EQ(checked, 6);
}

TEST(IdentityVectors, AgreementSymmetricForSessionNodes) {
  const char* labels[] = {"root", "ctrl", "nodea", "nodeb"};
  for (const char* a : labels)
    for (const char* b : labels) {
      if (std::strcmp(a, b) == 0) continue;
      Identity ia = must_parse(vectors().find(a)->at("secret"));
      Identity ib = must_parse(vectors().find(b)->at("secret"));
      Identity ib_pub = must_parse(vectors().find(b)->at("public"));
      EXPECT_TRUE(ia.agree(ib_pub) == ib.agree(ia)) << a << " " << b;
      EXPECT_FALSE(ia.agree(ib_pub) == crypto::SymmetricKey());
    }
}

TEST(IdentityVectors, PublicKeyHashIsSha384OfAddressAndKey) {
  Identity id = must_parse(vectors().find("nodea")->at("public"));
  Writer w;
  w.u40(id.address()).bytes(ByteSpan(id.public_key().data(), 64));
  EXPECT_EQ(to_hex(id.public_key_hash()), to_hex(crypto::sha384(w.span())));
}

// ---- Structural rejection -----------------------------------------------------------------

TEST(IdentityParse, RejectsMalformedText) {
  const std::string good = vectors().find("nodea")->at("secret");
  const std::string pub = good.substr(13, 128), priv = good.substr(13 + 129);
  const std::string addr = "8fec3e8ae4";
  ASSERT_TRUE(Identity::parse(good).ok());
  ASSERT_TRUE(Identity::parse(addr + ":0:" + pub).ok());
  const std::vector<std::string> bad = {
      "",
      addr,
      addr + ":0",
      addr + ":1:" + pub,                       // type != 0
      addr + ":00:" + pub,                      // type must be exactly "0"
      addr + "::" + pub,
      "0000000000:0:" + pub,                    // reserved
      "ff12345678:0:" + pub,                    // reserved prefix
      "8fec3e8ae:0:" + pub,                     // 9 digits
      "08fec3e8ae4:0:" + pub,                   // 11 digits
      "8fec3e8ag4:0:" + pub,                    // bad hex in address
      addr + ":0:" + pub.substr(2),             // short public key
      addr + ":0:" + pub + "00",                // long public key
      addr + ":0:" + pub.substr(0, 127) + "z",  // bad hex
      addr + ":0:" + pub + ":",                 // empty private
      addr + ":0:" + pub + ":" + priv.substr(2),
      addr + ":0:" + pub + ":" + priv + "00",
      addr + ":0:" + pub + ":" + priv.substr(0, 127) + "q",
      addr + ":0:" + pub + ":" + priv + ":",    // five fields
      addr + ":0:" + pub + ":" + priv + ":00",
      " " + addr + ":0:" + pub,                 // whitespace is the caller's business
  };
  for (const auto& s : bad) {
    auto r = Identity::parse(s);
    EXPECT_FALSE(r.ok()) << s;
    if (!r.ok()) {
      EXPECT_FALSE(r.error().empty());
    }
  }
}

TEST(IdentityParse, RejectsMalformedBinary) {
  Identity id = must_parse(vectors().find("nodea")->at("secret"));
  Writer w;
  id.write(w, true);
  const Bytes good = w.data();
  {
    Reader r(good);
    EXPECT_TRUE(Identity::read(r).ok());
    EXPECT_TRUE(r.done());
  }
  auto try_read = [](const Bytes& b) {
    Reader r(b);
    return Identity::read(r).ok();
  };
  for (size_t n = 0; n < good.size(); ++n) EXPECT_FALSE(try_read(Bytes(good.begin(), good.begin() + long(n)))) << n;
  for (uint8_t t : {1, 2, 0x80, 0xff}) {
    Bytes b = good;
    b[5] = t;
    EXPECT_FALSE(try_read(b)) << "type " << int(t);
  }
  for (uint8_t l : {1, 32, 63, 65, 128, 255}) {
    Bytes b = good;
    b[70] = l;
    b.resize(200, 0);
    EXPECT_FALSE(try_read(b)) << "privlen " << int(l);
  }
  Bytes z = good;
  std::memset(z.data(), 0, 5);
  EXPECT_FALSE(try_read(z));
  Bytes ff = good;
  ff[0] = 0xff;
  EXPECT_FALSE(try_read(ff));
  Bytes pubonly(good.begin(), good.begin() + 71);
  pubonly[70] = 0;
  EXPECT_TRUE(try_read(pubonly));
}

TEST(IdentityParse, ReservedAddresses) {
  EXPECT_TRUE(proto::address_reserved(0));
  EXPECT_TRUE(proto::address_reserved(0xff00000000ull));
  EXPECT_TRUE(proto::address_reserved(0xffffffffffull));
  EXPECT_FALSE(proto::address_reserved(0xfe00000000ull));
  EXPECT_FALSE(proto::address_reserved(1));
  EXPECT_EQ(proto::address_to_string(0x765ad94991ull), "765ad94991");
  EXPECT_EQ(proto::address_to_string(0x1ull), "0000000001");
}

// ---- Generation and files -----------------------------------------------------------------

TEST(IdentityGenerate, ProducesValidIdentity) {
  Identity id = runtime::generate_identity();
  EXPECT_TRUE(id.has_private());
  EXPECT_FALSE(proto::address_reserved(id.address()));
  EXPECT_TRUE(id.validate()) << id.validate_reason();
  auto back = Identity::parse(id.to_string(true));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->to_string(true), id.to_string(true));
  // Sign / verify with the fresh key.
  auto sig = id.sign(as_bytes("msg"));
  EXPECT_TRUE(id.verify(as_bytes("msg"), sig));
}

TEST(IdentityGenerate, DeterministicWithInjectedRandom) {
  auto counter_rand = [](uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i) p[i] = uint8_t(i * 13 + 5);
  };
  Identity a = Identity::generate(counter_rand);
  Identity b = Identity::generate(counter_rand);
  EXPECT_EQ(a.to_string(true), b.to_string(true));
  EXPECT_TRUE(a.validate());
  // §1.2 generation walks bytes 8..23 only; the Ed25519 seed half is the random input.
  for (size_t i = 32; i < 64; ++i) EXPECT_EQ(a.private_key()[i], uint8_t(i * 13 + 5));
}

TEST(IdentityFiles, SaveSecretIs0600AndLoads) {
  Identity id = must_parse(vectors().find("nodeb")->at("secret"));
  std::string path = tmp_path("secret");
  // Pre-existing world-readable file with longer content: truncated and re-moded.
  {
    std::ofstream o(path);
    o << std::string(400, 'x');
  }
  ::chmod(path.c_str(), 0644);
  ASSERT_TRUE(runtime::save_identity_secret(id, path).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(slurp(path), id.to_string(true));
  auto back = runtime::load_identity_file(path);
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->to_string(true), id.to_string(true));
  std::remove(path.c_str());
  // Fresh file.
  ASSERT_TRUE(runtime::save_identity_secret(id, path).ok());
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::remove(path.c_str());
  // No private key: refused.
  Identity pub = must_parse(id.to_string());
  EXPECT_FALSE(runtime::save_identity_secret(pub, path).ok());
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(IdentityFiles, SavePublicAndLoadWithTrailingWhitespace) {
  Identity id = must_parse(vectors().find("nodeb")->at("secret"));
  std::string path = tmp_path("public");
  ASSERT_TRUE(runtime::save_identity_public(id, path).ok());
  EXPECT_EQ(slurp(path), id.to_string());
  {
    std::ofstream o(path);
    o << id.to_string() << " \r\n\n\t";
  }
  auto back = runtime::load_identity_file(path);
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->to_string(true), id.to_string());
  {
    std::ofstream o(path);
    o << id.to_string() << "\ngarbage";
  }
  EXPECT_FALSE(runtime::load_identity_file(path).ok());
  std::remove(path.c_str());
  auto missing = runtime::load_identity_file(path);
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find(path), std::string::npos);
  EXPECT_FALSE(runtime::save_identity_public(id, "/nonexistent-dir/x/y").ok());
}

TEST(IdentityKeys, NoPrivateKeyMeansNoSignatureAndNoKey) {
  Identity pub = must_parse(vectors().find("nodea")->at("public"));
  Identity other = must_parse(vectors().find("nodeb")->at("public"));
  EXPECT_TRUE(pub.agree(other) == crypto::SymmetricKey());
  auto sig = pub.sign(as_bytes("x"));
  EXPECT_FALSE(pub.verify(as_bytes("x"), sig));
}
