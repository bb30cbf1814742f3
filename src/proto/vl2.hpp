// VL2 addressing: MACs, per-network MAC derivation, multicast groups, network IDs and the
// managed IPv6 schemes (PROTOCOL.md §4.2–§4.5).
//
// All functions here are pure and total: no allocation beyond returned strings, no errors
// except where a text parse returns nullopt.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.hpp"
#include "base/result.hpp"
#include "proto/identity.hpp"
#include "proto/inet_address.hpp"

namespace zt::proto {

// ---- MAC (48 bits, wire form 6 bytes big-endian) ------------------------------------------
class Mac {
 public:
  constexpr Mac() = default;
  // Low 48 bits of v; the upper 16 are dropped.
  constexpr explicit Mac(uint64_t v) : v_(v & 0xffffffffffffULL) {}
  static Mac from_bytes(const uint8_t b[6]) { return Mac(load_be(b, 6)); }
  static constexpr Mac broadcast() { return Mac(0xffffffffffffULL); }
  // "ee:70:2c:66:79:cb" (also accepts '-' separators and upper case). nullopt otherwise.
  static std::optional<Mac> parse(std::string_view text);

  // §4.2: the MAC of node `a` on network `nwid`.
  static Mac from_address(Address a, uint64_t nwid);
  // §4.2: first octet of every member MAC on `nwid` ((nwid & 0xfe) | 0x02, 0x52 → 0x32).
  static uint8_t network_first_octet(uint64_t nwid);
  // §4.2 reverse: the node address embedded in this MAC on `nwid` (no first-octet check;
  // use is_network_mac() first when that matters).
  Address to_address(uint64_t nwid) const;
  // True if the first octet equals network_first_octet(nwid) (8.3 outbound switching rule).
  bool is_network_mac(uint64_t nwid) const { return first_octet() == network_first_octet(nwid); }

  uint64_t value() const { return v_; }
  uint8_t first_octet() const { return uint8_t(v_ >> 40); }
  std::array<uint8_t, 6> bytes() const;
  void write(Writer& w) const { w.u48(v_); }
  static Mac read(Reader& r) { return Mac(r.u48()); }

  bool is_multicast() const { return (first_octet() & 0x01) != 0; }  // incl. broadcast
  bool is_broadcast() const { return v_ == 0xffffffffffffULL; }
  bool empty() const { return v_ == 0; }

  std::string to_string() const;  // lowercase, colon separated

  constexpr bool operator==(const Mac&) const = default;
  constexpr auto operator<=>(const Mac&) const = default;

 private:
  uint64_t v_ = 0;
};

// ---- Multicast group (§4.3) --------------------------------------------------------------
struct MulticastGroup {
  Mac mac;
  uint32_t adi = 0;

  static constexpr size_t kWireSize = 10;  // [6] MAC | [4] ADI

  static MulticastGroup broadcast() { return {Mac::broadcast(), 0}; }
  // ARP address-resolution group for an IPv4 address: (ff:ff:ff:ff:ff:ff, ip as BE u32).
  static MulticastGroup for_ipv4_arp(const uint8_t ip[4]);
  static MulticastGroup for_ipv4_arp(uint32_t ip_host_order);
  // IPv6 NDP solicited-node group: (33:33:ff:XX:YY:ZZ, 0), XX:YY:ZZ = ip bytes 13..15.
  static MulticastGroup for_ipv6_ndp(const uint8_t ip[16]);
  // Address-resolution group for an IPv4 or IPv6 InetAddress; nullopt for None.
  static std::optional<MulticastGroup> for_ip(const InetAddress& ip);

  // Reads/writes the 10-byte wire form. read() never fails by itself; check r.ok().
  static MulticastGroup read(Reader& r);
  void write(Writer& w) const;

  std::string to_string() const;  // "ff:ff:ff:ff:ff:ff/0a93110e" (ADI as 8 hex digits)

  bool operator==(const MulticastGroup&) const = default;
  auto operator<=>(const MulticastGroup&) const = default;
};

// ---- Network IDs (§4.4) ------------------------------------------------------------------
// Controller address of a network: nwid >> 24.
constexpr Address network_controller(uint64_t nwid) { return nwid >> 24; }
// 16 lowercase hex digits.
std::string network_id_to_string(uint64_t nwid);
// Exactly 16 hex digits (either case). nullopt otherwise.
std::optional<uint64_t> parse_network_id(std::string_view text);

// ---- Managed IPv6 (§4.5) -----------------------------------------------------------------
// RFC4193: fd | nwid (8) | 99 93 | address (5), prefix 88 (carried in the port field).
InetAddress rfc4193_address(uint64_t nwid, Address a);
// 6PLANE: fc | (nwid ^ nwid>>32) as 4 bytes | address (5) | 00 00 00 00 00 01, prefix 40.
InetAddress sixplane_address(uint64_t nwid, Address a);
// If `ip` is an IPv6 address in the RFC4193 /88 of nwid (bytes 0..10 match), the embedded
// node address (bytes 11..15); nullopt otherwise.
std::optional<Address> rfc4193_embedded_address(uint64_t nwid, const uint8_t ip[16]);
// If `ip` is in the 6PLANE /40 of nwid (bytes 0..4 match), the embedded address (bytes 5..9).
std::optional<Address> sixplane_embedded_address(uint64_t nwid, const uint8_t ip[16]);

}  // namespace zt::proto
