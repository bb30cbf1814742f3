// Sockets: lwIP's BSD socket API (thread-safe, blocking with timeouts, non-blocking, poll),
// with each pcb bound to its node's netif and an eventfd for readiness.
//
// The pollable fd: lwIP signals socket readiness through its netconn callback (a static
// function in sockets.c). Right after creating a socket we keep that callback and install one
// that calls it and then writes the socket's eventfd (found by socket number in a small
// registry). Connections accepted by lwIP inherit the listener's callback, so they chain too.
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <unordered_map>

#include "stack/glue.hpp"  // first: lwIP headers with C linkage
#include "lwip/api.h"
#include "lwip/sockets.h"
#include "lwip/tcp.h"
#include "lwip/tcpip.h"
#include "lwip/udp.h"

namespace zt::stack {

namespace {

thread_local int t_errno = 0;

std::mutex g_reg_mu;                        // leaf lock (never held while taking another)
// lwIP socket number -> the Socket's eventfd and its "raised" flag (the Socket removes its
// entry, under g_reg_mu, before it is destroyed).
struct EventTarget {
  int efd;
  std::atomic<bool>* raised;
};
std::unordered_map<int, EventTarget> g_event_fds;
netconn_callback g_lwip_callback = nullptr;  // lwIP's own event_callback (set once)

// Makes the eventfd readable. lwIP reports an event per segment and per ACK; while the fd is
// already readable (raised, not yet drained) the write is skipped, one syscall less per event.
void signal_fd(int efd, std::atomic<bool>& raised) {
  if (raised.exchange(true)) return;
  uint64_t one = 1;
  (void)!::write(efd, &one, sizeof one);
}

// lwIP context (core lock held): lwIP's bookkeeping first, then wake the socket's pollers.
void chained_callback(struct netconn* conn, enum netconn_evt evt, u16_t len) {
  if (g_lwip_callback) g_lwip_callback(conn, evt, len);
  if (!conn || conn->socket < 0) return;
  std::lock_guard lk(g_reg_mu);
  auto it = g_event_fds.find(conn->socket);
  if (it != g_event_fds.end()) signal_fd(it->second.efd, *it->second.raised);
}

void chain_callback(int fd) {
  LOCK_TCPIP_CORE();
  struct lwip_sock* s = lwip_socket_dbg_get_socket(fd);
  if (s && s->conn) {
    if (s->conn->callback != chained_callback) {
      if (!g_lwip_callback) g_lwip_callback = s->conn->callback;
      s->conn->callback = chained_callback;
    }
  }
  UNLOCK_TCPIP_CORE();
}

Error errno_error(const char* what, int e) {
  t_errno = e;
  return err(std::string(what) + ": " + std::strerror(e));
}

sockaddr_storage to_sa(const proto::InetAddress& ip, uint16_t port, socklen_t* len) {
  proto::InetAddress a = ip;
  a.set_port(port);
  sockaddr_storage ss{};
  *len = a.to_sockaddr(&ss);
  return ss;
}

}  // namespace

int last_errno() { return t_errno; }

bool NodeStack::adopt(const std::shared_ptr<Socket>& s) {
  {
    std::lock_guard lk(mu_);
    if (!closed_) {
      sockets_.emplace_back(s.get(), s);
      return true;
    }
  }
  s->close_from_stack();  // not under mu_ (lock order: a socket's lock before mu_)
  return false;
}

Result<std::shared_ptr<Socket>> NodeStack::socket(int family, int type) {
  if (family != AF_INET && family != AF_INET6) return errno_error("socket", EAFNOSUPPORT);
  if (type != SOCK_STREAM && type != SOCK_DGRAM) return errno_error("socket", EPROTOTYPE);
  {
    std::lock_guard lk(mu_);
    if (closed_) return errno_error("socket", EBADF);
  }
  const int fd = lwip_socket(family, type, 0);
  if (fd < 0) return errno_error("socket", errno);
  auto s = std::make_shared<Socket>(shared_from_this(), fd, family, type);
  if (s->event_fd() < 0) return errno_error("eventfd", errno);
  if (!adopt(s)) return errno_error("socket", EBADF);
  return s;
}

Socket::Socket(std::shared_ptr<NodeStack> st, int fd, int family, int type)
    : stack_(st), fd_(fd), family_(family), type_(type) {
  efd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  {
    std::lock_guard lk(g_reg_mu);
    g_event_fds[fd] = EventTarget{efd_, &raised_};
  }
  chain_callback(fd);
}

Socket::~Socket() {
  close();
  if (efd_ >= 0) ::close(efd_);
}

void Socket::close() {
  if (auto st = stack_.lock()) st->forget_socket(this);  // before our lock (lock order)
  close_from_stack();
}

void Socket::close_from_stack() {
  std::lock_guard lk(mu_);
  if (fd_ < 0) return;
  {
    std::lock_guard rl(g_reg_mu);
    g_event_fds.erase(fd_);
  }
  lwip_close(fd_);
  fd_ = -1;
  if (efd_ >= 0) signal_fd(efd_, raised_);  // pollers see the end (POLLHUP from poll())
}

Status Socket::check_blocking_allowed() {
  auto st = stack_.lock();
  if (!st || fd_ < 0) return errno_error("socket", EBADF);
  if (timeout_ms_ != 0 && st->on_loop_thread())
    return errno_error("blocking socket call from the runtime thread (would deadlock)", EDEADLK);
  return ok_status();
}

void Socket::drain_event() {
  // Lowered before and after the read: a signal racing with the read either leaves the fd
  // readable or finds the flag raised while the caller's next call still sees its effect
  // (the event's state change precedes its signal); every signal after this returns writes.
  raised_.store(false);
  uint64_t v;
  (void)!::read(efd_, &v, sizeof v);
  raised_.store(false);
}

// After a call that may leave data behind: readable again if more is waiting.
void Socket::rearm_if_readable() {
  struct pollfd p {};
  p.fd = fd_;
  p.events = POLLIN;
  if (fd_ >= 0 && lwip_poll(&p, 1, 0) > 0 && p.revents) signal_fd(efd_, raised_);
}

Status Socket::bind_pcb(uint8_t idx) {
  bool ok = false;
  LOCK_TCPIP_CORE();
  struct lwip_sock* s = lwip_socket_dbg_get_socket(fd_);
  struct netif* n = netif_get_by_index(idx);
  if (s && s->conn && s->conn->pcb.tcp && n) {
    if (type_ == SOCK_STREAM)
      tcp_bind_netif(s->conn->pcb.tcp, n);
    else
      udp_bind_netif(s->conn->pcb.udp, n);
    ok = true;
  }
  UNLOCK_TCPIP_CORE();
  if (!ok) return errno_error("bind to the network", ENETUNREACH);
  netif_ = idx;
  return ok_status();
}

// Binds the pcb to the node's netif for this socket (once): the one holding `local`, else the
// one routing to `remote`, else the node's first netif of the family.
Status Socket::ensure_netif(const std::optional<proto::InetAddress>& local,
                            const std::optional<proto::InetAddress>& remote) {
  if (netif_ != 0 && !local) return ok_status();
  auto st = stack_.lock();
  if (!st) return errno_error("socket", EBADF);
  const uint8_t idx = st->pick_netif(family_, local, remote);
  if (idx == 0)
    return local ? errno_error("bind", EADDRNOTAVAIL)
                 : errno_error("no stack address of this family on any joined network", ENETUNREACH);
  return bind_pcb(idx);
}

// The netif's own address of the family (IPv4, or the first valid non-link-local IPv6).
static std::optional<proto::InetAddress> netif_address(uint8_t idx, int family) {
  std::optional<proto::InetAddress> out;
  LOCK_TCPIP_CORE();
  if (struct netif* n = netif_get_by_index(idx)) {
    if (family == AF_INET) {
      if (!ip4_addr_isany_val(*netif_ip4_addr(n)))
        out = proto::InetAddress::v4(lwip_ntohl(ip4_addr_get_u32(netif_ip4_addr(n))), 0);
    } else {
      for (int i = 0; i < LWIP_IPV6_NUM_ADDRESSES && !out; ++i) {
        const ip6_addr_t* a = netif_ip6_addr(n, i);
        if (!ip6_addr_isvalid(netif_ip6_addr_state(n, i)) || ip6_addr_islinklocal(a)) continue;
        uint8_t b[16];
        std::memcpy(b, a->addr, 16);
        out = proto::InetAddress::v6(b, 0);
      }
    }
  }
  UNLOCK_TCPIP_CORE();
  return out;
}

Status Socket::bind(const std::optional<proto::InetAddress>& ip, uint16_t port) {
  std::lock_guard lk(mu_);
  if (fd_ < 0) return errno_error("bind", EBADF);
  std::optional<proto::InetAddress> local = ip;
  if (local && (local->family() != (family_ == AF_INET ? proto::InetAddress::Family::V4 : proto::InetAddress::Family::V6)))
    return errno_error("bind", EAFNOSUPPORT);
  static const uint8_t kZero[16] = {};
  if (local && std::memcmp(local->ip(), kZero, local->ip_size()) == 0) local.reset();
  if (auto r = ensure_netif(local, std::nullopt); !r.ok()) return r;
  socklen_t sl;
  sockaddr_storage ss;
  // "Any" means this node's address on the chosen network, never lwIP's wildcard: lwIP's port
  // table is process-wide, so a wildcard bind on one node would take the port from every other
  // node in the process (and from the other family on this node).
  if (!local) local = netif_address(netif_, family_);
  if (!local) return errno_error("bind", EADDRNOTAVAIL);
  ss = to_sa(*local, port, &sl);
  if (lwip_bind(fd_, reinterpret_cast<sockaddr*>(&ss), sl) != 0) return errno_error("bind", errno);
  return ok_status();
}

Status Socket::listen(int backlog) {
  std::lock_guard lk(mu_);
  if (fd_ < 0) return errno_error("listen", EBADF);
  if (type_ != SOCK_STREAM) return errno_error("listen", EOPNOTSUPP);
  if (auto r = ensure_netif(std::nullopt, std::nullopt); !r.ok()) return r;
  if (lwip_listen(fd_, backlog > 0 ? backlog : 16) != 0) return errno_error("listen", errno);
  // lwIP replaces the pcb with a listening one: bind that one to the netif too.
  return bind_pcb(netif_);
}

Result<std::shared_ptr<Socket>> Socket::accept(proto::InetAddress* peer) {
  if (auto r = check_blocking_allowed(); !r.ok()) return r.take_error();
  int fd;
  {
    std::lock_guard lk(mu_);
    fd = fd_;
  }
  drain_event();
  sockaddr_storage ss{};
  socklen_t sl = sizeof ss;
  const int nfd = lwip_accept(fd, reinterpret_cast<sockaddr*>(&ss), &sl);
  const int e = errno;
  rearm_if_readable();
  if (nfd < 0) return errno_error("accept", e);
  auto st = stack_.lock();
  if (!st) {
    lwip_close(nfd);
    return errno_error("accept", EBADF);
  }
  if (peer) {
    auto a = proto::InetAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
    if (a) *peer = *a;
  }
  auto s = std::make_shared<Socket>(st, nfd, family_, type_);
  s->netif_ = netif_;
  signal_fd(s->efd_, s->raised_);  // data may have arrived before the eventfd was registered
  if (!st->adopt(s)) return errno_error("accept", EBADF);
  return s;
}

Status Socket::connect(const proto::InetAddress& ip, uint16_t port) {
  if (auto r = check_blocking_allowed(); !r.ok()) return r;
  std::lock_guard lk(mu_);
  if (fd_ < 0) return errno_error("connect", EBADF);
  if (auto r = ensure_netif(std::nullopt, ip); !r.ok()) return r;
  socklen_t sl;
  sockaddr_storage ss = to_sa(ip, port, &sl);
  drain_event();
  // lwIP reports a RST answering our SYN as ECONNRESET; for connect that is a refusal.
  auto refused = [](int e) { return e == ECONNRESET ? ECONNREFUSED : e; };
  if (timeout_ms_ <= 0) {  // blocking (lwIP's connect has no timeout) or non-blocking
    if (lwip_connect(fd_, reinterpret_cast<sockaddr*>(&ss), sl) != 0) return errno_error("connect", refused(errno));
    return ok_status();
  }
  // A bounded connect: non-blocking connect, wait for writability, read the outcome.
  lwip_fcntl(fd_, F_SETFL, O_NONBLOCK);
  int rc = lwip_connect(fd_, reinterpret_cast<sockaddr*>(&ss), sl);
  int e = rc == 0 ? 0 : errno;
  if (rc != 0 && e == EINPROGRESS) {
    struct pollfd p {};
    p.fd = fd_;
    p.events = POLLOUT;
    const int n = lwip_poll(&p, 1, int(std::min<int64_t>(timeout_ms_, INT32_MAX)));
    if (n == 0) {
      e = ETIMEDOUT;
    } else {
      int soerr = 0;
      socklen_t ol = sizeof soerr;
      lwip_getsockopt(fd_, SOL_SOCKET, SO_ERROR, &soerr, &ol);
      e = soerr;
    }
  }
  lwip_fcntl(fd_, F_SETFL, 0);
  if (e != 0) return errno_error("connect", refused(e));
  return ok_status();
}

namespace {
// A timeout that expired surfaces from lwIP as EWOULDBLOCK; with a positive timeout set, it
// is reported as ETIMEDOUT.
int io_errno(int e, int64_t timeout_ms) { return (e == EAGAIN || e == EWOULDBLOCK) && timeout_ms > 0 ? ETIMEDOUT : e; }
}  // namespace

Result<size_t> Socket::send(ByteSpan data) {
  if (auto r = check_blocking_allowed(); !r.ok()) return r.take_error();
  const ssize_t n = lwip_send(fd_, data.data(), data.size(), 0);
  if (n < 0) return errno_error("send", io_errno(errno, timeout_ms_));
  return size_t(n);
}

Result<size_t> Socket::recv(uint8_t* buf, size_t cap) {
  if (auto r = check_blocking_allowed(); !r.ok()) return r.take_error();
  drain_event();
  const ssize_t n = lwip_recv(fd_, buf, cap, 0);
  const int e = errno;
  rearm_if_readable();
  if (n < 0) return errno_error("recv", io_errno(e, timeout_ms_));
  return size_t(n);
}

Result<size_t> Socket::sendto(ByteSpan data, const proto::InetAddress& ip, uint16_t port) {
  if (auto r = check_blocking_allowed(); !r.ok()) return r.take_error();
  {
    std::lock_guard lk(mu_);
    if (fd_ < 0) return errno_error("sendto", EBADF);
    if (auto r = ensure_netif(std::nullopt, ip); !r.ok()) return r.take_error();
  }
  socklen_t sl;
  sockaddr_storage ss = to_sa(ip, port, &sl);
  const ssize_t n = lwip_sendto(fd_, data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&ss), sl);
  if (n < 0) return errno_error("sendto", io_errno(errno, timeout_ms_));
  return size_t(n);
}

