// `ztcore cli`: zerotier-cli's habits over a running node's local JSON API (local_api.hpp).
// Text output matches zerotier-cli's lines ("200 info ...", "200 peers", ...); -j prints the
// API's JSON. Exit 0 on success, 1 on an API error or when the node cannot be reached, 2 on
// a usage error.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli.hpp"
#include "runtime/state.hpp"
#include "service/local_api.hpp"
#include "service/local_server.hpp"

namespace zt::cli {

namespace {

namespace api = service;

const char* kCliUsage =
    "usage: ztcore cli [--home DIR | -D DIR] [-p PORT] [-T TOKEN] [-j] <command> [args]\n"
    "\n"
    "Talks to a running `ztcore node` (or `ztcore root`) through its local JSON API on\n"
    "127.0.0.1. The port comes from DIR/zerotier-one.port and the token from\n"
    "DIR/authtoken.secret unless -p / -T are given.\n"
    "\n"
    "commands:\n"
    "  info | status            200 info <address> <version> ONLINE|OFFLINE\n"
    "  peers                    table of peers (role, latency, link, path)\n"
    "  listpeers                the same, one \"200 listpeers\" line per peer\n"
    "  listmoons                orbited moons (JSON)\n"
    "  orbit <moon id> <seed>   orbit a moon, fetching it from the seed root\n"
    "  deorbit <moon id>        stop orbiting a moon\n"
    "  listnetworks             joined networks\n"
    "  join <nwid> | leave <nwid>   (virtual networks are not supported yet)\n"
    "  trace [--count N] [--seconds S]\n"
    "                           follow the node's trace events (GET /trace), one line each\n"
    "                           (-j: JSON lines), until N events, S seconds or Ctrl-C\n"
    "\n"
    "  -j                       print the JSON the API returned\n";

struct CliOptions {
  std::string home;
  std::string port_text;
  std::string token;
  bool json = false;
  long count = 0;     // trace: stop after this many events (0 = no limit)
  long seconds = 0;   // trace: stop after this long (0 = no limit)
  std::vector<std::string> words;  // command and its arguments
};

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "error: %s\n\n%s", msg.c_str(), kCliUsage);
  return 2;
}

std::string trimmed_file(const std::string& path, bool& ok) {
  auto b = runtime::read_file(path);
  ok = b.has_value();
  if (!b) return "";
  std::string s(b->begin(), b->end());
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.erase(s.begin());
  return s;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// `ztcore cli trace`: long-polls GET /trace?after=SEQ until --count events or --seconds pass.
int follow_traces(const CliOptions& o, uint16_t port) {
  const auto start = std::chrono::steady_clock::now();
  auto elapsed_ms = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  };
  uint64_t after = 0;
  long printed = 0;
  bool first = true;
  while (true) {
    int64_t wait = 1000;
    if (o.seconds > 0) wait = std::min<int64_t>(wait, o.seconds * 1000 - elapsed_ms());
    if (wait < 0) wait = 0;
    const std::string target = "/trace?after=" + std::to_string(after) + "&wait=" + std::to_string(first ? 0 : wait);
    auto res = service::request("127.0.0.1", port, "GET", target, {{api::kAuthHeader, o.token}}, "", 40000);
    if (!res.ok()) {
      std::fprintf(stderr, "error: cannot reach the node's API at 127.0.0.1:%u: %s\n", unsigned(port), res.error().c_str());
      return 1;
    }
    if (res->status != 200) {
      std::printf("%d trace %s", res->status, res->body.c_str());
      return 1;
    }
    first = false;
    size_t pos = 0;
    while (pos < res->body.size()) {
      size_t nl = res->body.find('\n', pos);
      if (nl == std::string::npos) nl = res->body.size();
      api::json j = api::json::parse(res->body.substr(pos, nl - pos), nullptr, false);
      pos = nl + 1;
      if (j.is_discarded() || !j.is_object() || !j.contains("seq") || !j["seq"].is_number_unsigned()) continue;
      after = j["seq"].get<uint64_t>();
      if (o.json) std::printf("%s\n", j.dump().c_str());
      else std::printf("%s\n", api::format_trace(j).c_str());
      std::fflush(stdout);
      if (o.count > 0 && ++printed >= o.count) return 0;
    }
    if (o.seconds > 0 && elapsed_ms() >= o.seconds * 1000) return 0;
  }
}

