// core rules explain (rules_explain.hpp): decision_reason lines for drops by tag, accepts by
// capability, the default drop, super-accept and redirect; rule_text in the rules language;
// explain_filter's per-rule view agreeing with the engine; truncated and empty frames.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "core/membership.hpp"
#include "core/rules_engine.hpp"
#include "core/rules_explain.hpp"
#include "support/credential_factory.hpp"

using namespace zt;
using namespace zt::proto;
using namespace zt::core;
using zt::test::kVectorNwid;
using zt::test::VectorNodes;

namespace {

constexpr Address kSelf = 0x8fec3e8ae4ULL;
constexpr Address kPeer = 0xeb8cb7d1c8ULL;
constexpr Address kOther = 0x1122334455ULL;
constexpr uint64_t kTs = 1800000000000ULL;
constexpr uint64_t kCtmd = 1800000;

// IPv4 header + L4 bytes.
Bytes ipv4(uint8_t proto, const Bytes& l4) {
  Bytes f(20 + l4.size());
  f[0] = 0x45;
  f[8] = 64;
  f[9] = proto;
  const uint8_t src[4] = {10, 147, 17, 14}, dst[4] = {10, 147, 17, 42};
  std::memcpy(&f[12], src, 4);
  std::memcpy(&f[16], dst, 4);
  std::copy(l4.begin(), l4.end(), f.begin() + 20);
  return f;
}
Bytes tcp(uint16_t sport, uint16_t dport, uint8_t flags) {
  Bytes t(20);
  store_be16(&t[0], sport);
  store_be16(&t[2], dport);
  t[12] = 0x50;
  t[13] = flags;
  return t;
}
Bytes icmp_echo() { return Bytes{8, 0, 0, 0, 0, 0, 0, 0}; }

Rule M(RuleType t) {
  Rule r;
  r.type = uint8_t(t);
  return r;
}
Rule NOT(Rule r) {
  r.negate = true;
  return r;
}
Rule OR(Rule r) {
  r.or_ = true;
  return r;
}
Rule ether(uint16_t e) {
  Rule r = M(RuleType::MatchEthertype);
  r.ethertype = e;
  return r;
}
Rule ipproto(uint8_t p) {
  Rule r = M(RuleType::MatchIpProtocol);
  r.ip_protocol = p;
  return r;
}
Rule dport(uint16_t lo, uint16_t hi) {
  Rule r = M(RuleType::MatchIpDestPortRange);
  r.range_low = lo;
  r.range_high = hi;
  return r;
}
Rule tagr(RuleType t, uint32_t id, uint32_t value) {
  Rule r = M(t);
  r.tag_id = id;
  r.tag_value = value;
  return r;
}
Rule fwd(RuleType t, Address a) {
  Rule r = M(t);
  r.zt = a;
  return r;
}

// Own tag 1 = 100 and 7 = 3; the peer's tag 1 = 200.
struct Env {
  NetworkConfig cfg;
  Membership peer;
  Env() {
    cfg.nwid = kVectorNwid;
    cfg.timestamp = kTs;
    cfg.credential_time_max_delta = kCtmd;
    cfg.issued_to = kSelf;
    cfg.tags.push_back(test::signed_tag(1, 100, kTs, kSelf));
    cfg.tags.push_back(test::signed_tag(7, 3, kTs, kSelf));
    EXPECT_TRUE(peer.offer(kVectorNwid, test::signed_tag(1, 200, kTs, kPeer), VectorNodes::get().controller_only())
                    .accepted());
  }
  FilterEnv env() const { return FilterEnv{cfg, kSelf, &peer, {}}; }
};

FilterFrame make_frame(const Bytes& payload, bool inbound, uint16_t ethertype = 0x0800) {
  FilterFrame f;
  f.inbound = inbound;
  f.source = inbound ? kPeer : kSelf;
  f.destination = inbound ? kSelf : kPeer;
  f.mac_source = Mac::from_address(f.source, kVectorNwid);
  f.mac_dest = Mac::from_address(f.destination, kVectorNwid);
  f.ethertype = ethertype;
  f.payload = payload;
  return f;
}

FilterResult run(const FilterEnv& env, const FilterFrame& f) {
  return f.inbound ? filter_inbound(env, f) : filter_outbound(env, f, true);
}

}  // namespace

TEST(RulesExplain, DropByTagNamesSenderAndReceiverValues) {
  Env e;
  e.cfg.rules = {NOT(ether(0x0800)), Rule::drop(), NOT(tagr(RuleType::MatchTagsDifference, 1, 0)), Rule::drop(),
                 Rule::accept()};
  const Bytes p = ipv4(6, tcp(40000, 22, 0x02));
  // Outbound: we send (100), the peer receives (200).
  FilterFrame f = make_frame(p, false);
  FilterResult r = run(e.env(), f);
  ASSERT_EQ(r.verdict, FilterVerdict::Drop);
  EXPECT_EQ(decision_reason(e.env(), f, r), "rule 3 DROP: tag 1 differs, sender 100 ≠ receiver 200");
  // Inbound: the peer sends.
  f = make_frame(p, true);
  r = run(e.env(), f);
  EXPECT_EQ(decision_reason(e.env(), f, r), "rule 3 DROP: tag 1 differs, sender 200 ≠ receiver 100");
}

