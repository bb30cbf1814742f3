// VL2 traces (PROTOCOL.md §15): local Trace events with their TraceInfo, the 2006 record of a
// filter decision, and REMOTE_TRACE (§3.16) to a network's trace target (`tt`, `tl`).
#include <string_view>

#include "base/hex.hpp"
#include "core/network.hpp"
#include "core/rules_engine.hpp"
#include "core/filter_trace.hpp"

namespace zt::core {

using namespace zt::proto;

void Vl2::trace(uint32_t code, uint64_t nwid, std::string text, std::string reason, Address peer) {
  TraceInfo t;
  t.code = code;
  t.nwid = nwid;
  t.peer = peer;
  t.reason = std::move(reason);
  vl1_.trace(std::move(text), t);
}

void Vl2::trace_net(int64_t now, Network& net, std::string text, const TraceInfo& t, bool local) {
  if (local) vl1_.trace(std::move(text), t);
  if (!net.config) return;
  const Address target = net.config->remote_trace_target;
  if (target == 0 || target == self()) return;  // never to ourselves
  const auto min_level = trace_remote_min_level(t.code);
  if (!min_level || net.config->remote_trace_level < *min_level) return;
  const auto dict = remote_trace_dictionary(t);
  if (!dict) return;
  const Bytes payload = dict->serialize();
  RemoteTrace rt;
  rt.dictionaries.push_back(ByteSpan(payload));
  (void)vl1_.send_to(now, target, rt, true);
}

void Vl2::on_remote_trace(int64_t now, Address from, ByteSpan dictionary) {
  if (controller_) controller_->on_remote_trace(now, from, dictionary);
}

void Vl2::trace_credential(int64_t now, Network& net, Address from, const char* what, TraceInfo t) {
  t.code = trace_code::kCredentialRejected;
  t.nwid = net.nwid;
  t.peer = from;
  const std::string text = std::string(what) + " from " + address_to_string(from) + " rejected: " + t.reason;
  trace_net(now, net, text, t);
}

namespace {

// "DROP", "ACCEPT", "TEE"... of an action rule type.
std::string action_name(uint8_t type) {
  std::string n = rule_type_name(type);
  constexpr std::string_view kPrefix = "ACTION_";
  if (n.compare(0, kPrefix.size(), kPrefix) == 0) n.erase(0, kPrefix.size());
  return n;
}

}  // namespace

TraceInfo filter_trace_info(const FilterEnv& env, const FilterFrame& fr, const FilterResult& out, uint64_t nwid,
                            bool no_tee) {
  TraceInfo t;
  t.code = trace_code::kFilterTrace;
  t.nwid = nwid;
  t.peer = fr.inbound ? fr.source : fr.destination;
  t.set_frame(fr.mac_source, fr.mac_dest, fr.ethertype, fr.vlan_id, fr.payload);
  t.inbound = fr.inbound;
  t.zt_source = fr.source;
  t.zt_dest = fr.destination;
  t.no_tee = no_tee;
  t.filter_result = out.trace_result;
  t.base_log = &out.base_log;
  t.capability_log = &out.capability_log;
  t.capability = out.matching_capability;
  if (out.matching_capability) {
    t.rule = out.capability_rule;
    t.action = out.verdict == FilterVerdict::Redirect ? "REDIRECT" : "ACCEPT";
  } else if (out.base_rule >= 0 && size_t(out.base_rule) < env.config.rules.size()) {
    t.rule = out.base_rule;
    t.action = action_name(env.config.rules[size_t(out.base_rule)].type);
  } else {
    t.action = out.passed() ? "ACCEPT" : "DROP";
  }
  t.reason = filter_reason(env, fr, out, t);
  return t;
}

}  // namespace zt::core
