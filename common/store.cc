#include "common/store.h"

#include <chrono>
#include <cmath>
#include <cstdio>

#include "common/error.h"
#include "common/random.h"
#include "common/store_internal.h"

namespace hpo {

using nlohmann::json;
using namespace store_internal;  // NOLINT(build/namespaces)

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

std::string HashText(const std::string& text) {
  const uint64_t h = Fnv1a64(text);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace hpo
