// Rules language compiler (see rules_compiler.hpp, docs/RULES.md). Three passes, as the
// language is defined: (1) split the text into whitespace-separated tokens and group them into
// blocks (an opening keyword starts a block, a token ending in ';' closes the innermost
// non-empty one); (2) collect macro/tag/cap definitions and the base statements; (3) render
// capabilities then base rules into JSON rule objects.
#include "proto/rules_compiler.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <vector>

#include "proto/inet_address.hpp"

namespace zt::proto {

std::string RulesCompileError::to_string() const {
  return std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

namespace {

using json = nlohmann::json;

constexpr int kMaxMacroDepth = 32;
// Bounds on what macro expansion may produce (macros including others several times grow
// exponentially): rules in one list and macro inclusions in the whole text.
constexpr size_t kMaxOutputRules = 16384;
constexpr size_t kMaxIncludes = 16384;

const std::set<std::string, std::less<>> kOpenBlock = {"macro", "tag",      "cap",   "drop",     "accept",
                                                       "tee",   "watch",    "redirect", "break", "priority"};

const std::set<std::string, std::less<>> kReserved = {
    "macro",    "tag",   "cap",       "default", "drop",     "accept",     "tee",  "watch",    "redirect",
    "break",    "priority", "ztsrc",  "ztdest",  "vlan",     "vlanpcp",    "vlandei", "ethertype", "macsrc",
    "macdest",  "ipsrc", "ipdest",    "iptos",   "ipprotocol", "icmp",     "sport", "dport",   "chr",
    "framesize", "random", "tand",    "tor",     "txor",     "tdiff",      "teq",  "tseq",     "treq",
    "type",     "enum",  "class",     "define",  "import",   "include",    "log",  "not",      "xor",
    "or",       "and",   "set",       "var",     "let"};

const std::map<std::string, int, std::less<>> kChrBits = {
    {"inbound", 63}, {"multicast", 62}, {"broadcast", 61}, {"ipauth", 60},  {"macauth", 59},
    {"tcp_fin", 0},  {"tcp_syn", 1},    {"tcp_rst", 2},    {"tcp_psh", 3},  {"tcp_ack", 4},
    {"tcp_urg", 5},  {"tcp_ece", 6},    {"tcp_cwr", 7},    {"tcp_ns", 8},   {"tcp_rs2", 9},
    {"tcp_rs1", 10}, {"tcp_rs0", 11}};

const std::map<std::string, uint32_t, std::less<>> kEtherTypes = {
    {"ipv4", 0x0800}, {"arp", 0x0806},  {"wol", 0x0842},   {"rarp", 0x8035}, {"ipv6", 0x86dd},
    {"atalk", 0x809b}, {"aarp", 0x80f3}, {"ipx_a", 0x8137}, {"ipx_b", 0x8138}};

const std::map<std::string, uint32_t, std::less<>> kIpProtocols = {
    {"icmp", 1},  {"icmp4", 1}, {"icmpv4", 1}, {"igmp", 2},   {"ipip", 4},   {"tcp", 6},
    {"egp", 8},   {"igp", 9},   {"udp", 17},   {"rdp", 27},   {"esp", 50},   {"ah", 51},
    {"icmp6", 58}, {"icmpv6", 58}, {"l2tp", 115}, {"sctp", 132}, {"udplite", 136}};

struct MatchInfo {
  const char* type;
  int args;
};
const std::map<std::string, MatchInfo, std::less<>> kMatches = {
    {"ztsrc", {"MATCH_SOURCE_ZEROTIER_ADDRESS", 1}},
    {"ztdest", {"MATCH_DEST_ZEROTIER_ADDRESS", 1}},
    {"vlan", {"MATCH_VLAN_ID", 1}},
    {"vlanpcp", {"MATCH_VLAN_PCP", 1}},
    {"vlandei", {"MATCH_VLAN_DEI", 1}},
    {"ethertype", {"MATCH_ETHERTYPE", 1}},
    {"macsrc", {"MATCH_MAC_SOURCE", 1}},
    {"macdest", {"MATCH_MAC_DEST", 1}},
    {"ipsrc", {nullptr, 1}},
    {"ipdest", {nullptr, 1}},
    {"iptos", {"MATCH_IP_TOS", 2}},
    {"ipprotocol", {"MATCH_IP_PROTOCOL", 1}},
    {"icmp", {"MATCH_ICMP", 2}},
    {"sport", {"MATCH_IP_SOURCE_PORT_RANGE", 1}},
    {"dport", {"MATCH_IP_DEST_PORT_RANGE", 1}},
    {"chr", {"MATCH_CHARACTERISTICS", 1}},
    {"framesize", {"MATCH_FRAME_SIZE_RANGE", 1}},
    {"random", {"MATCH_RANDOM", 1}},
    {"tand", {"MATCH_TAGS_BITWISE_AND", 2}},
    {"tor", {"MATCH_TAGS_BITWISE_OR", 2}},
    {"txor", {"MATCH_TAGS_BITWISE_XOR", 2}},
    {"tdiff", {"MATCH_TAGS_DIFFERENCE", 2}},
    {"teq", {"MATCH_TAGS_EQUAL", 2}},
    {"tseq", {"MATCH_TAG_SENDER", 2}},
    {"treq", {"MATCH_TAG_RECEIVER", 2}},
};

// A token or a block of items.
struct Item {
  bool block = false;
  std::string text;
  int line = 0;
  int col = 0;
  std::vector<Item> kids;
};

struct Fail {
  int line;
  int col;
  std::string message;
};

std::string lower(std::string_view s) {
  std::string r(s);
  for (auto& c : r)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return r;
}

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Decimal or 0x-hex, at most 0xffffffff. No sign, no trailing characters.
std::optional<uint32_t> parse_num(std::string_view s) {
  uint64_t v = 0;
  size_t i = 0;
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    i = 2;
  }
  if (i >= s.size()) return std::nullopt;
  for (; i < s.size(); ++i) {
    char c = s[i];
    unsigned d;
    if (c >= '0' && c <= '9')
      d = static_cast<unsigned>(c - '0');
    else if (base == 16 && c >= 'a' && c <= 'f')
      d = static_cast<unsigned>(c - 'a' + 10);
    else if (base == 16 && c >= 'A' && c <= 'F')
      d = static_cast<unsigned>(c - 'A' + 10);
    else
      return std::nullopt;
    v = v * static_cast<unsigned>(base) + d;
    if (v > 0xffffffffULL) return std::nullopt;
  }
  return static_cast<uint32_t>(v);
}

bool valid_name(std::string_view n) {
  if (n.empty() || (n[0] >= '0' && n[0] <= '9')) return false;
  for (char c : n) {
    auto u = static_cast<unsigned char>(c);
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || u >= 0x80;
    if (!ok) return false;
  }
  return true;
}

// "name(a,b)" → name and the non-empty pieces between the parentheses and commas.
void split_call(const std::string& s, std::string& name, std::vector<std::string>& args) {
  auto p = s.find('(');
  if (p == std::string::npos || p == 0) {
    name = s;
    return;
  }
  name = s.substr(0, p);
  std::string cur;
  for (size_t i = p + 1; i < s.size(); ++i) {
    if (s[i] == ',' || s[i] == ')') {
      if (!cur.empty()) args.push_back(cur);
      cur.clear();
    } else {
      cur += s[i];
    }
  }
  if (!cur.empty()) args.push_back(cur);
}

// Pass 1.
std::vector<Item> parse_tree(std::string_view src) {
  std::vector<std::vector<Item>> stack(1);
  auto close_top = [&] {
    Item b;
    b.block = true;
    b.kids = std::move(stack.back());
    b.line = b.kids.front().line;
    b.col = b.kids.front().col;
    stack.pop_back();
    stack.back().push_back(std::move(b));
  };
  auto take = [&](std::string tok, int line, int col, bool at_eof) {
    bool end = !tok.empty() && tok.back() == ';';
    if (end) tok.pop_back();
    bool opens = kOpenBlock.count(tok) != 0;  // case-sensitive, as the reference
    if (!tok.empty()) stack.back().push_back(Item{false, tok, line, col, {}});
    if (at_eof) return;
    // Unlike the reference, an action written with its ';' ("drop;") opens no block and a ';'
    // alone closes an empty block: there "drop; accept;" swallows "accept" as a match of drop.
    if (end && stack.size() > 1) {
      if (stack.back().empty())
        stack.pop_back();
      else
        close_top();
    } else if (opens && !end) {
      stack.emplace_back();
    }
  };
  std::string cur;
  int cur_line = 0, cur_col = 0;
  int line = 1, col = 0;
  for (size_t i = 0; i < src.size(); ++i) {
    char c = src[i];
    ++col;
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      if (!cur.empty()) take(std::move(cur), cur_line, cur_col, false);
      cur.clear();
      if (c == '\n') {
        ++line;
        col = 0;
      }
      continue;
    }
    if (cur.empty() && c == '#') {
      while (i + 1 < src.size() && src[i + 1] != '\n') ++i;
      continue;
    }
    if (cur.empty()) {
      cur_line = line;
      cur_col = col;
    }
    cur += c;
  }
  if (!cur.empty()) take(std::move(cur), cur_line, cur_col, true);
  while (stack.size() > 1) {
    if (stack.back().empty())
      stack.pop_back();
    else
      close_top();
  }
  return std::move(stack.front());
}

struct Macro {
  std::map<std::string, size_t> params;  // "$name" → index
  std::vector<Item> rules;
};
struct Tag {
  uint32_t id = 0;
  std::optional<uint32_t> dflt;
  std::map<std::string, uint32_t> enums;
  std::map<std::string, uint32_t> flags;
};
struct Cap {
  std::string name;
  uint32_t id = 0;
  bool dflt = false;
  std::vector<Item> src;
  json rules = json::array();
};

class Compiler {
 public:
  std::map<std::string, Macro> macros;
  std::vector<std::pair<std::string, Tag>> tags;  // definition order
  std::vector<Cap> caps;
  size_t includes = 0;

