#include "local_http.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace zt::cli::http {

namespace {

std::string lower(std::string_view s) {
  std::string o(s);
  for (auto& c : o) c = char(std::tolower(static_cast<unsigned char>(c)));
  return o;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Strict decimal size_t; false on anything else or overflow past kMaxBody.
bool parse_length(std::string_view s, size_t& out) {
  if (s.empty() || s.size() > 10) return false;
  size_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + size_t(c - '0');
  }
  out = v;
  return true;
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(size_t(n));
  }
  return true;
}

void set_timeouts(int fd, int ms) {
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

Result<sockaddr_storage> make_addr(const std::string& ip, uint16_t port, socklen_t& len) {
  sockaddr_storage ss{};
  auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET, ip.c_str(), &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    len = sizeof(sockaddr_in);
    return ss;
  }
  if (::inet_pton(AF_INET6, ip.c_str(), &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    len = sizeof(sockaddr_in6);
    return ss;
  }
  return err("not an IP address: " + ip);
}

}  // namespace

std::string Request::header(std::string_view name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? std::string() : it->second;
}

bool url_decode(std::string_view in, std::string& out, bool plus_is_space) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;  // needs two hex digits after '%'
      int h = hexval(in[i + 1]), l = hexval(in[i + 2]);
      if (h < 0 || l < 0) return false;
      out.push_back(char(h * 16 + l));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return true;
}

Parse parse_request(std::string_view data, Request& out) {
  const size_t head_end = data.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return data.size() > kMaxHead ? Parse::Bad : Parse::Incomplete;
  if (head_end > kMaxHead) return Parse::Bad;
  std::string_view head = data.substr(0, head_end);

  // Request line: METHOD SP target SP HTTP/1.x
  const size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos || sp1 == 0) return Parse::Bad;
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (version != "HTTP/1.1" && version != "HTTP/1.0") return Parse::Bad;
  for (char c : method)
    if (c < 'A' || c > 'Z') return Parse::Bad;
  if (target.empty() || target.front() != '/') return Parse::Bad;

  Request r;
  r.method = std::string(method);
  const size_t q = target.find('?');
  if (!url_decode(target.substr(0, q), r.path, false)) return Parse::Bad;
  if (q != std::string_view::npos) {
    std::string_view qs = target.substr(q + 1);
    while (!qs.empty()) {
      const size_t amp = qs.find('&');
      std::string_view kv = qs.substr(0, amp);
      qs = amp == std::string_view::npos ? std::string_view() : qs.substr(amp + 1);
      if (kv.empty()) continue;
      const size_t eq = kv.find('=');
      std::string k, v;
      if (!url_decode(kv.substr(0, eq), k, true)) return Parse::Bad;
      if (eq != std::string_view::npos && !url_decode(kv.substr(eq + 1), v, true)) return Parse::Bad;
      r.query[k] = v;
    }
  }

  // Header lines.
  std::string_view rest = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);
  while (!rest.empty()) {
    const size_t e = rest.find("\r\n");
    std::string_view h = rest.substr(0, e);
    rest = e == std::string_view::npos ? std::string_view() : rest.substr(e + 2);
    const size_t colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0) return Parse::Bad;
    r.headers[lower(trim(h.substr(0, colon)))] = std::string(trim(h.substr(colon + 1)));
  }
  if (r.headers.count("transfer-encoding")) return Parse::Bad;

  size_t len = 0;
  if (auto it = r.headers.find("content-length"); it != r.headers.end()) {
    if (!parse_length(it->second, len) || len > kMaxBody) return Parse::Bad;
  }
  const size_t body_at = head_end + 4;
  if (data.size() < body_at + len) return Parse::Incomplete;
  r.body = std::string(data.substr(body_at, len));
  out = std::move(r);
  return Parse::Complete;
}

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

std::string serialize_response(const Response& r) {
  std::string s = "HTTP/1.1 " + std::to_string(r.status) + " " + reason_phrase(r.status) + "\r\n";
  s += "Content-Type: " + r.content_type + "\r\n";
  s += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  s += "Cache-Control: no-cache\r\nConnection: close\r\n\r\n";
  s += r.body;
  return s;
}

// ---- Server ---------------------------------------------------------------------------------

Server::~Server() { stop(); }

