// Typed payload codecs for every verb of PROTOCOL.md §3.
//
// A "payload" is the packet after the verb byte (packet offset 28), in the clear: the
// caller has already dearmored and decompressed the packet (packet.hpp). For each message
// type T:
//
//   static Result<T> decode(ByteSpan payload)   hostile-input safe, never throws; rejects
//                                               truncation and, where the layout is exact,
//                                               trailing bytes. Optional trailing fields that
//                                               older senders omit (HELLO, OK(HELLO),
//                                               NETWORK_CONFIG_REQUEST, NETWORK_CREDENTIALS)
//                                               are accepted as absent.
//   void encode(Writer& w) const                appends the payload bytes (not the header or
//                                               verb byte). For every input decode accepts,
//                                               encode(decode(x)) == x, except for forms that
//                                               have no canonical writer (InetAddress types
//                                               1/2/3, credential extension bytes, a COM that
//                                               is unsigned): there decode(encode(decode(x)))
//                                               encodes to the same bytes again.
//
// Ownership: every ByteSpan field is a VIEW into the buffer passed to decode (or, when
// building a message to send, into caller-owned memory) and must not outlive it. Parsed
// objects (Identity, credentials, addresses, lists) are owned values.
//
// Flag bytes whose bits announce optional fields (EXT_FRAME, MULTICAST_GATHER,
// MULTICAST_FRAME, OK(MULTICAST_FRAME)): decode sets both the flags byte and the optional
// fields; encode writes the presence bits from the optional fields (the other bits as stored),
// so a message can never announce a field it does not carry.
//
// Threading: plain values, no shared state.
#pragma once

#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

#include "base/bytes.hpp"
#include "base/result.hpp"
#include "proto/credentials.hpp"
#include "proto/identity.hpp"
#include "proto/inet_address.hpp"
#include "proto/packet.hpp"
#include "proto/vl2.hpp"
#include "proto/world.hpp"

namespace zt::proto {

// Bytes a message carries opaquely (bodies of verbs with no defined layout, NOP, ACK, ...).
struct RawBody {
  ByteSpan bytes;
  static Result<RawBody> decode(ByteSpan payload) { return RawBody{payload}; }
  void encode(Writer& w) const { w.bytes(bytes); }
};

// Gather results shared by OK(MULTICAST_GATHER) and OK(MULTICAST_FRAME) (§3.12):
// [4] total known members | [2] count N | N×[5] addresses.
struct GatherResults {
  uint32_t total_known = 0;
  std::vector<Address> members;  // at most 65535 (the count field)

  static Result<GatherResults> read(Reader& r);
  void write(Writer& w) const;
};

// ==== HELLO (0x01), §3.2 ========================================================================
struct Hello {
  uint8_t protocol_version = kProtocolVersion;
  uint8_t version_major = kWireVersionMajor;
  uint8_t version_minor = kWireVersionMinor;
  uint16_t version_revision = kWireVersionRevision;
  uint64_t timestamp = 0;  // sender's clock, ms; echoed in OK(HELLO)
  Identity identity;       // public form on the wire
  // Optional trailing fields, in wire order; each needs the ones before it.
  std::optional<InetAddress> sent_to;  // physical destination (None = type 0 byte)
  struct Planet {
    uint64_t id = 0;
    uint64_t timestamp = 0;
  };
  std::optional<Planet> planet;
  // The cryptField region (§2.8) exactly as on the wire, i.e. still encrypted when decoded
  // from a received packet; it is the LAST moons_region.size() bytes of the payload
  // (payload offset crypt_offset(payload_size)). Empty when absent. Decrypt it in the
  // packet with crypt_field(), then parse with HelloMoons::decode. To send: encode
  // HelloMoons, point moons_region at it, encode the HELLO into the packet, then run
  // crypt_field over that range.
  ByteSpan moons_region;

  // Payload offset of the cryptField region in a payload of `payload_size` bytes
  // (add kHeaderSize for the packet offset).
  size_t crypt_offset(size_t payload_size) const { return payload_size - moons_region.size(); }

