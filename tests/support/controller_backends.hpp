// The storage backends the controller tests run against: every test of ControllerTest and
// ControllerHttp is a TEST_P instantiated for Sqlite and Postgres.
//
// Sqlite: a fresh file in a temp dir. Postgres: a fresh database on the process's throwaway
// server (pg_test_server.hpp). A backend that cannot be opened leaves `db` null and `error`
// set; fixtures ASSERT on it, so the Postgres variants fail (not skip) without a server.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "controller/db.hpp"
#include "controller/pg_db.hpp"
#include "controller/sqlite_db.hpp"
#include "support/pg_test_server.hpp"

namespace zt::test {

enum class Backend { Sqlite, Postgres };

inline std::string backend_name(const ::testing::TestParamInfo<Backend>& i) {
  return i.param == Backend::Sqlite ? "Sqlite" : "Postgres";
}

struct TestDb {
  std::unique_ptr<controller::ControllerDb> db;
  std::string url;    // what open_db() would take: the file path or the postgresql:// URL
  std::string dir;    // temp dir of a SQLite file (removed on destruction)
  std::string error;  // why db is null
  TestDb() = default;
  TestDb(TestDb&& o) noexcept { *this = std::move(o); }
  TestDb& operator=(TestDb&& o) noexcept {
    if (this != &o) {
      clear();
      db = std::move(o.db);
      url = std::exchange(o.url, {});
      dir = std::exchange(o.dir, {});
      error = std::exchange(o.error, {});
    }
    return *this;
  }
  ~TestDb() { clear(); }
  void clear() {
    db.reset();
    if (!dir.empty()) std::filesystem::remove_all(dir);
    dir.clear();
  }
};

inline TestDb open_test_db(Backend b) {
  TestDb t;
  if (b == Backend::Sqlite) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ztcore-ctldb-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) {
      t.error = "mkdtemp failed";
      return t;
    }
    t.dir = tmpl;
    t.url = tmpl + "/controller.db";
    auto d = controller::SqliteControllerDb::open(t.url);
    if (!d) t.error = d.error();
    else t.db = std::move(*d);
    return t;
  }
  t.url = pg_fresh_database(&t.error);
  if (t.url.empty()) return t;
  auto d = controller::PgControllerDb::open(t.url);
  if (!d) t.error = d.error();
  else t.db = std::move(*d);
  return t;
}

}  // namespace zt::test
