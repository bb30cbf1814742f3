// §7 credentials: the COM and COO from both cached configs (parse, verify, re-sign byte for
// byte, agrees_with), and sign/verify/round-trip/negative cases for every type.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "base/hex.hpp"
#include "proto/credentials.hpp"
#include "proto/dictionary.hpp"

using namespace zt;
using namespace zt::proto;

namespace {

constexpr uint64_t kNwid = 0xd5a72ff358c0ffeeULL;

Bytes read_vector(const std::string& name) {
  std::ifstream in(std::string(ZTCORE_VECTORS_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

Identity load_identity(const std::string& name) {
  Bytes b = read_vector(name);
  std::string s(b.begin(), b.end());
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  auto id = Identity::parse(s);
  EXPECT_TRUE(id) << name;
  return *id;
}

Bytes config_value(const std::string& node, const std::string& key) {
  auto d = Dictionary::parse(read_vector(node + ".networkconfig.dict"));
  EXPECT_TRUE(d);
  const Bytes* v = d->get(key);
  EXPECT_TRUE(v) << key;
  return v ? *v : Bytes{};
}

template <class T>
Bytes serialize(const T& x) {
  Writer w;
  x.write(w);
  return w.take();
}

template <class T>
Result<T> parse_exact(ByteSpan b) {
  Reader r(b);
  auto v = T::read(r);
  if (v && !r.done()) return err("trailing bytes");
  return v;
}

struct Fixture {
  Identity controller = load_identity("controller.identity.secret");
  Identity controller_pub = load_identity("controller.identity.public");
  Identity a = load_identity("nodea.identity.secret");
  Identity b = load_identity("nodeb.identity.secret");
  Identity root = load_identity("root.identity.secret");
};

const char* const kNodes[] = {"nodea", "nodeb"};

}  // namespace

// ---- COM -----------------------------------------------------------------------------------

TEST(Com, VectorComsParseVerifyAndRoundTrip) {
  Fixture f;
  for (const char* node : kNodes) {
    Identity member = load_identity(std::string(node) + ".identity.public");
    auto d = Dictionary::parse(read_vector(std::string(node) + ".networkconfig.dict"));
    Bytes blob = *d->get("C");
    auto com = parse_exact<Com>(blob);
    ASSERT_TRUE(com) << com.error();
    EXPECT_EQ(serialize(*com), blob);
    ASSERT_EQ(com->qualifiers().size(), 7u);
    EXPECT_EQ(com->timestamp(), *d->get_u64("ts"));
    EXPECT_EQ(com->max_delta(), *d->get_u64("ctmd"));
    EXPECT_EQ(com->network_id(), kNwid);
    EXPECT_EQ(com->issued_to(), member.address());
    EXPECT_EQ(com->qualifiers()[2].max_delta, ~uint64_t(0));
    // Qualifiers 3..6 = SHA-384(address ‖ public key) bytes 0..31.
    auto h = member.public_key_hash();
    std::array<uint8_t, 32> want{};
    std::copy(h.begin(), h.begin() + 32, want.begin());
    ASSERT_TRUE(com->identity_hash());
    EXPECT_EQ(*com->identity_hash(), want);
    EXPECT_EQ(com->qualifiers()[3].value, load_be64(h.data()));
    EXPECT_EQ(com->qualifiers()[6].value, load_be64(h.data() + 24));
    EXPECT_EQ(com->signed_by(), f.controller.address());
    EXPECT_TRUE(com->verify(f.controller_pub));
    EXPECT_FALSE(com->verify(member));  // wrong signer identity
    // make() + sign() with the controller secret reproduces the stored COM byte for byte.
    Com mine = Com::make(com->timestamp(), com->max_delta(), kNwid, member);
    EXPECT_EQ(mine.signing_form(), com->signing_form());
    ASSERT_TRUE(mine.sign(f.controller));
    EXPECT_EQ(serialize(mine), blob);
  }
}

TEST(Com, AgreesWith) {
  Fixture f;
  auto ca = parse_exact<Com>(config_value("nodea", "C"));
  auto cb = parse_exact<Com>(config_value("nodeb", "C"));
  ASSERT_TRUE(ca && cb);
  EXPECT_TRUE(ca->agrees_with(*cb, f.b));
  EXPECT_TRUE(cb->agrees_with(*ca, f.a));
  // B's COM presented with A's identity: the identity hash does not match.
  EXPECT_FALSE(ca->agrees_with(*cb, f.a));
  EXPECT_FALSE(ca->agrees_with(*cb, f.root));

  uint64_t ts = ca->timestamp(), delta = ca->max_delta();
  Com mine = Com::make(ts, delta, kNwid, f.a);
  Com within = Com::make(ts + delta, delta, kNwid, f.b);
  Com outside = Com::make(ts + delta + 1, delta, kNwid, f.b);
  Com outside_low = Com::make(ts - delta - 1, delta, kNwid, f.b);
  Com other_net = Com::make(ts, delta, kNwid + 1, f.b);
  EXPECT_TRUE(mine.agrees_with(within, f.b));
  EXPECT_FALSE(mine.agrees_with(outside, f.b));
  EXPECT_FALSE(mine.agrees_with(outside_low, f.b));
  EXPECT_FALSE(mine.agrees_with(other_net, f.b));
  // A qualifier of ours missing from theirs.
  Com sparse;
  ASSERT_TRUE(sparse.set_qualifier(Com::kTimestamp, ts, delta));
  ASSERT_TRUE(sparse.set_qualifier(Com::kNetworkId, kNwid, 0));
  EXPECT_FALSE(mine.agrees_with(sparse, f.b));
  // Without hash qualifiers on our side no identity binding is checked (older COMs).
  EXPECT_TRUE(sparse.agrees_with(within, f.root));
  // Ours has the hash but theirs lacks it.
  EXPECT_FALSE(mine.agrees_with(sparse, f.b));
}

TEST(Com, TamperingAndWrongSigner) {
  Fixture f;
  Bytes blob = config_value("nodea", "C");
  for (size_t i = 3; i < 3 + 7 * 24; ++i) {
    Bytes t = blob;
    t[i] ^= 0x04;
    auto com = parse_exact<Com>(t);
    if (com) {
      EXPECT_FALSE(com->verify(f.controller_pub)) << i;
    }
  }
  Bytes t = blob;
  t.back() ^= 1;  // signature
  EXPECT_FALSE(parse_exact<Com>(t)->verify(f.controller_pub));
  // Signed by a non-controller (properly signed by node A): rejected.
  Com c = *parse_exact<Com>(blob);
  ASSERT_TRUE(c.sign(f.a));
  EXPECT_EQ(c.signed_by(), f.a.address());
  EXPECT_FALSE(c.verify(f.a));
  EXPECT_FALSE(c.verify(f.controller_pub));
  // No private key: cannot sign.
  EXPECT_FALSE(c.sign(f.controller_pub));
  // Unsigned COM: 5 zero bytes, no signature.
  Com u = Com::make(1, 2, kNwid, f.a);
  Bytes ub = serialize(u);
  EXPECT_EQ(ub.size(), 3u + 7 * 24 + 5);
  auto ur = parse_exact<Com>(ub);
  ASSERT_TRUE(ur);
  EXPECT_FALSE(ur->is_signed());
  EXPECT_FALSE(ur->verify(f.controller_pub));
}

TEST(Com, MalformedInput) {
  Bytes blob = config_value("nodea", "C");
  for (size_t n = 0; n < blob.size(); ++n) EXPECT_FALSE(parse_exact<Com>(ByteSpan(blob).first(n))) << n;
  Bytes t = blob;
  t[0] = 2;  // version
  EXPECT_FALSE(parse_exact<Com>(t));
  t = blob;
  t[2] = 9;  // Q = 9 > 8
  EXPECT_FALSE(parse_exact<Com>(t));
  t = blob;
  t[1] = 0xff;  // Q huge
  EXPECT_FALSE(parse_exact<Com>(t));
  t = blob;
  t[3 + 24 + 7] = 0x07;  // qualifier 1's id → 7: then qualifier 2 (id 2) decreases
  EXPECT_FALSE(parse_exact<Com>(t));
  // Exactly 8 qualifiers parse.
  Com c;
  for (uint64_t i = 0; i < 8; ++i) ASSERT_TRUE(c.set_qualifier(i, i, i));
  EXPECT_FALSE(c.set_qualifier(8, 0, 0));
  EXPECT_TRUE(parse_exact<Com>(serialize(c)));
}

// ---- COO -----------------------------------------------------------------------------------

TEST(Coo, VectorCoosParseVerifyAndRoundTrip) {
  Fixture f;
  for (const char* node : kNodes) {
    Identity member = load_identity(std::string(node) + ".identity.public");
    auto d = Dictionary::parse(read_vector(std::string(node) + ".networkconfig.dict"));
    Bytes blob = *d->get("COO");
    auto coo = parse_exact<Coo>(blob);
    ASSERT_TRUE(coo) << coo.error();
    EXPECT_EQ(serialize(*coo), blob);
    EXPECT_EQ(coo->id, 1u);
    EXPECT_EQ(coo->flags, 0u);
    EXPECT_EQ(coo->nwid, kNwid);
    EXPECT_EQ(coo->timestamp, *d->get_u64("ts"));
    EXPECT_EQ(coo->issued_to, member.address());
    EXPECT_EQ(coo->signed_by, f.controller.address());
    EXPECT_TRUE(coo->verify(f.controller_pub));
    EXPECT_FALSE(coo->verify(member));
    // Things = the static IPs in `I` order (IPv6 then IPv4).
    Reader ir(*d->get("I"));
    std::vector<InetAddress> ips;
    while (ir.remaining()) ips.push_back(*InetAddress::read(ir));
    ASSERT_EQ(coo->things.size(), ips.size());
    for (const auto& ip : ips) EXPECT_TRUE(coo->owns_ip(ip)) << ip.to_string();
    EXPECT_EQ(coo->things[0].type, Coo::ThingType::Ipv6);
    EXPECT_EQ(coo->things[1].type, Coo::ThingType::Ipv4);
    EXPECT_FALSE(coo->owns_ip(*InetAddress::parse("10.147.17.99")));
    EXPECT_FALSE(coo->owns_mac(Mac::from_address(member.address(), kNwid)));
    // Rebuild and re-sign: identical bytes.
    Coo mine;
    mine.nwid = kNwid;
    mine.timestamp = coo->timestamp;
    mine.id = 1;
    for (const auto& ip : ips) ASSERT_TRUE(mine.add_ip(ip));
    mine.issued_to = member.address();
    ASSERT_TRUE(mine.sign(f.controller));
    EXPECT_EQ(serialize(mine), blob);
    // Tamper with an owned IP.
    Bytes t = blob;
    t[30 + 16] ^= 1;
    EXPECT_FALSE(parse_exact<Coo>(t)->verify(f.controller_pub));
  }
}

TEST(Coo, MalformedInput) {
  Bytes blob = config_value("nodea", "COO");
  for (size_t n = 0; n < blob.size(); ++n) EXPECT_FALSE(parse_exact<Coo>(ByteSpan(blob).first(n))) << n;
  Bytes t = blob;
  t[29] = 17;  // N = 17 > 16
  EXPECT_FALSE(parse_exact<Coo>(t));
  // Signature length ≠ 96 with type 1.
  size_t sig_at = 30 + 2 * 17 + 10;
  ASSERT_EQ(blob[sig_at], 1);
  t = blob;
  t[sig_at + 2] = 95;
  EXPECT_FALSE(parse_exact<Coo>(t));
  // Unknown signature type: skipped by its length; parses but never verifies.
  t = blob;
  t[sig_at] = 2;
  auto c = parse_exact<Coo>(t);
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->has_signature);
  Fixture f;
  EXPECT_FALSE(c->verify(f.controller_pub));
  // MAC ownership and the 16-thing limit.
  Coo m;
  Mac mac = *Mac::parse("ee:70:2c:66:79:cb");
  ASSERT_TRUE(m.add_mac(mac));
  EXPECT_TRUE(m.owns_mac(mac));
  for (int i = 1; i < 16; ++i) ASSERT_TRUE(m.add_ip(*InetAddress::parse("10.0.0." + std::to_string(i))));
  EXPECT_FALSE(m.add_ip(*InetAddress::parse("10.0.0.99")));
  EXPECT_FALSE(m.add_ip(InetAddress()));
  auto back = parse_exact<Coo>(serialize(m));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, m);
}

// ---- Tag -----------------------------------------------------------------------------------

TEST(Tag, SignVerifyRoundTrip) {
  Fixture f;
  Tag t;
  t.nwid = kNwid;
  t.timestamp = 1795605736396ULL;
  t.id = 1000;
  t.value = 42;
  t.issued_to = f.a.address();
  ASSERT_TRUE(t.sign(f.controller));
  EXPECT_EQ(t.signed_by, f.controller.address());
  EXPECT_TRUE(t.verify(f.controller_pub));
  Bytes b = serialize(t);
  EXPECT_EQ(b.size(), 8u + 8 + 4 + 4 + 5 + 5 + 1 + 2 + 96 + 2);
  auto back = parse_exact<Tag>(b);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, t);
  EXPECT_EQ(serialize(*back), b);
  EXPECT_TRUE(back->verify(f.controller_pub));
  // Signing form layout.
  Bytes sf = t.signing_form();
  EXPECT_EQ(sf.size(), 8u + 34 + 2 + 8);
  EXPECT_EQ(to_hex(ByteSpan(sf).first(8)), "7f7f7f7f7f7f7f7f");
  EXPECT_EQ(to_hex(ByteSpan(sf).last(10)), "00007f7f7f7f7f7f7f7f");
  // Tampering each signed field fails.
  for (size_t i = 0; i < 34; ++i) {
    Bytes x = b;
    x[i] ^= 0x10;
    auto p = parse_exact<Tag>(x);
    ASSERT_TRUE(p);
    EXPECT_FALSE(p->verify(f.controller_pub)) << i;
  }
  // Wrong signer: a member signing its own tag.
  Tag forged = t;
  ASSERT_TRUE(forged.sign(f.a));
  EXPECT_FALSE(forged.verify(f.a));
  forged.signed_by = f.controller.address();
  EXPECT_FALSE(forged.verify(f.controller_pub));
  // Extension bytes are skipped on read and dropped on write.
  Bytes ext = b;
  ext[ext.size() - 1] = 3;
  ext.insert(ext.end(), {1, 2, 3});
  auto pe = parse_exact<Tag>(ext);
  ASSERT_TRUE(pe);
  EXPECT_EQ(serialize(*pe), b);
  for (size_t n = 0; n < b.size(); ++n) EXPECT_FALSE(parse_exact<Tag>(ByteSpan(b).first(n))) << n;
}

