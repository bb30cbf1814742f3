// A throwaway PostgreSQL server for the tests of the PostgreSQL controller backend.
//
// pg_test_server() starts one server per test process on first use (tests/support/
// pg_server.sh: data and unix socket in a temp dir, random port, fsync off) and stops it and
// removes the dir at exit (a watchdog does it if the process dies). ctest runs every test in
// its own process, so processes never share a server and ctest -j is safe. With
// ZTCORE_TEST_PG_URL set, that server is used instead (nothing is started).
//
// pg_fresh_database() creates an empty database on it (one per test) and returns its URL.
// If no server can be had, the error says why; the Postgres test variants FAIL then (CI
// installs postgresql-15), they do not skip.
#pragma once

#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace zt::test {

struct PgTestServer {
  std::string url;    // base URL (database "postgres"); empty if none
  std::string dir;    // our temp dir, when we started the server
  std::string error;  // why there is no server

  ~PgTestServer() {
    if (!dir.empty()) {
      std::string cmd = "bash '" + script() + "' stop '" + dir + "' >/dev/null 2>&1";
      (void)std::system(cmd.c_str());
    }
  }
  static std::string script() {
#ifdef ZTCORE_VECTORS_DIR
    return std::string(ZTCORE_VECTORS_DIR) + "/../support/pg_server.sh";
#else
    return "tests/support/pg_server.sh";
#endif
  }
};

inline PgTestServer& pg_test_server() {
  static PgTestServer s = [] {
    PgTestServer out;
    if (const char* u = std::getenv("ZTCORE_TEST_PG_URL"); u && *u) {
      out.url = u;
      return out;
    }
    std::string tmpl = (std::filesystem::temp_directory_path() / "ztpg-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) {
      out.error = "mkdtemp failed";
      return out;
    }
    std::string cmd = "bash '" + PgTestServer::script() + "' start '" + tmpl + "' " + std::to_string(getpid()) +
                      " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    std::string text;
    if (p) {
      char buf[512];
      while (size_t n = fread(buf, 1, sizeof buf, p)) text.append(buf, n);
      int rc = pclose(p);
      while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
      if (rc == 0 && text.rfind("postgresql://", 0) == 0) {
        out.url = text;
        out.dir = tmpl;
        return out;
      }
    }
    out.error = "cannot start a PostgreSQL test server (" + PgTestServer::script() + "): " + text;
    std::filesystem::remove_all(tmpl);
    return out;
  }();
  return s;
}

// Runs one SQL command on `url`; empty string on success, else the error.
inline std::string pg_exec(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  std::string e;
  if (PQstatus(c) != CONNECTION_OK) {
    e = PQerrorMessage(c);
  } else {
    PGresult* r = PQexec(c, sql.c_str());
    auto st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) e = PQerrorMessage(c);
    PQclear(r);
  }
  PQfinish(c);
  return e;
}

// URL of a new, empty database on the test server; empty and `*error` set on failure.
inline std::string pg_fresh_database(std::string* error) {
  PgTestServer& s = pg_test_server();
  if (s.url.empty()) {
    if (error) *error = s.error;
    return {};
  }
  static std::atomic<int> counter{0};
  std::string name = "t" + std::to_string(getpid()) + "_" + std::to_string(counter++);
  if (std::string e = pg_exec(s.url, "CREATE DATABASE " + name); !e.empty()) {
    if (error) *error = "CREATE DATABASE: " + e;
    return {};
  }
  // Swap the database in the URL: postgresql:///postgres?... or postgresql://host/postgres?...
  std::string url = s.url;
  auto q = url.find('?');
  std::string head = url.substr(0, q), tail = q == std::string::npos ? "" : url.substr(q);
  auto slash = head.rfind('/');
  return head.substr(0, slash + 1) + name + tail;
}

}  // namespace zt::test
