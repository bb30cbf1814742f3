// Membership: credential acceptance (§7.5, §7.6) and the gate (§7.1, §16.1.2).
#include "core/membership.hpp"

#include <cstring>

namespace zt::core {

using proto::Address;
using proto::CredentialType;

namespace {

uint64_t abs_diff(uint64_t a, uint64_t b) { return a > b ? a - b : b - a; }

template <class T>
Bytes wire(const T& x) {
  Writer w;
  x.write(w);
  return w.take();
}

OfferResult rejected(const char* reason) { return {CredentialOutcome::Rejected, reason, 0, false}; }
OfferResult deferred(Address missing) { return {CredentialOutcome::Deferred, "", missing, false}; }
OfferResult accepted_new() { return {CredentialOutcome::AcceptedNew, "", 0, false}; }
OfferResult redundant() { return {CredentialOutcome::AcceptedRedundant, "", 0, false}; }

// Verification of a controller-signed credential (COM, Tag, COO, Revocation), in the
// reference order: a signer other than the network's controller is invalid without a
// lookup; an unknown controller defers; then the signature.
template <class T>
OfferResult verify_controller_signed(const T& cred, uint64_t cred_nwid, Address signed_by,
                                     const IdentityLookup& lookup) {
  if (signed_by == 0 || signed_by != proto::network_controller(cred_nwid)) return rejected("invalid");
  const proto::Identity* signer = lookup ? lookup(signed_by) : nullptr;
  if (!signer) return deferred(signed_by);
  if (!cred.verify(*signer)) return rejected("invalid");
  return accepted_new();
}

// §7.6 checks shared by Tag, Capability and COO, up to (not including) verification:
// `old` is the stored credential with the same ID (if any), `threshold` the (type, ID)
// revocation threshold (if any). nullopt = go on to verification.
template <class T>
std::optional<OfferResult> precheck(const T* old, const T& cred, const uint64_t* threshold) {
  if (old) {
    if (old->timestamp > cred.timestamp) return rejected("old");
    if (wire(*old) == wire(cred)) return redundant();
  }
  if (threshold && *threshold >= cred.timestamp) return rejected("revoked");
  return std::nullopt;
}

template <class M>
auto* find_in(M& m, typename M::key_type k) {
  auto it = m.find(k);
  return it == m.end() ? nullptr : &it->second;
}

bool same_ip(const proto::InetAddress& a, const uint8_t* ip, size_t n) {
  return a.ip_size() == n && std::memcmp(a.ip(), ip, n) == 0;
}

}  // namespace

// ---- Offers ------------------------------------------------------------------------------

OfferResult Membership::offer(uint64_t nwid, const proto::CertificateOfMembership& com,
                              const IdentityLookup& lookup) {
  if (com.network_id() != nwid) return rejected("");
  const uint64_t ts = com.timestamp();
  if (ts <= com_threshold_) return rejected("revoked");
  if (com_) {
    if (ts < com_->timestamp()) return rejected("old");
    if (wire(*com_) == wire(com)) return redundant();
  }
  OfferResult v = verify_controller_signed(com, com.network_id(), com.signed_by(), lookup);
  if (v.outcome != CredentialOutcome::AcceptedNew) return v;
  com_ = com;
  return v;
}

OfferResult Membership::offer(uint64_t nwid, const proto::Tag& tag, const IdentityLookup& lookup) {
  if (tag.nwid != nwid) return rejected("");
  if (auto r = precheck(find_in(tags_, tag.id), tag, find_in(revocations_, key(CredentialType::Tag, tag.id))))
    return *r;
  OfferResult v = verify_controller_signed(tag, tag.nwid, tag.signed_by, lookup);
  if (v.outcome != CredentialOutcome::AcceptedNew) return v;
  tags_[tag.id] = tag;
  return v;
}

OfferResult Membership::offer(uint64_t nwid, const proto::Capability& cap, const IdentityLookup& lookup) {
  if (cap.nwid != nwid) return rejected("");
  const HeldCapability* held = find_in(caps_, cap.id);
  if (auto r = precheck(held ? &held->cap : nullptr, cap,
                        find_in(revocations_, key(CredentialType::Capability, cap.id))))
    return *r;
  // §7.2 custody chain walk (entry 0 from the controller; each hop's signer looked up).
  auto ver = cap.verify(lookup);
  if (ver.verdict == proto::Capability::Verdict::NeedIdentity) return deferred(ver.missing);
  if (ver.verdict != proto::Capability::Verdict::Ok) return rejected("invalid");
  auto rules = cap.rules();
  if (!rules) return rejected("invalid");
  caps_[cap.id] = HeldCapability{cap, std::move(*rules)};
  return accepted_new();
}

OfferResult Membership::offer(uint64_t nwid, const proto::CertificateOfOwnership& coo,
                              const IdentityLookup& lookup) {
  if (coo.nwid != nwid) return rejected("");
  if (auto r = precheck(find_in(coos_, coo.id), coo, find_in(revocations_, key(CredentialType::Coo, coo.id))))
    return *r;
  OfferResult v = verify_controller_signed(coo, coo.nwid, coo.signed_by, lookup);
  if (v.outcome != CredentialOutcome::AcceptedNew) return v;
  coos_[coo.id] = coo;
  return v;
}

OfferResult Membership::offer(uint64_t nwid, const proto::Revocation& rev, const IdentityLookup& lookup) {
  if (rev.nwid != nwid) return rejected("");
  OfferResult v = verify_controller_signed(rev, rev.nwid, rev.signed_by, lookup);
  if (v.outcome != CredentialOutcome::AcceptedNew) return v;
  switch (rev.credential_type) {
    case CredentialType::Com:
      // §7.5 step 2: the COM threshold only rises through a COM revocation.
      if (rev.threshold <= com_threshold_) return redundant();
      com_threshold_ = rev.threshold;
      break;
    case CredentialType::Capability:
    case CredentialType::Tag:
    case CredentialType::Coo: {
      // §7.5 step 3. operator[] inserts 0 for a first, redundant zero threshold, as the
      // reference's table does (it then revokes only credentials with ts = 0).
      uint64_t& t = revocations_[key(rev.credential_type, rev.credential_id)];
      if (t >= rev.threshold) return redundant();
      t = rev.threshold;
      // Reference quirk: any cap/tag/COO revocation also SETS the COM threshold (it may go
      // down as well as up).
      com_threshold_ = rev.threshold;
      break;
    }
    default:
      return rejected("invalid");
  }
  v.propagate = (rev.flags & proto::Revocation::kFlagFastPropagate) != 0;
  return v;
}

// ---- Gate ----------------------------------------------------------------------------------

bool Membership::gate(const proto::NetworkConfig& own, const proto::Identity& member) const {
  if (!own.is_private()) return true;
  // Nothing to agree with on either side: a private network without our own COM, or no COM
  // received from the member, never passes.
  if (!own.com || own.com->empty() || !com_ || com_->empty()) return false;
  if (com_->timestamp() <= com_threshold_) return false;
  return own.com->agrees_with(*com_, member);
}

bool gate_passes(const proto::NetworkConfig& own, const Membership* m, const proto::Identity& member) {
  if (!own.is_private()) return true;
  return m != nullptr && m->gate(own, member);
}

// ---- Use-time accessors ------------------------------------------------------------------

uint64_t Membership::revocation_threshold(CredentialType type, uint32_t id) const {
  auto it = revocations_.find(key(type, id));
  return it == revocations_.end() ? 0 : it->second;
}

bool Membership::is_valid(const proto::NetworkConfig& own, CredentialType type, uint32_t id, uint64_t ts) const {
  if (abs_diff(ts, own.timestamp) > own.credential_time_max_delta) return false;
  auto it = revocations_.find(key(type, id));
  return it == revocations_.end() || ts > it->second;
}

const proto::Tag* Membership::tag(const proto::NetworkConfig& own, uint32_t id) const {
  auto it = tags_.find(id);
  if (it == tags_.end()) return nullptr;
  return is_valid(own, CredentialType::Tag, id, it->second.timestamp) ? &it->second : nullptr;
}

std::vector<const HeldCapability*> Membership::capabilities(const proto::NetworkConfig& own) const {
  std::vector<const HeldCapability*> out;
  for (const auto& [id, h] : caps_)
    if (is_valid(own, CredentialType::Capability, id, h.cap.timestamp)) out.push_back(&h);
  return out;
}

bool Membership::owns_ipv4(const proto::NetworkConfig& own, const uint8_t ip[4]) const {
  for (const auto& [id, c] : coos_)
    if (is_valid(own, CredentialType::Coo, id, c.timestamp) && c.owns_ipv4(ip)) return true;
  return false;
}

bool Membership::owns_ipv6(const proto::NetworkConfig& own, const uint8_t ip[16]) const {
  // Implicit ownership (§7.4, §8.2): with NDP emulation, addresses inside the network-wide
  // 6PLANE /40 or RFC4193 /88 prefixes count as authenticated, provided we ourselves were
  // assigned the corresponding address. The embedded node address is not compared.
  if (own.ndp_emulation()) {
    const proto::InetAddress sixplane = proto::sixplane_address(own.nwid, own.issued_to);
    for (const auto& s : own.static_ips) {
      if (!same_ip(s, sixplane.ip(), 16)) continue;
      if (std::memcmp(ip, sixplane.ip(), 5) == 0) return true;
      break;
    }
    const proto::InetAddress rfc = proto::rfc4193_address(own.nwid, own.issued_to);
    for (const auto& s : own.static_ips) {
      if (!same_ip(s, rfc.ip(), 16)) continue;
      if (std::memcmp(ip, rfc.ip(), 11) == 0) return true;
      break;
    }
  }
  for (const auto& [id, c] : coos_)
    if (is_valid(own, CredentialType::Coo, id, c.timestamp) && c.owns_ipv6(ip)) return true;
  return false;
}

bool Membership::owns_mac(const proto::NetworkConfig& own, const proto::Mac& mac) const {
  for (const auto& [id, c] : coos_)
    if (is_valid(own, CredentialType::Coo, id, c.timestamp) && c.owns_mac(mac)) return true;
  return false;
}

size_t Membership::cleanup(const proto::NetworkConfig& own) {
  size_t n = 0;
  n += std::erase_if(tags_, [&](const auto& kv) {
    return !is_valid(own, CredentialType::Tag, kv.first, kv.second.timestamp);
  });
  n += std::erase_if(caps_, [&](const auto& kv) {
    return !is_valid(own, CredentialType::Capability, kv.first, kv.second.cap.timestamp);
  });
  n += std::erase_if(coos_, [&](const auto& kv) {
    return !is_valid(own, CredentialType::Coo, kv.first, kv.second.timestamp);
  });
  return n;
}

const char* credential_outcome_name(CredentialOutcome o) {
  switch (o) {
    case CredentialOutcome::Rejected: return "rejected";
    case CredentialOutcome::AcceptedNew: return "accepted-new";
    case CredentialOutcome::AcceptedRedundant: return "accepted-redundant";
    case CredentialOutcome::Deferred: return "deferred";
  }
  return "?";
}

bool Membership::assume(const proto::Capability& cap) {
  auto rules = cap.rules();
  if (!rules) return false;
  caps_[cap.id] = HeldCapability{cap, std::move(*rules)};
  return true;
}

}  // namespace zt::core
