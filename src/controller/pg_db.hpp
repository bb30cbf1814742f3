// PostgreSQL backend for the controller (`ztcore controller --db postgresql://...`).
//
// Client: libpq (the C API), linked PRIVATE to zt_controller. libpq is the smallest
// dependency that speaks the protocol (Debian's libpq5, which every PostgreSQL tool already
// pulls in); libpqxx would add a C++ wrapper library and nothing this backend needs
// (parameterized statements, transactions, LISTEN/NOTIFY are all plain libpq calls).
//
// Schema (versioned migrations, table schema_version(version, applied_at); a database with a
// newer version than this build knows is refused; concurrent starts serialize on an
// advisory lock):
//   v1 network(nwid PK, controller, revision, name, private, data, updated_at)
//      member(nwid, address, revision, authorized, active_bridge, identity, name, data,
//             updated_at, PK(nwid, address))
//      member_ip(nwid, address, ip)               -- one row per ipAssignments entry
//      member_tag(nwid, address, tag_id, value)   -- one row per tags entry
//      member_capability(nwid, address, capability_id)
//   v2 member_status(nwid, address, last_seen, physical, metadata)  -- batched last-seen; lets a
//      restarted controller keep pushing to its online members (recent_seen)
// `data` holds the whole §10.2 record (compact JSON) and is what reads return, so records
// keep every field the API knows; the other columns and child tables are maintained from it
// in the same transaction and serve the queries (active bridges, assigned IPs, listing).
//
// Every write that touches several rows is one transaction: a put_member writes the member
// row and replaces its IP/tag/capability rows; delete_network removes the members too. The
// read-compare-bump of the revision rule (db.hpp) runs under a per-record advisory lock, so
// two processes writing the same record both bump the revision.
//
// Scale-out: each committed change sends NOTIFY ztcore_controller with "<origin> <kind>
// <nwid> <address> <deauth>" (origin = a random id per PgControllerDb). A listener thread
// with its own connection LISTENs and hands the changes of other origins to the change
// listener (db.hpp); it reconnects after a lost connection.
//
// Threading: one connection for queries guarded by a mutex; a lost connection is reset
// once per call. Every method is safe from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <string>
#include <thread>

#include "controller/db.hpp"

struct pg_conn;

namespace zt::controller {

class PgControllerDb : public ControllerDb {
 public:
  static constexpr int kSchemaVersion = 2;
  static constexpr const char* kChannel = "ztcore_controller";

  // `conninfo`: a libpq connection URI ("postgresql://user@host:port/db?...") or key=value
  // string. Connects, migrates the schema, starts the listener thread.
  static Result<std::unique_ptr<PgControllerDb>> open(const std::string& conninfo);
  ~PgControllerDb() override;

  bool ready() const override;
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

  bool shared() const override { return true; }
  void set_change_listener(DbChangeListener fn) override;
  void record_seen(const std::vector<SeenRecord>& batch) override;
  std::vector<SeenRecord> recent_seen(proto::Address controller, int64_t since) override;

  // The schema version the database is at (for tests and `ztcore controller` logs).
  int schema_version();

  struct Conn;  // a PGconn with RAII (pg_db.cpp)

 private:
  explicit PgControllerDb(std::string conninfo);
  Status init();
  void listen_loop();
  Error fail(const std::string& what);
  std::optional<json> get_network_locked(const std::string& nwid, bool& failed);
  std::optional<json> get_member_locked(const std::string& nwid, const std::string& addr, bool& failed);
  Status ensure_connected();

  std::string conninfo_;
  std::string origin_;  // this instance's NOTIFY origin
  mutable std::mutex mu_;
  std::unique_ptr<Conn> conn_;
  std::string last_error_;

  std::mutex listener_mu_;  // held while the listener is called
  DbChangeListener listener_;
  std::atomic<bool> stop_{false};
  std::mutex listening_mu_;
  std::condition_variable listening_cv_;
  bool listening_ = false;  // the first LISTEN is in place (open() waits for it)
  int wake_fd_ = -1;  // eventfd: wakes the listener thread for shutdown
  std::thread listen_thread_;
};

}  // namespace zt::controller