  const Tag* find_tag(const std::string& n) const {
    for (const auto& [name, t] : tags)
      if (name == n) return &t;
    return nullptr;
  }

  std::optional<Fail> define(const std::vector<Item>& parsed, std::vector<Item>& base) {
    for (size_t i = 0; i < parsed.size(); ++i) {
      const Item& it = parsed[i];
      std::string kw = it.block ? std::string() : lower(it.text);
      if (kw != "macro" && kw != "tag" && kw != "cap") {
        base.push_back(it);
        continue;
      }
      if (i + 1 >= parsed.size() || !parsed[i + 1].block || parsed[i + 1].kids.front().block) {
        std::string what = kw == "macro" ? "Macro" : kw == "tag" ? "Tag" : "Capability";
        return Fail{it.line, it.col, what + " definition is missing name."};
      }
      const Item& def = parsed[++i];
      const Item& nm = def.kids.front();
      if (kw == "macro") {
        if (auto f = define_macro(def, nm)) return f;
      } else if (kw == "tag") {
        if (auto f = define_tag(def, nm)) return f;
      } else {
        if (auto f = define_cap(def, nm)) return f;
      }
    }
    return std::nullopt;
  }

  std::optional<Fail> define_macro(const Item& def, const Item& nm) {
    std::string name;
    std::vector<std::string> params;
    split_call(lower(nm.text), name, params);
    if (!valid_name(name)) return Fail{nm.line, nm.col, "Invalid macro name."};
    if (kReserved.count(name)) return Fail{nm.line, nm.col, "Macro name is a reserved word."};
    if (macros.count(name)) return Fail{nm.line, nm.col, "Multiple definition of macro name."};
    Macro m;
    for (size_t k = 0; k < params.size(); ++k) m.params.emplace(params[k], k);
    m.rules.assign(def.kids.begin() + 1, def.kids.end());
    macros.emplace(name, std::move(m));
    return std::nullopt;
  }

