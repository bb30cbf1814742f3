// PostgreSQL controller storage. See pg_db.hpp for the schema, the contract and why libpq.
#include "controller/pg_db.hpp"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <sstream>

#include "base/hex.hpp"
#include "controller/objects.hpp"
#include "crypto/crypto.hpp"
#include "proto/vl2.hpp"

namespace zt::controller {

namespace {

// One migration per schema version, applied in order inside one transaction.
const char* const kMigrations[] = {
    // v1: networks, members and what the controller queries of them.
    "CREATE TABLE network("
    "  nwid text PRIMARY KEY CHECK (nwid ~ '^[0-9a-f]{16}$'),"
    "  controller text NOT NULL,"  // first 10 hex digits: the owning controller's address
    "  revision bigint NOT NULL,"
    "  name text NOT NULL DEFAULT '',"
    "  private boolean NOT NULL DEFAULT true,"
    "  data text NOT NULL,"
    "  updated_at timestamptz NOT NULL DEFAULT now());"
    "CREATE INDEX network_by_controller ON network(controller);"
    "CREATE TABLE member("
    "  nwid text NOT NULL CHECK (nwid ~ '^[0-9a-f]{16}$'),"
    "  address text NOT NULL CHECK (address ~ '^[0-9a-f]{10}$'),"
    "  revision bigint NOT NULL,"
    "  authorized boolean NOT NULL DEFAULT false,"
    "  active_bridge boolean NOT NULL DEFAULT false,"
    "  identity text NOT NULL DEFAULT '',"
    "  name text NOT NULL DEFAULT '',"
    "  data text NOT NULL,"
    "  updated_at timestamptz NOT NULL DEFAULT now(),"
    "  PRIMARY KEY(nwid, address));"
    "CREATE INDEX member_active_bridge ON member(nwid) WHERE active_bridge;"
    "CREATE TABLE member_ip("
    "  nwid text NOT NULL, address text NOT NULL, ip text NOT NULL,"
    "  PRIMARY KEY(nwid, address, ip),"
    "  FOREIGN KEY(nwid, address) REFERENCES member(nwid, address) ON DELETE CASCADE);"
    "CREATE INDEX member_ip_by_ip ON member_ip(nwid, ip);"
    "CREATE TABLE member_tag("
    "  nwid text NOT NULL, address text NOT NULL, tag_id bigint NOT NULL, value bigint NOT NULL,"
    "  PRIMARY KEY(nwid, address, tag_id),"
    "  FOREIGN KEY(nwid, address) REFERENCES member(nwid, address) ON DELETE CASCADE);"
    "CREATE TABLE member_capability("
    "  nwid text NOT NULL, address text NOT NULL, capability_id bigint NOT NULL,"
    "  PRIMARY KEY(nwid, address, capability_id),"
    "  FOREIGN KEY(nwid, address) REFERENCES member(nwid, address) ON DELETE CASCADE);",
    // v2: last seen of members, written in batches by the controller that serves them.
    "CREATE TABLE member_status("
    "  nwid text NOT NULL, address text NOT NULL,"
    "  last_seen bigint NOT NULL,"  // ms since the Unix epoch (the node's clock)
    "  physical text NOT NULL DEFAULT '',"
    "  metadata text NOT NULL DEFAULT '',"  // hex request metadata (authorized members): pushes
    "  updated_at timestamptz NOT NULL DEFAULT now(),"
    "  PRIMARY KEY(nwid, address));",
};
static_assert(std::size(kMigrations) == PgControllerDb::kSchemaVersion);

constexpr int64_t kMigrationLock = 0x7a74636f7265;  // "ztcore"

struct Statement {
  const char* name;
  const char* sql;
  int params;
};

const Statement kStatements[] = {
    {"lock", "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", 1},
    {"notify", "SELECT pg_notify('ztcore_controller', $1)", 1},
    {"list_networks", "SELECT nwid FROM network ORDER BY nwid", 0},
    {"get_network", "SELECT data FROM network WHERE nwid = $1", 1},
    {"put_network",
     "INSERT INTO network(nwid, controller, revision, name, private, data) VALUES($1, substr($1, 1, 10), $2, $3, $4, $5) "
     "ON CONFLICT(nwid) DO UPDATE SET revision = EXCLUDED.revision, name = EXCLUDED.name, "
     "private = EXCLUDED.private, data = EXCLUDED.data, updated_at = now()",
     5},
    {"del_network_members",
     "WITH s AS (DELETE FROM member_status WHERE nwid = $1) DELETE FROM member WHERE nwid = $1", 1},
    {"del_network", "DELETE FROM network WHERE nwid = $1 RETURNING data", 1},
    {"member_revisions", "SELECT address, revision FROM member WHERE nwid = $1 ORDER BY address", 1},
    {"members_of", "SELECT data FROM member WHERE nwid = $1 ORDER BY address", 1},
    {"get_member", "SELECT data FROM member WHERE nwid = $1 AND address = $2", 2},
    {"put_member",
     "INSERT INTO member(nwid, address, revision, authorized, active_bridge, identity, name, data) "
     "VALUES($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT(nwid, address) DO UPDATE SET "
     "revision = EXCLUDED.revision, authorized = EXCLUDED.authorized, active_bridge = EXCLUDED.active_bridge, "
     "identity = EXCLUDED.identity, name = EXCLUDED.name, data = EXCLUDED.data, updated_at = now()",
     8},
    {"del_member_children",
     "WITH a AS (DELETE FROM member_ip WHERE nwid = $1 AND address = $2), "
     "b AS (DELETE FROM member_tag WHERE nwid = $1 AND address = $2) "
     "DELETE FROM member_capability WHERE nwid = $1 AND address = $2",
     2},
    {"put_member_children",
     "WITH a AS (INSERT INTO member_ip(nwid, address, ip) SELECT $1, $2, x FROM unnest($3::text[]) x "
     "ON CONFLICT DO NOTHING), "
     "b AS (INSERT INTO member_tag(nwid, address, tag_id, value) SELECT $1, $2, t, v FROM "
     "unnest($4::bigint[], $5::bigint[]) AS u(t, v) ON CONFLICT DO NOTHING) "
     "INSERT INTO member_capability(nwid, address, capability_id) SELECT $1, $2, c FROM unnest($6::bigint[]) c "
     "ON CONFLICT DO NOTHING",
     6},
    {"del_member", "DELETE FROM member WHERE nwid = $1 AND address = $2 RETURNING data", 2},
    {"del_member_status", "DELETE FROM member_status WHERE nwid = $1 AND address = $2", 2},
    {"active_bridges", "SELECT address FROM member WHERE nwid = $1 AND active_bridge ORDER BY address", 1},
    {"assigned_ips", "SELECT ip FROM member_ip WHERE nwid = $1", 1},
    {"record_seen",
     "INSERT INTO member_status(nwid, address, last_seen, physical, metadata) "
     "SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[]) "
     "ON CONFLICT(nwid, address) DO UPDATE SET last_seen = GREATEST(member_status.last_seen, EXCLUDED.last_seen), "
     "physical = EXCLUDED.physical, metadata = CASE WHEN EXCLUDED.metadata <> '' THEN EXCLUDED.metadata "
     "ELSE member_status.metadata END, updated_at = now()",
     5},
    {"recent_seen",
     "SELECT s.nwid, s.address, s.last_seen, s.physical, s.metadata, m.identity FROM member_status s "
     "JOIN member m ON m.nwid = s.nwid AND m.address = s.address "
     "WHERE substr(s.nwid, 1, 10) = $1 AND s.last_seen >= $2 AND m.authorized AND s.metadata <> ''",
     2},
};

// A PGresult that clears itself.
struct Res {
  PGresult* r = nullptr;
  explicit Res(PGresult* p) : r(p) {}
  Res(Res&& o) noexcept : r(o.r) { o.r = nullptr; }
  ~Res() { PQclear(r); }
  bool ok() const {
    auto s = PQresultStatus(r);
    return r && (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK);
  }
  int rows() const { return r ? PQntuples(r) : 0; }
  std::string text(int row, int col) const { return PQgetvalue(r, row, col); }
  bool null(int row, int col) const { return PQgetisnull(r, row, col); }
};

// A PostgreSQL array literal of text values: {"a","b\"c"}.
std::string text_array(const std::vector<std::string>& v) {
  std::string out = "{";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    out += '"';
    for (char c : v[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::string int_array(const std::vector<int64_t>& v) {
  std::string out = "{";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(v[i]);
  }
  return out + "}";
}

int64_t revision_of(const json& j) {
  auto it = j.find("revision");
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

std::optional<json> parse_json(const std::string& s) {
  json j = json::parse(s, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

const char* pg_bool(bool b) { return b ? "t" : "f"; }

// Integer entries of a JSON value (tags: [[id, value], ...]; capabilities: [id, ...]).
std::optional<int64_t> json_int(const json& j) {
  if (j.is_number_unsigned())
    return j.get<uint64_t>() <= uint64_t(INT64_MAX) ? std::optional<int64_t>(int64_t(j.get<uint64_t>())) : std::nullopt;
  if (j.is_number_integer()) return j.get<int64_t>();
  return std::nullopt;
}

// Connects with a 10 s connect timeout unless the conninfo sets its own (it overrides).
PGconn* connect_db(const std::string& conninfo) {
  const char* keys[] = {"connect_timeout", "dbname", nullptr};
  const char* vals[] = {"10", conninfo.c_str(), nullptr};
  return PQconnectdbParams(keys, vals, /*expand_dbname=*/1);
}

}  // namespace

struct PgControllerDb::Conn {
  PGconn* c = nullptr;
  ~Conn() {
    if (c) PQfinish(c);
  }
  std::string error() const {
    std::string e = c ? PQerrorMessage(c) : "no connection";
    while (!e.empty() && (e.back() == '\n' || e.back() == ' ')) e.pop_back();
    return e;
  }
  bool prepare_all() {
    for (const auto& s : kStatements) {
      Res r(PQprepare(c, s.name, s.sql, s.params, nullptr));
      if (!r.ok()) return false;
    }
    return true;
  }
  Res exec(const char* sql) { return Res(PQexec(c, sql)); }
  Res run(const char* name, std::initializer_list<const char*> params) {
    std::vector<const char*> v(params);
    return Res(PQexecPrepared(c, name, int(v.size()), v.data(), nullptr, nullptr, 0));
  }
  Res run(const char* name, const std::vector<std::string>& params) {
    std::vector<const char*> v;
    for (auto& p : params) v.push_back(p.c_str());
    return Res(PQexecPrepared(c, name, int(v.size()), v.data(), nullptr, nullptr, 0));
  }
};

namespace {

// Rolls back unless committed.
struct Tx {
  PgControllerDb::Conn& c;
  bool open = false;
  explicit Tx(PgControllerDb::Conn& conn) : c(conn) { open = c.exec("BEGIN").ok(); }
  bool commit() {
    bool ok = c.exec("COMMIT").ok();
    open = false;
    return ok;
  }
  ~Tx() {
    if (open) c.exec("ROLLBACK");
  }
};

}  // namespace

PgControllerDb::PgControllerDb(std::string conninfo) : conninfo_(std::move(conninfo)) {
  uint8_t b[8];
  crypto::random_bytes(b, sizeof b);
  origin_ = to_hex(ByteSpan(b, sizeof b));
}

Result<std::unique_ptr<PgControllerDb>> PgControllerDb::open(const std::string& conninfo) {
  std::unique_ptr<PgControllerDb> db(new PgControllerDb(conninfo));
  if (auto st = db->init(); !st) return st.take_error();
  db->wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (db->wake_fd_ < 0) return err("eventfd failed");
  db->listen_thread_ = std::thread([p = db.get()] { p->listen_loop(); });
  {
    // Changes committed after open() returns must reach the listener: wait for LISTEN.
    std::unique_lock lk(db->listening_mu_);
    if (!db->listening_cv_.wait_for(lk, std::chrono::seconds(10), [&] { return db->listening_; }))
      return err("postgresql: the LISTEN connection did not come up within 10 s");
  }
  return db;
}

PgControllerDb::~PgControllerDb() {
  stop_ = true;
  if (wake_fd_ >= 0) {
    uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
  }
  if (listen_thread_.joinable()) listen_thread_.join();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

bool PgControllerDb::ready() const {
  std::lock_guard lk(mu_);
  return conn_ && conn_->c && PQstatus(conn_->c) == CONNECTION_OK;
}

std::string PgControllerDb::last_error() const {
  std::lock_guard lk(mu_);
  return last_error_;
}

Error PgControllerDb::fail(const std::string& what) {
  last_error_ = "postgresql: " + what + ": " + (conn_ ? conn_->error() : std::string("no connection"));
  return err(last_error_);
}

Status PgControllerDb::ensure_connected() {
  if (conn_ && conn_->c && PQstatus(conn_->c) == CONNECTION_OK) return ok_status();
  if (!conn_) conn_ = std::make_unique<Conn>();
  if (conn_->c) PQreset(conn_->c);
  else conn_->c = connect_db(conninfo_);
  if (!conn_->c || PQstatus(conn_->c) != CONNECTION_OK) return fail("connect");
  conn_->exec("SET client_min_messages = warning");
  if (!conn_->prepare_all()) return fail("prepare");
  return ok_status();
}

Status PgControllerDb::init() {
  std::lock_guard lk(mu_);
  conn_ = std::make_unique<Conn>();
  conn_->c = connect_db(conninfo_);
  if (!conn_->c || PQstatus(conn_->c) != CONNECTION_OK) {
    // The conninfo may hold a password: never repeat it, only libpq's message.
    return err("postgresql: cannot connect: " + conn_->error());
  }
  conn_->exec("SET client_min_messages = warning");
  // Migrations, serialized between processes starting at the same time.
  {
    Tx tx(*conn_);
    if (!tx.open) return fail("begin");
    std::string lock = "SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLock) + ")";
    if (!conn_->exec(lock.c_str()).ok()) return fail("migration lock");
    if (!conn_->exec("CREATE TABLE IF NOT EXISTS schema_version(version integer PRIMARY KEY, "
                     "applied_at timestamptz NOT NULL DEFAULT now())")
             .ok())
      return fail("create schema_version");
    Res v = conn_->exec("SELECT coalesce(max(version), 0) FROM schema_version");
    if (!v.ok() || v.rows() != 1) return fail("read schema_version");
    int version = std::atoi(v.text(0, 0).c_str());
    if (version > kSchemaVersion)
      return err("postgresql: schema version " + std::to_string(version) + " is newer than this build supports (" +
                 std::to_string(kSchemaVersion) + ")");
    for (int next = version + 1; next <= kSchemaVersion; ++next) {
      if (!conn_->exec(kMigrations[next - 1]).ok()) return fail("migration to version " + std::to_string(next));
      std::string ins = "INSERT INTO schema_version(version) VALUES(" + std::to_string(next) + ")";
      if (!conn_->exec(ins.c_str()).ok()) return fail("record schema version");
    }
    if (!tx.commit()) return fail("commit migrations");
  }
  if (!conn_->prepare_all()) return fail("prepare");
  return ok_status();
}

int PgControllerDb::schema_version() {
  std::lock_guard lk(mu_);
  if (!ensure_connected()) return -1;
  Res v = conn_->exec("SELECT coalesce(max(version), 0) FROM schema_version");
  return v.ok() && v.rows() == 1 ? std::atoi(v.text(0, 0).c_str()) : -1;
}

// ---- networks -----------------------------------------------------------------------------

std::vector<uint64_t> PgControllerDb::list_networks() {
  std::lock_guard lk(mu_);
  std::vector<uint64_t> out;
  if (!ensure_connected()) return out;
  Res r = conn_->run("list_networks", {});
  if (!r.ok()) {
    (void)fail("list networks");
    return out;
  }
  for (int i = 0; i < r.rows(); ++i)
    if (auto v = proto::parse_network_id(r.text(i, 0))) out.push_back(*v);
  return out;
}

std::optional<json> PgControllerDb::get_network_locked(const std::string& nwid, bool& failed) {
  Res r = conn_->run("get_network", {nwid.c_str()});
  if (!r.ok()) {
    failed = true;
    (void)fail("get network");
    return std::nullopt;
  }
  if (r.rows() == 0) return std::nullopt;
  return parse_json(r.text(0, 0));
}

std::optional<json> PgControllerDb::get_network(uint64_t nwid) {
  std::lock_guard lk(mu_);
  if (!ensure_connected()) return std::nullopt;
  bool failed = false;
  return get_network_locked(proto::network_id_to_string(nwid), failed);
}

Result<PutResult> PgControllerDb::put_network(const json& network) {
  auto nwid = record_nwid(network);
  if (!nwid) return err("network record without a valid nwid");
  std::string key = proto::network_id_to_string(*nwid);
  std::lock_guard lk(mu_);
  if (auto st = ensure_connected(); !st) return st.take_error();
  Tx tx(*conn_);
  if (!tx.open) return fail("begin");
  std::string lock = "n:" + key;
  if (!conn_->run("lock", {lock.c_str()}).ok()) return fail("lock network " + key);
  bool failed = false;
  auto old = get_network_locked(key, failed);
  if (failed) return fail("get network " + key);
  PutResult r;
  r.stored = network;
  r.changed = prepare_put(old ? &*old : nullptr, r.stored);
  if (!r.changed) {
    r.stored = *old;
    return r;  // Tx rolls back: nothing was written
  }
  std::string rev = std::to_string(revision_of(r.stored)), name = json_str(r.stored, "name"),
              data = dump(r.stored);
  if (!conn_->run("put_network", {key.c_str(), rev.c_str(), name.c_str(), pg_bool(json_bool(r.stored, "private", true)),
                                  data.c_str()})
           .ok())
    return fail("put network " + key);
  std::string note = origin_ + " n " + key + " 0 0";
  if (!conn_->run("notify", {note.c_str()}).ok()) return fail("notify");
  if (!tx.commit()) return fail("commit");
  return r;
}

Result<std::optional<json>> PgControllerDb::delete_network(uint64_t nwid) {
  std::string key = proto::network_id_to_string(nwid);
  std::lock_guard lk(mu_);
  if (auto st = ensure_connected(); !st) return st.take_error();
  Tx tx(*conn_);
  if (!tx.open) return fail("begin");
  if (!conn_->run("del_network_members", {key.c_str()}).ok()) return fail("delete members of " + key);
  Res r = conn_->run("del_network", {key.c_str()});
  if (!r.ok()) return fail("delete network " + key);
  std::optional<json> old;
  if (r.rows() > 0) old = parse_json(r.text(0, 0));
  std::string note = origin_ + " N " + key + " 0 0";
  if (!conn_->run("notify", {note.c_str()}).ok()) return fail("notify");
  if (!tx.commit()) return fail("commit");
  return old;
}

// ---- members ------------------------------------------------------------------------------

std::map<proto::Address, uint64_t> PgControllerDb::member_revisions(uint64_t nwid) {
  std::lock_guard lk(mu_);
  std::map<proto::Address, uint64_t> out;
  if (!ensure_connected()) return out;
  std::string key = proto::network_id_to_string(nwid);
  Res r = conn_->run("member_revisions", {key.c_str()});
  if (!r.ok()) {
    (void)fail("list members");
    return out;
  }
  for (int i = 0; i < r.rows(); ++i)
    if (auto a = parse_hex_u64(r.text(i, 0))) out[*a] = uint64_t(std::strtoll(r.text(i, 1).c_str(), nullptr, 10));
  return out;
}

std::vector<json> PgControllerDb::members_of(uint64_t nwid) {
  std::lock_guard lk(mu_);
  std::vector<json> out;
  if (!ensure_connected()) return out;
  std::string key = proto::network_id_to_string(nwid);
  Res r = conn_->run("members_of", {key.c_str()});
  if (!r.ok()) {
    (void)fail("read members");
    return out;
  }
  for (int i = 0; i < r.rows(); ++i)
    if (auto j = parse_json(r.text(i, 0))) out.push_back(std::move(*j));
  return out;
}

std::optional<json> PgControllerDb::get_member_locked(const std::string& nwid, const std::string& addr,
                                                      bool& failed) {
  Res r = conn_->run("get_member", {nwid.c_str(), addr.c_str()});
  if (!r.ok()) {
    failed = true;
    (void)fail("get member");
    return std::nullopt;
  }
  if (r.rows() == 0) return std::nullopt;
  return parse_json(r.text(0, 0));
}

std::optional<json> PgControllerDb::get_member(uint64_t nwid, proto::Address a) {
  std::lock_guard lk(mu_);
  if (!ensure_connected()) return std::nullopt;
  bool failed = false;
  return get_member_locked(proto::network_id_to_string(nwid), proto::address_to_string(a), failed);
}

Result<PutResult> PgControllerDb::put_member(const json& member) {
  auto nwid = record_nwid(member);
  auto addr = record_address(member);
  if (!nwid || !addr) return err("member record without a valid nwid/address");
  std::string nk = proto::network_id_to_string(*nwid), ak = proto::address_to_string(*addr);
  std::lock_guard lk(mu_);
  if (auto st = ensure_connected(); !st) return st.take_error();
  Tx tx(*conn_);
  if (!tx.open) return fail("begin");
  std::string lock = "m:" + nk + ":" + ak;
  if (!conn_->run("lock", {lock.c_str()}).ok()) return fail("lock member");
  bool failed = false;
  auto old = get_member_locked(nk, ak, failed);
  if (failed) return fail("get member " + nk + "/" + ak);
  PutResult r;
  r.stored = member;
  r.changed = prepare_put(old ? &*old : nullptr, r.stored);
  if (!r.changed) {
    r.stored = *old;
    return r;
  }
  const json& m = r.stored;
  bool authorized = json_bool(m, "authorized", false);
  std::string rev = std::to_string(revision_of(m)), identity = json_str(m, "identity"), name = json_str(m, "name"),
              data = dump(m);
  if (!conn_->run("put_member", {nk.c_str(), ak.c_str(), rev.c_str(), pg_bool(authorized),
                                 pg_bool(json_bool(m, "activeBridge", false)), identity.c_str(), name.c_str(),
                                 data.c_str()})
           .ok())
    return fail("put member " + nk + "/" + ak);
  // The child rows: IPs, tags, capabilities as the record now has them.
  std::vector<int64_t> tag_ids, tag_values, caps;
  if (auto t = m.find("tags"); t != m.end() && t->is_array())
    for (const json& e : *t)
      if (e.is_array() && e.size() == 2)
        if (auto id = json_int(e[0]), v = json_int(e[1]); id && v) {
          tag_ids.push_back(*id);
          tag_values.push_back(*v);
        }
  if (auto c = m.find("capabilities"); c != m.end() && c->is_array())
    for (const json& e : *c)
      if (auto id = json_int(e)) caps.push_back(*id);
  if (!conn_->run("del_member_children", {nk.c_str(), ak.c_str()}).ok()) return fail("member children");
  std::vector<std::string> child = {nk, ak, text_array(member_ip_strings(m)), int_array(tag_ids),
                                    int_array(tag_values), int_array(caps)};
  if (!conn_->run("put_member_children", child).ok()) return fail("member children");
  bool deauth = old && json_bool(*old, "authorized", false) && !authorized;
  std::string note = origin_ + " m " + nk + " " + ak + (deauth ? " 1" : " 0");
  if (!conn_->run("notify", {note.c_str()}).ok()) return fail("notify");
  if (!tx.commit()) return fail("commit");
  return r;
}

Result<std::optional<json>> PgControllerDb::delete_member(uint64_t nwid, proto::Address a) {
  std::string nk = proto::network_id_to_string(nwid), ak = proto::address_to_string(a);
  std::lock_guard lk(mu_);
  if (auto st = ensure_connected(); !st) return st.take_error();
  Tx tx(*conn_);
  if (!tx.open) return fail("begin");
  Res r = conn_->run("del_member", {nk.c_str(), ak.c_str()});
  if (!r.ok()) return fail("delete member " + nk + "/" + ak);
  if (!conn_->run("del_member_status", {nk.c_str(), ak.c_str()}).ok()) return fail("delete member status");
  std::optional<json> old;
  if (r.rows() > 0) old = parse_json(r.text(0, 0));
  if (old) {
    std::string note = origin_ + " M " + nk + " " + ak + (json_bool(*old, "authorized", false) ? " 1" : " 0");
    if (!conn_->run("notify", {note.c_str()}).ok()) return fail("notify");
  }
  if (!tx.commit()) return fail("commit");
  return old;
}

std::vector<proto::Address> PgControllerDb::active_bridges(uint64_t nwid) {
  std::lock_guard lk(mu_);
  std::vector<proto::Address> out;
  if (!ensure_connected()) return out;
  std::string key = proto::network_id_to_string(nwid);
  Res r = conn_->run("active_bridges", {key.c_str()});
  if (!r.ok()) {
    (void)fail("active bridges");
    return out;
  }
  for (int i = 0; i < r.rows(); ++i)
    if (auto a = parse_hex_u64(r.text(i, 0))) out.push_back(*a);
  return out;
}

std::set<proto::InetAddress> PgControllerDb::assigned_ips(uint64_t nwid) {
  std::lock_guard lk(mu_);
  std::set<proto::InetAddress> out;
  if (!ensure_connected()) return out;
  std::string key = proto::network_id_to_string(nwid);
  Res r = conn_->run("assigned_ips", {key.c_str()});
  if (!r.ok()) {
    (void)fail("assigned ips");
    return out;
  }
  for (int i = 0; i < r.rows(); ++i)
    if (auto ip = parse_ip(r.text(i, 0))) out.insert(*ip);
  return out;
}

void PgControllerDb::record_seen(const std::vector<SeenRecord>& batch) {
  if (batch.empty()) return;
  // One row per member (ON CONFLICT cannot touch a row twice in one statement): the latest.
  std::map<std::pair<uint64_t, proto::Address>, const SeenRecord*> latest;
  for (const auto& s : batch) {
    auto& p = latest[{s.nwid, s.member}];
    if (!p || p->last_seen <= s.last_seen) p = &s;
  }
  std::vector<std::string> nw, ad, physical, metadata;
  std::vector<int64_t> seen;
  for (auto& [k, s] : latest) {
    nw.push_back(proto::network_id_to_string(s->nwid));
    ad.push_back(proto::address_to_string(s->member));
    seen.push_back(s->last_seen);
    physical.push_back(s->physical);
    metadata.push_back(s->metadata);
  }
  std::lock_guard lk(mu_);
  if (!ensure_connected()) return;
  std::vector<std::string> params = {text_array(nw), text_array(ad), int_array(seen), text_array(physical),
                                     text_array(metadata)};
  if (!conn_->run("record_seen", params).ok()) (void)fail("record last seen");
}

std::vector<SeenRecord> PgControllerDb::recent_seen(proto::Address controller, int64_t since) {
  std::lock_guard lk(mu_);
  std::vector<SeenRecord> out;
  if (!ensure_connected()) return out;
  std::string c = proto::address_to_string(controller), t = std::to_string(since);
  Res r = conn_->run("recent_seen", {c.c_str(), t.c_str()});
  if (!r.ok()) {
    (void)fail("recent seen");
    return out;
  }
  for (int i = 0; i < r.rows(); ++i) {
    auto nwid = proto::parse_network_id(r.text(i, 0));
    auto addr = parse_hex_u64(r.text(i, 1));
    if (!nwid || !addr) continue;
    SeenRecord s;
    s.nwid = *nwid;
    s.member = *addr;
    s.last_seen = std::strtoll(r.text(i, 2).c_str(), nullptr, 10);
    s.physical = r.text(i, 3);
    s.metadata = r.text(i, 4);
    s.identity = r.text(i, 5);
    out.push_back(std::move(s));
  }
  return out;
}

// ---- change notifications -------------------------------------------------------------------

void PgControllerDb::set_change_listener(DbChangeListener fn) {
  std::lock_guard lk(listener_mu_);
  listener_ = std::move(fn);
}

void PgControllerDb::listen_loop() {
  auto wait = [&](int fd, int ms) {  // true: fd readable; false: timeout or woken
    pollfd p[2] = {{wake_fd_, POLLIN, 0}, {fd, POLLIN, 0}};
    int n = ::poll(p, fd >= 0 ? 2 : 1, ms);
    return n > 0 && !(p[0].revents & POLLIN) && fd >= 0 && (p[1].revents & (POLLIN | POLLERR | POLLHUP));
  };
  while (!stop_) {
    Conn c;
    c.c = connect_db(conninfo_);
    if (!c.c || PQstatus(c.c) != CONNECTION_OK || !c.exec("LISTEN ztcore_controller").ok()) {
      wait(-1, 500);  // retry after a short pause (or stop)
      continue;
    }
    {
      std::lock_guard lk(listening_mu_);
      listening_ = true;
    }
    listening_cv_.notify_all();
    while (!stop_) {
      int fd = PQsocket(c.c);
      if (fd < 0) break;
      if (!wait(fd, 1000)) continue;
      if (!PQconsumeInput(c.c)) break;  // connection lost: reconnect
      while (PGnotify* n = PQnotifies(c.c)) {
        std::istringstream in(n->extra ? n->extra : "");
        std::string origin, kind, nwid, addr, deauth;
        in >> origin >> kind >> nwid >> addr >> deauth;
        PQfreemem(n);
        if (origin == origin_) continue;
        auto id = proto::parse_network_id(nwid);
        if (!id) continue;
        DbChange ch;
        ch.nwid = *id;
        ch.member = parse_hex_u64(addr).value_or(0);
        ch.deauthorized = deauth == "1";
        if (kind == "n") ch.kind = DbChange::Kind::Network;
        else if (kind == "m") ch.kind = DbChange::Kind::Member;
        else if (kind == "N") ch.kind = DbChange::Kind::NetworkDeleted;
        else if (kind == "M") ch.kind = DbChange::Kind::MemberDeleted;
        else continue;
        std::lock_guard lk(listener_mu_);
        if (listener_) listener_(ch);
      }
    }
  }
}

}  // namespace zt::controller
