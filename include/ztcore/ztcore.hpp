// ztcore — C++ API. Header-only, over the C ABI of ztcore/ztcore.h (link libztcore.so; any
// C++20 compiler works, nothing here depends on how the library itself was built).
//
// Shape
//   zt::Runtime     one event-loop thread (zt_runtime)
//   zt::Node        a ZeroTier node in a runtime (zt_node); callbacks are std::function
//   zt::Controller  an embedded network controller (zt_controller)
//   zt::Socket      a TCP or UDP socket on a node's userspace IP stack (zt_socket)
//   zt::Address, zt::NetworkId, zt::Mac   typed ids; operator<< and to_string() print hex
//   Diagnostics (ABI 1.3): Node::pcap_start / pcap_stop (a pcapng capture), Node::explain (how a
//   network's rules decide a frame, as zt::Explanation), Event::trace_view() (a Trace event's
//   structured record as zt::Trace)
//
// Errors
//   Every failing C call becomes a zt::Error (derived from std::runtime_error) carrying the
//   zt_result code (code()) and zt_last_error()'s message (what()). Exceptions rather than
//   std::expected (C++23) or error codes: a failure of this API is rare and means the program's
//   plan did not work (port taken, node stopped, peer reset), so it should not be ignorable;
//   where "no result yet" is normal the API says so in its type (std::optional for
//   Node::network, Socket::accept / recv on a non-blocking socket report ZT_ERR_AGAIN as an
//   Error whose code() is Result::Again — test it with Error::is(Result::Again)).
//
// Ownership
//   All four classes are move-only RAII handles. A Node (and a Socket) keeps its runtime alive:
//   destroying the Runtime object while nodes exist only drops its reference, and the loop stops
//   when the last node is gone — a node can never outlive the runtime it runs in. A node
//   created with a controller keeps that controller alive too (the C rule "the controller must
//   outlive the node" is enforced by reference counting). A Socket may outlive its Node: the C
//   library then closes it and every call throws Error(Result::State).
//
// Callbacks
//   on_event / on_frame / on_network / on_wire run on the runtime's loop thread. They must not
//   block and must not call into the same runtime (the C library refuses with ZT_ERR_STATE, so
//   such a call throws). Views handed to them (Frame::data, Event::text...) are valid only
//   during the call. The std::function objects are owned by the Node and destroyed only after
//   zt_node_free returned, which stops the node on the loop thread first: no callback runs after
//   a Node's destructor. Destroying a Node or the last Runtime reference from inside one of that
//   runtime's callbacks cannot work (the loop would have to stop itself) and terminates the
//   program with a message. A callback must not throw (the trampolines are noexcept).
#pragma once

#include <array>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ztcore/ztcore.h"

namespace zt {

// ---- Errors -----------------------------------------------------------------------------------
enum class Result : int {
  Ok = ZT_OK,
  InvalidArgument = ZT_ERR_INVALID_ARGUMENT,
  NotFound = ZT_ERR_NOT_FOUND,
  Io = ZT_ERR_IO,
  State = ZT_ERR_STATE,
  TooLarge = ZT_ERR_TOO_LARGE,
  Internal = ZT_ERR_INTERNAL,
  Again = ZT_ERR_AGAIN,
  ConnRefused = ZT_ERR_CONN_REFUSED,
  ConnReset = ZT_ERR_CONN_RESET,
  NotConnected = ZT_ERR_NOT_CONNECTED,
  AddrInUse = ZT_ERR_ADDR_IN_USE,
  Timeout = ZT_ERR_TIMEOUT,
  Unreachable = ZT_ERR_UNREACHABLE,
};

class Error : public std::runtime_error {
 public:
  Error(Result code, const std::string& message)
      : std::runtime_error(message.empty() ? "ztcore error " + std::to_string(static_cast<int>(code)) : message),
        code_(code) {}
  Result code() const noexcept { return code_; }
  bool is(Result r) const noexcept { return code_ == r; }

