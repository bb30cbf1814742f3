// JSON rule objects (PROTOCOL.md §10.3) <-> Rule: the form zerotier-one's controller stores in
// a network's `rules` and capabilities, and that `ztcore netconf show` prints. Driven by the
// rule-type table in proto/rules.hpp (the same one the wire codec uses).
//
// Rendering (rule_to_json) is the reference controller's: `type`; `not`/`or` only on match
// rules; ZeroTier addresses as 10 hex digits; MACs as xx:xx:xx:xx:xx:xx; IPs as "addr/bits";
// 64-bit masks and INTEGER_RANGE start/end as 16 hex digits (end = start + the 32-bit span,
// which is what the wire reader keeps, §8.1); every other integer as a JSON number; ICMP code
// null when any code matches. Beyond the reference (which renders {} for these): ACTION_PRIORITY
// renders as {"type":"ACTION_PRIORITY"} and an unassigned type n as
// {"type":"UNKNOWN_<n>","typeCode":n} (plus not/or for n ≥ 16).
//
// Parsing (rule_from_json) keeps the reference's leniencies that the controller implements
// (icmpCode null → any code; MAC non-hex characters ignored; IP bits capped at 32/128; a bare
// IP is a host match; range `end` absent → `start`; integers as numbers or decimal strings;
// hex fields as strings with optional 0x or as numbers; absent integer fields → 0) but refuses
// what the reference silently truncates or drops: the error names the field
// ("rule.etherType: must be at most 65535"). Never throws on any JSON value.
//
// nlohmann::json appears only by forward declaration; callers that build or read the values
// include <nlohmann/json.hpp> themselves (zt_proto links nlohmann_json privately).
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <span>

#include "base/result.hpp"
#include "proto/rules.hpp"

namespace zt::proto {

// Which `type` names rule_from_json accepts.
enum class RuleJsonTypes : uint8_t {
  // What the reference controller parses (§10.3): every known type except ACTION_PRIORITY
  // and INTEGER_RANGE (1.14.1's parser drops those). The controller uses this.
  Reference,
  // Every known type and "UNKNOWN_<n>" for unassigned n: everything rule_to_json renders
  // parses back (round trip wire → JSON → wire).
  All,
};

// One JSON rule object → rule. Errors: not an object, `type` missing/not a string/not
// accepted, a field of the wrong JSON kind or out of its wire range, an unparseable MAC/IP,
// an IP of the wrong family, INTEGER_RANGE bits outside 1..64. `not`/`or` are read with
// json_lenient_bool (never an error).
Result<Rule> rule_from_json(const nlohmann::json& j, RuleJsonTypes types = RuleJsonTypes::Reference);

// Rule → JSON rule object (see the file comment for the form).
nlohmann::json rule_to_json(const Rule& r);

// A JSON array of rule objects → rules. Errors: not an array, more than max_rules entries, or
// the first bad entry ("[3]: rule.ip: ...").
Result<std::vector<Rule>> rules_from_json(const nlohmann::json& a, size_t max_rules = kMaxNetworkRules,
                                          RuleJsonTypes types = RuleJsonTypes::Reference);
nlohmann::json rules_to_json(std::span<const Rule> rules);

// zerotier-one's reading of every boolean it takes from JSON (its OSUtils::jsonBool), used for
// the rules' `not`/`or` and for every boolean field of the controller's network and member
// objects: a JSON boolean as is; a number is true when its integer part is non-zero; a string
// is true when it starts with 't', 'T' or '1' (so "true", "True", "1" are true and "false",
// "0", "" or "yes" are false); null, arrays and objects give `dflt`. Web UIs post form values
// as strings ({"authorized":"true"}), which this reads as the reference does.
bool json_lenient_bool(const nlohmann::json& v, bool dflt);

}  // namespace zt::proto