Result<size_t> Socket::recvfrom(uint8_t* buf, size_t cap, proto::InetAddress* from) {
  if (auto r = check_blocking_allowed(); !r.ok()) return r.take_error();
  drain_event();
  sockaddr_storage ss{};
  socklen_t sl = sizeof ss;
  const ssize_t n = lwip_recvfrom(fd_, buf, cap, 0, reinterpret_cast<sockaddr*>(&ss), &sl);
  const int e = errno;
  rearm_if_readable();
  if (n < 0) return errno_error("recvfrom", io_errno(e, timeout_ms_));
  if (from) {
    auto a = proto::InetAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
    if (a) *from = *a;
  }
  return size_t(n);
}

Status Socket::shutdown(int how) {
  std::lock_guard lk(mu_);
  if (fd_ < 0) return errno_error("shutdown", EBADF);
  if (lwip_shutdown(fd_, how) != 0) return errno_error("shutdown", errno);
  return ok_status();
}

Status Socket::set_timeout(int64_t ms) {
  std::lock_guard lk(mu_);
  if (fd_ < 0) return errno_error("settimeout", EBADF);
  if (ms < -1) return errno_error("settimeout", EINVAL);
  struct timeval tv {};
  if (ms > 0) {
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
  }
  lwip_setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  lwip_setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  lwip_fcntl(fd_, F_SETFL, ms == 0 ? O_NONBLOCK : 0);
  timeout_ms_ = ms;
  return ok_status();
}

