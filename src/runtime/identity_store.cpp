#include "runtime/identity_store.hpp"

#include <cerrno>
#include <cstring>

#include "crypto/crypto.hpp"
#include "runtime/state.hpp"

namespace zt::runtime {

namespace {

void wipe(std::string& s) {
  if (!s.empty()) crypto::secure_zero(s.data(), s.size());
  s.clear();
}

void wipe(Bytes& b) {
  if (!b.empty()) crypto::secure_zero(b.data(), b.size());
  b.clear();
}

Status write_text(const std::string& path, const std::string& text, unsigned mode) {
  errno = 0;
  if (write_file_atomic(path, as_bytes(text), mode)) return ok_status();
  const int e = errno;
  return err(ErrorKind::Io, "cannot write " + path + (e ? std::string(": ") + std::strerror(e) : std::string()));
}

}  // namespace

proto::Identity generate_identity() {
  return proto::Identity::generate([](uint8_t* p, size_t n) { crypto::random_bytes(p, n); });
}

Result<proto::Identity> load_identity_file(const std::string& path) {
  errno = 0;
  auto bytes = read_file(path);
  if (!bytes) {
    const int e = errno;
    return err(ErrorKind::Io, "cannot read " + path + (e ? std::string(": ") + std::strerror(e) : std::string()));
  }
  std::string text(bytes->begin(), bytes->end());
  wipe(*bytes);
  size_t end = text.size();
  while (end && (text[end - 1] == ' ' || text[end - 1] == '\t' || text[end - 1] == '\r' || text[end - 1] == '\n'))
    --end;
  auto r = proto::Identity::parse(std::string_view(text).substr(0, end));
  wipe(text);
  if (!r) return err(path + ": " + r.error());
  return r;
}

Status save_identity_secret(const proto::Identity& id, const std::string& path) {
  if (!id.has_private()) return err("identity has no private key");
  std::string text = id.to_string(true);
  Status s = write_text(path, text, 0600);
  wipe(text);
  return s;
}

Status save_identity_public(const proto::Identity& id, const std::string& path) {
  return write_text(path, id.to_string(false), 0644);
}

}  // namespace zt::runtime
