// Structured trace events (PROTOCOL.md §15; docs/TRACES.md).
//
// Every Trace event (core::Event, EventType::Trace) carries, besides its human line, a
// TraceInfo: the §15 event code, the network, the remote node, the frame's Ethernet and IP
// fields, the filter's decision (rule index, action, capability) and a reason. The same record
// is what the node turns into a §15 dictionary for REMOTE_TRACE (remote_trace_dictionary).
//
// Codes 1000..2006 are the reference's (§15). ztcore's informational traces, which have no
// §15 code, use codes >= 9000 (TraceCode below); they are never sent as REMOTE_TRACE.
//
// Threading: none; pure data and functions. Pointers and spans in a TraceInfo are valid only
// during the event callback that carries it.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "base/bytes.hpp"
#include "proto/dictionary.hpp"
#include "proto/identity.hpp"
#include "proto/vl2.hpp"

namespace zt::core {

class RuleLog;

namespace trace_code {
// §15 codes.
constexpr uint32_t kPacketMacFailure = 1004;           // authentication failed
constexpr uint32_t kPacketInvalid = 1005;              // malformed packet, dropped HELLO
constexpr uint32_t kOutgoingFrameDropped = 2000;       // frame from the host not sent
constexpr uint32_t kIncomingAccessDenied = 2001;       // EXT_FRAME sender failed the gate
constexpr uint32_t kIncomingFrameDropped = 2002;       // bridging/multicast checks
constexpr uint32_t kCredentialRejected = 2003;         // COM/tag/capability/COO/revocation
constexpr uint32_t kConfigRequestSent = 2005;          // (not emitted locally)
constexpr uint32_t kFilterTrace = 2006;                // rules engine outcome
// ztcore's own (no §15 equivalent; never sent as REMOTE_TRACE).
constexpr uint32_t kNetworkJoined = 9000;
constexpr uint32_t kNetworkLeft = 9001;
constexpr uint32_t kConfigApplied = 9002;
constexpr uint32_t kConfigRejected = 9003;             // bad signature, unparsable, not for us
constexpr uint32_t kNetworkStatus = 9004;              // controller said NOT_FOUND / ACCESS_DENIED
constexpr uint32_t kCredentialAccepted = 9005;         // a revocation was applied
constexpr uint32_t kSendFailed = 9006;                 // no route, too large, expired in queue
constexpr uint32_t kWorldUpdated = 9007;
constexpr uint32_t kControllerQueueFull = 9008;        // runtime: a config request dropped, controller busy
}  // namespace trace_code

// §15 trace levels (the `tl` config key).
namespace trace_level {
constexpr unsigned kNormal = 0, kVerbose = 10, kRules = 15, kDebug = 20, kInsane = 30;
}

struct TraceInfo {
  uint32_t code = 0;        // trace_code::* (the §15 code as displayed: 2006 is the reference's 0x2006)
  uint64_t nwid = 0;        // 0 = not tied to a network
  proto::Address peer = 0;  // the remote node concerned (0 = none)

  // The frame, when the trace is about one (frame_length 0 and ethertype 0 otherwise).
  proto::Mac mac_source, mac_dest;
  uint16_t ethertype = 0;
  uint16_t vlan = 0;
  uint32_t frame_length = 0;  // Ethernet payload length
  uint8_t ip_version = 0;     // 4 or 6 when the payload is IP, else 0 (no IP fields)
  std::array<uint8_t, 16> ip_source{}, ip_dest{};  // IPv4 in the first 4 bytes
  uint8_t ip_protocol = 0;    // final protocol (IPv6: after extension headers)
  uint16_t port_source = 0, port_dest = 0;  // TCP/UDP/SCTP ports, else 0
  bool inbound = false;
  ByteSpan frame;             // the first <= 256 bytes of the Ethernet payload

  // The rules engine's decision (2006) or the refusing check.
  int rule = -1;                        // deciding action rule's index (-1 none)
  std::string action;                   // "DROP", "ACCEPT", "TEE", "REDIRECT"..., or empty
  std::optional<uint32_t> capability;   // the capability whose rule decided
  std::string reason;                   // human: "rule 8 DROP", "not a bridge", ...

  // ---- §15 extras used for REMOTE_TRACE dictionaries (not in the C ABI) ----
  uint64_t packet_id = 0;
  int packet_verb = -1;                  // -1 = unknown
  proto::Address zt_source = 0, zt_dest = 0;  // 2006: sourceZtAddr, destZtAddr
  bool no_tee = false;                   // 2006 filterNoTee
  int filter_result = 0;                 // 2006: 0 drop/redirected, 1 accept, 2 super-accept
  const RuleLog* base_log = nullptr;     // 2006 filterBaseRuleLog
  const RuleLog* capability_log = nullptr;  // 2006 filterCapRuleLog (only with `capability`)
  int credential_type = 0;               // 2003: 1 COM, 2 capability, 3 tag, 4 COO, 6 revocation
  uint64_t credential_id = 0;
  uint64_t credential_timestamp = 0;
  proto::Address credential_issued_to = 0;
  std::optional<uint64_t> credential_info;    // tag value
  proto::Address revocation_target = 0;

  // Fills the frame fields (MACs, ethertype, vlan, length, first 256 bytes, and the IP
  // fields when the payload is IPv4/IPv6). Bounds-checked: any payload is accepted.
  void set_frame(proto::Mac src, proto::Mac dst, uint16_t ethertype, uint16_t vlan, ByteSpan payload);
  // "10.1.2.3" / "fd00::1"; empty when ip_version is 0.
  std::string ip_source_string() const;
  std::string ip_dest_string() const;
};

// A TraceInfo about a frame refused outside the rules engine (2000, 2001, 2002): code,
// network, remote node, direction, the frame's fields and the §15 reason.
TraceInfo frame_trace(uint32_t code, uint64_t nwid, proto::Address peer, bool inbound, proto::Mac src, proto::Mac dst,
                      uint16_t ethertype, uint16_t vlan, ByteSpan data, std::string reason);

// "PACKET_MAC_FAILURE", "NETWORK_FILTER_TRACE", "NETWORK_JOINED", ... ("UNKNOWN" otherwise).
const char* trace_code_name(uint32_t code);

// The minimum `tl` a per-network target needs for this code (§15); nullopt = never sent to a
// network's target (global-only §15 events and ztcore's own codes).
std::optional<unsigned> trace_remote_min_level(uint32_t code);

// The §15 dictionary of a trace (keys in §15's order and encoding); nullopt when the code has
// no network-target form. Keys whose value ztcore's VL2 does not know (remotePhyAddr,
// localSocket) are omitted.
std::optional<proto::Dictionary> remote_trace_dictionary(const TraceInfo& t);

// One human line: "2006 NETWORK_FILTER_TRACE 8056c2e21c000001 in rule 2 DROP ... 10.0.0.1 -> ...".
std::string trace_summary(const TraceInfo& t);

}  // namespace zt::core
