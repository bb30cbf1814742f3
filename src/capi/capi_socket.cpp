// extern "C" shims over stack::Socket (ABI 1.2): sockets on a node's userspace IP stack.
// Errors: the socket layer reports errno values; they map onto zt_result here.
#include <arpa/inet.h>
#include <poll.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "capi/capi_internal.hpp"
#include "stack/stack.hpp"

using namespace zt;
using namespace zt::capi;

struct zt_socket {
  std::shared_ptr<stack::Socket> s;
};

namespace {

zt_result from_errno(const std::string& msg) {
  switch (stack::last_errno()) {
    case EAGAIN:
    case EINPROGRESS:
    case EALREADY:
      return fail(ZT_ERR_AGAIN, msg);
    case ECONNREFUSED:
      return fail(ZT_ERR_CONN_REFUSED, msg);
    case ECONNRESET:
    case ECONNABORTED:
    case EPIPE:
      return fail(ZT_ERR_CONN_RESET, msg);
    case ENOTCONN:
    case ESHUTDOWN:
      return fail(ZT_ERR_NOT_CONNECTED, msg);
    case EADDRINUSE:
      return fail(ZT_ERR_ADDR_IN_USE, msg);
    case ETIMEDOUT:
      return fail(ZT_ERR_TIMEOUT, msg);
    case ENETUNREACH:
    case EHOSTUNREACH:
      return fail(ZT_ERR_UNREACHABLE, msg);
    case EDEADLK:
      return fail(ZT_ERR_STATE, msg);
    case EBADF:
      return fail(ZT_ERR_STATE, "the socket is closed (or its node was freed)");
    case EMSGSIZE:
      return fail(ZT_ERR_TOO_LARGE, msg);
    case EINVAL:
    case EAFNOSUPPORT:
    case EOPNOTSUPP:
    case EPROTOTYPE:
    case EADDRNOTAVAIL:
    case EISCONN:
      return fail(ZT_ERR_INVALID_ARGUMENT, msg);
    default:
      return fail(ZT_ERR_IO, msg);
  }
}

template <class R>
zt_result check(const R& r) {
  return r.ok() ? ZT_OK : from_errno(r.error());
}

// A plain IP ("10.1.2.3", "fd00::1"); nullopt otherwise.
std::optional<proto::InetAddress> parse_ip(const char* ip) {
  if (!ip) return std::nullopt;
  uint8_t b[16];
  if (inet_pton(AF_INET, ip, b) == 1) return proto::InetAddress::v4(b, 0);
  if (inet_pton(AF_INET6, ip, b) == 1) return proto::InetAddress::v6(b, 0);
  return std::nullopt;
}

void write_ip(const proto::InetAddress& a, char* ip, size_t cap, uint16_t* port) {
  if (ip && cap) std::snprintf(ip, cap, "%s", a.ip_string().c_str());
  if (port) *port = a.port();
}

zt_result check_socket(zt_socket* s) {
  if (!s || !s->s) return fail(ZT_ERR_INVALID_ARGUMENT, "null socket");
  return ZT_OK;
}

}  // namespace