  std::optional<Fail> define_tag(const Item& def, const Item& nm) {
    std::string name = lower(nm.text);
    if (!valid_name(name)) return Fail{nm.line, nm.col, "Invalid tag name."};
    if (kReserved.count(name)) return Fail{nm.line, nm.col, "Tag name is a reserved word."};
    if (find_tag(name)) return Fail{nm.line, nm.col, "Multiple definition of tag name."};
    Tag t;
    bool have_id = false;
    const Item* dflt = nullptr;
    const auto& v = def.kids;
    for (size_t k = 1; k < v.size(); ++k) {
      const Item& w = v[k];
      std::string kw = w.block ? std::string() : lower(w.text);
      auto tok_at = [&](size_t j) { return j < v.size() && !v[j].block; };
      if (kw == "id") {
        if (have_id) return Fail{w.line, w.col, "Duplicate tag id definition."};
        if (!tok_at(k + 1)) return Fail{w.line, w.col, "Missing numeric value for ID."};
        auto n = parse_num(v[++k].text);
        if (!n) return Fail{v[k].line, v[k].col, "Invalid or out of range tag ID."};
        t.id = *n;
        have_id = true;
      } else if (kw == "default") {
        if (dflt) return Fail{w.line, w.col, "Duplicate tag default directive."};
        if (!tok_at(k + 1)) return Fail{w.line, w.col, "Missing value for default."};
        dflt = &v[++k];
      } else if (kw == "flag") {
        if (!tok_at(k + 1) || !tok_at(k + 2)) return Fail{w.line, w.col, "Missing tag flag name or bit index."};
        const Item& bits = v[++k];
        uint32_t mask = 0;
        std::string piece;
        std::string b = bits.text + ",";
        for (char c : b) {
          if (c != ',') {
            piece += c;
            continue;
          }
          if (piece.empty()) continue;
          std::string lp = lower(piece);
          piece.clear();
          if (auto f = t.flags.find(lp); f != t.flags.end()) {
            mask |= f->second;
            continue;
          }
          auto n = parse_num(lp);
          if (!n || *n > 31)
            return Fail{bits.line, bits.col, "Bit index invalid, out of range, or references an undefined flag name."};
          mask |= 1U << *n;
        }
        const Item& fn = v[++k];
        std::string fname = lower(fn.text);
        if (!valid_name(fname)) return Fail{fn.line, fn.col, "Invalid or reserved flag name."};
        if (t.flags.count(fname)) return Fail{fn.line, fn.col, "Duplicate flag name in tag definition."};
        t.flags[fname] = mask;
      } else if (kw == "enum") {
        if (!tok_at(k + 1) || !tok_at(k + 2)) return Fail{w.line, w.col, "Missing tag enum name or value."};
        const Item& val = v[++k];
        auto n = parse_num(val.text);
        if (!n) return Fail{val.line, val.col, "Tag enum value invalid or out of range."};
        const Item& en = v[++k];
        std::string ename = lower(en.text);
        if (!valid_name(ename)) return Fail{en.line, en.col, "Invalid or reserved tag enum name."};
        if (t.enums.count(ename)) return Fail{en.line, en.col, "Duplicate enum name in tag definition."};
        t.enums[ename] = *n;
      } else {
        return Fail{w.line, w.col, "Unrecognized keyword in tag definition."};
      }
    }
    if (!have_id) return Fail{nm.line, nm.col, "Tag definition is missing a numeric ID."};
    if (dflt) {
      // Enum names first, then flag names, then a number (the reference's order).
      if (auto e = t.enums.find(dflt->text); e != t.enums.end())
        t.dflt = e->second;
      else if (auto f = t.flags.find(dflt->text); f != t.flags.end())
        t.dflt = f->second;
      else if (auto n = parse_num(dflt->text))
        t.dflt = *n;
      else
        return Fail{dflt->line, dflt->col, "Invalid tag default (not a number or a flag/enum name of this tag)."};
    }
    tags.emplace_back(name, std::move(t));
    return std::nullopt;
  }

