#include "common/store.h"

#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "common/error.h"

namespace hpo {

using nlohmann::json;

namespace {

// Version 1. Every timestamp is Unix seconds (REAL). Parameters and metrics
// are also kept as JSON in the row that owns them, for tools that want the
// whole object.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE studies(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  spec TEXT NOT NULL,
  spec_hash TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  metric TEXT NOT NULL,
  mode TEXT NOT NULL CHECK (mode IN ('min', 'max')),
  state TEXT NOT NULL,
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL,
  elapsed_s REAL NOT NULL DEFAULT 0);
CREATE TABLE trials(
  study_id INTEGER NOT NULL REFERENCES studies(id),
  number INTEGER NOT NULL,
  state TEXT NOT NULL,
  params TEXT NOT NULL,
  bracket INTEGER NOT NULL DEFAULT 0,
  rung INTEGER NOT NULL DEFAULT 0,
  epochs INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  value REAL,
  best_value REAL,
  checkpoint TEXT,
  checkpoint_epoch INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  worker TEXT,
  updated_at REAL NOT NULL,
  PRIMARY KEY (study_id, number));
CREATE TABLE trial_params(
  study_id INTEGER NOT NULL,
  trial INTEGER NOT NULL,
  name TEXT NOT NULL,
  value,
  PRIMARY KEY (study_id, trial, name)) WITHOUT ROWID;
CREATE TABLE state_changes(
  id INTEGER PRIMARY KEY,
  study_id INTEGER NOT NULL,
  trial INTEGER NOT NULL,
  state TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  at REAL NOT NULL);
CREATE INDEX state_changes_by_trial ON state_changes(study_id, trial);
CREATE TABLE attempts(
  id INTEGER PRIMARY KEY,
  study_id INTEGER NOT NULL,
  trial INTEGER NOT NULL,
  attempt INTEGER NOT NULL,
  lease INTEGER NOT NULL,
  worker TEXT NOT NULL,
  from_epoch INTEGER NOT NULL,
  to_epoch INTEGER NOT NULL,
  state TEXT NOT NULL,
  reason TEXT,
  started_at REAL NOT NULL,
  ended_at REAL);
CREATE INDEX attempts_by_trial ON attempts(study_id, trial);
CREATE TABLE metrics(
  study_id INTEGER NOT NULL,
  trial INTEGER NOT NULL,
  epoch INTEGER NOT NULL,
  attempt_id INTEGER NOT NULL,
  objective REAL,
  train_loss REAL,
  val_loss REAL,
  val_accuracy REAL,
  val_track_accuracy REAL,
  epoch_seconds REAL,
  samples_per_second REAL,
  all_metrics TEXT NOT NULL,
  recorded_at REAL NOT NULL,
  PRIMARY KEY (study_id, trial, epoch)) WITHOUT ROWID;
CREATE TABLE events(
  study_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  event TEXT NOT NULL,
  PRIMARY KEY (study_id, seq)) WITHOUT ROWID;
CREATE TABLE workers(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  host TEXT NOT NULL,
  devices TEXT NOT NULL,
  slots INTEGER NOT NULL,
  pid INTEGER,
  state TEXT NOT NULL,
  connected_at REAL NOT NULL,
  last_seen REAL NOT NULL);
CREATE VIEW leaderboard AS
  SELECT s.name AS study, t.number AS trial, t.state, t.value, t.best_value,
         t.epochs, t.params,
         RANK() OVER (PARTITION BY s.id ORDER BY
           t.state = 'complete' DESC,
           CASE s.mode WHEN 'max' THEN -t.value ELSE t.value END) AS rank
  FROM trials t JOIN studies s ON s.id = t.study_id
  WHERE t.value IS NOT NULL;
CREATE VIEW study_summary AS
  SELECT s.name AS study, s.state, s.algorithm, s.metric, s.mode,
         COUNT(t.number) AS trials,
         SUM(t.state = 'complete') AS complete,
         SUM(t.state = 'pruned') AS pruned,
         SUM(t.state = 'failed') AS failed,
         SUM(t.state IN ('running', 'queued', 'paused', 'lost')) AS unfinished,
         SUM(t.epochs) AS epochs,
         CASE s.mode WHEN 'max' THEN MAX(t.value) ELSE MIN(t.value) END
           AS best_value,
         s.elapsed_s
  FROM studies s LEFT JOIN trials t ON t.study_id = s.id
  GROUP BY s.id;
CREATE VIEW epoch_metrics AS
  SELECT s.name AS study, m.trial, m.epoch, m.objective, m.train_loss,
         m.val_loss, m.val_accuracy, m.val_track_accuracy, m.epoch_seconds,
         m.samples_per_second, a.attempt, a.worker, m.recorded_at
  FROM metrics m JOIN studies s ON s.id = m.study_id
  LEFT JOIN attempts a ON a.id = m.attempt_id;
)sql";

