#include "common/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "tests/util/process.h"
#include "tests/util/scratch_dir.h"

namespace hpo {
namespace {

using nlohmann::json;

// A directory that exists for the life of the object.
// A scratch directory named for this suite.
class ScratchDir : public testutil::ScratchDir {
 public:
  ScratchDir() : testutil::ScratchDir("hpo_store") {}
};

// Rows of a query on a raw SQLite connection, each column as text ("NULL"
// for null).
using Rows = std::vector<std::vector<std::string>>;

Rows Query(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  Rows rows;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) !=
      SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << path;
    sqlite3_close(db);
    return rows;
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
  } else {
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
        const unsigned char* t = sqlite3_column_text(stmt, c);
        row.push_back(t == nullptr ? "NULL" : reinterpret_cast<const char*>(t));
      }
      rows.push_back(std::move(row));
    }
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return rows;
}

// Runs `sql` on a raw read-write connection (creating the file).
void RawExec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

StudyRow MakeStudy(const std::string& name, const std::string& mode = "max") {
  StudyRow s;
  s.name = name;
  s.spec = R"({"name": ")" + name + R"("})";
  s.spec_hash = HashText(s.spec);
  s.algorithm = "random";
  s.metric = "val_accuracy";
  s.mode = mode;
  s.state = "running";
  s.created_at = 1000;
  s.updated_at = 1000;
  return s;
}

TrialRow MakeTrial(int64_t number, TrialState state,
                   std::optional<double> value, int epochs = 3) {
  TrialRow t;
  t.number = number;
  t.state = state;
  t.params = {{"lr", 0.01 * static_cast<double>(number + 1)},
              {"opt", "adam"},
              {"layers", 2},
              {"channels", {32, 64}}};
  t.epochs = epochs;
  t.attempts = 1;
  t.value = value;
  t.best_value = value;
  t.worker = "w1";
  t.updated_at = 1001;
  return t;
}

MetricRow MakeMetric(int64_t trial, int epoch, int64_t attempt_id,
                     double accuracy) {
  MetricRow m;
  m.trial = trial;
  m.epoch = epoch;
  m.attempt_id = attempt_id;
  m.metrics = {{"val_accuracy", accuracy},
               {"train_loss", 1.0 / epoch},
               {"custom", 7},
               {"missing", nullptr}};
  m.objective = accuracy;
  m.recorded_at = 2000 + epoch;
  return m;
}

// The behavioural suite runs on a file and on ":memory:".
class StoreTest : public testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    path_ = GetParam() ? dir_.path() + "/results.db" : ":memory:";
    store_ = Store::Open(path_);
  }

  ScratchDir dir_;
  std::string path_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreTest, NewDatabaseHasTheCurrentSchema) {
  EXPECT_EQ(store_->schema_version(), kSchemaVersion);
  EXPECT_EQ(store_->path(), path_);
  EXPECT_TRUE(store_->Studies().empty());
  EXPECT_EQ(store_->pending_writes(), 0);
}

TEST_P(StoreTest, CreatesAndUpdatesStudies) {
  int64_t a = store_->CreateStudy(MakeStudy("a"));
  int64_t b = store_->CreateStudy(MakeStudy("b", "min"));
  EXPECT_NE(a, b);
  EXPECT_GT(store_->pending_writes(), 0);
  store_->UpdateStudy(b, "complete", 12.5, 1500);
  std::vector<StudyRow> studies = store_->Studies();
  ASSERT_EQ(studies.size(), 2u);
  EXPECT_EQ(studies[0].name, "a");
  EXPECT_EQ(studies[0].id, a);
  EXPECT_EQ(studies[0].spec, MakeStudy("a").spec);
  EXPECT_EQ(studies[0].spec_hash, HashText(MakeStudy("a").spec));
  EXPECT_EQ(studies[0].algorithm, "random");
  EXPECT_EQ(studies[0].metric, "val_accuracy");
  EXPECT_EQ(studies[0].mode, "max");
  EXPECT_EQ(studies[0].state, "running");
  EXPECT_EQ(studies[0].created_at, 1000);
  std::optional<StudyRow> found = store_->FindStudy("b");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, b);
  EXPECT_EQ(found->mode, "min");
  EXPECT_EQ(found->state, "complete");
  EXPECT_EQ(found->elapsed_s, 12.5);
  EXPECT_EQ(found->updated_at, 1500);
  EXPECT_FALSE(store_->FindStudy("c").has_value());
}

TEST_P(StoreTest, StudyNamesAreUnique) {
  store_->CreateStudy(MakeStudy("a"));
  EXPECT_THROW(store_->CreateStudy(MakeStudy("a")), Error);
}

