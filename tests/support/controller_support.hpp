// Shared by the controller tests: vector loaders, §3.10 request metadata, a recording
// ControllerSender and a deterministic random source.
#pragma once

#include <cstdint>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/controller.hpp"
#include "proto/netconf.hpp"

namespace zt::test {

using zt::proto::Address;
using zt::proto::Dictionary;
using zt::proto::ErrorCode;
using zt::proto::Identity;
using zt::proto::NetworkConfig;
using zt::proto::Revocation;
using json = nlohmann::json;

inline constexpr uint64_t kNwid = 0xd5a72ff358c0ffeeULL;
inline constexpr int64_t kTsA = 0x1a21273ebccLL;  // `ts` of nodea.networkconfig.dict
inline constexpr int64_t kTsB = 0x1a21273ff55LL;  // `ts` of nodeb.networkconfig.dict

inline Bytes read_vector(const std::string& name) {
  std::ifstream in(std::string(ZTCORE_VECTORS_DIR) + "/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline json load_json(const std::string& name) {
  std::ifstream in(std::string(ZTCORE_VECTORS_DIR) + "/" + name);
  return json::parse(in);
}

inline Identity load_identity(const std::string& name) {
  Bytes b = read_vector(name);
  std::string s(b.begin(), b.end());
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  auto id = Identity::parse(s);
  EXPECT_TRUE(id) << name;
  return *id;
}

// §3.10 request metadata as the reference 1.14.1 node sends it.
inline Bytes request_metadata(bool with_revr = true, const std::string& extra_key = "", const std::string& extra = "") {
  Dictionary d;
  d.set_u64("v", 7);
  d.set_u64("vend", 1);
  d.set_u64("pv", 12);
  d.set_u64("majv", 1);
  d.set_u64("minv", 14);
  d.set_u64("revv", 1);
  d.set_u64("mr", 1024);
  d.set_u64("mc", 128);
  d.set_u64("mcr", 64);
  d.set_u64("mt", 128);
  d.set_u64("f", 0);
  if (with_revr) d.set_u64("revr", 1);
  d.set_string("o", "linux/x86_64");
  if (!extra_key.empty()) d.set_string(extra_key, extra);
  return d.serialize();
}

// Records everything the controller sends. Thread-safe (the HTTP tests share it).
struct FakeSender : core::ControllerSender {
  struct Sent {
    enum class Kind { Config, Error, Revocation } kind = Kind::Config;
    int64_t now = 0;
    Address dest = 0;
    uint64_t nwid = 0;
    uint64_t packet_id = 0;
    Dictionary config;
    ErrorCode code = ErrorCode::None;
    Bytes info;
    Revocation rev;
  };
  explicit FakeSender(Identity i) : id(std::move(i)) {}
  const Identity& controller_identity() const override { return id; }
  void send_config(int64_t now, Address dest, uint64_t nwid, uint64_t pid, const Dictionary& config) override {
    std::lock_guard lk(mu);
    Sent s;
    s.kind = Sent::Kind::Config;
    s.now = now, s.dest = dest, s.nwid = nwid, s.packet_id = pid, s.config = config;
    sent.push_back(s);
  }
  void send_error(int64_t now, Address dest, uint64_t nwid, uint64_t pid, ErrorCode code, ByteSpan info) override {
    std::lock_guard lk(mu);
    Sent s;
    s.kind = Sent::Kind::Error;
    s.now = now, s.dest = dest, s.nwid = nwid, s.packet_id = pid, s.code = code;
    s.info.assign(info.begin(), info.end());
    sent.push_back(s);
  }
  void send_revocation(int64_t now, Address dest, const Revocation& rev) override {
    std::lock_guard lk(mu);
    Sent s;
    s.kind = Sent::Kind::Revocation;
    s.now = now, s.dest = dest, s.nwid = rev.nwid, s.rev = rev;
    sent.push_back(s);
  }
  std::vector<Sent> take() {
    std::lock_guard lk(mu);
    std::vector<Sent> out;
    out.swap(sent);
    return out;
  }
  Identity id;
  std::mutex mu;
  std::vector<Sent> sent;
};

inline NetworkConfig decode(const Dictionary& d) {
  auto c = NetworkConfig::from_dictionary(d);
  EXPECT_TRUE(c) << c.error();
  return c ? *c : NetworkConfig{};
}

// A deterministic random source (counter-based) so tests never depend on the OS.
inline std::function<void(uint8_t*, size_t)> seeded_random(uint64_t seed) {
  auto state = std::make_shared<uint64_t>(seed);
  return [state](uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
      p[i] = uint8_t(*state >> 56);
    }
  };
}

}  // namespace zt::test