 private:
  Result code_;
};

namespace detail {
inline void check(zt_result r) {
  if (r != ZT_OK) {
    const char* m = zt_last_error();
    throw Error(static_cast<Result>(r), m ? m : "");
  }
}

inline std::string hex(uint64_t v, int digits) {
  char b[24];
  std::snprintf(b, sizeof b, "%0*llx", digits, static_cast<unsigned long long>(v));
  return b;
}

// Parses up to 16 hex digits; throws Error(InvalidArgument) otherwise.
inline uint64_t parse_hex(std::string_view s, size_t max_digits, const char* what) {
  if (s.empty() || s.size() > max_digits) throw Error(Result::InvalidArgument, std::string("bad ") + what);
  uint64_t v = 0;
  for (char c : s) {
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) throw Error(Result::InvalidArgument, std::string("bad ") + what);
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  return v;
}

// Set while a callback of runtime `current_runtime` runs on this thread (see ~Node).
inline thread_local const zt_runtime* current_runtime = nullptr;
struct InCallback {
  const zt_runtime* saved;
  explicit InCallback(const zt_runtime* rt) : saved(current_runtime) { current_runtime = rt; }
  ~InCallback() { current_runtime = saved; }
};
[[noreturn]] inline void fatal(const char* what) {
  std::fprintf(stderr, "ztcore: %s\n", what);
  std::abort();
}

inline std::string cstr(const char* s, size_t cap) {
  size_t n = 0;
  while (n < cap && s[n]) ++n;
  return std::string(s, n);
}
}  // namespace detail

// ---- Typed ids ----------------------------------------------------------------------------------
// A 40-bit ZeroTier node address; prints as 10 hex digits.
struct Address {
  uint64_t value = 0;
  constexpr Address() = default;
  constexpr explicit Address(uint64_t v) : value(v & 0xffffffffffULL) {}
  static Address parse(std::string_view s) { return Address(detail::parse_hex(s, 10, "address")); }
  std::string to_string() const { return detail::hex(value, 10); }
  constexpr explicit operator bool() const { return value != 0; }
  friend constexpr auto operator<=>(const Address&, const Address&) = default;
};

// A 64-bit network id; prints as 16 hex digits. The controller's address is its top 40 bits.
struct NetworkId {
  uint64_t value = 0;
  constexpr NetworkId() = default;
  constexpr explicit NetworkId(uint64_t v) : value(v) {}
  // Network number `n` (24 bits) of the controller at `controller`.
  static constexpr NetworkId of(Address controller, uint32_t n) {
    return NetworkId((controller.value << 24) | (n & 0xffffffu));
  }
  static NetworkId parse(std::string_view s) { return NetworkId(detail::parse_hex(s, 16, "network id")); }
  constexpr Address controller() const { return Address(value >> 24); }
  std::string to_string() const { return detail::hex(value, 16); }
  friend constexpr auto operator<=>(const NetworkId&, const NetworkId&) = default;
};

// A 48-bit Ethernet MAC; prints as 02:11:22:33:44:55.
struct Mac {
  uint64_t value = 0;
  constexpr Mac() = default;
  constexpr explicit Mac(uint64_t v) : value(v & 0xffffffffffffULL) {}
  static constexpr Mac broadcast() { return Mac(0xffffffffffffULL); }
  // The MAC a node with `address` has on network `nwid`.
  static Mac of(Address address, NetworkId nwid) { return Mac(zt_network_mac(address.value, nwid.value)); }
  constexpr bool is_broadcast() const { return value == 0xffffffffffffULL; }
  constexpr bool is_multicast() const { return (value >> 40) & 1; }
  std::string to_string() const {
    char b[18];
    std::snprintf(b, sizeof b, "%02x:%02x:%02x:%02x:%02x:%02x", unsigned(value >> 40 & 0xff), unsigned(value >> 32 & 0xff),
                  unsigned(value >> 24 & 0xff), unsigned(value >> 16 & 0xff), unsigned(value >> 8 & 0xff),
                  unsigned(value & 0xff));
    return b;
  }
  friend constexpr auto operator<=>(const Mac&, const Mac&) = default;
};

inline std::ostream& operator<<(std::ostream& o, Address a) { return o << a.to_string(); }
inline std::ostream& operator<<(std::ostream& o, NetworkId n) { return o << n.to_string(); }
inline std::ostream& operator<<(std::ostream& o, Mac m) { return o << m.to_string(); }

inline std::string version() { return zt_version(); }

// ---- Identities and worlds ----------------------------------------------------------------------
// A new identity's secret text form.
inline std::string generate_identity() {
  std::array<char, 512> b{};
  detail::check(zt_identity_generate(b.data(), b.size()));
  return b.data();
}
// Validates an identity text (public or secret); returns its address.
inline Address validate_identity(const std::string& text) {
  uint64_t a = 0;
  detail::check(zt_identity_validate(text.c_str(), &a));
  return Address(a);
}
// A signed planet with one root (`root_identity`, secret form) at `endpoints` ("127.0.0.1/9993").
inline std::vector<uint8_t> make_planet(uint64_t id, uint64_t timestamp_ms, const std::string& root_identity,
                                        const std::string& endpoints) {
  std::vector<uint8_t> out(4096);
  size_t len = 0;
  zt_result r = zt_planet_make(id, timestamp_ms, root_identity.c_str(), endpoints.c_str(), out.data(), out.size(), &len);
  if (r == ZT_ERR_TOO_LARGE && len > out.size()) {
    out.resize(len);
    r = zt_planet_make(id, timestamp_ms, root_identity.c_str(), endpoints.c_str(), out.data(), out.size(), &len);
  }
  detail::check(r);
  out.resize(len);
  return out;
}

// ---- Callback payloads --------------------------------------------------------------------------
enum class EventType : int {
  Up = ZT_EVENT_UP,
  Offline = ZT_EVENT_OFFLINE,
  Online = ZT_EVENT_ONLINE,
  Down = ZT_EVENT_DOWN,
  IdentityCollision = ZT_EVENT_IDENTITY_COLLISION,
  Trace = ZT_EVENT_TRACE,
  UserMessage = ZT_EVENT_USER_MESSAGE,
  RemoteTrace = ZT_EVENT_REMOTE_TRACE,
  PeerDirect = ZT_EVENT_PEER_DIRECT,
};

// The structured record of a Trace event (ABI 1.3, docs/TRACES.md): zt_trace with typed ids.
// A view: the strings and the frame are valid only during the callback (copy what you keep).
// Frame fields are 0 / empty when the trace is not about a frame, IP fields when it is not IP.
struct Trace {
  uint32_t code = 0;  // PROTOCOL.md §15 (2006 filter trace, 2000 outgoing frame dropped...) or >= 9000
  NetworkId nwid;     // 0: not about a network
  Address peer;       // the remote node, or 0
  Mac src_mac, dst_mac;
  uint16_t ethertype = 0, vlan = 0;
  uint32_t frame_len = 0;  // Ethernet payload length
  int ip_version = 0;      // 4, 6, or 0 (not IP)
  std::string_view src_ip, dst_ip;  // "10.0.0.1", "fd00::1"
  uint8_t ip_protocol = 0;
  uint16_t src_port = 0, dst_port = 0;
  bool inbound = false;               // received (else sent)
  std::optional<int> rule;            // index of the rule that decided (2006), nullopt: none
  std::string_view action;            // "DROP", "ACCEPT", "TEE", "REDIRECT"..., or ""
  std::optional<uint32_t> capability; // the capability whose rule decided
  std::string_view reason;            // "rule 2 DROP", "not a bridge", ...
  std::span<const uint8_t> frame;     // the first <= 256 bytes of the Ethernet payload

