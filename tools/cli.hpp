// The `ztcore` command-line tool: one function per top-level command.
// Each returns the process exit code (0 success, 1 failure/"no", 2 usage error).
#pragma once

#include <string>
#include <vector>

#include "proto/inet_address.hpp"

namespace zt::cli {

using Args = std::vector<std::string>;  // arguments after the command name

int cmd_identity(const Args& args);
int cmd_world(const Args& args);
int cmd_wire(const Args& args);
int cmd_netconf(const Args& args);
int cmd_lab(const Args& args);  // cmd_lab.cpp: the one-command local lab
int cmd_controller(const Args& args);  // cmd_controller.cpp: a network controller node + HTTP API
int cmd_root(const Args& args);   // cmd_node.cpp: a root server node (creates its planet)
int cmd_node(const Args& args);   // cmd_node.cpp: a node with the local JSON API
int cmd_cli(const Args& args);    // cmd_cli.cpp: zerotier-cli style client of that API
int cmd_bench(const Args& args);  // cmd_bench.cpp: `bench online` (start-up, RTT, memory)
int bench_controller(const Args& args);  // cmd_bench_controller.cpp: `bench controller`
int bench_rules(const Args& args);  // cmd_bench_rules.cpp: `bench rules` (the rules engine alone)
int cmd_rules(const Args& args);  // cmd_rules.cpp: `rules compile FILE` (the rules language)
int rules_explain(const Args& args);  // cmd_rules_explain.cpp: `rules explain` (args after "explain")

// Helpers shared by the commands.
bool wants_help(const Args& args);
// Reads a whole file; false (and message on stderr) on failure.
bool read_file(const std::string& path, std::string& out);

// The rule `root`, `node` and `controller` share: bound to loopback addresses only, the node
// can only ever have loopback paths, so they are allowed (with a note on stdout). Returns the
// allow_loopback to use.
bool allow_loopback_for(const std::vector<proto::InetAddress>& bind, bool allow_loopback);

}  // namespace zt::cli
