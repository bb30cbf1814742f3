// Persistent state for a node: a home directory laid out like zerotier-one's, or memory.
//
//   identity.secret (0600)  identity.public  planet  moons.d/<id16>.moon
//   peers.d/<addr10>.peer   networks.d/<nwid16>.conf
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "base/bytes.hpp"
#include "base/result.hpp"
#include "core/host.hpp"

namespace zt::runtime {

class StateStore {
 public:
  virtual ~StateStore() = default;
  virtual std::optional<Bytes> get(core::StateObject type, uint64_t id) = 0;
  // Empty data deletes. Returns false when the write failed.
  virtual bool put(core::StateObject type, uint64_t id, ByteSpan data) = 0;
};

class MemoryStateStore final : public StateStore {
 public:
  std::optional<Bytes> get(core::StateObject type, uint64_t id) override;
  bool put(core::StateObject type, uint64_t id, ByteSpan data) override;

 private:
  std::mutex mu_;
  std::map<std::pair<int, uint64_t>, Bytes> objects_;
};

class FileStateStore final : public StateStore {
 public:
  // Creates `home` (0700) if missing.
  static Result<std::unique_ptr<FileStateStore>> open(const std::string& home);
  std::optional<Bytes> get(core::StateObject type, uint64_t id) override;
  bool put(core::StateObject type, uint64_t id, ByteSpan data) override;
  const std::string& home() const { return home_; }
  // Path of an object's file ("" for unknown types).
  std::string path_of(core::StateObject type, uint64_t id) const;

 private:
  explicit FileStateStore(std::string home) : home_(std::move(home)) {}
  std::string home_;
};

// Writes a file atomically (temp + rename) with the given mode (also forced on a left-over
// temp file). False with errno set on failure; the temp file is then removed.
bool write_file_atomic(const std::string& path, ByteSpan data, unsigned mode);
std::optional<Bytes> read_file(const std::string& path);

// The local APIs' auth token (node API and controller API): <home>/authtoken.secret, 0600.
inline constexpr char kAuthTokenFile[] = "authtoken.secret";
inline constexpr size_t kAuthTokenLength = 24;
// Random token of `n` characters from [a-z0-9], uniform (OS random source).
std::string random_token(size_t n = kAuthTokenLength);
// Reads <home>/authtoken.secret (surrounding whitespace ignored), or creates it with a new
// random token, mode 0600, written atomically. Errors: the file exists but is empty (State),
// or it cannot be written (Io).
Result<std::string> load_or_create_auth_token(const std::string& home);

}  // namespace zt::runtime
