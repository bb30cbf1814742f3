// `ztcore rules explain`: evaluates Ethernet frames against a member's network config with the
// rules engine and prints, per rule, whether it matched, and the verdict with the deciding
// rule and capability (core/rules_explain.hpp). Nothing is sent; no node is needed.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/hex.hpp"
#include "cli.hpp"
#include "pcapng_reader.hpp"
#include "core/membership.hpp"
#include "core/rules_explain.hpp"
#include "proto/netconf.hpp"
#include "proto/rules_json.hpp"

namespace zt::cli {

namespace {

constexpr int kLinkEthernet = 1;  // LINKTYPE_ETHERNET

using nlohmann::json;
using namespace zt::proto;
using namespace zt::core;

const char* kExplainUsage =
    "usage: ztcore rules explain --netconf FILE (--frame HEX | --pcap FILE) [--inbound]\n"
    "                            [--sender ZTID] [--receiver ZTID] [--tag ID=VALUE]...\n"
    "                            [--cap ID]... [--peer-cap ID]... [--json]\n"
    "\n"
    "Evaluates Ethernet frames against a member's network config with the rules engine\n"
    "(PROTOCOL.md §8.2/§8.3) and prints every rule of the base list and of each capability\n"
    "evaluated (matched or not, the running result, the frame's value against the rule's),\n"
    "then the verdict with the deciding rule and capability. Nothing is sent.\n"
    "\n"
    "  --netconf FILE  the member's config, either\n"
    "                  * a network config dictionary (a node's networks.d/<nwid>.conf), or\n"
    "                  * JSON: the output of `ztcore rules compile` ({\"config\": {\"rules\",\n"
    "                    \"capabilities\", \"tags\"}}), or a config object with those keys (a\n"
    "                    controller network object works). Own tags are the tags' \"default\"\n"
    "                    values (null = no tag); own capabilities the \"default\": true ones.\n"
    "                    Optional top-level keys: \"memberTags\": [[id, value], ...] and\n"
    "                    \"memberCapabilities\": [id, ...] (the controller member object's\n"
    "                    \"tags\" and \"capabilities\"), \"issuedTo\": \"ZTID\", \"nwid\": \"16 hex\".\n"
    "  --frame HEX     one whole Ethernet frame (14-byte header first); spaces and ':' ignored\n"
    "  --pcap FILE     a capture (pcap or pcapng): each Ethernet frame explained, packets of\n"
    "                  other link types skipped; a ztcore node/lab pcapng works as is (its\n"
    "                  virtual-network frames; their interface and comment in the label)\n"
    "  --inbound       the frame arrives from the peer (default: this member sends it)\n"
    "  --sender ZTID, --receiver ZTID\n"
    "                  ZeroTier addresses (10 hex digits). This member is the sender outbound\n"
    "                  and the receiver inbound: default its issuedTo (JSON without one:\n"
    "                  1111111111); the other side defaults to 2222222222.\n"
    "  --tag ID=VALUE  a tag of the PEER (the other member); repeatable. Without it the\n"
    "                  peer's tags are unknown (tag matches then follow §8.2's lenient rules).\n"
    "  --cap ID        also give this member capability ID (JSON configs); repeatable\n"
    "  --peer-cap ID   the peer holds capability ID of the config (inbound: the sender's\n"
    "                  capabilities are evaluated); repeatable\n"
    "  --json          after each frame's text, one line of JSON: {\"verdict\": \"accept\"|\n"
    "                  \"drop\"|\"super-accept\"|\"redirect\", \"rule\": N|null, \"capability\":\n"
    "                  ID|null, \"reason\": \"...\", \"redirect_to\", \"rules\": [...]}\n"
    "                  (only the JSON lines are printed: the last line is the last frame's)\n"
    "Exit status: 0 explained (whatever the verdict), 1 bad input, 2 usage error.\n";

constexpr Address kDefaultSelf = 0x1111111111ULL;
constexpr Address kDefaultOther = 0x2222222222ULL;
constexpr uint64_t kJsonTimestamp = 1;  // JSON configs: one timestamp for every credential

struct Options {
  std::string netconf, frame_hex, pcap;
  bool inbound = false, as_json = false;
  std::optional<Address> sender, receiver;
  std::vector<std::pair<uint32_t, uint32_t>> peer_tags;
  std::vector<uint32_t> caps, peer_caps;
};

bool fail(const std::string& msg) {
  std::fprintf(stderr, "error: %s\n", msg.c_str());
  return false;
}

// "WHAT[3]: ..." for an error inside the array, "WHAT: ..." otherwise (rules_from_json's errors
// start with "[i]" or with "rules:").
std::string rules_error(const std::string& what, const std::string& e) {
  if (!e.empty() && e[0] == '[') return what + e;
  return what + ": " + (e.rfind("rules: ", 0) == 0 ? e.substr(7) : e);
}

std::optional<uint32_t> parse_u32(const std::string& s) {
  if (s.empty() || s.size() > 10 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  const unsigned long long v = std::strtoull(s.c_str(), nullptr, 10);
  if (v > 0xffffffffULL) return std::nullopt;
  return uint32_t(v);
}

std::optional<Address> parse_ztid(const std::string& s) {
  if (s.size() != 10) return std::nullopt;
  return parse_hex_u64(s);
}

// Parses argv; 0 ok, 2 usage error (message printed).
int parse_options(const Args& args, Options& o) {
  auto usage = [](const std::string& m) {
    std::fprintf(stderr, "error: %s\n\n%s", m.c_str(), kExplainUsage);
    return 2;
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= args.size()) return false;
      out = args[++i];
      return true;
    };
    std::string v;
    if (a == "--inbound") {
      o.inbound = true;
    } else if (a == "--json") {
      o.as_json = true;
    } else if (a == "--netconf" || a == "--frame" || a == "--pcap" || a == "--sender" || a == "--receiver" ||
               a == "--tag" || a == "--cap" || a == "--peer-cap") {
      if (!value(v)) return usage(a + " needs a value");
      if (a == "--netconf") o.netconf = v;
      else if (a == "--frame") o.frame_hex = v;
      else if (a == "--pcap") o.pcap = v;
      else if (a == "--sender" || a == "--receiver") {
        auto z = parse_ztid(v);
        if (!z) return usage(a + ": expected a 10-hex-digit ZeroTier address, got '" + v + "'");
        (a == "--sender" ? o.sender : o.receiver) = *z;
      } else if (a == "--tag") {
        const size_t eq = v.find('=');
        auto id = parse_u32(v.substr(0, eq));
        auto val = eq == std::string::npos ? std::nullopt : parse_u32(v.substr(eq + 1));
        if (!id || !val) return usage("--tag: expected ID=VALUE (32-bit decimal numbers), got '" + v + "'");
        o.peer_tags.emplace_back(*id, *val);
      } else {
        auto id = parse_u32(v);
        if (!id) return usage(a + ": expected a capability ID (32-bit decimal), got '" + v + "'");
        (a == "--cap" ? o.caps : o.peer_caps).push_back(*id);
      }
    } else {
      return usage("unknown argument '" + a + "'");
    }
  }
  if (o.netconf.empty()) return usage("--netconf FILE is required");
  if (o.frame_hex.empty() == o.pcap.empty()) return usage("give exactly one of --frame HEX and --pcap FILE");
  return 0;
}

// ---- Configs -------------------------------------------------------------------------------

// A JSON number or decimal string (tags' values and IDs), nullopt otherwise.
std::optional<uint32_t> json_u32(const json& j) {
  if (j.is_number_unsigned() && j.get<uint64_t>() <= 0xffffffffULL) return uint32_t(j.get<uint64_t>());
  if (j.is_string()) return parse_u32(j.get<std::string>());
  return std::nullopt;
}

bool json_tags(const json& tags, std::vector<std::pair<uint32_t, uint32_t>>& out, const char* what) {
  if (!tags.is_array()) return fail(std::string(what) + ": expected an array");
  for (const json& t : tags) {
    if (t.is_array() && t.size() == 2) {  // [id, value] (controller member form)
      auto id = json_u32(t[0]), v = json_u32(t[1]);
      if (!id || !v) return fail(std::string(what) + ": expected [id, value] with 32-bit numbers");
      out.emplace_back(*id, *v);
    } else if (t.is_object() && t.contains("id")) {  // {id, default} (compiler / network form)
      auto id = json_u32(t["id"]);
      if (!id) return fail(std::string(what) + ": bad tag id");
      auto d = t.find("default");
      if (d == t.end() || d->is_null()) continue;  // no default: the member has no such tag
      auto v = json_u32(*d);
      if (!v) return fail(std::string(what) + ": bad tag default");
      out.emplace_back(*id, *v);
    } else {
      return fail(std::string(what) + ": expected [id, value] pairs or {\"id\", \"default\"} objects");
    }
  }
  return true;
}

// All capabilities defined in the config (unsigned; evaluation does not check signatures).
bool json_capabilities(const json& caps, NetworkConfig& c, std::vector<Capability>& all,
                       std::vector<uint32_t>& defaults) {
  if (caps.is_null()) return true;
  if (!caps.is_array()) return fail("capabilities: expected an array");
  for (const json& x : caps) {
    if (!x.is_object()) return fail("capabilities: expected objects {id, default, rules}");
    auto id = x.contains("id") ? json_u32(x["id"]) : std::nullopt;
    if (!id) return fail("capabilities: bad or missing id");
    auto rules = rules_from_json(x.contains("rules") ? x["rules"] : json::array(), kMaxCapabilityRules,
                                 RuleJsonTypes::All);
    if (!rules) return fail(rules_error("capability " + std::to_string(*id) + ": rules", rules.error()));
    Capability cap;
    cap.nwid = c.nwid;
    cap.timestamp = c.timestamp;
    cap.id = *id;
    if (!cap.set_rules(*rules)) return fail("capability " + std::to_string(*id) + ": too many rules");
    all.push_back(cap);
    if (x.contains("default") && json_lenient_bool(x["default"], false)) defaults.push_back(*id);
  }
  return true;
}

struct Loaded {
  NetworkConfig config;
  std::vector<Capability> all_caps;  // JSON: every capability defined; dictionary: own ones
  bool from_json = false;
};

Tag make_tag(const NetworkConfig& c, uint32_t id, uint32_t value, Address to) {
  Tag t;
  t.nwid = c.nwid;
  t.timestamp = c.timestamp;
  t.id = id;
  t.value = value;
  t.issued_to = to;
  return t;
}

bool load_json_config(const json& top, const Options& o, Loaded& out) {
  if (!top.is_object()) return fail("netconf JSON: expected an object");
  const json& cfg = top.contains("config") ? top["config"] : top;
  if (!cfg.is_object()) return fail("netconf JSON: \"config\" must be an object");
  NetworkConfig& c = out.config;
  c.timestamp = kJsonTimestamp;
  c.credential_time_max_delta = 0;
  c.issued_to = kDefaultSelf;
  if (auto it = top.find("issuedTo"); it != top.end()) {
    auto z = it->is_string() ? parse_ztid(it->get<std::string>()) : std::nullopt;
    if (!z) return fail("netconf JSON: issuedTo must be 10 hex digits");
    c.issued_to = *z;
  }
  if (auto it = top.find("nwid"); it != top.end()) {
    auto n = it->is_string() ? parse_network_id(it->get<std::string>()) : std::nullopt;
    if (!n) return fail("netconf JSON: nwid must be 16 hex digits");
    c.nwid = *n;
  }
  if (!cfg.contains("rules") || !cfg["rules"].is_array()) return fail("netconf JSON: no \"rules\" array");
  auto rules = rules_from_json(cfg["rules"], kMaxNetworkRules, RuleJsonTypes::All);
  if (!rules) return fail(rules_error("netconf JSON: rules", rules.error()));
  c.rules = *rules;
  std::vector<uint32_t> own_caps = o.caps;
  if (!json_capabilities(cfg.contains("capabilities") ? cfg["capabilities"] : json(), c, out.all_caps, own_caps))
    return false;
  if (auto it = top.find("memberCapabilities"); it != top.end()) {
    if (!it->is_array()) return fail("memberCapabilities: expected an array of ids");
    for (const json& x : *it) {
      auto id = json_u32(x);
      if (!id) return fail("memberCapabilities: bad id");
      own_caps.push_back(*id);
    }
  }
  for (uint32_t id : own_caps) {
    auto f = std::find_if(out.all_caps.begin(), out.all_caps.end(), [&](const Capability& x) { return x.id == id; });
    if (f == out.all_caps.end()) return fail("capability " + std::to_string(id) + " is not defined in the config");
    if (!c.capabilities.empty() && std::any_of(c.capabilities.begin(), c.capabilities.end(),
                                               [&](const Capability& x) { return x.id == id; }))
      continue;
    c.capabilities.push_back(*f);
  }
  std::sort(c.capabilities.begin(), c.capabilities.end(), [](auto& a, auto& b) { return a.id < b.id; });
  std::vector<std::pair<uint32_t, uint32_t>> tags;
  if (cfg.contains("tags") && !json_tags(cfg["tags"], tags, "tags")) return false;
  if (top.contains("memberTags") && !json_tags(top["memberTags"], tags, "memberTags")) return false;
  std::map<uint32_t, uint32_t> by_id;  // later (member) values override defaults
  for (auto [id, v] : tags) by_id[id] = v;
  for (auto [id, v] : by_id) c.tags.push_back(make_tag(c, id, v, c.issued_to));
  out.from_json = true;
  return true;
}

bool load_config(const Options& o, Loaded& out) {
  std::string data;
  if (!read_file(o.netconf, data)) return false;
  const size_t first = data.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && (data[first] == '{' || data[first] == '[')) {
    json j = json::parse(data, nullptr, false);
    if (j.is_discarded()) return fail(o.netconf + ": not valid JSON");
    return load_json_config(j, o, out);
  }
  auto c = NetworkConfig::parse(as_bytes(data));
  if (!c) return fail(o.netconf + ": not a network config dictionary or JSON: " + c.error());
  out.config = std::move(*c);
  out.all_caps = out.config.capabilities;
  if (!o.caps.empty()) return fail("--cap applies to JSON configs only (a dictionary lists its own capabilities)");
  return true;
}

