// §10.3 JSON rule objects, driven by the rule-type table (rules.hpp). See rules_json.hpp.
#include "proto/rules_json.hpp"

#include <arpa/inet.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <nlohmann/json.hpp>

#include "base/hex.hpp"
#include "proto/inet_address.hpp"

namespace zt::proto {

using json = nlohmann::json;

namespace {

constexpr uint64_t kAddressMask = 0xffffffffffULL;

Error field_error(const char* key, const std::string& what) { return err(std::string("rule.") + key + ": " + what); }

// Largest value a field's wire form holds.
uint64_t wire_max(RuleWire w) {
  switch (w) {
    case RuleWire::U8: return 0xff;
    case RuleWire::U16: return 0xffff;
    case RuleWire::U32: return 0xffffffffu;
    case RuleWire::U40: return kAddressMask;
    default: return UINT64_MAX;
  }
}

// Non-negative integer ≤ max: a JSON integer, or a string of decimal digits (the reference
// accepts both). Absent or null → dflt.
Result<uint64_t> read_uint(const json& j, const char* key, uint64_t max, uint64_t dflt) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return dflt;
  uint64_t v = 0;
  if (it->is_number_unsigned()) {
    v = it->get<uint64_t>();
  } else if (it->is_number_integer()) {
    const int64_t s = it->get<int64_t>();
    if (s < 0) return field_error(key, "must not be negative");
    v = uint64_t(s);
  } else if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    if (s.empty() || s.size() > 20 || s.find_first_not_of("0123456789") != std::string::npos)
      return field_error(key, "expected an integer");
    errno = 0;
    const unsigned long long x = std::strtoull(s.c_str(), nullptr, 10);
    if (errno) return field_error(key, "integer out of range");
    v = x;
  } else {
    return field_error(key, "expected an integer");
  }
  if (v > max) return field_error(key, "must be at most " + std::to_string(max));
  return v;
}

// Hex string (optional 0x prefix, 1..16 digits) or a non-negative JSON integer. Absent → dflt.
Result<uint64_t> read_hex(const json& j, const char* key, uint64_t dflt) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return dflt;
  if (it->is_number_unsigned()) return it->get<uint64_t>();
  if (it->is_number_integer() && it->get<int64_t>() >= 0) return uint64_t(it->get<int64_t>());
  if (it->is_string()) {
    std::string_view s = it->get_ref<const std::string&>();
    if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
    if (auto v = parse_hex_u64(s)) return *v;
  }
  return field_error(key, "expected a hex string");
}

// Booleans are read as the reference reads them (json_lenient_bool): never an error.
Result<bool> read_bool(const json& j, const char* key, bool dflt) {
  auto it = j.find(key);
  if (it == j.end()) return dflt;
  return json_lenient_bool(*it, dflt);
}

Result<std::string_view> read_string(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) return field_error(key, "expected a string");
  return std::string_view(it->get_ref<const std::string&>());
}

// §10.3 MAC: non-hex characters are ignored; exactly 12 hex digits must remain.
Result<Mac> parse_rule_mac(std::string_view s, const char* key) {
  uint64_t v = 0;
  int digits = 0;
  for (char c : s) {
    const int d = (c >= '0' && c <= '9') ? c - '0'
                  : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                  : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                           : -1;
    if (d < 0) continue;
    if (++digits > 12) break;
    v = (v << 4) | uint64_t(d);
  }
  if (digits != 12) return field_error(key, "expected a MAC address (12 hex digits)");
  return Mac(v);
}

// §10.3 "addr/bits": bits capped at 32/128; a bare address is a host match.
bool parse_rule_ip(std::string_view s, bool v6, Rule& r) {
  const size_t slash = s.find('/');
  const std::string host(s.substr(0, slash));
  uint8_t buf[16] = {};
  if (inet_pton(v6 ? AF_INET6 : AF_INET, host.c_str(), buf) != 1) return false;
  const unsigned max = v6 ? 128 : 32;
  unsigned bits = max;
  if (slash != std::string_view::npos) {
    const std::string_view b = s.substr(slash + 1);
    if (b.empty() || b.size() > 5 || b.find_first_not_of("0123456789") != std::string_view::npos) return false;
    bits = std::min<unsigned>(max, unsigned(std::strtoul(std::string(b).c_str(), nullptr, 10)));
  }
  r.ip = {};
  std::memcpy(r.ip.data(), buf, v6 ? 16 : 4);
  r.ip_prefix = uint8_t(bits);
  return true;
}