TEST_P(StoreTest, PutsAndReplacesTrials) {
  int64_t s = store_->CreateStudy(MakeStudy("s"));
  int64_t other = store_->CreateStudy(MakeStudy("other"));
  TrialRow t = MakeTrial(0, TrialState::kRunning, std::nullopt, 0);
  store_->PutTrial(s, t);
  store_->PutTrial(s, MakeTrial(1, TrialState::kQueued, std::nullopt, 0));
  store_->PutTrial(other, MakeTrial(0, TrialState::kFailed, std::nullopt, 0));

  t.state = TrialState::kComplete;
  t.epochs = 9;
  t.attempts = 2;
  t.value = 0.75;
  t.best_value = 0.8;
  t.bracket = 1;
  t.rung = 2;
  t.checkpoint = "/ck/0.pt";
  t.checkpoint_epoch = 9;
  t.error = "";
  t.worker = "w2";
  t.updated_at = 1234.5;
  store_->PutTrial(s, t);

  std::vector<TrialRow> trials = store_->Trials(s);
  ASSERT_EQ(trials.size(), 2u);
  const TrialRow& r = trials[0];
  EXPECT_EQ(r.number, 0);
  EXPECT_EQ(r.state, TrialState::kComplete);
  EXPECT_EQ(r.params, t.params);
  EXPECT_EQ(r.bracket, 1);
  EXPECT_EQ(r.rung, 2);
  EXPECT_EQ(r.epochs, 9);
  EXPECT_EQ(r.attempts, 2);
  EXPECT_EQ(r.value, 0.75);
  EXPECT_EQ(r.best_value, 0.8);
  EXPECT_EQ(r.checkpoint, "/ck/0.pt");
  EXPECT_EQ(r.checkpoint_epoch, 9);
  EXPECT_EQ(r.worker, "w2");
  EXPECT_EQ(r.updated_at, 1234.5);
  EXPECT_EQ(trials[1].number, 1);
  EXPECT_EQ(trials[1].state, TrialState::kQueued);
  EXPECT_FALSE(trials[1].value.has_value());

  ASSERT_EQ(store_->Trials(s, "complete").size(), 1u);
  EXPECT_EQ(store_->Trials(s, "queued").size(), 1u);
  EXPECT_TRUE(store_->Trials(s, "pruned").empty());
  ASSERT_EQ(store_->Trials(other).size(), 1u);
  EXPECT_EQ(store_->Trials(other)[0].state, TrialState::kFailed);
}

TEST_P(StoreTest, NonFiniteValuesAreStoredAsNull) {
  int64_t s = store_->CreateStudy(MakeStudy("s"));
  TrialRow t = MakeTrial(0, TrialState::kFailed, std::nan(""));
  t.best_value = std::numeric_limits<double>::infinity();
  t.error = "diverged: loss is NaN";
  store_->PutTrial(s, t);
  TrialRow r = store_->Trials(s).at(0);
  EXPECT_FALSE(r.value.has_value());
  EXPECT_FALSE(r.best_value.has_value());
  EXPECT_EQ(r.error, "diverged: loss is NaN");
}

TEST_P(StoreTest, AttemptsLifeCycle) {
  int64_t s = store_->CreateStudy(MakeStudy("s"));
  AttemptRow a;
  a.trial = 4;
  a.attempt = 1;
  a.lease = int64_t{1} << 62;
  a.worker = "w1";
  a.from_epoch = 0;
  a.to_epoch = 3;
  a.state = "running";
  a.started_at = 100;
  int64_t first = store_->AddAttempt(s, a);
  a.attempt = 2;
  a.lease = 17;
  a.worker = "w2";
  a.from_epoch = 3;
  a.to_epoch = 9;
  a.started_at = 200;
  int64_t second = store_->AddAttempt(s, a);
  a.trial = 5;
  a.attempt = 1;
  int64_t third = store_->AddAttempt(s, a);
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);

  store_->EndAttempt(first, "lost", "no heartbeat", 150);
  store_->UpdateAttemptTarget(second, 27);
  store_->EndAttempt(second, "done", "", 300);

  std::vector<AttemptRow> of4 = store_->Attempts(s, 4);
  ASSERT_EQ(of4.size(), 2u);
  EXPECT_EQ(of4[0].id, first);
  EXPECT_EQ(of4[0].trial, 4);
  EXPECT_EQ(of4[0].attempt, 1);
  EXPECT_EQ(of4[0].lease, int64_t{1} << 62);
  EXPECT_EQ(of4[0].worker, "w1");
  EXPECT_EQ(of4[0].to_epoch, 3);
  EXPECT_EQ(of4[0].state, "lost");
  EXPECT_EQ(of4[0].reason, "no heartbeat");
  EXPECT_EQ(of4[0].started_at, 100);
  EXPECT_EQ(of4[0].ended_at, 150);
  EXPECT_EQ(of4[1].from_epoch, 3);
  EXPECT_EQ(of4[1].to_epoch, 27);
  EXPECT_EQ(of4[1].state, "done");
  EXPECT_EQ(of4[1].ended_at, 300);

  std::vector<AttemptRow> all = store_->Attempts(s);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[2].id, third);
  EXPECT_EQ(all[2].state, "running");
  EXPECT_FALSE(all[2].ended_at.has_value());
  EXPECT_TRUE(store_->Attempts(s, 6).empty());
}

TEST_P(StoreTest, MetricsUpsertAndDeleteAfter) {
  int64_t s = store_->CreateStudy(MakeStudy("s"));
  for (int e = 1; e <= 5; ++e) store_->PutMetrics(s, MakeMetric(0, e, 1, e));
  for (int e = 1; e <= 2; ++e) store_->PutMetrics(s, MakeMetric(1, e, 2, -e));
  // A retry reports epoch 2 again: the row is replaced, not duplicated.
  store_->PutMetrics(s, MakeMetric(0, 2, 3, 0.25));

  std::vector<MetricRow> m0 = store_->Metrics(s, 0);
  ASSERT_EQ(m0.size(), 5u);
  EXPECT_EQ(m0[1].epoch, 2);
  EXPECT_EQ(m0[1].attempt_id, 3);
  EXPECT_EQ(m0[1].objective, 0.25);
  EXPECT_EQ(m0[1].metrics["val_accuracy"], 0.25);
  EXPECT_EQ(m0[0].metrics["custom"], 7);
  EXPECT_TRUE(m0[0].metrics["missing"].is_null());
  EXPECT_EQ(m0[4].recorded_at, 2005);
  EXPECT_EQ(store_->Metrics(s, -1).size(), 7u);

  MetricRow no_objective = MakeMetric(2, 1, 4, 0);
  no_objective.objective.reset();
  store_->PutMetrics(s, no_objective);
  EXPECT_FALSE(store_->Metrics(s, 2).at(0).objective.has_value());

  store_->DeleteMetricsAfter(s, 0, 2);
  m0 = store_->Metrics(s, 0);
  ASSERT_EQ(m0.size(), 2u);
  EXPECT_EQ(m0.back().epoch, 2);
  EXPECT_EQ(store_->Metrics(s, 1).size(), 2u) << "other trials untouched";
  store_->DeleteMetricsAfter(s, 1, 0);
  EXPECT_TRUE(store_->Metrics(s, 1).empty());

  // All trials, ordered by trial then epoch.
  std::vector<MetricRow> all = store_->Metrics(s, -1);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].trial, 0);
  EXPECT_EQ(all[2].trial, 2);
}

