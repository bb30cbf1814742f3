// Structured trace events: frame field extraction, §15 dictionaries, human lines.
#include "core/trace.hpp"

#include <algorithm>
#include <arpa/inet.h>

#include "base/hex.hpp"
#include "core/rules_engine.hpp"

namespace zt::core {

namespace {

bool has_ports(uint8_t proto) { return proto == 6 || proto == 17 || proto == 132; }

std::string ip_text(uint8_t version, const std::array<uint8_t, 16>& ip) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (version == 4) inet_ntop(AF_INET, ip.data(), buf, sizeof buf);
  else if (version == 6) inet_ntop(AF_INET6, ip.data(), buf, sizeof buf);
  return buf;
}

}  // namespace

void TraceInfo::set_frame(proto::Mac src, proto::Mac dst, uint16_t et, uint16_t vl, ByteSpan d) {
  mac_source = src;
  mac_dest = dst;
  ethertype = et;
  vlan = vl;
  frame_length = uint32_t(d.size());
  frame = d.first(std::min<size_t>(d.size(), 256));
  ip_version = 0;
  port_source = port_dest = 0;
  size_t l4 = 0;
  if (et == 0x0800 && d.size() >= 20 && (d[0] >> 4) == 4) {
    ip_version = 4;
    ip_protocol = d[9];
    std::copy(d.begin() + 12, d.begin() + 16, ip_source.begin());
    std::copy(d.begin() + 16, d.begin() + 20, ip_dest.begin());
    const bool first_fragment = ((d[6] & 0x1f) | d[7]) == 0;
    l4 = first_fragment ? size_t(d[0] & 0x0f) * 4 : 0;
  } else if (et == 0x86DD && d.size() >= 40 && (d[0] >> 4) == 6) {
    ip_version = 6;
    std::copy(d.begin() + 8, d.begin() + 24, ip_source.begin());
    std::copy(d.begin() + 24, d.begin() + 40, ip_dest.begin());
    if (auto p = ipv6_payload(d)) {
      ip_protocol = p->protocol;
      l4 = p->offset;
    } else {
      ip_protocol = d[6];
    }
  }
  if (ip_version && l4 >= 20 && has_ports(ip_protocol) && l4 + 4 <= d.size()) {
    port_source = uint16_t(d[l4] << 8 | d[l4 + 1]);
    port_dest = uint16_t(d[l4 + 2] << 8 | d[l4 + 3]);
  }
}

std::string TraceInfo::ip_source_string() const { return ip_text(ip_version, ip_source); }
std::string TraceInfo::ip_dest_string() const { return ip_text(ip_version, ip_dest); }

// The TraceInfo of a frame refused outside the rules engine (2000, 2001, 2002).
TraceInfo frame_trace(uint32_t code, uint64_t nwid, proto::Address peer, bool inbound, proto::Mac src, proto::Mac dst, uint16_t ethertype,
                      uint16_t vlan, ByteSpan data, std::string reason) {
  TraceInfo t;
  t.code = code;
  t.nwid = nwid;
  t.peer = peer;
  t.inbound = inbound;
  t.set_frame(src, dst, ethertype, vlan, data);
  t.reason = std::move(reason);
  return t;
}

const char* trace_code_name(uint32_t code) {
  switch (code) {
    case 1004: return "PACKET_MAC_FAILURE";
    case 1005: return "PACKET_INVALID";
    case 2000: return "OUTGOING_NETWORK_FRAME_DROPPED";
    case 2001: return "INCOMING_NETWORK_ACCESS_DENIED";
    case 2002: return "INCOMING_NETWORK_FRAME_DROPPED";
    case 2003: return "CREDENTIAL_REJECTED";
    case 2005: return "NETWORK_CONFIG_REQUEST_SENT";
    case 2006: return "NETWORK_FILTER_TRACE";
    case 9000: return "NETWORK_JOINED";
    case 9001: return "NETWORK_LEFT";
    case 9002: return "NETWORK_CONFIG_APPLIED";
    case 9003: return "NETWORK_CONFIG_REJECTED";
    case 9004: return "NETWORK_STATUS";
    case 9005: return "CREDENTIAL_ACCEPTED";
    case 9006: return "SEND_FAILED";
    case 9007: return "WORLD_UPDATED";
    case 9008: return "CONTROLLER_QUEUE_FULL";
  }
  return "UNKNOWN";
}

std::optional<unsigned> trace_remote_min_level(uint32_t code) {
  switch (code) {
    case 2000:
    case 2001:
    case 2002: return trace_level::kVerbose;
    case 2003: return trace_level::kNormal;
    case 2006: return trace_level::kRules;
  }
  return std::nullopt;
}