  Trace() = default;
  explicit Trace(const zt_trace& t)
      : code(t.code), nwid(t.nwid), peer(t.peer), src_mac(t.src_mac), dst_mac(t.dst_mac), ethertype(t.ethertype),
        vlan(t.vlan), frame_len(t.frame_len), ip_version(t.ip_version), src_ip(view(t.src_ip, sizeof t.src_ip)),
        dst_ip(view(t.dst_ip, sizeof t.dst_ip)), ip_protocol(t.ip_protocol), src_port(t.src_port),
        dst_port(t.dst_port), inbound(t.inbound != 0), action(t.action ? t.action : ""),
        reason(t.reason ? t.reason : ""), frame(t.frame, t.frame ? t.frame_captured : 0) {
    if (t.rule >= 0) rule = t.rule;
    if (t.has_capability) capability = t.capability;
  }
  // The code's name ("NETWORK_FILTER_TRACE"...), "UNKNOWN" for a code the library does not know.
  std::string_view name() const { return zt_trace_code_name(code); }

 private:
  static std::string_view view(const char* s, size_t cap) {
    size_t n = 0;
    while (n < cap && s[n]) ++n;
    return {s, n};
  }
};

// Views are valid only during the callback.
struct Event {
  EventType type;
  Address peer;
  uint64_t type_id;
  std::span<const uint8_t> data;
  std::string_view text;
  // EventType::Trace: the structured record (ABI 1.3, docs/TRACES.md), valid during the
  // callback; nullptr otherwise. trace_view() is the same record typed.
  const zt_trace* trace = nullptr;
  std::optional<Trace> trace_view() const {
    if (!trace) return std::nullopt;
    return Trace(*trace);
  }
};

struct Frame {
  NetworkId nwid;
  Mac src, dst;
  uint16_t ethertype;
  uint16_t vlan;
  std::span<const uint8_t> data;  // payload after the Ethernet header
  std::string_view text() const { return {reinterpret_cast<const char*>(data.data()), data.size()}; }
};

struct Wire {
  bool sent;            // false: received
  std::string_view remote;  // "ip/port"
  int64_t time_ms;
  std::span<const uint8_t> data;
};

enum class NetworkStatus : int {
  RequestingConfiguration = ZT_NETWORK_REQUESTING_CONFIGURATION,
  Ok = ZT_NETWORK_OK,
  AccessDenied = ZT_NETWORK_ACCESS_DENIED,
  NotFound = ZT_NETWORK_NOT_FOUND,
  PortError = ZT_NETWORK_PORT_ERROR,
  ClientTooOld = ZT_NETWORK_CLIENT_TOO_OLD,
  AuthenticationRequired = ZT_NETWORK_AUTHENTICATION_REQUIRED,
};
enum class NetworkOp : int {
  Up = ZT_NETWORK_OP_UP,
  ConfigUpdate = ZT_NETWORK_OP_CONFIG_UPDATE,
  Down = ZT_NETWORK_OP_DOWN,
  Destroy = ZT_NETWORK_OP_DESTROY,
};

struct Route {
  std::string target, via;
  uint16_t flags, metric;
};
struct MulticastGroup {
  Mac mac;
  uint32_t adi;
};

struct NetworkInfo {
  NetworkId nwid;
  Mac mac;
  std::string name;
  NetworkStatus status;
  std::string status_name;
  bool has_config, is_public, broadcast;
  unsigned mtu, multicast_limit;
  uint64_t revision;
  std::vector<std::string> addresses;  // "ip/bits"
  std::vector<Route> routes;
  std::vector<MulticastGroup> subscriptions;

  NetworkInfo() = default;
  explicit NetworkInfo(const zt_network_info& i)
      : nwid(i.nwid), mac(i.mac), name(detail::cstr(i.name, sizeof i.name)), status(static_cast<NetworkStatus>(i.status)),
        status_name(i.status_name ? i.status_name : ""), has_config(i.has_config != 0), is_public(i.is_public != 0),
        broadcast(i.broadcast != 0), mtu(i.mtu), multicast_limit(i.multicast_limit), revision(i.revision) {
    for (unsigned k = 0; k < i.address_count && k < ZT_MAX_NETWORK_ADDRESSES; ++k)
      addresses.push_back(detail::cstr(i.addresses[k], sizeof i.addresses[k]));
    for (unsigned k = 0; k < i.route_count && k < ZT_MAX_NETWORK_ROUTES; ++k)
      routes.push_back({detail::cstr(i.routes[k].target, sizeof i.routes[k].target),
                        detail::cstr(i.routes[k].via, sizeof i.routes[k].via), i.routes[k].flags, i.routes[k].metric});
    for (unsigned k = 0; k < i.subscription_count && k < ZT_MAX_NETWORK_SUBSCRIPTIONS; ++k)
      subscriptions.push_back({Mac(i.subscriptions[k].mac), i.subscriptions[k].adi});
  }
  // The first assigned address of a family without its "/bits" (4 or 6), or "" if none.
  std::string ip(int family = 4) const {
    for (const auto& a : addresses) {
      bool v6 = a.find(':') != std::string::npos;
      if (v6 == (family == 6)) return a.substr(0, a.find('/'));
    }
    return {};
  }
};

struct Path {
  std::string address;  // "ip/port"
  int64_t last_send, last_receive;
  bool alive, preferred;
};
struct Peer {
  Address address;
  zt_peer_role role;
  int latency_ms;
  int version_major, version_minor, version_revision, protocol_version;
  bool direct;
  std::vector<Path> paths;
};

struct NodeStatus {
  Address address;
  bool online;
  uint16_t port;
  uint64_t planet_id, planet_timestamp;
  std::string public_identity;
};

using Counters = zt_counters;

// How a network's rules decide a frame (Node::explain, zt_node_explain). The members below are
// the top level of the library's JSON; `json` is the whole line, with "rules": one object per
// rule of the base list and of each capability evaluated (capability, index, text, type,
// action, reached, evaluated, match, state, decided, detail; docs/RULES.md) for a JSON library.
struct Explanation {
  std::string verdict;                 // "accept", "drop", "super-accept" or "redirect"
  std::optional<int> rule;             // index of the deciding rule in its list; nullopt: none matched
  std::optional<uint32_t> capability;  // the capability whose rules decided; nullopt: the base rules
  std::string reason;                  // one line in words: "rule 2 DROP: ...", "no rule matched: default DROP"
  std::optional<Address> redirect_to;  // verdict "redirect" only
  std::string json;

