// Revision rule shared by the backends, and the in-memory backend.
#include "controller/db.hpp"

#include "base/hex.hpp"
#include "controller/objects.hpp"
#include "proto/vl2.hpp"

namespace zt::controller {

bool prepare_put(const json* stored, json& incoming) {
  if (!stored) {
    incoming["revision"] = 1;
    return true;
  }
  json a = *stored, b = incoming;
  a.erase("revision");
  b.erase("revision");
  if (a == b) return false;
  uint64_t rev = 0;
  auto it = stored->find("revision");
  if (it != stored->end() && it->is_number_integer()) rev = it->get<uint64_t>();
  incoming["revision"] = rev + 1;
  return true;
}

std::optional<uint64_t> record_nwid(const json& record) {
  if (!record.is_object()) return std::nullopt;
  for (const char* k : {"nwid", "id"}) {
    auto it = record.find(k);
    if (it != record.end() && it->is_string())
      if (auto v = proto::parse_network_id(it->get_ref<const std::string&>())) return *v;
  }
  return std::nullopt;
}

std::optional<proto::Address> record_address(const json& member) {
  if (!member.is_object()) return std::nullopt;
  for (const char* k : {"address", "id"}) {
    auto it = member.find(k);
    if (it != member.end() && it->is_string() && it->get_ref<const std::string&>().size() == 10)
      if (auto v = parse_hex_u64(it->get_ref<const std::string&>())) return *v;
  }
  return std::nullopt;
}

std::vector<proto::Address> ControllerDb::active_bridges(uint64_t nwid) {
  std::vector<proto::Address> out;
  for (const json& m : members_of(nwid)) {
    auto it = m.find("activeBridge");
    if (it != m.end() && it->is_boolean() && it->get<bool>())
      if (auto a = record_address(m)) out.push_back(*a);
  }
  return out;
}

std::set<proto::InetAddress> ControllerDb::assigned_ips(uint64_t nwid) {
  std::set<proto::InetAddress> out;
  for (const json& m : members_of(nwid))
    for (const std::string& s : member_ip_strings(m))
      if (auto ip = parse_ip(s)) out.insert(*ip);
  return out;
}

std::vector<std::string> member_ip_strings(const json& member) {
  std::vector<std::string> out;
  auto it = member.find("ipAssignments");
  if (it == member.end() || !it->is_array()) return out;
  for (const json& s : *it)
    if (s.is_string()) out.push_back(s.get<std::string>());
  return out;
}

// ---- MemoryControllerDb ---------------------------------------------------------------------

std::vector<uint64_t> MemoryControllerDb::list_networks() {
  std::lock_guard lk(mu_);
  std::vector<uint64_t> out;
  for (auto& [id, n] : networks_) out.push_back(id);
  return out;
}

std::optional<json> MemoryControllerDb::get_network(uint64_t nwid) {
  std::lock_guard lk(mu_);
  auto it = networks_.find(nwid);
  if (it == networks_.end()) return std::nullopt;
  return it->second;
}

Result<PutResult> MemoryControllerDb::put_network(const json& network) {
  auto nwid = record_nwid(network);
  if (!nwid) return err("network record without a valid nwid");
  std::lock_guard lk(mu_);
  auto it = networks_.find(*nwid);
  PutResult r;
  r.stored = network;
  r.changed = prepare_put(it == networks_.end() ? nullptr : &it->second, r.stored);
  if (r.changed) networks_[*nwid] = r.stored;
  else r.stored = it->second;
  return r;
}

Result<std::optional<json>> MemoryControllerDb::delete_network(uint64_t nwid) {
  std::lock_guard lk(mu_);
  members_.erase(nwid);
  auto it = networks_.find(nwid);
  if (it == networks_.end()) return std::optional<json>();
  json old = std::move(it->second);
  networks_.erase(it);
  return std::optional<json>(std::move(old));
}

std::map<proto::Address, uint64_t> MemoryControllerDb::member_revisions(uint64_t nwid) {
  std::lock_guard lk(mu_);
  std::map<proto::Address, uint64_t> out;
  auto it = members_.find(nwid);
  if (it == members_.end()) return out;
  for (auto& [a, m] : it->second) out[a] = m.value("revision", uint64_t(0));
  return out;
}

std::vector<json> MemoryControllerDb::members_of(uint64_t nwid) {
  std::lock_guard lk(mu_);
  std::vector<json> out;
  auto it = members_.find(nwid);
  if (it == members_.end()) return out;
  for (auto& [a, m] : it->second) out.push_back(m);
  return out;
}

std::optional<json> MemoryControllerDb::get_member(uint64_t nwid, proto::Address a) {
  std::lock_guard lk(mu_);
  auto it = members_.find(nwid);
  if (it == members_.end()) return std::nullopt;
  auto m = it->second.find(a);
  if (m == it->second.end()) return std::nullopt;
  return m->second;
}

Result<PutResult> MemoryControllerDb::put_member(const json& member) {
  auto nwid = record_nwid(member);
  auto addr = record_address(member);
  if (!nwid || !addr) return err("member record without a valid nwid/address");
  std::lock_guard lk(mu_);
  auto& net = members_[*nwid];
  auto it = net.find(*addr);
  PutResult r;
  r.stored = member;
  r.changed = prepare_put(it == net.end() ? nullptr : &it->second, r.stored);
  if (r.changed) net[*addr] = r.stored;
  else r.stored = it->second;
  return r;
}

Result<std::optional<json>> MemoryControllerDb::delete_member(uint64_t nwid, proto::Address a) {
  std::lock_guard lk(mu_);
  auto it = members_.find(nwid);
  if (it == members_.end()) return std::optional<json>();
  auto m = it->second.find(a);
  if (m == it->second.end()) return std::optional<json>();
  json old = std::move(m->second);
  it->second.erase(m);
  return std::optional<json>(std::move(old));
}

}  // namespace zt::controller
