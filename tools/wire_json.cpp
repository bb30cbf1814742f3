// JSON rendering of verb payloads (see wire_json.hpp).
#include "wire_json.hpp"

#include <string>

#include "base/hex.hpp"

namespace zt::cli {
namespace {

using namespace zt::proto;

std::string addr(Address a) { return to_hex(a, 10); }
std::string id16(uint64_t v) { return to_hex(v, 16); }

Json inet(const InetAddress& a) {
  if (a.empty()) return nullptr;
  return a.to_string();
}
Json inet(const std::optional<InetAddress>& a) { return a ? inet(*a) : Json(nullptr); }

Json group(const MulticastGroup& g) { return Json{{"mac", g.mac.to_string()}, {"adi", to_hex(g.adi, 8)}}; }

std::string version(uint8_t ma, uint8_t mi, uint16_t rev) {
  return std::to_string(ma) + "." + std::to_string(mi) + "." + std::to_string(rev);
}

// Dictionary-ish bytes: hex always, "text" too when it is plain printable text.
Json text_bytes(ByteSpan b) {
  Json j = bytes_json(b);
  bool printable = true;
  for (uint8_t c : b)
    if (!(c == '\n' || c == '\r' || c == '\t' || (c >= 0x20 && c < 0x7f))) {
      printable = false;
      break;
    }
  if (printable) j["text"] = std::string(b.begin(), b.end());
  return j;
}

// Checks a signature against the controller of `nwid` when its identity is known.
template <class F>
Json sig_check(uint64_t nwid, const IdentityLookup& lookup, F&& verify) {
  const Identity* c = lookup ? lookup(network_controller(nwid)) : nullptr;
  if (!c) return nullptr;
  return verify(*c);
}

Json com_json(const Com& c, const IdentityLookup& lookup) {
  Json j;
  j["nwid"] = id16(c.network_id());
  j["issued_to"] = addr(c.issued_to());
  j["timestamp"] = c.timestamp();
  j["max_delta"] = c.max_delta();
  j["qualifiers"] = c.qualifiers().size();
  j["signed_by"] = addr(c.signed_by());
  j["signature_valid"] = sig_check(c.network_id(), lookup, [&](const Identity& id) { return c.verify(id); });
  return j;
}

Json capability_json(const Capability& c, const IdentityLookup& lookup) {
  Json j;
  j["nwid"] = id16(c.nwid);
  j["id"] = c.id;
  j["timestamp"] = c.timestamp;
  j["rules"] = c.rule_count();
  j["max_custody"] = c.max_custody;
  j["custody"] = c.custody.size();
  j["issued_to"] = addr(c.issued_to());
  j["signature_valid"] = sig_check(c.nwid, lookup, [&](const Identity& id) { return c.verify(id); });
  return j;
}

Json tag_json(const Tag& t, const IdentityLookup& lookup) {
  Json j;
  j["nwid"] = id16(t.nwid);
  j["id"] = t.id;
  j["value"] = t.value;
  j["timestamp"] = t.timestamp;
  j["issued_to"] = addr(t.issued_to);
  j["signed_by"] = addr(t.signed_by);
  j["signature_valid"] = sig_check(t.nwid, lookup, [&](const Identity& id) { return t.verify(id); });
  return j;
}

Json coo_json(const Coo& c, const IdentityLookup& lookup) {
  Json j;
  j["nwid"] = id16(c.nwid);
  j["id"] = c.id;
  j["timestamp"] = c.timestamp;
  j["flags"] = c.flags;
  Json things = Json::array();
  for (const auto& t : c.things) {
    switch (t.type) {
      case Coo::ThingType::Mac: things.push_back({{"mac", Mac::from_bytes(t.value.data()).to_string()}}); break;
      case Coo::ThingType::Ipv4: things.push_back({{"ipv4", InetAddress::v4(t.value.data(), 0).ip_string()}}); break;
      case Coo::ThingType::Ipv6: things.push_back({{"ipv6", InetAddress::v6(t.value.data(), 0).ip_string()}}); break;
      default: things.push_back({{"type", int(t.type)}, {"hex", to_hex(t.value)}}); break;
    }
  }
  j["things"] = things;
  j["issued_to"] = addr(c.issued_to);
  j["signed_by"] = addr(c.signed_by);
  j["signature_valid"] = sig_check(c.nwid, lookup, [&](const Identity& id) { return c.verify(id); });
  return j;
}

Json revocation_json(const Revocation& r, const IdentityLookup& lookup) {
  Json j;
  j["nwid"] = id16(r.nwid);
  j["id"] = r.id;
  j["credential_type"] = int(r.credential_type);
  j["credential_id"] = r.credential_id;
  j["threshold"] = r.threshold;
  j["flags"] = r.flags;
  j["target"] = addr(r.target);
  j["signed_by"] = addr(r.signed_by);
  j["signature_valid"] = sig_check(r.nwid, lookup, [&](const Identity& id) { return r.verify(id); });
  return j;
}

Json gathered_json(const GatherResults& g) {
  Json members = Json::array();
  for (Address a : g.members) members.push_back(addr(a));
  return Json{{"total_known", g.total_known}, {"members", members}};
}

Json chunk_json(const ConfigChunk& c, const IdentityLookup& lookup) {
  Json j;
  j["nwid"] = id16(c.nwid);
  j["data"] = text_bytes(c.data);
  if (c.legacy) {
    j["legacy"] = true;
    return j;
  }
  j["flags"] = c.flags;
  j["update_id"] = id16(c.update_id);
  j["total_length"] = c.total_length;
  j["index"] = c.index;
  j["signature_type"] = c.signature_type;
  j["signature_len"] = c.signature.size();
  j["chunk_id"] = id16(c.chunk_id());
  j["signature_valid"] = sig_check(c.nwid, lookup, [&](const Identity& id) { return c.verify(id); });
  return j;
}

struct MessageJson {
  const IdentityLookup& lookup;

