// The 2006 NETWORK_FILTER_TRACE record of one rules-engine decision (PROTOCOL.md §15) and its
// human reason.
//
// The reason comes from core::decision_reason (core/rules_explain.hpp, the rules explainer)
// when that header is part of the build ("rule 8 DROP: tag 1 differs, ..."); otherwise it is
// "rule N ACTION" (+ " (capability ID)"), or "no rule matched (default drop)".
#pragma once

#include <string>

#include "core/rules_engine.hpp"
#include "core/trace.hpp"

#if __has_include("core/rules_explain.hpp")
#include "core/rules_explain.hpp"
#define ZTCORE_HAVE_RULES_EXPLAIN 1
#endif

namespace zt::core {

// The full 2006 record: frame fields, ZT source/destination, filter result and rule logs
// (pointing into `out`, which must outlive the record), deciding rule, action, capability and
// reason. `nwid` is the network; `no_tee` the outbound filter's noTee flag.
TraceInfo filter_trace_info(const FilterEnv& env, const FilterFrame& fr, const FilterResult& out, uint64_t nwid,
                            bool no_tee);

// The human reason of a decision whose rule/action/capability are already in `t`.
inline std::string filter_reason(const FilterEnv& env, const FilterFrame& fr, const FilterResult& out,
                                 const TraceInfo& t) {
#ifdef ZTCORE_HAVE_RULES_EXPLAIN
  return decision_reason(env, fr, out);
#else
  (void)env, (void)fr, (void)out;
  if (t.rule < 0) return t.action == "DROP" ? "no rule matched (default drop)" : t.action;
  std::string s = "rule " + std::to_string(t.rule) + " " + t.action;
  if (t.capability) s += " (capability " + std::to_string(*t.capability) + ")";
  return s;
#endif
}

}  // namespace zt::core
