// Packet layer, PROTOCOL.md §2. See packet.hpp for the contracts.
#include "proto/packet.hpp"

#include <lz4.h>

#include <cstring>

namespace zt::proto {

namespace {

// Names for all 32 verb values (the verb field is 5 bits).
constexpr const char* kVerbNames[32] = {
    "NOP",           "HELLO",           "ERROR",
    "OK",            "WHOIS",           "RENDEZVOUS",
    "FRAME",         "EXT_FRAME",       "ECHO",
    "MULTICAST_LIKE", "NETWORK_CREDENTIALS", "NETWORK_CONFIG_REQUEST",
    "NETWORK_CONFIG", "MULTICAST_GATHER", "MULTICAST_FRAME",
    "UNKNOWN_0x0f",  "PUSH_DIRECT_PATHS", "UNKNOWN_0x11",
    "ACK",           "QOS_MEASUREMENT", "USER_MESSAGE",
    "REMOTE_TRACE",  "PATH_NEGOTIATION_REQUEST", "UNKNOWN_0x17",
    "UNKNOWN_0x18",  "UNKNOWN_0x19",    "UNKNOWN_0x1a",
    "UNKNOWN_0x1b",  "UNKNOWN_0x1c",    "UNKNOWN_0x1d",
    "UNKNOWN_0x1e",  "UNKNOWN_0x1f",
};

bool size_ok(size_t n) { return n >= kHeaderSize && n <= kMaxPacketSize; }

// §2.5 step 1: per-packet Salsa20 key. Only the hops bits of byte 18 are masked; the length
// enters little-endian.
void mangle_key(const crypto::SymmetricKey& K, const uint8_t* p, size_t len, uint8_t k[32]) {
  for (size_t i = 0; i < 18; ++i) k[i] = K[i] ^ p[i];
  k[18] = K[18] ^ (p[kOffFlags] & uint8_t(~kHopsMask));
  k[19] = K[19] ^ uint8_t(len & 0xff);
  k[20] = K[20] ^ uint8_t((len >> 8) & 0xff);
  for (size_t i = 21; i < 32; ++i) k[i] = K[i];
}

// Poly1305 one-time key: the first 32 bytes of keystream block 0 (§2.5 step 3).
void poly_key(const uint8_t k[32], const uint8_t* nonce, uint8_t out[32]) {
  std::memset(out, 0, 32);
  crypto::salsa20_xor(k, nonce, 0, 12, out, out, 32);
}

}  // namespace

const char* verb_name(Verb v) {
  const unsigned i = unsigned(v);
  return i < 32 ? kVerbNames[i] : "UNKNOWN";
}

const char* cipher_name(Cipher c) {
  switch (c) {
    case Cipher::None: return "POLY1305_NONE";
    case Cipher::Salsa2012: return "POLY1305_SALSA2012";
    case Cipher::TrustedPath: return "NO_CRYPTO_TRUSTED_PATH";
    case Cipher::AesGmacSiv: return "AES_GMAC_SIV";
    default: break;
  }
  static constexpr const char* kOther[8] = {"CIPHER_0", "CIPHER_1", "CIPHER_2", "CIPHER_3",
                                            "CIPHER_4", "CIPHER_5", "CIPHER_6", "CIPHER_7"};
  return unsigned(c) < 8 ? kOther[unsigned(c)] : "CIPHER_?";
}

const char* error_code_name(ErrorCode e) {
  switch (e) {
    case ErrorCode::None: return "NONE";
    case ErrorCode::InvalidRequest: return "INVALID_REQUEST";
    case ErrorCode::BadProtocolVersion: return "BAD_PROTOCOL_VERSION";
    case ErrorCode::ObjNotFound: return "OBJ_NOT_FOUND";
    case ErrorCode::IdentityCollision: return "IDENTITY_COLLISION";
    case ErrorCode::UnsupportedOperation: return "UNSUPPORTED_OPERATION";
    case ErrorCode::NeedMembershipCertificate: return "NEED_MEMBERSHIP_CERTIFICATE";
    case ErrorCode::NetworkAccessDenied: return "NETWORK_ACCESS_DENIED";
    case ErrorCode::UnwantedMulticast: return "UNWANTED_MULTICAST";
    case ErrorCode::NetworkAuthenticationRequired: return "NETWORK_AUTHENTICATION_REQUIRED";
    default: return "UNKNOWN";
  }
}

void MutPacketView::set_cipher(Cipher c) {
  uint8_t f = flags() & uint8_t(~(kCipherMask | kFlagEncrypted));
  f |= uint8_t((uint8_t(c) << 3) & kCipherMask);
  if (c == Cipher::Salsa2012) f |= kFlagEncrypted;
  set_flags(f);
}

// ---- Building --------------------------------------------------------------------------------

bool write_header(MutByteSpan out, uint64_t packet_id, Address dest, Address source, Verb verb) {
  if (out.size() < kHeaderSize) return false;
  uint8_t* p = out.data();
  store_be64(p + kOffPacketId, packet_id);
  store_be(p + kOffDest, dest, 5);
  store_be(p + kOffSource, source, 5);
  p[kOffFlags] = 0;
  std::memset(p + kOffMac, 0, 8);
  p[kOffVerb] = uint8_t(verb) & kVerbMask;
  return true;
}

void begin_packet(Writer& w, uint64_t packet_id, Address dest, Address source, Verb verb) {
  w.u64(packet_id).u40(dest).u40(source).u8(0).u64(0).u8(uint8_t(verb) & kVerbMask);
}

// ---- Keys ------------------------------------------------------------------------------------

PeerKey::PeerKey(const crypto::SymmetricKey& k)
    : key_(k), aes_(std::make_unique<crypto::AesGmacSiv>(k)) {}
PeerKey::~PeerKey() = default;
PeerKey::PeerKey(PeerKey&&) noexcept = default;
PeerKey& PeerKey::operator=(PeerKey&&) noexcept = default;

// ---- Armor / dearmor ---------------------------------------------------------------------------

bool armor(MutByteSpan packet, PeerKey& key, Cipher cipher) {
  if (!size_ok(packet.size())) return false;
  uint8_t* p = packet.data();
  const size_t len = packet.size();
  MutPacketView v(packet);

  switch (cipher) {
    case Cipher::None:
    case Cipher::Salsa2012: {
      // Header bits are final before the key is mangled: they are what gets authenticated.
      v.set_cipher(cipher);
      v.set_hops(0);
      uint8_t k[32];
      uint8_t mac_key[32];
      mangle_key(key.key(), p, len, k);
      poly_key(k, p, mac_key);
      if (cipher == Cipher::Salsa2012)
        crypto::salsa20_xor(k, p, 1, 12, p + kOffVerb, p + kOffVerb, len - kOffVerb);
      const crypto::Poly1305Tag tag =
          crypto::poly1305(mac_key, ByteSpan(p + kOffVerb, len - kOffVerb));
      std::memcpy(p + kOffMac, tag.data(), 8);
      crypto::secure_zero(k, sizeof k);
      crypto::secure_zero(mac_key, sizeof mac_key);
      return true;
    }
    case Cipher::AesGmacSiv: {
      v.set_cipher(cipher);
      v.set_hops(0);
      uint8_t iv[8];
      std::memcpy(iv, p, 8);
      uint8_t tag[16];
      key.aes().encrypt(iv, p + kOffDest, p + kOffVerb, len - kOffVerb, tag);
      std::memcpy(p, tag, 8);
      std::memcpy(p + kOffMac, tag + 8, 8);
      return true;
    }
    default:
      return false;
  }
}

bool armor_trusted_path(MutByteSpan packet, uint64_t trusted_path_id) {
  if (!size_ok(packet.size())) return false;
  MutPacketView v(packet);
  v.set_cipher(Cipher::TrustedPath);
  v.set_hops(0);
  store_be64(packet.data() + kOffMac, trusted_path_id);
  return true;
}

bool dearmor(MutByteSpan packet, PeerKey& key, uint8_t* iv_out) {
  if (!size_ok(packet.size())) return false;
  uint8_t* p = packet.data();
  const size_t len = packet.size();
  const Cipher cipher = PacketView(packet).cipher();

  switch (cipher) {
    case Cipher::None:
    case Cipher::Salsa2012: {
      if (iv_out) std::memcpy(iv_out, p, 8);
      uint8_t k[32];
      uint8_t mac_key[32];
      mangle_key(key.key(), p, len, k);
      poly_key(k, p, mac_key);
      const crypto::Poly1305Tag tag =
          crypto::poly1305(mac_key, ByteSpan(p + kOffVerb, len - kOffVerb));
      const bool good = crypto::ct_equal(tag.data(), p + kOffMac, 8);
      if (good && cipher == Cipher::Salsa2012)
        crypto::salsa20_xor(k, p, 1, 12, p + kOffVerb, p + kOffVerb, len - kOffVerb);
      crypto::secure_zero(k, sizeof k);
      crypto::secure_zero(mac_key, sizeof mac_key);
      return good;
    }
    case Cipher::AesGmacSiv: {
      uint8_t tag[16];
      std::memcpy(tag, p, 8);
      std::memcpy(tag + 8, p + kOffMac, 8);
      // AAD = bytes 8..18 as sent, i.e. with the hops a relay may have changed masked out.
      uint8_t aad[11];
      std::memcpy(aad, p + kOffDest, 11);
      aad[10] &= uint8_t(~kHopsMask);
      uint8_t iv[8];
      const bool good = key.aes().decrypt(tag, aad, p + kOffVerb, len - kOffVerb, iv);
      if (iv_out) std::memcpy(iv_out, iv, 8);
      return good;
    }
    default:
      return false;
  }
}

bool check_trusted_path(ByteSpan packet, uint64_t configured_id) {
  const PacketView v(packet);
  return v.valid() && v.cipher() == Cipher::TrustedPath && v.mac() == configured_id;
}

bool crypt_field(const crypto::SymmetricKey& key, MutByteSpan packet, size_t offset, size_t len) {
  if (packet.size() < 8 || offset > packet.size() || len > packet.size() - offset) return false;
  uint8_t nonce[8];
  std::memcpy(nonce, packet.data(), 8);
  nonce[7] &= 0xf8;
  uint8_t* at = packet.data() + offset;
  crypto::salsa20_xor(key.data(), nonce, 0, 12, at, at, len);
  return true;
}

// ---- Compression -------------------------------------------------------------------------------

size_t compress_payload(MutByteSpan buf, size_t len) {
  if (len < kHeaderSize || len > buf.size() || len > kMaxPacketSize) return len;
  const size_t in_len = len - kOffPayload;
  if (in_len < kCompressMinPayload) return len;
  uint8_t tmp[kMaxPayloadSize];
  // Capacity one less than the input: LZ4 fails (returns 0) unless strictly smaller.
  const int out = LZ4_compress_default(reinterpret_cast<const char*>(buf.data() + kOffPayload),
                                       reinterpret_cast<char*>(tmp), int(in_len),
                                       int(in_len - 1));
  if (out <= 0) return len;
  std::memcpy(buf.data() + kOffPayload, tmp, size_t(out));
  buf[kOffVerb] |= kVerbFlagCompressed;
  return kOffPayload + size_t(out);
}

std::optional<size_t> decompress_payload(MutByteSpan buf, size_t len) {
  if (len < kHeaderSize || len > buf.size() || len > kMaxPacketSize) return std::nullopt;
  if ((buf[kOffVerb] & kVerbFlagCompressed) == 0) return len;
  const size_t in_len = len - kOffPayload;
  if (in_len == 0) return std::nullopt;
  uint8_t tmp[kMaxPayloadSize];
  const int out = LZ4_decompress_safe(reinterpret_cast<const char*>(buf.data() + kOffPayload),
                                      reinterpret_cast<char*>(tmp), int(in_len),
                                      int(sizeof tmp));
  if (out <= 0) return std::nullopt;
  const size_t n = kOffPayload + size_t(out);
  if (n > buf.size()) return std::nullopt;
  std::memcpy(buf.data() + kOffPayload, tmp, size_t(out));
  buf[kOffVerb] &= uint8_t(~kVerbFlagCompressed);
  return n;
}

// ---- Classification ----------------------------------------------------------------------------

DatagramKind classify(ByteSpan d) {
  const size_t n = d.size();
  if (n == kBeaconSize) return DatagramKind::Beacon;
  if (n > kMaxPacketSize) return DatagramKind::Drop;
  if (n > kFragmentHeaderSize && d[kFragOffIndicator] == kFragmentIndicator)
    return DatagramKind::Fragment;
  if (n >= kHeaderSize) return DatagramKind::Head;
  return DatagramKind::Drop;
}

Address beacon_source(ByteSpan d) {
  return d.size() == kBeaconSize ? load_be(d.data() + 8, 5) : 0;
}

}  // namespace zt::proto
