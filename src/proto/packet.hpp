// The ZeroTier packet layer (PROTOCOL.md §2): header layout, verbs, armor/dearmor for every
// cipher suite, the HELLO cryptField, LZ4 payload compression and datagram classification.
// Fragmentation and reassembly live in proto/fragment.hpp.
//
// Hot path: everything works in place on caller-owned buffers; armor/dearmor never allocate.
// A packet buffer is the whole packet: header (28 bytes) + payload, at most kMaxPacketSize.
//
// Typical send:   write_header() / begin_packet()  -> payload -> compress_payload() (optional)
//                 -> mark_fragmentation(mtu) -> armor() -> fragment.hpp: for_each_fragment().
// Typical receive: classify() -> Defragmenter (fragment.hpp) -> dearmor() or
//                 check_trusted_path() -> decompress_payload() -> dispatch on PacketView::verb().
//
// Threading: free functions are reentrant. A PeerKey is not safe for concurrent use (its
// AES state is per instance); use one per thread or lock around it.
// Errors: nothing throws; bad input yields false / std::nullopt / DatagramKind::Drop.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "base/bytes.hpp"
#include "crypto/crypto.hpp"
#include "proto/identity.hpp"

namespace zt::proto {

// ---- Constants (§2, §12) ----------------------------------------------------------------
constexpr size_t kHeaderSize = 28;            // ZT_PROTO_MIN_PACKET_LENGTH
constexpr size_t kMinPacketSize = kHeaderSize;
constexpr size_t kMaxPacketSize = 10024;      // ZT_PROTO_MAX_PACKET_LENGTH
constexpr size_t kMaxPayloadSize = kMaxPacketSize - kHeaderSize;  // 9996, after the verb byte
constexpr size_t kFragmentHeaderSize = 16;
constexpr size_t kBeaconSize = 13;
constexpr size_t kDefaultPhysMtu = 1432;      // UDP payload bytes
constexpr size_t kMinPhysMtu = 1400;
constexpr unsigned kMaxFragments = 7;         // pieces per packet, head included (we send/accept)
constexpr unsigned kProtocolMaxFragments = 16;
constexpr unsigned kRelayMaxHops = 3;
constexpr unsigned kProtocolMaxHops = 7;
constexpr size_t kCompressMinPayload = 65;    // only payloads > 64 bytes are compressed (§2.4)

constexpr uint8_t kProtocolVersion = 12;
constexpr uint8_t kMinProtocolVersion = 4;
constexpr uint8_t kProtocolVersionAes = 12;   // peers >= this get cipher 3
// Software version we announce in HELLO / OK(HELLO): the reference's, for compatibility.
constexpr uint8_t kWireVersionMajor = 1;
constexpr uint8_t kWireVersionMinor = 14;
constexpr uint16_t kWireVersionRevision = 1;

// Header offsets (§2.1).
constexpr size_t kOffPacketId = 0;   // 8 bytes
constexpr size_t kOffDest = 8;       // 5 bytes
constexpr size_t kOffSource = 13;    // 5 bytes
constexpr size_t kOffFlags = 18;     // 1 byte
constexpr size_t kOffMac = 19;       // 8 bytes
constexpr size_t kOffVerb = 27;      // 1 byte
constexpr size_t kOffPayload = 28;

// Flags byte (offset 18).
constexpr uint8_t kFlagEncrypted = 0x80;   // legacy: set iff cipher == 1
constexpr uint8_t kFlagFragmented = 0x40;
constexpr uint8_t kCipherMask = 0x38;
constexpr uint8_t kHopsMask = 0x07;
// Verb byte (offset 27).
constexpr uint8_t kVerbFlagCompressed = 0x80;
constexpr uint8_t kVerbMask = 0x1f;

// Fragment datagram (§2.3).
constexpr size_t kFragOffIndicator = 13;
constexpr size_t kFragOffCounts = 14;
constexpr size_t kFragOffHops = 15;
constexpr uint8_t kFragmentIndicator = 0xff;

// ---- Enumerations -------------------------------------------------------------------------
enum class Verb : uint8_t {
  Nop = 0x00,
  Hello = 0x01,
  Error = 0x02,
  Ok = 0x03,
  Whois = 0x04,
  Rendezvous = 0x05,
  Frame = 0x06,
  ExtFrame = 0x07,
  Echo = 0x08,
  MulticastLike = 0x09,
  NetworkCredentials = 0x0a,
  NetworkConfigRequest = 0x0b,
  NetworkConfig = 0x0c,
  MulticastGather = 0x0d,
  MulticastFrame = 0x0e,
  PushDirectPaths = 0x10,
  Ack = 0x12,
  QosMeasurement = 0x13,
  UserMessage = 0x14,
  RemoteTrace = 0x15,
  PathNegotiationRequest = 0x16,
};
// "HELLO", "OK", "MULTICAST_LIKE", ...; "UNKNOWN_0x0f" for unassigned values. Never null;
// the pointer is to static storage.
const char* verb_name(Verb v);

enum class Cipher : uint8_t {
  None = 0,         // POLY1305_NONE: Poly1305 MAC, payload in clear (HELLO)
  Salsa2012 = 1,    // POLY1305_SALSA2012
  TrustedPath = 2,  // NO_CRYPTO_TRUSTED_PATH: MAC field carries a trusted-path id
  AesGmacSiv = 3,   // AES-256-GMAC-SIV
};
const char* cipher_name(Cipher c);  // "POLY1305_NONE", ...; "CIPHER_n" for 4..7

enum class ErrorCode : uint8_t {
  None = 0x00,
  InvalidRequest = 0x01,
  BadProtocolVersion = 0x02,
  ObjNotFound = 0x03,
  IdentityCollision = 0x04,
  UnsupportedOperation = 0x05,
  NeedMembershipCertificate = 0x06,
  NetworkAccessDenied = 0x07,
  UnwantedMulticast = 0x08,
  NetworkAuthenticationRequired = 0x09,
};
const char* error_code_name(ErrorCode e);  // "NEED_MEMBERSHIP_CERTIFICATE", "UNKNOWN_0x..."

// ---- Header access -------------------------------------------------------------------------
// Read-only view over a packet (head or reassembled). Accessors never read out of bounds:
// on a buffer shorter than kHeaderSize (valid() false) they return 0 / empty.
class PacketView {
 public:
  PacketView() = default;
  explicit PacketView(ByteSpan b) : b_(b) {}