  std::optional<Fail> define_cap(const Item& def, const Item& nm) {
    std::string name = lower(nm.text);
    if (!valid_name(name)) return Fail{nm.line, nm.col, "Invalid capability name."};
    if (kReserved.count(name)) return Fail{nm.line, nm.col, "Capability name is a reserved word."};
    for (const auto& c : caps)
      if (c.name == name) return Fail{nm.line, nm.col, "Multiple definition of capability name."};
    Cap cap;
    cap.name = name;
    bool have_id = false;
    const auto& v = def.kids;
    for (size_t k = 1; k < v.size(); ++k) {
      const Item& w = v[k];
      std::string kw = w.block ? std::string() : lower(w.text);
      if (kw == "id") {
        if (have_id) return Fail{w.line, w.col, "Duplicate id directive in capability definition."};
        if (k + 1 >= v.size() || v[k + 1].block) return Fail{w.line, w.col, "Missing value for ID."};
        auto n = parse_num(v[++k].text);
        if (!n) return Fail{w.line, w.col, "Invalid or out of range capability ID."};
        for (const auto& c : caps)
          if (c.id == *n) return Fail{w.line, w.col, "Duplicate capability ID."};
        cap.id = *n;
        have_id = true;
      } else if (kw == "default") {
        cap.dflt = true;
      } else {
        cap.src.push_back(w);
      }
    }
    if (!have_id) return Fail{nm.line, nm.col, "Capability definition is missing a numeric ID."};
    caps.push_back(std::move(cap));
    return std::nullopt;
  }

