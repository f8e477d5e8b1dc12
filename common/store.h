// The results database: one SQLite file per set of studies (README.md, "Tables
// and views").
//
// The coordinator is the only writer. Writes are batched: the first write
// opens a transaction and Commit() (called by the coordinator's loop at most
// every few hundred milliseconds, and by Flush()) ends it, so thousands of
// epoch reports per second cost one fsync per batch, not one per row. A batch
// is atomic: after a crash the file holds a consistent prefix of what the
// coordinator did, which is what resuming needs. The file is in WAL mode, so
// readers (hpo-query, sqlite3, the report) never block the writer.
//
// Tables and views are documented in README.md ("Querying results").
// Errors (unreadable file, full disk, a file from a newer hpo) are thrown as
// hpo::Error naming the file.
#ifndef HPO_COMMON_STORE_H_
#define HPO_COMMON_STORE_H_

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/trial_state.h"

struct sqlite3;

namespace hpo {

// The schema version this build writes. Older files are migrated on open;
// newer ones are refused.
constexpr int kSchemaVersion = 4;

struct StudyRow {
  int64_t id = 0;
  std::string name;
  std::string spec;  // The study file's text, as given.
  std::string spec_hash;
  std::string algorithm;
  std::string metric;
  std::string mode;       // "min" or "max".
  std::string state;      // running, complete, interrupted, time_limit.
  double created_at = 0;  // Unix seconds.
  double updated_at = 0;
  double elapsed_s = 0;  // Time spent running, over all sessions.
};

struct TrialRow {
  int64_t number = 0;
  TrialState state = TrialState::kQueued;
  nlohmann::json params = nlohmann::json::object();
  int bracket = 0;
  int rung = 0;
  int epochs = 0;                    // Epochs completed.
  int attempts = 0;                  // Attempts started.
  std::optional<double> value;       // Objective at the last epoch.
  std::optional<double> best_value;  // Best objective over its epochs.
  std::string checkpoint;            // Latest checkpoint path, if any.
  int checkpoint_epoch = 0;          // Epochs the checkpoint holds.
  // trainer.keep "best": the checkpoint of its best epoch, and that epoch
  // (version 4; empty and 0 otherwise).
  std::string best_checkpoint;
  int best_checkpoint_epoch = 0;
  std::string error;   // Why it failed, if it did.
  std::string worker;  // Worker of the latest attempt.
  double updated_at = 0;
};

struct MetricRow {
  int64_t trial = 0;
  int epoch = 0;
  int64_t attempt_id = 0;
  nlohmann::json metrics = nlohmann::json::object();  // name -> number|null
  std::optional<double> objective;
  double recorded_at = 0;
};

struct AttemptRow {
  int64_t id = 0;
  int64_t trial = 0;
  int attempt = 0;
  int64_t lease = 0;
  std::string worker;
  int from_epoch = 0;
  int to_epoch = 0;
  std::string state;  // running, done, pruned, lost, failed, interrupted.
  std::string reason;
  double started_at = 0;
  std::optional<double> ended_at;
};

// The best trial's checkpoint evaluated on a held-out split when the study
// ends (version 2).
struct EvaluationRow {
  int64_t trial = 0;
  std::string split = "test";
  std::string state;       // done or failed.
  std::string error;       // Why it failed, if it did.
  std::string checkpoint;  // What was evaluated.
  int epoch = 0;           // Epochs that checkpoint holds.
  std::optional<double> loss;
  std::optional<double> accuracy;        // Over segments.
  std::optional<double> track_accuracy;  // A track's segments summed.
  int64_t samples = 0;
  int64_t tracks = 0;
  // Every number the worker reported (the three above included).
  nlohmann::json metrics = nlohmann::json::object();
  // confusion[true class][predicted class], counts over segments; empty
  // when failed.
  std::vector<std::vector<int64_t>> confusion;
  std::vector<std::string> classes;  // Class names, in label order.
  std::string worker;
  double recorded_at = 0;
};

// One PBT exploit (README "Population-based training"): after `epoch`
// epochs, `trial` took `parent`'s checkpoint from after `parent_epoch`
// epochs and continues with `new_params` instead of `old_params`
// (version 3).
struct ExploitRow {
  int64_t trial = 0;
  int epoch = 0;
  int64_t parent = 0;
  int parent_epoch = 0;
  nlohmann::json old_params = nlohmann::json::object();
  nlohmann::json new_params = nlohmann::json::object();
  double recorded_at = 0;
};

// A PBT member's checkpoint at an interval boundary, kept while another
// member may copy it (version 3).
struct CheckpointRow {
  int64_t trial = 0;
  int epoch = 0;  // Epochs it holds.
  std::string path;
};

// How a writer's Commit() survives a power cut (SQLite's synchronous mode;
// the file is in WAL mode either way, and a crash of the process alone loses
// nothing committed with either).
enum class Durability {
  // synchronous=NORMAL: a commit does not wait for the disk; a power cut or
  // OS crash can lose the last commits since the WAL was synced (the
  // checkpointer syncs it), never corrupt the file. The default.
  kNormal,
  // synchronous=FULL: every commit waits for an fsync of the WAL.
  kFull,
};

class Store {
 public:
  // Opens (creating if needed) the database at `path`, migrating an older
  // schema. ":memory:" gives a private in-memory database. `read_only`
  // opens an existing file without writing to it (for queries); it then
  // refuses files it would have to migrate. `durability` applies to a
  // writer.
  static std::unique_ptr<Store> Open(
      const std::string& path, bool read_only = false,
      Durability durability = Durability::kNormal);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const { return path_; }
  int schema_version() const;

