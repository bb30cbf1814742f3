// core::Membership (PROTOCOL.md §7.1, §7.5, §7.6, §16.1.2): the gate over the reference
// COMs of both cached configs, every acceptance outcome and reason for every credential
// type in the §7.6 order, deferral on unknown signers, the revocation rules of §7.5
// (incl. the step 3 quirk), use-time validity, ownership and cleanup.
#include <gtest/gtest.h>

#include <cstring>

#include "core/membership.hpp"
#include "support/credential_factory.hpp"

using namespace zt;
using namespace zt::proto;
using zt::core::CredentialOutcome;
using zt::core::Membership;
using zt::core::OfferResult;
using zt::test::kVectorNwid;
using zt::test::VectorNodes;

namespace {

constexpr auto kNew = CredentialOutcome::AcceptedNew;
constexpr auto kRedundant = CredentialOutcome::AcceptedRedundant;
constexpr auto kRejected = CredentialOutcome::Rejected;
constexpr auto kDeferred = CredentialOutcome::Deferred;

// Compares outcome and reason in one assertion with a readable message.
::testing::AssertionResult Is(const OfferResult& r, CredentialOutcome o, const std::string& reason = "") {
  if (r.outcome == o && reason == r.reason) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "got " << core::credential_outcome_name(r.outcome) << " \"" << r.reason
                                       << "\", want " << core::credential_outcome_name(o) << " \"" << reason
                                       << "\"";
}

struct Vectors {
  const VectorNodes& n = VectorNodes::get();
  NetworkConfig cfg_a = test::vector_config("nodea");
  NetworkConfig cfg_b = test::vector_config("nodeb");
  uint64_t ts = cfg_a.timestamp;                       // controller clock of A's config
  uint64_t ctmd = cfg_a.credential_time_max_delta;     // 1,800,000
};

}  // namespace

// ---- Gate over the reference COMs (§7.1, §16.1.2) ---------------------------------------------

TEST(MembershipGate, NodeAAcceptsNodeBsVectorCom) {
  Vectors v;
  ASSERT_TRUE(v.cfg_a.com && v.cfg_b.com);
  ASSERT_TRUE(v.cfg_a.is_private());
  Membership b_at_a;
  EXPECT_FALSE(b_at_a.gate(v.cfg_a, v.n.b)) << "no COM stored yet";
  EXPECT_TRUE(Is(b_at_a.offer(kVectorNwid, *v.cfg_b.com, v.n.controller_only()), kNew));
  EXPECT_TRUE(b_at_a.gate(v.cfg_a, v.n.b));
  EXPECT_TRUE(core::gate_passes(v.cfg_a, &b_at_a, v.n.b));
  // And the other way round.
  Membership a_at_b;
  EXPECT_TRUE(Is(a_at_b.offer(kVectorNwid, *v.cfg_a.com, v.n.controller_only()), kNew));
  EXPECT_TRUE(a_at_b.gate(v.cfg_b, v.n.a));
}

TEST(MembershipGate, WrongIdentityFailsTheHashCheck) {
  Vectors v;
  Membership b_at_a;
  ASSERT_TRUE(Is(b_at_a.offer(kVectorNwid, *v.cfg_b.com, v.n.controller_only()), kNew));
  // Node A presenting B's COM: qualifiers 3..6 do not hash A's identity.
  EXPECT_FALSE(b_at_a.gate(v.cfg_a, v.n.a));
  EXPECT_FALSE(b_at_a.gate(v.cfg_a, v.n.controller));
}

TEST(MembershipGate, TamperedQualifierIsInvalidAndNeverStored) {
  Vectors v;
  for (uint64_t qid : {Com::kTimestamp, Com::kNetworkId, Com::kIssuedTo, Com::kIdentityHash0 + 2}) {
    Com tampered = *v.cfg_b.com;
    auto q = tampered.qualifier(qid);
    ASSERT_TRUE(q);
    uint64_t md = 0;
    for (const auto& x : tampered.qualifiers())
      if (x.id == qid) md = x.max_delta;
    ASSERT_TRUE(tampered.set_qualifier(qid, *q ^ 1, md));
    Membership m;
    // The network ID qualifier decides which network the COM is for: a changed one is for
    // another network and is refused silently.
    const char* want = qid == Com::kNetworkId ? "" : "invalid";
    EXPECT_TRUE(Is(m.offer(kVectorNwid, tampered, v.n.controller_only()), kRejected, want)) << "qualifier " << qid;
    EXPECT_FALSE(m.com());
    EXPECT_FALSE(m.gate(v.cfg_a, v.n.b));
  }
}

