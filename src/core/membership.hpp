// Membership: what a node keeps about one other member of one network (PROTOCOL.md §7.6),
// the credential acceptance rules (§7.5, §7.6) and the inbound gate (§7.1, §16.1.2).
//
// A Membership is a plain value, sans I/O: it never sends, never traces, never reads a
// clock. Offering a credential returns an OfferResult; the caller (the VL2 network layer)
// acts on it:
//   Rejected + non-empty reason  → trace 2003 CREDENTIAL_REJECTED with that reason (§15)
//   Rejected + empty reason      → silent (wrong network; the reference ignores these)
//   Deferred                     → WHOIS `missing`, offer again when it is known
//   AcceptedNew + propagate      → (revocations only) forward per §7.5 step 5
//
// Filing: the caller keeps one Membership per (network, other member) and files every
// credential under the member it is about: a COM under its issued-to, a Tag/COO under
// issued_to, a Capability under issued_to() (last custody `to`), a Revocation under its
// target (§7.5). Membership does not re-check that; the gate binds the stored COM to the
// member's identity (hash qualifiers 3..6).
//
// Time: credential timestamps and thresholds are the controller's clock (ms, uint64), the
// same as the config `ts`. No "now" is needed: use-time validity is relative to the own
// config (`|ts − own.ts| ≤ own.ctmd`).
//
// Threading: none; a Membership belongs to its network and is used from one thread.
// Errors: none thrown; hostile credentials are ordinary Rejected outcomes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "proto/credentials.hpp"
#include "proto/identity.hpp"
#include "proto/netconf.hpp"
#include "proto/rules.hpp"
#include "proto/vl2.hpp"

namespace zt::core {

// Signer lookup: the identity of a node if known, nullptr if not (→ Deferred, WHOIS it).
// The pointer is used only during the call.
using IdentityLookup = std::function<const proto::Identity*(proto::Address)>;

enum class CredentialOutcome { Rejected, AcceptedNew, AcceptedRedundant, Deferred };

struct OfferResult {
  CredentialOutcome outcome = CredentialOutcome::Rejected;
  // Rejected: "revoked", "old" or "invalid" (the §15 2003 reasons), or "" for a silent
  // rejection (credential for another network). Empty for the other outcomes.
  const char* reason = "";
  // Deferred: the address whose identity is missing (WHOIS it).
  proto::Address missing = 0;
  // Revocations only: AcceptedNew and the fast-propagate flag (0x1) is set (§7.5 step 5).
  bool propagate = false;

  bool accepted() const {
    return outcome == CredentialOutcome::AcceptedNew || outcome == CredentialOutcome::AcceptedRedundant;
  }
};

// A capability held for a member, with its rules decoded once at acceptance (rule
// evaluation runs them per frame).
struct HeldCapability {
  proto::Capability cap;
  std::vector<proto::Rule> rules;
};

class Membership {
 public:
  Membership() = default;

  // ---- Offering credentials (§7.6 table; §7.5 for revocations) ------------------------
  // `nwid` is the network this record belongs to; a credential naming another network is
  // Rejected with an empty reason. `lookup` resolves signers (controller, custody hops).
  //
  // COM:  ts ≤ COM threshold → "revoked"; ts < stored ts → "old"; byte-identical → redundant;
  //       signer ≠ controller / bad signature → "invalid"; unknown signer → Deferred;
  //       else stored (replaces).
  OfferResult offer(uint64_t nwid, const proto::CertificateOfMembership& com, const IdentityLookup& lookup);
  // Tag / Capability / COO: same ID stored with a newer ts → "old"; byte-identical →
  // redundant; (type, ID) threshold ≥ ts → "revoked"; verification → "invalid" or Deferred;
  // else stored (replaces the same ID). A capability whose rules do not decode is "invalid".
  OfferResult offer(uint64_t nwid, const proto::Tag& tag, const IdentityLookup& lookup);
  OfferResult offer(uint64_t nwid, const proto::Capability& cap, const IdentityLookup& lookup);
  OfferResult offer(uint64_t nwid, const proto::CertificateOfOwnership& coo, const IdentityLookup& lookup);
  // Revocation (§7.5): verification first ("invalid" / Deferred); type COM raises the COM
  // threshold (never lowers it); types capability/tag/COO raise their (type, ID) threshold
  // and then SET the COM threshold to the same value (reference quirk: may lower it);
  // any other type → "invalid". Redundant when the threshold does not rise.
  OfferResult offer(uint64_t nwid, const proto::Revocation& rev, const IdentityLookup& lookup);

