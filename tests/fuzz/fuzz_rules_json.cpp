// Fuzz target for the JSON rule codec (PROTOCOL.md §10.3, proto/rules_json.hpp), both ways:
//  * the input as JSON text (what the controller's API and database feed it): a rule object
//    or an array of them, parsed in both dialects. Whatever parses renders to JSON that parses
//    back to the same rule, and encodes to wire bytes that decode to the same rule.
//  * the input as wire rules (§8.1, what `netconf show` renders): every decoded rule renders
//    and parses back (All dialect) to the same rule, up to what the JSON form does not carry
//    (see check_wire_rule: bits the evaluator ignores or clamps).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "proto/rules.hpp"
#include "proto/rules_json.hpp"

using namespace zt::proto;
using json = nlohmann::json;

namespace {

void check(bool cond) {
  if (!cond) std::abort();
}

// A parsed-from-JSON rule survives rendering and the wire.
void check_json_rule(const Rule& r) {
  const json j = rule_to_json(r);
  check(j.is_object() && j.contains("type"));
  auto back = rule_from_json(j, RuleJsonTypes::All);
  check(back.ok());
  Rule want = r;
  if (want.is_action()) want.negate = want.or_ = false;  // accepted on input, not rendered
  check(*back == want);
  zt::Bytes wire = serialize_rules({r});
  auto decoded = parse_rules(wire);
  check(decoded.ok() && decoded->size() == 1);
  check((*decoded)[0] == r);
  check(!describe(r).empty());
}

// A decoded wire rule survives JSON.
void check_wire_rule(const Rule& r) {
  auto back = rule_from_json(rule_to_json(r), RuleJsonTypes::All);
  check(back.ok());
  // What the JSON form (like the reference's) does not carry; none of it changes evaluation.
  Rule want = r;
  if (want.is_action()) want.negate = want.or_ = false;  // not rendered on actions (§10.3)
  switch (RuleType(want.type)) {
    case RuleType::ActionRedirect:
      want.action_length = 0;  // on the wire, not in JSON
      [[fallthrough]];
    case RuleType::ActionTee:
    case RuleType::ActionWatch:
      want.zt &= 0xffffffffffULL;  // a 64-bit field of which 40 bits are used
      break;
    case RuleType::MatchIpv4Source:
    case RuleType::MatchIpv4Dest:
      want.ip_prefix = std::min<uint8_t>(want.ip_prefix, 32);  // bits capped as the engine does
      break;
    case RuleType::MatchIpv6Source:
    case RuleType::MatchIpv6Dest:
      want.ip_prefix = std::min<uint8_t>(want.ip_prefix, 128);
      break;
    case RuleType::MatchIcmp:
      want.icmp_flags &= 0x01;  // only "code significant" is used
      if (!want.icmp_flags) want.icmp_code = 0;
      break;
    default:
      break;
  }
  if (want.type == uint8_t(RuleType::MatchIntegerRange)) {
    check(back->int_start == want.int_start && back->int_span() == want.int_span());
    want.int_end = back->int_end;
    want.int_format &= 0xbf;  // JSON has "little" (bit 7) and "bits" (0..5); bit 6 is unused
  }
  check(*back == want);
}

void fuzz_json(const json& v) {
  for (RuleJsonTypes t : {RuleJsonTypes::Reference, RuleJsonTypes::All}) {
    if (v.is_array()) {
      auto rules = rules_from_json(v, kMaxNetworkRules, t);
      if (rules.ok()) {
        check(rules->size() == v.size());
        for (const Rule& r : *rules) check_json_rule(r);
        check(rules_to_json(*rules).size() == rules->size());
      } else {
        check(!rules.error().empty());
      }
    } else {
      auto r = rule_from_json(v, t);
      if (r.ok()) check_json_rule(*r);
      else check(!r.error().empty());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const json v = json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (!v.is_discarded()) fuzz_json(v);
  auto wire = parse_rules(zt::ByteSpan(data, size));
  if (wire.ok())
    for (const Rule& r : *wire) check_wire_rule(r);
  return 0;
}
