// See db_factory.hpp.
#include "controller/db_factory.hpp"

#include "controller/pg_db.hpp"
#include "controller/sqlite_db.hpp"

namespace zt::controller {

bool is_postgres_url(const std::string& s) {
  return s.rfind("postgresql://", 0) == 0 || s.rfind("postgres://", 0) == 0;
}

Result<std::unique_ptr<ControllerDb>> open_db(const std::string& url_or_path) {
  if (url_or_path.empty()) return err("empty database path or URL");
  if (is_postgres_url(url_or_path)) {
    auto db = PgControllerDb::open(url_or_path);
    if (!db) return db.take_error();
    return std::unique_ptr<ControllerDb>(std::move(*db));
  }
  auto db = SqliteControllerDb::open(url_or_path);
  if (!db) return db.take_error();
  return std::unique_ptr<ControllerDb>(std::move(*db));
}

}  // namespace zt::controller