  bool valid() const { return b_.size() >= kHeaderSize && b_.size() <= kMaxPacketSize; }
  size_t size() const { return b_.size(); }
  ByteSpan bytes() const { return b_; }

  // The wire bytes 0..7 as a big-endian integer (post-armor ID: what OK/ERROR "in-re" carry).
  uint64_t packet_id() const { return be(kOffPacketId, 8); }
  Address dest() const { return be(kOffDest, 5); }
  Address source() const { return be(kOffSource, 5); }
  uint8_t flags() const { return at(kOffFlags); }
  Cipher cipher() const { return Cipher((at(kOffFlags) & kCipherMask) >> 3); }
  unsigned hops() const { return at(kOffFlags) & kHopsMask; }
  bool fragmented() const { return (at(kOffFlags) & kFlagFragmented) != 0; }
  uint64_t mac() const { return be(kOffMac, 8); }
  // Meaningful only after dearmor (inside the encryption envelope), or for cipher 0/2.
  uint8_t verb_byte() const { return at(kOffVerb); }
  Verb verb() const { return Verb(at(kOffVerb) & kVerbMask); }
  bool compressed() const { return (at(kOffVerb) & kVerbFlagCompressed) != 0; }
  // Bytes 28..end.
  ByteSpan payload() const { return valid() ? b_.subspan(kOffPayload) : ByteSpan{}; }

 protected:
  uint8_t at(size_t i) const { return i < b_.size() ? b_[i] : 0; }
  uint64_t be(size_t off, size_t n) const {
    return b_.size() >= off + n ? load_be(b_.data() + off, n) : 0;
  }
  ByteSpan b_;
};

// Mutable view: the same accessors plus setters. Setters are no-ops when !valid().
class MutPacketView : public PacketView {
 public:
  MutPacketView() = default;
  explicit MutPacketView(MutByteSpan b) : PacketView(b), m_(b) {}

  MutByteSpan mut_bytes() const { return m_; }
  MutByteSpan mut_payload() const { return valid() ? m_.subspan(kOffPayload) : MutByteSpan{}; }

  void set_packet_id(uint64_t id) { put(kOffPacketId, id, 8); }
  void set_dest(Address a) { put(kOffDest, a, 5); }
  void set_source(Address a) { put(kOffSource, a, 5); }
  void set_flags(uint8_t f) { put(kOffFlags, f, 1); }
  void set_hops(unsigned h) { put(kOffFlags, (flags() & ~kHopsMask) | (h & kHopsMask), 1); }
  // Sets the cipher bits and the legacy 0x80 flag (set iff Salsa2012).
  void set_cipher(Cipher c);
  void set_fragmented(bool on) {
    put(kOffFlags, on ? (flags() | kFlagFragmented) : (flags() & ~kFlagFragmented), 1);
  }
  void set_verb(Verb v) { put(kOffVerb, (verb_byte() & ~kVerbMask) | (uint8_t(v) & kVerbMask), 1); }
  void set_compressed(bool on) {
    put(kOffVerb, on ? (verb_byte() | kVerbFlagCompressed) : (verb_byte() & ~kVerbFlagCompressed), 1);
  }

