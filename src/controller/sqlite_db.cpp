// SQLite controller storage. See sqlite_db.hpp for the schema and contract.
#include "controller/sqlite_db.hpp"

#include <sqlite3.h>
#include <sys/stat.h>

#include "base/hex.hpp"
#include "controller/objects.hpp"
#include "proto/vl2.hpp"

namespace zt::controller {

namespace {

// Finalizes on destruction; reset() + clear_bindings() after each use (RAII guard below).
struct Stmt {
  sqlite3_stmt* s = nullptr;
  ~Stmt() { sqlite3_finalize(s); }
};

// Resets a reused statement when the call is over, whatever the outcome.
struct Use {
  sqlite3_stmt* s;
  explicit Use(Stmt& st) : s(st.s) {}
  ~Use() {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }
};

void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), int(v.size()), SQLITE_TRANSIENT);
}

std::optional<json> column_json(sqlite3_stmt* s, int col) {
  const unsigned char* t = sqlite3_column_text(s, col);
  if (!t) return std::nullopt;
  json j = json::parse(reinterpret_cast<const char*>(t), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

int64_t revision_of(const json& j) {
  auto it = j.find("revision");
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

}  // namespace

struct SqliteControllerDb::Stmts {
  Stmt begin, commit, rollback;
  Stmt list_networks, get_network, put_network, del_network, del_network_members;
  Stmt member_revisions, members_of, get_member, put_member, del_member, active_bridges, assigned_ips;
};

Result<std::unique_ptr<SqliteControllerDb>> SqliteControllerDb::open(const std::string& path) {
  std::unique_ptr<SqliteControllerDb> db(new SqliteControllerDb());
  auto st = db->init(path);
  if (!st) return st.take_error();
  return db;
}

Result<std::unique_ptr<SqliteControllerDb>> SqliteControllerDb::open_home(const std::string& home) {
  return open(home + "/" + kFileName);
}

SqliteControllerDb::~SqliteControllerDb() {
  st_.reset();  // statements before the connection
  if (db_) sqlite3_close(db_);
}

std::string SqliteControllerDb::last_error() const {
  std::lock_guard lk(mu_);
  return last_error_;
}

Error SqliteControllerDb::fail(const std::string& what) {
  last_error_ = what + ": " + (db_ ? sqlite3_errmsg(db_) : "no database");
  return err(last_error_);
}

Status SqliteControllerDb::exec(const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string m = msg ? msg : "error";
    sqlite3_free(msg);
    last_error_ = m;
    return err(std::string("sqlite: ") + m + " (in: " + sql + ")");
  }
  return ok_status();
}

Status SqliteControllerDb::init(const std::string& path) {
  struct stat sb;
  bool existed = ::stat(path.c_str(), &sb) == 0;
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string m = db_ ? sqlite3_errmsg(db_) : "out of memory";
    if (db_) sqlite3_close(db_);
    db_ = nullptr;
    return err("cannot open " + path + ": " + m);
  }
  if (!existed) ::chmod(path.c_str(), 0600);  // member identities and tokens live here
  sqlite3_busy_timeout(db_, 5000);
  sqlite3_extended_result_codes(db_, 1);

  // Schema version check before touching anything.
  int version = 0;
  {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, "PRAGMA user_version", -1, &s, nullptr) != SQLITE_OK)
      return err(path + ": not a database (" + sqlite3_errmsg(db_) + ")");
    if (sqlite3_step(s) == SQLITE_ROW) version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
  }
  if (version > kSchemaVersion)
    return err(path + ": schema version " + std::to_string(version) + " is newer than this build supports (" +
               std::to_string(kSchemaVersion) + ")");
  if (auto s = exec("PRAGMA journal_mode=WAL"); !s) return s;
  if (auto s = exec("PRAGMA synchronous=NORMAL"); !s) return s;
  if (version == 0) {
    auto s = exec(
        "BEGIN;"
        "CREATE TABLE IF NOT EXISTS network("
        "  nwid TEXT PRIMARY KEY NOT NULL,"
        "  revision INTEGER NOT NULL,"
        "  data TEXT NOT NULL) WITHOUT ROWID;"
        "CREATE TABLE IF NOT EXISTS member("
        "  nwid TEXT NOT NULL,"
        "  address TEXT NOT NULL,"
        "  revision INTEGER NOT NULL,"
        "  authorized INTEGER NOT NULL,"
        "  data TEXT NOT NULL,"
        "  PRIMARY KEY(nwid, address)) WITHOUT ROWID;"
        "PRAGMA user_version=1;"
        "COMMIT;");
    if (!s) return s;
    version = 1;
  }
  if (version == 1) {
    // v2: the config builder's query for active bridges reads a column, not every record.
    auto s = exec(
        "BEGIN;"
        "ALTER TABLE member ADD COLUMN active_bridge INTEGER NOT NULL DEFAULT 0;"
        "UPDATE member SET active_bridge = (json_extract(data, '$.activeBridge') IS 1);"
        "CREATE INDEX member_active_bridge ON member(nwid) WHERE active_bridge;"
        "PRAGMA user_version=2;"
        "COMMIT;");
    if (!s) {
      (void)exec("ROLLBACK");
      return s;
    }
  }

  st_ = std::make_unique<Stmts>();
  struct {
    Stmt* st;
    const char* sql;
  } prep[] = {
      {&st_->begin, "BEGIN IMMEDIATE"},
      {&st_->commit, "COMMIT"},
      {&st_->rollback, "ROLLBACK"},
      {&st_->list_networks, "SELECT nwid FROM network ORDER BY nwid"},
      {&st_->get_network, "SELECT data FROM network WHERE nwid = ?1"},
      {&st_->put_network, "INSERT OR REPLACE INTO network(nwid, revision, data) VALUES(?1, ?2, ?3)"},
      {&st_->del_network, "DELETE FROM network WHERE nwid = ?1"},
      {&st_->del_network_members, "DELETE FROM member WHERE nwid = ?1"},
      {&st_->member_revisions, "SELECT address, revision FROM member WHERE nwid = ?1 ORDER BY address"},
      {&st_->members_of, "SELECT data FROM member WHERE nwid = ?1 ORDER BY address"},
      {&st_->get_member, "SELECT data FROM member WHERE nwid = ?1 AND address = ?2"},
      {&st_->put_member,
       "INSERT OR REPLACE INTO member(nwid, address, revision, authorized, data, active_bridge) "
       "VALUES(?1, ?2, ?3, ?4, ?5, ?6)"},
      // Without statistics the planner would walk the primary key (every member of the
      // network); the partial index holds only the bridges.
      {&st_->active_bridges,
       "SELECT address FROM member INDEXED BY member_active_bridge WHERE nwid = ?1 AND active_bridge "
       "ORDER BY address"},
      {&st_->assigned_ips,
       "SELECT j.value FROM member, json_each(member.data, '$.ipAssignments') AS j "
       "WHERE member.nwid = ?1 AND j.type = 'text'"},
      {&st_->del_member, "DELETE FROM member WHERE nwid = ?1 AND address = ?2"},
  };
  for (auto& p : prep)
    if (sqlite3_prepare_v3(db_, p.sql, -1, SQLITE_PREPARE_PERSISTENT, &p.st->s, nullptr) != SQLITE_OK)
      return fail(std::string("prepare '") + p.sql + "'");
  return ok_status();
}

