// `ztcore netconf show`: decode a network-config dictionary (PROTOCOL.md §6) as JSON, with
// the key names of zerotier-one's listnetworks output where one exists.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "base/hex.hpp"
#include "cli.hpp"
#include "proto/netconf.hpp"
#include "proto/rules_json.hpp"

namespace zt::cli {
namespace {

using Json = nlohmann::ordered_json;
using namespace zt::proto;

const char* kNetconfUsage =
    "usage: ztcore netconf show [--controller IDENTITY_FILE] FILE\n"
    "\n"
    "Decodes a network configuration dictionary (e.g. a cached networks.d/<nwid>.conf) and\n"
    "prints one JSON object. Keys follow zerotier-one's listnetworks JSON where one exists\n"
    "(nwid, id, name, mac, mtu, type, broadcastEnabled, bridge, netconfRevision,\n"
    "assignedAddresses, routes, dns, multicastLimit) plus the full config: revision,\n"
    "timestamp, issuedTo, credentialTimeMaxDelta, flags/flagNames, staticIps, rules (in\n"
    "zerotier's JSON rule form), com, capabilities, tags, certificatesOfOwnership,\n"
    "specialists, remoteTrace*, sso*.\n"
    "  --controller FILE  the controller's identity (public or secret text form): adds\n"
    "                     signatureValid to every credential\n"
    "Exit status: 0 shown, 1 unreadable or malformed config, 2 usage error.\n";

std::string addr(Address a) { return to_hex(a, 10); }

Json ip_json(const InetAddress& a) {
  if (a.empty()) return nullptr;
  return a.to_string();
}

// §10.3 rule objects from the one rule codec (proto/rules_json.hpp), each with its one-line
// text form under "description".
Json rules_json(const std::vector<Rule>& rules) {
  Json a = Json::array();
  for (const auto& r : rules) {
    Json j = rule_to_json(r);
    j["description"] = describe(r);
    a.push_back(std::move(j));
  }
  return a;
}

struct Ctx {
  const Identity* controller = nullptr;
};

Json com_json(const Com& c, const Ctx& ctx) {
  Json j;
  Json qs = Json::array();
  for (const auto& q : c.qualifiers())
    qs.push_back(Json{{"id", q.id}, {"value", q.value}, {"maxDelta", q.max_delta}});
  j["qualifiers"] = qs;
  j["timestamp"] = c.timestamp();
  j["maxDelta"] = c.max_delta();
  j["networkId"] = to_hex(c.network_id(), 16);
  j["issuedTo"] = addr(c.issued_to());
  if (auto h = c.identity_hash()) j["identityHash"] = to_hex(ByteSpan(*h));
  j["signedBy"] = addr(c.signed_by());
  if (ctx.controller) j["signatureValid"] = c.verify(*ctx.controller);
  return j;
}

Json capability_json(const Capability& c, const Ctx& ctx) {
  Json j;
  j["id"] = c.id;
  j["timestamp"] = c.timestamp;
  j["networkId"] = to_hex(c.nwid, 16);
  auto rules = c.rules();
  if (rules)
    j["rules"] = rules_json(*rules);
  else
    j["rulesError"] = rules.error();
  j["maxCustodyChainLength"] = c.max_custody;
  Json chain = Json::array();
  for (const auto& e : c.custody) chain.push_back(Json{{"from", addr(e.from)}, {"to", addr(e.to)}});
  j["custody"] = chain;
  j["issuedTo"] = addr(c.issued_to());
  if (ctx.controller) j["signatureValid"] = c.verify(*ctx.controller);
  return j;
}

Json tag_json(const Tag& t, const Ctx& ctx) {
  Json j;
  j["id"] = t.id;
  j["value"] = t.value;
  j["timestamp"] = t.timestamp;
  j["networkId"] = to_hex(t.nwid, 16);
  j["issuedTo"] = addr(t.issued_to);
  j["signedBy"] = addr(t.signed_by);
  if (ctx.controller) j["signatureValid"] = t.verify(*ctx.controller);
  return j;
}

Json coo_json(const Coo& c, const Ctx& ctx) {
  Json j;
  j["id"] = c.id;
  j["timestamp"] = c.timestamp;
  j["flags"] = c.flags;
  j["networkId"] = to_hex(c.nwid, 16);
  Json things = Json::array();
  for (const auto& t : c.things) {
    switch (t.type) {
      case Coo::ThingType::Mac:
        things.push_back(Json{{"type", "mac"}, {"value", Mac::from_bytes(t.value.data()).to_string()}});
        break;
      case Coo::ThingType::Ipv4:
        things.push_back(Json{{"type", "ipv4"}, {"value", InetAddress::v4(t.value.data(), 0).ip_string()}});
        break;
      case Coo::ThingType::Ipv6:
        things.push_back(Json{{"type", "ipv6"}, {"value", InetAddress::v6(t.value.data(), 0).ip_string()}});
        break;
      default:
        things.push_back(Json{{"type", int(t.type)}, {"value", to_hex(ByteSpan(t.value))}});
        break;
    }
  }
  j["things"] = things;
  j["issuedTo"] = addr(c.issued_to);
  j["signedBy"] = addr(c.signed_by);
  if (ctx.controller) j["signatureValid"] = c.verify(*ctx.controller);
  return j;
}

Json netconf_json(const NetworkConfig& c, const Ctx& ctx) {
  Json j;
  std::string nwid = network_id_to_string(c.nwid);
  j["nwid"] = nwid;
  j["id"] = nwid;
  j["name"] = c.name;
  j["mac"] = c.mac().to_string();
  j["mtu"] = c.mtu;
  j["type"] = c.is_private() ? "PRIVATE" : "PUBLIC";
  j["private"] = c.is_private();
  j["broadcastEnabled"] = c.broadcast_enabled();
  j["bridge"] = c.is_active_bridge(c.issued_to);
  j["netconfRevision"] = c.revision;
  j["revision"] = c.revision;
  j["timestamp"] = c.timestamp;
  j["issuedTo"] = addr(c.issued_to);
  j["controller"] = addr(c.controller());
  j["version"] = c.version;
  j["credentialTimeMaxDelta"] = c.credential_time_max_delta;
  j["flags"] = c.flags;
  j["flagNames"] = network_flag_names(c.flags);
  j["ndpEmulation"] = c.ndp_emulation();
  j["multicastLimit"] = c.multicast_limit;
  Json ips = Json::array();
  for (const auto& ip : c.static_ips) ips.push_back(ip.to_string());
  j["assignedAddresses"] = ips;
  j["staticIps"] = ips;
  Json routes = Json::array();
  for (const auto& r : c.routes)
    routes.push_back(Json{{"flags", r.flags}, {"metric", r.metric}, {"target", ip_json(r.target)}, {"via", ip_json(r.via)}});
  j["routes"] = routes;
  j["rules"] = rules_json(c.rules);
  if (c.com)
    j["com"] = com_json(*c.com, ctx);
  else
    j["com"] = nullptr;
  Json caps = Json::array();
  for (const auto& x : c.capabilities) caps.push_back(capability_json(x, ctx));
  j["capabilities"] = caps;
  Json tags = Json::array();
  for (const auto& x : c.tags) tags.push_back(tag_json(x, ctx));
  j["tags"] = tags;
  Json coos = Json::array();
  for (const auto& x : c.certificates_of_ownership) coos.push_back(coo_json(x, ctx));
  j["certificatesOfOwnership"] = coos;
  Json specs = Json::array();
  for (uint64_t s : c.specialists) {
    specs.push_back(Json{{"address", addr(s & 0xffffffffffULL)},
                         {"flags", s >> 40},
                         {"activeBridge", (s & NetworkConfig::kSpecialistActiveBridge) != 0},
                         {"anchor", (s & NetworkConfig::kSpecialistAnchor) != 0},
                         {"multicastReplicator", (s & NetworkConfig::kSpecialistMulticastReplicator) != 0}});
  }
  j["specialists"] = specs;
  Json servers = Json::array();
  for (const auto& s : c.dns.servers) servers.push_back(s.ip_string());
  j["dns"] = Json{{"domain", c.dns.domain}, {"servers", servers}};
  j["remoteTraceTarget"] = c.remote_trace_target ? Json(addr(c.remote_trace_target)) : Json(nullptr);
  j["remoteTraceLevel"] = c.remote_trace_level;
  j["ssoVersion"] = c.sso_version;
  j["ssoEnabled"] = c.sso_enabled;
  if (c.sso_enabled) {
    j["authenticationURL"] = c.authentication_url;
    j["authenticationExpiryTime"] = c.authentication_expiry_time;
    if (c.sso_version >= 1) {
      j["issuerURL"] = c.issuer_url;
      j["centralAuthURL"] = c.central_endpoint_url;
      j["ssoNonce"] = c.sso_nonce;
      j["ssoState"] = c.sso_state;
      j["ssoClientID"] = c.sso_client_id;
      j["ssoProvider"] = c.sso_provider;
    }
  }
  return j;
}

int netconf_show(const Args& args) {
  if (wants_help(args)) {
    std::fputs(kNetconfUsage, stdout);
    return 0;
  }
  std::string file, controller_file;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--controller") {
      if (i + 1 >= args.size()) {
        std::fprintf(stderr, "error: --controller needs a file\n\n%s", kNetconfUsage);
        return 2;
      }
      controller_file = args[++i];
    } else if (!args[i].empty() && args[i][0] == '-') {
      std::fprintf(stderr, "error: unknown option %s\n\n%s", args[i].c_str(), kNetconfUsage);
      return 2;
    } else if (file.empty()) {
      file = args[i];
    } else {
      std::fprintf(stderr, "error: expected exactly one FILE\n\n%s", kNetconfUsage);
      return 2;
    }
  }
  if (file.empty()) {
    std::fprintf(stderr, "error: missing FILE\n\n%s", kNetconfUsage);
    return 2;
  }
  Ctx ctx;
  std::optional<Identity> controller;
  if (!controller_file.empty()) {
    std::string text;
    if (!read_file(controller_file, text)) return 1;
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
    auto id = Identity::parse(text);
    if (!id) {
      std::fprintf(stderr, "error: %s: not an identity: %s\n", controller_file.c_str(), id.error().c_str());
      return 1;
    }
    controller = *id;
    ctx.controller = &*controller;
  }
  std::string data;
  if (!read_file(file, data)) return 1;
  auto c = NetworkConfig::parse(as_bytes(data));
  if (!c) {
    std::fprintf(stderr, "error: %s: %s\n", file.c_str(), c.error().c_str());
    return 1;
  }
  std::printf("%s\n", netconf_json(*c, ctx).dump(2).c_str());
  return 0;
}

}  // namespace

int cmd_netconf(const Args& args) {
  if (args.empty()) {
    std::fputs(kNetconfUsage, stderr);
    return 2;
  }
  if (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    std::fputs(kNetconfUsage, stdout);
    return 0;
  }
  if (args[0] == "show") return netconf_show(Args(args.begin() + 1, args.end()));
  std::fprintf(stderr, "error: unknown subcommand 'netconf %s'\n\n%s", args[0].c_str(), kNetconfUsage);
  return 2;
}

}  // namespace zt::cli