TEST_P(StoreTest, MetricsOfStudiesAreSeparate) {
  int64_t a = store_->CreateStudy(MakeStudy("a"));
  int64_t b = store_->CreateStudy(MakeStudy("b"));
  store_->PutMetrics(a, MakeMetric(0, 1, 1, 0.5));
  store_->PutMetrics(b, MakeMetric(0, 1, 1, 0.6));
  store_->DeleteMetricsAfter(a, 0, 0);
  EXPECT_TRUE(store_->Metrics(a, 0).empty());
  ASSERT_EQ(store_->Metrics(b, 0).size(), 1u);
  EXPECT_EQ(store_->Metrics(b, 0)[0].objective, 0.6);
}

TEST_P(StoreTest, EventsComeBackInSequenceOrder) {
  int64_t s = store_->CreateStudy(MakeStudy("s"));
  int64_t other = store_->CreateStudy(MakeStudy("other"));
  store_->AddEvent(s, 2, R"({"type":"epoch"})");
  store_->AddEvent(s, 0, R"({"type":"next"})");
  store_->AddEvent(other, 0, R"({"type":"other"})");
  store_->AddEvent(s, 1, R"({"type":"failed"})");
  EXPECT_EQ(store_->Events(s), (std::vector<std::string>{
                                   R"({"type":"next"})", R"({"type":"failed"})",
                                   R"({"type":"epoch"})"}));
  EXPECT_EQ(store_->Events(other).size(), 1u);
  // A sequence number is used once.
  EXPECT_THROW(store_->AddEvent(s, 1, "{}"), Error);
}

TEST_P(StoreTest, WorkersAndStateChangesAreBatched) {
  int64_t s = store_->CreateStudy(MakeStudy("s"));
  int64_t w1 =
      store_->AddWorker("w1", "node1", json::array({"cuda:0"}), 2, 4242, 10);
  int64_t w2 = store_->AddWorker("w2", "node2", json::array(), 1, 0, 11);
  EXPECT_NE(w1, w2);
  store_->UpdateWorker(w1, "lost", 20);
  store_->AddStateChange(s, 0, TrialState::kRunning, 0, 30);
  store_->AddStateChange(s, 0, TrialState::kComplete, 3, 31);
  EXPECT_GT(store_->pending_writes(), 0);
  store_->Commit();
  EXPECT_EQ(store_->pending_writes(), 0);
}

TEST_P(StoreTest, PendingWritesCountAndReset) {
  int64_t s = store_->CreateStudy(MakeStudy("s"));
  store_->AddEvent(s, 0, "{}");
  store_->PutMetrics(s, MakeMetric(0, 1, 1, 0.1));
  EXPECT_EQ(store_->pending_writes(), 3);
  store_->Commit();
  EXPECT_EQ(store_->pending_writes(), 0);
  store_->Commit();  // Nothing open: no-op.
  EXPECT_EQ(store_->Events(s).size(), 1u);
}

ExploitRow MakeExploit(int64_t trial, int epoch, int64_t parent) {
  ExploitRow x;
  x.trial = trial;
  x.epoch = epoch;
  x.parent = parent;
  x.parent_epoch = epoch;
  x.old_params = {{"lr", 0.01}, {"dropout", 0.3}, {"opt", "adam"}};
  x.new_params = {{"lr", 0.012}, {"dropout", 0.3}, {"opt", "sgd"}};
  x.recorded_at = 3000 + epoch;
  return x;
}

TEST_P(StoreTest, ExploitsRoundTripByTrialThenEpoch) {
  int64_t s = store_->CreateStudy(MakeStudy("s"));
  int64_t other = store_->CreateStudy(MakeStudy("other"));
  store_->AddExploit(s, MakeExploit(3, 8, 1));
  store_->AddExploit(s, MakeExploit(3, 4, 0));
  store_->AddExploit(s, MakeExploit(2, 8, 0));
  store_->AddExploit(other, MakeExploit(0, 4, 1));
  EXPECT_EQ(store_->pending_writes(), 6);
  std::vector<ExploitRow> rows = store_->Exploits(s);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].trial, 2);
  EXPECT_EQ(rows[1].trial, 3);
  EXPECT_EQ(rows[1].epoch, 4);
  EXPECT_EQ(rows[2].epoch, 8);
  const ExploitRow& x = rows[2];
  EXPECT_EQ(x.parent, 1);
  EXPECT_EQ(x.parent_epoch, 8);
  EXPECT_EQ(x.old_params, MakeExploit(3, 8, 1).old_params);
  EXPECT_EQ(x.new_params, MakeExploit(3, 8, 1).new_params);
  EXPECT_EQ(x.recorded_at, 3008);
  EXPECT_EQ(store_->Exploits(other).size(), 1u);
}

