#include "service/trace_log.hpp"

#include <chrono>

#include "base/hex.hpp"

namespace zt::service {

using nlohmann::json;

json trace_json(const core::TraceInfo& t, const std::string& text, int64_t time_ms) {
  json j{{"time", time_ms},
         {"code", t.code},
         {"name", core::trace_code_name(t.code)},
         {"nwid", t.nwid ? to_hex(t.nwid, 16) : ""},
         {"peer", t.peer ? proto::address_to_string(t.peer) : ""},
         {"text", text},
         {"reason", t.reason},
         {"rule", t.rule},
         {"action", t.action},
         {"capability", t.capability ? json(*t.capability) : json(nullptr)},
         {"line", core::trace_summary(t)}};
  if (t.ethertype || t.frame_length) {
    j["inbound"] = t.inbound;
    j["sourceMac"] = t.mac_source.to_string();
    j["destMac"] = t.mac_dest.to_string();
    j["etherType"] = t.ethertype;
    j["vlanId"] = t.vlan;
    j["frameLength"] = t.frame_length;
  }
  if (t.ip_version) {
    j["ipVersion"] = t.ip_version;
    j["sourceIp"] = t.ip_source_string();
    j["destIp"] = t.ip_dest_string();
    j["ipProtocol"] = t.ip_protocol;
    j["sourcePort"] = t.port_source;
    j["destPort"] = t.port_dest;
  }
  return j;
}

void TraceLog::push(const core::Event& e, int64_t time_ms) {
  if (e.type != core::EventType::Trace || !e.trace) return;
  json j = trace_json(*e.trace, e.text, time_ms);
  {
    std::lock_guard lk(mu_);
    j["seq"] = ++seq_;
    entries_.push_back(std::move(j));
    while (entries_.size() > capacity_) entries_.pop_front();
  }
  cv_.notify_all();
}

std::vector<json> TraceLog::after(uint64_t after, size_t max, int64_t wait_ms) {
  std::unique_lock lk(mu_);
  if (seq_ <= after && wait_ms > 0)
    cv_.wait_for(lk, std::chrono::milliseconds(wait_ms), [&] { return seq_ > after; });
  std::vector<json> out;
  for (const json& j : entries_) {
    if (out.size() >= max) break;
    if (j["seq"].get<uint64_t>() > after) out.push_back(j);
  }
  return out;
}

uint64_t TraceLog::last_seq() const {
  std::lock_guard lk(mu_);
  return seq_;
}

}  // namespace zt::service
