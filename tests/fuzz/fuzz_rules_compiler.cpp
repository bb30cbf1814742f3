// Fuzz target for the rules language compiler (PROTOCOL.md §8.5, proto/rules_compiler.hpp):
// any text either compiles or gives an error with a position inside the text; whatever
// compiles has the documented shape and every rule in it (base and capabilities) is one the
// controller's JSON reader accepts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "proto/rules_compiler.hpp"
#include "proto/rules_json.hpp"

using namespace zt::proto;
using json = nlohmann::json;

namespace {
void check(bool cond) {
  if (!cond) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 8192) return 0;
  std::string_view src(reinterpret_cast<const char*>(data), size);
  json out;
  RulesCompileError e;
  if (!compile_rules(src, out, e)) {
    check(out.is_null());
    check(!e.message.empty() && e.line >= 1 && e.column >= 1);
    size_t lines = 1;
    for (char c : src) lines += c == '\n';
    check(static_cast<size_t>(e.line) <= lines);
    return 0;
  }
  check(out.is_object() && out.contains("config") && out.contains("capabilitiesByName") && out.contains("tagsByName"));
  const json& cfg = out["config"];
  check(cfg["rules"].is_array() && cfg["capabilities"].is_array() && cfg["tags"].is_array());
  auto rules = rules_from_json(cfg["rules"], SIZE_MAX);
  check(rules.ok());
  check(rules->size() == cfg["rules"].size());
  for (const auto& c : cfg["capabilities"]) {
    check(c["id"].is_number_unsigned() && c["default"].is_boolean());
    auto cr = rules_from_json(c["rules"], SIZE_MAX);
    check(cr.ok());
  }
  check(cfg["capabilities"].size() == out["capabilitiesByName"].size());
  check(cfg["tags"].size() == out["tagsByName"].size());
  return 0;
}