// ---- Revocation ----------------------------------------------------------------------------

TEST(Revocation, SignVerifyRoundTrip) {
  Fixture f;
  Revocation v;
  v.id = 7;
  v.nwid = kNwid;
  v.credential_id = 0;
  v.threshold = 1795605736396ULL;
  v.flags = Revocation::kFlagFastPropagate;
  v.target = f.b.address();
  v.credential_type = CredentialType::Com;
  ASSERT_TRUE(v.sign(f.controller));
  EXPECT_TRUE(v.verify(f.controller_pub));
  Bytes b = serialize(v);
  EXPECT_EQ(b.size(), 4u + 4 + 8 + 4 + 4 + 8 + 8 + 5 + 5 + 1 + 1 + 2 + 96 + 2);
  auto back = parse_exact<Revocation>(b);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, v);
  EXPECT_EQ(serialize(*back), b);
  EXPECT_TRUE(back->verify(f.controller_pub));
  EXPECT_EQ(v.signing_form().size(), 8u + 51 + 2 + 8);
  for (size_t i = 4; i < 51; ++i) {
    if (i >= 16 && i < 20) continue;  // reserved word, not kept
    Bytes x = b;
    x[i] ^= 0x01;
    auto p = parse_exact<Revocation>(x);
    ASSERT_TRUE(p);
    EXPECT_FALSE(p->verify(f.controller_pub)) << i;
  }
  Revocation forged = v;
  ASSERT_TRUE(forged.sign(f.b));
  EXPECT_FALSE(forged.verify(f.b));
  for (size_t n = 0; n < b.size(); ++n) EXPECT_FALSE(parse_exact<Revocation>(ByteSpan(b).first(n))) << n;
  Bytes bad = b;
  bad[51 + 2] = 0x61;  // sig length 0x0061 with type 1
  EXPECT_FALSE(parse_exact<Revocation>(bad));
}