// Version 2: the best trial's evaluation on the test split.
constexpr const char* kSchemaV2 = R"sql(
CREATE TABLE evaluations(
  study_id INTEGER NOT NULL,
  trial INTEGER NOT NULL,
  split TEXT NOT NULL,
  state TEXT NOT NULL,
  error TEXT,
  checkpoint TEXT,
  epoch INTEGER NOT NULL DEFAULT 0,
  loss REAL,
  accuracy REAL,
  track_accuracy REAL,
  samples INTEGER NOT NULL DEFAULT 0,
  tracks INTEGER NOT NULL DEFAULT 0,
  metrics TEXT NOT NULL,
  confusion TEXT,
  classes TEXT,
  worker TEXT,
  recorded_at REAL NOT NULL,
  PRIMARY KEY (study_id, trial, split)) WITHOUT ROWID;
CREATE VIEW test_results AS
  SELECT s.name AS study, e.trial, e.split, e.state, e.loss, e.accuracy,
         e.track_accuracy, e.samples, e.tracks, e.epoch, e.checkpoint,
         t.params, e.error, e.worker, e.recorded_at
  FROM evaluations e JOIN studies s ON s.id = e.study_id
  LEFT JOIN trials t ON t.study_id = e.study_id AND t.number = e.trial;
)sql";

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
  kAddEvent,
  kAddWorker,
  kUpdateWorker,
  kPutEvaluation,
  kStatementCount,
};

}  // namespace

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
  Statement& BindJson(const json& v) {
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
  json Json(int col) {
    std::string text = Text(col);
    return text.empty() ? json() : json::parse(text, nullptr, false);
  }

 private:
  Store* store_;
  sqlite3_stmt* stmt_ = nullptr;
  int index_ = 0;
};

void Store::Fail(int rc, const char* what) {
  std::string message =
      path_ + ": SQLite " + what + " failed: " + sqlite3_errmsg(db_);
  if (rc == SQLITE_FULL)
    message += " (the disk is full; free space, then resume)";
  if (rc == SQLITE_READONLY) {
    message += " (the file or its directory is read-only; use a writable --db)";
  }
  throw RuntimeFailure(message);
}