  bool accepted() const { return verdict == "accept" || verdict == "super-accept"; }
};

namespace detail {
// Reads the top level of zt_node_explain's JSON object (strings, integers, null; nested values are
// skipped), enough for Explanation's members. Not a general JSON parser: false on anything odd.
class JsonTop {
 public:
  explicit JsonTop(std::string_view s) : s_(s) {}

  bool explanation(Explanation& x) {
    if (!eat('{')) return false;
    if (eat('}')) return at_end();
    for (;;) {
      std::string key;
      if (!string(key) || !eat(':')) return false;
      bool ok;
      if (key == "verdict") {
        ok = string(x.verdict);
      } else if (key == "reason") {
        ok = string(x.reason);
      } else if (key == "redirect_to") {
        std::string a;
        ok = null() || (string(a) && parse_address(a, x.redirect_to));
      } else if (key == "rule") {
        ok = null() || integer(x.rule);
      } else if (key == "capability") {
        ok = null() || integer(x.capability);
      } else {
        ok = skip(0);
      }
      if (!ok) return false;
      if (eat(',')) continue;
      return eat('}') && at_end();
    }
  }

 private:
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool eat(char c) {
    ws();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool at_end() {
    ws();
    return i_ == s_.size();
  }
  bool null() {
    ws();
    if (s_.substr(i_, 4) != "null") return false;
    i_ += 4;
    return true;
  }
  template <class T>
  bool integer(std::optional<T>& out) {
    ws();
    T v{};
    auto [end, ec] = std::from_chars(s_.data() + i_, s_.data() + s_.size(), v);
    if (ec != std::errc() || end == s_.data() + i_) return false;
    i_ = static_cast<size_t>(end - s_.data());
    out = v;
    return true;
  }
  static bool parse_address(const std::string& s, std::optional<Address>& out) {
    try {
      out = Address(parse_hex(s, 10, "address"));
      return true;
    } catch (const Error&) {
      return false;
    }
  }
  static void utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | cp >> 6);
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | cp >> 12);
      out += static_cast<char>(0x80 | (cp >> 6 & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | cp >> 18);
      out += static_cast<char>(0x80 | (cp >> 12 & 0x3f));
      out += static_cast<char>(0x80 | (cp >> 6 & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }
  bool hex4(uint32_t& v) {
    if (s_.size() - i_ < 4) return false;
    v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = s_[i_++];
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) return false;
      v = v << 4 | static_cast<uint32_t>(d);
    }
    return true;
  }
  // A JSON string, unescaped into out.
  bool string(std::string& out) {
    if (!eat('"')) return false;
    out.clear();
    while (i_ < s_.size()) {
      char c = s_[i_++];
      if (c == '"') return true;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ == s_.size()) return false;
      switch (char e = s_[i_++]) {
        case '"': case '\\': case '/': out += e; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp;
          if (!hex4(cp)) return false;
          if (cp >= 0xd800 && cp < 0xdc00) {  // a surrogate pair
            uint32_t lo;
            if (s_.substr(i_, 2) != "\\u") return false;
            i_ += 2;
            if (!hex4(lo) || lo < 0xdc00 || lo > 0xdfff) return false;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          }
          utf8(out, cp);
          break;
        }
        default: return false;
      }
    }
    return false;
  }
  // Any value (nested containers up to a sane depth).
  bool skip(int depth) {
    ws();
    if (i_ == s_.size() || depth > 64) return false;
    const char c = s_[i_];
    if (c == '"') {
      std::string ignored;
      return string(ignored);
    }
    if (c == '{' || c == '[') {
      ++i_;
      const char close = c == '{' ? '}' : ']';
      if (eat(close)) return true;
      for (;;) {
        std::string key;
        if (c == '{' && (!string(key) || !eat(':'))) return false;
        if (!skip(depth + 1)) return false;
        if (eat(',')) continue;
        return eat(close);
      }
    }
    const size_t start = i_;  // number, true, false, null
    while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '-' || s_[i_] == '+' || s_[i_] == '.'))
      ++i_;
    return i_ > start;
  }

  std::string_view s_;
  size_t i_ = 0;
};
}  // namespace detail

// ---- Controller ---------------------------------------------------------------------------------
class Controller {
 public:
  struct Response {
    int status;        // HTTP status (200, 400, 404, ...)
    std::string body;  // JSON
  };