// ---- networks -----------------------------------------------------------------------------

std::vector<uint64_t> SqliteControllerDb::list_networks() {
  std::lock_guard lk(mu_);
  std::vector<uint64_t> out;
  Use u(st_->list_networks);
  int rc;
  while ((rc = sqlite3_step(u.s)) == SQLITE_ROW) {
    auto t = reinterpret_cast<const char*>(sqlite3_column_text(u.s, 0));
    if (auto v = t ? proto::parse_network_id(t) : std::nullopt) out.push_back(*v);
  }
  if (rc != SQLITE_DONE) (void)fail("list networks");
  return out;
}

std::optional<json> SqliteControllerDb::get_network_locked(const std::string& nwid) {
  Use u(st_->get_network);
  bind_text(u.s, 1, nwid);
  int rc = sqlite3_step(u.s);
  if (rc == SQLITE_ROW) return column_json(u.s, 0);
  if (rc != SQLITE_DONE) (void)fail("get network");
  return std::nullopt;
}

std::optional<json> SqliteControllerDb::get_network(uint64_t nwid) {
  std::lock_guard lk(mu_);
  return get_network_locked(proto::network_id_to_string(nwid));
}

Result<PutResult> SqliteControllerDb::put_network(const json& network) {
  auto nwid = record_nwid(network);
  if (!nwid) return err("network record without a valid nwid");
  std::string key = proto::network_id_to_string(*nwid);
  std::lock_guard lk(mu_);
  PutResult r;
  r.stored = network;
  auto old = get_network_locked(key);
  r.changed = prepare_put(old ? &*old : nullptr, r.stored);
  if (!r.changed) {
    r.stored = *old;
    return r;
  }
  Use u(st_->put_network);
  bind_text(u.s, 1, key);
  sqlite3_bind_int64(u.s, 2, revision_of(r.stored));
  bind_text(u.s, 3, r.stored.dump(-1, ' ', false, json::error_handler_t::replace));
  if (sqlite3_step(u.s) != SQLITE_DONE) return fail("put network " + key);
  return r;
}

