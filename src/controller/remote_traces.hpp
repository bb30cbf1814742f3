// REMOTE_TRACE (PROTOCOL.md §3.16, §15) received by a controller's node: members of a network
// whose config names the controller as trace target (`remoteTraceTarget`/`tt`) send it their
// trace events, one §6.1 dictionary each. The store decodes them to JSON and keeps the last
// `per_network` of each of this controller's networks in memory (not in the database), for
// GET /controller/network/<nwid>/trace.
//
// Input is hostile: any byte string up to 10,000 bytes is parsed (Dictionary's bounds-checked
// parser); dictionaries without a networkId of this controller are ignored, and so are those of
// networks beyond the first kMaxNetworks seen (memory stays bounded whatever members send).
//
// Threading: any thread (one mutex).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "base/bytes.hpp"
#include "proto/dictionary.hpp"
#include "proto/identity.hpp"

namespace zt::controller {

// One dictionary as JSON: {"origin", "receivedAt", "event" (e.g. "2006"), "name"
// ("NETWORK_FILTER_TRACE"), then each key: networkId as 16 hex digits, ZeroTier addresses as
// 10, MACs as "xx:xx:xx:xx:xx:xx", filterNoTee/filterInbound booleans, filterResult and other
// integers as numbers, rule logs and frameData as lowercase hex, reason and the rest as text}.
nlohmann::json remote_trace_json(const proto::Dictionary& d, proto::Address origin, int64_t received_at);

// "REMOTE_TRACE from <origin> 2006 NETWORK_FILTER_TRACE <nwid> ..." (no newline).
std::string remote_trace_summary(const nlohmann::json& t);

class RemoteTraceStore {
 public:
  static constexpr size_t kMaxNetworks = 64;
  explicit RemoteTraceStore(size_t per_network = 1000) : per_network_(per_network) {}

  // Parses and stores one dictionary if it names a network `owns(nwid)` accepts; returns its
  // JSON, or nullopt when it was not stored.
  template <class Owns>
  std::optional<nlohmann::json> add(ByteSpan dict, proto::Address origin, int64_t now, Owns owns) {
    auto j = decode(dict, origin, now);
    if (!j) return std::nullopt;
    const uint64_t nwid = (*j)["nwid_"].template get<uint64_t>();
    j->erase("nwid_");
    if (!owns(nwid) || !store(nwid, *j)) return std::nullopt;
    return j;
  }
  // The stored traces of a network, oldest first (an empty array if none).
  nlohmann::json list(uint64_t nwid) const;

 private:
  static std::optional<nlohmann::json> decode(ByteSpan dict, proto::Address origin, int64_t now);
  bool store(uint64_t nwid, const nlohmann::json& j);  // false: too many networks

  size_t per_network_;
  mutable std::mutex mu_;
  std::map<uint64_t, std::deque<nlohmann::json>> by_network_;
};

}  // namespace zt::controller