extern "C" {

zt_result zt_socket_new(zt_node* node, int family, int type, zt_socket** out) {
  if (zt_result r = check_node(node); r != ZT_OK) return r;
  if (!out) return fail(ZT_ERR_INVALID_ARGUMENT, "null output");
  if (!node->stack) return fail(ZT_ERR_STATE, "the node has no IP stack (zt_node_options.stack = 1)");
  if (family != ZT_AF_INET && family != ZT_AF_INET6) return fail(ZT_ERR_INVALID_ARGUMENT, "family: ZT_AF_INET or ZT_AF_INET6");
  if (type != ZT_SOCK_STREAM && type != ZT_SOCK_DGRAM) return fail(ZT_ERR_INVALID_ARGUMENT, "type: ZT_SOCK_STREAM or ZT_SOCK_DGRAM");
  return guarded([&] {
    auto s = node->stack->socket(family == ZT_AF_INET ? AF_INET : AF_INET6, type == ZT_SOCK_STREAM ? SOCK_STREAM : SOCK_DGRAM);
    if (!s.ok()) return from_errno(s.error());
    *out = new zt_socket{*s};
    return ZT_OK;
  });
}

zt_result zt_socket_bind(zt_socket* s, const char* ip, uint16_t port) {
  if (zt_result r = check_socket(s); r != ZT_OK) return r;
  std::optional<proto::InetAddress> a;
  if (ip && *ip) {
    a = parse_ip(ip);
    if (!a) return fail(ZT_ERR_INVALID_ARGUMENT, std::string("not an IP address: ") + ip);
  }
  return guarded([&] { return check(s->s->bind(a, port)); });
}

zt_result zt_socket_listen(zt_socket* s, int backlog) {
  if (zt_result r = check_socket(s); r != ZT_OK) return r;
  return guarded([&] { return check(s->s->listen(backlog)); });
}

zt_result zt_socket_accept(zt_socket* s, zt_socket** out, char* peer_ip, size_t ip_cap, uint16_t* peer_port) {
  if (zt_result r = check_socket(s); r != ZT_OK) return r;
  if (!out) return fail(ZT_ERR_INVALID_ARGUMENT, "null output");
  return guarded([&] {
    proto::InetAddress peer;
    auto c = s->s->accept(&peer);
    if (!c.ok()) return from_errno(c.error());
    write_ip(peer, peer_ip, ip_cap, peer_port);
    *out = new zt_socket{*c};
    return ZT_OK;
  });
}

zt_result zt_socket_connect(zt_socket* s, const char* ip, uint16_t port) {
  if (zt_result r = check_socket(s); r != ZT_OK) return r;
  auto a = parse_ip(ip);
  if (!a) return fail(ZT_ERR_INVALID_ARGUMENT, "not an IP address");
  return guarded([&] { return check(s->s->connect(*a, port)); });
}

zt_result zt_socket_send(zt_socket* s, const void* data, size_t len, size_t* sent) {
  if (zt_result r = check_socket(s); r != ZT_OK) return r;
  if ((!data && len) || !sent) return fail(ZT_ERR_INVALID_ARGUMENT, "null argument");
  return guarded([&] {
    auto n = s->s->send(ByteSpan(static_cast<const uint8_t*>(data), len));
    if (!n.ok()) return from_errno(n.error());
    *sent = *n;
    return ZT_OK;
  });
}

zt_result zt_socket_recv(zt_socket* s, void* buf, size_t cap, size_t* received) {
  if (zt_result r = check_socket(s); r != ZT_OK) return r;
  if ((!buf && cap) || !received) return fail(ZT_ERR_INVALID_ARGUMENT, "null argument");
  return guarded([&] {
    auto n = s->s->recv(static_cast<uint8_t*>(buf), cap);
    if (!n.ok()) return from_errno(n.error());
    *received = *n;
    return ZT_OK;
  });
}

zt_result zt_socket_sendto(zt_socket* s, const void* data, size_t len, const char* ip, uint16_t port) {
  if (zt_result r = check_socket(s); r != ZT_OK) return r;
  if (!data && len) return fail(ZT_ERR_INVALID_ARGUMENT, "null data");
  auto a = parse_ip(ip);
  if (!a) return fail(ZT_ERR_INVALID_ARGUMENT, "not an IP address");
  return guarded([&] {
    auto n = s->s->sendto(ByteSpan(static_cast<const uint8_t*>(data), len), *a, port);
    if (!n.ok()) return from_errno(n.error());
    return ZT_OK;
  });
}

zt_result zt_socket_recvfrom(zt_socket* s, void* buf, size_t cap, size_t* received, char* ip, size_t ip_cap,
                             uint16_t* port) {
  if (zt_result r = check_socket(s); r != ZT_OK) return r;
  if ((!buf && cap) || !received) return fail(ZT_ERR_INVALID_ARGUMENT, "null argument");
  return guarded([&] {
    proto::InetAddress from;
    auto n = s->s->recvfrom(static_cast<uint8_t*>(buf), cap, &from);
    if (!n.ok()) return from_errno(n.error());
    *received = *n;
    write_ip(from, ip, ip_cap, port);
    return ZT_OK;
  });
}

zt_result zt_socket_shutdown(zt_socket* s, int how) {
  if (zt_result r = check_socket(s); r != ZT_OK) return r;
  if (how != ZT_SHUT_RD && how != ZT_SHUT_WR && how != ZT_SHUT_RDWR) return fail(ZT_ERR_INVALID_ARGUMENT, "bad how");
  const int h = how == ZT_SHUT_RD ? SHUT_RD : how == ZT_SHUT_WR ? SHUT_WR : SHUT_RDWR;
  return guarded([&] { return check(s->s->shutdown(h)); });
}

zt_result zt_socket_set_timeout(zt_socket* s, int64_t ms) {
  if (zt_result r = check_socket(s); r != ZT_OK) return r;
  if (ms < -1) return fail(ZT_ERR_INVALID_ARGUMENT, "timeout: -1, 0 or a positive number of ms");
  return guarded([&] { return check(s->s->set_timeout(ms)); });
}

zt_result zt_socket_local_address(zt_socket* s, char* ip, size_t ip_cap, uint16_t* port) {
  if (zt_result r = check_socket(s); r != ZT_OK) return r;
  return guarded([&] {
    auto a = s->s->local_address();
    if (!a.ok()) return from_errno(a.error());
    write_ip(*a, ip, ip_cap, port);
    return ZT_OK;
  });
}

zt_result zt_socket_peer_address(zt_socket* s, char* ip, size_t ip_cap, uint16_t* port) {
  if (zt_result r = check_socket(s); r != ZT_OK) return r;
  return guarded([&] {
    auto a = s->s->peer_address();
    if (!a.ok()) return from_errno(a.error());
    write_ip(*a, ip, ip_cap, port);
    return ZT_OK;
  });
}

zt_result zt_socket_poll(zt_socket* s, int* revents) {
  if (zt_result r = check_socket(s); r != ZT_OK) return r;
  if (!revents) return fail(ZT_ERR_INVALID_ARGUMENT, "null output");
  return guarded([&] {
    auto p = s->s->poll();
    if (!p.ok()) return from_errno(p.error());
    const int v = *p;
    *revents = (v & POLLIN ? ZT_POLLIN : 0) | (v & POLLOUT ? ZT_POLLOUT : 0) | (v & POLLERR ? ZT_POLLERR : 0) |
               (v & POLLHUP ? ZT_POLLHUP : 0);
    return ZT_OK;
  });
}

int zt_socket_fd(zt_socket* s) { return s && s->s ? s->s->event_fd() : -1; }

void zt_socket_close(zt_socket* s) {
  if (!s) return;
  try {
    s->s.reset();  // closes (if the node has not already) and releases the eventfd
  } catch (...) {
  }
  delete s;
}

}  // extern "C"
