#include "runtime/state.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "base/hex.hpp"

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
  ::fchmod(fd, mode);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      ::unlink(tmp.c_str());
      return false;
    }
    off += size_t(n);
  }
  if (::close(fd) != 0) return false;
  return ::rename(tmp.c_str(), path.c_str()) == 0;
}

std::optional<Bytes> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

Result<std::unique_ptr<FileStateStore>> FileStateStore::open(const std::string& home) {
  if (home.empty()) return err("empty home directory path");
  if (::mkdir(home.c_str(), 0700) != 0 && errno != EEXIST)
    return err("cannot create " + home + ": " + std::strerror(errno));
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
