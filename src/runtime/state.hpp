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

// Writes a file atomically (temp + rename) with the given mode.
bool write_file_atomic(const std::string& path, ByteSpan data, unsigned mode);
std::optional<Bytes> read_file(const std::string& path);

}  // namespace zt::runtime
