// VL2 acceptance tests on the deterministic simulator (tests/sim/sim.hpp): a root, a node with
// a real controller::EmbeddedController, and members joining one private network. Each
// scenario runs twice: on clean links and on links with 10 % loss, reordering and some
// duplication. Authorization goes through the controller's management API (§10.2) followed
// by process_pending on the controller node, as tools/cmd_lab.cpp does.
// PROTOCOL.md §4.2, §4.5, §7.1, §7.5, §9, §10.1, §16. All in virtual time; every run is seeded.
#include <gtest/gtest.h>

#include <set>

#include "sim.hpp"
#include "base/hex.hpp"

using namespace zt;
using namespace zt::sim;
using controller::json;
using core::NetworkStatus;
using proto::Mac;

namespace {

const std::map<std::string, proto::Identity>& ids() {
  static const auto m = [] {
    auto a = load_test_identities(ZTCORE_VECTORS_DIR);
    auto b = load_sim_identities(ZTCORE_VECTORS_DIR);
    a.insert(b.begin(), b.end());
    return a;
  }();
  return m;
}

const proto::WorldKeypair& keypair() {
  static const auto kp = *load_test_keypair(ZTCORE_VECTORS_DIR);
  return kp;
}

std::string member_name(size_t i) {
  static const char* const kFixed[] = {"nodea", "nodeb", "extra1", "extra2", "extra3", "extra4", "extra5", "extra6"};
  if (i < 8) return kFixed[i];
  char b[8];
  std::snprintf(b, sizeof b, "sim%02zu", i - 8);
  return b;
}

constexpr uint16_t kEt = 0x88b5;  // IEEE 802 local experimental (as the lab)
constexpr int64_t kSecond = 1000;

Link lossy_link() {
  Link l;
  l.latency_ms = 5;
  l.jitter_ms = 4;
  l.loss = 0.10;
  l.reorder = 0.2;
  l.reorder_ms = 30;
  l.duplicate = 0.05;
  return l;
}

// §4.2, written out independently of proto::Mac.
uint64_t expected_mac(Address a, uint64_t nwid) {
  uint64_t f = (nwid & 0xfe) | 0x02;
  if (f == 0x52) f = 0x32;
  uint64_t m = (f << 40) | a;
  m ^= ((nwid >> 8) & 0xff) << 32;
  m ^= ((nwid >> 16) & 0xff) << 24;
  m ^= ((nwid >> 24) & 0xff) << 16;
  m ^= ((nwid >> 32) & 0xff) << 8;
  m ^= (nwid >> 40) & 0xff;
  return m;
}

// §4.5 RFC4193 address bytes: fd | nwid | 99 93 | address.
std::array<uint8_t, 16> expected_rfc4193(uint64_t nwid, Address a) {
  std::array<uint8_t, 16> b{};
  b[0] = 0xfd;
  for (int i = 0; i < 8; ++i) b[1 + i] = uint8_t(nwid >> (56 - 8 * i));
  b[9] = 0x99;
  b[10] = 0x93;
  for (int i = 0; i < 5; ++i) b[11 + i] = uint8_t(a >> (32 - 8 * i));
  return b;
}

void report(const std::string& what, int64_t ms) {
  std::printf("[ sim      ] %s: %lld virtual ms\n", what.c_str(), static_cast<long long>(ms));
  ::testing::Test::RecordProperty(what, std::to_string(ms));
}

// Root + controller node + n members; one private network on the controller.
struct Lab {
  Lab(uint64_t seed, size_t n, bool lossy, const json& extra = json::object()) : sim(seed), lossy(lossy) {
    if (lossy) sim.default_link = lossy_link();
    root = sim.add("root", ids().at("root"));
    ctrl = sim.add("ctrl", ids().at("ctrl"));
    for (size_t i = 0; i < n; ++i) m.push_back(sim.add(member_name(i), ids().at(member_name(i))));
    planet = *make_world(sim, proto::World::Type::Planet, 0x51a7, 1'600'000'000'000, keypair(), {root});
    for (size_t i = 0; i < sim.size(); ++i) {
      core::NodeOptions o;
      o.planet = planet;
      EXPECT_TRUE(sim.start(i, o)) << sim.last_error;
    }
    sim.attach_controller(ctrl);
    nwid = (sim.address(ctrl) << 24) | 0x0b1e55;
    json net = {{"name", "simlab"},
                {"private", true},
                {"enableBroadcast", true},
                {"multicastLimit", 64},
                {"v4AssignMode", {{"zt", true}}},
                {"v6AssignMode", {{"rfc4193", true}, {"6plane", false}, {"zt", false}}},
                {"ipAssignmentPools", json::array({{{"ipRangeStart", "10.147.20.1"}, {"ipRangeEnd", "10.147.20.254"}}})},
                {"routes", json::array({{{"target", "10.147.20.0/24"}, {"via", nullptr}}})}};
    net.update(extra);
    auto r = ctl().write_network(sim.now(), nwid, net);
    EXPECT_TRUE(r.ok()) << r.body.dump();
  }

