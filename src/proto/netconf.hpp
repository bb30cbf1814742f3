// Network configuration (PROTOCOL.md §6.2): the decoded form of the dictionary a controller
// sends in NETWORK_CONFIG / OK(NETWORK_CONFIG_REQUEST), and its encoder.
//
// from_dictionary() is strict: any malformed binary value (COM, CAP, TAG, COO, S, RT, I, R,
// DNS) or a list over its limit makes the whole config an error, as does a missing/zero
// `nwid` or `id` or a legacy config (`v` < 6). Policy checks (nwid/id match the receiver)
// are the caller's.
//
// to_dictionary() writes the keys in the reference order with the reference value formats,
// so decoding and re-encoding a reference config reproduces it byte for byte.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "proto/credentials.hpp"
#include "proto/dictionary.hpp"
#include "proto/inet_address.hpp"
#include "proto/rules.hpp"
#include "proto/vl2.hpp"

namespace zt::proto {

struct NetworkRoute {
  InetAddress target;  // port field = prefix bits
  InetAddress via;     // None if no gateway
  uint16_t flags = 0;
  uint16_t metric = 0;
  bool operator==(const NetworkRoute&) const = default;
};

struct NetworkDns {
  static constexpr size_t kDomainSize = 128;  // NUL-padded on the wire
  static constexpr size_t kMaxServers = 4;
  std::string domain;                // ≤ 127 bytes
  std::vector<InetAddress> servers;  // ≤ 4, non-empty entries only
  bool operator==(const NetworkDns&) const = default;
};

struct NetworkConfig {
  // Flags (`f`).
  static constexpr uint64_t kFlagEnableBroadcast = 0x02;
  static constexpr uint64_t kFlagNdpEmulation = 0x04;
  static constexpr uint64_t kFlagUnsupportedMatchResult = 0x08;
  static constexpr uint64_t kFlagDisableCompression = 0x10;
  // Specialist flag bits (`S`), above the 40-bit address.
  static constexpr uint64_t kSpecialistActiveBridge = 0x0000020000000000ULL;
  static constexpr uint64_t kSpecialistAnchor = 0x0000040000000000ULL;
  static constexpr uint64_t kSpecialistMulticastReplicator = 0x0000080000000000ULL;
  // Types (`t`).
  static constexpr uint64_t kTypePrivate = 0;
  static constexpr uint64_t kTypePublic = 1;
  // Limits.
  static constexpr size_t kMaxCapabilities = 128;
  static constexpr size_t kMaxTags = 128;
  static constexpr size_t kMaxCertificatesOfOwnership = 4;
  static constexpr size_t kMaxSpecialists = 256;
  static constexpr size_t kMaxRoutes = 128;
  static constexpr size_t kMaxStaticIps = 32;
  static constexpr size_t kMaxRules = kMaxNetworkRules;  // 1024
  static constexpr size_t kMaxNameLength = 127;
  static constexpr unsigned kMinMtu = 1280, kMaxMtu = 10000, kDefaultMtu = 2800;
  static constexpr uint64_t kVersion = 7;

  uint64_t version = kVersion;          // v
  uint64_t nwid = 0;                    // nwid
  uint64_t timestamp = 0;               // ts
  uint64_t credential_time_max_delta = 0;  // ctmd
  uint64_t revision = 0;                // r
  Address issued_to = 0;                // id
  Address remote_trace_target = 0;      // tt
  uint64_t remote_trace_level = 0;      // tl
  uint64_t flags = 0;                   // f
  uint64_t multicast_limit = 0;         // ml
  uint64_t type = kTypePrivate;         // t
  std::string name;                     // n
  uint64_t mtu = kDefaultMtu;           // mtu (clamped on read)
  std::optional<CertificateOfMembership> com;             // C
  std::vector<Capability> capabilities;                   // CAP (sorted by ID on read)
  std::vector<Tag> tags;                                  // TAG (sorted by ID on read)
  std::vector<CertificateOfOwnership> certificates_of_ownership;  // COO
  std::vector<uint64_t> specialists;                      // S
  std::vector<NetworkRoute> routes;                       // RT
  std::vector<InetAddress> static_ips;                    // I
  std::vector<Rule> rules;                                // R
  NetworkDns dns;                                         // DNS
  uint64_t sso_version = 0;              // ssov
  bool sso_enabled = false;              // ssoe
  std::string authentication_url;        // aurl
  int64_t authentication_expiry_time = 0;  // aexpt
  std::string issuer_url;                // iurl
  std::string central_endpoint_url;      // ssoce
  std::string sso_nonce;                 // sson
  std::string sso_state;                 // ssos
  std::string sso_client_id;             // ssocid
  std::string sso_provider;              // ssop

  static Result<NetworkConfig> from_dictionary(const Dictionary& d);
  // Parses dictionary text (§6.1) and decodes it.
  static Result<NetworkConfig> parse(ByteSpan text);
  // Errors only if the result exceeds the dictionary capacity.
  Result<Dictionary> to_dictionary(size_t capacity = Dictionary::kDefaultCapacity) const;

  // Derived values.
  bool is_private() const { return type != kTypePublic; }
  bool broadcast_enabled() const { return (flags & kFlagEnableBroadcast) != 0; }
  bool ndp_emulation() const { return (flags & kFlagNdpEmulation) != 0; }
  bool compression_disabled() const { return (flags & kFlagDisableCompression) != 0; }
  Address controller() const { return network_controller(nwid); }
  // This member's MAC on the network (§4.2).
  Mac mac() const { return Mac::from_address(issued_to, nwid); }
  // Addresses of specialists having any of `flag_mask`.
  std::vector<Address> specialists_with(uint64_t flag_mask) const;
  bool is_active_bridge(Address a) const;
  const Tag* tag(uint32_t id) const;
  const Capability* capability(uint32_t id) const;

  bool operator==(const NetworkConfig&) const = default;
};

// Human-readable names of the set flag bits ("enableBroadcast", "ndpEmulation",
// "unsupportedMatchResult", "disableCompression", "0x...." for unknown bits).
std::vector<std::string> network_flag_names(uint64_t flags);

}  // namespace zt::proto
