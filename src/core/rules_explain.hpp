// Explaining rule decisions (PROTOCOL.md §8.2, §8.3): why the filter accepted or dropped a
// frame, in words, for traces, `ztcore rules explain` and zt_node_explain.
//
// Pure and sans-IO like the engine: nothing is sent, no clock, no logging. The explanation is
// derived from the engine's own per-rule logs (FilterResult::base_log / capability_log and the
// deciding rule indices), so it cannot disagree with what the engine decided; the frame's
// values shown next to each match are read again here, every read bounds-checked (a frame of
// any length, including 0, is valid input).
//
// Threading: none. Allocation: strings and small vectors (not for the per-frame fast path:
// call decision_reason only when a reason is wanted, e.g. for a trace).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/rules_engine.hpp"

namespace zt::core {

// One human line for the decision in `result` (as returned by filter_outbound/filter_inbound
// for `env` and `frame`): the deciding action and the matches evaluated since the previous
// action, each with the frame's value against the rule's (the raw facts: a NOT-ed match shows
// the fact that made it true), e.g.
//   "rule 8 DROP: tag 1 differs, sender 100 ≠ receiver 200"   (for "drop not tdiff 1 0")
//   "rule 3 ACCEPT (capability 2000): ipprotocol 1 = 1"
//   "no rule matched: default DROP"
// Never fails; a result that does not fit the config (e.g. an index out of range) still gives
// a line saying what is known.
std::string decision_reason(const FilterEnv& env, const FilterFrame& frame, const FilterResult& result);

// The rule in the rules language (docs/RULES.md) where it has a form there ("or not ethertype
// 0x0800", "dport 22", "accept", "tee 128 0123456789"), else describe() ("INTEGER_RANGE ...").
std::string rule_text(const proto::Rule& r);

// One match rule's facts for `frame`: the frame's value against the rule's and the raw match
// m, e.g. "ethertype 0x0806 ≠ 0x0800", "dport 443 not in 22-22", "frame is not IPv4".
std::string match_detail(const FilterEnv& env, const FilterFrame& frame, const proto::Rule& r, bool m);

// Splits a whole Ethernet frame (untrusted bytes: 14-byte header, 802.1Q / 802.1ad tags
// skipped) into out.mac_dest, mac_source, ethertype and payload (a view into `frame`). The
// other fields of `out` are left as they are. False if the header is incomplete.
bool parse_ethernet_frame(ByteSpan frame, FilterFrame& out);

// ---- The full explanation --------------------------------------------------------------
struct RuleExplanation {
  int index = 0;                          // position in its list
  std::string text;                       // rule_text()
  std::string type;                       // §10.3 type name (ACTION_DROP, MATCH_ETHERTYPE, ...)
  bool action = false;
  bool reached = false;                   // false: the list had ended before this rule
  bool evaluated = false;                 // matches: evaluated (not short-circuited); actions: reached
  std::optional<bool> match;              // raw match m of an evaluated match
  std::optional<bool> state;              // the running result after this rule (if reached)
  bool decided = false;                   // this action ended the list
  std::string detail;                     // facts (matches) or what the action did
};

struct ListExplanation {
  std::optional<uint32_t> capability;     // nullopt = the base rules
  ListResult result = ListResult::NoMatch;
  int rule = -1;                          // the action that ended the list, -1 none
  std::vector<RuleExplanation> rules;
};

struct Explanation {
  FilterVerdict verdict = FilterVerdict::Drop;
  proto::Address redirect_to = 0;
  int rule = -1;                          // deciding rule (in its list), -1 = none
  std::optional<uint32_t> capability;     // the capability that decided, if one did
  std::string reason;                     // decision_reason()
  std::vector<ListExplanation> lists;     // [0] base rules, then each capability evaluated
  FilterResult result;                    // the engine's result
};

// Runs the filter for `frame` (inbound per frame.inbound; `copies_allowed` only matters
// outbound) and explains every rule of the base list and of each capability evaluated.
// MATCH_RANDOM sees the same draws as the filter run (env.random is called once per draw).
Explanation explain_filter(const FilterEnv& env, const FilterFrame& frame, bool copies_allowed);

// The explanation as one line of JSON (the CLI's and zt_node_explain's shape):
//   {"verdict": "accept"|"drop"|"super-accept"|"redirect", "rule": N|null, "capability": ID|null,
//    "reason": "...", "redirect_to": "hex10"|null,
//    "rules": [{"capability": null|ID, "index", "text", "type", "action", "reached",
//               "evaluated", "match": bool|null, "state": bool|null, "decided", "detail"}...]}
std::string explanation_json(const Explanation& e);

}  // namespace zt::core
