// Controller JSON objects (PROTOCOL.md §10.2) and JSON rule objects (§10.3).
//
// Pure functions, no I/O, no shared state. Network and member records are nlohmann::json
// objects with exactly the shapes zerotier-one's controller API uses, so records read by a
// GET are interchangeable with the reference's (tests/vectors/controller_*.json).
//
// Writes through the API are merges read the way zerotier-one's controller reads a POST body
// (§10.2): booleans leniently (json_lenient_bool: "true"/"false" strings, numbers), integers
// as numbers or decimal strings, bad entries of arrays dropped, a bad remoteTraceTarget null, a
// field of the wrong kind ignored. Only a body that is not a JSON object is refused. Tools such
// as ztncui post form values as strings and rely on this.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/result.hpp"
#include "proto/identity.hpp"
#include "proto/inet_address.hpp"
#include "proto/rules.hpp"
#include "proto/rules_json.hpp"

namespace zt::controller {

using json = nlohmann::json;

// ---- defaults (§10.2) --------------------------------------------------------------------
// Fills every missing network field with its default and sets id/nwid/objtype.
// `reset_trace_level`: the reference's default-filling step overwrites remoteTraceLevel
// with 0 every time it runs (§10.1 step 10 quirk); API writes pass true.
void init_network(json& n, uint64_t nwid, int64_t now, bool reset_trace_level);
// Same for a member: id/address/nwid/objtype set; the reference resets remoteTraceLevel to 0
// on every request and every API write (quirk reproduced when `reset_trace_level`).
void init_member(json& m, uint64_t nwid, proto::Address a, int64_t now, bool reset_trace_level);

// The default `rules` value: [{"not":false,"or":false,"type":"ACTION_ACCEPT"}].
json default_rules();

// ---- API writes (§10.2 "write" column) -----------------------------------------------------
// Merges the writable fields present in `body` into `n` (an init_network()ed record).
// Unknown and read-only fields are ignored; see the file comment for how values are read.
// Error (record untouched): body not an object.
Status apply_network_update(json& n, const json& body);

// What a member write changed that the controller must act on.
struct MemberUpdate {
  bool authorized_changed = false;
  bool deauthorized = false;  // was authorized, now is not (triggers a revocation)
};
// Merges the writable member fields (read as apply_network_update reads). Error: body not
// an object. A change of `authorized` stamps lastAuthorizedTime /
// lastDeauthorizedTime = now; authorizing also sets lastAuthorizedCredentialType "api" and
// lastAuthorizedCredential null.
Result<MemberUpdate> apply_member_update(json& m, const json& body, int64_t now);

// ---- rules (§10.3) -----------------------------------------------------------------------
// The one rule codec lives in the proto layer (proto/rules_json.hpp, driven by the rule-type
// table of proto/rules.hpp). The controller parses with its default dialect,
// RuleJsonTypes::Reference: what the reference parses, i.e. every known type except
// ACTION_PRIORITY and INTEGER_RANGE (which the reference 1.14.1 cannot parse either).
using proto::rule_from_json;
using proto::rule_to_json;
// The reference's reading of a JSON boolean, for every boolean the controller takes in.
using proto::json_lenient_bool;

// ---- small parsers shared by the controller ------------------------------------------------
// A plain IP ("10.1.2.3", "fd00::1"); a "/bits" suffix is accepted and dropped. Port 0.
std::optional<proto::InetAddress> parse_ip(std::string_view s);
// "ip/bits" with bits ≤ 32 (IPv4) or ≤ 128 (IPv6); the port field holds the bits.
std::optional<proto::InetAddress> parse_cidr(std::string_view s);
// Exactly 10 hex digits, not a reserved address.
std::optional<proto::Address> parse_address(std::string_view s);

// Typed reads of a (defaulted) record with fallbacks for hand-edited data (json_bool reads
// with json_lenient_bool).
bool json_bool(const json& o, const char* key, bool dflt);
uint64_t json_u64(const json& o, const char* key, uint64_t dflt);
int64_t json_i64(const json& o, const char* key, int64_t dflt);
std::string json_str(const json& o, const char* key, const std::string& dflt = "");

}  // namespace zt::controller