namespace {

// "file:" URI of `path` with `query`, for sqlite3_open_v2(SQLITE_OPEN_URI).
std::string FileUri(const std::string& path, const std::string& query) {
  std::string uri = "file:";
  for (unsigned char c : path) {
    if (c == '?' || c == '#' || c == '%' || c < 0x20 || c >= 0x7f) {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      uri += hex;
    } else {
      uri += static_cast<char>(c);
    }
  }
  return uri + "?" + query;
}

// Opens `path` for reading when it sits on a read-only disk (or in a
// directory this user cannot write): SQLite cannot make the shared-memory
// file that reading a WAL-mode database needs. With no -wal file beside it
// no connection has the database open for writing, so it is read as an
// immutable file. nullptr if that is not the case or does not work.
sqlite3* OpenReadOnlyMedia(const std::string& path) {
  std::FILE* wal = std::fopen((path + "-wal").c_str(), "rb");
  if (wal != nullptr) {
    std::fclose(wal);
    return nullptr;
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(
          FileUri(path, "immutable=1").c_str(), &db,
          SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
          nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return nullptr;
  }
  return db;
}

}  // namespace

std::unique_ptr<Store> Store::Open(const std::string& path, bool read_only,
                                   Durability durability) {
  sqlite3* db = nullptr;
  int flags = read_only ? SQLITE_OPEN_READONLY
                        : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  int rc =
      sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string why = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    throw BadInput(path + ": cannot open the results database: " + why +
                   (read_only ? " (check the --db path)"
                              : " (check that its directory exists and is "
                                "writable, or pass another --db)"));
  }
  if (read_only && sqlite3_exec(db, "SELECT 1 FROM sqlite_master LIMIT 1",
                                nullptr, nullptr, nullptr) == SQLITE_CANTOPEN) {
    if (sqlite3* media = OpenReadOnlyMedia(path)) {
      sqlite3_close(db);
      db = media;
    }
  }
  if (!read_only && sqlite3_db_readonly(db, "main") == 1) {
    // SQLite opens a write-protected file read-only without a word; the
    // first write would fail later, mid-study.
    sqlite3_close(db);
    throw BadInput(path +
                   ": cannot write the results database: the file is "
                   "read-only (make it and its directory writable, or copy "
                   "it somewhere writable and pass that --db)");
  }
  std::unique_ptr<Store> store(new Store(db, path));
  sqlite3_busy_timeout(db, 5000);
  // Check (and migrate) first: a file that is refused is left as it was.
  store->Migrate(read_only);
  if (!read_only) {
    store->Exec("PRAGMA journal_mode=WAL");
    store->Exec(durability == Durability::kFull ? "PRAGMA synchronous=FULL"
                                                : "PRAGMA synchronous=NORMAL");
    if (path != ":memory:" && !path.empty()) {
      store->Exec("PRAGMA wal_autocheckpoint=0");
      store->checkpointer_ =
          std::thread([s = store.get()] { s->Checkpointer(); });
    }
  }
  return store;
}

Store::Store(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {
  statements_.resize(kStatementCount);
}

void Store::Checkpointer() {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path_.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return;  // The writer's connection still works; the WAL just grows.
  }
  // A connection learns that the file is in WAL mode on its first read;
  // until then a checkpoint does nothing (and says so only through its log
  // size, -1).
  sqlite3_exec(db, "SELECT count(*) FROM sqlite_master", nullptr, nullptr,
               nullptr);
  std::unique_lock<std::mutex> lock(checkpointer_mutex_);
  while (!checkpointer_wake_.wait_for(lock, std::chrono::milliseconds(500),
                                      [this] { return stop_checkpointer_; })) {
    lock.unlock();
    // PASSIVE: copies what no reader needs and never blocks the writer.
    sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr,
                              nullptr);
    lock.lock();
  }
  sqlite3_close(db);
}

Store::~Store() {
  if (checkpointer_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(checkpointer_mutex_);
      stop_checkpointer_ = true;
    }
    checkpointer_wake_.notify_all();
    checkpointer_.join();
  }
  try {
    Commit();
  } catch (const Error& e) {
    std::fprintf(stderr, "hpo: %s\n", e.what());
  }
  statements_.clear();
  sqlite3_close(db_);
}

void Store::Exec(const std::string& sql) {
  char* error = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string why = error != nullptr ? error : sqlite3_errstr(rc);
    sqlite3_free(error);
    std::string message = path_ + ": SQLite failed: " + why;
    if (rc == SQLITE_NOTADB) {
      throw BadInput(path_ +
                     ": not an hpo results database (not SQLite); pass "
                     "another --db");
    }
    if (rc == SQLITE_FULL) message += " (the disk is full)";
    if (rc == SQLITE_READONLY || rc == SQLITE_CANTOPEN) {
      message += " (the file or its directory is not writable)";
    }
    throw RuntimeFailure(message);
  }
}

int Store::schema_version() const {
  sqlite3_stmt* stmt = nullptr;
  int version = 0;
  if (sqlite3_prepare_v2(db_, "PRAGMA user_version", -1, &stmt, nullptr) ==
          SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    version = sqlite3_column_int(stmt, 0);
  }
  sqlite3_finalize(stmt);
  return version;
}

