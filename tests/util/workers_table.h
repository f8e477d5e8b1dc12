// The rows of the results database's workers table, which the store writes
// but has no reader for, through a raw read-only SQLite connection. Link
// SQLite::SQLite3 to use it.
#ifndef HPO_TESTS_UTIL_WORKERS_TABLE_H_
#define HPO_TESTS_UTIL_WORKERS_TABLE_H_

#include <sqlite3.h>

#include <string>
#include <vector>

namespace hpo::testutil {

struct WorkerTableRow {
  std::string state;    // connected, lost, left, ...
  std::string devices;  // JSON text, e.g. ["cpu"].
};

// The rows named `name` in `db`, oldest session first; empty when the file
// or the table cannot be read.
inline std::vector<WorkerTableRow> WorkerRows(const std::string& db,
                                              const std::string& name) {
  std::vector<WorkerTableRow> rows;
  sqlite3* conn = nullptr;
  if (sqlite3_open_v2(db.c_str(), &conn, SQLITE_OPEN_READONLY, nullptr) ==
      SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(conn,
                           "SELECT state, devices FROM workers WHERE name = ? "
                           "ORDER BY id",
                           -1, &stmt, nullptr) == SQLITE_OK) {
      sqlite3_bind_text(stmt, 1, name.c_str(), -1, SQLITE_TRANSIENT);
      while (sqlite3_step(stmt) == SQLITE_ROW) {
        rows.push_back(
            {reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)),
             reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1))});
      }
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(conn);
  return rows;
}

}  // namespace hpo::testutil

#endif  // HPO_TESTS_UTIL_WORKERS_TABLE_H_
