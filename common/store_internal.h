// The results database's internals shared by its files: the prepared
// statement wrapper, reading rows through a column table, the statement ids,
// the schema text. Only common/store*.cc include this (and so link SQLite).
//   store.cc         opening, closing, transactions, the checkpointer
//   store_schema.cc  the schema of each version and the migrations
//   store_writes.cc  what the coordinator records
//   store_reads.cc   what hpo-query, hpo-report and a resume read
#ifndef HPO_COMMON_STORE_INTERNAL_H_
#define HPO_COMMON_STORE_INTERNAL_H_

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/store.h"

namespace hpo {
namespace store_internal {

// The schema of versions 1, 2 and 3 (store_schema.cc).
extern const char* const kSchemaV1;
extern const char* const kSchemaV2;
extern const char* const kSchemaV3;

// Statement ids for Prepared().
enum StatementId {
  kCreateStudy,
  kUpdateStudy,
  kPutTrial,
  kHasParams,
  kPutParam,
  kStateChange,
  kAddAttempt,
  kAttemptTarget,
  kEndAttempt,
  kPutMetrics,
  kDeleteMetrics,
  kDeleteExploits,
  kAddEvent,
  kAddWorker,
  kUpdateWorker,
  kPutEvaluation,
  kPutExploit,
  kPutCheckpoint,
  kDeleteCheckpoint,
  kStatementCount,
};

}  // namespace store_internal

// A prepared statement with positional binding (1-based, in call order).
class Store::Statement {
 public:
  Statement(Store* store, const char* sql) : store_(store) {
    if (sqlite3_prepare_v2(store->db_, sql, -1, &stmt_, nullptr) != SQLITE_OK) {
      throw RuntimeFailure(store->path_ + ": cannot prepare statement: " +
                           sqlite3_errmsg(store->db_));
    }
  }
  ~Statement() { sqlite3_finalize(stmt_); }

  Statement& Bind(int64_t v) {
    sqlite3_bind_int64(stmt_, ++index_, v);
    return *this;
  }
  Statement& Bind(int v) { return Bind(static_cast<int64_t>(v)); }
  Statement& Bind(double v) {
    if (std::isfinite(v)) {
      sqlite3_bind_double(stmt_, ++index_, v);
    } else {
      sqlite3_bind_null(stmt_, ++index_);
    }
    return *this;
  }
  Statement& Bind(const std::optional<double>& v) {
    return v ? Bind(*v) : BindNull();
  }
  Statement& Bind(const std::string& v) {
    sqlite3_bind_text(stmt_, ++index_, v.data(), static_cast<int>(v.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  Statement& Bind(const char* v) { return Bind(std::string(v)); }
  Statement& BindNull() {
    sqlite3_bind_null(stmt_, ++index_);
    return *this;
  }
  // Binds a JSON scalar with its SQLite type; other values as JSON text.
  Statement& BindJson(const nlohmann::json& v) {
    if (v.is_number_integer()) return Bind(v.get<int64_t>());
    if (v.is_number()) return Bind(v.get<double>());
    if (v.is_string()) return Bind(v.get<std::string>());
    if (v.is_boolean()) return Bind(static_cast<int64_t>(v.get<bool>()));
    if (v.is_null()) return BindNull();
    return Bind(v.dump());
  }

  // Runs a write statement to completion.
  void Run() {
    int rc = sqlite3_step(stmt_);
    Reset();
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) store_->Fail(rc, "write");
  }
  // Steps a query; true while there is a row.
  bool Step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    Reset();
    if (rc != SQLITE_DONE) store_->Fail(rc, "read");
    return false;
  }
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    index_ = 0;
  }

  int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }
  double Real(int col) { return sqlite3_column_double(stmt_, col); }
  bool IsNull(int col) {
    return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
  }
  std::optional<double> OptReal(int col) {
    return IsNull(col) ? std::nullopt : std::optional<double>(Real(col));
  }
  std::string Text(int col) {
    const unsigned char* t = sqlite3_column_text(stmt_, col);
    return t == nullptr ? std::string()
                        : std::string(reinterpret_cast<const char*>(t),
                                      sqlite3_column_bytes(stmt_, col));
  }
  nlohmann::json Json(int col) {
    std::string text = Text(col);
    return text.empty() ? nlohmann::json()
                        : nlohmann::json::parse(text, nullptr, false);
  }

 private:
  Store* store_;
  sqlite3_stmt* stmt_ = nullptr;
  int index_ = 0;
};

namespace store_internal {

// One column of a SELECT and where its value goes in a row struct: a field
// (int64_t, int, double, std::optional<double>, std::string or JSON, read
// with that type) or a function for anything else. A table of these names
// each column once, so the SELECT list and the reads cannot drift apart.
template <typename Row>
struct Column {
  using Read = std::function<void(Store::Statement&, int, Row&)>;

  template <typename T>
  Column(const char* name, T Row::*field)
      : name(name), read([field](Store::Statement& st, int col, Row& row) {
          Get(st, col, row.*field);
        }) {}
  Column(const char* name, Read read) : name(name), read(std::move(read)) {}

  const char* name;
  Read read;

 private:
  static void Get(Store::Statement& st, int col, int64_t& v) {
    v = st.Int(col);
  }
  static void Get(Store::Statement& st, int col, int& v) {
    v = static_cast<int>(st.Int(col));
  }
  static void Get(Store::Statement& st, int col, double& v) {
    v = st.Real(col);
  }
  static void Get(Store::Statement& st, int col, std::optional<double>& v) {
    v = st.OptReal(col);
  }
  static void Get(Store::Statement& st, int col, std::string& v) {
    v = st.Text(col);
  }
  static void Get(Store::Statement& st, int col, nlohmann::json& v) {
    v = st.Json(col);
  }
};

// "SELECT <the columns> " + `rest` (FROM, WHERE, ORDER BY), with `args`
// bound in order: one Row per result row.
template <typename Row, typename... Args>
std::vector<Row> Select(Store* store, const std::vector<Column<Row>>& columns,
                        const std::string& rest, const Args&... args) {
  std::string sql = "SELECT ";
  for (size_t i = 0; i < columns.size(); ++i) {
    sql += (i ? ", " : "") + std::string(columns[i].name);
  }
  sql += " " + rest;
  Store::Statement st(store, sql.c_str());
  (st.Bind(args), ...);
  std::vector<Row> out;
  while (st.Step()) {
    Row row;
    for (size_t i = 0; i < columns.size(); ++i) {
      columns[i].read(st, static_cast<int>(i), row);
    }
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace store_internal

}  // namespace hpo

#endif  // HPO_COMMON_STORE_INTERNAL_H_