  static Result<Hello> decode(ByteSpan payload);
  void encode(Writer& w) const;
};

// Plaintext of HELLO's cryptField region: [2] N | N × ([1] type | [8] world id | [8] ts).
struct HelloMoons {
  struct Entry {
    World::Type type = World::Type::Moon;  // raw byte kept even if not 127
    uint64_t id = 0;
    uint64_t timestamp = 0;  // 0 = "wanted, have none"
  };
  std::vector<Entry> moons;

  static Result<HelloMoons> decode(ByteSpan plaintext);
  void encode(Writer& w) const;
};

// ==== OK (0x03) bodies, §3.1 ====================================================================
// OK(HELLO): [8] echoed ts | [1] proto | [1] major | [1] minor | [2] rev | InetAddress |
// [2] L | L bytes of Worlds. Older responders may stop before the address or the worlds.
struct OkHello {
  uint64_t timestamp = 0;
  uint8_t protocol_version = kProtocolVersion;
  uint8_t version_major = kWireVersionMajor;
  uint8_t version_minor = kWireVersionMinor;
  uint16_t version_revision = kWireVersionRevision;
  std::optional<InetAddress> observed_from;  // the requester's physical source address
  std::optional<ByteSpan> world_updates;     // raw serialized Worlds, back to back

  // Parses world_updates into Worlds (empty list when absent).
  Result<std::vector<World>> worlds() const;

  static Result<OkHello> decode(ByteSpan body);
  void encode(Writer& w) const;
};

// OK(WHOIS): one or more public identities (71 bytes each), back to back.
struct OkWhois {
  std::vector<Identity> identities;  // at least one

  static Result<OkWhois> decode(ByteSpan body);
  void encode(Writer& w) const;
};

// OK(ECHO): the ECHO payload copied. Also carries the NETWORK_CONFIG acknowledgement
// (in-re ECHO quirk, §3.10): see NetworkConfigAck.
struct OkEcho {
  ByteSpan payload;

  static Result<OkEcho> decode(ByteSpan body) { return OkEcho{body}; }
  void encode(Writer& w) const { w.bytes(payload); }
};

// Body of the OK(in-re ECHO) a member sends after applying a NETWORK_CONFIG push (§3.10):
// [8] nwid | [8] config update ID. Exactly 16 bytes. Not distinguishable from an ECHO reply
// by layout alone: match the in-re packet ID against the pushes you sent.
struct NetworkConfigAck {
  uint64_t nwid = 0;
  uint64_t update_id = 0;

  static Result<NetworkConfigAck> decode(ByteSpan body);
  void encode(Writer& w) const;
};

// Config chunk (§3.10), the body of OK(NETWORK_CONFIG_REQUEST) and the NETWORK_CONFIG payload:
// [8] nwid | [2] L | L data | [1] flags | [8] update ID | [4] total T | [4] index |
// [1] sig type | [2] sig len | sig. The legacy form ends right after the data.
struct ConfigChunk {
  static constexpr uint8_t kFlagFastPropagate = 0x01;
  static constexpr uint8_t kSignatureEd25519 = 1;

  uint64_t nwid = 0;
  ByteSpan data;        // bytes [index, index+L) of the config dictionary
  bool legacy = false;  // true: nothing after the data (the fields below are unused)
  uint8_t flags = 0;
  uint64_t update_id = 0;
  uint32_t total_length = 0;
  uint32_t index = 0;
  uint8_t signature_type = kSignatureEd25519;
  ByteSpan signature;   // 96 bytes for type 1

  // Bytes the signature covers: nwid through chunk index as encoded (0..26+L).
  Bytes signing_form() const;
  // Not legacy, signature type 1 of 96 bytes, valid under `controller`.
  bool verify(const Identity& controller) const;
  // De-duplication ID: signature bytes 0..15 XOR-folded to 8 (byte i into i mod 8).
  uint64_t chunk_id() const;

  // allow_legacy: accept the short form (only valid in an OK from the controller).
  static Result<ConfigChunk> decode(ByteSpan body, bool allow_legacy = true);
  void encode(Writer& w) const;
};

// OK(MULTICAST_GATHER): [8] nwid | [6] MAC | [4] ADI | gather results.
struct OkMulticastGather {
  uint64_t nwid = 0;
  MulticastGroup group;
  GatherResults gathered;