// ---- Capability ----------------------------------------------------------------------------

namespace {
Capability sample_capability() {
  Capability c;
  c.nwid = kNwid;
  c.timestamp = 1795605736396ULL;
  c.id = 5;
  Rule eth;
  eth.type = uint8_t(RuleType::MatchEthertype);
  eth.ethertype = 0x0800;
  Rule ip;
  ip.type = uint8_t(RuleType::MatchIpv4Dest);
  ip.ip = {10, 147, 17, 0};
  ip.ip_prefix = 24;
  ip.or_ = true;
  EXPECT_TRUE(c.set_rules({eth, ip, Rule::accept()}));
  return c;
}
}  // namespace

TEST(Capability, ControllerIssuedSignVerifyRoundTrip) {
  Fixture f;
  Capability c = sample_capability();
  ASSERT_TRUE(c.sign(f.controller, f.a.address()));
  EXPECT_EQ(c.issued_to(), f.a.address());
  EXPECT_TRUE(c.verify(f.controller_pub));
  Bytes b = serialize(c);
  auto back = parse_exact<Capability>(b);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(*back, c);
  EXPECT_EQ(serialize(*back), b);
  EXPECT_TRUE(back->verify(f.controller_pub));
  auto rules = back->rules();
  ASSERT_TRUE(rules);
  ASSERT_EQ(rules->size(), 3u);
  EXPECT_EQ((*rules)[0].ethertype, 0x0800);
  EXPECT_TRUE((*rules)[1].or_);
  // Signing form: 7f×8 | nwid | ts | id | R | rules | M | 0000 | 7f×8.
  Bytes sf = c.signing_form();
  EXPECT_EQ(sf.size(), 8u + 8 + 8 + 4 + 2 + c.rules_bytes().size() + 1 + 2 + 8);
  // Tampering with a rule breaks the signature.
  Bytes x = b;
  x[22 + 2] ^= 0x01;  // first rule's ethertype byte
  auto p = parse_exact<Capability>(x);
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->verify(f.controller_pub));
  // Issued by a non-controller.
  Capability forged = sample_capability();
  ASSERT_TRUE(forged.sign(f.a, f.a.address()));
  EXPECT_FALSE(forged.verify(f.a));
}