  // ---- Gate (§16.1.2, §7.1) ------------------------------------------------------------
  // True iff `own` is public, or: own has a COM, a COM is stored here, its ts > the COM
  // revocation threshold, and own COM agrees with it for `member` (identity hash check).
  // `member` must be the identity of the node this record is about.
  bool gate(const proto::NetworkConfig& own, const proto::Identity& member) const;

  // ---- Use-time accessors for the rules engine (§7.6 "at use time") --------------------
  // A stored tag/capability/COO counts only if |ts − own.ts| ≤ own.ctmd and ts > its
  // (type, ID) revocation threshold (if any).
  bool is_valid(const proto::NetworkConfig& own, proto::CredentialType type, uint32_t id, uint64_t ts) const;
  // The member's tag `id` if stored and valid, else nullptr.
  const proto::Tag* tag(const proto::NetworkConfig& own, uint32_t id) const;
  // The member's valid capabilities in ascending ID order (allocates a small vector).
  std::vector<const HeldCapability*> capabilities(const proto::NetworkConfig& own) const;
  // "Sender IP/MAC authenticated" (§8.2 CHARACTERISTICS, inbound): one of the member's
  // valid COOs lists the address. The IPv6 overload also applies the implicit rule: own
  // config has NDP emulation (0x04) and the IP is in the network's 6PLANE /40 (bytes 0..4)
  // while own 6PLANE address is in own `I`, or in the RFC4193 /88 (bytes 0..10) while own
  // RFC4193 address is in own `I`. (It does not check the embedded node address.)
  bool owns_ipv4(const proto::NetworkConfig& own, const uint8_t ip[4]) const;
  bool owns_ipv6(const proto::NetworkConfig& own, const uint8_t ip[16]) const;
  bool owns_mac(const proto::NetworkConfig& own, const proto::Mac& mac) const;

  // Periodic cleanup (§7.6): drops stored tags, capabilities and COOs that are not valid
  // against `own` right now. The COM and all thresholds are kept. Returns how many went.
  size_t cleanup(const proto::NetworkConfig& own);

  // ---- What-if records (explain tools only) ----------------------------------------------
  // Store a tag / capability as given, WITHOUT verification, thresholds or network checks,
  // to evaluate rules against a hypothetical member (`ztcore rules explain --tag`). Use-time
  // validity (is_valid) still applies. Never use these for credentials received from the
  // network. assume(Capability) returns false (and stores nothing) if its rules do not decode.
  void assume(const proto::Tag& tag) { tags_[tag.id] = tag; }
  bool assume(const proto::Capability& cap);

  // ---- Raw state -------------------------------------------------------------------------
  const std::optional<proto::CertificateOfMembership>& com() const { return com_; }
  uint64_t com_revocation_threshold() const { return com_threshold_; }
  // Threshold for (type, credential ID), 0 if none (0 revokes only ts = 0).
  uint64_t revocation_threshold(proto::CredentialType type, uint32_t id) const;
  const std::map<uint32_t, proto::Tag>& tags() const { return tags_; }
  const std::map<uint32_t, HeldCapability>& all_capabilities() const { return caps_; }
  const std::map<uint32_t, proto::CertificateOfOwnership>& coos() const { return coos_; }

  // ---- Timers kept for the network layer (ms, caller's clock) ----------------------------
  int64_t last_pushed_credentials = 0;  // our credentials last pushed to this member (§16.1.3)
  int64_t last_like_announce = 0;       // our groups last LIKEd to this member (§16.1.2)

 private:
  static uint64_t key(proto::CredentialType type, uint32_t id) { return (uint64_t(type) << 32) | id; }

  std::optional<proto::CertificateOfMembership> com_;
  uint64_t com_threshold_ = 0;
  std::map<uint64_t, uint64_t> revocations_;  // key(type, id) → threshold
  std::map<uint32_t, proto::Tag> tags_;
  std::map<uint32_t, HeldCapability> caps_;
  std::map<uint32_t, proto::CertificateOfOwnership> coos_;
};

// Gate with a possibly missing record: public → true; no record → false.
bool gate_passes(const proto::NetworkConfig& own, const Membership* m, const proto::Identity& member);

const char* credential_outcome_name(CredentialOutcome o);

}  // namespace zt::core
