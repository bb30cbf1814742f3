// The text rules language (PROTOCOL.md §8.5, docs/RULES.md) → the JSON the controller API takes.
//
// Output is the shape of ZeroTier's own rule-compiler CLI:
//   {"config": {"rules": [...], "capabilities": [{"id","default","rules"}], "tags": [{"id","default"}]},
//    "capabilitiesByName": {name: id}, "tagsByName": {name: {"id","default","enums","flags"}}}
// with every rule object one that rule_from_json (proto/rules_json.hpp) reads back.
//
// Pure function: no I/O. `include NAME(args)` includes a macro defined in the same text (the
// reference language has no file inclusion). Errors carry a 1-based line and column; on error
// nothing is produced. Never throws on any input; macro inclusion depth is bounded.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

namespace zt::proto {

struct RulesCompileError {
  int line = 0;    // 1-based
  int column = 0;  // 1-based
  std::string message;
  // "LINE:COLUMN: message"
  std::string to_string() const;
};

// Compiles `src`. On success fills `out` and returns true; on error fills `error`, leaves
// `out` untouched and returns false.
bool compile_rules(std::string_view src, nlohmann::json& out, RulesCompileError& error);

}  // namespace zt::proto
