// ztcore — command-line entry point. Dispatches to the per-command files (cmd_*.cpp).
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "base/version.hpp"
#include "cli.hpp"

namespace zt::cli {

bool wants_help(const Args& args) {
  for (const auto& a : args)
    if (a == "-h" || a == "--help" || a == "help") return true;
  return false;
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "error: cannot read %s: %s\n", path.c_str(), std::strerror(errno));
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

bool allow_loopback_for(const std::vector<proto::InetAddress>& bind, bool allow_loopback) {
  if (allow_loopback || bind.empty()) return allow_loopback;
  for (const auto& a : bind)
    if (!a.is_loopback()) return false;
  std::printf("note: bound to loopback only: allowing loopback paths\n");
  return true;
}

}  // namespace zt::cli

namespace {

const char* kUsage =
    "usage: ztcore <command> [args]\n"
    "\n"
    "commands:\n"
    "  identity   generate | validate | public | sign | verify   ZeroTier identities\n"
    "  world      make | show                                    planet/moon files\n"
    "  wire       decode                                         decode ZeroTier UDP captures\n"
    "  netconf    show                                           decode a network-config dictionary\n"
    "  lab        [-n N]                                         the local lab: root, controller, N nodes, ping/pong\n"
    "  controller --home DIR --port P [--http IP:PORT] ...      run a network controller (SQLite, HTTP API)\n"
    "  root       --home DIR --port P [--bind IP]...             run a root server (makes its planet)\n"
    "  node       --home DIR --port P --planet FILE ...          run a node with the local JSON API\n"
    "  cli        --home DIR [-j] info|peers|listpeers|...       talk to a running node (zerotier-cli)\n"
    "  bench      online | frames | join                         loopback benchmarks: start-up/RTT/memory,\n"
    "                                                            frames/s vs this machine's limit, join time\n"
    "  rules      compile FILE                                   compile the rules language to controller JSON\n"
    "\n"
    "Run `ztcore <command> --help` for a command's options.\n";

struct Command {
  const char* name;
  int (*fn)(const zt::cli::Args&);
};

const Command kCommands[] = {
    {"identity", zt::cli::cmd_identity},
    {"world", zt::cli::cmd_world},
    {"wire", zt::cli::cmd_wire},
    {"netconf", zt::cli::cmd_netconf},
    {"controller", zt::cli::cmd_controller},
    {"lab", zt::cli::cmd_lab},
    {"root", zt::cli::cmd_root},
    {"node", zt::cli::cmd_node},
    {"cli", zt::cli::cmd_cli},
    {"bench", zt::cli::cmd_bench},
    {"rules", zt::cli::cmd_rules},
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::string cmd = argv[1];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (cmd == "--version" || cmd == "version") {
    std::printf("ztcore %s (ZeroTier protocol 12)\n", zt::kZtcoreVersion);
    return 0;
  }
  zt::cli::Args args(argv + 2, argv + argc);
  for (const auto& c : kCommands)
    if (cmd == c.name) {
      try {
        return c.fn(args);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
      }
    }
  std::fprintf(stderr, "error: unknown command '%s'\n\n%s", cmd.c_str(), kUsage);
  return 2;
}