  static Result<OkMulticastGather> decode(ByteSpan body);
  void encode(Writer& w) const;
};

// OK(MULTICAST_FRAME): [8] nwid | [6] MAC | [4] ADI | [1] flags | COM if 0x01 (old) |
// gather results if 0x02.
struct OkMulticastFrame {
  static constexpr uint8_t kFlagCom = 0x01;
  static constexpr uint8_t kFlagGatherResults = 0x02;

  uint64_t nwid = 0;
  MulticastGroup group;
  uint8_t flags = 0;
  std::optional<Com> com;
  std::optional<GatherResults> gathered;

  static Result<OkMulticastFrame> decode(ByteSpan body);
  void encode(Writer& w) const;
};

// OK(EXT_FRAME): [8] nwid.
struct OkExtFrame {
  uint64_t nwid = 0;

  static Result<OkExtFrame> decode(ByteSpan body);
  void encode(Writer& w) const;
};

// OK: [1] in-re verb | [8] in-re packet ID | body. The body type follows the in-re verb:
// HELLO → OkHello, WHOIS → OkWhois, ECHO → OkEcho, NETWORK_CONFIG_REQUEST → ConfigChunk,
// MULTICAST_GATHER → OkMulticastGather, MULTICAST_FRAME → OkMulticastFrame,
// EXT_FRAME → OkExtFrame, anything else → RawBody. in_re_verb is the raw byte (a value
// outside the Verb enum, e.g. with high bits set, is kept and gets a RawBody). encode()
// writes whatever body is held; keep it consistent with in_re_verb.
struct OkMessage {
  using Body = std::variant<RawBody, OkHello, OkWhois, OkEcho, ConfigChunk, OkMulticastGather,
                            OkMulticastFrame, OkExtFrame>;
  Verb in_re_verb = Verb::Nop;
  uint64_t in_re_packet_id = 0;  // wire bytes 0..7 of the request (post-armor)
  Body body;

  static Result<OkMessage> decode(ByteSpan payload);
  void encode(Writer& w) const;
};

// ==== ERROR (0x02) bodies, §3.1 =================================================================
// [8] nwid, then for NETWORK_ACCESS_DENIED / NETWORK_AUTHENTICATION_REQUIRED optionally
// [2] length | dictionary (§3.11).
struct ErrorNetwork {
  uint64_t nwid = 0;
  std::optional<ByteSpan> info;  // dictionary bytes (codes 0x07 / 0x09 only)

  static Result<ErrorNetwork> decode(ByteSpan body, bool allow_info);
  void encode(Writer& w) const;
};

// UNWANTED_MULTICAST: [8] nwid | [6] MAC | [4] ADI.
struct ErrorUnwantedMulticast {
  uint64_t nwid = 0;
  MulticastGroup group;

  static Result<ErrorUnwantedMulticast> decode(ByteSpan body);
  void encode(Writer& w) const;
};

// ERROR: [1] in-re verb | [8] in-re packet ID | [1] code | body. Body by code:
// NEED_MEMBERSHIP_CERTIFICATE → ErrorNetwork; NETWORK_ACCESS_DENIED_ and
// NETWORK_AUTHENTICATION_REQUIRED → ErrorNetwork with optional info; OBJ_NOT_FOUND and
// UNSUPPORTED_OPERATION → ErrorNetwork when in re NETWORK_CONFIG_REQUEST;
// UNWANTED_MULTICAST → ErrorUnwantedMulticast; everything else → RawBody.
struct ErrorMessage {
  using Body = std::variant<RawBody, ErrorNetwork, ErrorUnwantedMulticast>;
  Verb in_re_verb = Verb::Nop;
  uint64_t in_re_packet_id = 0;
  ErrorCode code = ErrorCode::None;
  Body body;

  static Result<ErrorMessage> decode(ByteSpan payload);
  void encode(Writer& w) const;
};

// ==== Requests and pushes =======================================================================
// NOP (0x00): payload ignored.
struct Nop : RawBody {};

// WHOIS (0x04), §3.3: one or more 5-byte addresses.
struct Whois {
  std::vector<Address> addresses;  // at least one