  using Params = std::map<std::string, std::string>;

  std::optional<Fail> render_actions(const std::vector<Item>& v, json& out, const Params& params, int depth) {
    for (size_t k = 0; k < v.size(); ++k) {
      const Item& it = v[k];
      if (it.block) continue;
      if (out.size() > kMaxOutputRules) return Fail{it.line, it.col, "Too many rules (more than 16384)."};
      std::string a = lower(it.text);
      auto block_next = [&](size_t min) { return k + 1 < v.size() && v[k + 1].block && v[k + 1].kids.size() >= min; };
      if (a == "include") {
        if (k + 1 >= v.size() || v[k + 1].block)
          return Fail{it.line, it.col, "Include directive is missing a macro name."};
        const Item& call = v[++k];
        std::string name;
        std::vector<std::string> args;
        split_call(call.text, name, args);
        auto m = macros.find(name);
        if (m == macros.end()) return Fail{call.line, call.col, "Macro name not found."};
        Params mp;
        for (const auto& [p, idx] : m->second.params) {
          if (idx >= args.size()) return Fail{call.line, call.col, "Missing one or more required macro parameter."};
          mp[p] = args[idx];
        }
        if (++includes > kMaxIncludes)
          return Fail{call.line, call.col, "Too many macro inclusions (more than 16384)."};
        if (depth >= kMaxMacroDepth)
          return Fail{call.line, call.col, "Macros included too deeply (a macro includes itself?)."};
        if (auto f = render_actions(m->second.rules, out, mp, depth + 1)) return f;
      } else if (a == "drop" || a == "accept" || a == "break") {
        if (block_next(1)) {
          if (auto f = render_matches(v[++k].kids, 0, out, params)) return f;
        }
        out.push_back({{"type", a == "drop" ? "ACTION_DROP" : a == "accept" ? "ACTION_ACCEPT" : "ACTION_BREAK"}});
      } else if (a == "tee" || a == "watch") {
        if (!block_next(2) || v[k + 1].kids[0].block || v[k + 1].kids[1].block)
          return Fail{it.line, it.col,
                      "The tee and watch actions require two parameters (max length or 0 for all, target)."};
        const auto& m = v[++k].kids;
        int64_t len;
        if (m[0].text == "-1") {
          len = 0xffff;  // "whole frame": what the reference controller keeps of -1 (a 16-bit field)
        } else {
          auto n = parse_num(m[0].text);
          if (!n || *n > 0xffff)
            return Fail{m[0].line, m[0].col, "Tee/watch max packet length to forward invalid or out of range."};
          len = *n;
        }
        auto addr = zt_address(m[1].text);
        if (!addr) return Fail{m[1].line, m[1].col, "Missing or invalid ZeroTier address target for tee/watch."};
        if (auto f = render_matches(m, 2, out, params)) return f;
        out.push_back({{"type", a == "tee" ? "ACTION_TEE" : "ACTION_WATCH"}, {"address", *addr}, {"length", len}});
      } else if (a == "redirect") {
        if (!block_next(1) || v[k + 1].kids[0].block)
          return Fail{it.line, it.col, "The redirect action requires a target parameter."};
        const auto& m = v[++k].kids;
        auto addr = zt_address(m[0].text);
        if (!addr) return Fail{m[0].line, m[0].col, "Missing or invalid ZeroTier address target for redirect."};
        if (auto f = render_matches(m, 1, out, params)) return f;
        out.push_back({{"type", "ACTION_REDIRECT"}, {"address", *addr}});
      } else {
        return Fail{it.line, it.col, "Unrecognized action or directive in rule set."};
      }
    }
    return std::nullopt;
  }

