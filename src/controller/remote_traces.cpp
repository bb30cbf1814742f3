#include "controller/remote_traces.hpp"

#include <set>
#include <string_view>

#include "base/hex.hpp"
#include "proto/vl2.hpp"

namespace zt::controller {

using nlohmann::json;

namespace {

// §15 key kinds.
const std::set<std::string_view> kAddressKeys = {"remoteZtAddr", "sourceZtAddr", "destZtAddr", "credIssuedTo",
                                                 "credRevocationTarget", "networkControllerId"};
const std::set<std::string_view> kMacKeys = {"sourceMac", "destMac"};
const std::set<std::string_view> kBoolKeys = {"filterNoTee", "filterInbound"};
const std::set<std::string_view> kSignedKeys = {"filterResult", "localSocket"};
const std::set<std::string_view> kBinaryKeys = {"filterBaseRuleLog", "filterCapRuleLog", "frameData"};
const std::set<std::string_view> kNumberKeys = {"etherType", "vlanId", "frameLength", "packetId", "packetVerb",
                                                "packetHops", "credType", "credId", "credTs", "credInfo",
                                                "filterMatchingCapId", "phyAddrIpScope"};

const char* event_name(uint64_t code) {
  switch (code) {
    case 0x1000: return "RESETTING_PATHS_IN_SCOPE";
    case 0x1001: return "PEER_CONFIRMING_UNKNOWN_PATH";
    case 0x1002: return "PEER_LEARNED_NEW_PATH";
    case 0x1003: return "PEER_REDIRECTED";
    case 0x1004: return "PACKET_MAC_FAILURE";
    case 0x1005: return "PACKET_INVALID";
    case 0x2000: return "OUTGOING_NETWORK_FRAME_DROPPED";
    case 0x2001: return "INCOMING_NETWORK_ACCESS_DENIED";
    case 0x2002: return "INCOMING_NETWORK_FRAME_DROPPED";
    case 0x2003: return "CREDENTIAL_REJECTED";
    case 0x2005: return "NETWORK_CONFIG_REQUEST_SENT";
    case 0x2006: return "NETWORK_FILTER_TRACE";
  }
  return "UNKNOWN";
}

}  // namespace

json remote_trace_json(const proto::Dictionary& d, proto::Address origin, int64_t received_at) {
  json j{{"origin", proto::address_to_string(origin)}, {"receivedAt", received_at}};
  for (const auto& e : d.entries()) {
    if (j.contains(e.key)) continue;  // first match wins (§6.1)
    const std::string_view k = e.key;
    const std::string text(e.value.begin(), e.value.end());
    if (k == "event") {
      j["event"] = text;
      j["name"] = event_name(parse_hex_u64(text).value_or(0));
    } else if (k == "networkId") {
      j[e.key] = to_hex(d.get_u64(k, 0), 16);
    } else if (kAddressKeys.count(k)) {
      j[e.key] = proto::address_to_string(d.get_u64(k, 0) & 0xffffffffffULL);
    } else if (kMacKeys.count(k)) {
      j[e.key] = proto::Mac(d.get_u64(k, 0) & 0xffffffffffffULL).to_string();
    } else if (kBoolKeys.count(k)) {
      j[e.key] = d.get_bool(k, false);
    } else if (kSignedKeys.count(k)) {
      j[e.key] = d.get_i64(k).value_or(0);
    } else if (kBinaryKeys.count(k)) {
      j[e.key] = to_hex(ByteSpan(e.value));
    } else if (kNumberKeys.count(k)) {
      j[e.key] = d.get_u64(k, 0);
    } else {
      j[e.key] = text;
    }
  }
  return j;
}

std::string remote_trace_summary(const json& t) {
  auto s = [&](const char* k) { return t.contains(k) && t[k].is_string() ? t[k].get<std::string>() : std::string(); };
  std::string out = "REMOTE_TRACE from " + s("origin") + " " + s("event") + " " + s("name");
  if (t.contains("networkId")) out += " " + s("networkId");
  if (t.contains("sourceMac")) out += " " + s("sourceMac") + " -> " + s("destMac");
  if (t.contains("filterResult") && t["filterResult"].is_number_integer())
    out += " result " + std::to_string(t["filterResult"].get<int64_t>());
  if (t.contains("reason")) out += ": " + s("reason");
  return out;
}

std::optional<json> RemoteTraceStore::decode(ByteSpan dict, proto::Address origin, int64_t now) {
  auto d = proto::Dictionary::parse(dict, 10000);
  if (!d.ok()) return std::nullopt;
  const auto nwid = d->get_u64("networkId");
  if (!nwid || *nwid == 0 || !d->contains("event")) return std::nullopt;
  json j = remote_trace_json(*d, origin, now);
  j["nwid_"] = *nwid;
  return j;
}

bool RemoteTraceStore::store(uint64_t nwid, const json& j) {
  std::lock_guard lk(mu_);
  if (!by_network_.count(nwid) && by_network_.size() >= kMaxNetworks) return false;
  auto& q = by_network_[nwid];
  q.push_back(j);
  while (q.size() > per_network_) q.pop_front();
  return true;
}

json RemoteTraceStore::list(uint64_t nwid) const {
  std::lock_guard lk(mu_);
  json arr = json::array();
  auto it = by_network_.find(nwid);
  if (it != by_network_.end())
    for (const json& j : it->second) arr.push_back(j);
  return arr;
}

}  // namespace zt::controller