  // db_path: SQLite file (created if missing); empty: in memory.
  explicit Controller(const std::string& db_path = {}) {
    zt_controller* c = nullptr;
    detail::check(zt_controller_new(db_path.empty() ? nullptr : db_path.c_str(), &c));
    h_.reset(c, zt_controller_free);
  }

  // zerotier-one's controller API without HTTP: request("POST", "/controller/network/<nwid>", "{...}").
  // A GET whose answer does not fit the first buffer is repeated with the needed size; any other
  // method is carried out once (the C rule) and a too large answer throws Error(TooLarge).
  Response request(std::string_view method, std::string_view path, std::string_view body = {}) const {
    const std::string m(method), p(path), b(body);
    std::string out(64 * 1024, '\0');
    for (int attempt = 0;; ++attempt) {
      size_t len = 0;
      int status = 0;
      zt_result r = zt_controller_request(h_.get(), m.c_str(), p.c_str(), body.empty() ? nullptr : b.c_str(), out.data(),
                                          out.size(), &len, &status);
      if (r == ZT_ERR_TOO_LARGE && m == "GET" && attempt == 0 && len > out.size()) {
        out.assign(len, '\0');
        continue;
      }
      detail::check(r);
      out.resize(len ? len - 1 : 0);
      return {status, std::move(out)};
    }
  }
  // request() that throws Error(InvalidArgument) unless the status is 200.
  std::string request_ok(std::string_view method, std::string_view path, std::string_view body = {}) const {
    auto r = request(method, path, body);
    if (r.status != 200)
      throw Error(Result::InvalidArgument, std::string(method) + " " + std::string(path) + ": HTTP " +
                                               std::to_string(r.status) + " " + r.body);
    return std::move(r.body);
  }
  // POST /controller/network/<nwid>/member/<address> {"authorized":true}
  void authorize(NetworkId nwid, Address member) const {
    request_ok("POST", "/controller/network/" + nwid.to_string() + "/member/" + member.to_string(), R"({"authorized":true})");
  }

  zt_controller* handle() const { return h_.get(); }

 private:
  friend class Node;
  std::shared_ptr<zt_controller> h_;
};

// ---- Runtime ------------------------------------------------------------------------------------
class Runtime {
 public:
  Runtime() {
    zt_runtime* rt = nullptr;
    detail::check(zt_runtime_new(&rt));
    h_.reset(rt, [](zt_runtime* r) {
      if (detail::current_runtime == r) detail::fatal("a Runtime was destroyed inside one of its own callbacks");
      zt_runtime_free(r);
    });
  }
  Runtime(Runtime&&) noexcept = default;
  Runtime& operator=(Runtime&&) noexcept = default;
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  zt_runtime* handle() const { return h_.get(); }
  // Nodes and sockets holding this runtime, plus this object (diagnostics).
  long use_count() const { return h_.use_count(); }

 private:
  friend class Node;
  std::shared_ptr<zt_runtime> h_;
};

// ---- Node ---------------------------------------------------------------------------------------
struct NodeOptions {
  std::string home;           // state directory; empty: in memory
  uint16_t port = 0;          // UDP port; 0 = any free port
  std::string bind;           // "127.0.0.1,::1"; empty: all
  std::vector<uint8_t> planet;  // planet world bytes (make_planet), or empty
  std::string planet_file;    // or a planet file
  std::string identity;       // secret identity text; empty: load from home or generate
  bool allow_loopback = false;
  std::chrono::milliseconds online_timeout{0};
  std::vector<NetworkId> join;
  Controller* controller = nullptr;  // serve this controller's networks (kept alive by the node)
  bool stack = false;         // a userspace TCP/IP stack on each joined network (for Socket)

  std::function<void(const Event&)> on_event;
  std::function<void(const Frame&)> on_frame;
  std::function<void(NetworkOp, const NetworkInfo&)> on_network;
  std::function<void(const Wire&)> on_wire;
};

class Socket;

class Node {
 public:
  Node(Runtime& rt, NodeOptions opts) : rt_(rt.h_), cb_(std::make_unique<Callbacks>()) {
    cb_->rt = rt_.get();
    cb_->on_event = std::move(opts.on_event);
    cb_->on_frame = std::move(opts.on_frame);
    cb_->on_network = std::move(opts.on_network);
    cb_->on_wire = std::move(opts.on_wire);
    zt_node_options o;
    zt_node_options_init(&o);
    o.home = opts.home.empty() ? nullptr : opts.home.c_str();
    o.port = opts.port;
    o.bind = opts.bind.empty() ? nullptr : opts.bind.c_str();
    o.planet = opts.planet.empty() ? nullptr : opts.planet.data();
    o.planet_len = opts.planet.size();
    o.planet_file = opts.planet_file.empty() ? nullptr : opts.planet_file.c_str();
    o.identity = opts.identity.empty() ? nullptr : opts.identity.c_str();
    o.allow_loopback = opts.allow_loopback;
    o.online_timeout_ms = opts.online_timeout.count();
    o.user = cb_.get();
    o.on_event = cb_->on_event ? &Node::event_tramp : nullptr;
    o.on_frame = cb_->on_frame ? &Node::frame_tramp : nullptr;
    o.on_network = cb_->on_network ? &Node::network_tramp : nullptr;
    o.on_wire = cb_->on_wire ? &Node::wire_tramp : nullptr;
    std::vector<uint64_t> join;
    for (auto n : opts.join) join.push_back(n.value);
    o.join = join.empty() ? nullptr : join.data();
    o.join_count = join.size();
    if (opts.controller) {
      ctl_ = opts.controller->h_;
      o.controller = ctl_.get();
    }
    o.stack = opts.stack;
    zt_node* n = nullptr;
    detail::check(zt_node_new(rt_.get(), &o, &n));
    n_ = n;
  }
  Node(Node&& o) noexcept
      : rt_(std::move(o.rt_)), ctl_(std::move(o.ctl_)), cb_(std::move(o.cb_)), n_(std::exchange(o.n_, nullptr)) {}
  Node& operator=(Node&& o) noexcept {
    if (this != &o) {
      reset();
      rt_ = std::move(o.rt_);
      ctl_ = std::move(o.ctl_);
      cb_ = std::move(o.cb_);
      n_ = std::exchange(o.n_, nullptr);
    }
    return *this;
  }
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  ~Node() { reset(); }