Result<std::optional<json>> SqliteControllerDb::delete_network(uint64_t nwid) {
  std::string key = proto::network_id_to_string(nwid);
  std::lock_guard lk(mu_);
  auto old = get_network_locked(key);
  {
    Use b(st_->begin);
    if (sqlite3_step(b.s) != SQLITE_DONE) return fail("begin");
  }
  bool ok = true;
  for (Stmt* s : {&st_->del_network_members, &st_->del_network}) {
    Use u(*s);
    bind_text(u.s, 1, key);
    if (sqlite3_step(u.s) != SQLITE_DONE) ok = false;
  }
  if (!ok) {
    Error e = fail("delete network " + key);
    Use rb(st_->rollback);
    sqlite3_step(rb.s);
    return e;
  }
  Use c(st_->commit);
  if (sqlite3_step(c.s) != SQLITE_DONE) {
    Error e = fail("commit");
    Use rb(st_->rollback);
    sqlite3_step(rb.s);
    return e;
  }
  return old;
}

// ---- members ------------------------------------------------------------------------------

std::map<proto::Address, uint64_t> SqliteControllerDb::member_revisions(uint64_t nwid) {
  std::lock_guard lk(mu_);
  std::map<proto::Address, uint64_t> out;
  Use u(st_->member_revisions);
  bind_text(u.s, 1, proto::network_id_to_string(nwid));
  int rc;
  while ((rc = sqlite3_step(u.s)) == SQLITE_ROW) {
    auto t = reinterpret_cast<const char*>(sqlite3_column_text(u.s, 0));
    if (auto a = t ? parse_hex_u64(t) : std::nullopt) out[*a] = uint64_t(sqlite3_column_int64(u.s, 1));
  }
  if (rc != SQLITE_DONE) (void)fail("list members");
  return out;
}

std::vector<json> SqliteControllerDb::members_of(uint64_t nwid) {
  std::lock_guard lk(mu_);
  std::vector<json> out;
  Use u(st_->members_of);
  bind_text(u.s, 1, proto::network_id_to_string(nwid));
  int rc;
  while ((rc = sqlite3_step(u.s)) == SQLITE_ROW)
    if (auto j = column_json(u.s, 0)) out.push_back(std::move(*j));
  if (rc != SQLITE_DONE) (void)fail("read members");
  return out;
}

