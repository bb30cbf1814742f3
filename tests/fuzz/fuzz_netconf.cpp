// Fuzz target for network-config decoding (PROTOCOL.md §6.2): arbitrary bytes → Dictionary →
// NetworkConfig. Whatever decodes must encode to a dictionary that decodes again and
// re-encodes to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "proto/netconf.hpp"

using namespace zt::proto;

namespace {
void check(bool cond) {
  if (!cond) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto c = NetworkConfig::parse(zt::ByteSpan(data, size));
  if (!c.ok()) {
    check(!c.error().empty());
    return 0;
  }
  check(c->nwid != 0 && c->issued_to != 0);
  check(c->mtu >= NetworkConfig::kMinMtu && c->mtu <= NetworkConfig::kMaxMtu);
  check(c->static_ips.size() <= NetworkConfig::kMaxStaticIps);
  check(c->rules.size() <= NetworkConfig::kMaxRules);
  (void)c->mac();
  (void)network_flag_names(c->flags);
  auto d1 = c->to_dictionary();
  check(d1.ok());
  auto c2 = NetworkConfig::from_dictionary(*d1);
  check(c2.ok());
  auto d2 = c2->to_dictionary();
  check(d2.ok());
  check(d1->serialize() == d2->serialize());
  return 0;
}