  controller::EmbeddedController& ctl() { return sim.controller(ctrl); }
  std::optional<core::NetworkInfo> info(size_t i) { return sim.host(i).info(nwid); }
  NetworkStatus status(size_t i) {
    auto x = info(i);
    return x ? x->status : NetworkStatus::RequestingConfiguration;
  }
  bool wait_status(const std::vector<size_t>& who, NetworkStatus s, int64_t max_ms) {
    return sim.run_until([&] {
      for (size_t i : who)
        if (status(i) != s) return false;
      return true;
    }, max_ms);
  }
  void authorize(size_t i, bool yes = true) {
    auto r = ctl().write_member(sim.now(), nwid, sim.address(i), json{{"authorized", yes}});
    EXPECT_TRUE(r.ok()) << r.body.dump();
    sim.process_pending(ctrl);
  }
  // Authorizes (first) and joins every listed member, then waits for status OK.
  bool bring_up(const std::vector<size_t>& who, int64_t max_ms = 60 * kSecond) {
    for (size_t i : who) authorize(i);
    for (size_t i : who) EXPECT_TRUE(sim.join(i, nwid).ok());
    return wait_status(who, NetworkStatus::Ok, max_ms);
  }
  Mac mac(size_t i) { return sim.mac(i, nwid); }
  Status send(size_t i, Mac dst, const std::string& text) { return sim.send_frame(i, nwid, mac(i), dst, kEt, as_bytes(text)); }
  // Frames on our network at node i whose payload starts with `prefix`.
  size_t got(size_t i, const std::string& prefix) {
    size_t n = 0;
    for (const auto& f : sim.host(i).frames)
      if (f.nwid == nwid && f.text().rfind(prefix, 0) == 0) ++n;
    return n;
  }
  // Sends "<tag> #k" from i to dst once a second until `to` received one; returns the attempts
  // made (0 if it never arrived within max_ms).
  int deliver(size_t i, Mac dst, size_t to, const std::string& tag, int64_t max_ms = 30 * kSecond) {
    const int64_t t0 = sim.now();
    for (int k = 1; sim.now() - t0 < max_ms; ++k) {
      EXPECT_TRUE(send(i, dst, tag + " #" + std::to_string(k)).ok());
      if (sim.run_until([&] { return got(to, tag + " #") > 0; }, kSecond)) return k;
    }
    return 0;
  }
  // Sends "<tag> #k" from i to dst once a second for `seconds`, then waits 2 s more.
  void spray(size_t i, Mac dst, const std::string& tag, int seconds) {
    for (int k = 1; k <= seconds; ++k) {
      EXPECT_TRUE(send(i, dst, tag + " #" + std::to_string(k)).ok());
      sim.run_for(kSecond);
    }
    sim.run_for(2 * kSecond);
  }
  size_t got_anywhere(const std::string& prefix) {
    size_t n = 0;
    for (size_t i = 0; i < sim.size(); ++i) n += got(i, prefix);
    return n;
  }

  Sim sim;
  bool lossy;
  size_t root = 0, ctrl = 0;
  std::vector<size_t> m;
  proto::World planet;
  uint64_t nwid = 0;
};

std::string tail(Sim& sim, size_t i, size_t n = 40) {
  const auto& ev = sim.host(i).events;
  std::string out = "events of " + sim.at(i).name + ":\n";
  for (size_t k = ev.size() > n ? ev.size() - n : 0; k < ev.size(); ++k)
    out += "  " + std::to_string(ev[k].at - kEpochMs) + " [" + std::to_string(int(ev[k].type)) + "] " + ev[k].text + "\n";
  return out;
}

class SimVl2 : public ::testing::TestWithParam<bool> {
 protected:
  bool lossy() const { return GetParam(); }
  uint64_t seed(uint64_t base) const { return base * 2 + (lossy() ? 1 : 0); }
  std::string label(const std::string& s) const { return s + (lossy() ? "_lossy" : "_clean"); }
};

}  // namespace

// ---- Join, deny, authorize ---------------------------------------------------------------------