TEST(Capability, CustodyChain) {
  Fixture f;
  Capability c = sample_capability();
  c.max_custody = 2;
  ASSERT_TRUE(c.sign(f.controller, f.a.address()));
  ASSERT_TRUE(c.add_custody(f.a, f.b.address()));
  EXPECT_FALSE(c.add_custody(f.b, f.root.address()));  // chain full (M = 2)
  EXPECT_EQ(c.issued_to(), f.b.address());
  auto lookup = [&](Address a) -> const Identity* {
    if (a == f.controller.address()) return &f.controller_pub;
    if (a == f.a.address()) return &f.a;
    if (a == f.b.address()) return &f.b;
    return nullptr;
  };
  EXPECT_EQ(c.verify(lookup).verdict, Capability::Verdict::Ok);
  auto back = parse_exact<Capability>(serialize(c));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->custody.size(), 2u);
  EXPECT_EQ(back->verify(lookup).verdict, Capability::Verdict::Ok);
  // Unknown signer → NeedIdentity with the missing address.
  auto partial = [&](Address a) -> const Identity* {
    return a == f.controller.address() ? &f.controller_pub : nullptr;
  };
  auto v = c.verify(partial);
  EXPECT_EQ(v.verdict, Capability::Verdict::NeedIdentity);
  EXPECT_EQ(v.missing, f.a.address());
  // Hop not from the previous holder.
  Capability broken = sample_capability();
  broken.max_custody = 2;
  ASSERT_TRUE(broken.sign(f.controller, f.a.address()));
  ASSERT_TRUE(broken.add_custody(f.b, f.root.address()));  // B was never the holder
  EXPECT_EQ(broken.verify(lookup).verdict, Capability::Verdict::Invalid);
  // First entry not from the controller.
  Capability notctl = sample_capability();
  ASSERT_TRUE(notctl.sign(f.a, f.b.address()));
  EXPECT_EQ(notctl.verify(lookup).verdict, Capability::Verdict::Invalid);
  // No chain at all.
  EXPECT_EQ(sample_capability().verify(lookup).verdict, Capability::Verdict::Invalid);
  // More entries than M on the wire → parse error.
  Capability over = c;
  over.max_custody = 1;
  EXPECT_FALSE(parse_exact<Capability>(serialize(over)));
}