// ---- Frames --------------------------------------------------------------------------------

std::optional<Bytes> parse_frame_hex(const std::string& s) {
  std::string clean;
  for (char ch : s)
    if (ch != ' ' && ch != ':' && ch != '\n' && ch != '\t') clean += ch;
  if (clean.size() > 2 && clean[0] == '0' && (clean[1] == 'x' || clean[1] == 'X')) clean.erase(0, 2);
  return from_hex(clean);
}

void print_text(const Explanation& x, const FilterFrame& f) {
  std::printf("%s %s → %s, ethertype 0x%04x, %zu payload bytes\n", f.inbound ? "inbound" : "outbound",
              to_hex(f.source, 10).c_str(), to_hex(f.destination, 10).c_str(), f.ethertype, f.payload.size());
  for (const ListExplanation& l : x.lists) {
    if (l.capability)
      std::printf("capability %u:\n", *l.capability);
    else
      std::printf("base rules:\n");
    if (l.rules.empty()) std::printf("  (no rules)\n");
    for (const RuleExplanation& r : l.rules) {
      const char* m = r.action ? (r.decided ? "DECIDED" : "") : r.match ? (*r.match ? "match" : "no match") : "";
      std::printf("  %3d  %-32s %-8s %s\n", r.index, r.text.c_str(), m, r.detail.c_str());
    }
  }
  std::string by;
  if (x.rule >= 0) by = " by rule " + std::to_string(x.rule);
  if (x.capability) by += " of capability " + std::to_string(*x.capability);
  std::printf("verdict: %s%s\nreason: %s\n", filter_verdict_name(x.verdict), by.c_str(), x.reason.c_str());
}