TEST_P(StoreTest, AnExploitReplacesTheOneOfItsTrialAndEpoch) {
  int64_t s = store_->CreateStudy(MakeStudy("s"));
  store_->AddExploit(s, MakeExploit(3, 4, 0));
  ExploitRow again = MakeExploit(3, 4, 2);
  again.parent_epoch = 2;
  again.new_params["lr"] = 0.5;
  store_->AddExploit(s, again);
  std::vector<ExploitRow> rows = store_->Exploits(s);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].parent, 2);
  EXPECT_EQ(rows[0].parent_epoch, 2);
  EXPECT_EQ(rows[0].new_params["lr"], 0.5);
}

TEST_P(StoreTest, CheckpointsArePutReplacedAndDeleted) {
  int64_t s = store_->CreateStudy(MakeStudy("s"));
  int64_t other = store_->CreateStudy(MakeStudy("other"));
  store_->PutCheckpoint(s, 1, 8, "s/trial-00001/epoch-0008.pt");
  store_->PutCheckpoint(s, 0, 4, "s/trial-00000/epoch-0004.pt");
  store_->PutCheckpoint(s, 1, 4, "old.pt");
  store_->PutCheckpoint(s, 1, 4, "s/trial-00001/epoch-0004.pt");
  store_->PutCheckpoint(other, 0, 4, "other.pt");
  std::vector<CheckpointRow> rows = store_->Checkpoints(s);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].trial, 0);
  EXPECT_EQ(rows[0].epoch, 4);
  EXPECT_EQ(rows[0].path, "s/trial-00000/epoch-0004.pt");
  EXPECT_EQ(rows[1].trial, 1);
  EXPECT_EQ(rows[1].epoch, 4);
  EXPECT_EQ(rows[1].path, "s/trial-00001/epoch-0004.pt");
  EXPECT_EQ(rows[2].epoch, 8);

  store_->DeleteCheckpoint(s, 1, 4);
  store_->DeleteCheckpoint(s, 7, 4);  // No such row: nothing happens.
  rows = store_->Checkpoints(s);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].epoch, 8);
  EXPECT_EQ(store_->Checkpoints(other).size(), 1u) << "other study untouched";
}

TEST_P(StoreTest, DeleteMetricsAfterDropsLaterExploitsToo) {
  int64_t s = store_->CreateStudy(MakeStudy("s"));
  for (int e = 4; e <= 12; e += 4) store_->AddExploit(s, MakeExploit(3, e, 0));
  store_->AddExploit(s, MakeExploit(2, 12, 0));
  store_->DeleteMetricsAfter(s, 3, 4);
  std::vector<ExploitRow> rows = store_->Exploits(s);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].trial, 2) << "other trials untouched";
  EXPECT_EQ(rows[1].trial, 3);
  EXPECT_EQ(rows[1].epoch, 4) << "the exploit the job restarts with stays";
}

TEST(ChangedParamsTest, OnlyTheValuesThatDiffer) {
  EXPECT_EQ(ChangedParams({{"lr", 0.01}, {"dropout", 0.3}, {"layers", 2}},
                          {{"lr", 0.012}, {"dropout", 0.3}, {"layers", 2.0}}),
            (json{{"lr", {0.01, 0.012}}}));
  EXPECT_EQ(
      ChangedParams({{"a", 1}, {"opt", "adam"}}, {{"b", true}, {"opt", "sgd"}}),
      (json{{"a", {1, nullptr}},
            {"b", {nullptr, true}},
            {"opt", {"adam", "sgd"}}}));
  EXPECT_EQ(ChangedParams(json::object(), json::object()), json::object());
  EXPECT_EQ(ChangedParams(nullptr, {{"lr", 1}}), (json{{"lr", {nullptr, 1}}}));
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, testing::Bool(),
                         [](const testing::TestParamInfo<bool>& info) {
                           return info.param ? "File" : "Memory";
                         });

// ---- File-only behaviour ----

class StoreFileTest : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    path_ = dir_.path() + "/results.db";
  }
  ScratchDir dir_;
  std::string path_;
};

TEST_F(StoreFileTest, ReadersSeeABatchOnlyAfterCommit) {
  auto writer = Store::Open(path_);
  int64_t s = writer->CreateStudy(MakeStudy("s"));
  writer->Commit();
  auto reader = Store::Open(path_, /*read_only=*/true);
  ASSERT_EQ(reader->Studies().size(), 1u);

  writer->PutTrial(s, MakeTrial(0, TrialState::kRunning, std::nullopt));
  writer->PutMetrics(s, MakeMetric(0, 1, 1, 0.5));
  writer->AddEvent(s, 0, "{}");
  EXPECT_EQ(writer->Trials(s).size(), 1u) << "the writer sees its own batch";
  EXPECT_TRUE(reader->Trials(s).empty());
  EXPECT_TRUE(reader->Metrics(s, -1).empty());
  EXPECT_TRUE(reader->Events(s).empty());
  EXPECT_TRUE(Query(path_, "SELECT * FROM trials").empty());

  writer->Commit();
  EXPECT_EQ(reader->Trials(s).size(), 1u);
  EXPECT_EQ(reader->Metrics(s, -1).size(), 1u);
  EXPECT_EQ(reader->Events(s).size(), 1u);
  EXPECT_EQ(Query(path_, "SELECT count(*) FROM trials"), (Rows{{"1"}}));
}