  static Result<Whois> decode(ByteSpan payload);
  void encode(Writer& w) const;
};

// RENDEZVOUS (0x05), §3.4: [1] flags | [5] address | [2] port | [1] ip length (4/16) | ip.
struct Rendezvous {
  uint8_t flags = 0;
  Address with = 0;  // the peer to contact
  InetAddress at;    // IPv4 or IPv6 with port

  static Result<Rendezvous> decode(ByteSpan payload);
  void encode(Writer& w) const;
};

// FRAME (0x06), §3.5: [8] nwid | [2] ethertype | Ethernet payload.
struct Frame {
  uint64_t nwid = 0;
  uint16_t ethertype = 0;
  ByteSpan payload;

  static Result<Frame> decode(ByteSpan payload);
  void encode(Writer& w) const;
};

// EXT_FRAME (0x07), §3.6: [8] nwid | [1] flags | COM if 0x01 | [6] dest MAC | [6] src MAC |
// [2] ethertype | payload.
struct ExtFrame {
  static constexpr uint8_t kFlagCom = 0x01;
  static constexpr uint8_t kFlagAckRequested = 0x10;

  uint64_t nwid = 0;
  uint8_t flags = 0;
  std::optional<Com> com;
  Mac to;
  Mac from;
  uint16_t ethertype = 0;
  ByteSpan payload;

  static Result<ExtFrame> decode(ByteSpan payload);
  void encode(Writer& w) const;
};

// ECHO (0x08), §3.7: arbitrary payload.
struct Echo {
  ByteSpan payload;

  static Result<Echo> decode(ByteSpan p) { return Echo{p}; }
  void encode(Writer& w) const { w.bytes(payload); }
};

// MULTICAST_LIKE (0x09), §3.8: repeated [8] nwid | [6] MAC | [4] ADI.
struct MulticastLike {
  struct Entry {
    uint64_t nwid = 0;
    MulticastGroup group;
  };
  std::vector<Entry> entries;

  static Result<MulticastLike> decode(ByteSpan payload);
  void encode(Writer& w) const;
};

// NETWORK_CREDENTIALS (0x0a), §3.9: COMs until a 0x00 byte, then optional sections
// [2] n + n Capabilities, [2] n + n Tags, [2] n + n Revocations, [2] n + n COOs.
struct NetworkCredentials {
  std::vector<Com> coms;
  std::vector<Capability> capabilities;
  std::vector<Tag> tags;
  std::vector<Revocation> revocations;
  std::vector<Coo> coos;
  // Number of count sections present (0..4; the reference always sends 4). encode writes
  // at least this many, and more if a later list is non-empty.
  uint8_t sections = 4;

  static Result<NetworkCredentials> decode(ByteSpan payload);
  void encode(Writer& w) const;
};

// NETWORK_CONFIG_REQUEST (0x0b), §3.10: [8] nwid | [2] M | M metadata dictionary |
// [8] held revision | [8] held timestamp (the last two absent from old senders).
struct NetworkConfigRequest {
  uint64_t nwid = 0;
  ByteSpan metadata;  // dictionary text (§6.1), no NUL
  struct Held {
    uint64_t revision = 0;
    uint64_t timestamp = 0;
  };
  std::optional<Held> held = Held{};

  static Result<NetworkConfigRequest> decode(ByteSpan payload);
  void encode(Writer& w) const;
};

// NETWORK_CONFIG (0x0c), §3.10: one config chunk (never the legacy form).
struct NetworkConfigPush {
  ConfigChunk chunk;

  static Result<NetworkConfigPush> decode(ByteSpan payload);
  void encode(Writer& w) const { chunk.encode(w); }
};

// MULTICAST_GATHER (0x0d), §3.12: [8] nwid | [1] flags | [6] MAC | [4] ADI | [4] limit |
// COM if 0x01.
struct MulticastGather {
  static constexpr uint8_t kFlagCom = 0x01;