TEST(MembershipGate, ValidSignatureButDisagreeingComFails) {
  Vectors v;
  // Controller-signed, but its timestamp is further from ours than our ctmd allows.
  Membership far;
  ASSERT_TRUE(Is(far.offer(kVectorNwid, test::signed_com(v.ts + v.ctmd + 1, v.ctmd, v.n.b), v.n.controller_only()),
                 kNew));
  EXPECT_FALSE(far.gate(v.cfg_a, v.n.b));
  // Exactly ctmd away still agrees (|a − b| ≤ maxDelta).
  Membership edge;
  ASSERT_TRUE(Is(edge.offer(kVectorNwid, test::signed_com(v.ts + v.ctmd, v.ctmd, v.n.b), v.n.controller_only()),
                 kNew));
  EXPECT_TRUE(edge.gate(v.cfg_a, v.n.b));
  // A COM issued to A's identity, stored in B's record: the hash qualifiers are A's.
  Membership wrong;
  ASSERT_TRUE(Is(wrong.offer(kVectorNwid, test::signed_com(v.ts, v.ctmd, v.n.a), v.n.controller_only()), kNew));
  EXPECT_FALSE(wrong.gate(v.cfg_a, v.n.b));
}

TEST(MembershipGate, RevokedThresholdClosesTheGate) {
  Vectors v;
  Membership m;
  ASSERT_TRUE(Is(m.offer(kVectorNwid, *v.cfg_b.com, v.n.controller_only()), kNew));
  const uint64_t com_ts = v.cfg_b.com->timestamp();
  // Threshold just below the COM ts: still open.
  EXPECT_TRUE(Is(m.offer(kVectorNwid, test::signed_revocation(CredentialType::Com, 0, com_ts - 1, v.n.b.address()),
                         v.n.controller_only()),
                 kNew));
  EXPECT_TRUE(m.gate(v.cfg_a, v.n.b));
  // Threshold = COM ts: "ts ≤ threshold" is revoked.
  EXPECT_TRUE(Is(m.offer(kVectorNwid, test::signed_revocation(CredentialType::Com, 0, com_ts, v.n.b.address()),
                         v.n.controller_only()),
                 kNew));
  EXPECT_EQ(m.com_revocation_threshold(), com_ts);
  EXPECT_FALSE(m.gate(v.cfg_a, v.n.b));
  // The same COM again is now "revoked"; a newer one reopens the gate.
  EXPECT_TRUE(Is(m.offer(kVectorNwid, *v.cfg_b.com, v.n.controller_only()), kRejected, "revoked"));
  EXPECT_TRUE(Is(m.offer(kVectorNwid, test::signed_com(com_ts + 1, v.ctmd, v.n.b), v.n.controller_only()), kNew));
  EXPECT_TRUE(m.gate(v.cfg_a, v.n.b));
}

TEST(MembershipGate, PublicNetworkAndMissingOwnCom) {
  Vectors v;
  NetworkConfig pub = v.cfg_a;
  pub.type = NetworkConfig::kTypePublic;
  Membership empty;
  EXPECT_TRUE(empty.gate(pub, v.n.b));
  EXPECT_TRUE(core::gate_passes(pub, nullptr, v.n.b));
  EXPECT_FALSE(core::gate_passes(v.cfg_a, nullptr, v.n.b));
  // Private network without our own COM: nothing to agree with.
  Membership m;
  ASSERT_TRUE(Is(m.offer(kVectorNwid, *v.cfg_b.com, v.n.controller_only()), kNew));
  NetworkConfig no_com = v.cfg_a;
  no_com.com.reset();
  EXPECT_FALSE(m.gate(no_com, v.n.b));
  no_com.com = Com{};
  EXPECT_FALSE(m.gate(no_com, v.n.b));
}

// ---- COM acceptance (§7.6 row 1) ----------------------------------------------------------------