namespace {

using proto::Dictionary;

void put_frame_head(Dictionary& d, const TraceInfo& t) {
  d.set_u64("sourceMac", t.mac_source.value());
  d.set_u64("destMac", t.mac_dest.value());
  d.set_u64("etherType", t.ethertype);
  d.set_u64("vlanId", t.vlan);
}

void put_packet(Dictionary& d, const TraceInfo& t) {
  d.set_u64("packetId", t.packet_id);
  d.set_u64("packetVerb", uint64_t(std::max(t.packet_verb, 0)));
  d.set_u64("remoteZtAddr", t.peer);
}

void put_filter(Dictionary& d, const TraceInfo& t) {
  d.set_u64("networkId", t.nwid);
  d.set_u64("sourceZtAddr", t.zt_source);
  d.set_u64("destZtAddr", t.zt_dest);
  put_frame_head(d, t);
  d.set_bool("filterNoTee", t.no_tee);
  d.set_bool("filterInbound", t.inbound);
  d.set_i64("filterResult", t.filter_result);
  if (t.base_log) d.set("filterBaseRuleLog", ByteSpan(t.base_log->bytes().data(), t.base_log->bytes().size()));
  if (t.capability && t.capability_log) {
    d.set("filterCapRuleLog", ByteSpan(t.capability_log->bytes().data(), t.capability_log->bytes().size()));
    d.set_u64("filterMatchingCapId", *t.capability);
  }
  d.set_u64("frameLength", t.frame_length);
  if (t.frame_length > 0) d.set("frameData", t.frame);
}

void put_credential(Dictionary& d, const TraceInfo& t) {
  d.set_u64("networkId", t.nwid);
  d.set_u64("credType", uint64_t(t.credential_type));
  d.set_u64("credId", t.credential_id);
  if (t.credential_type == 6) {
    d.set_u64("credRevocationTarget", t.revocation_target);
  } else {
    d.set_u64("credTs", t.credential_timestamp);
    d.set_u64("credIssuedTo", t.credential_issued_to);
    if (t.credential_info) d.set_u64("credInfo", *t.credential_info);
  }
  d.set_string("reason", t.reason);
}

}  // namespace

std::optional<proto::Dictionary> remote_trace_dictionary(const TraceInfo& t) {
  if (!trace_remote_min_level(t.code)) return std::nullopt;
  Dictionary d(10000);
  // The reference's codes are 0x1000..0x2006 written as 4 hex digits; ours are the same digits
  // read as decimal (2006), so the text is the code's decimal spelling ("2006").
  d.set_string("event", std::to_string(t.code));
  switch (t.code) {
    case 2000:
      d.set_u64("networkId", t.nwid);
      put_frame_head(d, t);
      d.set_u64("frameLength", t.frame_length);
      d.set_string("reason", t.reason);
      break;
    case 2001:
      put_packet(d, t);
      d.set_u64("networkId", t.nwid);
      break;
    case 2002:
      put_packet(d, t);
      d.set_u64("networkId", t.nwid);
      d.set_u64("sourceMac", t.mac_source.value());
      d.set_u64("destMac", t.mac_dest.value());
      d.set_string("reason", t.reason);
      break;
    case 2003:
      put_credential(d, t);
      break;
    case 2006:
      put_filter(d, t);
      break;
  }
  return d;
}

std::string trace_summary(const TraceInfo& t) {
  std::string s = std::to_string(t.code) + " " + trace_code_name(t.code);
  if (t.nwid) s += " " + to_hex(t.nwid, 16);
  if (t.ethertype || t.frame_length) s += t.inbound ? " in" : " out";
  if (t.peer) s += " peer " + to_hex(t.peer, 10);
  if (!t.reason.empty()) s += ": " + t.reason;
  if (t.ethertype || t.frame_length) {
    s += " | " + t.mac_source.to_string() + " -> " + t.mac_dest.to_string() + " ethertype " + to_hex(t.ethertype, 4);
    if (t.vlan) s += " vlan " + std::to_string(t.vlan);
    s += " len " + std::to_string(t.frame_length);
  }
  if (t.ip_version) {
    const bool ports = t.port_source || t.port_dest;
    const std::string src = t.ip_source_string(), dst = t.ip_dest_string();
    auto with_port = [&](const std::string& ip, uint16_t port) {
      if (!ports) return ip;
      return (t.ip_version == 6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
    };
    s += " | " + with_port(src, t.port_source) + " -> " + with_port(dst, t.port_dest) + " proto " + std::to_string(t.ip_protocol);
  }
  if (t.rule >= 0 || !t.action.empty()) {
    s += " | rule " + std::to_string(t.rule);
    if (!t.action.empty()) s += " " + t.action;
    if (t.capability) s += " (capability " + std::to_string(*t.capability) + ")";
  }
  return s;
}

}  // namespace zt::core