TEST_P(SimVl2, UnauthorizedIsDeniedThenAuthorizedGetsConfigAndTalks) {
  Lab lab(seed(1), 3, lossy());
  const size_t A = lab.m[0], B = lab.m[1], X = lab.m[2];
  ASSERT_TRUE(lab.bring_up({A, B})) << tail(lab.sim, A);
  ASSERT_TRUE(lab.sim.join(X, lab.nwid).ok());
  ASSERT_TRUE(lab.wait_status({X}, NetworkStatus::AccessDenied, 30 * kSecond)) << tail(lab.sim, X);
  auto xi = lab.info(X);
  ASSERT_TRUE(xi);
  EXPECT_FALSE(xi->has_config);
  EXPECT_TRUE(xi->assigned_addresses.empty());
  // The controller recorded the request: X is listed, unauthorized (§10.1 step 9).
  auto mem = lab.ctl().get_member(lab.nwid, lab.sim.address(X));
  ASSERT_TRUE(mem.ok()) << mem.body.dump();
  EXPECT_FALSE(mem.body.value("authorized", true));

  // None of X's frames reach anyone: unicast to A, broadcast, multicast.
  lab.sim.run_for(3 * kSecond);  // A and B have announced themselves by now
  lab.spray(X, lab.mac(A), "x-unicast", 4);
  lab.spray(X, Mac::broadcast(), "x-broadcast", 3);
  EXPECT_EQ(lab.got_anywhere("x-"), 0u);
  EXPECT_GE(lab.sim.host(X).traces_with("no network config yet"), 7u);
  // Nor do frames to X get in (it has no config, so its gate fails).
  lab.spray(A, lab.mac(X), "a-to-x", 3);
  EXPECT_EQ(lab.got(X, "a-to-x"), 0u);
  // Meanwhile A and B talk.
  EXPECT_GT(lab.deliver(A, lab.mac(B), B, "a-to-b"), 0);
  // Frames refused by X's gate wait 5 s for credentials (§16.4 "return and retry"); let that
  // window pass, so that nothing sent before the authorization can legitimately surface.
  lab.sim.run_for(7 * kSecond);

  // Authorize X through the management API: status OK, §4.2 MAC, its IPs, frames both ways.
  const int64_t t_auth = lab.sim.now();
  lab.authorize(X);
  ASSERT_TRUE(lab.wait_status({X}, NetworkStatus::Ok, 30 * kSecond)) << tail(lab.sim, X);
  report(label("authorize_to_ok"), lab.sim.now() - t_auth);
  // The port callbacks: status changes without a config are CONFIG_UPDATE; the first config
  // brings the port UP (§9 step 2), exactly once.
  {
    const auto& ev = lab.sim.host(X).network_events;
    size_t ups = 0;
    bool denied_seen = false;
    for (const auto& e : ev) {
      if (e.op == core::NetworkOp::Up) {
        ++ups;
        EXPECT_TRUE(denied_seen);
        EXPECT_EQ(e.info.status, NetworkStatus::Ok);
        EXPECT_TRUE(e.info.has_config);
      } else if (e.info.status == NetworkStatus::AccessDenied) {
        denied_seen = true;
        EXPECT_EQ(e.op, core::NetworkOp::ConfigUpdate);
        EXPECT_FALSE(e.info.has_config);
      }
    }
    EXPECT_EQ(ups, 1u);
  }
  xi = lab.info(X);
  ASSERT_TRUE(xi && xi->has_config);
  EXPECT_EQ(xi->mac.value(), expected_mac(lab.sim.address(X), lab.nwid));
  EXPECT_EQ(xi->name, "simlab");
  EXPECT_FALSE(xi->is_public);
  bool have_v4 = false, have_v6 = false;
  const auto rfc = expected_rfc4193(lab.nwid, lab.sim.address(X));
  for (const auto& a : xi->assigned_addresses) {
    if (a.is_v4()) {
      have_v4 = true;
      EXPECT_EQ(a.ipv4() & 0xffffff00u, 0x0a931400u) << a.to_string();
      EXPECT_NE(a.ipv4() & 0xff, 0u);
      EXPECT_NE(a.ipv4() & 0xff, 0xffu);
      EXPECT_EQ(a.prefix_bits(), 24u);
    } else if (a.is_v6()) {
      have_v6 = true;
      EXPECT_TRUE(std::equal(rfc.begin(), rfc.end(), a.ip())) << a.to_string();
      EXPECT_EQ(a.prefix_bits(), 88u);
    }
  }
  EXPECT_TRUE(have_v4 && have_v6);
  // The controller's record agrees with what X was told.
  mem = lab.ctl().get_member(lab.nwid, lab.sim.address(X));
  EXPECT_TRUE(mem.body.value("authorized", false));
  ASSERT_EQ(mem.body["ipAssignments"].size(), 1u);
  for (const auto& a : xi->assigned_addresses)
    if (a.is_v4()) EXPECT_EQ(a.ip_string(), mem.body["ipAssignments"][0].get<std::string>());
  // The per-network MAC of X as the others see it: A's frames to it arrive, with A's MAC as source.
  EXPECT_GT(lab.deliver(X, lab.mac(A), A, "x-to-a-ok"), 0) << tail(lab.sim, A);
  EXPECT_GT(lab.deliver(A, lab.mac(X), X, "a-to-x-ok"), 0) << tail(lab.sim, X);
  for (const auto& f : lab.sim.host(X).frames) {
    EXPECT_EQ(f.dst, xi->mac);
    EXPECT_EQ(f.src.value(), expected_mac(lab.sim.address(A), lab.nwid));
    EXPECT_EQ(f.ethertype, kEt);
    EXPECT_EQ(f.vlan, 0);
  }
  // No pre-authorization frame surfaced late.
  EXPECT_EQ(lab.got_anywhere("x-unicast"), 0u);
  EXPECT_EQ(lab.got_anywhere("x-broadcast"), 0u);
  EXPECT_EQ(lab.got(X, "a-to-x #"), 0u);
}

// Frames refused by the gate wait at most 5 s for credentials (§16.4 "return and retry",
// ZT_RECEIVE_QUEUE_TIMEOUT), counted from their arrival — also when the sender keeps talking and
// each credential push replays (and re-refuses) them.
TEST_P(SimVl2, GateRefusedFramesExpireFiveSecondsAfterArrival) {
  Lab lab(seed(11), 2, lossy());
  const size_t A = lab.m[0], X = lab.m[1];
  ASSERT_TRUE(lab.bring_up({A}));
  ASSERT_TRUE(lab.sim.join(X, lab.nwid).ok());
  ASSERT_TRUE(lab.wait_status({X}, NetworkStatus::AccessDenied, 30 * kSecond));
  std::vector<int64_t> sent_at;
  for (int k = 1; k <= 12; ++k) {
    sent_at.push_back(lab.sim.now());
    ASSERT_TRUE(lab.send(A, lab.mac(X), "early #" + std::to_string(k)).ok());
    lab.sim.run_for(kSecond);
  }
  lab.authorize(X);
  ASSERT_TRUE(lab.wait_status({X}, NetworkStatus::Ok, 30 * kSecond));
  // A keeps talking, so X gets A's credentials and replays what still waits.
  EXPECT_GT(lab.deliver(A, lab.mac(X), X, "late"), 0);
  lab.sim.run_for(3 * kSecond);
  for (const auto& f : lab.sim.host(X).frames) {
    const std::string t = f.text();
    if (t.rfind("early #", 0) != 0) continue;
    const int k = std::stoi(t.substr(7));
    // Arrival is within 100 ms of sending here; 1 s of slack for the timer sweep.
    EXPECT_LE(f.at - sent_at[size_t(k - 1)], 6 * kSecond) << t << " delivered long after it arrived";
  }
}