std::optional<json> SqliteControllerDb::get_member_locked(const std::string& nwid, const std::string& addr) {
  Use u(st_->get_member);
  bind_text(u.s, 1, nwid);
  bind_text(u.s, 2, addr);
  int rc = sqlite3_step(u.s);
  if (rc == SQLITE_ROW) return column_json(u.s, 0);
  if (rc != SQLITE_DONE) (void)fail("get member");
  return std::nullopt;
}

std::optional<json> SqliteControllerDb::get_member(uint64_t nwid, proto::Address a) {
  std::lock_guard lk(mu_);
  return get_member_locked(proto::network_id_to_string(nwid), proto::address_to_string(a));
}

Result<PutResult> SqliteControllerDb::put_member(const json& member) {
  auto nwid = record_nwid(member);
  auto addr = record_address(member);
  if (!nwid || !addr) return err("member record without a valid nwid/address");
  std::string nk = proto::network_id_to_string(*nwid), ak = proto::address_to_string(*addr);
  std::lock_guard lk(mu_);
  PutResult r;
  r.stored = member;
  auto old = get_member_locked(nk, ak);
  r.changed = prepare_put(old ? &*old : nullptr, r.stored);
  if (!r.changed) {
    r.stored = *old;
    return r;
  }
  Use u(st_->put_member);
  bind_text(u.s, 1, nk);
  bind_text(u.s, 2, ak);
  sqlite3_bind_int64(u.s, 3, revision_of(r.stored));
  auto auth = r.stored.find("authorized");
  sqlite3_bind_int(u.s, 4, auth != r.stored.end() && auth->is_boolean() && auth->get<bool>() ? 1 : 0);
  bind_text(u.s, 5, r.stored.dump(-1, ' ', false, json::error_handler_t::replace));
  auto bridge = r.stored.find("activeBridge");
  sqlite3_bind_int(u.s, 6, bridge != r.stored.end() && bridge->is_boolean() && bridge->get<bool>() ? 1 : 0);
  if (sqlite3_step(u.s) != SQLITE_DONE) return fail("put member " + nk + "/" + ak);
  return r;
}

Result<std::optional<json>> SqliteControllerDb::delete_member(uint64_t nwid, proto::Address a) {
  std::string nk = proto::network_id_to_string(nwid), ak = proto::address_to_string(a);
  std::lock_guard lk(mu_);
  auto old = get_member_locked(nk, ak);
  Use u(st_->del_member);
  bind_text(u.s, 1, nk);
  bind_text(u.s, 2, ak);
  if (sqlite3_step(u.s) != SQLITE_DONE) return fail("delete member " + nk + "/" + ak);
  return old;
}

}  // namespace zt::controller

namespace zt::controller {

std::vector<proto::Address> SqliteControllerDb::active_bridges(uint64_t nwid) {
  std::lock_guard lk(mu_);
  std::vector<proto::Address> out;
  Use u(st_->active_bridges);
  bind_text(u.s, 1, proto::network_id_to_string(nwid));
  int rc;
  while ((rc = sqlite3_step(u.s)) == SQLITE_ROW) {
    auto t = reinterpret_cast<const char*>(sqlite3_column_text(u.s, 0));
    if (auto a = t ? parse_hex_u64(t) : std::nullopt) out.push_back(*a);
  }
  if (rc != SQLITE_DONE) (void)fail("active bridges");
  return out;
}

std::set<proto::InetAddress> SqliteControllerDb::assigned_ips(uint64_t nwid) {
  std::lock_guard lk(mu_);
  std::set<proto::InetAddress> out;
  Use u(st_->assigned_ips);
  bind_text(u.s, 1, proto::network_id_to_string(nwid));
  int rc;
  while ((rc = sqlite3_step(u.s)) == SQLITE_ROW) {
    auto t = reinterpret_cast<const char*>(sqlite3_column_text(u.s, 0));
    if (t)
      if (auto ip = parse_ip(t)) out.insert(*ip);
  }
  if (rc != SQLITE_DONE) (void)fail("assigned ips");
  return out;
}

}  // namespace zt::controller