// "UNKNOWN_<n>" for an unassigned n (the All dialect).
const RuleTypeInfo kUnknownRow{};
std::optional<uint8_t> unknown_type(std::string_view name) {
  constexpr std::string_view prefix = "UNKNOWN_";
  if (name.substr(0, prefix.size()) != prefix) return std::nullopt;
  const std::string_view n = name.substr(prefix.size());
  if (n.empty() || n.size() > 2 || n.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  const unsigned t = unsigned(std::strtoul(std::string(n).c_str(), nullptr, 10));
  if (t >= 64 || rule_type_info(uint8_t(t)) || std::to_string(t) != n) return std::nullopt;
  return uint8_t(t);
}

// One field of `info` from `j` into `r`. `prev` is the previous field's value (range ends).
Status read_field(const json& j, const RuleField& fd, uint64_t prev, Rule& r) {
  const char* key = fd.key;
  switch (fd.json) {
    case RuleJson::None:
      return ok_status();
    case RuleJson::Int:
    case RuleJson::IntOrPrev: {
      auto v = read_uint(j, key, wire_max(fd.wire), fd.json == RuleJson::IntOrPrev ? prev : 0);
      if (!v) return v.take_error();
      rule_field_set(r, fd, *v);
      return ok_status();
    }
    case RuleJson::ZtAddress:
    case RuleJson::Hex64: {
      auto v = read_hex(j, key, 0);
      if (!v) return v.take_error();
      rule_field_set(r, fd, fd.json == RuleJson::ZtAddress ? (*v & kAddressMask) : *v);
      return ok_status();
    }
    case RuleJson::RangeEnd: {
      // The reference keeps end − start truncated to 32 bits (§8.1); absent → start.
      auto v = read_hex(j, key, r.int_start);
      if (!v) return v.take_error();
      r.int_end = r.int_start + uint64_t(uint32_t(*v - r.int_start));
      return ok_status();
    }
    case RuleJson::Mac: {
      auto s = read_string(j, key);
      if (!s) return s.take_error();
      auto m = parse_rule_mac(*s, key);
      if (!m) return m.take_error();
      r.mac = *m;
      return ok_status();
    }
    case RuleJson::IpBits: {
      auto s = read_string(j, key);
      if (!s) return s.take_error();
      const bool v6 = fd.wire == RuleWire::Ipv6Prefix;
      if (!parse_rule_ip(*s, v6, r))
        return field_error(key, std::string("expected an ") + (v6 ? "IPv6" : "IPv4") + " address/bits");
      return ok_status();
    }
    case RuleJson::IcmpCode: {
      auto it = j.find(key);
      if (it == j.end() || it->is_null()) {  // any code
        r.icmp_code = 0;
        r.icmp_flags = 0;
        return ok_status();
      }
      auto v = read_uint(j, key, 0xff, 0);
      if (!v) return v.take_error();
      r.icmp_code = uint8_t(*v);
      r.icmp_flags = 0x01;
      return ok_status();
    }
    case RuleJson::IntFormat: {
      auto bits = read_uint(j, key, 64, 1);
      if (!bits) return bits.take_error();
      if (*bits == 0) return field_error(key, "must be 1..64");
      auto little = read_bool(j, "little", false);
      if (!little) return little.take_error();
      r.int_format = uint8_t((*little ? 0x80 : 0) | ((*bits - 1) & 63));
      return ok_status();
    }
  }
  return ok_status();
}

}  // namespace