TEST(RulesExplain, AcceptByCapability) {
  Env e;
  e.cfg.rules = {ether(0x0806), Rule::accept()};  // ARP only; the rest falls to capabilities
  Capability ssh;
  ssh.id = 2000;
  ASSERT_TRUE(ssh.set_rules({ipproto(6), dport(22, 22), Rule::accept()}));
  Capability ping;
  ping.id = 2001;
  ASSERT_TRUE(ping.set_rules({ipproto(1), Rule::accept()}));
  e.cfg.capabilities = {ssh, ping};

  const Bytes p = ipv4(1, icmp_echo());
  FilterFrame f = make_frame(p, false);
  FilterResult r = run(e.env(), f);
  ASSERT_EQ(r.verdict, FilterVerdict::Accept);
  EXPECT_EQ(decision_reason(e.env(), f, r), "rule 1 ACCEPT (capability 2001): ipprotocol 1 = 1");

  const Bytes s = ipv4(6, tcp(40000, 22, 0x02));
  f = make_frame(s, false);
  r = run(e.env(), f);
  EXPECT_EQ(decision_reason(e.env(), f, r), "rule 2 ACCEPT (capability 2000): ipprotocol 6 = 6, dport 22 in 22-22");

  Explanation x = explain_filter(e.env(), f, true);
  EXPECT_EQ(x.verdict, FilterVerdict::Accept);
  ASSERT_TRUE(x.capability);
  EXPECT_EQ(*x.capability, 2000u);
  EXPECT_EQ(x.rule, 2);
  ASSERT_EQ(x.lists.size(), 2u);  // base, then 2000 accepted (2001 never evaluated)
  EXPECT_FALSE(x.lists[0].capability);
  EXPECT_EQ(x.lists[0].rules[0].text, "ethertype 0x0806");
  EXPECT_EQ(x.lists[0].rules[0].match, false);
  EXPECT_EQ(x.lists[0].rules[0].detail, "ethertype 0x0800 ≠ 0x0806");
  EXPECT_EQ(x.lists[0].rules[1].detail, "not taken (matches false)");
  EXPECT_TRUE(x.lists[1].rules[2].decided);
  EXPECT_EQ(x.reason, decision_reason(e.env(), f, r));
}

TEST(RulesExplain, DefaultDropAndUnconditional) {
  Env e;
  const Bytes p = ipv4(17, Bytes(8, 0));
  FilterFrame f = make_frame(p, false);
  FilterResult r = run(e.env(), f);
  EXPECT_EQ(decision_reason(e.env(), f, r), "no rule matched: default DROP");

  e.cfg.rules = {ether(0x86dd), Rule::drop(), Rule::accept()};
  r = run(e.env(), f);
  EXPECT_EQ(decision_reason(e.env(), f, r), "rule 2 ACCEPT: unconditional");
  Explanation x = explain_filter(e.env(), f, true);
  ASSERT_EQ(x.lists.size(), 1u);
  ASSERT_EQ(x.lists[0].rules.size(), 3u);
  EXPECT_EQ(x.lists[0].rules[0].state, false);
  EXPECT_EQ(x.lists[0].rules[2].state, true);
  EXPECT_TRUE(x.lists[0].rules[2].decided);

  // A BREAK that ends the base list with no capability accepting.
  e.cfg.rules = {M(RuleType::ActionBreak)};
  r = run(e.env(), f);
  EXPECT_EQ(decision_reason(e.env(), f, r), "rule 0 BREAK: unconditional; no capability accepted: default DROP");
}

TEST(RulesExplain, ShortCircuitedMatchesAreLeftOut) {
  Env e;
  // ethertype ARP fails, so the ANDed ipprotocol is skipped; the OR'd dport 22 decides.
  e.cfg.rules = {ether(0x0806), ipproto(6), OR(dport(22, 22)), Rule::drop(), Rule::accept()};
  const Bytes p = ipv4(6, tcp(40000, 22, 0x02));
  FilterFrame f = make_frame(p, false);
  FilterResult r = run(e.env(), f);
  ASSERT_EQ(r.verdict, FilterVerdict::Drop);
  EXPECT_EQ(decision_reason(e.env(), f, r), "rule 3 DROP: ethertype 0x0800 ≠ 0x0806, or dport 22 in 22-22");
  Explanation x = explain_filter(e.env(), f, true);
  EXPECT_FALSE(x.lists[0].rules[1].evaluated);
  EXPECT_EQ(x.lists[0].rules[1].detail, "skipped (result already false)");
  EXPECT_FALSE(x.lists[0].rules[4].reached);
}

