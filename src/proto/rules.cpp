#include "proto/rules.hpp"

#include <cstdio>

#include "base/hex.hpp"

namespace zt::proto {
namespace {

// Field length of each known type as the reference writes it (§8.1); -1 = unknown type.
int known_field_length(uint8_t t) {
  switch (RuleType(t)) {
    case RuleType::ActionDrop:
    case RuleType::ActionAccept:
    case RuleType::ActionBreak:
    case RuleType::ActionPriority:
      return 0;
    case RuleType::ActionTee:
    case RuleType::ActionWatch:
    case RuleType::ActionRedirect:
      return 14;
    case RuleType::MatchSourceZeroTierAddress:
    case RuleType::MatchDestZeroTierAddress:
      return 5;
    case RuleType::MatchVlanId:
      return 2;
    case RuleType::MatchVlanPcp:
    case RuleType::MatchVlanDei:
      return 1;
    case RuleType::MatchMacSource:
    case RuleType::MatchMacDest:
      return 6;
    case RuleType::MatchIpv4Source:
    case RuleType::MatchIpv4Dest:
      return 5;
    case RuleType::MatchIpv6Source:
    case RuleType::MatchIpv6Dest:
      return 17;
    case RuleType::MatchIpTos:
      return 3;
    case RuleType::MatchIpProtocol:
      return 1;
    case RuleType::MatchEthertype:
      return 2;
    case RuleType::MatchIcmp:
      return 3;
    case RuleType::MatchIpSourcePortRange:
    case RuleType::MatchIpDestPortRange:
      return 4;
    case RuleType::MatchCharacteristics:
      return 8;
    case RuleType::MatchFrameSizeRange:
      return 4;
    case RuleType::MatchRandom:
      return 4;
    case RuleType::MatchTagsDifference:
    case RuleType::MatchTagsBitwiseAnd:
    case RuleType::MatchTagsBitwiseOr:
    case RuleType::MatchTagsBitwiseXor:
    case RuleType::MatchTagsEqual:
    case RuleType::MatchTagSender:
    case RuleType::MatchTagReceiver:
      return 8;
    case RuleType::MatchIntegerRange:
      return 19;
    default:
      return -1;
  }
}

std::string ip_text(const Rule& r, bool v6) {
  InetAddress a = v6 ? InetAddress::v6(r.ip.data(), r.ip_prefix) : InetAddress::v4(r.ip.data(), r.ip_prefix);
  return a.to_string();
}

std::string fmt(const char* f, unsigned long long v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

}  // namespace

bool Rule::known() const { return known_field_length(type) >= 0; }

uint8_t Rule::field_length() const {
  int n = known_field_length(type);
  return n < 0 ? 0 : uint8_t(n);
}

Result<Rule> Rule::read(Reader& r) {
  uint8_t tb = r.u8();
  uint8_t len = r.u8();
  ByteSpan field = r.bytes(len);
  if (!r.ok()) return err("rule: truncated");
  Rule rule;
  rule.type = tb & 0x3f;
  rule.negate = (tb & 0x80) != 0;
  rule.or_ = (tb & 0x40) != 0;
  int need = known_field_length(rule.type);
  if (need < 0) return rule;  // unknown: kept as type/not/or, field skipped by L
  if (len < need) return err("rule: field too short for type " + std::to_string(rule.type));
  Reader f(field);
  switch (rule.rule_type()) {
    case RuleType::ActionTee:
    case RuleType::ActionWatch:
    case RuleType::ActionRedirect:
      rule.zt = f.u64();
      rule.action_flags = f.u32();
      rule.action_length = f.u16();
      break;
    case RuleType::MatchSourceZeroTierAddress:
    case RuleType::MatchDestZeroTierAddress:
      rule.zt = f.u40();
      break;
    case RuleType::MatchVlanId:
      rule.vlan_id = f.u16();
      break;
    case RuleType::MatchVlanPcp:
      rule.vlan_pcp = f.u8();
      break;
    case RuleType::MatchVlanDei:
      rule.vlan_dei = f.u8();
      break;
    case RuleType::MatchMacSource:
    case RuleType::MatchMacDest:
      rule.mac = Mac::read(f);
      break;
    case RuleType::MatchIpv4Source:
    case RuleType::MatchIpv4Dest: {
      auto ip = f.array<4>();
      std::copy(ip.begin(), ip.end(), rule.ip.begin());
      rule.ip_prefix = f.u8();
      break;
    }
    case RuleType::MatchIpv6Source:
    case RuleType::MatchIpv6Dest:
      rule.ip = f.array<16>();
      rule.ip_prefix = f.u8();
      break;
    case RuleType::MatchIpTos:
      rule.tos_mask = f.u8();
      rule.tos_low = f.u8();
      rule.tos_high = f.u8();
      break;
    case RuleType::MatchIpProtocol:
      rule.ip_protocol = f.u8();
      break;
    case RuleType::MatchEthertype:
      rule.ethertype = f.u16();
      break;
    case RuleType::MatchIcmp:
      rule.icmp_type = f.u8();
      rule.icmp_code = f.u8();
      rule.icmp_flags = f.u8();
      break;
    case RuleType::MatchIpSourcePortRange:
    case RuleType::MatchIpDestPortRange:
    case RuleType::MatchFrameSizeRange:
      rule.range_low = f.u16();
      rule.range_high = f.u16();
      break;
    case RuleType::MatchCharacteristics:
      rule.characteristics = f.u64();
      break;
    case RuleType::MatchRandom:
      rule.probability = f.u32();
      break;
    case RuleType::MatchTagsDifference:
    case RuleType::MatchTagsBitwiseAnd:
    case RuleType::MatchTagsBitwiseOr:
    case RuleType::MatchTagsBitwiseXor:
    case RuleType::MatchTagsEqual:
    case RuleType::MatchTagSender:
    case RuleType::MatchTagReceiver:
      rule.tag_id = f.u32();
      rule.tag_value = f.u32();
      break;
    case RuleType::MatchIntegerRange:
      rule.int_start = f.u64();
      rule.int_end = f.u64();
      rule.int_idx = f.u16();
      rule.int_format = f.u8();
      break;
    default:  // DROP, ACCEPT, BREAK, PRIORITY: no fields
      break;
  }
  if (!f.ok()) return err("rule: field truncated");  // unreachable: len >= need checked
  return rule;
}

void Rule::write(Writer& w) const {
  w.u8(uint8_t((type & 0x3f) | (negate ? 0x80 : 0) | (or_ ? 0x40 : 0)));
  w.u8(field_length());
  switch (rule_type()) {
    case RuleType::ActionTee:
    case RuleType::ActionWatch:
    case RuleType::ActionRedirect:
      w.u64(zt).u32(action_flags).u16(action_length);
      break;
    case RuleType::MatchSourceZeroTierAddress:
    case RuleType::MatchDestZeroTierAddress:
      w.u40(zt & 0xffffffffffULL);
      break;
    case RuleType::MatchVlanId:
      w.u16(vlan_id);
      break;
    case RuleType::MatchVlanPcp:
      w.u8(vlan_pcp);
      break;
    case RuleType::MatchVlanDei:
      w.u8(vlan_dei);
      break;
    case RuleType::MatchMacSource:
    case RuleType::MatchMacDest:
      mac.write(w);
      break;
    case RuleType::MatchIpv4Source:
    case RuleType::MatchIpv4Dest:
      w.bytes(ByteSpan(ip.data(), 4)).u8(ip_prefix);
      break;
    case RuleType::MatchIpv6Source:
    case RuleType::MatchIpv6Dest:
      w.bytes(ByteSpan(ip.data(), 16)).u8(ip_prefix);
      break;
    case RuleType::MatchIpTos:
      w.u8(tos_mask).u8(tos_low).u8(tos_high);
      break;
    case RuleType::MatchIpProtocol:
      w.u8(ip_protocol);
      break;
    case RuleType::MatchEthertype:
      w.u16(ethertype);
      break;
    case RuleType::MatchIcmp:
      w.u8(icmp_type).u8(icmp_code).u8(icmp_flags);
      break;
    case RuleType::MatchIpSourcePortRange:
    case RuleType::MatchIpDestPortRange:
    case RuleType::MatchFrameSizeRange:
      w.u16(range_low).u16(range_high);
      break;
    case RuleType::MatchCharacteristics:
      w.u64(characteristics);
      break;
    case RuleType::MatchRandom:
      w.u32(probability);
      break;
    case RuleType::MatchTagsDifference:
    case RuleType::MatchTagsBitwiseAnd:
    case RuleType::MatchTagsBitwiseOr:
    case RuleType::MatchTagsBitwiseXor:
    case RuleType::MatchTagsEqual:
    case RuleType::MatchTagSender:
    case RuleType::MatchTagReceiver:
      w.u32(tag_id).u32(tag_value);
      break;
    case RuleType::MatchIntegerRange:
      w.u64(int_start).u64(int_end).u16(int_idx).u8(int_format);
      break;
    default:  // L = 0
      break;
  }
}

std::string rule_type_name(uint8_t type) {
  switch (RuleType(type & 0x3f)) {
    case RuleType::ActionDrop: return "ACTION_DROP";
    case RuleType::ActionAccept: return "ACTION_ACCEPT";
    case RuleType::ActionTee: return "ACTION_TEE";
    case RuleType::ActionWatch: return "ACTION_WATCH";
    case RuleType::ActionRedirect: return "ACTION_REDIRECT";
    case RuleType::ActionBreak: return "ACTION_BREAK";
    case RuleType::ActionPriority: return "ACTION_PRIORITY";
    case RuleType::MatchSourceZeroTierAddress: return "MATCH_SOURCE_ZEROTIER_ADDRESS";
    case RuleType::MatchDestZeroTierAddress: return "MATCH_DEST_ZEROTIER_ADDRESS";
    case RuleType::MatchVlanId: return "MATCH_VLAN_ID";
    case RuleType::MatchVlanPcp: return "MATCH_VLAN_PCP";
    case RuleType::MatchVlanDei: return "MATCH_VLAN_DEI";
    case RuleType::MatchMacSource: return "MATCH_MAC_SOURCE";
    case RuleType::MatchMacDest: return "MATCH_MAC_DEST";
    case RuleType::MatchIpv4Source: return "MATCH_IPV4_SOURCE";
    case RuleType::MatchIpv4Dest: return "MATCH_IPV4_DEST";
    case RuleType::MatchIpv6Source: return "MATCH_IPV6_SOURCE";
    case RuleType::MatchIpv6Dest: return "MATCH_IPV6_DEST";
    case RuleType::MatchIpTos: return "MATCH_IP_TOS";
    case RuleType::MatchIpProtocol: return "MATCH_IP_PROTOCOL";
    case RuleType::MatchEthertype: return "MATCH_ETHERTYPE";
    case RuleType::MatchIcmp: return "MATCH_ICMP";
    case RuleType::MatchIpSourcePortRange: return "MATCH_IP_SOURCE_PORT_RANGE";
    case RuleType::MatchIpDestPortRange: return "MATCH_IP_DEST_PORT_RANGE";
    case RuleType::MatchCharacteristics: return "MATCH_CHARACTERISTICS";
    case RuleType::MatchFrameSizeRange: return "MATCH_FRAME_SIZE_RANGE";
    case RuleType::MatchRandom: return "MATCH_RANDOM";
    case RuleType::MatchTagsDifference: return "MATCH_TAGS_DIFFERENCE";
    case RuleType::MatchTagsBitwiseAnd: return "MATCH_TAGS_BITWISE_AND";
    case RuleType::MatchTagsBitwiseOr: return "MATCH_TAGS_BITWISE_OR";
    case RuleType::MatchTagsBitwiseXor: return "MATCH_TAGS_BITWISE_XOR";
    case RuleType::MatchTagsEqual: return "MATCH_TAGS_EQUAL";
    case RuleType::MatchTagSender: return "MATCH_TAG_SENDER";
    case RuleType::MatchTagReceiver: return "MATCH_TAG_RECEIVER";
    case RuleType::MatchIntegerRange: return "INTEGER_RANGE";
    default: return "UNKNOWN_" + std::to_string(type & 0x3f);
  }
}

Result<std::vector<Rule>> read_rules(Reader& r, size_t count, size_t max_rules) {
  if (count > max_rules)
    return err("rules: count " + std::to_string(count) + " exceeds limit " + std::to_string(max_rules));
  std::vector<Rule> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    auto rule = Rule::read(r);
    if (!rule) return rule.take_error();
    out.push_back(*rule);
  }
  return out;
}

Result<std::vector<Rule>> parse_rules(ByteSpan bytes, size_t max_rules) {
  Reader r(bytes);
  std::vector<Rule> out;
  while (r.remaining() > 0) {
    if (out.size() >= max_rules) return err("rules: more than " + std::to_string(max_rules));
    auto rule = Rule::read(r);
    if (!rule) return rule.take_error();
    out.push_back(*rule);
  }
  return out;
}

void write_rules(Writer& w, const std::vector<Rule>& rules) {
  for (const auto& r : rules) r.write(w);
}

Bytes serialize_rules(const std::vector<Rule>& rules) {
  Writer w;
  write_rules(w, rules);
  return w.take();
}

std::string describe(const Rule& r) {
  std::string s;
  if (!r.is_action()) {  // the reference renders not/or only on matches
    if (r.or_) s += "or ";
    if (r.negate) s += "not ";
  }
  s += rule_type_name(r.type);
  switch (r.rule_type()) {
    case RuleType::ActionTee:
    case RuleType::ActionWatch:
      s += " address=" + to_hex(r.zt & 0xffffffffffULL, 10) + " flags=" + fmt("0x%llx", r.action_flags) +
           " length=" + std::to_string(r.action_length);
      break;
    case RuleType::ActionRedirect:
      s += " address=" + to_hex(r.zt & 0xffffffffffULL, 10) + " flags=" + fmt("0x%llx", r.action_flags);
      break;
    case RuleType::MatchSourceZeroTierAddress:
    case RuleType::MatchDestZeroTierAddress:
      s += " zt=" + to_hex(r.zt, 10);
      break;
    case RuleType::MatchVlanId: s += " vlanId=" + std::to_string(r.vlan_id); break;
    case RuleType::MatchVlanPcp: s += " vlanPcp=" + std::to_string(r.vlan_pcp); break;
    case RuleType::MatchVlanDei: s += " vlanDei=" + std::to_string(r.vlan_dei); break;
    case RuleType::MatchMacSource:
    case RuleType::MatchMacDest:
      s += " mac=" + r.mac.to_string();
      break;
    case RuleType::MatchIpv4Source:
    case RuleType::MatchIpv4Dest:
      s += " ip=" + ip_text(r, false);
      break;
    case RuleType::MatchIpv6Source:
    case RuleType::MatchIpv6Dest:
      s += " ip=" + ip_text(r, true);
      break;
    case RuleType::MatchIpTos:
      s += " mask=" + fmt("0x%02llx", r.tos_mask) + " start=" + std::to_string(r.tos_low) +
           " end=" + std::to_string(r.tos_high);
      break;
    case RuleType::MatchIpProtocol: s += " ipProtocol=" + std::to_string(r.ip_protocol); break;
    case RuleType::MatchEthertype: s += " etherType=" + fmt("0x%04llx", r.ethertype); break;
    case RuleType::MatchIcmp:
      s += " icmpType=" + std::to_string(r.icmp_type) +
           " icmpCode=" + ((r.icmp_flags & 1) ? std::to_string(r.icmp_code) : std::string("any"));
      break;
    case RuleType::MatchIpSourcePortRange:
    case RuleType::MatchIpDestPortRange:
    case RuleType::MatchFrameSizeRange:
      s += " start=" + std::to_string(r.range_low) + " end=" + std::to_string(r.range_high);
      break;
    case RuleType::MatchCharacteristics: s += " mask=" + to_hex(r.characteristics, 16); break;
    case RuleType::MatchRandom: s += " probability=" + std::to_string(r.probability); break;
    case RuleType::MatchTagsDifference:
    case RuleType::MatchTagsBitwiseAnd:
    case RuleType::MatchTagsBitwiseOr:
    case RuleType::MatchTagsBitwiseXor:
    case RuleType::MatchTagsEqual:
    case RuleType::MatchTagSender:
    case RuleType::MatchTagReceiver:
      s += " id=" + std::to_string(r.tag_id) + " value=" + std::to_string(r.tag_value);
      break;
    case RuleType::MatchIntegerRange:
      s += " start=" + to_hex(r.int_start, 16) + " end=" + to_hex(r.int_end, 16) +
           " idx=" + std::to_string(r.int_idx) + " bits=" + std::to_string(r.int_bits()) +
           (r.int_little_endian() ? " little" : "");
      break;
    default:
      break;
  }
  return s;
}

}  // namespace zt::proto
