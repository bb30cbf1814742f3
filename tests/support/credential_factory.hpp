// Test helpers for VL2 credentials: the reference identities and configs from tests/vectors,
// and controller-signed Tags, Capabilities, COOs and Revocations made on the fly with
// tests/vectors/controller.identity.secret (the controller of network d5a72ff358c0ffee).
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/membership.hpp"
#include "proto/credentials.hpp"
#include "proto/identity.hpp"
#include "runtime/identity_store.hpp"
#include "proto/netconf.hpp"

namespace zt::test {

constexpr uint64_t kVectorNwid = 0xd5a72ff358c0ffeeULL;

inline Bytes read_vector_file(const std::string& name) {
  std::ifstream in(std::string(ZTCORE_VECTORS_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline proto::Identity vector_identity(const std::string& name) {
  auto id = runtime::load_identity_file(std::string(ZTCORE_VECTORS_DIR) + "/" + name);
  EXPECT_TRUE(id) << name << ": " << (id ? "" : id.error());
  return id ? *id : proto::Identity{};
}

inline proto::NetworkConfig vector_config(const std::string& node) {
  auto c = proto::NetworkConfig::parse(read_vector_file(node + ".networkconfig.dict"));
  EXPECT_TRUE(c) << node << ": " << (c ? "" : c.error());
  return c ? *c : proto::NetworkConfig{};
}

// The controller (with its secret key) and the two members, as shared fixtures: identities
// are parsed once per process.
struct VectorNodes {
  proto::Identity controller = vector_identity("controller.identity.secret");
  proto::Identity a = vector_identity("nodea.identity.public");
  proto::Identity b = vector_identity("nodeb.identity.public");
  proto::Identity a_secret = vector_identity("nodea.identity.secret");
  proto::Identity b_secret = vector_identity("nodeb.identity.secret");

  static const VectorNodes& get() {
    static const VectorNodes n;
    return n;
  }
  // Signer lookup knowing only the controller (public part is enough).
  core::IdentityLookup controller_only() const {
    return [this](proto::Address x) -> const proto::Identity* {
      return x == controller.address() ? &controller : nullptr;
    };
  }
  // Knows the controller and both members.
  core::IdentityLookup everyone() const {
    return [this](proto::Address x) -> const proto::Identity* {
      if (x == controller.address()) return &controller;
      if (x == a.address()) return &a;
      if (x == b.address()) return &b;
      return nullptr;
    };
  }
  static core::IdentityLookup nobody() {
    return [](proto::Address) -> const proto::Identity* { return nullptr; };
  }
};

inline proto::Tag signed_tag(uint32_t id, uint32_t value, uint64_t ts, proto::Address to,
                             uint64_t nwid = kVectorNwid) {
  proto::Tag t;
  t.nwid = nwid;
  t.timestamp = ts;
  t.id = id;
  t.value = value;
  t.issued_to = to;
  EXPECT_TRUE(t.sign(VectorNodes::get().controller));
  return t;
}

inline proto::Capability signed_capability(uint32_t id, uint64_t ts, proto::Address to,
                                           const std::vector<proto::Rule>& rules,
                                           uint64_t nwid = kVectorNwid) {
  proto::Capability c;
  c.nwid = nwid;
  c.timestamp = ts;
  c.id = id;
  EXPECT_TRUE(c.set_rules(rules));
  EXPECT_TRUE(c.sign(VectorNodes::get().controller, to));
  return c;
}

inline proto::CertificateOfOwnership signed_coo(uint32_t id, uint64_t ts, proto::Address to,
                                                const std::vector<proto::InetAddress>& ips,
                                                const std::vector<proto::Mac>& macs = {},
                                                uint64_t nwid = kVectorNwid) {
  proto::CertificateOfOwnership c;
  c.nwid = nwid;
  c.timestamp = ts;
  c.id = id;
  c.issued_to = to;
  for (const auto& ip : ips) EXPECT_TRUE(c.add_ip(ip));
  for (const auto& m : macs) EXPECT_TRUE(c.add_mac(m));
  EXPECT_TRUE(c.sign(VectorNodes::get().controller));
  return c;
}

inline proto::Revocation signed_revocation(proto::CredentialType type, uint32_t cred_id, uint64_t threshold,
                                           proto::Address target, uint64_t flags = 0, uint32_t id = 1,
                                           uint64_t nwid = kVectorNwid) {
  proto::Revocation r;
  r.id = id;
  r.nwid = nwid;
  r.credential_id = cred_id;
  r.threshold = threshold;
  r.flags = flags;
  r.target = target;
  r.credential_type = type;
  EXPECT_TRUE(r.sign(VectorNodes::get().controller));
  return r;
}

// A controller-signed COM for `member` with the given timestamp and max delta.
inline proto::CertificateOfMembership signed_com(uint64_t ts, uint64_t max_delta, const proto::Identity& member,
                                                 uint64_t nwid = kVectorNwid) {
  auto c = proto::CertificateOfMembership::make(ts, max_delta, nwid, member);
  EXPECT_TRUE(c.sign(VectorNodes::get().controller));
  return c;
}

}  // namespace zt::test