// An unauthorized node that forges itself a config (a self-signed COM in its cached state) still
// gets nothing through: its COM is not signed by the controller (§7.1, §7.6).
TEST_P(SimVl2, ForgedConfigOfUnauthorizedMemberIsRejected) {
  Lab lab(seed(2), 3, lossy());
  const size_t A = lab.m[0], B = lab.m[1], X = lab.m[2];
  ASSERT_TRUE(lab.bring_up({A, B}));
  proto::NetworkConfig nc;
  nc.nwid = lab.nwid;
  nc.timestamp = uint64_t(lab.sim.now());
  nc.credential_time_max_delta = 1800000;
  nc.issued_to = lab.sim.address(X);
  nc.type = proto::NetworkConfig::kTypePrivate;
  nc.flags = proto::NetworkConfig::kFlagEnableBroadcast;
  nc.multicast_limit = 64;
  nc.name = "simlab";
  nc.rules = {proto::Rule::accept()};
  auto com = proto::CertificateOfMembership::make(nc.timestamp, nc.credential_time_max_delta, lab.nwid, ids().at(member_name(2)));
  ASSERT_TRUE(com.sign(ids().at(member_name(2))));
  nc.com = com;
  auto dict = nc.to_dictionary();
  ASSERT_TRUE(dict);
  lab.sim.host(X).state[{int(core::StateObject::NetworkConfig), lab.nwid}] = dict->serialize();
  ASSERT_TRUE(lab.sim.join(X, lab.nwid).ok());
  ASSERT_TRUE(lab.info(X) && lab.info(X)->has_config);  // the forged cache was loaded
  ASSERT_TRUE(lab.wait_status({X}, NetworkStatus::AccessDenied, 30 * kSecond)) << tail(lab.sim, X);
  lab.spray(X, lab.mac(A), "forged-unicast", 5);
  lab.spray(X, Mac::broadcast(), "forged-broadcast", 5);
  EXPECT_EQ(lab.got_anywhere("forged-"), 0u);
  // A says why: the COM X pushed is not the controller's.
  EXPECT_GE(lab.sim.host(A).traces_with("COM from " + proto::address_to_string(lab.sim.address(X)) + " rejected: invalid"), 1u)
      << tail(lab.sim, A);
  EXPECT_GT(lab.deliver(A, lab.mac(B), B, "a-to-b"), 0);
}

// authorized:false → the controller revokes X's COM (§7.5, §10.1 step 16): X's frames stop at
// once; frames to X stop once the members' renewed COMs no longer agree with X's last one
// (ctmd, §7.1), since X keeps its config (§16.1.1).
TEST_P(SimVl2, DeauthorizationStopsFramesBothWays) {
  Lab lab(seed(3), 3, lossy());
  const size_t A = lab.m[0], B = lab.m[1], X = lab.m[2];
  // ctmd = 5 min (the minimum). The management API does not write this field (§10.2), so it
  // goes straight into the stored record, where the controller reads it (§10.1 step 10).
  {
    auto& db = *lab.sim.at(lab.ctrl).controller_db;
    json net = *db.get_network(lab.nwid);
    net["certificateTimeoutWindowSize"] = 300000;
    ASSERT_TRUE(db.put_network(net));
  }
  ASSERT_TRUE(lab.bring_up({A, B, X}));
  EXPECT_EQ(lab.sim.node(X).network(lab.nwid).has_value(), true);
  EXPECT_GT(lab.deliver(X, lab.mac(A), A, "x-to-a"), 0);
  EXPECT_GT(lab.deliver(A, lab.mac(X), X, "a-to-x"), 0);
  EXPECT_GT(lab.deliver(X, lab.mac(B), B, "x-to-b"), 0);
  EXPECT_GT(lab.deliver(B, lab.mac(X), X, "b-to-x"), 0);

  const int64_t t_deauth = lab.sim.now();
  lab.authorize(X, false);
  const std::string revoked = "revocation for " + proto::address_to_string(lab.sim.address(X));
  ASSERT_TRUE(lab.sim.run_until([&] {
    return lab.sim.host(A).traces_with(revoked) && lab.sim.host(B).traces_with(revoked) &&
           lab.status(X) == NetworkStatus::AccessDenied;
  }, 30 * kSecond)) << tail(lab.sim, A) << tail(lab.sim, X);
  report(label("deauthorize_to_revoked"), lab.sim.now() - t_deauth);

  // X → members: stopped (unicast and broadcast).
  lab.spray(X, lab.mac(A), "deauth-x-to-a", 5);
  lab.spray(X, lab.mac(B), "deauth-x-to-b", 5);
  lab.spray(X, Mac::broadcast(), "deauth-x-bcast", 5);
  EXPECT_EQ(lab.got_anywhere("deauth-x-"), 0u);

  // Members → X: stopped once the COMs have drifted apart by more than ctmd (5 min here).
  // X judges a member by the newest COM it holds from it; members push their renewed COM with
  // their next frame and, if that push is lost, again after 30 s (§16.1.3). Until then X
  // still delivers (reference behaviour), so the members talk to X for 65 s first.
  lab.sim.run_for(7 * 60 * kSecond);
  EXPECT_EQ(lab.status(X), NetworkStatus::AccessDenied);
  for (int k = 0; k < 65; ++k) {
    EXPECT_TRUE(lab.send(A, lab.mac(X), "prime-a #" + std::to_string(k)).ok());
    EXPECT_TRUE(lab.send(B, lab.mac(X), "prime-b #" + std::to_string(k)).ok());
    lab.sim.run_for(kSecond);
  }
  std::printf("[ sim      ] %s: %zu of 130 priming frames reached X\n", label("deauth_stale_com").c_str(), lab.got(X, "prime-"));
  lab.spray(A, lab.mac(X), "late-a-to-x", 5);
  lab.spray(B, lab.mac(X), "late-b-to-x", 5);
  lab.spray(A, Mac::broadcast(), "late-a-bcast", 5);
  EXPECT_EQ(lab.got(X, "late-"), 0u) << tail(lab.sim, X) << tail(lab.sim, B, 80) << [&] {
    std::string o;
    for (const auto& f : lab.sim.host(X).frames)
      if (f.text().rfind("late-", 0) == 0) o += std::to_string(f.at - kEpochMs) + " " + f.text() + "\n";
    return o;
  }();
  lab.spray(X, lab.mac(A), "late-x-to-a", 3);
  EXPECT_EQ(lab.got_anywhere("late-x-"), 0u);
  // The authorized members still talk to each other, broadcast included.
  EXPECT_GT(lab.got(B, "late-a-bcast"), 0u);
  EXPECT_GT(lab.deliver(A, lab.mac(B), B, "late-a-to-b"), 0);
  EXPECT_GT(lab.deliver(B, lab.mac(A), A, "late-b-to-a"), 0);

  // Re-authorized: the controller pushes X a config with a fresh COM (newer than the
  // revocation threshold), and frames flow both ways again.
  lab.authorize(X, true);
  ASSERT_TRUE(lab.wait_status({X}, NetworkStatus::Ok, 70 * kSecond)) << tail(lab.sim, X);
  EXPECT_GT(lab.deliver(X, lab.mac(A), A, "again-x-to-a"), 0);
  EXPECT_GT(lab.deliver(A, lab.mac(X), X, "again-a-to-x"), 0);
  EXPECT_GT(lab.deliver(B, lab.mac(X), X, "again-b-to-x"), 0);
}