TEST(Capability, MalformedInput) {
  Fixture f;
  Capability c = sample_capability();
  ASSERT_TRUE(c.sign(f.controller, f.a.address()));
  Bytes b = serialize(c);
  for (size_t n = 0; n < b.size(); ++n) EXPECT_FALSE(parse_exact<Capability>(ByteSpan(b).first(n))) << n;
  // R = 65 > 64.
  Bytes x = b;
  x[20] = 0;
  x[21] = 65;
  EXPECT_FALSE(parse_exact<Capability>(x));
  // M = 0 and M = 8.
  size_t m_at = 22 + c.rules_bytes().size();
  ASSERT_EQ(b[m_at], 1);
  x = b;
  x[m_at] = 0;
  EXPECT_FALSE(parse_exact<Capability>(x));
  x[m_at] = 8;
  EXPECT_FALSE(parse_exact<Capability>(x));
  // Custody signature length ≠ 96.
  x = b;
  x[m_at + 1 + 10 + 2] = 0x50;
  EXPECT_FALSE(parse_exact<Capability>(x));
  // set_rules refuses more than 64.
  EXPECT_FALSE(c.set_rules(std::vector<Rule>(65, Rule::accept())));
  EXPECT_TRUE(c.set_rules(std::vector<Rule>(64, Rule::accept())));
  // A capability carrying an unknown rule type keeps its exact bytes.
  Capability u = sample_capability();
  Bytes raw = serialize(u);
  // Replace the first rule (ethertype, 4 bytes) with an unknown type 60 of the same size.
  raw[22] = 60;
  ASSERT_EQ(raw[23], 2);
  auto pu = parse_exact<Capability>(raw);
  ASSERT_TRUE(pu);
  EXPECT_EQ(serialize(*pu), raw);
  EXPECT_EQ((*pu->rules())[0].type, 60);
}
