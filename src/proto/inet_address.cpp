#include "proto/inet_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace zt::proto {

InetAddress InetAddress::v4(const uint8_t ip[4], uint16_t port) {
  InetAddress a;
  a.family_ = Family::V4;
  std::memcpy(a.ip_.data(), ip, 4);
  a.port_ = port;
  return a;
}

InetAddress InetAddress::v4(uint32_t ip, uint16_t port) {
  uint8_t b[4];
  store_be32(b, ip);
  return v4(b, port);
}

InetAddress InetAddress::v6(const uint8_t ip[16], uint16_t port) {
  InetAddress a;
  a.family_ = Family::V6;
  std::memcpy(a.ip_.data(), ip, 16);
  a.port_ = port;
  return a;
}

std::optional<InetAddress> InetAddress::parse(std::string_view text) {
  std::string host(text);
  std::optional<unsigned long> port;
  auto parse_port = [](const std::string& s) -> std::optional<unsigned long> {
    if (s.empty() || s.size() > 5) return std::nullopt;
    unsigned long v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + unsigned(c - '0');
    }
    if (v > 65535) return std::nullopt;
    return v;
  };
  if (!host.empty() && host.front() == '[') {  // [v6]:port
    auto close = host.find(']');
    if (close == std::string::npos) return std::nullopt;
    std::string rest = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!rest.empty()) {
      if (rest[0] != ':' && rest[0] != '/') return std::nullopt;
      port = parse_port(rest.substr(1));
      if (!port) return std::nullopt;
    }
  } else if (auto slash = host.rfind('/'); slash != std::string::npos) {
    port = parse_port(host.substr(slash + 1));
    if (!port) return std::nullopt;
    host = host.substr(0, slash);
  } else if (auto colon = host.find(':'); colon != std::string::npos && host.find(':', colon + 1) == std::string::npos) {
    port = parse_port(host.substr(colon + 1));  // v4:port
    if (!port) return std::nullopt;
    host = host.substr(0, colon);
  }
  uint8_t buf[16];
  if (inet_pton(AF_INET, host.c_str(), buf) == 1) return v4(buf, uint16_t(port.value_or(0)));
  if (inet_pton(AF_INET6, host.c_str(), buf) == 1) return v6(buf, uint16_t(port.value_or(0)));
  return std::nullopt;
}

std::optional<InetAddress> InetAddress::from_sockaddr(const sockaddr* sa) {
  if (!sa) return std::nullopt;
  if (sa->sa_family == AF_INET) {
    auto* s4 = reinterpret_cast<const sockaddr_in*>(sa);
    return v4(reinterpret_cast<const uint8_t*>(&s4->sin_addr), ntohs(s4->sin_port));
  }
  if (sa->sa_family == AF_INET6) {
    auto* s6 = reinterpret_cast<const sockaddr_in6*>(sa);
    return v6(reinterpret_cast<const uint8_t*>(&s6->sin6_addr), ntohs(s6->sin6_port));
  }
  return std::nullopt;
}

unsigned InetAddress::to_sockaddr(sockaddr_storage* out) const {
  std::memset(out, 0, sizeof *out);
  if (is_v4()) {
    auto* s4 = reinterpret_cast<sockaddr_in*>(out);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port_);
    std::memcpy(&s4->sin_addr, ip_.data(), 4);
    return sizeof(sockaddr_in);
  }
  if (is_v6()) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(out);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port_);
    std::memcpy(&s6->sin6_addr, ip_.data(), 16);
    return sizeof(sockaddr_in6);
  }
  return 0;
}

Result<InetAddress> InetAddress::read(Reader& r) {
  uint8_t type = r.u8();
  InetAddress a;
  switch (type) {
    case 0x00:
      break;
    case 0x04: {
      ByteSpan ip = r.bytes(4);
      uint16_t port = r.u16();
      if (r.ok()) a = v4(ip.data(), port);
      break;
    }
    case 0x06: {
      ByteSpan ip = r.bytes(16);
      uint16_t port = r.u16();
      if (r.ok()) a = v6(ip.data(), port);
      break;
    }
    case 0x01:
    case 0x02:
      r.skip(6);
      break;
    case 0x03:
      r.skip(r.u16());
      break;
    default:
      return err("unknown InetAddress type " + std::to_string(type));
  }
  if (!r.ok()) return err("truncated InetAddress");
  return a;
}

void InetAddress::write(Writer& w) const {
  switch (family_) {
    case Family::V4:
      w.u8(0x04).bytes(ByteSpan(ip_.data(), 4)).u16(port_);
      break;
    case Family::V6:
      w.u8(0x06).bytes(ByteSpan(ip_.data(), 16)).u16(port_);
      break;
    default:
      w.u8(0x00);
      break;
  }
}

bool InetAddress::is_loopback() const {
  if (is_v4()) return ip_[0] == 127;
  if (is_v6()) {
    static const uint8_t lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return std::memcmp(ip_.data(), lo, 16) == 0;
  }
  return false;
}

bool InetAddress::same_ip(const InetAddress& o) const {
  return family_ == o.family_ && std::memcmp(ip_.data(), o.ip_.data(), ip_size()) == 0;
}

std::string InetAddress::ip_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (is_v4()) inet_ntop(AF_INET, ip_.data(), buf, sizeof buf);
  else if (is_v6()) inet_ntop(AF_INET6, ip_.data(), buf, sizeof buf);
  return buf;
}

std::string InetAddress::to_string() const {
  if (empty()) return "";
  return ip_string() + "/" + std::to_string(port_);
}

bool InetAddress::operator<(const InetAddress& o) const {
  if (family_ != o.family_) return family_ < o.family_;
  int c = std::memcmp(ip_.data(), o.ip_.data(), 16);
  if (c != 0) return c < 0;
  return port_ < o.port_;
}

}  // namespace zt::proto