int cmd_cli(const Args& args) {
  if (wants_help(args)) {
    std::fputs(kCliUsage, stdout);
    return 0;
  }
  CliOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    // zerotier-cli style: "-p9993" as well as "-p 9993".
    auto value = [&](const char* flag, std::string& out) {
      const size_t fl = std::strlen(flag);
      if (a.size() > fl) {
        out = a.substr(fl);
        return true;
      }
      if (i + 1 >= args.size()) return false;
      out = args[++i];
      return true;
    };
    if (a == "-j") {
      o.json = true;
    } else if (a == "--home") {
      if (i + 1 >= args.size()) return usage_error("--home needs a directory");
      o.home = args[++i];
    } else if (a.rfind("-D", 0) == 0) {
      if (!value("-D", o.home)) return usage_error("-D needs a directory");
    } else if (a.rfind("-p", 0) == 0) {
      if (!value("-p", o.port_text)) return usage_error("-p needs a port");
    } else if (a.rfind("-T", 0) == 0) {
      if (!value("-T", o.token)) return usage_error("-T needs a token");
    } else if (a == "--count" || a == "--seconds") {
      if (i + 1 >= args.size()) return usage_error(a + " needs a number");
      const std::string& v = args[++i];
      if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos)
        return usage_error("bad number '" + v + "' for " + a);
      (a == "--count" ? o.count : o.seconds) = std::stol(v);
    } else if (a.size() > 1 && a[0] == '-') {
      return usage_error("unknown option '" + a + "'");
    } else {
      o.words.push_back(a);
    }
  }
  if (o.words.empty()) return usage_error("no command");

  // Port and token: flags first, then the node's home directory.
  if (o.port_text.empty()) {
    if (o.home.empty()) return usage_error("give --home DIR (or -p PORT and -T TOKEN)");
    bool ok = false;
    o.port_text = trimmed_file(o.home + "/" + api::kPortFile, ok);
    if (!ok) {
      std::fprintf(stderr,
                   "error: cannot read %s/%s: is `ztcore node --home %s` running? (or give -p PORT)\n",
                   o.home.c_str(), api::kPortFile, o.home.c_str());
      return 1;
    }
  }
  if (o.token.empty()) {
    if (o.home.empty()) return usage_error("give --home DIR (or -T TOKEN)");
    bool ok = false;
    o.token = trimmed_file(o.home + "/" + api::kTokenFile, ok);
    if (!ok || o.token.empty()) {
      std::fprintf(stderr, "error: cannot read the auth token %s/%s (or give -T TOKEN)\n", o.home.c_str(),
                   api::kTokenFile);
      return 1;
    }
  }
  unsigned long port = 0;
  if (o.port_text.empty() || o.port_text.size() > 5 || o.port_text.find_first_not_of("0123456789") != std::string::npos ||
      (port = std::stoul(o.port_text)) == 0 || port > 65535)
    return usage_error("bad API port '" + o.port_text + "'");

  const std::string cmd = o.words[0];
  const size_t nargs = o.words.size() - 1;
  if (cmd == "trace") {
    if (nargs != 0) return usage_error("'trace' takes no arguments (options: --count N, --seconds S, -j)");
    return follow_traces(o, uint16_t(port));
  }
  std::string method = "GET", target, body;
  if (cmd == "info" || cmd == "status") {
    target = "/status";
  } else if (cmd == "peers" || cmd == "listpeers") {
    target = "/peer";
  } else if (cmd == "listmoons") {
    target = "/moon";
  } else if (cmd == "listnetworks") {
    target = "/network";
  } else if (cmd == "orbit") {
    if (nargs != 2) return usage_error("usage: orbit <moon id> <seed address>");
    method = "POST";
    target = "/moon/" + o.words[1];
    body = api::json{{"seed", o.words[2]}}.dump();
  } else if (cmd == "deorbit") {
    if (nargs != 1) return usage_error("usage: deorbit <moon id>");
    method = "DELETE";
    target = "/moon/" + o.words[1];
  } else if (cmd == "join" || cmd == "leave") {
    if (nargs != 1) return usage_error("usage: " + cmd + " <16-hex-digit network id>");
    method = cmd == "join" ? "POST" : "DELETE";
    target = "/network/" + o.words[1];
    if (cmd == "join") body = "{}";
  } else {
    return usage_error("unknown command '" + cmd + "'");
  }
  const bool fixed_args = cmd == "orbit" || cmd == "deorbit" || cmd == "join" || cmd == "leave";
  if (!fixed_args && nargs != 0) return usage_error("'" + cmd + "' takes no arguments");
  for (char c : target.substr(1))
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '/')
      return usage_error("bad argument in '" + target + "'");

  auto res = service::request("127.0.0.1", uint16_t(port), method, target, {{api::kAuthHeader, o.token}}, body);
  if (!res.ok()) {
    std::fprintf(stderr, "error: cannot reach the node's API at 127.0.0.1:%lu: %s\n", port, res.error().c_str());
    std::fprintf(stderr, "       is the node running%s%s?\n", o.home.empty() ? "" : " with --home ", o.home.c_str());
    return 1;
  }
  api::json j = api::json::parse(res->body, nullptr, false);
  if (res->status != 200) {
    std::string msg = !j.is_discarded() && j.is_object() && j.contains("error") && j["error"].is_string()
                          ? j["error"].get<std::string>()
                          : res->body;
    std::printf("%d %s %s\n", res->status, cmd.c_str(), msg.c_str());
    return 1;
  }
  if (j.is_discarded()) {
    std::printf("%d %s invalid JSON response\n", res->status, cmd.c_str());
    return 1;
  }
  if (o.json || cmd == "listmoons") {
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::string out;
  if (cmd == "info" || cmd == "status") out = api::format_info(j);
  else if (cmd == "peers") out = api::format_peers(j, now_ms());
  else if (cmd == "listpeers") out = api::format_listpeers(j, now_ms());
  else if (cmd == "listnetworks") out = api::format_listnetworks(j);
  else out = "200 " + cmd + " OK\n";
  std::fputs(out.c_str(), stdout);
  return 0;
}

}  // namespace zt::cli