TEST(MembershipCom, EveryOutcomeInOrder) {
  Vectors v;
  const uint64_t t0 = v.ts;
  struct Step {
    const char* what;
    Com com;
    core::IdentityLookup lookup;
    CredentialOutcome want;
    const char* reason;
  };
  Com unsigned_old = Com::make(t0 - 10, v.ctmd, kVectorNwid, v.n.b);  // unsigned, older
  Com by_member = Com::make(t0 + 5, v.ctmd, kVectorNwid, v.n.b);
  ASSERT_TRUE(by_member.sign(v.n.b_secret));  // signed by B, not the controller
  Com other_net = test::signed_com(t0 + 6, v.ctmd, v.n.b, kVectorNwid + 1);
  Com bad_sig = test::signed_com(t0 + 7, v.ctmd, v.n.b);
  ASSERT_TRUE(bad_sig.set_qualifier(Com::kIssuedTo, 0x1234567890ULL, ~0ULL));  // breaks the signature

  const std::vector<Step> steps = {
      {"unknown controller defers", test::signed_com(t0, v.ctmd, v.n.b), VectorNodes::nobody(), kDeferred, ""},
      {"first COM", test::signed_com(t0, v.ctmd, v.n.b), v.n.controller_only(), kNew, ""},
      {"byte-identical", test::signed_com(t0, v.ctmd, v.n.b), v.n.controller_only(), kRedundant, ""},
      {"identical, signer unknown: still redundant (checked first)", test::signed_com(t0, v.ctmd, v.n.b),
       VectorNodes::nobody(), kRedundant, ""},
      {"older ts, even unsigned: old before invalid", unsigned_old, v.n.controller_only(), kRejected, "old"},
      {"signed by the member", by_member, v.n.everyone(), kRejected, "invalid"},
      {"bad signature", bad_sig, v.n.controller_only(), kRejected, "invalid"},
      {"other network: silent", other_net, v.n.controller_only(), kRejected, ""},
      {"same ts, different content replaces", test::signed_com(t0, v.ctmd + 1, v.n.b), v.n.controller_only(), kNew,
       ""},
      {"newer", test::signed_com(t0 + 100, v.ctmd, v.n.b), v.n.controller_only(), kNew, ""},
  };
  Membership m;
  for (const auto& s : steps) {
    OfferResult r = m.offer(kVectorNwid, s.com, s.lookup);
    EXPECT_TRUE(Is(r, s.want, s.reason)) << s.what;
    if (s.want == kDeferred) {
      EXPECT_EQ(r.missing, v.n.controller.address()) << s.what;
    }
    EXPECT_FALSE(r.propagate);
  }
  ASSERT_TRUE(m.com());
  EXPECT_EQ(m.com()->timestamp(), t0 + 100);
}

TEST(MembershipCom, RevokedIsCheckedBeforeEverythingElse) {
  Vectors v;
  Membership m;
  ASSERT_TRUE(Is(m.offer(kVectorNwid, test::signed_revocation(CredentialType::Com, 0, v.ts, v.n.b.address()),
                         v.n.controller_only()),
                 kNew));
  // ts ≤ threshold is "revoked" even when unsigned or the signer is unknown.
  EXPECT_TRUE(Is(m.offer(kVectorNwid, Com::make(v.ts, v.ctmd, kVectorNwid, v.n.b), VectorNodes::nobody()), kRejected,
                 "revoked"));
  EXPECT_TRUE(Is(m.offer(kVectorNwid, test::signed_com(v.ts - 1, v.ctmd, v.n.b), v.n.controller_only()), kRejected,
                 "revoked"));
  EXPECT_TRUE(Is(m.offer(kVectorNwid, test::signed_com(v.ts + 1, v.ctmd, v.n.b), v.n.controller_only()), kNew));
}

// ---- Tag / Capability / COO acceptance (§7.6 row 2) --------------------------------------------

