#include "runtime/state.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "base/hex.hpp"
#include "crypto/crypto.hpp"

namespace zt::runtime {

using core::StateObject;

std::optional<Bytes> MemoryStateStore::get(StateObject type, uint64_t id) {
  std::lock_guard lk(mu_);
  auto it = objects_.find({int(type), id});
  if (it == objects_.end()) return std::nullopt;
  return it->second;
}

bool MemoryStateStore::put(StateObject type, uint64_t id, ByteSpan data) {
  std::lock_guard lk(mu_);
  if (data.empty()) objects_.erase({int(type), id});
  else objects_[{int(type), id}] = Bytes(data.begin(), data.end());
  return true;
}

bool write_file_atomic(const std::string& path, ByteSpan data, unsigned mode) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return false;
  // A left-over temp file keeps its old mode through open(); set ours before any byte of a
  // secret is written.
  auto fail = [&] {
    const int e = errno;
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    errno = e;
    return false;
  };
  if (::fchmod(fd, mode) != 0) return fail();
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail();
    }
    off += size_t(n);
  }
  const int rc = ::close(fd);
  fd = -1;
  if (rc != 0) return fail();
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail();
  return true;
}

std::optional<Bytes> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string random_token(size_t n) {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  while (out.size() < n) {
    uint8_t buf[64];
    crypto::random_bytes(buf, sizeof buf);
    for (uint8_t c : buf) {
      if (c >= 252) continue;  // 252 = 7 * 36: keeps the choice uniform
      out.push_back(kAlphabet[c % 36]);
      if (out.size() == n) break;
    }
  }
  return out;
}

Result<std::string> load_or_create_auth_token(const std::string& home) {
  const std::string path = home + "/" + kAuthTokenFile;
  if (auto b = read_file(path)) {
    std::string t(b->begin(), b->end());
    crypto::secure_zero(b->data(), b->size());
    while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back()))) t.pop_back();
    while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front()))) t.erase(t.begin());
    if (t.empty()) return err(ErrorKind::State, path + " is empty");
    return t;
  }
  std::string t = random_token();
  if (!write_file_atomic(path, as_bytes(t), 0600))
    return err(ErrorKind::Io, "cannot write " + path + ": " + std::strerror(errno));
  return t;
}

Result<std::unique_ptr<FileStateStore>> FileStateStore::open(const std::string& home) {
  if (home.empty()) return err("empty home directory path");
  if (::mkdir(home.c_str(), 0700) != 0 && errno != EEXIST)
    return err(ErrorKind::Io, "cannot create " + home + ": " + std::strerror(errno));
  struct stat st {};
  if (::stat(home.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return err(home + " is not a directory");
  for (const char* sub : {"/moons.d", "/peers.d", "/networks.d"}) ::mkdir((home + sub).c_str(), 0700);
  return std::unique_ptr<FileStateStore>(new FileStateStore(home));
}

std::string FileStateStore::path_of(StateObject type, uint64_t id) const {
  switch (type) {
    case StateObject::IdentityPublic: return home_ + "/identity.public";
    case StateObject::IdentitySecret: return home_ + "/identity.secret";
    case StateObject::Planet: return home_ + "/planet";
    case StateObject::Moon: return home_ + "/moons.d/" + to_hex(id, 16) + ".moon";
    case StateObject::Peer: return home_ + "/peers.d/" + to_hex(id, 10) + ".peer";
    case StateObject::NetworkConfig: return home_ + "/networks.d/" + to_hex(id, 16) + ".conf";
    default: return "";
  }
}

std::optional<Bytes> FileStateStore::get(StateObject type, uint64_t id) {
  std::string p = path_of(type, id);
  if (p.empty()) return std::nullopt;
  return read_file(p);
}

bool FileStateStore::put(StateObject type, uint64_t id, ByteSpan data) {
  std::string p = path_of(type, id);
  if (p.empty()) return false;
  if (data.empty()) return ::unlink(p.c_str()) == 0 || errno == ENOENT;
  const unsigned mode = type == StateObject::IdentitySecret ? 0600 : 0644;
  return write_file_atomic(p, data, mode);
}

}  // namespace zt::runtime
