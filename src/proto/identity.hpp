// ZeroTier identity (type 0 "C25519"), PROTOCOL.md §1.
//
// An Identity is an address + 64-byte public key, optionally with the 64-byte private key.
// Parsing never trusts input: read()/parse() check the structure; validate() runs the
// memory-hard address derivation (§1.2, ~2 MiB and tens of ms) and is the only proof that
// address and key belong together.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.hpp"
#include "base/result.hpp"
#include "crypto/crypto.hpp"

namespace zt::proto {

using Address = uint64_t;  // 40-bit ZeroTier address (upper 24 bits zero)
constexpr size_t kIdentityPublicSize = 71;   // address 5 + type 1 + key 64 + privlen 1
constexpr size_t kIdentitySecretSize = 135;  // + 64 private bytes

// Reserved addresses: 0 and anything whose top byte is 0xff (§1.2).
bool address_reserved(Address a);
std::string address_to_string(Address a);  // 10 lowercase hex digits

class Identity {
 public:
  Identity() = default;

  // Generates a new identity (§1.2 generation loop) from the injected random source (fills
  // n bytes at p). Takes from tens of ms to a second or so. Pure: the OS random source and
  // identity files are the runtime's (runtime/identity_store.hpp).
  static Identity generate(const std::function<void(uint8_t*, size_t)>& rand);

  // Text form (§1.4): "addr:0:pub[:priv]". Structural checks only (no validate()).
  static Result<Identity> parse(std::string_view text);
  // Binary form (§1.3), consuming exactly its bytes from r.
  static Result<Identity> read(Reader& r);

  // Text form; with_private only if has_private().
  std::string to_string(bool with_private = false) const;
  // Binary form (§1.3): public form unless with_private and has_private().
  void write(Writer& w, bool with_private = false) const;

  // §1.2 full check: derived hash has d[0] < 17, matches the address, address not reserved.
  // If the private key is present it must also produce the public key.
  bool validate() const;
  // Explains why validate() fails ("" when valid).
  std::string validate_reason() const;

  Address address() const { return address_; }
  const crypto::PublicKey& public_key() const { return pub_; }
  bool has_private() const { return has_private_; }
  const crypto::PrivateKey& private_key() const { return priv_; }

  // §1.5 shared key with another identity; requires has_private().
  crypto::SymmetricKey agree(const Identity& other) const;
  // §1.6; sign requires has_private().
  crypto::Signature sign(ByteSpan msg) const;
  bool verify(ByteSpan msg, ByteSpan sig) const;
  // SHA-384(address ‖ public key), used for COM qualifiers 3..6 (§1.6, §7.1).
  crypto::Sha384Digest public_key_hash() const;

  // Equality: same address and public key (§1.4).
  bool operator==(const Identity& o) const { return address_ == o.address_ && pub_ == o.pub_; }
  bool empty() const { return address_ == 0; }

  // §1.2: the 64-byte memory-hard digest of a public key (exposed for known-answer tests).
  static crypto::Sha512Digest memory_hard_hash(const crypto::PublicKey& pub);

 private:
  Address address_ = 0;
  crypto::PublicKey pub_{};
  bool has_private_ = false;
  crypto::PrivateKey priv_;
};

}  // namespace zt::proto
