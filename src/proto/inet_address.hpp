// InetAddress: an IPv4/IPv6 address with a port (or, in routes and static IPs, a prefix
// length carried in the port field). Binary form PROTOCOL.md §4.1; text form "ip/port".
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.hpp"
#include "base/result.hpp"

struct sockaddr;
struct sockaddr_storage;

namespace zt::proto {

class InetAddress {
 public:
  enum class Family : uint8_t { None = 0, V4 = 4, V6 = 6 };

  InetAddress() = default;
  static InetAddress v4(const uint8_t ip[4], uint16_t port);
  static InetAddress v4(uint32_t ip_host_order, uint16_t port);
  static InetAddress v6(const uint8_t ip[16], uint16_t port);
  // "1.2.3.4/9993", "::1/9993", "[::1]:9993", "1.2.3.4:9993"; also bare IPs (port 0).
  static std::optional<InetAddress> parse(std::string_view text);
  static std::optional<InetAddress> from_sockaddr(const sockaddr* sa);

  // §4.1: reads one InetAddress. Reserved types 1/2 (6 bytes) and 3 (length-prefixed) are
  // skipped and yield a None address; an unknown type is an error.
  static Result<InetAddress> read(Reader& r);
  void write(Writer& w) const;

  Family family() const { return family_; }
  bool is_v4() const { return family_ == Family::V4; }
  bool is_v6() const { return family_ == Family::V6; }
  bool empty() const { return family_ == Family::None; }
  uint16_t port() const { return port_; }
  void set_port(uint16_t p) { port_ = p; }
  // Prefix length when used as a network (routes, static IPs).
  unsigned prefix_bits() const { return port_; }
  const uint8_t* ip() const { return ip_.data(); }  // 4 or 16 meaningful bytes
  size_t ip_size() const { return is_v4() ? 4 : is_v6() ? 16 : 0; }
  uint32_t ipv4() const { return load_be32(ip_.data()); }

  // Loopback, link-local, private and so on (used by path policy).
  bool is_loopback() const;
  // Same IP and (when use_port) port.
  bool same_ip(const InetAddress& o) const;

  // "10.77.0.1/9993" or "fd00::1/9993"; "" for None.
  std::string to_string() const;
  // Just the IP text.
  std::string ip_string() const;
  // Fills a sockaddr_in/sockaddr_in6; returns its length (0 for None).
  unsigned to_sockaddr(sockaddr_storage* out) const;

  bool operator==(const InetAddress& o) const = default;
  bool operator<(const InetAddress& o) const;

 private:
  Family family_ = Family::None;
  uint16_t port_ = 0;
  std::array<uint8_t, 16> ip_{};
};

}  // namespace zt::proto