// ---- Broadcast and multicast ---------------------------------------------------------------------

TEST_P(SimVl2, BroadcastReachesEveryMemberOnceAndNeverTheSender) {
  Lab lab(seed(4), 5, lossy());
  ASSERT_TRUE(lab.bring_up(lab.m));
  lab.sim.run_for(2 * kSecond);
  for (size_t s : lab.m) {
    const std::string tag = "bcast from " + lab.sim.at(s).name + " #";
    std::map<size_t, uint64_t> dup0 = lab.sim.dup_delivered;
    int attempts = 0;
    auto everyone = [&] {
      for (size_t r : lab.m)
        if (r != s && lab.got(r, tag) == 0) return false;
      return true;
    };
    // A member whose LIKE to the root was lost stays unknown to gathers until its next
    // announcement (60 s, §16.3.2), so the budget covers two announcement periods.
    const int64_t t0 = lab.sim.now();
    while (!everyone() && lab.sim.now() - t0 < 130 * kSecond) {
      ++attempts;
      ASSERT_TRUE(lab.send(s, Mac::broadcast(), tag + std::to_string(attempts)).ok());
      lab.sim.run_until(everyone, kSecond);
    }
    report(label("broadcast_all_" + lab.sim.at(s).name), lab.sim.now() - t0);
    lab.sim.run_for(3 * kSecond);
    ASSERT_TRUE(everyone()) << tag << tail(lab.sim, s);
    EXPECT_EQ(lab.got(s, tag), 0u) << "the sender got its own broadcast";
    EXPECT_EQ(lab.got(lab.root, tag) + lab.got(lab.ctrl, tag), 0u);
    for (size_t r : lab.m) {
      if (r == s) continue;
      const uint64_t dups = lab.sim.dup_delivered[r] - dup0[r];
      for (int k = 1; k <= attempts; ++k) {
        const size_t n = lab.sim.host(r).frames_with(tag + std::to_string(k), lab.nwid);
        // Each copy is delivered at most once, plus what the wire duplicated.
        EXPECT_LE(n, 1 + dups) << tag << k << " at " << lab.sim.at(r).name;
      }
      for (const auto& f : lab.sim.host(r).frames)
        if (f.text().rfind(tag, 0) == 0) {
          EXPECT_TRUE(f.dst.is_broadcast());
          EXPECT_EQ(f.src, lab.mac(s));
        }
    }
    if (!lossy()) {
      EXPECT_EQ(attempts, 1);
      for (size_t r : lab.m)
        if (r != s) EXPECT_EQ(lab.got(r, tag), 1u) << lab.sim.at(r).name;
    }
  }
}