  uint64_t nwid = 0;
  uint8_t flags = 0;
  MulticastGroup group;
  uint32_t limit = 0;  // max members wanted
  std::optional<Com> com;

  static Result<MulticastGather> decode(ByteSpan payload);
  void encode(Writer& w) const;
};

// MULTICAST_FRAME (0x0e), §3.13: [8] nwid | [1] flags | COM if 0x01 | [4] gather limit if
// 0x02 | [6] source MAC if 0x04 | [6] dest MAC | [4] ADI | [2] ethertype | payload.
struct MulticastFrame {
  static constexpr uint8_t kFlagCom = 0x01;
  static constexpr uint8_t kFlagGatherLimit = 0x02;
  static constexpr uint8_t kFlagSourceMac = 0x04;
  static constexpr uint8_t kFlagReplicate = 0x08;

  uint64_t nwid = 0;
  uint8_t flags = 0;
  std::optional<Com> com;
  std::optional<uint32_t> gather_limit;
  std::optional<Mac> source;  // absent: MAC(sender, nwid)
  MulticastGroup group;       // destination MAC + ADI
  uint16_t ethertype = 0;
  ByteSpan payload;

  static Result<MulticastFrame> decode(ByteSpan payload);
  void encode(Writer& w) const;
};

// PUSH_DIRECT_PATHS (0x10), §3.14: [2] count | count × ([1] flags | [2] ext len | ext |
// [1] addr type | [1] addr len | addr).
struct PushDirectPaths {
  static constexpr uint8_t kFlagForget = 0x01;
  static constexpr uint8_t kFlagClusterRedirect = 0x02;
  struct Path {
    uint8_t flags = 0;
    ByteSpan extensions;
    // Type 4 with length 6 and type 6 with length 18 decode into `address`. Anything else
    // is kept raw in (other_type, other_address) and re-encoded as is; other_type == 0
    // means `address` is used.
    InetAddress address;
    uint8_t other_type = 0;
    ByteSpan other_address;
  };
  std::vector<Path> paths;  // at most 65535

  static Result<PushDirectPaths> decode(ByteSpan payload);
  void encode(Writer& w) const;
};

// ACK (0x12), QOS_MEASUREMENT (0x13), PATH_NEGOTIATION_REQUEST (0x16), §3.17: multipath
// only, kept raw.
struct Ack : RawBody {};
struct QosMeasurement : RawBody {};
struct PathNegotiationRequest : RawBody {};

// USER_MESSAGE (0x14), §3.15: [8] type ID | data.
struct UserMessage {
  uint64_t type_id = 0;
  ByteSpan data;

  static Result<UserMessage> decode(ByteSpan payload);
  void encode(Writer& w) const;
};

// REMOTE_TRACE (0x15), §3.16: dictionaries, each followed by a NUL byte.
struct RemoteTrace {
  std::vector<ByteSpan> dictionaries;  // without their NULs; empty ones are kept
  ByteSpan unterminated;               // bytes after the last NUL (receivers ignore them)

  static Result<RemoteTrace> decode(ByteSpan payload);
  void encode(Writer& w) const;
};

// A verb value with no codec (0x0f, 0x11, 0x17..0x1f).
struct UnknownVerb {
  uint8_t verb = 0;
  ByteSpan payload;
};

// ==== Dispatch =================================================================================
using Message = std::variant<Nop, Hello, ErrorMessage, OkMessage, Whois, Rendezvous, Frame,
                             ExtFrame, Echo, MulticastLike, NetworkCredentials,
                             NetworkConfigRequest, NetworkConfigPush, MulticastGather,
                             MulticastFrame, PushDirectPaths, Ack, QosMeasurement, UserMessage,
                             RemoteTrace, PathNegotiationRequest, UnknownVerb>;

// Decodes `payload` as verb `v` (only the low 5 bits matter). Unassigned verbs yield
// UnknownVerb (never an error). Errors name the verb and the field that failed.
Result<Message> decode_message(Verb v, ByteSpan payload);
// Appends the payload of m.
void encode_message(const Message& m, Writer& w);
// The verb a message is sent with.
Verb message_verb(const Message& m);

}  // namespace zt::proto