  static std::optional<std::string> zt_address(const std::string& s) {
    if (s.size() != 10) return std::nullopt;
    for (char c : s)
      if (!is_hex(c)) return std::nullopt;
    return lower(s);
  }

  // "N" or "N-M" within [0, max], M >= N.
  static bool parse_range(const std::string& s, uint32_t max, uint32_t& a, uint32_t& b) {
    auto d = s.find('-');
    std::optional<uint32_t> x, y;
    if (d != std::string::npos && d > 0) {
      if (s.find('-', d + 1) != std::string::npos) return false;
      x = parse_num(std::string_view(s).substr(0, d));
      y = parse_num(std::string_view(s).substr(d + 1));
    } else {
      x = y = parse_num(s);
    }
    if (!x || !y || *x > max || *y > max || *y < *x) return false;
    a = *x;
    b = *y;
    return true;
  }

  // Turns the arguments of match `m` into the fields of its JSON rule `r`.
  std::optional<Fail> match_arguments(const std::string& m, const std::vector<Item>& args, json& r) {
    const Item& a0 = args[0];
    const std::string& s0 = a0.text;
    auto bad = [&](const Item& at, const char* msg) { return Fail{at.line, at.col, msg}; };
    if (m == "ztsrc" || m == "ztdest") {
      auto z = zt_address(s0);
      if (!z) return bad(a0, "Invalid ZeroTier address.");
      r["zt"] = *z;
    } else if (m == "vlan" || m == "vlanpcp" || m == "vlandei" || m == "ethertype" || m == "ipprotocol") {
      std::optional<uint32_t> num;
      if (m == "ethertype") {
        if (auto e = kEtherTypes.find(s0); e != kEtherTypes.end()) num = e->second;
      } else if (m == "ipprotocol") {
        if (auto e = kIpProtocols.find(s0); e != kIpProtocols.end()) num = e->second;
      }
      if (!num) num = parse_num(s0);
      uint32_t max = (m == "vlan" || m == "ethertype") ? 0xffff : 0xff;
      if (!num || *num > max) return bad(a0, "Invalid numeric value.");
      const char* key = m == "vlan"        ? "vlanId"
                        : m == "vlanpcp"   ? "vlanPcp"
                        : m == "vlandei"   ? "vlanDei"
                        : m == "ethertype" ? "etherType"
                                           : "ipProtocol";
      r[key] = *num;
    } else if (m == "random") {
      char* end = nullptr;
      double p = std::strtod(s0.c_str(), &end);
      if (end == s0.c_str() || *end != '\0' || std::isnan(p))
        return bad(a0, "Invalid probability (a number from 0.0 to 1.0).");
      p = std::clamp(p, 0.0, 1.0);
      r["probability"] = static_cast<uint32_t>(std::floor(4294967295.0 * p));
    } else if (m == "macsrc" || m == "macdest") {
      std::string hex;
      for (char c : s0) {
        if (is_hex(c))
          hex += c;
        else if (c != ':' && c != '-' && c != '.')
          return bad(a0, "Invalid MAC address.");
      }
      if (hex.size() != 12) return bad(a0, "Invalid MAC address.");
      hex = lower(hex);
      std::string mac;
      for (size_t i = 0; i < 12; i += 2) mac += (i ? ":" : "") + hex.substr(i, 2);
      r["mac"] = mac;
    } else if (m == "ipsrc" || m == "ipdest") {
      auto slash = s0.find('/');
      if (slash == std::string::npos || slash == 0)
        return bad(a0, "Missing /bits netmask length designation in IP.");
      std::string ip = s0.substr(0, slash);
      auto bits = parse_num(std::string_view(s0).substr(slash + 1));
      bool v6 = ip.find(':') != std::string::npos;
      auto addr = InetAddress::parse(ip);
      if (!addr || addr->is_v6() != v6 || ip.find('[') != std::string::npos) return bad(a0, "Invalid IP address (not valid IPv4 or IPv6).");
      if (!bits || *bits > (v6 ? 128U : 32U)) return bad(a0, "Invalid /bits netmask length in IP.");
      r["type"] = v6 ? (m == "ipsrc" ? "MATCH_IPV6_SOURCE" : "MATCH_IPV6_DEST")
                     : (m == "ipsrc" ? "MATCH_IPV4_SOURCE" : "MATCH_IPV4_DEST");
      r["ip"] = s0;
    } else if (m == "icmp") {
      auto t = parse_num(s0);
      if (!t || *t > 0xff) return bad(a0, "Missing or invalid ICMP type.");
      r["icmpType"] = *t;
      if (args[1].text == "-1") {
        r["icmpCode"] = nullptr;
      } else {
        auto c = parse_num(args[1].text);
        if (!c || *c > 0xff) return bad(args[1], "Invalid ICMP code (use -1 for none).");
        r["icmpCode"] = *c;
      }
    } else if (m == "sport" || m == "dport" || m == "framesize") {
      uint32_t a = 0, b = 0;
      if (!parse_range(s0, 0xffff, a, b)) return bad(a0, "Invalid numeric range.");
      r["start"] = a;
      r["end"] = b;
    } else if (m == "iptos") {
      auto mask = parse_num(s0);
      if (!mask || *mask > 0xff) return bad(a0, "Invalid mask.");
      uint32_t a = 0, b = 0;
      if (!parse_range(args[1].text, 0xff, a, b)) return bad(args[1], "Invalid value range.");
      r["mask"] = *mask;
      r["start"] = a;
      r["end"] = b;
    } else if (m == "chr") {
      uint64_t mask = 0;
      std::string piece;
      std::string s = s0 + ",";
      for (char c : s) {
        if (c != ',') {
          piece += c;
          continue;
        }
        if (piece.empty()) continue;
        int bit;
        if (auto b = kChrBits.find(piece); b != kChrBits.end()) {
          bit = b->second;
        } else {
          auto nb = parse_num(piece);
          if (!nb || *nb > 63) return bad(a0, "Invalid bit index (range 0-63) or unrecognized name.");
          bit = static_cast<int>(*nb);
        }
        piece.clear();
        mask |= uint64_t{1} << bit;
      }
      char buf[17];
      std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(mask));
      r["mask"] = std::string(buf);
    } else {  // tag matches
      std::optional<uint32_t> id, value;
      if (const Tag* t = find_tag(s0)) {
        id = t->id;
        const std::string& vs = args[1].text;
        if (auto f = t->flags.find(vs); f != t->flags.end())
          value = f->second;
        else if (auto e = t->enums.find(vs); e != t->enums.end())
          value = e->second;
        else
          value = parse_num(vs);
      } else {
        id = parse_num(s0);
        value = parse_num(args[1].text);
      }
      if (!id) return bad(a0, "Undefined tag name and invalid tag value.");
      if (!value) return bad(args[1], "Invalid tag value or unrecognized flag/enum name.");
      r["id"] = *id;
      r["value"] = *value;
    }
    return std::nullopt;
  }