TEST_P(SimVl2, MulticastReachesSubscribersOnly) {
  Lab lab(seed(5), 5, lossy());
  ASSERT_TRUE(lab.bring_up(lab.m));
  const size_t A = lab.m[0], B = lab.m[1], C = lab.m[2], D = lab.m[3], E = lab.m[4];
  const proto::MulticastGroup g{*Mac::parse("01:00:5e:11:22:33"), 0};
  ASSERT_TRUE(lab.sim.node(B).multicast_subscribe(lab.sim.now(), lab.nwid, g).ok());
  ASSERT_TRUE(lab.sim.node(C).multicast_subscribe(lab.sim.now(), lab.nwid, g).ok());
  // E subscribes to a different group of the same MAC family.
  ASSERT_TRUE(lab.sim.node(E).multicast_subscribe(lab.sim.now(), lab.nwid, {*Mac::parse("01:00:5e:11:22:34"), 0}).ok());
  lab.sim.poke(B);
  lab.sim.poke(C);
  lab.sim.poke(E);
  lab.sim.run_for(2 * kSecond);
  auto subscribers = [&] { return lab.got(B, "mc #") > 0 && lab.got(C, "mc #") > 0; };
  int attempts = 0;
  const int64_t t0 = lab.sim.now();
  while (!subscribers() && lab.sim.now() - t0 < 130 * kSecond) {
    ++attempts;
    ASSERT_TRUE(lab.send(A, g.mac, "mc #" + std::to_string(attempts)).ok());
    lab.sim.run_until(subscribers, kSecond);
  }
  lab.sim.run_for(3 * kSecond);
  ASSERT_TRUE(subscribers()) << tail(lab.sim, A);
  EXPECT_EQ(lab.got(A, "mc #") + lab.got(D, "mc #") + lab.got(E, "mc #"), 0u);
  for (size_t r : {B, C})
    for (const auto& f : lab.sim.host(r).frames) {
      EXPECT_EQ(f.dst, g.mac);
      EXPECT_EQ(f.src, lab.mac(A));
    }
  if (!lossy()) {
    EXPECT_EQ(attempts, 1);
    EXPECT_EQ(lab.got(B, "mc #"), 1u);
    EXPECT_EQ(lab.got(C, "mc #"), 1u);
  }
  // Later multicasts (the group's members now known to A): still none for D, E or A.
  for (int k = 0; k < 3; ++k) {
    ASSERT_TRUE(lab.send(A, g.mac, "mc2 #" + std::to_string(k)).ok());
    lab.sim.run_for(kSecond);
  }
  EXPECT_EQ(lab.got(D, "mc2") + lab.got(E, "mc2") + lab.got(A, "mc2"), 0u);
}

// ---- User messages ---------------------------------------------------------------------------------

TEST_P(SimVl2, UserMessagesArriveIntactIncludingFragmented) {
  Lab lab(seed(6), 2, lossy());
  const size_t A = lab.m[0], B = lab.m[1];
  ASSERT_TRUE(lab.sim.run_until([&] { return lab.sim.node(A).online() && lab.sim.node(B).online(); }, 20 * kSecond));
  const uint64_t kType = 0x51e55a9e0000beefULL;
  std::vector<Bytes> payloads;
  // Incompressible data up to the most 7 fragments carry at the default physical MTU:
  // 1432 + 6 × (1432 − 16) = 9928 packet bytes = 28 header + 8 type ID + 9892 data bytes.
  // And 9988 compressible bytes (§16.5's maximum), which LZ4 shrinks into one packet.
  for (size_t n : {1u, 100u, 1400u, 6000u, 9892u}) {
    Bytes b(n);
    uint32_t x = uint32_t(n) * 2654435761u + 7;
    for (auto& v : b) v = uint8_t((x = x * 1103515245u + 12345u) >> 16);
    payloads.push_back(std::move(b));
  }
  payloads.push_back(Bytes(9988, 0x5a));
  auto received = [&](const Bytes& p) {
    size_t n = 0;
    for (const auto& e : lab.sim.host(B).of_type(EventType::UserMessage))
      if (e.peer == lab.sim.address(A) && e.type_id == kType && e.data == p) ++n;
    return n;
  };
  for (const auto& p : payloads) {
    bool ok = false;
    for (int k = 0; k < 30 && !ok; ++k) {
      auto st = lab.sim.node(A).send_user_message(lab.sim.now(), lab.sim.address(B), kType, p);
      ASSERT_TRUE(st.ok()) << p.size() << ": " << st.error();
      lab.sim.poke(A);
      ok = lab.sim.run_until([&] { return received(p) > 0; }, kSecond);
    }
    EXPECT_TRUE(ok) << p.size() << " bytes";
  }
  // Every message B got is one of the payloads, byte for byte.
  for (const auto& e : lab.sim.host(B).of_type(EventType::UserMessage)) {
    EXPECT_EQ(e.type_id, kType);
    EXPECT_TRUE(std::find(payloads.begin(), payloads.end(), e.data) != payloads.end()) << e.data.size();
  }
  // Too large: refused with an error and nothing sent — beyond the packet limit (9988 data
  // bytes), and incompressible data beyond 7 fragments (which receivers would drop, §2.3).
  const uint64_t sent = lab.sim.stats.sent;
  EXPECT_FALSE(lab.sim.node(A).send_user_message(lab.sim.now(), lab.sim.address(B), kType, Bytes(9989)).ok());
  Bytes big = payloads[4];
  big.push_back(0x17);
  EXPECT_FALSE(lab.sim.node(A).send_user_message(lab.sim.now(), lab.sim.address(B), kType, big).ok());
  EXPECT_EQ(lab.sim.stats.sent, sent);
}

// ---- The lab's discovery: broadcast ping, unicast pongs ------------------------------------------

