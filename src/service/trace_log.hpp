// A bounded, thread-safe log of a node's Trace events for the local API's GET /trace
// (docs/TRACES.md) and `ztcore cli trace`.
//
// The node's event callback (runtime loop thread) push()es each Trace event as JSON with a
// sequence number (1, 2, ...); API threads read the entries after a sequence number, waiting
// up to a bound for new ones (long poll). The oldest entries are dropped past `capacity`.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/host.hpp"

namespace zt::service {

// The JSON form of one trace (time = Unix ms): {"time", "code", "name", "nwid", "peer",
// "text", "reason", "inbound", "sourceMac", "destMac", "etherType", "vlanId", "frameLength",
// "ipVersion", "sourceIp", "destIp", "ipProtocol", "sourcePort", "destPort", "rule",
// "action", "capability" (null when none), "line"}. Frame/IP fields only when present.
nlohmann::json trace_json(const core::TraceInfo& t, const std::string& text, int64_t time_ms);

class TraceLog {
 public:
  explicit TraceLog(size_t capacity = 1000) : capacity_(capacity) {}

  // Records a Trace event (other events and Trace events without a TraceInfo are ignored).
  void push(const core::Event& e, int64_t time_ms);
  // Entries with seq > `after` (at most `max`), each with "seq" added. Waits up to `wait_ms`
  // for one when there are none yet.
  std::vector<nlohmann::json> after(uint64_t after, size_t max, int64_t wait_ms);
  uint64_t last_seq() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  size_t capacity_;
  uint64_t seq_ = 0;
  std::deque<nlohmann::json> entries_;  // entries_.back()["seq"] == seq_
};

}  // namespace zt::service
