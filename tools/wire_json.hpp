// JSON rendering of decoded verb payloads for `ztcore wire decode` (the proto layer itself
// has no JSON dependency). Conventions: addresses 10 hex digits, network IDs / update IDs /
// packet IDs 16 hex digits, MACs "aa:bb:cc:dd:ee:ff", multicast ADIs 8 hex digits,
// InetAddresses "ip/port" (null when absent), identities in public text form, opaque bytes
// as {"len": n, "hex": "..."}.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>

#include "proto/verbs.hpp"

namespace zt::cli {

using Json = nlohmann::ordered_json;
// Identity of a node if known (nullptr otherwise); used to check signatures (COMs, config
// chunks, credentials) against the controller of their network.
using IdentityLookup = std::function<const proto::Identity*(proto::Address)>;

Json bytes_json(ByteSpan b);
// The decoded fields of a message. For OK/ERROR only the body (the envelope fields are
// reported by the caller).
Json message_json(const proto::Message& m, const IdentityLookup& lookup);
Json ok_body_json(const proto::OkMessage::Body& b, const IdentityLookup& lookup);
Json error_body_json(const proto::ErrorMessage::Body& b);
Json hello_moons_json(const proto::HelloMoons& m);
Json config_ack_json(const proto::NetworkConfigAck& a);

}  // namespace zt::cli