namespace {

void ping_pong(Lab& lab, const std::string& name) {
  ASSERT_TRUE(lab.bring_up(lab.m, 120 * kSecond)) << tail(lab.sim, lab.m.back());
  // Every member got a distinct IPv4 from the pool.
  std::set<uint32_t> v4;
  for (size_t i : lab.m) {
    const auto info = lab.info(i);
    ASSERT_TRUE(info);
    for (const auto& a : info->assigned_addresses)
      if (a.is_v4()) EXPECT_TRUE(v4.insert(a.ipv4()).second) << a.to_string();
  }
  EXPECT_EQ(v4.size(), lab.m.size());

  const size_t n1 = lab.m[0];
  const std::string ping = "ping from ztid " + proto::address_to_string(lab.sim.address(n1));
  auto pong_of = [&](size_t i) { return "pong from ztid " + proto::address_to_string(lab.sim.address(i)); };
  auto pong_seen = [&](size_t i) { return lab.sim.host(n1).frames_with(pong_of(i), lab.nwid) > 0; };
  auto all_pongs = [&] {
    for (size_t i : lab.m)
      if (i != n1 && !pong_seen(i)) return false;
    return true;
  };
  // Each node answers every ping it hears (until n1 has its pong), to the ping's source MAC.
  std::vector<std::pair<size_t, Mac>> replies;
  for (size_t i : lab.m)
    if (i != n1)
      lab.sim.host(i).on_frame = [&, i](const RecordedFrame& f) {
        if (f.nwid == lab.nwid && f.text() == ping) replies.push_back({i, f.src});
      };
  const int64_t t0 = lab.sim.now();
  int64_t last = t0 - 10 * kSecond;
  int broadcasts = 0;
  while (!all_pongs() && lab.sim.now() - t0 < 200 * kSecond) {
    if (lab.sim.now() - last >= kSecond) {
      ASSERT_TRUE(lab.send(n1, Mac::broadcast(), ping).ok());
      ++broadcasts;
      last = lab.sim.now();
    }
    lab.sim.run_until([&] { return !replies.empty() || all_pongs(); }, std::max<int64_t>(0, last + kSecond - lab.sim.now()));
    auto rs = std::move(replies);
    replies.clear();
    for (auto [i, src] : rs)
      if (!pong_seen(i)) EXPECT_TRUE(lab.sim.send_frame(i, lab.nwid, lab.mac(i), src, kEt, as_bytes(pong_of(i))).ok());
  }
  const int64_t took = lab.sim.now() - t0;
  lab.sim.run_for(2 * kSecond);
  for (size_t i : lab.m) lab.sim.host(i).on_frame = nullptr;
  ASSERT_TRUE(all_pongs()) << tail(lab.sim, n1);
  report(name, took);
  std::printf("[ sim      ] %s: %d broadcast(s)\n", name.c_str(), broadcasts);
  EXPECT_EQ(lab.got(n1, "ping from"), 0u) << "n1 heard its own ping";
  for (size_t i : lab.m) {
    if (i == n1) continue;
    EXPECT_GE(lab.got(i, ping), 1u) << lab.sim.at(i).name;
    EXPECT_EQ(lab.got(i, "pong from"), 0u) << "a pong (unicast) reached " << lab.sim.at(i).name;
    for (const auto& f : lab.sim.host(n1).frames)
      if (f.text() == pong_of(i)) {
        EXPECT_EQ(f.src, lab.mac(i));
        EXPECT_EQ(f.dst, lab.mac(n1));
      }
    if (!lab.lossy) {
      EXPECT_EQ(lab.got(i, ping), 1u) << lab.sim.at(i).name;
      EXPECT_EQ(lab.sim.host(n1).frames_with(pong_of(i), lab.nwid), 1u);
    }
  }
  if (!lab.lossy) EXPECT_EQ(broadcasts, 1);
}

}  // namespace

TEST_P(SimVl2, PingPongDiscoveryThreeNodes) {
  Lab lab(seed(7), 3, lossy());
  ping_pong(lab, label("pingpong_3"));
}

TEST_P(SimVl2, PingPongDiscoveryFiftyNodes) {
  ASSERT_GE(ids().size(), 52u) << "tests/sim/identities.txt missing?";
  Lab lab(seed(8), 50, lossy());
  ping_pong(lab, label("pingpong_50"));
}

// ---- Bridging: foreign source MACs ----------------------------------------------------------------