void Store::Migrate(bool read_only) {
  // Reading the version also tells a non-SQLite file apart.
  Exec("SELECT count(*) FROM sqlite_master");
  int version = schema_version();
  if (version > kSchemaVersion) {
    throw BadInput(path_ + ": written by a newer hpo (schema version " +
                   std::to_string(version) + ", this build reads up to " +
                   std::to_string(kSchemaVersion) +
                   "); use that hpo release or another --db");
  }
  if (version == kSchemaVersion) return;
  if (version == 0) {
    sqlite3_stmt* stmt = nullptr;
    int tables = 0;
    if (sqlite3_prepare_v2(db_, "SELECT count(*) FROM sqlite_master", -1, &stmt,
                           nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      tables = sqlite3_column_int(stmt, 0);
    }
    sqlite3_finalize(stmt);
    if (tables > 0) {
      throw BadInput(path_ +
                     ": an SQLite file that hpo did not write (it has tables "
                     "but no hpo schema version); pass another --db");
    }
  }
  if (read_only && version >= 1) {
    // Version 2 only added the evaluations table; reads of a version 1 file
    // see none.
    return;
  }
  if (read_only) {
    throw BadInput(path_ + ": schema version " + std::to_string(version) +
                   " needs migrating to " + std::to_string(kSchemaVersion) +
                   "; run hpo-coordinator on it once (it migrates on open)");
  }
  // Migrations run in order, each in the same transaction as the version
  // bump, so a crash leaves the file at one version or the next.
  Exec("BEGIN IMMEDIATE");
  try {
    if (version < 1) Exec(kSchemaV1);
    if (version < 2) Exec(kSchemaV2);
    Exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
    Exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

void Store::Begin() {
  if (in_transaction_) return;
  Exec("BEGIN");
  in_transaction_ = true;
}

void Store::Commit() {
  if (!in_transaction_) return;
  in_transaction_ = false;
  pending_ = 0;
  char* error = nullptr;
  int rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string why = error != nullptr ? error : sqlite3_errstr(rc);
    sqlite3_free(error);
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    std::string message = path_ + ": cannot save results: " + why;
    if (rc == SQLITE_FULL)
      message += " (the disk is full; free space and resume)";
    throw RuntimeFailure(message);
  }
}

Store::Statement& Store::Prepared(int id, const char* sql) {
  auto& slot = statements_[static_cast<size_t>(id)];
  if (!slot) slot = std::make_unique<Statement>(this, sql);
  return *slot;
}

int64_t Store::CreateStudy(const StudyRow& s) {
  Begin();
  ++pending_;
  Prepared(kCreateStudy,
           "INSERT INTO studies(name, spec, spec_hash, algorithm, metric, "
           "mode, state, created_at, updated_at, elapsed_s) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .Bind(s.name)
      .Bind(s.spec)
      .Bind(s.spec_hash)
      .Bind(s.algorithm)
      .Bind(s.metric)
      .Bind(s.mode)
      .Bind(s.state)
      .Bind(s.created_at)
      .Bind(s.updated_at)
      .Bind(s.elapsed_s)
      .Run();
  return sqlite3_last_insert_rowid(db_);
}

void Store::UpdateStudy(int64_t study, const std::string& state,
                        double elapsed_s, double now) {
  Begin();
  ++pending_;
  Prepared(kUpdateStudy,
           "UPDATE studies SET state = ?, elapsed_s = ?, updated_at = ? "
           "WHERE id = ?")
      .Bind(state)
      .Bind(elapsed_s)
      .Bind(now)
      .Bind(study)
      .Run();
}

void Store::PutTrial(int64_t study, const TrialRow& t) {
  Begin();
  ++pending_;
  Prepared(kPutTrial,
           "INSERT OR REPLACE INTO trials(study_id, number, state, params, "
           "bracket, rung, epochs, attempts, value, best_value, checkpoint, "
           "checkpoint_epoch, error, worker, updated_at) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .Bind(study)
      .Bind(t.number)
      .Bind(ToString(t.state))
      .Bind(t.params.dump())
      .Bind(t.bracket)
      .Bind(t.rung)
      .Bind(t.epochs)
      .Bind(t.attempts)
      .Bind(t.value)
      .Bind(t.best_value)
      .Bind(t.checkpoint)
      .Bind(t.checkpoint_epoch)
      .Bind(t.error)
      .Bind(t.worker)
      .Bind(t.updated_at)
      .Run();
  // Parameters never change once a trial exists; write them once.
  Statement& has = Prepared(kHasParams,
                            "SELECT 1 FROM trial_params WHERE study_id = ? "
                            "AND trial = ? LIMIT 1");
  has.Bind(study).Bind(t.number);
  bool present = has.Step();
  if (present) has.Reset();
  if (present || !t.params.is_object()) return;
  for (const auto& [name, value] : t.params.items()) {
    Prepared(kPutParam,
             "INSERT OR REPLACE INTO trial_params(study_id, trial, name, "
             "value) VALUES (?, ?, ?, ?)")
        .Bind(study)
        .Bind(t.number)
        .Bind(name)
        .BindJson(value)
        .Run();
  }
}

void Store::AddStateChange(int64_t study, int64_t trial, TrialState state,
                           int epoch, double now) {
  Begin();
  ++pending_;
  Prepared(kStateChange,
           "INSERT INTO state_changes(study_id, trial, state, epoch, at) "
           "VALUES (?, ?, ?, ?, ?)")
      .Bind(study)
      .Bind(trial)
      .Bind(ToString(state))
      .Bind(epoch)
      .Bind(now)
      .Run();
}

int64_t Store::AddAttempt(int64_t study, const AttemptRow& a) {
  Begin();
  ++pending_;
  Prepared(kAddAttempt,
           "INSERT INTO attempts(study_id, trial, attempt, lease, worker, "
           "from_epoch, to_epoch, state, reason, started_at) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .Bind(study)
      .Bind(a.trial)
      .Bind(a.attempt)
      .Bind(a.lease)
      .Bind(a.worker)
      .Bind(a.from_epoch)
      .Bind(a.to_epoch)
      .Bind(a.state)
      .Bind(a.reason)
      .Bind(a.started_at)
      .Run();
  return sqlite3_last_insert_rowid(db_);
}

void Store::UpdateAttemptTarget(int64_t attempt_id, int to_epoch) {
  Begin();
  ++pending_;
  Prepared(kAttemptTarget, "UPDATE attempts SET to_epoch = ? WHERE id = ?")
      .Bind(to_epoch)
      .Bind(attempt_id)
      .Run();
}

void Store::EndAttempt(int64_t attempt_id, const std::string& state,
                       const std::string& reason, double now) {
  Begin();
  ++pending_;
  Prepared(kEndAttempt,
           "UPDATE attempts SET state = ?, reason = ?, ended_at = ? "
           "WHERE id = ?")
      .Bind(state)
      .Bind(reason)
      .Bind(now)
      .Bind(attempt_id)
      .Run();
}

void Store::PutMetrics(int64_t study, const MetricRow& row) {
  Begin();
  ++pending_;
  Statement& st = Prepared(
      kPutMetrics,
      "INSERT OR REPLACE INTO metrics(study_id, trial, epoch, attempt_id, "
      "objective, train_loss, val_loss, val_accuracy, val_track_accuracy, "
      "epoch_seconds, samples_per_second, all_metrics, recorded_at) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  st.Bind(study)
      .Bind(row.trial)
      .Bind(row.epoch)
      .Bind(row.attempt_id)
      .Bind(row.objective);
  for (const char* name :
       {"train_loss", "val_loss", "val_accuracy", "val_track_accuracy",
        "epoch_seconds", "samples_per_second"}) {
    auto it = row.metrics.find(name);
    if (it != row.metrics.end() && it->is_number()) {
      st.Bind(it->get<double>());
    } else {
      st.BindNull();
    }
  }
  st.Bind(row.metrics.dump()).Bind(row.recorded_at).Run();
}

void Store::DeleteMetricsAfter(int64_t study, int64_t trial, int epoch) {
  Begin();
  ++pending_;
  Prepared(kDeleteMetrics,
           "DELETE FROM metrics WHERE study_id = ? AND trial = ? AND epoch > ?")
      .Bind(study)
      .Bind(trial)
      .Bind(epoch)
      .Run();
}

void Store::AddEvent(int64_t study, int64_t seq,
                     const std::string& event_json) {
  Begin();
  ++pending_;
  Prepared(kAddEvent,
           "INSERT INTO events(study_id, seq, event) VALUES (?, ?, ?)")
      .Bind(study)
      .Bind(seq)
      .Bind(event_json)
      .Run();
}

int64_t Store::AddWorker(const std::string& name, const std::string& host,
                         const json& devices, int slots, int64_t pid,
                         double now) {
  Begin();
  ++pending_;
  Prepared(kAddWorker,
           "INSERT INTO workers(name, host, devices, slots, pid, state, "
           "connected_at, last_seen) VALUES (?, ?, ?, ?, ?, 'connected', ?, ?)")
      .Bind(name)
      .Bind(host)
      .Bind(devices.dump())
      .Bind(slots)
      .Bind(pid)
      .Bind(now)
      .Bind(now)
      .Run();
  return sqlite3_last_insert_rowid(db_);
}

void Store::UpdateWorker(int64_t worker_id, const std::string& state,
                         double now) {
  Begin();
  ++pending_;
  Prepared(kUpdateWorker,
           "UPDATE workers SET state = ?, last_seen = ? WHERE id = ?")
      .Bind(state)
      .Bind(now)
      .Bind(worker_id)
      .Run();
}

namespace {

constexpr const char* kStudyColumns =
    "SELECT id, name, spec, spec_hash, algorithm, metric, mode, state, "
    "created_at, updated_at, elapsed_s FROM studies ";

}  // namespace

std::vector<StudyRow> Store::Studies() {
  Statement st(this, (std::string(kStudyColumns) + "ORDER BY id").c_str());
  std::vector<StudyRow> out;
  while (st.Step()) {
    StudyRow s;
    s.id = st.Int(0);
    s.name = st.Text(1);
    s.spec = st.Text(2);
    s.spec_hash = st.Text(3);
    s.algorithm = st.Text(4);
    s.metric = st.Text(5);
    s.mode = st.Text(6);
    s.state = st.Text(7);
    s.created_at = st.Real(8);
    s.updated_at = st.Real(9);
    s.elapsed_s = st.Real(10);
    out.push_back(std::move(s));
  }
  return out;
}

std::optional<StudyRow> Store::FindStudy(const std::string& name) {
  for (StudyRow& s : Studies()) {
    if (s.name == name) return std::move(s);
  }
  return std::nullopt;
}

std::vector<TrialRow> Store::Trials(int64_t study, const std::string& state) {
  Statement st(this,
               "SELECT number, state, params, bracket, rung, epochs, "
               "attempts, value, best_value, checkpoint, checkpoint_epoch, "
               "error, worker, updated_at FROM trials WHERE study_id = ? "
               "AND (? = '' OR state = ?) ORDER BY number");
  st.Bind(study).Bind(state).Bind(state);
  std::vector<TrialRow> out;
  while (st.Step()) {
    TrialRow t;
    t.number = st.Int(0);
    t.state = TrialStateFromString(st.Text(1)).value_or(TrialState::kQueued);
    t.params = st.Json(2);
    t.bracket = static_cast<int>(st.Int(3));
    t.rung = static_cast<int>(st.Int(4));
    t.epochs = static_cast<int>(st.Int(5));
    t.attempts = static_cast<int>(st.Int(6));
    t.value = st.OptReal(7);
    t.best_value = st.OptReal(8);
    t.checkpoint = st.Text(9);
    t.checkpoint_epoch = static_cast<int>(st.Int(10));
    t.error = st.Text(11);
    t.worker = st.Text(12);
    t.updated_at = st.Real(13);
    out.push_back(std::move(t));
  }
  return out;
}

std::vector<MetricRow> Store::Metrics(int64_t study, int64_t trial) {
  Statement st(this,
               "SELECT trial, epoch, attempt_id, all_metrics, objective, "
               "recorded_at FROM metrics WHERE study_id = ? AND (? < 0 OR "
               "trial = ?) ORDER BY trial, epoch");
  st.Bind(study).Bind(trial).Bind(trial);
  std::vector<MetricRow> out;
  while (st.Step()) {
    MetricRow m;
    m.trial = st.Int(0);
    m.epoch = static_cast<int>(st.Int(1));
    m.attempt_id = st.Int(2);
    m.metrics = st.Json(3);
    m.objective = st.OptReal(4);
    m.recorded_at = st.Real(5);
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<AttemptRow> Store::Attempts(int64_t study, int64_t trial) {
  Statement st(this,
               "SELECT id, trial, attempt, lease, worker, from_epoch, "
               "to_epoch, state, reason, started_at, ended_at FROM attempts "
               "WHERE study_id = ? AND (? < 0 OR trial = ?) ORDER BY id");
  st.Bind(study).Bind(trial).Bind(trial);
  std::vector<AttemptRow> out;
  while (st.Step()) {
    AttemptRow a;
    a.id = st.Int(0);
    a.trial = st.Int(1);
    a.attempt = static_cast<int>(st.Int(2));
    a.lease = st.Int(3);
    a.worker = st.Text(4);
    a.from_epoch = static_cast<int>(st.Int(5));
    a.to_epoch = static_cast<int>(st.Int(6));
    a.state = st.Text(7);
    a.reason = st.Text(8);
    a.started_at = st.Real(9);
    a.ended_at = st.OptReal(10);
    out.push_back(std::move(a));
  }
  return out;
}

std::vector<std::string> Store::Events(int64_t study) {
  Statement st(this,
               "SELECT event FROM events WHERE study_id = ? ORDER BY seq");
  st.Bind(study);
  std::vector<std::string> out;
  while (st.Step()) out.push_back(st.Text(0));
  return out;
}

void Store::PutEvaluation(int64_t study, const EvaluationRow& row) {
  Begin();
  json confusion = row.confusion;
  json classes = row.classes;
  Prepared(kPutEvaluation,
           "INSERT OR REPLACE INTO evaluations(study_id, trial, split, "
           "state, error, checkpoint, epoch, loss, accuracy, track_accuracy, "
           "samples, tracks, metrics, confusion, classes, worker, "
           "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
           "?, ?, ?)")
      .Bind(study)
      .Bind(row.trial)
      .Bind(row.split)
      .Bind(row.state)
      .Bind(row.error)
      .Bind(row.checkpoint)
      .Bind(row.epoch)
      .Bind(row.loss)
      .Bind(row.accuracy)
      .Bind(row.track_accuracy)
      .Bind(row.samples)
      .Bind(row.tracks)
      .Bind(row.metrics.dump())
      .Bind(confusion.dump())
      .Bind(classes.dump())
      .Bind(row.worker)
      .Bind(row.recorded_at)
      .Run();
  ++pending_;
}

std::vector<EvaluationRow> Store::Evaluations(int64_t study) {
  std::vector<EvaluationRow> out;
  if (schema_version() < 2) return out;
  Statement st(this,
               "SELECT trial, split, state, error, checkpoint, epoch, loss, "
               "accuracy, track_accuracy, samples, tracks, metrics, "
               "confusion, classes, worker, recorded_at FROM evaluations "
               "WHERE study_id = ? ORDER BY trial, split");
  st.Bind(study);
  while (st.Step()) {
    EvaluationRow e;
    e.trial = st.Int(0);
    e.split = st.Text(1);
    e.state = st.Text(2);
    e.error = st.Text(3);
    e.checkpoint = st.Text(4);
    e.epoch = static_cast<int>(st.Int(5));
    e.loss = st.OptReal(6);
    e.accuracy = st.OptReal(7);
    e.track_accuracy = st.OptReal(8);
    e.samples = st.Int(9);
    e.tracks = st.Int(10);
    e.metrics = st.Json(11);
    if (!e.metrics.is_object()) e.metrics = json::object();
    json confusion = st.Json(12);
    if (confusion.is_array()) {
      for (const json& r : confusion) {
        std::vector<int64_t> row;
        if (r.is_array()) {
          for (const json& v : r) {
            row.push_back(v.is_number_integer() ? v.get<int64_t>() : 0);
          }
        }
        e.confusion.push_back(std::move(row));
      }
    }
    json classes = st.Json(13);
    if (classes.is_array()) {
      for (const json& c : classes) {
        e.classes.push_back(c.is_string() ? c.get<std::string>() : c.dump());
      }
    }
    e.worker = st.Text(14);
    e.recorded_at = st.Real(15);
    out.push_back(std::move(e));
  }
  return out;
}

std::string HashText(const std::string& text) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace hpo