TEST(MembershipTag, EveryOutcomeInOrder) {
  Vectors v;
  const Address b = v.n.b.address();
  const uint64_t t0 = v.ts;
  Tag bad_sig = test::signed_tag(1, 7, t0 + 50, b);
  bad_sig.value = 8;
  Tag by_member;
  by_member.nwid = kVectorNwid;
  by_member.timestamp = t0 + 60;
  by_member.id = 1;
  by_member.value = 9;
  by_member.issued_to = b;
  ASSERT_TRUE(by_member.sign(v.n.b_secret));
  Tag no_sig = test::signed_tag(1, 9, t0 + 70, b);
  no_sig.has_signature = false;

  struct Step {
    const char* what;
    Tag tag;
    core::IdentityLookup lookup;
    CredentialOutcome want;
    const char* reason;
  };
  const std::vector<Step> steps = {
      {"unknown signer defers", test::signed_tag(1, 7, t0, b), VectorNodes::nobody(), kDeferred, ""},
      {"first", test::signed_tag(1, 7, t0, b), v.n.controller_only(), kNew, ""},
      {"identical", test::signed_tag(1, 7, t0, b), v.n.controller_only(), kRedundant, ""},
      {"identical, unknown signer", test::signed_tag(1, 7, t0, b), VectorNodes::nobody(), kRedundant, ""},
      {"older", test::signed_tag(1, 7, t0 - 1, b), v.n.controller_only(), kRejected, "old"},
      {"older and unsigned: old first", Tag{kVectorNwid, t0 - 2, 1, 7, b, 0}, v.n.controller_only(), kRejected,
       "old"},
      {"same ts, other value: replaces", test::signed_tag(1, 8, t0, b), v.n.controller_only(), kNew, ""},
      {"bad signature", bad_sig, v.n.controller_only(), kRejected, "invalid"},
      {"signed by member", by_member, v.n.everyone(), kRejected, "invalid"},
      {"signature type not 1", no_sig, v.n.controller_only(), kRejected, "invalid"},
      {"other network", test::signed_tag(1, 7, t0 + 80, b, kVectorNwid ^ 1), v.n.controller_only(), kRejected, ""},
      {"another ID is independent", test::signed_tag(2, 1, t0 - 1000, b), v.n.controller_only(), kNew, ""},
      {"newer", test::signed_tag(1, 9, t0 + 90, b), v.n.controller_only(), kNew, ""},
  };
  Membership m;
  for (const auto& s : steps) {
    OfferResult r = m.offer(kVectorNwid, s.tag, s.lookup);
    EXPECT_TRUE(Is(r, s.want, s.reason)) << s.what;
    if (s.want == kDeferred) {
      EXPECT_EQ(r.missing, v.n.controller.address());
    }
  }
  ASSERT_EQ(m.tags().size(), 2u);
  EXPECT_EQ(m.tags().at(1).value, 9u);
  EXPECT_EQ(m.tags().at(2).value, 1u);
}

TEST(MembershipTag, RevocationThresholdAppliesAfterOldAndRedundant) {
  Vectors v;
  const Address b = v.n.b.address();
  Membership m;
  ASSERT_TRUE(Is(m.offer(kVectorNwid, test::signed_tag(1, 7, v.ts, b), v.n.controller_only()), kNew));
  ASSERT_TRUE(Is(m.offer(kVectorNwid, test::signed_revocation(CredentialType::Tag, 1, v.ts + 10, b),
                         v.n.controller_only()),
                 kNew));
  EXPECT_EQ(m.revocation_threshold(CredentialType::Tag, 1), v.ts + 10);
  // Identical to the stored tag: redundant wins over revoked (checked first).
  EXPECT_TRUE(Is(m.offer(kVectorNwid, test::signed_tag(1, 7, v.ts, b), v.n.controller_only()), kRedundant));
  // Not stored-identical, ts ≤ threshold: revoked, even with an unknown signer or no signature.
  EXPECT_TRUE(Is(m.offer(kVectorNwid, test::signed_tag(1, 8, v.ts + 10, b), VectorNodes::nobody()), kRejected,
                 "revoked"));
  EXPECT_TRUE(Is(m.offer(kVectorNwid, Tag{kVectorNwid, v.ts + 5, 1, 8, b, 0}, v.n.controller_only()), kRejected,
                 "revoked"));
  // Above the threshold: accepted.
  EXPECT_TRUE(Is(m.offer(kVectorNwid, test::signed_tag(1, 8, v.ts + 11, b), v.n.controller_only()), kNew));
  // Threshold of another type/ID does not apply.
  EXPECT_TRUE(Is(m.offer(kVectorNwid, test::signed_tag(2, 8, v.ts, b), v.n.controller_only()), kNew));
}