TEST_P(SimVl2, ForeignSourceMacFromNonBridgeIsDroppedWithTrace) {
  Lab lab(seed(9), 3, lossy());
  const size_t A = lab.m[0], B = lab.m[1], C = lab.m[2];
  ASSERT_TRUE(lab.bring_up({A, B, C}));
  EXPECT_GT(lab.deliver(A, lab.mac(B), B, "warmup"), 0);
  const Mac foreign = *Mac::parse("02:11:22:33:44:55");
  // Outbound (§16.2.1 step 4): A is not an active bridge, so its core refuses the frame.
  for (int k = 0; k < 3; ++k) {
    ASSERT_TRUE(lab.sim.send_frame(A, lab.nwid, foreign, lab.mac(B), kEt, as_bytes("foreign-out #" + std::to_string(k))).ok());
    ASSERT_TRUE(lab.sim.send_frame(A, lab.nwid, foreign, Mac::broadcast(), kEt, as_bytes("foreign-out-b #" + std::to_string(k))).ok());
    lab.sim.run_for(kSecond);
  }
  EXPECT_EQ(lab.got_anywhere("foreign-out"), 0u);
  EXPECT_GE(lab.sim.host(A).traces_with("not a bridge"), 6u) << tail(lab.sim, A);

  // Inbound (§16.4.2 step 4a): make A an active bridge in its own config only (the member change
  // is pushed to A alone), so A sends EXT_FRAMEs that B, whose config does not list A, refuses.
  const size_t a_updates = lab.sim.host(A).network_events.size();
  const size_t b_updates = lab.sim.host(B).network_events.size();
  auto r = lab.ctl().write_member(lab.sim.now(), lab.nwid, lab.sim.address(A), json{{"activeBridge", true}});
  ASSERT_TRUE(r.ok()) << r.body.dump();
  lab.sim.process_pending(lab.ctrl);
  ASSERT_TRUE(lab.sim.run_until([&] { return lab.sim.host(A).network_events.size() > a_updates; }, 70 * kSecond));
  ASSERT_EQ(lab.sim.host(B).network_events.size(), b_updates) << "B refreshed its config meanwhile; pick another seed";
  const std::string why = "from " + proto::address_to_string(lab.sim.address(A)) + ": bridging not allowed (remote)";
  for (int k = 0; k < 5 && lab.sim.host(B).traces_with(why) == 0; ++k) {
    ASSERT_TRUE(lab.sim.send_frame(A, lab.nwid, foreign, lab.mac(B), kEt, as_bytes("foreign-in #" + std::to_string(k))).ok());
    lab.sim.run_for(kSecond);
  }
  EXPECT_GE(lab.sim.host(B).traces_with(why), 1u) << tail(lab.sim, B);
  EXPECT_EQ(lab.got_anywhere("foreign-in"), 0u);
  EXPECT_EQ(lab.sim.host(A).traces_with("not a bridge"), 6u);  // A now sends them
}

// ---- Leave --------------------------------------------------------------------------------------

TEST_P(SimVl2, LeaveStopsFrames) {
  Lab lab(seed(10), 3, lossy());
  const size_t A = lab.m[0], B = lab.m[1], C = lab.m[2];
  ASSERT_TRUE(lab.bring_up({A, B, C}));
  EXPECT_GT(lab.deliver(A, lab.mac(B), B, "before"), 0);
  EXPECT_GT(lab.deliver(B, lab.mac(A), A, "before-back"), 0);
  ASSERT_TRUE(lab.sim.leave(B, lab.nwid).ok());
  ASSERT_FALSE(lab.sim.host(B).network_events.empty());
  EXPECT_EQ(lab.sim.host(B).network_events.back().op, core::NetworkOp::Destroy);
  EXPECT_FALSE(lab.sim.node(B).network(lab.nwid));
  EXPECT_FALSE(lab.sim.host(B).state.count({int(core::StateObject::NetworkConfig), lab.nwid}));
  // B can no longer send on it; frames to B stop, unicast and broadcast.
  EXPECT_FALSE(lab.send(B, lab.mac(A), "after-from-b").ok());
  const size_t b_frames = lab.sim.host(B).frames.size();
  lab.spray(A, lab.mac(B), "after-a-to-b", 5);
  lab.spray(A, Mac::broadcast(), "after-bcast", 5);
  EXPECT_EQ(lab.sim.host(B).frames.size(), b_frames);
  EXPECT_GT(lab.got(C, "after-bcast"), 0u);  // the others still hear A
  EXPECT_EQ(lab.got(A, "after-from-b"), 0u);
  EXPECT_EQ(lab.sim.leave(B, lab.nwid).ok(), false);  // not joined any more
}

INSTANTIATE_TEST_SUITE_P(SimVl2Links, SimVl2, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "Lossy" : "Clean"; });

// ---- Credentials whose signer is unknown -------------------------------------------------------

// B restarts (cached config, empty peer table) while the controller is down and the root has
// forgotten it. A's frame reaches B, B asks for A's credentials, but cannot verify A's COM: its
// signer (the controller) is unknown and the WHOIS goes unanswered. When the controller comes
// back, B's WHOIS is answered, the held COM is offered again and the frame that waited for it is
// delivered — A sends nothing more (before this, the COM was forgotten and only a later push by
// A, after another refused frame, could get through).
TEST(SimVl2Credentials, DeferredComIsOfferedAgainWhenTheSignerIsKnown) {
  Lab lab(91, 2, false);
  const size_t A = lab.m[0], B = lab.m[1];
  ASSERT_TRUE(lab.bring_up({A, B}));
  ASSERT_GT(lab.deliver(A, lab.mac(B), B, "warmup"), 0);

  lab.sim.stop(lab.ctrl);
  ASSERT_TRUE(lab.sim.restart(lab.root));
  ASSERT_TRUE(lab.sim.restart(B));
  ASSERT_TRUE(lab.sim.join(B, lab.nwid).ok());
  ASSERT_TRUE(lab.info(B) && lab.info(B)->has_config) << "B has its cached config";
  lab.sim.run_for(150 * kSecond);  // A and B say HELLO to the restarted root again
  const auto frames_before = lab.sim.host(B).frames.size();

  ASSERT_TRUE(lab.send(A, lab.mac(B), "waited").ok());
  lab.sim.run_for(kSecond);
  EXPECT_EQ(lab.got(B, "waited"), 0u) << "B cannot check A's COM yet\n" << tail(lab.sim, B);

  ASSERT_TRUE(lab.sim.restart(lab.ctrl));
  lab.sim.attach_controller(lab.ctrl);
  EXPECT_TRUE(lab.sim.run_until([&] { return lab.got(B, "waited") == 1; }, 3 * kSecond)) << tail(lab.sim, B);
  EXPECT_EQ(lab.sim.host(B).frames.size(), frames_before + 1);
}
