// A minimal in-memory controller for core/runtime tests of the member side: one private
// network, members authorized by the test, IPv4 10.99.0.<n>/24 + RFC4193, broadcast on,
// default [ACCEPT] rules, COM signed by the controller. The real controller is src/controller.
#pragma once

#include <map>
#include <mutex>
#include <set>

#include "core/controller.hpp"
#include "proto/netconf.hpp"
#include "proto/vl2.hpp"

namespace zt::test {

class TestController final : public core::NetworkController {
 public:
  uint64_t nwid = 0;
  std::set<proto::Address> authorized;
  std::map<proto::Address, proto::Identity> members;
  uint64_t revision = 1;
  int64_t now_seen = 0;
  std::vector<proto::Rule> rules;  // empty = [ACCEPT]
  std::vector<uint64_t> specialists;

  void attach(core::ControllerSender* s) override { sender_ = s; }

  void on_request(int64_t now, const core::ConfigRequest& req) override {
    now_seen = now;
    if (req.nwid != nwid) {
      sender_->send_error(now, req.requester.address(), req.nwid, req.packet_id, proto::ErrorCode::ObjNotFound);
      return;
    }
    members[req.requester.address()] = req.requester;
    if (!authorized.count(req.requester.address())) {
      sender_->send_error(now, req.requester.address(), req.nwid, req.packet_id, proto::ErrorCode::NetworkAccessDenied);
      return;
    }
    send(now, req.requester, req.packet_id);
  }

  // Pushes the current config to a member (after authorization changes).
  void push(int64_t now, proto::Address a) {
    auto it = members.find(a);
    if (it != members.end()) send(now, it->second, 0);
  }

  void revoke(int64_t now, proto::Address a) {
    authorized.erase(a);
    proto::Revocation r;
    r.id = 1;
    r.nwid = nwid;
    r.credential_id = 0;
    r.threshold = uint64_t(now);
    r.flags = 1;
    r.target = a;
    r.signed_by = sender_->controller_identity().address();
    r.credential_type = proto::CredentialType::Com;
    r.sign(sender_->controller_identity());
    for (auto& [m, id] : members) sender_->send_revocation(now, m, r);
  }

 private:
  void send(int64_t now, const proto::Identity& who, uint64_t packet_id) {
    proto::NetworkConfig c;
    c.nwid = nwid;
    c.timestamp = uint64_t(now);
    c.credential_time_max_delta = 1800000;
    c.revision = revision;
    c.issued_to = who.address();
    c.flags = proto::NetworkConfig::kFlagEnableBroadcast | proto::NetworkConfig::kFlagNdpEmulation;
    c.multicast_limit = 32;
    c.type = proto::NetworkConfig::kTypePrivate;
    c.name = "testnet";
    c.mtu = 2800;
    auto com = proto::CertificateOfMembership::make(uint64_t(now), 1800000, nwid, who);
    com.sign(sender_->controller_identity());
    c.com = com;
    c.specialists = specialists;
    c.static_ips.push_back(proto::rfc4193_address(nwid, who.address()));
    c.static_ips.push_back(proto::InetAddress::v4(0x0a630000u | uint32_t(who.address() & 0xfe) | 1u, 24));
    if (rules.empty()) {
      proto::Rule accept;
      accept.type = 1;
      c.rules.push_back(accept);
    } else {
      c.rules = rules;
    }
    auto d = c.to_dictionary();
    if (d.ok()) sender_->send_config(now, who.address(), nwid, packet_id, *d);
  }
  core::ControllerSender* sender_ = nullptr;
};

}  // namespace zt::test