TEST(MembershipCapability, OutcomesAndCustodyChain) {
  Vectors v;
  const Address a = v.n.a.address(), b = v.n.b.address();
  const std::vector<Rule> rules = {Rule::accept()};
  Membership m;
  // Controller-issued (one custody entry).
  Capability c1 = test::signed_capability(10, v.ts, b, rules);
  EXPECT_TRUE(Is(m.offer(kVectorNwid, c1, VectorNodes::nobody()), kDeferred));
  EXPECT_TRUE(Is(m.offer(kVectorNwid, c1, v.n.controller_only()), kNew));
  ASSERT_EQ(m.all_capabilities().size(), 1u);
  EXPECT_EQ(m.all_capabilities().at(10).rules, rules);
  EXPECT_TRUE(Is(m.offer(kVectorNwid, c1, v.n.controller_only()), kRedundant));
  EXPECT_TRUE(Is(m.offer(kVectorNwid, test::signed_capability(10, v.ts - 1, b, rules), v.n.controller_only()),
                 kRejected, "old"));
  // Bad signature.
  Capability bad = test::signed_capability(11, v.ts, b, rules);
  bad.custody[0].signature[3] ^= 1;
  EXPECT_TRUE(Is(m.offer(kVectorNwid, bad, v.n.controller_only()), kRejected, "invalid"));
  // First custody entry not from the controller.
  Capability forged;
  forged.nwid = kVectorNwid;
  forged.timestamp = v.ts;
  forged.id = 12;
  ASSERT_TRUE(forged.set_rules(rules));
  ASSERT_TRUE(forged.sign(v.n.a_secret, b));
  EXPECT_TRUE(Is(m.offer(kVectorNwid, forged, v.n.everyone()), kRejected, "invalid"));
  // Two-hop chain controller → A → B: A's identity unknown defers with A missing.
  Capability chain;
  chain.nwid = kVectorNwid;
  chain.timestamp = v.ts;
  chain.id = 13;
  chain.max_custody = 2;
  ASSERT_TRUE(chain.set_rules(rules));
  ASSERT_TRUE(chain.add_custody(v.n.controller, a));
  ASSERT_TRUE(chain.add_custody(v.n.a_secret, b));
  OfferResult r = m.offer(kVectorNwid, chain, v.n.controller_only());
  EXPECT_TRUE(Is(r, kDeferred));
  EXPECT_EQ(r.missing, a);
  EXPECT_TRUE(Is(m.offer(kVectorNwid, chain, v.n.everyone()), kNew));
  // Revoked by (type 2, ID).
  ASSERT_TRUE(Is(m.offer(kVectorNwid, test::signed_revocation(CredentialType::Capability, 14, v.ts, b),
                         v.n.controller_only()),
                 kNew));
  EXPECT_TRUE(Is(m.offer(kVectorNwid, test::signed_capability(14, v.ts, b, rules), v.n.controller_only()),
                 kRejected, "revoked"));
  EXPECT_TRUE(Is(m.offer(kVectorNwid, test::signed_capability(15, v.ts, b, rules, kVectorNwid + 1),
                         v.n.controller_only()),
                 kRejected, ""));
}

TEST(MembershipCoo, VectorCooAndOutcomes) {
  Vectors v;
  ASSERT_EQ(v.cfg_b.certificates_of_ownership.size(), 1u);
  const Coo& vec = v.cfg_b.certificates_of_ownership[0];
  Membership m;
  EXPECT_TRUE(Is(m.offer(kVectorNwid, vec, VectorNodes::nobody()), kDeferred));
  EXPECT_TRUE(Is(m.offer(kVectorNwid, vec, v.n.controller_only()), kNew));
  EXPECT_TRUE(Is(m.offer(kVectorNwid, vec, v.n.controller_only()), kRedundant));
  Coo older = test::signed_coo(vec.id, vec.timestamp - 1, vec.issued_to, {});
  EXPECT_TRUE(Is(m.offer(kVectorNwid, older, v.n.controller_only()), kRejected, "old"));
  Coo tampered = vec;
  tampered.things[0].value[15] ^= 1;
  tampered.timestamp += 1;
  EXPECT_TRUE(Is(m.offer(kVectorNwid, tampered, v.n.controller_only()), kRejected, "invalid"));
  ASSERT_TRUE(Is(m.offer(kVectorNwid, test::signed_revocation(CredentialType::Coo, 2, vec.timestamp, vec.issued_to),
                         v.n.controller_only()),
                 kNew));
  EXPECT_TRUE(Is(m.offer(kVectorNwid, test::signed_coo(2, vec.timestamp, vec.issued_to, {}), v.n.controller_only()),
                 kRejected, "revoked"));
}

// ---- Revocations (§7.5) ---------------------------------------------------------------------------

