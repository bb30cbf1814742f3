// Network credentials (PROTOCOL.md §7): Certificate of Membership, Capability, Tag,
// Certificate of Ownership, Revocation.
//
// Every type T has:
//   static Result<T> read(Reader&)  consumes exactly its bytes; hostile-input safe (counts
//                                   are bounded before any loop, failures are Result errors)
//   void write(Writer&) const       canonical wire form; write(read(x)) == x for every input
//                                   the reference produces (extension bytes are dropped and
//                                   written back as length 0, as the reference does)
//   Bytes signing_form() const      the bytes the signature covers
//   bool sign(const Identity&)      sets signed-by (where the type has one) and the
//                                   signature; false if the identity has no private key
//   bool verify(const Identity&)    signer identity matches signed-by, signed-by is the
//                                   controller of nwid (§4.4), and the signature verifies.
//                                   The caller looks the signer up by signed_by first; an
//                                   unknown signer is the caller's "WHOIS and defer" (§7).
// Plain aggregates: fields are public; the wire limits are checked by read(), not by the
// setters. Thread-safety: values, no shared state.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "base/bytes.hpp"
#include "base/result.hpp"
#include "crypto/crypto.hpp"
#include "proto/identity.hpp"
#include "proto/inet_address.hpp"
#include "proto/rules.hpp"
#include "proto/vl2.hpp"

namespace zt::proto {

// Credential type IDs (§7, used by revocations).
enum class CredentialType : uint8_t {
  Null = 0,
  Com = 1,
  Capability = 2,
  Tag = 3,
  Coo = 4,
  Revocation = 6,
};

// ---- Certificate of Membership (§7.1) ----------------------------------------------------
struct ComQualifier {
  uint64_t id = 0;
  uint64_t value = 0;
  uint64_t max_delta = 0;
  bool operator==(const ComQualifier&) const = default;
};

class CertificateOfMembership {
 public:
  static constexpr size_t kMaxQualifiers = 8;
  // Reserved qualifier IDs used by controllers.
  static constexpr uint64_t kTimestamp = 0, kNetworkId = 1, kIssuedTo = 2, kIdentityHash0 = 3;

  CertificateOfMembership() = default;
  // The controller's COM (Q = 7, §7.1 table): timestamp ± max_delta, nwid, issued-to and the
  // SHA-384 identity hash words of `member`. Unsigned until sign().
  static CertificateOfMembership make(uint64_t timestamp, uint64_t max_delta, uint64_t nwid,
                                      const Identity& member);

  // Errors: version ≠ 1, Q > 8, decreasing qualifier IDs, truncation.
  static Result<CertificateOfMembership> read(Reader& r);
  void write(Writer& w) const;
  // Q × (id|value|maxDelta), no framing (§7.1).
  Bytes signing_form() const;
  bool sign(const Identity& controller);
  bool verify(const Identity& controller) const;

  // §7.1 gate check: this (our) COM agrees with `other` held by `other_identity`.
  bool agrees_with(const CertificateOfMembership& other, const Identity& other_identity) const;

  // Qualifier lookup (first with that id).
  std::optional<uint64_t> qualifier(uint64_t id) const;
  uint64_t timestamp() const { return qualifier(kTimestamp).value_or(0); }
  uint64_t network_id() const { return qualifier(kNetworkId).value_or(0); }
  Address issued_to() const { return qualifier(kIssuedTo).value_or(0); }
  uint64_t max_delta() const;  // maxDelta of the timestamp qualifier (0 if absent)
  // Qualifiers 3..6 as 32 bytes (the identity hash prefix), nullopt if any is missing.
  std::optional<std::array<uint8_t, 32>> identity_hash() const;

  const std::vector<ComQualifier>& qualifiers() const { return qualifiers_; }
  // Adds or replaces a qualifier, keeping IDs sorted; false if it would exceed 8.
  bool set_qualifier(uint64_t id, uint64_t value, uint64_t max_delta);
  Address signed_by() const { return signed_by_; }
  const crypto::Signature& signature() const { return signature_; }
  bool is_signed() const { return signed_by_ != 0; }
  bool empty() const { return qualifiers_.empty(); }

  bool operator==(const CertificateOfMembership&) const = default;

 private:
  std::vector<ComQualifier> qualifiers_;
  Address signed_by_ = 0;
  crypto::Signature signature_{};
};
using Com = CertificateOfMembership;

// ---- Capability (§7.2) -------------------------------------------------------------------
struct CustodyEntry {
  Address to = 0;
  Address from = 0;
  // False when the entry's signature type was not 1 (its bytes were skipped): it can never
  // verify, and write() emits it as type 1 with a zero signature.
  bool has_signature = true;
  crypto::Signature signature{};
  bool operator==(const CustodyEntry&) const = default;
};

class Capability {
 public:
  static constexpr size_t kMaxRules = kMaxCapabilityRules;  // 64
  static constexpr uint8_t kMaxCustodyChain = 7;

  uint64_t nwid = 0;
  uint64_t timestamp = 0;
  uint32_t id = 0;
  uint8_t max_custody = 1;  // M, 1..7
  std::vector<CustodyEntry> custody;