// Rows that only the tables show (the store has no reader for them), read
// through a second, raw connection to the file.
TEST_F(StoreFileTest, WorkersAndStateChangesAsWritten) {
  auto store = Store::Open(path_);
  int64_t s = store->CreateStudy(MakeStudy("s"));
  int64_t w1 =
      store->AddWorker("w1", "node1", json::array({"cuda:0"}), 2, 4242, 10);
  store->AddWorker("w2", "node2", json::array(), 1, 0, 11);
  store->UpdateWorker(w1, "lost", 20);
  store->AddStateChange(s, 0, TrialState::kRunning, 0, 30);
  store->AddStateChange(s, 0, TrialState::kComplete, 3, 31);
  store->Commit();
  EXPECT_EQ(
      Query(path_,
            "SELECT name, host, devices, slots, pid, state, "
            "connected_at, last_seen FROM workers ORDER BY id"),
      (Rows{
          {"w1", "node1", R"(["cuda:0"])", "2", "4242", "lost", "10.0", "20.0"},
          {"w2", "node2", "[]", "1", "0", "connected", "11.0", "11.0"}}));
  EXPECT_EQ(
      Query(path_, "SELECT trial, state, epoch FROM state_changes ORDER BY id"),
      (Rows{{"0", "running", "0"}, {"0", "complete", "3"}}));
}

TEST_F(StoreFileTest, ParamsAreWrittenOnceWithTheirTypes) {
  auto store = Store::Open(path_);
  int64_t s = store->CreateStudy(MakeStudy("s"));
  TrialRow t = MakeTrial(0, TrialState::kRunning, std::nullopt);
  t.params["flag"] = true;
  store->PutTrial(s, t);
  TrialRow changed = t;
  changed.params = {{"lr", 99.0}, {"other", 1}};
  changed.state = TrialState::kComplete;
  store->PutTrial(s, changed);
  store->Commit();
  EXPECT_EQ(Query(path_,
                  "SELECT name, value, typeof(value) FROM trial_params "
                  "WHERE trial = 0 ORDER BY name"),
            (Rows{{"channels", "[32,64]", "text"},
                  {"flag", "1", "integer"},
                  {"layers", "2", "integer"},
                  {"lr", "0.01", "real"},
                  {"opt", "adam", "text"}}));
}

TEST_F(StoreFileTest, FileIsInWalMode) {
  Store::Open(path_);
  EXPECT_EQ(Query(path_, "PRAGMA journal_mode"), (Rows{{"wal"}}));
}

TEST_F(StoreFileTest, ReopensAndReadsEverythingBack) {
  int64_t s;
  int64_t attempt;
  {
    auto store = Store::Open(path_);
    s = store->CreateStudy(MakeStudy("s"));
    for (int i = 0; i < 3; ++i) {
      store->PutTrial(s, MakeTrial(i, TrialState::kComplete, 0.1 * i));
    }
    AttemptRow a;
    a.trial = 0;
    a.attempt = 1;
    a.lease = 5;
    a.worker = "w";
    a.to_epoch = 3;
    a.state = "running";
    attempt = store->AddAttempt(s, a);
    store->EndAttempt(attempt, "done", "", 5);
    for (int e = 1; e <= 3; ++e) {
      store->PutMetrics(s, MakeMetric(0, e, attempt, 0.1 * e));
    }
    for (int i = 0; i < 4; ++i)
      store->AddEvent(s, i, "{\"i\":" + std::to_string(i) + "}");
    store->UpdateStudy(s, "complete", 3.5, 99);
    // No Commit(): closing the store saves the batch.
  }
  auto store = Store::Open(path_);
  EXPECT_EQ(store->schema_version(), kSchemaVersion);
  std::optional<StudyRow> study = store->FindStudy("s");
  ASSERT_TRUE(study.has_value());
  EXPECT_EQ(study->state, "complete");
  EXPECT_EQ(study->elapsed_s, 3.5);
  std::vector<TrialRow> trials = store->Trials(s);
  ASSERT_EQ(trials.size(), 3u);
  EXPECT_EQ(trials[2].value, 0.2);
  EXPECT_EQ(trials[2].params, MakeTrial(2, TrialState::kComplete, 0).params);
  ASSERT_EQ(store->Attempts(s).size(), 1u);
  EXPECT_EQ(store->Attempts(s)[0].state, "done");
  ASSERT_EQ(store->Metrics(s, 0).size(), 3u);
  EXPECT_EQ(store->Metrics(s, 0)[2].attempt_id, attempt);
  EXPECT_EQ(store->Events(s).size(), 4u);
  EXPECT_EQ(store->Events(s)[3], "{\"i\":3}");

  // Read-only opens see it too and do not write.
  auto reader = Store::Open(path_, true);
  EXPECT_EQ(reader->Trials(s).size(), 3u);
  EXPECT_THROW(reader->CreateStudy(MakeStudy("x")), Error);
}

TEST_F(StoreFileTest, TheWalIsCheckpointedWhileTheStoreIsOpen) {
  auto store = Store::Open(path_);
  const int64_t s = store->CreateStudy(MakeStudy("s"));
  store->Commit();
  const auto before = std::filesystem::file_size(path_);
  for (int batch = 0; batch < 5; ++batch) {
    for (int e = 1; e <= 400; ++e) {
      store->PutMetrics(s, MakeMetric(batch, e, 1, 0.001 * e));
    }
    store->Commit();
  }
  // The checkpointer copies the log into the file twice a second; without
  // it the file would not grow until the store closes.
  const bool grew = testutil::WaitFor(
      [&] { return std::filesystem::file_size(path_) > before + 64 * 1024; },
      5);
  EXPECT_TRUE(grew) << "database file still " << before << " bytes; WAL "
                    << std::filesystem::file_size(path_ + "-wal");
}