Result<proto::InetAddress> Socket::local_address() {
  std::lock_guard lk(mu_);
  if (fd_ < 0) return errno_error("getsockname", EBADF);
  sockaddr_storage ss{};
  socklen_t sl = sizeof ss;
  if (lwip_getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &sl) != 0) return errno_error("getsockname", errno);
  auto a = proto::InetAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
  if (!a) return errno_error("getsockname", EAFNOSUPPORT);
  return *a;
}

Result<proto::InetAddress> Socket::peer_address() {
  std::lock_guard lk(mu_);
  if (fd_ < 0) return errno_error("getpeername", EBADF);
  sockaddr_storage ss{};
  socklen_t sl = sizeof ss;
  if (lwip_getpeername(fd_, reinterpret_cast<sockaddr*>(&ss), &sl) != 0) return errno_error("getpeername", errno);
  auto a = proto::InetAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss));
  if (!a) return errno_error("getpeername", EAFNOSUPPORT);
  return *a;
}

Result<int> Socket::poll() {
  std::lock_guard lk(mu_);
  drain_event();
  if (fd_ < 0) return POLLHUP | POLLERR;
  struct pollfd p {};
  p.fd = fd_;
  p.events = POLLIN | POLLOUT;
  if (lwip_poll(&p, 1, 0) < 0) return errno_error("poll", errno);
  return int(p.revents & (POLLIN | POLLOUT | POLLERR | POLLHUP));
}

}  // namespace zt::stack