  // --- Writes (batched; visible to other connections after Commit()) ---
  int64_t CreateStudy(const StudyRow& study);
  void UpdateStudy(int64_t study, const std::string& state, double elapsed_s,
                   double now);
  // Inserts or replaces the trial row (and its parameters).
  void PutTrial(int64_t study, const TrialRow& trial);
  void AddStateChange(int64_t study, int64_t trial, TrialState state, int epoch,
                      double now);
  // Returns the attempt's id.
  int64_t AddAttempt(int64_t study, const AttemptRow& attempt);
  void UpdateAttemptTarget(int64_t attempt_id, int to_epoch);
  void EndAttempt(int64_t attempt_id, const std::string& state,
                  const std::string& reason, double now);
  // Inserts or replaces the metrics of (trial, epoch).
  void PutMetrics(int64_t study, const MetricRow& row);
  // Deletes metrics of `trial` after `epoch`, and its exploits after
  // `epoch` (a job restarts from there: what came later is redone). An
  // exploit at `epoch` itself stays: the restarted job runs with its
  // parameters.
  void DeleteMetricsAfter(int64_t study, int64_t trial, int epoch);
  // Appends scheduler event number `seq` (0, 1, 2...).
  void AddEvent(int64_t study, int64_t seq, const std::string& event_json);
  int64_t AddWorker(const std::string& name, const std::string& host,
                    const nlohmann::json& devices, int slots, int64_t pid,
                    double now);
  void UpdateWorker(int64_t worker_id, const std::string& state, double now);
  // Inserts or replaces the evaluation of (trial, split).
  void PutEvaluation(int64_t study, const EvaluationRow& row);
  // Inserts or replaces the exploit of (trial, epoch); the lineage view's
  // `changed` column is computed here (ChangedParams).
  void AddExploit(int64_t study, const ExploitRow& row);
  // A PBT member's checkpoint at an interval boundary, kept while another
  // member may copy it (the coordinator deletes the row when it forgets the
  // file). Inserts or replaces the row of (trial, epoch).
  void PutCheckpoint(int64_t study, int64_t trial, int epoch,
                     const std::string& path);
  // Deletes the row of (trial, epoch), if any.
  void DeleteCheckpoint(int64_t study, int64_t trial, int epoch);

  // Ends the open transaction, if any. Throws hpo::Error if the disk refuses
  // (then nothing of the batch is written).
  void Commit();
  // Writes since the last Commit().
  int64_t pending_writes() const { return pending_; }

  // --- Reads (see committed data and this connection's open batch) ---

  // Makes the reads that follow see one snapshot: the database as it was at
  // the first read, whatever the writer commits meanwhile (WAL), until the
  // store is closed. For readers that combine several queries (hpo-query,
  // hpo-report).
  void BeginSnapshot() { Begin(); }

  std::vector<StudyRow> Studies();
  std::optional<StudyRow> FindStudy(const std::string& name);
  // Trials of a study by number; `state` filters when not empty.
  std::vector<TrialRow> Trials(int64_t study, const std::string& state = "");
  std::vector<MetricRow> Metrics(int64_t study, int64_t trial);
  std::vector<AttemptRow> Attempts(int64_t study, int64_t trial = -1);
  // Scheduler events in order.
  std::vector<std::string> Events(int64_t study);
  // Evaluations of the study's trials (none in a version 1 file).
  std::vector<EvaluationRow> Evaluations(int64_t study);
  // PBT exploits by trial, then epoch (none in a file before version 3).
  std::vector<ExploitRow> Exploits(int64_t study);
  // Checkpoints kept for PBT by trial, then epoch (none before version 3).
  std::vector<CheckpointRow> Checkpoints(int64_t study);

  // The prepared statement wrapper: defined in common/store_internal.h, for
  // the store's own files only.
  class Statement;

 private:
  Store(sqlite3* db, std::string path);
  void Exec(const std::string& sql);
  // Throws the hpo::Error for SQLite result code `rc`.
  [[noreturn]] void Fail(int rc, const char* what);
  void Migrate(bool read_only);
  void Begin();
  Statement& Prepared(int id, const char* sql);

  sqlite3* db_;
  std::string path_;
  bool in_transaction_ = false;
  int64_t pending_ = 0;
  std::vector<std::unique_ptr<Statement>> statements_;

  // Checkpoints the WAL into the database file from its own connection, so
  // that the writer's commits never wait for a checkpoint (copying pages and
  // an fsync: tens of milliseconds).
  void Checkpointer();
  std::thread checkpointer_;
  std::mutex checkpointer_mutex_;
  std::condition_variable checkpointer_wake_;
  bool stop_checkpointer_ = false;
};

// The parameters whose value differs between `old_params` and
// `new_params`, as {"lr": [old, new]}, in name order; a name only one side
// has pairs its value with null. Numbers compare by value (1 equals 1.0).
// What the lineage view's `changed` column holds.
nlohmann::json ChangedParams(const nlohmann::json& old_params,
                             const nlohmann::json& new_params);

// A stable fingerprint of a study file's contents (hex).
std::string HashText(const std::string& text);

}  // namespace hpo

#endif  // HPO_COMMON_STORE_H_