TEST_F(StoreFileTest, ReadOnlyOpenOfAMissingFileIsBadInput) {
  try {
    Store::Open(dir_.path() + "/absent.db", true);
    FAIL() << "opened a missing file";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kBadInput);
    EXPECT_NE(std::string(e.what()).find("absent.db"), std::string::npos);
  }
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "/absent.db"));
}

void ExpectRefused(const std::string& path, bool read_only,
                   const std::string& words) {
  try {
    Store::Open(path, read_only);
    ADD_FAILURE() << "opened " << path;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kBadInput) << e.what();
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
  }
}

TEST_F(StoreFileTest, RefusesANewerSchema) {
  Store::Open(path_);
  RawExec(path_, "PRAGMA user_version = " + std::to_string(kSchemaVersion + 1));
  ExpectRefused(path_, false, "newer");
  ExpectRefused(path_, true, "newer");
}

TEST_F(StoreFileTest, RefusesANonSqliteFile) {
  std::ofstream(path_) << std::string(4096, 'x') << "not a database\n";
  ExpectRefused(path_, false, "not an hpo results database");
  ExpectRefused(path_, true, "not an hpo results database");
  // A short text file too.
  std::string small = dir_.path() + "/small.db";
  std::ofstream(small) << "hello\n";
  ExpectRefused(small, false, "not an hpo results database");
}

TEST_F(StoreFileTest, RefusesAForeignSqliteFile) {
  RawExec(path_,
          "CREATE TABLE recipes(name TEXT); "
          "INSERT INTO recipes VALUES ('soup');");
  ExpectRefused(path_, false, "did not write");
  ExpectRefused(path_, true, "did not write");
  // The foreign file is left as it was.
  EXPECT_EQ(Query(path_, "SELECT name FROM recipes"), (Rows{{"soup"}}));
  EXPECT_EQ(Query(path_, "PRAGMA user_version"), (Rows{{"0"}}));
  EXPECT_EQ(Query(path_, "PRAGMA journal_mode"), (Rows{{"delete"}}));
}

TEST_F(StoreFileTest, ReadOnlyRefusesAFileThatNeedsMigrating) {
  RawExec(path_, "PRAGMA user_version = 0");  // An empty SQLite file.
  ExpectRefused(path_, true, "migrat");
  // A writable open migrates it.
  EXPECT_EQ(Store::Open(path_)->schema_version(), kSchemaVersion);
}

EvaluationRow MakeEvaluation(int64_t trial) {
  EvaluationRow e;
  e.trial = trial;
  e.state = "done";
  e.checkpoint = "s/trial-00002/epoch-0009.pt";
  e.epoch = 9;
  e.loss = 1.25;
  e.accuracy = 0.5;
  e.track_accuracy = 0.75;
  e.samples = 6;
  e.tracks = 2;
  e.metrics = {{"test_loss", 1.25}, {"test_accuracy", 0.5}};
  e.confusion = {{2, 1}, {2, 1}};
  e.classes = {"Rock", "Hip-Hop"};
  e.worker = "w1";
  e.recorded_at = 42;
  return e;
}

TEST_F(StoreFileTest, EvaluationsRoundTripAndShowInTheView) {
  {
    auto store = Store::Open(path_);
    int64_t s = store->CreateStudy(MakeStudy("s"));
    store->PutTrial(s, MakeTrial(2, TrialState::kComplete, 0.5));
    store->PutEvaluation(s, MakeEvaluation(2));
    EvaluationRow failed;
    failed.trial = 2;
    failed.split = "val";
    failed.state = "failed";
    failed.error = "data: no such split";
    store->PutEvaluation(s, failed);
  }
  auto store = Store::Open(path_, true);
  std::vector<EvaluationRow> rows = store->Evaluations(1);
  ASSERT_EQ(rows.size(), 2u);
  const EvaluationRow& e = rows[0];
  EXPECT_EQ(e.split, "test");
  EXPECT_EQ(e.state, "done");
  EXPECT_EQ(e.epoch, 9);
  EXPECT_EQ(e.loss, 1.25);
  EXPECT_EQ(e.track_accuracy, 0.75);
  EXPECT_EQ(e.samples, 6);
  EXPECT_EQ(e.confusion, (std::vector<std::vector<int64_t>>{{2, 1}, {2, 1}}));
  EXPECT_EQ(e.classes, (std::vector<std::string>{"Rock", "Hip-Hop"}));
  EXPECT_EQ(e.metrics["test_accuracy"], 0.5);
  EXPECT_EQ(rows[1].state, "failed");
  EXPECT_FALSE(rows[1].accuracy.has_value());
  EXPECT_TRUE(rows[1].confusion.empty());
  EXPECT_EQ(Query(path_,
                  "SELECT study, trial, split, accuracy FROM test_results "
                  "WHERE split = 'test'"),
            (Rows{{"s", "2", "test", "0.5"}}));
}

// Undoes version 4 (the trials' best checkpoints, the leaderboard ranking
// by the kept value), for files that stand for older versions.
constexpr char kUndoVersion4[] =
    "ALTER TABLE trials DROP COLUMN best_checkpoint; "
    "ALTER TABLE trials DROP COLUMN best_checkpoint_epoch; ";

