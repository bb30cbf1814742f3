// `ztcore world make | show`: build and sign planet/moon files, and decode them as JSON
// (PROTOCOL.md §5.1).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/hex.hpp"
#include "cli.hpp"
#include "proto/world.hpp"

namespace zt::cli {
namespace {

using Json = nlohmann::ordered_json;
using proto::World;

const char* kWorldUsage =
    "usage: ztcore world <subcommand> [options]\n"
    "\n"
    "subcommands:\n"
    "  make   build and sign a planet or moon file\n"
    "  show   print a planet or moon file as JSON\n"
    "\n"
    "Run `ztcore world <subcommand> --help` for details.\n";

const char* kMakeUsage =
    "usage: ztcore world make --id N --timestamp MS --signing-key FILE\n"
    "                         --root IDENTITY_FILE=IP/PORT[,IP/PORT...] [--root ...]\n"
    "                         [--type planet|moon] OUT\n"
    "\n"
    "Builds a world (PROTOCOL.md 5.1), signs it and writes the binary form to OUT.\n"
    "  --id N             world ID (decimal, or hex with a 0x prefix)\n"
    "  --timestamp MS     world timestamp in ms (higher = newer); default: now\n"
    "  --signing-key FILE 128-byte key pair: 64-byte public key || 64-byte private key\n"
    "                     (the planet_signing_keypair.c25519 format); the public half\n"
    "                     becomes the world's \"updates must be signed by\" key\n"
    "  --root SPEC        IDENTITY_FILE=ENDPOINTS: a file holding the root's identity\n"
    "                     (public or secret text form; written public) and its stable\n"
    "                     endpoints as comma-separated ip/port; repeat for up to 4 roots\n"
    "  --type T           planet (default) or moon\n"
    "Exit status: 0 written, 1 failure, 2 usage error.\n";

const char* kShowUsage =
    "usage: ztcore world show FILE\n"
    "\n"
    "Prints the planet/moon in FILE as one JSON object:\n"
    "  type (\"planet\"|\"moon\"), id (number), idHex (16 hex digits), timestamp,\n"
    "  updatesMustBeSignedBy (hex), signature (hex),\n"
    "  roots [{identity (public text), stableEndpoints [\"ip/port\"]}],\n"
    "  signatureValid (signature checked with the world's own update key).\n"
    "Exit status: 0 shown, 1 unreadable or malformed file, 2 usage error.\n";

int usage_error(const char* msg, const char* usage) {
  std::fprintf(stderr, "error: %s\n\n%s", msg, usage);
  return 2;
}

bool parse_u64(const std::string& s, uint64_t& out) {
  if (s.empty()) return false;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    auto v = parse_hex_u64(std::string_view(s).substr(2));
    if (!v) return false;
    out = *v;
    return true;
  }
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = uint64_t(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
    s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

// "IDENTITY_FILE=ip/port,ip/port" → root. The split is at the last '=' (endpoints never
// contain one).
bool parse_root(const std::string& spec, proto::WorldRoot& root) {
  std::string file = spec, eps;
  if (auto eq = spec.rfind('='); eq != std::string::npos) {
    file = spec.substr(0, eq);
    eps = spec.substr(eq + 1);
  }
  std::string text;
  if (!read_file(file, text)) return false;
  auto id = proto::Identity::parse(trim(text));
  if (!id) {
    std::fprintf(stderr, "error: %s: not an identity: %s\n", file.c_str(), id.error().c_str());
    return false;
  }
  root.identity = *id;
  size_t at = 0;
  while (at < eps.size()) {
    size_t comma = eps.find(',', at);
    std::string one = eps.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    at = comma == std::string::npos ? eps.size() : comma + 1;
    if (one.empty()) continue;
    auto a = proto::InetAddress::parse(one);
    if (!a || a->empty()) {
      std::fprintf(stderr, "error: bad endpoint '%s' (want ip/port)\n", one.c_str());
      return false;
    }
    root.stable_endpoints.push_back(*a);
  }
  return true;
}

int world_make(const Args& args) {
  if (wants_help(args)) {
    std::fputs(kMakeUsage, stdout);
    return 0;
  }
  std::optional<uint64_t> id, ts;
  std::string key_file, out;
  std::vector<std::string> roots;
  World::Type type = World::Type::Planet;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& v) {
      if (i + 1 >= args.size()) return false;
      v = args[++i];
      return true;
    };
    std::string v;
    if (a == "--id") {
      uint64_t n;
      if (!value(v) || !parse_u64(v, n)) return usage_error("--id needs a number", kMakeUsage);
      id = n;
    } else if (a == "--timestamp") {
      uint64_t n;
      if (!value(v) || !parse_u64(v, n)) return usage_error("--timestamp needs a number (ms)", kMakeUsage);
      ts = n;
    } else if (a == "--signing-key") {
      if (!value(key_file)) return usage_error("--signing-key needs a file", kMakeUsage);
    } else if (a == "--root") {
      if (!value(v)) return usage_error("--root needs IDENTITY_FILE=IP/PORT[,IP/PORT]", kMakeUsage);
      roots.push_back(v);
    } else if (a == "--type") {
      if (!value(v)) return usage_error("--type needs planet or moon", kMakeUsage);
      if (v == "planet")
        type = World::Type::Planet;
      else if (v == "moon")
        type = World::Type::Moon;
      else
        return usage_error("--type must be planet or moon", kMakeUsage);
    } else if (!a.empty() && a[0] == '-') {
      std::string m = "unknown option " + a;
      return usage_error(m.c_str(), kMakeUsage);
    } else if (out.empty()) {
      out = a;
    } else {
      return usage_error("more than one output file", kMakeUsage);
    }
  }
  if (!id) return usage_error("--id is required", kMakeUsage);
  if (key_file.empty()) return usage_error("--signing-key is required", kMakeUsage);
  if (roots.empty()) return usage_error("at least one --root is required", kMakeUsage);
  if (roots.size() > World::kMaxRoots) return usage_error("at most 4 roots", kMakeUsage);
  if (out.empty()) return usage_error("missing output file", kMakeUsage);
  if (!ts)
    ts = uint64_t(std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count());