Result<Rule> rule_from_json(const json& j, RuleJsonTypes types) {
  if (!j.is_object()) return err("rule: expected an object");
  auto t = j.find("type");
  if (t == j.end() || !t->is_string()) return err("rule.type: expected a string");
  const std::string& name = t->get_ref<const std::string&>();
  Rule r;
  const RuleTypeInfo* info = rule_type_by_name(name);
  if (info && (info->reference_json || types == RuleJsonTypes::All)) {
    r.type = info->type;
  } else if (auto u = types == RuleJsonTypes::All ? unknown_type(name) : std::nullopt) {
    r.type = *u;
    info = &kUnknownRow;  // no fields
  } else {
    return err("rule.type: unsupported rule type '" + name + "'");
  }
  auto neg = read_bool(j, "not", false);
  if (!neg) return neg.take_error();
  auto orr = read_bool(j, "or", false);
  if (!orr) return orr.take_error();
  r.negate = *neg;
  r.or_ = *orr;
  uint64_t prev = 0;
  for (const RuleField& fd : info->fields) {
    if (auto s = read_field(j, fd, prev, r); !s) return s.take_error();
    prev = rule_field_get(r, fd);
  }
  return r;
}

json rule_to_json(const Rule& r) {
  json j = json::object();
  j["type"] = rule_type_name(r.type);
  if (!r.is_action()) {
    j["not"] = r.negate;
    j["or"] = r.or_;
  }
  const RuleTypeInfo* info = rule_type_info(r.type);
  if (!info) {
    j["typeCode"] = r.type & 0x3f;
    return j;
  }
  for (const RuleField& fd : info->fields) {
    const uint64_t v = rule_field_get(r, fd);
    switch (fd.json) {
      case RuleJson::None: break;
      case RuleJson::Int:
      case RuleJson::IntOrPrev: j[fd.key] = v; break;
      case RuleJson::ZtAddress: j[fd.key] = to_hex(v & kAddressMask, 10); break;
      case RuleJson::Hex64: j[fd.key] = to_hex(v, 16); break;
      case RuleJson::RangeEnd: j[fd.key] = to_hex(r.int_start + uint64_t(r.int_span()), 16); break;
      case RuleJson::Mac: j[fd.key] = r.mac.to_string(); break;
      case RuleJson::IpBits: {
        const bool v6 = fd.wire == RuleWire::Ipv6Prefix;
        j[fd.key] = (v6 ? InetAddress::v6(r.ip.data(), r.ip_prefix) : InetAddress::v4(r.ip.data(), r.ip_prefix)).to_string();
        break;
      }
      case RuleJson::IcmpCode:
        if (r.icmp_flags & 0x01) j[fd.key] = v;
        else j[fd.key] = nullptr;
        break;
      case RuleJson::IntFormat:
        j["little"] = r.int_little_endian();
        j[fd.key] = r.int_bits();
        break;
    }
  }
  return j;
}

Result<std::vector<Rule>> rules_from_json(const json& a, size_t max_rules, RuleJsonTypes types) {
  if (!a.is_array()) return err("rules: expected an array of rule objects");
  if (a.size() > max_rules) return err("rules: at most " + std::to_string(max_rules) + " rules");
  std::vector<Rule> out;
  out.reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    auto r = rule_from_json(a[i], types);
    if (!r) return err("[" + std::to_string(i) + "]: " + r.error());
    out.push_back(*r);
  }
  return out;
}

json rules_to_json(std::span<const Rule> rules) {
  json a = json::array();
  for (const Rule& r : rules) a.push_back(rule_to_json(r));
  return a;
}

bool json_lenient_bool(const json& v, bool dflt) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number_unsigned()) return v.get<uint64_t>() != 0;
  if (v.is_number_integer()) return v.get<int64_t>() != 0;
  if (v.is_number_float()) {
    const double d = v.get<double>();
    return d >= 1.0 || d <= -1.0;  // integer part non-zero (NaN: false)
  }
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    return !s.empty() && (s[0] == 't' || s[0] == 'T' || s[0] == '1');
  }
  return dflt;
}

}  // namespace zt::proto