  // Stops and frees the node now (also what the destructor does); the object is then empty.
  void reset() noexcept {
    if (!n_) return;
    if (detail::current_runtime == rt_.get()) detail::fatal("a Node was destroyed inside a callback of its runtime");
    zt_node_free(n_);  // stops the node on the loop thread: no callback after this returns
    n_ = nullptr;
    cb_.reset();
    ctl_.reset();  // the controller may go now, then the runtime
    rt_.reset();
  }
  explicit operator bool() const { return n_ != nullptr; }
  zt_node* handle() const { return n_; }

  Address address() const { return Address(zt_node_address(live())); }
  NodeStatus status() const {
    zt_node_status s{};
    detail::check(zt_node_status_get(live(), &s));
    return {Address(s.address), s.online != 0, s.port, s.planet_id, s.planet_timestamp,
            detail::cstr(s.public_identity, sizeof s.public_identity)};
  }
  bool online() const { return status().online; }
  uint16_t port() const { return status().port; }
  // This node's MAC on a network.
  Mac mac(NetworkId nwid) const { return Mac::of(address(), nwid); }

  std::vector<Peer> peers() const {
    std::vector<zt_peer> buf(16);
    size_t count = 0;
    for (;;) {
      detail::check(zt_node_peers(live(), buf.data(), buf.size(), &count));
      if (count <= buf.size()) break;
      buf.resize(count + 8);
    }
    std::vector<Peer> out;
    for (size_t k = 0; k < count; ++k) {
      const zt_peer& p = buf[k];
      Peer q{Address(p.address), static_cast<zt_peer_role>(p.role), p.latency_ms, p.version_major, p.version_minor,
             p.version_revision, p.protocol_version, p.direct != 0, {}};
      for (unsigned i = 0; i < p.path_count && i < ZT_MAX_PEER_PATHS; ++i)
        q.paths.push_back({detail::cstr(p.paths[i].address, sizeof p.paths[i].address), p.paths[i].last_send,
                           p.paths[i].last_receive, p.paths[i].alive != 0, p.paths[i].preferred != 0});
      out.push_back(std::move(q));
    }
    return out;
  }
  Counters counters() const {
    Counters c{};
    detail::check(zt_node_counters(live(), &c));
    return c;
  }

  void orbit(uint64_t moon_id, uint64_t seed = 0) { detail::check(zt_node_orbit(live(), moon_id, seed)); }
  void deorbit(uint64_t moon_id) { detail::check(zt_node_deorbit(live(), moon_id)); }
  void send_user_message(Address dest, uint64_t type_id, std::span<const uint8_t> data) {
    detail::check(zt_node_send_user_message(live(), dest.value, type_id, data.data(), data.size()));
  }
  void send_user_message(Address dest, uint64_t type_id, std::string_view data) {
    send_user_message(dest, type_id, as_bytes(data));
  }
  void ping(Address dest) { detail::check(zt_node_ping(live(), dest.value)); }
  // Packet capture into a pcapng file (see zt_node_pcap_start); throws zt::Error (ZT_ERR_IO
  // for a file that cannot be created).
  void pcap_start(const std::string& path) { detail::check(zt_node_pcap_start(live(), path.c_str())); }
  void pcap_stop() { detail::check(zt_node_pcap_stop(live())); }
  // How the rules of joined network `nwid` decide `frame` (a whole Ethernet frame, header first),
  // against this node's current config and what it holds of the peer's credentials; nothing is
  // sent. inbound false: this node sends it to `peer`; true: `peer` sent it here. peer {} = the
  // member whose MAC the frame carries. Throws Error: NotFound (not joined), State (no config
  // yet), InvalidArgument (frame shorter than its header, peer = this node).
  Explanation explain(NetworkId nwid, std::span<const uint8_t> frame, bool inbound = false, Address peer = {}) const {
    std::string out(4096, '\0');
    for (int attempt = 0;; ++attempt) {
      size_t len = 0;
      zt_result r = zt_node_explain(live(), nwid.value, frame.data(), frame.size(), inbound ? 1 : 0, peer.value,
                                    out.data(), out.size(), &len);
      if (r == ZT_ERR_TOO_LARGE && len > out.size() && attempt < 3) {  // the config may grow meanwhile
        out.assign(len, '\0');
        continue;
      }
      detail::check(r);
      out.resize(len ? len - 1 : 0);
      Explanation x;
      if (!detail::JsonTop(out).explanation(x) || x.verdict.empty())
        throw Error(Result::Internal, "ztcore: unexpected zt_node_explain output: " + out);
      x.json = std::move(out);
      return x;
    }
  }