  std::string key_bytes;
  if (!read_file(key_file, key_bytes)) return 1;
  auto kp = proto::WorldKeypair::parse(as_bytes(key_bytes));
  if (!kp) {
    std::fprintf(stderr, "error: %s: %s\n", key_file.c_str(), kp.error().c_str());
    return 1;
  }
  std::vector<proto::WorldRoot> rs;
  for (const auto& spec : roots) {
    proto::WorldRoot r;
    if (!parse_root(spec, r)) return 1;
    rs.push_back(std::move(r));
  }
  auto w = World::make(type, *id, *ts, *kp, std::move(rs));
  if (!w) {
    std::fprintf(stderr, "error: %s\n", w.error().c_str());
    return 1;
  }
  Bytes bytes = w->serialize();
  std::ofstream f(out, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  f.close();
  if (!f) {
    std::fprintf(stderr, "error: cannot write %s: %s\n", out.c_str(), std::strerror(errno));
    return 1;
  }
  return 0;
}

Json world_json(const World& w) {
  Json j;
  j["type"] = proto::world_type_name(w.type);
  j["id"] = w.id;
  j["idHex"] = to_hex(w.id, 16);
  j["timestamp"] = w.timestamp;
  j["updatesMustBeSignedBy"] = to_hex(ByteSpan(w.update_key));
  j["signature"] = to_hex(ByteSpan(w.signature));
  Json roots = Json::array();
  for (const auto& r : w.roots) {
    Json rj;
    rj["identity"] = r.identity.to_string(false);
    Json eps = Json::array();
    for (const auto& ep : r.stable_endpoints) eps.push_back(ep.to_string());
    rj["stableEndpoints"] = eps;
    roots.push_back(rj);
  }
  j["roots"] = roots;
  if (w.type == World::Type::Moon) j["dictionaryLength"] = w.moon_dictionary.size();
  j["signatureValid"] = w.verify();
  return j;
}

int world_show(const Args& args) {
  if (wants_help(args)) {
    std::fputs(kShowUsage, stdout);
    return 0;
  }
  if (args.size() != 1 || (!args[0].empty() && args[0][0] == '-'))
    return usage_error("expected exactly one FILE", kShowUsage);
  std::string data;
  if (!read_file(args[0], data)) return 1;
  auto w = World::parse(as_bytes(data));
  if (!w) {
    std::fprintf(stderr, "error: %s: %s\n", args[0].c_str(), w.error().c_str());
    return 1;
  }
  std::printf("%s\n", world_json(*w).dump(2).c_str());
  return 0;
}

}  // namespace

int cmd_world(const Args& args) {
  if (args.empty()) {
    std::fputs(kWorldUsage, stderr);
    return 2;
  }
  Args rest(args.begin() + 1, args.end());
  if (args[0] == "make") return world_make(rest);
  if (args[0] == "show") return world_show(rest);
  if (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    std::fputs(kWorldUsage, stdout);
    return 0;
  }
  std::fprintf(stderr, "error: unknown subcommand 'world %s'\n\n%s", args[0].c_str(), kWorldUsage);
  return 2;
}

}  // namespace zt::cli