TEST(MembershipRevocation, ComThresholdOnlyRises) {
  Vectors v;
  const Address b = v.n.b.address();
  Membership m;
  auto rev = [&](uint64_t th) { return test::signed_revocation(CredentialType::Com, 0, th, b); };
  EXPECT_TRUE(Is(m.offer(kVectorNwid, rev(1000), v.n.controller_only()), kNew));
  EXPECT_TRUE(Is(m.offer(kVectorNwid, rev(1000), v.n.controller_only()), kRedundant));
  EXPECT_TRUE(Is(m.offer(kVectorNwid, rev(999), v.n.controller_only()), kRedundant));
  EXPECT_EQ(m.com_revocation_threshold(), 1000u);
  EXPECT_TRUE(Is(m.offer(kVectorNwid, rev(1001), v.n.controller_only()), kNew));
  EXPECT_EQ(m.com_revocation_threshold(), 1001u);
}

TEST(MembershipRevocation, CredentialRevocationAlsoSetsComThresholdQuirk) {
  Vectors v;
  const Address b = v.n.b.address();
  Membership m;
  ASSERT_TRUE(Is(m.offer(kVectorNwid, *v.cfg_b.com, v.n.controller_only()), kNew));
  ASSERT_TRUE(m.gate(v.cfg_a, v.n.b));
  const uint64_t com_ts = v.cfg_b.com->timestamp();
  // A tag revocation at the COM's timestamp revokes the COM too (§7.5 step 3).
  EXPECT_TRUE(Is(m.offer(kVectorNwid, test::signed_revocation(CredentialType::Tag, 77, com_ts, b),
                         v.n.controller_only()),
                 kNew));
  EXPECT_EQ(m.revocation_threshold(CredentialType::Tag, 77), com_ts);
  EXPECT_EQ(m.com_revocation_threshold(), com_ts);
  EXPECT_FALSE(m.gate(v.cfg_a, v.n.b));
  // It can also LOWER the COM threshold: raise it by a COM revocation, then a capability
  // revocation with a smaller threshold sets it back down and reopens the gate.
  EXPECT_TRUE(Is(m.offer(kVectorNwid, test::signed_revocation(CredentialType::Com, 0, com_ts + 500, b),
                         v.n.controller_only()),
                 kNew));
  EXPECT_EQ(m.com_revocation_threshold(), com_ts + 500);
  EXPECT_TRUE(Is(m.offer(kVectorNwid, test::signed_revocation(CredentialType::Capability, 3, 5, b),
                         v.n.controller_only()),
                 kNew));
  EXPECT_EQ(m.com_revocation_threshold(), 5u);
  EXPECT_TRUE(m.gate(v.cfg_a, v.n.b));
  // A redundant one (threshold not above the stored one) leaves the COM threshold alone.
  EXPECT_TRUE(Is(m.offer(kVectorNwid, test::signed_revocation(CredentialType::Capability, 3, 4, b),
                         v.n.controller_only()),
                 kRedundant));
  EXPECT_EQ(m.com_revocation_threshold(), 5u);
  // COO type behaves the same.
  EXPECT_TRUE(Is(m.offer(kVectorNwid, test::signed_revocation(CredentialType::Coo, 1, 6, b), v.n.controller_only()),
                 kNew));
  EXPECT_EQ(m.com_revocation_threshold(), 6u);
  EXPECT_EQ(m.revocation_threshold(CredentialType::Coo, 1), 6u);
}

