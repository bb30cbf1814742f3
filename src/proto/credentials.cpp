#include "proto/credentials.hpp"

#include <algorithm>
#include <cstring>

namespace zt::proto {
namespace {

constexpr uint8_t kSigTypeEd25519 = 1;

void frame(Writer& w) {
  for (int i = 0; i < 8; ++i) w.u8(0x7f);
}

// Signed-by must be the network's controller and the offered identity must be that signer.
bool controller_signed(uint64_t nwid, Address signed_by, const Identity& signer) {
  return signed_by != 0 && signed_by == network_controller(nwid) && signer.address() == signed_by;
}

// §7.3 signature block: [1] type | [2] length | signature. Type 1 must carry 96 bytes; other
// types are skipped by their length and leave has_sig false.
Status read_signature_block(Reader& r, bool& has_sig, crypto::Signature& sig, const char* what) {
  uint8_t type = r.u8();
  size_t len = r.u16();
  if (!r.ok()) return err(std::string(what) + ": truncated signature block");
  if (type == kSigTypeEd25519) {
    if (len != crypto::kSignatureSize)
      return err(std::string(what) + ": signature length " + std::to_string(len) + " (expected 96)");
    sig = r.array<crypto::kSignatureSize>();
    has_sig = true;
  } else {
    r.skip(len);
    sig = {};
    has_sig = false;
  }
  if (!r.ok()) return err(std::string(what) + ": truncated signature");
  return ok_status();
}

void write_signature_block(Writer& w, const crypto::Signature& sig) {
  w.u8(kSigTypeEd25519).u16(uint16_t(crypto::kSignatureSize)).bytes(ByteSpan(sig));
}

// [2] extension length + bytes; the contents are ignored (written back as 0).
Status skip_extension(Reader& r, const char* what) {
  size_t n = r.u16();
  r.skip(n);
  if (!r.ok()) return err(std::string(what) + ": truncated");
  return ok_status();
}

uint64_t abs_diff(uint64_t a, uint64_t b) { return a > b ? a - b : b - a; }

}  // namespace

// ---- COM ---------------------------------------------------------------------------------

CertificateOfMembership CertificateOfMembership::make(uint64_t timestamp, uint64_t max_delta,
                                                      uint64_t nwid, const Identity& member) {
  CertificateOfMembership c;
  c.qualifiers_.push_back({kTimestamp, timestamp, max_delta});
  c.qualifiers_.push_back({kNetworkId, nwid, 0});
  c.qualifiers_.push_back({kIssuedTo, member.address(), ~uint64_t(0)});
  auto h = member.public_key_hash();
  for (int i = 0; i < 4; ++i)
    c.qualifiers_.push_back({kIdentityHash0 + uint64_t(i), load_be64(h.data() + 8 * i), ~uint64_t(0)});
  return c;
}

Result<CertificateOfMembership> CertificateOfMembership::read(Reader& r) {
  uint8_t version = r.u8();
  size_t q = r.u16();
  if (!r.ok()) return err("COM: truncated");
  if (version != 1) return err("COM: version " + std::to_string(version) + " (expected 1)");
  if (q > kMaxQualifiers) return err("COM: " + std::to_string(q) + " qualifiers (max 8)");
  CertificateOfMembership c;
  for (size_t i = 0; i < q; ++i) {
    ComQualifier x;
    x.id = r.u64();
    x.value = r.u64();
    x.max_delta = r.u64();
    if (!c.qualifiers_.empty() && x.id < c.qualifiers_.back().id) return err("COM: qualifier IDs decrease");
    c.qualifiers_.push_back(x);
  }
  c.signed_by_ = r.u40();
  if (c.signed_by_ != 0) c.signature_ = r.array<crypto::kSignatureSize>();
  if (!r.ok()) return err("COM: truncated");
  return c;
}

void CertificateOfMembership::write(Writer& w) const {
  w.u8(1).u16(uint16_t(qualifiers_.size()));
  for (const auto& q : qualifiers_) w.u64(q.id).u64(q.value).u64(q.max_delta);
  w.u40(signed_by_);
  if (signed_by_ != 0) w.bytes(ByteSpan(signature_));
}

Bytes CertificateOfMembership::signing_form() const {
  Writer w(qualifiers_.size() * 24);
  for (const auto& q : qualifiers_) w.u64(q.id).u64(q.value).u64(q.max_delta);
  return w.take();
}

bool CertificateOfMembership::sign(const Identity& controller) {
  if (!controller.has_private()) return false;
  signed_by_ = controller.address();
  signature_ = controller.sign(signing_form());
  return true;
}

bool CertificateOfMembership::verify(const Identity& controller) const {
  if (!controller_signed(network_id(), signed_by_, controller)) return false;
  return controller.verify(signing_form(), signature_);
}

std::optional<uint64_t> CertificateOfMembership::qualifier(uint64_t id) const {
  for (const auto& q : qualifiers_)
    if (q.id == id) return q.value;
  return std::nullopt;
}

uint64_t CertificateOfMembership::max_delta() const {
  for (const auto& q : qualifiers_)
    if (q.id == kTimestamp) return q.max_delta;
  return 0;
}

std::optional<std::array<uint8_t, 32>> CertificateOfMembership::identity_hash() const {
  std::array<uint8_t, 32> h{};
  for (int i = 0; i < 4; ++i) {
    auto v = qualifier(kIdentityHash0 + uint64_t(i));
    if (!v) return std::nullopt;
    store_be64(h.data() + 8 * i, *v);
  }
  return h;
}

bool CertificateOfMembership::set_qualifier(uint64_t id, uint64_t value, uint64_t max_delta) {
  for (auto& q : qualifiers_)
    if (q.id == id) {
      q.value = value;
      q.max_delta = max_delta;
      return true;
    }
  if (qualifiers_.size() >= kMaxQualifiers) return false;
  auto at = std::upper_bound(qualifiers_.begin(), qualifiers_.end(), id,
                             [](uint64_t v, const ComQualifier& q) { return v < q.id; });
  qualifiers_.insert(at, ComQualifier{id, value, max_delta});
  return true;
}

bool CertificateOfMembership::agrees_with(const CertificateOfMembership& other,
                                          const Identity& other_identity) const {
  bool want_hash = false;
  for (const auto& q : qualifiers_) {
    auto theirs = other.qualifier(q.id);
    if (!theirs) return false;
    if (abs_diff(q.value, *theirs) > q.max_delta) return false;
    if (q.id >= kIdentityHash0 && q.id < kIdentityHash0 + 4) want_hash = true;
  }
  if (!want_hash) return true;
  // Their COM must be bound to the identity presenting it (§7.1).
  auto h = other_identity.public_key_hash();
  for (int i = 0; i < 4; ++i) {
    auto theirs = other.qualifier(kIdentityHash0 + uint64_t(i));
    if (!theirs || *theirs != load_be64(h.data() + 8 * i)) return false;
  }
  return true;
}

// ---- Capability --------------------------------------------------------------------------

Result<std::vector<Rule>> Capability::rules() const {
  Reader r(rules_bytes_);
  auto rules = read_rules(r, rule_count_, kMaxRules);
  if (!rules) return rules;
  if (!r.done()) return err("capability: rule bytes left over");
  return rules;
}

bool Capability::set_rules(const std::vector<Rule>& rules) {
  if (rules.size() > kMaxRules) return false;
  rules_bytes_ = serialize_rules(rules);
  rule_count_ = uint16_t(rules.size());
  return true;
}

Result<Capability> Capability::read(Reader& r) {
  Capability c;
  c.nwid = r.u64();
  c.timestamp = r.u64();
  c.id = r.u32();
  size_t nrules = r.u16();
  if (!r.ok()) return err("capability: truncated");
  if (nrules > kMaxRules) return err("capability: " + std::to_string(nrules) + " rules (max 64)");
  size_t rules_at = r.pos();
  auto rules = read_rules(r, nrules, kMaxRules);
  if (!rules) return err("capability: " + rules.error());
  ByteSpan raw = r.whole().subspan(rules_at, r.pos() - rules_at);
  c.rules_bytes_.assign(raw.begin(), raw.end());
  c.rule_count_ = uint16_t(nrules);

  c.max_custody = r.u8();
  if (!r.ok()) return err("capability: truncated");
  if (c.max_custody < 1 || c.max_custody > kMaxCustodyChain)
    return err("capability: custody chain limit " + std::to_string(c.max_custody) + " outside 1..7");
  for (;;) {
    Address to = r.u40();
    if (!r.ok()) return err("capability: truncated custody chain");
    if (to == 0) break;  // terminator
    if (c.custody.size() >= c.max_custody) return err("capability: custody chain longer than its limit");
    CustodyEntry e;
    e.to = to;
    e.from = r.u40();
    auto s = read_signature_block(r, e.has_signature, e.signature, "capability");
    if (!s) return s.take_error();
    c.custody.push_back(e);
  }
  if (auto s = skip_extension(r, "capability"); !s) return s.take_error();
  return c;
}

void Capability::write(Writer& w) const {
  w.u64(nwid).u64(timestamp).u32(id).u16(rule_count_).bytes(rules_bytes_);
  w.u8(max_custody);
  for (const auto& e : custody) {
    w.u40(e.to).u40(e.from);
    write_signature_block(w, e.signature);
  }
  w.u40(0);  // terminator, always present
  w.u16(0);  // extension length
}

Bytes Capability::signing_form() const {
  Writer w(64 + rules_bytes_.size());
  frame(w);
  w.u64(nwid).u64(timestamp).u32(id).u16(rule_count_).bytes(rules_bytes_);
  w.u8(max_custody);
  w.u16(0);
  frame(w);
  return w.take();
}

bool Capability::add_custody(const Identity& from, Address to) {
  if (!from.has_private() || to == 0 || custody.size() >= max_custody) return false;
  CustodyEntry e;
  e.to = to;
  e.from = from.address();
  e.signature = from.sign(signing_form());
  custody.push_back(e);
  return true;
}

bool Capability::sign(const Identity& controller, Address to) {
  custody.clear();
  return add_custody(controller, to);
}

Capability::Verification Capability::verify(const std::function<const Identity*(Address)>& lookup) const {
  Verification v;
  if (custody.empty() || custody.size() > max_custody) return v;
  if (custody[0].from != network_controller(nwid)) return v;
  Bytes form = signing_form();
  for (size_t i = 0; i < custody.size(); ++i) {
    const auto& e = custody[i];
    if (!e.has_signature) return v;
    if (i > 0 && e.from != custody[i - 1].to) return v;
    const Identity* signer = lookup ? lookup(e.from) : nullptr;
    if (!signer) {
      v.verdict = Verdict::NeedIdentity;
      v.missing = e.from;
      return v;
    }
    if (signer->address() != e.from || !signer->verify(form, e.signature)) return v;
  }
  v.verdict = Verdict::Ok;
  return v;
}

bool Capability::verify(const Identity& controller) const {
  return verify([&](Address a) { return a == controller.address() ? &controller : nullptr; }).verdict ==
         Verdict::Ok;
}

// ---- Tag ---------------------------------------------------------------------------------

Result<Tag> Tag::read(Reader& r) {
  Tag t;
  t.nwid = r.u64();
  t.timestamp = r.u64();
  t.id = r.u32();
  t.value = r.u32();
  t.issued_to = r.u40();
  t.signed_by = r.u40();
  if (!r.ok()) return err("tag: truncated");
  if (auto s = read_signature_block(r, t.has_signature, t.signature, "tag"); !s) return s.take_error();
  if (auto s = skip_extension(r, "tag"); !s) return s.take_error();
  return t;
}

void Tag::write(Writer& w) const {
  w.u64(nwid).u64(timestamp).u32(id).u32(value).u40(issued_to).u40(signed_by);
  write_signature_block(w, signature);
  w.u16(0);
}

Bytes Tag::signing_form() const {
  Writer w(64);
  frame(w);
  w.u64(nwid).u64(timestamp).u32(id).u32(value).u40(issued_to).u40(signed_by);
  w.u16(0);
  frame(w);
  return w.take();
}

bool Tag::sign(const Identity& controller) {
  if (!controller.has_private()) return false;
  signed_by = controller.address();
  signature = controller.sign(signing_form());
  has_signature = true;
  return true;
}

bool Tag::verify(const Identity& controller) const {
  return has_signature && controller_signed(nwid, signed_by, controller) &&
         controller.verify(signing_form(), signature);
}

// ---- Certificate of Ownership ------------------------------------------------------------

bool CertificateOfOwnership::add_ip(const InetAddress& ip) {
  if (things.size() >= kMaxThings || ip.ip_size() == 0) return false;
  Thing t;
  t.type = ip.is_v4() ? ThingType::Ipv4 : ThingType::Ipv6;
  std::memcpy(t.value.data(), ip.ip(), ip.ip_size());
  things.push_back(t);
  return true;
}

bool CertificateOfOwnership::add_mac(const Mac& mac) {
  if (things.size() >= kMaxThings) return false;
  Thing t;
  t.type = ThingType::Mac;
  auto b = mac.bytes();
  std::memcpy(t.value.data(), b.data(), 6);
  things.push_back(t);
  return true;
}

bool CertificateOfOwnership::owns_ipv4(const uint8_t ip[4]) const {
  for (const auto& t : things)
    if (t.type == ThingType::Ipv4 && std::memcmp(t.value.data(), ip, 4) == 0) return true;
  return false;
}

bool CertificateOfOwnership::owns_ipv6(const uint8_t ip[16]) const {
  for (const auto& t : things)
    if (t.type == ThingType::Ipv6 && std::memcmp(t.value.data(), ip, 16) == 0) return true;
  return false;
}

bool CertificateOfOwnership::owns_ip(const InetAddress& ip) const {
  if (ip.is_v4()) return owns_ipv4(ip.ip());
  if (ip.is_v6()) return owns_ipv6(ip.ip());
  return false;
}

bool CertificateOfOwnership::owns_mac(const Mac& mac) const {
  auto b = mac.bytes();
  for (const auto& t : things)
    if (t.type == ThingType::Mac && std::memcmp(t.value.data(), b.data(), 6) == 0) return true;
  return false;
}

namespace {
void write_coo_body(const CertificateOfOwnership& c, Writer& w) {
  w.u64(c.nwid).u64(c.timestamp).u64(c.flags).u32(c.id).u16(uint16_t(c.things.size()));
  for (const auto& t : c.things) w.u8(uint8_t(t.type)).bytes(ByteSpan(t.value));
  w.u40(c.issued_to).u40(c.signed_by);
}
}  // namespace

Result<CertificateOfOwnership> CertificateOfOwnership::read(Reader& r) {
  CertificateOfOwnership c;
  c.nwid = r.u64();
  c.timestamp = r.u64();
  c.flags = r.u64();
  c.id = r.u32();
  size_t n = r.u16();
  if (!r.ok()) return err("COO: truncated");
  if (n > kMaxThings) return err("COO: " + std::to_string(n) + " things (max 16)");
  for (size_t i = 0; i < n; ++i) {
    Thing t;
    t.type = ThingType(r.u8());  // unknown thing types are kept; they own nothing
    t.value = r.array<16>();
    c.things.push_back(t);
  }
  c.issued_to = r.u40();
  c.signed_by = r.u40();
  if (!r.ok()) return err("COO: truncated");
  if (auto s = read_signature_block(r, c.has_signature, c.signature, "COO"); !s) return s.take_error();
  if (auto s = skip_extension(r, "COO"); !s) return s.take_error();
  return c;
}

void CertificateOfOwnership::write(Writer& w) const {
  write_coo_body(*this, w);
  write_signature_block(w, signature);
  w.u16(0);
}

Bytes CertificateOfOwnership::signing_form() const {
  Writer w(64 + things.size() * 17);
  frame(w);
  write_coo_body(*this, w);
  w.u16(0);
  frame(w);
  return w.take();
}

bool CertificateOfOwnership::sign(const Identity& controller) {
  if (!controller.has_private()) return false;
  signed_by = controller.address();
  signature = controller.sign(signing_form());
  has_signature = true;
  return true;
}

bool CertificateOfOwnership::verify(const Identity& controller) const {
  return has_signature && controller_signed(nwid, signed_by, controller) &&
         controller.verify(signing_form(), signature);
}

// ---- Revocation --------------------------------------------------------------------------

namespace {
void write_revocation_body(const Revocation& v, Writer& w) {
  w.u32(0).u32(v.id).u64(v.nwid).u32(0).u32(v.credential_id).u64(v.threshold).u64(v.flags);
  w.u40(v.target).u40(v.signed_by).u8(uint8_t(v.credential_type));
}
}  // namespace

Result<Revocation> Revocation::read(Reader& r) {
  Revocation v;
  r.u32();  // reserved
  v.id = r.u32();
  v.nwid = r.u64();
  r.u32();  // reserved
  v.credential_id = r.u32();
  v.threshold = r.u64();
  v.flags = r.u64();
  v.target = r.u40();
  v.signed_by = r.u40();
  v.credential_type = CredentialType(r.u8());
  if (!r.ok()) return err("revocation: truncated");
  if (auto s = read_signature_block(r, v.has_signature, v.signature, "revocation"); !s) return s.take_error();
  if (auto s = skip_extension(r, "revocation"); !s) return s.take_error();
  return v;
}

void Revocation::write(Writer& w) const {
  write_revocation_body(*this, w);
  write_signature_block(w, signature);
  w.u16(0);
}

Bytes Revocation::signing_form() const {
  Writer w(80);
  frame(w);
  write_revocation_body(*this, w);
  w.u16(0);
  frame(w);
  return w.take();
}

bool Revocation::sign(const Identity& controller) {
  if (!controller.has_private()) return false;
  signed_by = controller.address();
  signature = controller.sign(signing_form());
  has_signature = true;
  return true;
}

bool Revocation::verify(const Identity& controller) const {
  return has_signature && controller_signed(nwid, signed_by, controller) &&
         controller.verify(signing_form(), signature);
}

}  // namespace zt::proto
