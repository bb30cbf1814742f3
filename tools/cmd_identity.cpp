// `ztcore identity` — generate, validate, print, sign with and verify ZeroTier identities
// (PROTOCOL.md §1). Exit codes: 0 success, 1 failure / invalid / bad signature, 2 usage.
// Secret material is printed only by `generate` without output files, to stdout.
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "base/hex.hpp"
#include "cli.hpp"
#include "crypto/crypto.hpp"
#include "proto/identity.hpp"
#include "runtime/identity_store.hpp"

namespace zt::cli {
namespace {

using proto::Identity;

const char* kUsage =
    "usage: ztcore identity <subcommand> [args]\n"
    "\n"
    "subcommands:\n"
    "  generate [SECRET_OUT [PUBLIC_OUT]]  new identity; secret to stdout, or to files\n"
    "  validate ID                         check address derivation; prints the address\n"
    "  public ID                           print the public form\n"
    "  sign SECRET MSGFILE                 print the 96-byte signature of MSGFILE as hex\n"
    "  verify ID MSGFILE SIGHEX            exit 0 if the signature is valid, 1 if not\n"
    "\n"
    "ID is a file holding an identity, or the identity string itself\n"
    "(address:0:public[:private]).\n";

const char* kGenerateUsage =
    "usage: ztcore identity generate [SECRET_OUT [PUBLIC_OUT]]\n"
    "\n"
    "Generates a new identity (takes up to a second or so).\n"
    "Without arguments the secret form is printed to stdout.\n"
    "With SECRET_OUT the secret form is written there (mode 0600) and, with PUBLIC_OUT,\n"
    "the public form there; the new address is printed.\n";

const char* kValidateUsage =
    "usage: ztcore identity validate ID\n"
    "\n"
    "Runs the full validity check (memory-hard address derivation; private key matches\n"
    "the public key if present). Prints the 10-digit address and exits 0 if valid;\n"
    "prints the reason to stderr and exits 1 if not.\n";

const char* kPublicUsage =
    "usage: ztcore identity public ID\n"
    "\n"
    "Prints the public form (address:0:public) of ID.\n";

const char* kSignUsage =
    "usage: ztcore identity sign SECRET MSGFILE\n"
    "\n"
    "Signs the bytes of MSGFILE with the secret identity SECRET and prints the 96-byte\n"
    "signature (Ed25519 signature || first 32 bytes of SHA-512(message)) as 192 hex digits.\n";

const char* kVerifyUsage =
    "usage: ztcore identity verify ID MSGFILE SIGHEX\n"
    "\n"
    "Checks a 96-byte signature (192 hex digits) of the bytes of MSGFILE against ID.\n"
    "Exits 0 and prints 'signature valid' if it verifies, 1 otherwise.\n";

int usage_error(const char* usage, const char* msg) {
  if (msg) std::fprintf(stderr, "error: %s\n\n", msg);
  std::fputs(usage, stderr);
  return 2;
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::strchr(" \t\r\n", s[b])) ++b;
  while (e > b && std::strchr(" \t\r\n", s[e - 1])) --e;
  return s.substr(b, e - b);
}

void wipe(std::string& s) {
  if (!s.empty()) crypto::secure_zero(s.data(), s.size());
  s.clear();
}

// ID argument: an existing file holding an identity, or else the identity string itself.
// Errors go to stderr and never echo an identity string (it may hold a private key).
bool load_identity(const std::string& arg, Identity& out) {
  struct stat st {};
  if (::stat(arg.c_str(), &st) == 0) {
    auto f = runtime::load_identity_file(arg);
    if (!f.ok()) {
      std::fprintf(stderr, "error: %s\n", f.error().c_str());
      return false;
    }
    out = std::move(f.value());
    return true;
  }
  auto direct = Identity::parse(trim(arg));
  if (direct.ok()) {
    out = std::move(direct.value());
    return true;
  }
  if (arg.find(':') != std::string::npos) {
    std::fprintf(stderr, "error: invalid identity string: %s\n", direct.error().c_str());
  } else {
    std::fprintf(stderr, "error: cannot read %s: no such file\n", arg.c_str());
  }
  return false;
}

int cmd_generate(const Args& a) {
  if (wants_help(a)) return std::fputs(kGenerateUsage, stdout), 0;
  if (a.size() > 2) return usage_error(kGenerateUsage, "too many arguments");
  Identity id = runtime::generate_identity();
  if (a.empty()) {
    std::string s = id.to_string(true);
    std::printf("%s\n", s.c_str());
    wipe(s);
    return 0;
  }
  auto st = runtime::save_identity_secret(id, a[0]);
  if (!st.ok()) {
    std::fprintf(stderr, "error: %s\n", st.error().c_str());
    return 1;
  }
  if (a.size() == 2) {
    st = runtime::save_identity_public(id, a[1]);
    if (!st.ok()) {
      std::fprintf(stderr, "error: %s\n", st.error().c_str());
      return 1;
    }
  }
  std::printf("%s\n", proto::address_to_string(id.address()).c_str());
  return 0;
}

int cmd_validate(const Args& a) {
  if (wants_help(a)) return std::fputs(kValidateUsage, stdout), 0;
  if (a.size() != 1) return usage_error(kValidateUsage, "expected exactly one ID");
  Identity id;
  if (!load_identity(a[0], id)) return 1;
  std::string why = id.validate_reason();
  if (!why.empty()) {
    std::fprintf(stderr, "invalid identity: %s\n", why.c_str());
    return 1;
  }
  std::printf("%s\n", proto::address_to_string(id.address()).c_str());
  return 0;
}

int cmd_public(const Args& a) {
  if (wants_help(a)) return std::fputs(kPublicUsage, stdout), 0;
  if (a.size() != 1) return usage_error(kPublicUsage, "expected exactly one ID");
  Identity id;
  if (!load_identity(a[0], id)) return 1;
  std::printf("%s\n", id.to_string(false).c_str());
  return 0;
}

int cmd_sign(const Args& a) {
  if (wants_help(a)) return std::fputs(kSignUsage, stdout), 0;
  if (a.size() != 2) return usage_error(kSignUsage, "expected SECRET and MSGFILE");
  Identity id;
  if (!load_identity(a[0], id)) return 1;
  if (!id.has_private()) {
    std::fprintf(stderr, "error: identity %s has no private key\n",
                 proto::address_to_string(id.address()).c_str());
    return 1;
  }
  std::string msg;
  if (!read_file(a[1], msg)) return 1;
  auto sig = id.sign(as_bytes(msg));
  std::printf("%s\n", to_hex(ByteSpan(sig.data(), sig.size())).c_str());
  return 0;
}

int cmd_verify(const Args& a) {
  if (wants_help(a)) return std::fputs(kVerifyUsage, stdout), 0;
  if (a.size() != 3) return usage_error(kVerifyUsage, "expected ID, MSGFILE and SIGHEX");
  auto sig = from_hex(trim(a[2]));
  if (!sig) {
    std::fprintf(stderr, "signature check FAILED: SIGHEX is not hex\n");
    return 1;
  }
  Identity id;
  if (!load_identity(a[0], id)) return 1;
  std::string msg;
  if (!read_file(a[1], msg)) return 1;
  if (sig->size() != crypto::kSignatureSize) {
    std::fprintf(stderr, "signature check FAILED: expected %zu bytes, got %zu\n", crypto::kSignatureSize,
                 sig->size());
    return 1;
  }
  if (!id.verify(as_bytes(msg), *sig)) {
    std::fprintf(stderr, "signature check FAILED\n");
    return 1;
  }
  std::printf("signature valid\n");
  return 0;
}

struct Sub {
  const char* name;
  int (*fn)(const Args&);
};
const Sub kSubs[] = {
    {"generate", cmd_generate}, {"validate", cmd_validate}, {"public", cmd_public},
    {"sign", cmd_sign},         {"verify", cmd_verify},
};

}  // namespace

int cmd_identity(const Args& args) {
  if (args.empty()) return usage_error(kUsage, "missing subcommand");
  const std::string& sub = args[0];
  if (sub == "-h" || sub == "--help" || sub == "help") return std::fputs(kUsage, stdout), 0;
  Args rest(args.begin() + 1, args.end());
  for (const auto& s : kSubs)
    if (sub == s.name) return s.fn(rest);
  std::fprintf(stderr, "error: unknown subcommand '%s'\n\n", sub.c_str());
  std::fputs(kUsage, stderr);
  return 2;
}

}  // namespace zt::cli
