// `ztcore rules compile FILE`: the text rules language (docs/RULES.md) → the JSON of ZeroTier's
// rule-compiler CLI ({config:{rules,capabilities,tags}, capabilitiesByName, tagsByName}).
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "proto/rules_compiler.hpp"

namespace zt::cli {

namespace {
const char* kRulesUsage =
    "usage: ztcore rules compile FILE\n"
    "       ztcore rules explain --netconf FILE (--frame HEX | --pcap FILE) ... (see rules explain --help)\n"
    "\n"
    "Compiles a rules source file (the ZeroTier rules language, see docs/RULES.md) and prints\n"
    "{\"config\":{\"rules\",\"capabilities\",\"tags\"},\"capabilitiesByName\",\"tagsByName\"} as JSON\n"
    "on stdout. FILE - reads stdin. On an error prints FILE:LINE:COLUMN: message on stderr,\n"
    "prints nothing on stdout and exits 1.\n";
}  // namespace

int cmd_rules(const Args& args) {
  if (!args.empty() && args[0] == "explain") return rules_explain(Args(args.begin() + 1, args.end()));
  if (wants_help(args)) {
    std::fputs(kRulesUsage, stdout);
    return 0;
  }
  if (args.size() != 2 || args[0] != "compile") {
    std::fputs(kRulesUsage, stderr);
    return 2;
  }
  const std::string& path = args[1];
  std::string src;
  if (path == "-") {
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0) src.append(buf, n);
  } else if (!read_file(path, src)) {
    return 1;
  }
  nlohmann::json out;
  proto::RulesCompileError e;
  if (!proto::compile_rules(src, out, e)) {
    std::fprintf(stderr, "%s:%s\n", path.c_str(), e.to_string().c_str());
    return 1;
  }
  std::string text = out.dump(1) + "\n";
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

}  // namespace zt::cli