TEST(MembershipRevocation, InvalidDeferredUnknownTypeAndPropagation) {
  Vectors v;
  const Address b = v.n.b.address();
  Membership m;
  Revocation good = test::signed_revocation(CredentialType::Tag, 1, 100, b, Revocation::kFlagFastPropagate);
  OfferResult d = m.offer(kVectorNwid, good, VectorNodes::nobody());
  EXPECT_TRUE(Is(d, kDeferred));
  EXPECT_EQ(d.missing, v.n.controller.address());
  OfferResult r = m.offer(kVectorNwid, good, v.n.controller_only());
  EXPECT_TRUE(Is(r, kNew));
  EXPECT_TRUE(r.propagate);
  r = m.offer(kVectorNwid, good, v.n.controller_only());
  EXPECT_TRUE(Is(r, kRedundant));
  EXPECT_FALSE(r.propagate) << "only newly accepted revocations propagate";
  // No fast-propagate flag.
  r = m.offer(kVectorNwid, test::signed_revocation(CredentialType::Tag, 2, 100, b), v.n.controller_only());
  EXPECT_TRUE(Is(r, kNew));
  EXPECT_FALSE(r.propagate);
  // Bad signature / signed by a member: invalid (verification comes first, before the type).
  Revocation bad = good;
  bad.threshold = 101;
  EXPECT_TRUE(Is(m.offer(kVectorNwid, bad, v.n.controller_only()), kRejected, "invalid"));
  Revocation by_member = good;
  ASSERT_TRUE(by_member.sign(v.n.b_secret));
  EXPECT_TRUE(Is(m.offer(kVectorNwid, by_member, v.n.everyone()), kRejected, "invalid"));
  // Types other than 1..4 (0 null, 6 revocation, 5, 200) are invalid even when signed.
  for (uint8_t t : {0, 5, 6, 200}) {
    EXPECT_TRUE(Is(m.offer(kVectorNwid, test::signed_revocation(CredentialType(t), 1, 500, b), v.n.controller_only()),
                   kRejected, "invalid"))
        << int(t);
  }
  EXPECT_EQ(m.com_revocation_threshold(), 100u);
  // Other network: silent.
  EXPECT_TRUE(Is(m.offer(kVectorNwid, test::signed_revocation(CredentialType::Com, 0, 1, b, 0, 1, kVectorNwid + 1),
                         v.n.controller_only()),
                 kRejected, ""));
}

// ---- Use-time validity, ownership, cleanup (§7.6) -----------------------------------------------

TEST(MembershipUseTime, TagValidityWindowAndRevocation) {
  Vectors v;
  const Address b = v.n.b.address();
  Membership m;
  ASSERT_TRUE(Is(m.offer(kVectorNwid, test::signed_tag(1, 11, v.ts + v.ctmd, b), v.n.controller_only()), kNew));
  ASSERT_TRUE(Is(m.offer(kVectorNwid, test::signed_tag(2, 22, v.ts - v.ctmd - 1, b), v.n.controller_only()), kNew))
      << "the window is not checked on arrival";
  ASSERT_TRUE(Is(m.offer(kVectorNwid, test::signed_tag(3, 33, v.ts, b), v.n.controller_only()), kNew));
  ASSERT_NE(m.tag(v.cfg_a, 1), nullptr);
  EXPECT_EQ(m.tag(v.cfg_a, 1)->value, 11u);
  EXPECT_EQ(m.tag(v.cfg_a, 2), nullptr) << "outside own ts ± ctmd";
  EXPECT_NE(m.tag(v.cfg_a, 3), nullptr);
  EXPECT_EQ(m.tag(v.cfg_a, 4), nullptr);
  // Revoking tag 3 after acceptance hides it at use time.
  ASSERT_TRUE(Is(m.offer(kVectorNwid, test::signed_revocation(CredentialType::Tag, 3, v.ts, b), v.n.controller_only()),
                 kNew));
  EXPECT_EQ(m.tag(v.cfg_a, 3), nullptr);
  // Cleanup drops tags 2 and 3, keeps 1 and the COM/thresholds.
  EXPECT_EQ(m.cleanup(v.cfg_a), 2u);
  EXPECT_EQ(m.tags().size(), 1u);
  EXPECT_EQ(m.revocation_threshold(CredentialType::Tag, 3), v.ts);
  // A config much later makes tag 1 stale too.
  NetworkConfig later = v.cfg_a;
  later.timestamp += 10 * v.ctmd;
  EXPECT_EQ(m.tag(later, 1), nullptr);
  EXPECT_EQ(m.cleanup(later), 1u);
  EXPECT_TRUE(m.tags().empty());
}

TEST(MembershipUseTime, CapabilitiesAscendingAndValidOnly) {
  Vectors v;
  const Address b = v.n.b.address();
  Membership m;
  for (uint32_t id : {30u, 10u, 20u})
    ASSERT_TRUE(Is(m.offer(kVectorNwid, test::signed_capability(id, v.ts, b, {Rule::accept()}), v.n.controller_only()),
                   kNew));
  ASSERT_TRUE(Is(m.offer(kVectorNwid, test::signed_capability(40, v.ts + 2 * v.ctmd, b, {Rule::drop()}),
                         v.n.controller_only()),
                 kNew));
  ASSERT_TRUE(Is(m.offer(kVectorNwid, test::signed_revocation(CredentialType::Capability, 20, v.ts, b),
                         v.n.controller_only()),
                 kNew));
  auto caps = m.capabilities(v.cfg_a);
  ASSERT_EQ(caps.size(), 2u);
  EXPECT_EQ(caps[0]->cap.id, 10u);
  EXPECT_EQ(caps[1]->cap.id, 30u);
  EXPECT_EQ(m.cleanup(v.cfg_a), 2u);
  EXPECT_EQ(m.all_capabilities().size(), 2u);
}