  std::optional<Fail> render_matches(const std::vector<Item>& v, size_t from, json& out, const Params& params) {
    bool n = false, o = false;
    for (size_t k = from; k < v.size(); ++k) {
      const Item& it = v[k];
      if (it.block) continue;
      std::string m = lower(it.text);
      if (m == "and") continue;
      if (m == "not") {
        n = true;
        continue;
      }
      if (m == "or") {
        o = true;
        continue;
      }
      auto info = kMatches.find(m);
      if (info == kMatches.end()) return Fail{it.line, it.col, "Unrecognized match type \"" + m + "\"."};
      std::vector<Item> args;
      for (int i = 0; i < info->second.args; ++i) {
        if (k + 1 >= v.size()) return Fail{v[k].line, v[k].col, "Missing argument(s) to match."};
        const Item& prev = v[k];
        const Item& arg = v[++k];
        // Reserved words are no arguments, except (unlike the reference) `ipprotocol icmp`.
        bool reserved = kReserved.count(arg.text) && !(m == "ipprotocol" && kIpProtocols.count(arg.text));
        if (arg.block || arg.text.empty() || reserved)
          return Fail{prev.line, prev.col,
                      "Missing argument(s) to match (invalid argument or argument is reserved word)."};
        Item a = arg;
        if (a.text[0] == '$') {
          auto p = params.find(a.text);
          if (p == params.end()) return Fail{arg.line, arg.col, "Undefined variable name."};
          a.text = p->second;
        }
        args.push_back(std::move(a));
      }
      json r = {{"type", info->second.type ? info->second.type : ""}, {"not", n}, {"or", o}};
      if (auto f = match_arguments(m, args, r)) return f;
      out.push_back(std::move(r));
      n = o = false;
    }
    return std::nullopt;
  }
};

}  // namespace