  void join(NetworkId nwid) { detail::check(zt_node_join(live(), nwid.value)); }
  void leave(NetworkId nwid) { detail::check(zt_node_leave(live(), nwid.value)); }
  std::vector<NetworkInfo> networks() const {
    std::vector<zt_network_info> buf(4);
    size_t count = 0;
    for (;;) {
      detail::check(zt_node_networks(live(), buf.data(), buf.size(), &count));
      if (count <= buf.size()) break;
      buf.resize(count + 4);
    }
    std::vector<NetworkInfo> out;
    for (size_t k = 0; k < count; ++k) out.emplace_back(buf[k]);
    return out;
  }
  // The joined network, or nullopt if not joined.
  std::optional<NetworkInfo> network(NetworkId nwid) const {
    auto info = std::make_unique<zt_network_info>();
    zt_result r = zt_node_network(live(), nwid.value, info.get());
    if (r == ZT_ERR_NOT_FOUND) return std::nullopt;
    detail::check(r);
    return NetworkInfo(*info);
  }
  // An Ethernet frame from this node's own MAC (see zt_node_send_frame for the rules).
  void send_frame(NetworkId nwid, Mac dst, uint16_t ethertype, std::span<const uint8_t> data, uint16_t vlan = 0) {
    send_frame(nwid, mac(nwid), dst, ethertype, data, vlan);
  }
  void send_frame(NetworkId nwid, Mac dst, uint16_t ethertype, std::string_view data, uint16_t vlan = 0) {
    send_frame(nwid, dst, ethertype, as_bytes(data), vlan);
  }
  void send_frame(NetworkId nwid, Mac src, Mac dst, uint16_t ethertype, std::span<const uint8_t> data, uint16_t vlan = 0) {
    detail::check(zt_node_send_frame(live(), nwid.value, src.value, dst.value, ethertype, vlan, data.data(), data.size()));
  }
  void multicast_subscribe(NetworkId nwid, Mac mac, uint32_t adi = 0) {
    detail::check(zt_node_multicast_subscribe(live(), nwid.value, mac.value, adi));
  }
  void multicast_unsubscribe(NetworkId nwid, Mac mac, uint32_t adi = 0) {
    detail::check(zt_node_multicast_unsubscribe(live(), nwid.value, mac.value, adi));
  }

 private:
  friend class Socket;
  struct Callbacks {
    const zt_runtime* rt = nullptr;
    std::function<void(const Event&)> on_event;
    std::function<void(const Frame&)> on_frame;
    std::function<void(NetworkOp, const NetworkInfo&)> on_network;
    std::function<void(const Wire&)> on_wire;
  };

  static std::span<const uint8_t> as_bytes(std::string_view s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
  }
  zt_node* live() const {
    if (!n_) throw Error(Result::State, "ztcore: empty Node (moved from or reset)");
    return n_;
  }

  static void event_tramp(zt_node*, void* user, const zt_event* e) noexcept {
    auto* cb = static_cast<Callbacks*>(user);
    detail::InCallback in(cb->rt);
    cb->on_event(Event{static_cast<EventType>(e->type), Address(e->peer), e->type_id,
                       {e->data, e->data ? e->len : 0}, e->text ? std::string_view(e->text) : std::string_view(),
                       e->trace});
  }
  static void frame_tramp(zt_node*, void* user, const zt_frame* f) noexcept {
    auto* cb = static_cast<Callbacks*>(user);
    detail::InCallback in(cb->rt);
    cb->on_frame(Frame{NetworkId(f->nwid), Mac(f->src_mac), Mac(f->dst_mac), f->ethertype, f->vlan,
                       {f->data, f->data ? f->len : 0}});
  }
  static void network_tramp(zt_node*, void* user, int op, const zt_network_info* info) noexcept {
    auto* cb = static_cast<Callbacks*>(user);
    if (!info) return;
    detail::InCallback in(cb->rt);
    cb->on_network(static_cast<NetworkOp>(op), NetworkInfo(*info));
  }
  static void wire_tramp(zt_node*, void* user, const zt_wire* w) noexcept {
    auto* cb = static_cast<Callbacks*>(user);
    detail::InCallback in(cb->rt);
    cb->on_wire(Wire{w->direction == ZT_WIRE_SENT, std::string_view(w->remote), w->time_ms, {w->data, w->data ? w->len : 0}});
  }

  // Declaration order = destruction order in reverse; reset() frees explicitly in the safe order.
  std::shared_ptr<zt_runtime> rt_;
  std::shared_ptr<zt_controller> ctl_;
  std::unique_ptr<Callbacks> cb_;
  zt_node* n_ = nullptr;
};

// ---- Sockets ------------------------------------------------------------------------------------
// A socket on a node's userspace IP stack (NodeOptions::stack = true), shaped like BSD sockets.
// Blocking by default; set_timeout(0ms) makes it non-blocking (calls that would block throw
// Error(Result::Again)), a positive timeout bounds each call (Error(Result::Timeout)).
// One thread per direction; never call a blocking socket function from a node callback.
enum class Family : int { V4 = ZT_AF_INET, V6 = ZT_AF_INET6 };

struct Endpoint {
  std::string ip;
  uint16_t port = 0;
  std::string to_string() const {
    return (ip.find(':') != std::string::npos ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
  }
};
inline std::ostream& operator<<(std::ostream& o, const Endpoint& e) { return o << e.to_string(); }

class Socket {
 public:
  Socket() = default;
  static Socket tcp(Node& node, Family f = Family::V4) { return Socket(node, f, ZT_SOCK_STREAM); }
  static Socket udp(Node& node, Family f = Family::V4) { return Socket(node, f, ZT_SOCK_DGRAM); }

