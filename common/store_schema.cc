#include <chrono>
#include <cmath>
#include <cstdio>

#include "common/error.h"
#include "common/store_internal.h"

namespace hpo {

using nlohmann::json;
using namespace store_internal;  // NOLINT(build/namespaces)

namespace store_internal {

// Version 1. Every timestamp is Unix seconds (REAL). Parameters and metrics
// are also kept as JSON in the row that owns them, for tools that want the
// whole object.
const char* const kSchemaV1 = R"sql(
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
const char* const kSchemaV2 = R"sql(
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

// Version 3: population-based training. `exploits` holds each exploit (a
// member taking another's checkpoint and new parameters); `changed` is
// computed by the store when it writes the row (ChangedParams, store.h), so
// the lineage view needs no JSON functions. `checkpoints` lists the
// members' checkpoints that others may still copy.
const char* const kSchemaV3 = R"sql(
CREATE TABLE exploits(
  study_id INTEGER NOT NULL,
  trial INTEGER NOT NULL,
  epoch INTEGER NOT NULL,
  parent INTEGER NOT NULL,
  parent_epoch INTEGER NOT NULL,
  old_params TEXT NOT NULL,
  new_params TEXT NOT NULL,
  changed TEXT NOT NULL,
  recorded_at REAL NOT NULL,
  PRIMARY KEY (study_id, trial, epoch)) WITHOUT ROWID;
CREATE TABLE checkpoints(
  study_id INTEGER NOT NULL,
  trial INTEGER NOT NULL,
  epoch INTEGER NOT NULL,
  path TEXT NOT NULL,
  PRIMARY KEY (study_id, trial, epoch)) WITHOUT ROWID;
CREATE VIEW lineage AS
  SELECT s.name AS study, x.trial, x.epoch, x.parent, x.parent_epoch,
         x.old_params, x.new_params, x.changed, x.recorded_at
  FROM exploits x JOIN studies s ON s.id = x.study_id;
)sql";

// Version 4: trainer.keep "best". Each trial's best epoch's checkpoint,
// and the leaderboard ranks such studies by each trial's best value (the
// weights they keep) instead of the value at its last epoch.
const char* const kSchemaV4 = R"sql(
ALTER TABLE trials ADD COLUMN best_checkpoint TEXT;
ALTER TABLE trials ADD COLUMN best_checkpoint_epoch INTEGER NOT NULL DEFAULT 0;
DROP VIEW leaderboard;
CREATE VIEW leaderboard AS
  SELECT study, trial, state, value, best_value, epochs, params,
         RANK() OVER (PARTITION BY study_id ORDER BY
           state = 'complete' DESC,
           CASE mode WHEN 'max' THEN -kept ELSE kept END) AS rank
  FROM (SELECT s.id AS study_id, s.name AS study, s.mode, t.number AS trial,
               t.state, t.value, t.best_value, t.epochs, t.params,
               CASE WHEN json_extract(CASE WHEN json_valid(s.spec)
                                      THEN s.spec ELSE '{}' END,
                                 '$.trainer.keep') = 'best'
                    THEN t.best_value ELSE t.value END AS kept
        FROM trials t JOIN studies s ON s.id = t.study_id)
  WHERE kept IS NOT NULL;
)sql";

}  // namespace store_internal

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
    // Versions 2 and 3 only added tables (evaluations; exploits and
    // checkpoints), reads of an older file see no rows of them; version 4's
    // trial columns read as empty from an older file (store_reads.cc).
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
    if (version < 3) Exec(kSchemaV3);
    if (version < 4) Exec(kSchemaV4);
    Exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
    Exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

}  // namespace hpo