TEST(MembershipUseTime, OwnershipViaVectorCooAndImplicitRfc4193) {
  Vectors v;
  Membership b_at_a;
  ASSERT_TRUE(Is(b_at_a.offer(kVectorNwid, v.cfg_b.certificates_of_ownership[0], v.n.controller_only()), kNew));
  const uint8_t b4[4] = {10, 147, 17, 42}, a4[4] = {10, 147, 17, 14};
  EXPECT_TRUE(b_at_a.owns_ipv4(v.cfg_a, b4));
  EXPECT_FALSE(b_at_a.owns_ipv4(v.cfg_a, a4));
  InetAddress b6 = rfc4193_address(kVectorNwid, v.n.b.address());
  EXPECT_TRUE(b_at_a.owns_ipv6(v.cfg_a, b6.ip()));
  // Implicit rule: node A has NDP emulation (f = 0x06) and its RFC4193 address in `I`, so
  // anything in the network's /88 counts, even without a COO, whatever node it names.
  Membership nothing;
  InetAddress other = rfc4193_address(kVectorNwid, 0x0102030405ULL);
  EXPECT_TRUE(nothing.owns_ipv6(v.cfg_a, other.ip()));
  uint8_t outside[16];
  std::memcpy(outside, other.ip(), 16);
  outside[10] ^= 1;  // byte 10 is inside the /88 prefix
  EXPECT_FALSE(nothing.owns_ipv6(v.cfg_a, outside));
  NetworkConfig no_ndp = v.cfg_a;
  no_ndp.flags &= ~NetworkConfig::kFlagNdpEmulation;
  EXPECT_FALSE(nothing.owns_ipv6(no_ndp, other.ip()));
  EXPECT_TRUE(b_at_a.owns_ipv6(no_ndp, b6.ip())) << "the COO still lists it";
  NetworkConfig no_rfc = v.cfg_a;
  std::erase_if(no_rfc.static_ips, [](const InetAddress& a) { return a.is_v6(); });
  EXPECT_FALSE(nothing.owns_ipv6(no_rfc, other.ip())) << "own RFC4193 address not assigned";
  // 6PLANE: own 6PLANE address in `I` → the network's /40 counts.
  NetworkConfig six = no_rfc;
  six.static_ips.push_back(sixplane_address(kVectorNwid, v.cfg_a.issued_to));
  InetAddress peer6 = sixplane_address(kVectorNwid, 0x0a0b0c0d0eULL);
  EXPECT_TRUE(nothing.owns_ipv6(six, peer6.ip()));
  EXPECT_FALSE(nothing.owns_ipv6(six, other.ip()));
  uint8_t out6[16];
  std::memcpy(out6, peer6.ip(), 16);
  out6[4] ^= 0x80;
  EXPECT_FALSE(nothing.owns_ipv6(six, out6));
  // The COO goes stale with a far-away own config.
  NetworkConfig later = v.cfg_a;
  later.timestamp += 10 * later.credential_time_max_delta;
  EXPECT_FALSE(b_at_a.owns_ipv4(later, b4));
}

TEST(MembershipUseTime, MacOwnership) {
  Vectors v;
  const Address b = v.n.b.address();
  const Mac mac_b = Mac::from_address(b, kVectorNwid);
  Membership m;
  ASSERT_TRUE(Is(m.offer(kVectorNwid, test::signed_coo(5, v.ts, b, {}, {mac_b}), v.n.controller_only()), kNew));
  EXPECT_TRUE(m.owns_mac(v.cfg_a, mac_b));
  EXPECT_FALSE(m.owns_mac(v.cfg_a, Mac(0x020000000001ULL)));
  ASSERT_TRUE(Is(m.offer(kVectorNwid, test::signed_revocation(CredentialType::Coo, 5, v.ts, b), v.n.controller_only()),
                 kNew));
  EXPECT_FALSE(m.owns_mac(v.cfg_a, mac_b));
}
