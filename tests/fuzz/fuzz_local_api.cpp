// Fuzz target for the node's local JSON API request handling (service/local_api.hpp): an
// arbitrary method, path, query, headers and body go straight into service::handle() (no
// socket), over a fake node. Whatever comes in, the answer is a status 200..599 whose body is
// a JSON object or array, and handle() never throws. The zerotier-cli text rendering
// (format_*) also takes the request body as if it were an API answer and must not throw.
//
// Input layout (lines end with '\n'):
//   byte 0        flags: bit 0 send the right token, bit 1 in the query instead of the header,
//                 bits 2-3 how the fake node answers join/leave/orbit (501, ok, error)
//   line 1        method            line 2  path          line 3  query "k=v&k2=v2"
//   then header lines "name: value" up to an empty line; the rest is the body.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

#include "service/local_api.hpp"

using namespace zt;
using service::json;

namespace {

void check(bool cond) {
  if (!cond) std::abort();
}

constexpr char kToken[] = "fuzztokenfuzztokenfuzzto";

class FakeNode final : public service::Backend {
 public:
  explicit FakeNode(int mode) : mode_(mode) {}
  int64_t now() override { return 1700000010000; }
  core::NodeStatus status() override {
    core::NodeStatus s;
    s.address = 0xdcc856287c;
    s.online = true;
    s.moons = moons_;
    return s;
  }
  service::NodeSettings settings() override { return {9993, {"127.0.0.1/9993"}, true}; }
  std::vector<core::PeerInfo> peers() override {
    core::PeerInfo p;
    p.address = 0x6aa7906649;
    p.role = core::PeerRole::Planet;
    core::PathInfo path;
    path.address = *proto::InetAddress::parse("127.0.0.1/9993");
    path.alive = path.preferred = true;
    p.paths.push_back(path);
    return {p, core::PeerInfo{}};
  }
  std::optional<proto::World> moon_world(uint64_t) override { return std::nullopt; }
  Status orbit(uint64_t id, proto::Address) override {
    if (mode_ == 2) return err("refused");
    moons_.push_back(id);
    return ok_status();
  }
  Status deorbit(uint64_t id) override {
    std::erase(moons_, id);
    return mode_ == 2 ? Status(err("refused")) : ok_status();
  }
  std::optional<Status> join(uint64_t nwid) override {
    if (mode_ == 0) return std::nullopt;
    if (mode_ == 2) return Status(err(ErrorKind::NotFound, "refused"));
    nets_.push_back(nwid);
    return ok_status();
  }
  std::optional<Status> leave(uint64_t nwid) override {
    if (mode_ == 0) return std::nullopt;
    std::erase(nets_, nwid);
    return mode_ == 2 ? Status(err("refused")) : ok_status();
  }
  json networks() override {
    json a = json::array();
    for (uint64_t n : nets_) {
      core::NetworkInfo info;
      info.nwid = n;
      a.push_back(service::network_json(info));
    }
    return a;
  }

 private:
  int mode_;
  std::vector<uint64_t> moons_{0xdeadbeef00};
  std::vector<uint64_t> nets_{0x8056c2e21c000001};
};

std::string_view next_line(std::string_view& in) {
  const size_t nl = in.find('\n');
  std::string_view line = in.substr(0, nl);
  in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  return line;
}

void parse_query(std::string_view q, service::Request& r) {
  while (!q.empty()) {
    const size_t amp = q.find('&');
    std::string_view kv = q.substr(0, amp);
    const size_t eq = kv.find('=');
    r.query.emplace(std::string(kv.substr(0, eq)), eq == std::string_view::npos ? "" : std::string(kv.substr(eq + 1)));
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  service::Request req;
  req.method = std::string(next_line(in));
  req.path = std::string(next_line(in));
  parse_query(next_line(in), req);
  for (;;) {
    std::string_view h = next_line(in);
    if (h.empty()) break;
    const size_t colon = h.find(':');
    std::string name(h.substr(0, colon));
    for (auto& c : name) c = char(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    req.headers.emplace(std::move(name), colon == std::string_view::npos ? "" : std::string(h.substr(colon + 1)));
  }
  req.body = std::string(in);
  if (flags & 1) {
    if (flags & 2) req.query["auth"] = kToken;
    else req.headers["x-zt1-auth"] = kToken;
  }

  FakeNode node((flags >> 2) % 3);
  service::Response res;
  try {
    res = service::handle(node, kToken, req);
  } catch (...) {
    std::abort();  // handle() promises never to throw
  }
  check(res.status >= 200 && res.status <= 599);
  json body = json::parse(res.body, nullptr, false);
  check(!body.is_discarded() && (body.is_object() || body.is_array()));
  if (res.status != 200) check(body.is_object() && body.contains("error") && body["error"].is_string());

  // The cli renders whatever the API answered; odd shapes must not throw.
  json j = json::parse(req.body, nullptr, false);
  if (!j.is_discarded()) {
    try {
      (void)service::format_info(j.is_object() ? j : json::object());
      (void)service::format_peers(j, 1700000010000);
      (void)service::format_listpeers(j, 1700000010000);
      (void)service::format_listnetworks(j);
    } catch (const std::exception&) {
      std::abort();
    }
  }
  return 0;
}