TEST_F(StoreFileTest, MigratesAVersion1File) {
  {
    auto store = Store::Open(path_);
    int64_t s = store->CreateStudy(MakeStudy("old"));
    store->PutTrial(s, MakeTrial(0, TrialState::kComplete, 0.25));
  }
  // What version 1 wrote: everything but the evaluations (and what later
  // versions added).
  RawExec(path_, std::string(kUndoVersion4) +
                     "DROP VIEW test_results; DROP TABLE evaluations; "
                     "DROP VIEW lineage; DROP TABLE exploits; DROP TABLE "
                     "checkpoints; PRAGMA user_version = 1;");
  {
    // Reads of a version 1 file work and see no evaluations.
    auto reader = Store::Open(path_, true);
    EXPECT_EQ(reader->schema_version(), 1);
    EXPECT_EQ(reader->Trials(1).size(), 1u);
    EXPECT_TRUE(reader->Evaluations(1).empty());
    EXPECT_TRUE(reader->Exploits(1).empty());
  }
  {
    auto store = Store::Open(path_);
    EXPECT_EQ(store->schema_version(), kSchemaVersion);
    EXPECT_EQ(store->Trials(1).size(), 1u);
    store->PutEvaluation(1, MakeEvaluation(0));
    store->AddExploit(1, MakeExploit(0, 4, 1));
  }
  EXPECT_EQ(Store::Open(path_, true)->Evaluations(1).size(), 1u);
  EXPECT_EQ(Store::Open(path_, true)->Exploits(1).size(), 1u);
}

// What version 2 wrote: everything but the exploits, the checkpoints and
// the lineage view.
TEST_F(StoreFileTest, MigratesAVersion2File) {
  {
    auto store = Store::Open(path_);
    int64_t s = store->CreateStudy(MakeStudy("old"));
    store->PutTrial(s, MakeTrial(0, TrialState::kComplete, 0.25));
    store->PutEvaluation(s, MakeEvaluation(0));
  }
  RawExec(path_, std::string(kUndoVersion4) +
                     "DROP VIEW lineage; DROP TABLE exploits; DROP TABLE "
                     "checkpoints; PRAGMA user_version = 2;");
  {
    // Reads of a version 2 file work and see no exploits or checkpoints.
    auto reader = Store::Open(path_, true);
    EXPECT_EQ(reader->schema_version(), 2);
    EXPECT_EQ(reader->Trials(1).size(), 1u);
    EXPECT_EQ(reader->Evaluations(1).size(), 1u);
    EXPECT_TRUE(reader->Exploits(1).empty());
    EXPECT_TRUE(reader->Checkpoints(1).empty());
  }
  EXPECT_EQ(Query(path_, "PRAGMA user_version"), (Rows{{"2"}}))
      << "a read-only open does not migrate";
  {
    auto store = Store::Open(path_);
    EXPECT_EQ(store->schema_version(), kSchemaVersion);
    EXPECT_EQ(store->Trials(1).size(), 1u);
    EXPECT_EQ(store->Evaluations(1).size(), 1u);
    store->AddExploit(1, MakeExploit(0, 4, 1));
    store->PutCheckpoint(1, 1, 4, "old/trial-00001/epoch-0004.pt");
  }
  EXPECT_EQ(Query(path_, "PRAGMA user_version"),
            (Rows{{std::to_string(kSchemaVersion)}}));
  auto reader = Store::Open(path_, true);
  EXPECT_EQ(reader->Exploits(1).size(), 1u);
  EXPECT_EQ(reader->Checkpoints(1).size(), 1u);
  EXPECT_EQ(
      Query(path_, "SELECT study, trial, changed FROM lineage"),
      (Rows{{"old", "0", R"({"lr":[0.01,0.012],"opt":["adam","sgd"]})"}}));
}

// What version 3 wrote: everything but the trials' best checkpoints.
TEST_F(StoreFileTest, MigratesAVersion3File) {
  {
    auto store = Store::Open(path_);
    int64_t s = store->CreateStudy(MakeStudy("old"));
    store->PutTrial(s, MakeTrial(0, TrialState::kComplete, 0.25));
  }
  RawExec(path_, std::string(kUndoVersion4) + "PRAGMA user_version = 3;");
  {
    // Reads of a version 3 file work; its trials have no best checkpoint.
    auto reader = Store::Open(path_, true);
    EXPECT_EQ(reader->schema_version(), 3);
    ASSERT_EQ(reader->Trials(1).size(), 1u);
    EXPECT_EQ(reader->Trials(1)[0].best_checkpoint, "");
  }
  {
    auto store = Store::Open(path_);
    EXPECT_EQ(store->schema_version(), 4);
    TrialRow t = MakeTrial(0, TrialState::kComplete, 0.25);
    t.best_checkpoint = "old/trial-00000/best.pt";
    t.best_checkpoint_epoch = 2;
    store->PutTrial(1, t);
  }
  auto reader = Store::Open(path_, true);
  ASSERT_EQ(reader->Trials(1).size(), 1u);
  EXPECT_EQ(reader->Trials(1)[0].best_checkpoint, "old/trial-00000/best.pt");
  EXPECT_EQ(reader->Trials(1)[0].best_checkpoint_epoch, 2);
}

// trainer.keep "best": the leaderboard ranks by each trial's best value.
TEST_F(StoreFileTest, LeaderboardOfAKeepBestStudyRanksByBestValue) {
  {
    auto store = Store::Open(path_);
    StudyRow study = MakeStudy("kept");
    study.spec = R"({"name": "kept", "trainer": {"keep": "best"}})";
    study.spec_hash = HashText(study.spec);
    int64_t s = store->CreateStudy(study);
    TrialRow peaked = MakeTrial(0, TrialState::kComplete, 0.5);
    peaked.best_value = 0.9;  // Its best epoch beats trial 1's last.
    store->PutTrial(s, peaked);
    store->PutTrial(s, MakeTrial(1, TrialState::kComplete, 0.7));
    // A study file that is not JSON ranks by the last value.
    StudyRow odd = MakeStudy("odd");
    odd.spec = "not json";
    odd.spec_hash = HashText(odd.spec);
    int64_t o = store->CreateStudy(odd);
    store->PutTrial(o, peaked);
    store->PutTrial(o, MakeTrial(1, TrialState::kComplete, 0.7));
  }
  EXPECT_EQ(Query(path_,
                  "SELECT study, trial, rank FROM leaderboard "
                  "ORDER BY study, rank"),
            (Rows{{"kept", "0", "1"},
                  {"kept", "1", "2"},
                  {"odd", "1", "1"},
                  {"odd", "0", "2"}}));
}