struct Runner {
  const Options& o;
  Loaded& cfg;
  Membership peer;
  Address self = 0, other = 0;
  size_t count = 0;

  bool setup() {
    const NetworkConfig& c = cfg.config;
    self = c.issued_to;
    other = kDefaultOther;
    const auto& mine = o.inbound ? o.receiver : o.sender;
    const auto& theirs = o.inbound ? o.sender : o.receiver;
    if (mine) self = *mine;
    if (theirs) other = *theirs;
    if (self == other) return fail("sender and receiver are the same address");
    cfg.config.issued_to = self;
    for (auto [id, v] : o.peer_tags) peer.assume(make_tag(c, id, v, other));
    for (uint32_t id : o.peer_caps) {
      auto f = std::find_if(cfg.all_caps.begin(), cfg.all_caps.end(), [&](const Capability& x) { return x.id == id; });
      if (f == cfg.all_caps.end()) return fail("--peer-cap " + std::to_string(id) + ": no such capability in the config");
      if (!peer.assume(*f)) return fail("--peer-cap " + std::to_string(id) + ": its rules do not decode");
    }
    return true;
  }

  bool explain(ByteSpan bytes, const std::string& label) {
    FilterFrame f;
    if (!parse_ethernet_frame(bytes, f))
      return fail(label + ": not an Ethernet frame (" + std::to_string(bytes.size()) + " bytes, need 14)");
    f.inbound = o.inbound;
    f.source = o.inbound ? other : self;
    f.destination = o.inbound ? self : other;
    FilterEnv env{cfg.config, self, &peer, {}};
    const Explanation x = explain_filter(env, f, true);
    ++count;
    if (o.as_json)
      std::printf("%s\n", explanation_json(x).c_str());
    else {
      if (!o.pcap.empty()) std::printf("%s%s\n", count > 1 ? "\n" : "", label.c_str());
      print_text(x, f);
    }
    return true;
  }
};

