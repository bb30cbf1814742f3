// SQLite backend for the controller (one file, `controller.db` in the controller's home).
//
// Schema (PRAGMA user_version = 2; older files are migrated on open):
//   network(nwid TEXT PRIMARY KEY, revision INTEGER, data TEXT)            -- compact JSON
//   member(nwid TEXT, address TEXT, revision INTEGER, authorized INTEGER, data TEXT,
//          active_bridge INTEGER (v2, partial index), PRIMARY KEY(nwid, address))
// WAL journal, synchronous=NORMAL, prepared statements reused for every call. A file with a
// newer schema version is refused. Records are the §10.2 JSON objects (db.hpp contract).
//
// Threading: one connection guarded by a mutex; every method is safe from any thread.
#pragma once

#include <memory>
#include <string>

#include "controller/db.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace zt::controller {

class SqliteControllerDb : public ControllerDb {
 public:
  static constexpr int kSchemaVersion = 2;
  static constexpr const char* kFileName = "controller.db";

  // Opens (creating if needed) the database file at `path` (mode 0600 when created).
  static Result<std::unique_ptr<SqliteControllerDb>> open(const std::string& path);
  // `home`/controller.db.
  static Result<std::unique_ptr<SqliteControllerDb>> open_home(const std::string& home);
  ~SqliteControllerDb() override;

  bool ready() const override { return db_ != nullptr; }
  std::string last_error() const override;

  std::vector<uint64_t> list_networks() override;
  std::optional<json> get_network(uint64_t nwid) override;
  Result<PutResult> put_network(const json& network) override;
  Result<std::optional<json>> delete_network(uint64_t nwid) override;
  std::map<proto::Address, uint64_t> member_revisions(uint64_t nwid) override;
  std::vector<json> members_of(uint64_t nwid) override;
  std::optional<json> get_member(uint64_t nwid, proto::Address a) override;
  Result<PutResult> put_member(const json& member) override;
  Result<std::optional<json>> delete_member(uint64_t nwid, proto::Address a) override;
  std::vector<proto::Address> active_bridges(uint64_t nwid) override;
  std::set<proto::InetAddress> assigned_ips(uint64_t nwid) override;

 private:
  SqliteControllerDb() = default;
  Status init(const std::string& path);
  Status exec(const char* sql);
  Error fail(const std::string& what);
  std::optional<json> get_network_locked(const std::string& nwid);
  std::optional<json> get_member_locked(const std::string& nwid, const std::string& addr);

  struct Stmts;
  mutable std::mutex mu_;
  sqlite3* db_ = nullptr;
  std::unique_ptr<Stmts> st_;
  std::string last_error_;
};

}  // namespace zt::controller