TEST(RulesExplain, SuperAcceptAndRedirect) {
  Env e;
  e.cfg.rules = {fwd(RuleType::ActionTee, kSelf), Rule::accept()};
  const Bytes p = ipv4(1, icmp_echo());
  FilterFrame f = make_frame(p, true);
  FilterResult r = run(e.env(), f);
  ASSERT_EQ(r.verdict, FilterVerdict::SuperAccept);
  EXPECT_EQ(decision_reason(e.env(), f, r),
            "rule 0 TEE: unconditional (super-accept: this node is a TEE/WATCH/REDIRECT target)");

  e.cfg.rules = {ipproto(1), fwd(RuleType::ActionRedirect, kOther), Rule::accept()};
  f = make_frame(p, false);
  r = run(e.env(), f);
  ASSERT_EQ(r.verdict, FilterVerdict::Redirect);
  EXPECT_EQ(decision_reason(e.env(), f, r), "rule 1 REDIRECT to 1122334455: ipprotocol 1 = 1");
  EXPECT_EQ(explanation_json(explain_filter(e.env(), f, true)).find("\"verdict\":\"redirect\""), 1u);
}

TEST(RulesExplain, RuleTextIsTheRulesLanguage) {
  EXPECT_EQ(rule_text(OR(NOT(ether(0x0800)))), "or not ethertype 0x0800");
  EXPECT_EQ(rule_text(dport(22, 22)), "dport 22-22");
  EXPECT_EQ(rule_text(tagr(RuleType::MatchTagSender, 5, 9)), "tseq 5 9");
  EXPECT_EQ(rule_text(fwd(RuleType::ActionRedirect, kOther)), "redirect 1122334455");
  EXPECT_EQ(rule_text(Rule::drop()), "drop");
  Rule u;
  u.type = 60;
  EXPECT_EQ(rule_text(u), "UNKNOWN_60");
}

TEST(RulesExplain, TruncatedAndEmptyFramesNeverReadPastTheEnd) {
  Env e;
  e.cfg.rules = {ipproto(6), dport(1, 65535), M(RuleType::MatchIcmp), tagr(RuleType::MatchTagSender, 1, 200),
                 M(RuleType::MatchCharacteristics), Rule::accept()};
  for (size_t n : {0, 1, 9, 19, 20, 21, 24, 40}) {
    Bytes p = ipv4(6, tcp(1, 2, 3));
    p.resize(n);
    for (bool in : {false, true})
      for (uint16_t et : {uint16_t(0x0800), uint16_t(0x86dd), uint16_t(0x0806)}) {
        FilterFrame f = make_frame(p, in, et);
        Explanation x = explain_filter(e.env(), f, true);
        EXPECT_FALSE(x.reason.empty());
        EXPECT_FALSE(explanation_json(x).empty());
      }
  }
  FilterFrame f = make_frame({}, false);
  EXPECT_EQ(match_detail(e.env(), f, ipproto(6), false), "ipprotocol: frame is not IP (ethertype 0x0800, 0 bytes)");
}

TEST(RulesExplain, UndecidedTagAndMissingPeer) {
  Env e;
  e.cfg.rules = {tagr(RuleType::MatchTagsEqual, 7, 3), Rule::drop(), Rule::accept()};
  const Bytes p = ipv4(1, icmp_echo());
  FilterFrame f = make_frame(p, false);
  FilterResult r = run(e.env(), f);
  ASSERT_EQ(r.verdict, FilterVerdict::Accept);  // the peer's tag 7 is unknown: DROP passed over
  Explanation x = explain_filter(e.env(), f, true);
  EXPECT_EQ(x.lists[0].rules[0].detail, "tag 7: peer's tag unknown (undecided: the next DROP is passed over)");
  EXPECT_EQ(x.lists[0].rules[1].detail, "passed over (an undecided tag match before it)");
  // The chain of the deciding ACCEPT starts after the passed-over DROP.
  EXPECT_EQ(x.reason, "rule 2 ACCEPT: unconditional");

  FilterEnv no_peer{e.cfg, kSelf, nullptr, {}};
  f = make_frame(p, true);
  x = explain_filter(no_peer, f, true);
  EXPECT_EQ(x.verdict, FilterVerdict::Accept);  // inbound: a hard no, the DROP is not taken
  EXPECT_EQ(x.lists[0].rules[0].detail, "tag 7: peer's tag unknown");
  EXPECT_EQ(x.reason, "rule 2 ACCEPT: unconditional");
}

TEST(RulesExplain, NegatedMatchesShowTheFactThatMadeThemTrue) {
  Env e;
  e.cfg.rules = {NOT(ether(0x0800)), NOT(ether(0x0806)), Rule::drop(), Rule::accept()};
  const Bytes p(40, 0);
  FilterFrame f = make_frame(p, false, 0x86dd);
  FilterResult r = run(e.env(), f);
  ASSERT_EQ(r.verdict, FilterVerdict::Drop);
  EXPECT_EQ(decision_reason(e.env(), f, r), "rule 2 DROP: ethertype 0x86dd ≠ 0x0800, ethertype 0x86dd ≠ 0x0806");
  Explanation x = explain_filter(e.env(), f, true);
  EXPECT_EQ(x.lists[0].rules[0].text, "not ethertype 0x0800");
  EXPECT_EQ(x.lists[0].rules[0].match, false);
  EXPECT_EQ(x.lists[0].rules[0].state, true);
}