bool explain_pcap(Runner& run, const std::string& path) {
  uint64_t n = 0, others = 0;
  bool failed = false;
  Status st = for_each_packet(path, [&](const CapturedPacket& p) {
    if (failed) return;
    if (p.linktype != kLinkEthernet) {
      ++others;  // e.g. the wire interface of a ztcore capture
      return;
    }
    ++n;
    std::string label = "frame " + std::to_string(p.frame_no);
    if (!p.interface.empty()) label += " on " + std::string(p.interface);
    if (!p.comment.empty()) label += " (" + std::string(p.comment) + ")";
    if (!run.explain(p.data, label)) failed = true;
  });
  if (failed) return false;
  if (!st) return fail(st.error());
  if (n == 0)
    return fail(path + (others ? ": no Ethernet frames (" + std::to_string(others) + " packets of other link types)"
                               : std::string(": no frames")));
  return true;
}

}  // namespace

int rules_explain(const Args& args) {
  if (wants_help(args)) {
    std::fputs(kExplainUsage, stdout);
    return 0;
  }
  Options o;
  if (int rc = parse_options(args, o)) return rc;
  Loaded cfg;
  if (!load_config(o, cfg)) return 1;
  Runner run{o, cfg, {}};
  if (!run.setup()) return 1;
  if (!o.pcap.empty()) return explain_pcap(run, o.pcap) ? 0 : 1;
  auto bytes = parse_frame_hex(o.frame_hex);
  if (!bytes) {
    fail("--frame: not hex (an even number of hex digits; spaces and ':' are ignored)");
    return 1;
  }
  return run.explain(*bytes, "frame") ? 0 : 1;
}

}  // namespace zt::cli
