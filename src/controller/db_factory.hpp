// Opens the controller's storage from a command-line/API value: the one place that knows
// which backends exist (used by `ztcore controller --db` and zt_controller_new).
//
//   postgresql://...  or  postgres://...   PostgreSQL (pg_db.hpp), libpq connection URI
//   anything else                          a SQLite file path (sqlite_db.hpp)
#pragma once

#include <memory>
#include <string>

#include "base/result.hpp"
#include "controller/db.hpp"

namespace zt::controller {

bool is_postgres_url(const std::string& url_or_path);

// Opens the backend `url_or_path` names. Errors name the backend and its reason (never the
// URL itself: it may carry a password).
Result<std::unique_ptr<ControllerDb>> open_db(const std::string& url_or_path);

}  // namespace zt::controller