  Socket(Socket&& o) noexcept : rt_(std::move(o.rt_)), s_(std::exchange(o.s_, nullptr)) {}
  Socket& operator=(Socket&& o) noexcept {
    if (this != &o) {
      close();
      rt_ = std::move(o.rt_);
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() { close(); }

  void close() noexcept {
    if (s_) zt_socket_close(s_);
    s_ = nullptr;
    rt_.reset();
  }
  explicit operator bool() const { return s_ != nullptr; }
  zt_socket* handle() const { return s_; }

  // ip empty: any address of the node's first network of the socket's family.
  void bind(std::string_view ip, uint16_t port) {
    const std::string i(ip);
    detail::check(zt_socket_bind(live(), i.c_str(), port));
  }
  void listen(int backlog = 16) { detail::check(zt_socket_listen(live(), backlog)); }
  // The accepted connection and its peer.
  std::pair<Socket, Endpoint> accept() {
    char ip[64] = "";
    uint16_t port = 0;
    zt_socket* c = nullptr;
    detail::check(zt_socket_accept(live(), &c, ip, sizeof ip, &port));
    Socket s;
    s.s_ = c;
    s.rt_ = rt_;
    return {std::move(s), Endpoint{ip, port}};
  }
  void connect(std::string_view ip, uint16_t port) {
    const std::string i(ip);
    detail::check(zt_socket_connect(live(), i.c_str(), port));
  }
  // Bytes taken (may be fewer than data.size()).
  size_t send(std::span<const uint8_t> data) {
    size_t n = 0;
    detail::check(zt_socket_send(live(), data.data(), data.size(), &n));
    return n;
  }
  size_t send(std::string_view data) { return send(bytes(data)); }
  // Sends everything (repeating partial writes).
  void send_all(std::span<const uint8_t> data) {
    while (!data.empty()) data = data.subspan(send(data));
  }
  void send_all(std::string_view data) { send_all(bytes(data)); }
  // Bytes received into buf; 0 means end of stream.
  size_t recv(std::span<uint8_t> buf) {
    size_t n = 0;
    detail::check(zt_socket_recv(live(), buf.data(), buf.size(), &n));
    return n;
  }
  // Up to max bytes as a string; "" means end of stream.
  std::string recv(size_t max = 65536) {
    std::string b(max, '\0');
    b.resize(recv(std::span<uint8_t>(reinterpret_cast<uint8_t*>(b.data()), b.size())));
    return b;
  }
  void sendto(std::span<const uint8_t> data, std::string_view ip, uint16_t port) {
    const std::string i(ip);
    detail::check(zt_socket_sendto(live(), data.data(), data.size(), i.c_str(), port));
  }
  void sendto(std::string_view data, std::string_view ip, uint16_t port) { sendto(bytes(data), ip, port); }
  // Datagram size and sender.
  std::pair<size_t, Endpoint> recvfrom(std::span<uint8_t> buf) {
    char ip[64] = "";
    uint16_t port = 0;
    size_t n = 0;
    detail::check(zt_socket_recvfrom(live(), buf.data(), buf.size(), &n, ip, sizeof ip, &port));
    return {n, Endpoint{ip, port}};
  }
  std::pair<std::string, Endpoint> recvfrom(size_t max = 65536) {
    std::string b(max, '\0');
    auto [n, from] = recvfrom(std::span<uint8_t>(reinterpret_cast<uint8_t*>(b.data()), b.size()));
    b.resize(n);
    return {std::move(b), std::move(from)};
  }
  void shutdown(int how = ZT_SHUT_RDWR) { detail::check(zt_socket_shutdown(live(), how)); }
  // -1ms blocks forever (default), 0ms non-blocking, > 0 bounds each blocking call.
  void set_timeout(std::chrono::milliseconds ms) { detail::check(zt_socket_set_timeout(live(), ms.count())); }
  Endpoint local_address() const {
    char ip[64] = "";
    uint16_t port = 0;
    detail::check(zt_socket_local_address(live(), ip, sizeof ip, &port));
    return {ip, port};
  }
  Endpoint peer_address() const {
    char ip[64] = "";
    uint16_t port = 0;
    detail::check(zt_socket_peer_address(live(), ip, sizeof ip, &port));
    return {ip, port};
  }
  // ZT_POLLIN | ZT_POLLOUT | ZT_POLLERR | ZT_POLLHUP; never blocks.
  int poll() {
    int ev = 0;
    detail::check(zt_socket_poll(live(), &ev));
    return ev;
  }
  // The readiness eventfd (for epoll/select); owned by the socket.
  int fd() const { return zt_socket_fd(s_); }

 private:
  Socket(Node& node, Family f, int type) : rt_(node.rt_) {
    zt_socket* s = nullptr;
    detail::check(zt_socket_new(node.live(), static_cast<int>(f), type, &s));
    s_ = s;
  }
  static std::span<const uint8_t> bytes(std::string_view s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
  }
  zt_socket* live() const {
    if (!s_) throw Error(Result::State, "ztcore: closed Socket");
    return s_;
  }

  std::shared_ptr<zt_runtime> rt_;  // the runtime outlives every socket handle
  zt_socket* s_ = nullptr;
};

}  // namespace zt

template <>
struct std::hash<zt::Address> {
  size_t operator()(zt::Address a) const noexcept { return std::hash<uint64_t>()(a.value); }
};
template <>
struct std::hash<zt::NetworkId> {
  size_t operator()(zt::NetworkId n) const noexcept { return std::hash<uint64_t>()(n.value); }
};
template <>
struct std::hash<zt::Mac> {
  size_t operator()(zt::Mac m) const noexcept { return std::hash<uint64_t>()(m.value); }
};