  Json operator()(const Nop& m) const { return Json{{"payload", bytes_json(m.bytes)}}; }
  Json operator()(const Hello& m) const {
    Json j;
    j["protocol_version"] = m.protocol_version;
    j["software_version"] = version(m.version_major, m.version_minor, m.version_revision);
    j["timestamp"] = m.timestamp;
    j["identity"] = m.identity.to_string(false);
    j["sent_to"] = inet(m.sent_to);
    if (m.planet) {
      j["planet_id"] = id16(m.planet->id);
      j["planet_timestamp"] = m.planet->timestamp;
    }
    j["moons_region_len"] = m.moons_region.size();
    return j;
  }
  Json operator()(const OkMessage& m) const { return ok_body_json(m.body, lookup); }
  Json operator()(const ErrorMessage& m) const { return error_body_json(m.body); }
  Json operator()(const Whois& m) const {
    Json a = Json::array();
    for (Address x : m.addresses) a.push_back(addr(x));
    return Json{{"addresses", a}};
  }
  Json operator()(const Rendezvous& m) const {
    return Json{{"flags", m.flags}, {"with", addr(m.with)}, {"at", inet(m.at)}};
  }
  Json operator()(const Frame& m) const {
    return Json{{"nwid", id16(m.nwid)}, {"ethertype", to_hex(m.ethertype, 4)}, {"payload", bytes_json(m.payload)}};
  }
  Json operator()(const ExtFrame& m) const {
    Json j;
    j["nwid"] = id16(m.nwid);
    j["flags"] = m.flags;
    if (m.com) j["com"] = com_json(*m.com, lookup);
    j["to"] = m.to.to_string();
    j["from"] = m.from.to_string();
    j["ethertype"] = to_hex(m.ethertype, 4);
    j["payload"] = bytes_json(m.payload);
    return j;
  }
  Json operator()(const Echo& m) const { return Json{{"payload", bytes_json(m.payload)}}; }
  Json operator()(const MulticastLike& m) const {
    Json a = Json::array();
    for (const auto& e : m.entries) {
      Json g = group(e.group);
      a.push_back({{"nwid", id16(e.nwid)}, {"mac", g["mac"]}, {"adi", g["adi"]}});
    }
    return Json{{"groups", a}};
  }
  Json operator()(const NetworkCredentials& m) const {
    Json j;
    Json a = Json::array();
    for (const auto& c : m.coms) a.push_back(com_json(c, lookup));
    j["coms"] = a;
    a = Json::array();
    for (const auto& c : m.capabilities) a.push_back(capability_json(c, lookup));
    j["capabilities"] = a;
    a = Json::array();
    for (const auto& t : m.tags) a.push_back(tag_json(t, lookup));
    j["tags"] = a;
    a = Json::array();
    for (const auto& r : m.revocations) a.push_back(revocation_json(r, lookup));
    j["revocations"] = a;
    a = Json::array();
    for (const auto& c : m.coos) a.push_back(coo_json(c, lookup));
    j["coos"] = a;
    j["sections"] = m.sections;
    return j;
  }
  Json operator()(const NetworkConfigRequest& m) const {
    Json j;
    j["nwid"] = id16(m.nwid);
    j["metadata"] = text_bytes(m.metadata);
    if (m.held) {
      j["held_revision"] = m.held->revision;
      j["held_timestamp"] = m.held->timestamp;
    }
    return j;
  }
  Json operator()(const NetworkConfigPush& m) const { return chunk_json(m.chunk, lookup); }
  Json operator()(const MulticastGather& m) const {
    Json j;
    j["nwid"] = id16(m.nwid);
    j["flags"] = m.flags;
    j["group"] = group(m.group);
    j["limit"] = m.limit;
    if (m.com) j["com"] = com_json(*m.com, lookup);
    return j;
  }
  Json operator()(const MulticastFrame& m) const {
    Json j;
    j["nwid"] = id16(m.nwid);
    j["flags"] = m.flags;
    if (m.com) j["com"] = com_json(*m.com, lookup);
    if (m.gather_limit) j["gather_limit"] = *m.gather_limit;
    if (m.source) j["from"] = m.source->to_string();
    j["group"] = group(m.group);
    j["ethertype"] = to_hex(m.ethertype, 4);
    j["payload"] = bytes_json(m.payload);
    return j;
  }
  Json operator()(const PushDirectPaths& m) const {
    Json a = Json::array();
    for (const auto& p : m.paths) {
      Json e;
      e["flags"] = p.flags;
      if (!p.extensions.empty()) e["extensions"] = bytes_json(p.extensions);
      if (p.other_type != 0) {
        e["address_type"] = p.other_type;
        e["address_raw"] = bytes_json(p.other_address);
      } else {
        e["address"] = inet(p.address);
      }
      a.push_back(e);
    }
    return Json{{"paths", a}};
  }
  Json operator()(const Ack& m) const { return Json{{"payload", bytes_json(m.bytes)}}; }
  Json operator()(const QosMeasurement& m) const { return Json{{"payload", bytes_json(m.bytes)}}; }
  Json operator()(const PathNegotiationRequest& m) const { return Json{{"payload", bytes_json(m.bytes)}}; }
  Json operator()(const UserMessage& m) const {
    return Json{{"type_id", id16(m.type_id)}, {"data", bytes_json(m.data)}};
  }
  Json operator()(const RemoteTrace& m) const {
    Json a = Json::array();
    for (ByteSpan d : m.dictionaries) a.push_back(text_bytes(d));
    Json j{{"dictionaries", a}};
    if (!m.unterminated.empty()) j["unterminated"] = bytes_json(m.unterminated);
    return j;
  }
  Json operator()(const UnknownVerb& m) const { return Json{{"payload", bytes_json(m.payload)}}; }
};

struct OkBodyJson {
  const IdentityLookup& lookup;
  Json operator()(const RawBody& b) const { return Json{{"body", bytes_json(b.bytes)}}; }
  Json operator()(const OkHello& o) const {
    Json j;
    j["timestamp"] = o.timestamp;
    j["protocol_version"] = o.protocol_version;
    j["software_version"] = version(o.version_major, o.version_minor, o.version_revision);
    j["observed_from"] = inet(o.observed_from);
    if (o.world_updates) {
      j["world_updates_len"] = o.world_updates->size();
      auto ws = o.worlds();
      if (!ws) {
        j["worlds_error"] = ws.error();
      } else {
        Json a = Json::array();
        for (const auto& w : *ws)
          a.push_back({{"type", int(w.type)}, {"id", id16(w.id)}, {"timestamp", w.timestamp},
                       {"roots", w.roots.size()}, {"signature_valid", w.verify()}});
        j["worlds"] = a;
      }
    }
    return j;
  }
  Json operator()(const OkWhois& o) const {
    Json a = Json::array();
    for (const auto& id : o.identities) a.push_back(id.to_string(false));
    return Json{{"identities", a}};
  }
  Json operator()(const OkEcho& o) const { return Json{{"payload", bytes_json(o.payload)}}; }
  Json operator()(const ConfigChunk& c) const { return chunk_json(c, lookup); }
  Json operator()(const OkMulticastGather& o) const {
    return Json{{"nwid", id16(o.nwid)}, {"group", group(o.group)}, {"gathered", gathered_json(o.gathered)}};
  }
  Json operator()(const OkMulticastFrame& o) const {
    Json j{{"nwid", id16(o.nwid)}, {"group", group(o.group)}, {"flags", o.flags}};
    if (o.com) j["com"] = com_json(*o.com, lookup);
    if (o.gathered) j["gathered"] = gathered_json(*o.gathered);
    return j;
  }
  Json operator()(const OkExtFrame& o) const { return Json{{"nwid", id16(o.nwid)}}; }
};

struct ErrorBodyJson {
  Json operator()(const RawBody& b) const {
    if (b.bytes.empty()) return Json::object();
    return Json{{"body", bytes_json(b.bytes)}};
  }
  Json operator()(const ErrorNetwork& e) const {
    Json j{{"nwid", id16(e.nwid)}};
    if (e.info) j["info"] = text_bytes(*e.info);
    return j;
  }
  Json operator()(const ErrorUnwantedMulticast& e) const {
    return Json{{"nwid", id16(e.nwid)}, {"group", group(e.group)}};
  }
};

}  // namespace

Json bytes_json(ByteSpan b) { return Json{{"len", b.size()}, {"hex", to_hex(b)}}; }

Json message_json(const proto::Message& m, const IdentityLookup& lookup) {
  return std::visit(MessageJson{lookup}, m);
}

Json ok_body_json(const proto::OkMessage::Body& b, const IdentityLookup& lookup) {
  return std::visit(OkBodyJson{lookup}, b);
}

Json error_body_json(const proto::ErrorMessage::Body& b) { return std::visit(ErrorBodyJson{}, b); }

Json hello_moons_json(const proto::HelloMoons& m) {
  Json a = Json::array();
  for (const auto& e : m.moons)
    a.push_back({{"type", int(e.type)}, {"id", id16(e.id)}, {"timestamp", e.timestamp}});
  return a;
}

Json config_ack_json(const proto::NetworkConfigAck& a) {
  return Json{{"nwid", id16(a.nwid)}, {"update_id", id16(a.update_id)}};
}

}  // namespace zt::cli
