// Fuzz target for the rule codec (PROTOCOL.md §8.1): parse_rules on arbitrary bytes (as in
// the config `R` key) and read_rules with a count from the first byte (as in capabilities).
// Whatever parses re-serializes canonically and parses back to the same rules.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "proto/rules.hpp"

using namespace zt::proto;

namespace {
void check(bool cond) {
  if (!cond) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  zt::ByteSpan in(data, size);
  auto rules = parse_rules(in);
  if (rules.ok()) {
    check(rules->size() <= kMaxNetworkRules);
    zt::Bytes s = serialize_rules(*rules);
    check(s.size() <= size);  // canonical form never grows
    auto again = parse_rules(s);
    check(again.ok());
    check(*again == *rules);
    check(serialize_rules(*again) == s);
    for (const auto& r : *rules) check(!describe(r).empty());
  } else {
    check(!rules.error().empty());
  }
  if (size > 0) {
    zt::Reader r(in.subspan(1));
    auto counted = read_rules(r, data[0], kMaxCapabilityRules);
    if (counted.ok()) check(counted->size() == data[0]);
  }
  return 0;
}