 private:
  void put(size_t off, uint64_t v, size_t n) {
    if (valid()) store_be(m_.data() + off, v, n);
  }
  MutByteSpan m_;
};

// ---- Building ------------------------------------------------------------------------------
// Writes a 28-byte header into out[0..27]: packet ID (the caller's 8 random bytes, big-endian
// integer form; the core never calls the OS RNG), dest, source, flags 0, MAC 0, verb.
// Returns false if out.size() < kHeaderSize.
bool write_header(MutByteSpan out, uint64_t packet_id, Address dest, Address source, Verb verb);
// Same, appending the header to a Writer (which should be empty); append the payload after.
void begin_packet(Writer& w, uint64_t packet_id, Address dest, Address source, Verb verb);

// ---- Keys ------------------------------------------------------------------------------------
// Everything armor/dearmor needs for one peer pair: the 48-byte agreed key (§1.5) and the
// derived AES-GMAC-SIV state (computed once, in the constructor). Movable, not copyable.
class PeerKey {
 public:
  explicit PeerKey(const crypto::SymmetricKey& k);
  ~PeerKey();
  PeerKey(PeerKey&&) noexcept;
  PeerKey& operator=(PeerKey&&) noexcept;
  PeerKey(const PeerKey&) = delete;
  PeerKey& operator=(const PeerKey&) = delete;

  const crypto::SymmetricKey& key() const { return key_; }
  crypto::AesGmacSiv& aes() { return *aes_; }

 private:
  crypto::SymmetricKey key_;
  std::unique_ptr<crypto::AesGmacSiv> aes_;
};

// ---- Armor / dearmor (§2.5, §2.6, §2.7) ---------------------------------------------------
// Armors `packet` (the whole packet, kHeaderSize..kMaxPacketSize bytes) in place.
// Precondition: header filled in, payload in clear, fragmented flag already final
// (mark_fragmentation). Sets the cipher bits (and the legacy 0x80 flag), zeroes the hops and
// writes the MAC. Cipher None/Salsa2012: bytes 0..7 are the nonce and stay. Cipher AesGmacSiv:
// bytes 0..7 are the IV on entry and are replaced by the first half of the tag — record the
// packet ID for reply matching after this call. Returns false (packet untouched) for a bad
// size or Cipher::TrustedPath (use armor_trusted_path).
bool armor(MutByteSpan packet, PeerKey& key, Cipher cipher);
// Cipher 2: no crypto; writes the cipher bits and the trusted-path id into the MAC field.
bool armor_trusted_path(MutByteSpan packet, uint64_t trusted_path_id);

// Authenticates and decrypts `packet` in place with the cipher named in its header
// (None, Salsa2012, AesGmacSiv). The hops bits are ignored. On success the verb byte and
// payload are plaintext (possibly still compressed: see decompress_payload); the header is
// left as received. On failure returns false and the packet contents are unspecified
// (drop it). TrustedPath and unknown ciphers return false: use check_trusted_path.
// If iv_out is given, it receives the sender's original 8 packet-ID bytes: bytes 0..7 for
// cipher 0/1, the IV recovered from the tag for cipher 3 (so writing it back to bytes 0..7
// and calling armor() reproduces the received bytes; used by tests and `ztcore wire`).
[[nodiscard]] bool dearmor(MutByteSpan packet, PeerKey& key, uint8_t* iv_out = nullptr);
// Cipher 2 receive check (§2.7, rule 1): true iff the packet is a valid header with cipher
// TrustedPath and its MAC field equals `configured_id`. Matching the physical source against
// the configured networks is the caller's job.
[[nodiscard]] bool check_trusted_path(ByteSpan packet, uint64_t configured_id);

// §2.8 cryptField: Salsa20/12 XOR of packet[offset, offset+len) with key K[0..31]
// (unmangled), nonce = bytes 0..7 with byte 7 AND 0xf8, counter 0. Involutive (same call
// encrypts and decrypts). Returns false if the range is out of bounds or packet < 8 bytes.
bool crypt_field(const crypto::SymmetricKey& key, MutByteSpan packet, size_t offset, size_t len);

// ---- Compression (§2.4) ----------------------------------------------------------------------
// Compresses bytes 28..len-1 of buf in place with the LZ4 block format, if the payload is
// > 64 bytes and the result strictly smaller; then sets the verb's 0x80 flag. Returns the new
// packet length (== len when left uncompressed). buf[0..len) is the packet; requires
// kHeaderSize <= len <= min(buf.size(), kMaxPacketSize), else returns len unchanged.
size_t compress_payload(MutByteSpan buf, size_t len);
// After dearmor: if the verb's 0x80 flag is set, decompresses bytes 28..len-1 in place and
// clears the flag; returns the new packet length. Without the flag returns len unchanged.
// std::nullopt (drop) on: bad sizes, LZ4 failure, an empty result, a result > kMaxPayloadSize
// or one not fitting buf (pass a buffer of kMaxPacketSize capacity to never hit that).
[[nodiscard]] std::optional<size_t> decompress_payload(MutByteSpan buf, size_t len);

// ---- Classification (§2.1) -------------------------------------------------------------------
enum class DatagramKind : uint8_t {
  Drop,      // too short to be anything
  Beacon,    // exactly 13 bytes; bytes 8..12 = sender address
  Fragment,  // > 16 bytes and byte 13 == 0xff
  Head,      // >= 28 bytes: a whole packet, or the head of a fragmented one (PacketView::fragmented)
};
DatagramKind classify(ByteSpan datagram);
// Sender address of a beacon (0 if not a beacon).
Address beacon_source(ByteSpan datagram);

}  // namespace zt::proto