bool compile_rules(std::string_view src, nlohmann::json& out, RulesCompileError& error) {
  try {
    Compiler c;
    std::vector<Item> parsed = parse_tree(src);
    std::vector<Item> base;
    std::optional<Fail> f = c.define(parsed, base);
    json caps = json::array();
    json caps_by_name = json::object();
    if (!f) {
      for (auto& cap : c.caps) {
        if ((f = c.render_actions(cap.src, cap.rules, {}, 0))) break;
        caps.push_back({{"id", cap.id}, {"default", cap.dflt}, {"rules", cap.rules}});
        caps_by_name[cap.name] = cap.id;
      }
    }
    json rules = json::array();
    if (!f) f = c.render_actions(base, rules, {}, 0);
    if (f) {
      error = RulesCompileError{f->line, f->col, f->message};
      return false;
    }
    json tags = json::array();
    json tags_by_name = json::object();
    for (const auto& [name, t] : c.tags) {
      json d = t.dflt ? json(*t.dflt) : json(nullptr);
      // The reference CLI writes `default || null` here: a default of 0 is null.
      tags.push_back({{"id", t.id}, {"default", (t.dflt && *t.dflt != 0) ? d : json(nullptr)}});
      tags_by_name[name] = {{"id", t.id}, {"default", d}, {"enums", t.enums}, {"flags", t.flags}};
    }
    out = json{{"config", {{"rules", rules}, {"capabilities", caps}, {"tags", tags}}},
               {"capabilitiesByName", caps_by_name},
               {"tagsByName", tags_by_name}};
    return true;
  } catch (const std::exception& e) {  // only bad_alloc is possible
    error = RulesCompileError{0, 0, std::string("internal error: ") + e.what()};
    return false;
  }
}

}  // namespace zt::proto
