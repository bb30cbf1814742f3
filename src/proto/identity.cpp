// ZeroTier identity (type 0), PROTOCOL.md §1.
#include "proto/identity.hpp"

#include <cstring>

#include "base/hex.hpp"

namespace zt::proto {

namespace {

constexpr uint8_t kDifficulty = 17;  // §1.2: d[0] < 17

Address address_from_digest(const crypto::Sha512Digest& d) { return load_be(d.data() + 59, 5); }

}  // namespace

bool address_reserved(Address a) { return a == 0 || (a >> 32) == 0xff; }

std::string address_to_string(Address a) { return to_hex(a & 0xffffffffffull, 10); }

crypto::Sha512Digest Identity::memory_hard_hash(const crypto::PublicKey& pub) {
  return crypto::identity_memory_hard_hash(pub);
}

Identity Identity::generate(const std::function<void(uint8_t*, size_t)>& rand) {
  // §1.2 generation loop: fix the Ed25519 half, walk the X25519 scalar until the derived
  // hash meets the difficulty; start over if the address lands on a reserved value.
  for (;;) {
    Identity id;
    rand(id.priv_.data(), crypto::kPrivateKeySize);
    id.pub_ = crypto::public_from_private(id.priv_);
    crypto::Sha512Digest d;
    for (;;) {
      uint64_t up = 0, down = 0;
      for (int i = 0; i < 8; ++i) {
        up |= uint64_t(id.priv_[8 + size_t(i)]) << (8 * i);
        down |= uint64_t(id.priv_[16 + size_t(i)]) << (8 * i);
      }
      ++up;
      --down;
      for (int i = 0; i < 8; ++i) {
        id.priv_[8 + size_t(i)] = uint8_t(up >> (8 * i));
        id.priv_[16 + size_t(i)] = uint8_t(down >> (8 * i));
      }
      auto x = crypto::x25519_public(id.priv_.data());
      std::memcpy(id.pub_.data(), x.data(), 32);
      d = crypto::identity_memory_hard_hash(id.pub_);
      if (d[0] < kDifficulty) break;
    }
    id.address_ = address_from_digest(d);
    if (address_reserved(id.address_)) continue;
    id.has_private_ = true;
    return id;
  }
}

Result<Identity> Identity::parse(std::string_view text) {
  // Split on ':' into at most 5 pieces so "too many fields" is detectable.
  std::string_view f[5];
  size_t n = 0, start = 0;
  for (;;) {
    size_t c = text.find(':', start);
    if (n == 4) return err("identity: too many fields");
    f[n++] = text.substr(start, c == std::string_view::npos ? std::string_view::npos : c - start);
    if (c == std::string_view::npos) break;
    start = c + 1;
  }
  if (n < 3) return err("identity: expected addr:0:public[:private]");
  if (f[0].size() != 10) return err("identity: address must be 10 hex digits");
  auto a = parse_hex_u64(f[0]);
  if (!a) return err("identity: address is not hex");
  if (address_reserved(*a)) return err("identity: reserved address");
  if (f[1] != "0") return err("identity: unsupported type (only type 0 exists)");
  if (f[2].size() != 2 * crypto::kPublicKeySize) return err("identity: public key must be 128 hex digits");
  auto pub = from_hex(f[2]);
  if (!pub) return err("identity: public key is not hex");
  Identity id;
  id.address_ = *a;
  std::memcpy(id.pub_.data(), pub->data(), crypto::kPublicKeySize);
  if (n == 4) {
    if (f[3].size() != 2 * crypto::kPrivateKeySize) return err("identity: private key must be 128 hex digits");
    auto priv = from_hex(f[3]);
    if (!priv) return err("identity: private key is not hex");
    std::memcpy(id.priv_.data(), priv->data(), crypto::kPrivateKeySize);
    crypto::secure_zero(priv->data(), priv->size());
    id.has_private_ = true;
  }
  return id;
}

Result<Identity> Identity::read(Reader& r) {
  // §1.3
  Address a = r.u40();
  uint8_t type = r.u8();
  ByteSpan pub = r.bytes(crypto::kPublicKeySize);
  uint8_t privlen = r.u8();
  if (!r.ok()) return err("identity: truncated");
  if (type != 0) return err("identity: unsupported type " + std::to_string(type));
  if (privlen != 0 && privlen != crypto::kPrivateKeySize)
    return err("identity: bad private key length " + std::to_string(privlen));
  if (address_reserved(a)) return err("identity: reserved address");
  Identity id;
  id.address_ = a;
  std::memcpy(id.pub_.data(), pub.data(), crypto::kPublicKeySize);
  if (privlen) {
    ByteSpan priv = r.bytes(crypto::kPrivateKeySize);
    if (!r.ok()) return err("identity: truncated private key");
    std::memcpy(id.priv_.data(), priv.data(), crypto::kPrivateKeySize);
    id.has_private_ = true;
  }
  return id;
}

std::string Identity::to_string(bool with_private) const {
  std::string s = address_to_string(address_);
  s += ":0:";
  s += to_hex(ByteSpan(pub_.data(), pub_.size()));
  if (with_private && has_private_) {
    s += ':';
    s += to_hex(ByteSpan(priv_.data(), priv_.size()));
  }
  return s;
}

void Identity::write(Writer& w, bool with_private) const {
  w.u40(address_).u8(0).bytes(ByteSpan(pub_.data(), pub_.size()));
  if (with_private && has_private_) {
    w.u8(uint8_t(crypto::kPrivateKeySize)).bytes(ByteSpan(priv_.data(), priv_.size()));
  } else {
    w.u8(0);
  }
}

std::string Identity::validate_reason() const {
  if (address_reserved(address_)) return "reserved address " + address_to_string(address_);
  if (has_private_) {
    crypto::PublicKey derived = crypto::public_from_private(priv_);
    if (derived != pub_) return "private key does not match public key";
  }
  crypto::Sha512Digest d = crypto::identity_memory_hard_hash(pub_);
  if (d[0] >= kDifficulty) return "public key does not meet the work requirement (address derivation)";
  if (address_from_digest(d) != address_)
    return "address " + address_to_string(address_) + " does not match the one derived from the public key (" +
           address_to_string(address_from_digest(d)) + ")";
  return "";
}

bool Identity::validate() const { return validate_reason().empty(); }

crypto::SymmetricKey Identity::agree(const Identity& other) const {
  if (!has_private_) return crypto::SymmetricKey();
  return crypto::agree(priv_, other.pub_);
}

crypto::Signature Identity::sign(ByteSpan msg) const {
  if (!has_private_) return crypto::Signature{};
  return crypto::sign(priv_, msg);
}

bool Identity::verify(ByteSpan msg, ByteSpan sig) const { return crypto::verify(pub_, msg, sig); }

crypto::Sha384Digest Identity::public_key_hash() const {
  uint8_t buf[5 + crypto::kPublicKeySize];
  store_be(buf, address_, 5);
  std::memcpy(buf + 5, pub_.data(), crypto::kPublicKeySize);
  return crypto::sha384(ByteSpan(buf, sizeof buf));
}

}  // namespace zt::proto