TEST_F(StoreFileTest, LineageViewShowsEachExploitWithWhatChanged) {
  {
    auto store = Store::Open(path_);
    store->CreateStudy(MakeStudy("other"));
    int64_t s = store->CreateStudy(MakeStudy("pbt"));
    store->AddExploit(s, MakeExploit(3, 8, 1));
    ExploitRow same = MakeExploit(2, 4, 0);
    same.new_params = same.old_params;  // Exploit without explore.
    store->AddExploit(s, same);
  }
  EXPECT_EQ(Query(path_,
                  "SELECT study, trial, epoch, parent, parent_epoch, "
                  "old_params, new_params, changed, recorded_at FROM lineage "
                  "ORDER BY trial"),
            (Rows{{"pbt", "2", "4", "0", "4",
                   R"({"dropout":0.3,"lr":0.01,"opt":"adam"})",
                   R"({"dropout":0.3,"lr":0.01,"opt":"adam"})", "{}", "3004.0"},
                  {"pbt", "3", "8", "1", "8",
                   R"({"dropout":0.3,"lr":0.01,"opt":"adam"})",
                   R"({"dropout":0.3,"lr":0.012,"opt":"sgd"})",
                   R"({"lr":[0.01,0.012],"opt":["adam","sgd"]})", "3008.0"}}));
}

TEST_F(StoreFileTest, ViewsSummariseResults) {
  {
    auto store = Store::Open(path_);
    int64_t s = store->CreateStudy(MakeStudy("max_study", "max"));
    store->PutTrial(s, MakeTrial(0, TrialState::kComplete, 0.5));
    store->PutTrial(s, MakeTrial(1, TrialState::kComplete, 0.9));
    store->PutTrial(s, MakeTrial(2, TrialState::kComplete, 0.7));
    store->PutTrial(s, MakeTrial(3, TrialState::kPruned, 0.95, 1));
    store->PutTrial(s, MakeTrial(4, TrialState::kFailed, std::nullopt, 0));
    store->PutTrial(s, MakeTrial(5, TrialState::kRunning, 0.2, 1));
    int64_t m = store->CreateStudy(MakeStudy("min_study", "min"));
    store->PutTrial(m, MakeTrial(0, TrialState::kComplete, 0.5));
    store->PutTrial(m, MakeTrial(1, TrialState::kComplete, 0.1));
    store->CreateStudy(MakeStudy("empty_study"));

    AttemptRow a;
    a.trial = 1;
    a.attempt = 2;
    a.lease = 9;
    a.worker = "gpu7";
    a.to_epoch = 3;
    a.state = "done";
    int64_t attempt = store->AddAttempt(s, a);
    for (int e = 1; e <= 3; ++e) {
      store->PutMetrics(s, MakeMetric(1, e, attempt, 0.3 * e));
    }
  }
  EXPECT_EQ(Query(path_,
                  "SELECT trial, state, rank FROM leaderboard "
                  "WHERE study = 'max_study' ORDER BY rank"),
            (Rows{{"1", "complete", "1"},
                  {"2", "complete", "2"},
                  {"0", "complete", "3"},
                  {"3", "pruned", "4"},
                  {"5", "running", "5"}}));
  EXPECT_EQ(Query(path_,
                  "SELECT trial, rank FROM leaderboard "
                  "WHERE study = 'min_study' ORDER BY rank"),
            (Rows{{"1", "1"}, {"0", "2"}}));
  EXPECT_EQ(Query(path_,
                  "SELECT study, state, algorithm, metric, mode, trials, "
                  "complete, pruned, failed, unfinished, epochs, best_value "
                  "FROM study_summary ORDER BY study"),
            (Rows{{"empty_study", "running", "random", "val_accuracy", "max",
                   "0", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL"},
                  {"max_study", "running", "random", "val_accuracy", "max", "6",
                   "3", "1", "1", "1", "11", "0.95"},
                  {"min_study", "running", "random", "val_accuracy", "min", "2",
                   "2", "0", "0", "0", "6", "0.1"}}));
  EXPECT_EQ(Query(path_,
                  "SELECT study, trial, epoch, round(objective, 6), attempt, "
                  "worker FROM epoch_metrics ORDER BY epoch"),
            (Rows{{"max_study", "1", "1", "0.3", "2", "gpu7"},
                  {"max_study", "1", "2", "0.6", "2", "gpu7"},
                  {"max_study", "1", "3", "0.9", "2", "gpu7"}}));
  EXPECT_EQ(Query(path_,
                  "SELECT val_accuracy IS NOT NULL, train_loss "
                  "FROM epoch_metrics WHERE epoch = 2"),
            (Rows{{"1", "0.5"}}));
}

TEST(StoreHashTest, HashIsStableAndSensitive) {
  EXPECT_EQ(HashText("abc"), HashText("abc"));
  EXPECT_NE(HashText("abc"), HashText("abd"));
  EXPECT_EQ(HashText("").size(), 16u);
  EXPECT_EQ(HashText(""), "cbf29ce484222325");  // FNV-1a offset basis.
}

}  // namespace
}  // namespace hpo