  Capability() = default;
  // Rules are kept as their exact wire bytes (so a capability carrying rule types this code
  // does not know re-serializes and verifies byte for byte); rules() decodes them.
  const Bytes& rules_bytes() const { return rules_bytes_; }
  uint16_t rule_count() const { return rule_count_; }
  Result<std::vector<Rule>> rules() const;
  // Encodes `rules` canonically; false if more than 64.
  bool set_rules(const std::vector<Rule>& rules);

  // Errors: > 64 rules, M outside 1..7, more entries than M, sig type 1 with length ≠ 96,
  // malformed rules, truncation.
  static Result<Capability> read(Reader& r);
  void write(Writer& w) const;
  // 7f×8 | nwid | ts | id | R | rules | M | [2] 0 | 7f×8 (custody chain omitted).
  Bytes signing_form() const;

  // Appends a custody entry from `from` to `to`, signing the signing form; false if
  // `from` has no private key or the chain is full (M entries).
  bool add_custody(const Identity& from, Address to);
  // The controller's issuance: one entry controller → to (clears any chain). Same as
  // add_custody after clearing.
  bool sign(const Identity& controller, Address to);
  // §7.2 chain walk. `lookup(address)` returns the identity of a signer or nullptr if
  // unknown. Result: Ok, Invalid, or NeedIdentity with `missing` set (WHOIS and defer).
  enum class Verdict { Ok, Invalid, NeedIdentity };
  struct Verification {
    Verdict verdict = Verdict::Invalid;
    Address missing = 0;
  };
  Verification verify(const std::function<const Identity*(Address)>& lookup) const;
  // Convenience for a single-entry (controller-issued) capability.
  bool verify(const Identity& controller) const;

  // Holder: the `to` of the last entry (0 if no chain).
  Address issued_to() const { return custody.empty() ? 0 : custody.back().to; }

  bool operator==(const Capability&) const = default;

 private:
  uint16_t rule_count_ = 0;
  Bytes rules_bytes_;
};

// ---- Tag (§7.3) --------------------------------------------------------------------------
struct Tag {
  uint64_t nwid = 0;
  uint64_t timestamp = 0;
  uint32_t id = 0;
  uint32_t value = 0;
  Address issued_to = 0;
  Address signed_by = 0;
  bool has_signature = true;  // false when the wire signature type was not 1
  crypto::Signature signature{};

  // Errors: sig type 1 with length ≠ 96, truncation.
  static Result<Tag> read(Reader& r);
  void write(Writer& w) const;
  // 7f×8 | nwid | ts | id | value | issuedTo | signedBy | [2] 0 | 7f×8.
  Bytes signing_form() const;
  bool sign(const Identity& controller);
  bool verify(const Identity& controller) const;

  bool operator==(const Tag&) const = default;
};

// ---- Certificate of Ownership (§7.4) -----------------------------------------------------
class CertificateOfOwnership {
 public:
  static constexpr size_t kMaxThings = 16;
  enum class ThingType : uint8_t { Null = 0, Mac = 1, Ipv4 = 2, Ipv6 = 3 };
  struct Thing {
    ThingType type = ThingType::Null;
    std::array<uint8_t, 16> value{};  // zero padded
    bool operator==(const Thing&) const = default;
  };

  uint64_t nwid = 0;
  uint64_t timestamp = 0;
  uint64_t flags = 0;
  uint32_t id = 0;
  std::vector<Thing> things;
  Address issued_to = 0;
  Address signed_by = 0;
  bool has_signature = true;
  crypto::Signature signature{};

  // Adders; false when full (16) or the address is not IPv4/IPv6.
  bool add_ip(const InetAddress& ip);
  bool add_mac(const Mac& mac);
  // Ownership tests used by the rules engine (exact 4-/16-byte and 6-byte comparisons).
  bool owns_ip(const InetAddress& ip) const;
  bool owns_ipv4(const uint8_t ip[4]) const;
  bool owns_ipv6(const uint8_t ip[16]) const;
  bool owns_mac(const Mac& mac) const;

  // Errors: N > 16, sig type 1 with length ≠ 96, truncation.
  static Result<CertificateOfOwnership> read(Reader& r);
  void write(Writer& w) const;
  // 7f×8 | body up to and including signed-by | [2] 0 | 7f×8.
  Bytes signing_form() const;
  bool sign(const Identity& controller);
  bool verify(const Identity& controller) const;

  bool operator==(const CertificateOfOwnership&) const = default;
};
using Coo = CertificateOfOwnership;

// ---- Revocation (§7.5) -------------------------------------------------------------------
struct Revocation {
  static constexpr uint64_t kFlagFastPropagate = 0x1;

  uint32_t id = 0;
  uint64_t nwid = 0;
  uint32_t credential_id = 0;
  uint64_t threshold = 0;
  uint64_t flags = 0;
  Address target = 0;
  Address signed_by = 0;
  CredentialType credential_type = CredentialType::Null;
  bool has_signature = true;
  crypto::Signature signature{};

  // Errors: sig type 1 with length ≠ 96, truncation. The two reserved 32-bit words are read
  // and ignored (written as 0). Unknown credential types are kept (the receiver rejects them).
  static Result<Revocation> read(Reader& r);
  void write(Writer& w) const;
  // 7f×8 | body through the credential-type byte | [2] 0 | 7f×8.
  Bytes signing_form() const;
  bool sign(const Identity& controller);
  bool verify(const Identity& controller) const;

  bool operator==(const Revocation&) const = default;
};

}  // namespace zt::proto