Result<uint16_t> Server::listen(const std::string& ip, uint16_t port) {
  socklen_t len = 0;
  auto addr = make_addr(ip, port, len);
  if (!addr.ok()) return addr.take_error();
  const int fam = addr->ss_family;
  int fd = ::socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return err(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&*addr), len) != 0 || ::listen(fd, 16) != 0) {
    std::string e = "TCP " + ip + ":" + std::to_string(port) + ": " + std::strerror(errno);
    ::close(fd);
    return err(e);
  }
  sockaddr_storage bound{};
  socklen_t bl = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bl);
  const uint16_t p = fam == AF_INET ? ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port)
                                    : ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  listen_fd_ = fd;
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  return p;
}

void Server::start(Handler handler) {
  handler_ = std::move(handler);
  thread_ = std::thread([this] { run(); });
}

void Server::stop() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
    thread_.join();
  }
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  listen_fd_ = wake_fd_ = -1;
}

void Server::run() {
  for (;;) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int k = ::poll(p, 2, -1);
    if (k < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[1].revents) return;
    if (!(p[0].revents & POLLIN)) continue;
    int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    serve_one(c);
    ::close(c);
  }
}

void Server::serve_one(int fd) {
  // A short budget per connection: the API is for local tools, not for slow networks.
  set_timeouts(fd, 3000);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::string buf;
  Request req;
  Parse st = Parse::Incomplete;
  char tmp[4096];
  while (st == Parse::Incomplete) {
    if (std::chrono::steady_clock::now() > deadline) break;
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    buf.append(tmp, size_t(n));
    st = parse_request(buf, req);
  }
  Response res;
  if (st == Parse::Complete) {
    res = handler_(req);
  } else if (st == Parse::Bad) {
    res.status = 400;
    res.body = "{\"error\":\"malformed HTTP request\"}";
  } else {
    if (buf.empty()) return;  // closed without a request (e.g. a port probe)
    res.status = 408;
    res.body = "{\"error\":\"incomplete HTTP request\"}";
  }
  send_all(fd, serialize_response(res));
  ::shutdown(fd, SHUT_WR);
}

// ---- Client ---------------------------------------------------------------------------------

Result<ClientResponse> request(const std::string& ip, uint16_t port, const std::string& method,
                               const std::string& target,
                               const std::vector<std::pair<std::string, std::string>>& headers,
                               const std::string& body, int timeout_ms) {
  socklen_t len = 0;
  auto addr = make_addr(ip, port, len);
  if (!addr.ok()) return addr.take_error();
  int fd = ::socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return err(std::string("socket: ") + std::strerror(errno));
  set_timeouts(fd, timeout_ms);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&*addr), len) != 0) {
    std::string e = std::strerror(errno);
    ::close(fd);
    return err(e);
  }
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: " + ip + ":" + std::to_string(port) + "\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "Connection: close\r\n\r\n" + body;
  if (!send_all(fd, req)) {
    std::string e = std::strerror(errno);
    ::close(fd);
    return err("send: " + e);
  }
  std::string resp;
  char tmp[4096];
  for (;;) {
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      std::string e = errno == EAGAIN ? "timed out waiting for the response" : std::strerror(errno);
      ::close(fd);
      return err(e);
    }
    if (n == 0) break;
    resp.append(tmp, size_t(n));
    if (resp.size() > kMaxBody + kMaxHead) break;
  }
  ::close(fd);

  // "HTTP/1.1 200 OK\r\n...headers...\r\n\r\nbody"; the server always closes, so the body is
  // everything after the head (trimmed to Content-Length when present).
  const size_t head_end = resp.find("\r\n\r\n");
  if (resp.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos || resp.size() < 12)
    return err("malformed HTTP response");
  ClientResponse out;
  const std::string code = resp.substr(9, 3);
  size_t n = 0;
  if (!parse_length(code, n) || code.size() != 3) return err("malformed HTTP status line");
  out.status = int(n);
  out.body = resp.substr(head_end + 4);
  const std::string head = lower(std::string_view(resp).substr(0, head_end));
  if (size_t cl = head.find("\r\ncontent-length:"); cl != std::string::npos) {
    size_t e = head.find("\r\n", cl + 2);
    size_t blen = 0;
    if (parse_length(trim(std::string_view(head).substr(cl + 17, e == std::string::npos ? std::string::npos : e - cl - 17)), blen) &&
        blen < out.body.size())
      out.body.resize(blen);
  }
  return out;
}

}  // namespace zt::cli::http
