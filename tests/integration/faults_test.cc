// Disk and data faults with real processes: the results database on a disk
// that fills up mid-study or is read-only, a corrupt shard, and a worker
// whose --data lacks the study's shards. Each fault must give a clear error
// naming the file, lose nothing that was recorded, and leave the workers
// running. The disk tests mount a tmpfs and a read-only bind mount, so they
// need root and are skipped with the reason otherwise.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/store.h"
#include "tests/util/mounts.h"
#include "tests/util/process.h"
#include "tests/util/process_cluster.h"
#include "tests/util/scratch_dir.h"
#include "tests/util/skip.h"
#include "tests/util/study_checks.h"

namespace hpo {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testutil::Mount;
using testutil::Occurrences;
using testutil::Process;
using testutil::ReadFile;
using testutil::RunCommand;
using testutil::WaitFor;

json SyntheticStudy(const std::string& name, json algorithm,
                    double epoch_seconds) {
  return {
      {"name", name},
      {"seed", 11},
      {"objective", {{"metric", "val_accuracy"}, {"mode", "max"}}},
      {"trainer", {{"model", "synthetic"}, {"epoch_seconds", epoch_seconds}}},
      {"search_space",
       {{"lr", {{"type", "loguniform"}, {"low", 1e-5}, {"high", 1e-1}}},
        {"batch_size",
         {{"type", "int"}, {"low", 16}, {"high", 256}, {"log", true}}}}},
      {"algorithm", algorithm},
      {"execution",
       {{"max_attempts", 3}, {"heartbeat_s", 0.1}, {"lease_timeout_s", 3.0}}}};
}

json Hyperband27() {
  return {
      {"type", "hyperband"}, {"min_epochs", 1}, {"max_epochs", 27}, {"eta", 3}};
}

// A LibTorch study of a small cnn on the shards at data.shards "shards".
// About 20 ms per epoch on one CPU thread with batch_size 2.
json CnnStudy(const std::string& name, int max_trials, int max_epochs,
              int batch_size) {
  return {
      {"name", name},
      {"seed", 4},
      {"objective", {{"metric", "val_accuracy"}, {"mode", "max"}}},
      {"data", {{"shards", "shards"}}},
      {"trainer",
       {{"model", "cnn"},
        {"channels", {32, 64}},
        {"kernel_size", 3},
        {"padding", "same"},
        {"optimizer", "adam"},
        {"batch_size", batch_size}}},
      {"search_space",
       {{"lr", {{"type", "loguniform"}, {"low", 1e-3}, {"high", 1e-2}}}}},
      {"algorithm", {{"type", "random"}, {"max_epochs", max_epochs}}},
      {"budget", {{"max_trials", max_trials}}},
      {"execution",
       {{"max_attempts", 3}, {"heartbeat_s", 0.2}, {"lease_timeout_s", 20}}}};
}

// The last line of `text` that contains `needle`, or "".
std::string LineWith(const std::string& text, const std::string& needle) {
  std::string found;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find(needle) != std::string::npos) found = line;
  }
  return found;
}

// How many lines of `text` contain `needle`.
int LinesWith(const std::string& text, const std::string& needle) {
  int n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    n += line.find(needle) != std::string::npos;
  }
  return n;
}

// The bytes of every file in `dir`, by name.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file()) {
      files[entry.path().filename().string()] = ReadFile(entry.path().string());
    }
  }
  return files;
}

// PRAGMA integrity_check of the file at `db` ("ok" when it is sound).
std::string IntegrityCheck(const std::string& db) {
  sqlite3* conn = nullptr;
  std::string result = "cannot open";
  if (sqlite3_open_v2(db.c_str(), &conn, SQLITE_OPEN_READONLY, nullptr) ==
      SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(conn, "PRAGMA integrity_check", -1, &stmt,
                           nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      result = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    } else {
      result = sqlite3_errmsg(conn);
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(conn);
  return result;
}

class FaultsTest : public testutil::ProcessClusterTest {
 protected:
  FaultsTest() : ProcessClusterTest("hpo_faults") {}
  void TearDown() override {
    processes_.clear();
    mounts_.clear();  // Unmounted before the scratch directory goes.
    ProcessClusterTest::TearDown();
  }

  // Makes a small dataset's shards at DIR/data/shards: 2 classes of 10
  // tracks of 2 s, 2 segments of 16 mel bins x 16 frames per track.
  void MakeShards() {
    auto r = RunCommand(
        {HPO_PREP, "synth", "--out", dir_ + "/synth", "--classes", "2",
         "--tracks-per-class", "10", "--seconds", "2", "--seed", "3"},
        dir_);
    ASSERT_EQ(r.code, 0) << r.err;
    r = PrepShards();
    ASSERT_EQ(r.code, 0) << r.err;
  }
  // The hpo-prep command that makes (or finishes) the shards.
  testutil::CommandResult PrepShards() {
    return RunCommand(
        {HPO_PREP, "fma", "--metadata", dir_ + "/synth/tracks.csv", "--audio",
         dir_ + "/synth/audio", "--out", dir_ + "/data/shards", "--n-mels",
         "16", "--frames", "16", "--segments", "2", "--min-seconds", "1"},
        dir_);
  }

  std::vector<std::unique_ptr<Mount>> mounts_;
};

// The disk holding the database fills up mid-study: the coordinator stops
// with one line naming the file and the cause, the file is sound, and after
// space is freed --resume finishes the study exactly as an undisturbed run.
TEST_F(FaultsTest, FullDiskStopsTheCoordinatorAndResumeLosesNothing) {
  std::string why;
  // 16 MiB: the database ends at about 240 KiB, but its WAL grows by a few
  // MiB while the coordinator runs (checkpoints only happen at exit today).
  std::unique_ptr<Mount> disk = Mount::Tmpfs(dir_, "disk", 16 << 20, &why);
  if (!disk)
    HPO_SKIP_UNLESS_REQUIRED("cannot mount a small tmpfs here: " + why);
  mounts_.push_back(std::move(disk));
  const std::string mnt = mounts_.back()->path();
  const std::string study =
      WriteStudy(SyntheticStudy("full", Hyperband27(), 0.02), "full.json");

  const std::string reference_db = dir_ + "/reference.db";
  {
    std::string endpoint;
    Process* c = StartCoordinator(study, reference_db, "tcp://127.0.0.1:*",
                                  false, &endpoint);
    StartWorker(endpoint, "r1", {"--slots", "2", "--exit-when-done"});
    StartWorker(endpoint, "r2", {"--slots", "2", "--exit-when-done"});
    ASSERT_EQ(c->Wait(60), 0) << c->log();
  }

  const std::string db = mnt + "/results.db";
  std::string endpoint;
  Process* first =
      StartCoordinator(study, db, "tcp://127.0.0.1:*", false, &endpoint);
  Process* w1 =
      StartWorker(endpoint, "w1", {"--slots", "2", "--exit-when-done"});
  Process* w2 =
      StartWorker(endpoint, "w2", {"--slots", "2", "--exit-when-done"});
  ASSERT_TRUE(WaitFor([&] { return testutil::CountMetrics(db) >= 40; }, 30))
      << first->log();
  const std::string filler = mnt + "/filler";
  const int64_t filled = Mount::FillUp(filler);
  const auto code = first->Wait(20);
  ASSERT_TRUE(code.has_value()) << "the coordinator went on with a full disk\n"
                                << first->log();
  EXPECT_EQ(*code, 1) << first->log();
  // One line says which file and why, and what to do.
  const std::string log = first->log();
  const std::string line = LineWith(log, "disk is full");
  EXPECT_NE(line.find(db), std::string::npos) << log;
  EXPECT_NE(line.find("resume"), std::string::npos) << log;
  EXPECT_EQ(LinesWith(log, "disk is full"), 1) << log;
  const int64_t saved = testutil::CountMetrics(db);
  EXPECT_GE(saved, 40);

  // Free the space: the file is sound and the study resumes where it was.
  fs::remove(filler);
  EXPECT_EQ(IntegrityCheck(db), "ok");
  std::string again;
  Process* second = StartCoordinator(study, db, endpoint, true, &again);
  ASSERT_EQ(second->Wait(60), 0) << second->log();
  EXPECT_NE(second->log().find("resuming study"), std::string::npos);
  EXPECT_EQ(w1->Wait(20), 0) << w1->log();
  EXPECT_EQ(w2->Wait(20), 0) << w2->log();
  EXPECT_EQ(IntegrityCheck(db), "ok");
  testutil::CheckConsistent(db, "full");
  testutil::ExpectSameOutcomes(db, reference_db, "full");
  std::printf(
      "full disk: the coordinator stopped (exit %d) after the %lld-byte "
      "filler took the last of a 16 MiB tmpfs, with %lld epoch metrics "
      "saved; after freeing space --resume finished it as an undisturbed "
      "run: \"%s\"\n",
      *code, static_cast<long long>(filled), static_cast<long long>(saved),
      line.c_str());
}

// A database on a read-only file system: resuming it, and starting a new
// one there, are refused with one line naming the file; nothing is written.
TEST_F(FaultsTest, ReadOnlyDatabaseIsRefusedAndLeftUntouched) {
  // DIR/db, seen read-only at `ro`: what a study writes to the first shows
  // in the second.
  const std::string data = dir_ + "/db";
  fs::create_directories(data);
  std::string why;
  std::unique_ptr<Mount> view =
      Mount::ReadOnlyView(data, dir_, "readonly", &why);
  if (!view)
    HPO_SKIP_UNLESS_REQUIRED("cannot make a read-only mount here: " + why);
  mounts_.push_back(std::move(view));
  const std::string ro = mounts_.back()->path();

  // An interrupted study, to resume.
  json spec =
      SyntheticStudy("ro", {{"type", "random"}, {"max_epochs", 20}}, 0.02);
  spec["budget"] = {{"max_trials", 20}};
  const std::string study = WriteStudy(spec, "ro.json");
  const std::string db = data + "/results.db";
  std::string endpoint;
  Process* c =
      StartCoordinator(study, db, "tcp://127.0.0.1:*", false, &endpoint);
  StartWorker(endpoint, "w", {"--slots", "2"});
  ASSERT_TRUE(WaitFor([&] { return testutil::CountMetrics(db) >= 5; }, 30));
  c->Signal(SIGTERM);
  ASSERT_EQ(c->Wait(10), 128 + SIGTERM) << c->log();
  processes_.clear();
  const std::map<std::string, std::string> before = Snapshot(data);

  // Resuming needs to write.
  auto r =
      RunCommand({HPO_COORDINATOR, "--study", study, "--db", ro + "/results.db",
                  "--bind", "tcp://127.0.0.1:*", "--resume"},
                 dir_);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(Occurrences(r.err, "\n"), 1) << r.err;
  EXPECT_NE(r.err.find(ro + "/results.db"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("read-only"), std::string::npos) << r.err;
  const std::string resume_error = r.err;
  const int resume_code = r.code;

  // So does a new database there.
  r = RunCommand({HPO_COORDINATOR, "--study", study, "--db", ro + "/new.db",
                  "--bind", "tcp://127.0.0.1:*"},
                 dir_);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(Occurrences(r.err, "\n"), 1) << r.err;
  EXPECT_NE(r.err.find(ro + "/new.db"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("writable"), std::string::npos) << r.err;

  // What was recorded there can still be read.
  auto q = RunCommand(
      {HPO_QUERY, "--db", ro + "/results.db", "studies", "--format", "csv"},
      dir_);
  EXPECT_EQ(q.code, 0) << q.err;
  EXPECT_NE(q.out.find("ro,"), std::string::npos) << q.out;

  EXPECT_EQ(Snapshot(data), before) << "the read-only files changed";
  EXPECT_FALSE(fs::exists(data + "/new.db"));
  std::printf(
      "read-only disk: --resume exits %d with \"%s\"; a new --db there exits "
      "%d with \"%s\"; no byte changed\n",
      resume_code, resume_error.substr(0, resume_error.size() - 1).c_str(),
      r.code, r.err.substr(0, r.err.size() - 1).c_str());
}

// One shard file with flipped bytes: each trial fails as "data" naming that
// file, at once (the only worker cannot read the data; none other could
// train it), and the worker stays up; once the file is repaired it trains
// the next study.
TEST_F(FaultsTest, CorruptShardFailsTheTrialNamingTheFileAndWorkerCarriesOn) {
  MakeShards();
  ASSERT_FALSE(HasFailure());
  const std::string shard = dir_ + "/data/shards/training-00000.features.npy";
  ASSERT_TRUE(fs::exists(shard));
  const std::string good = ReadFile(shard);
  {
    std::string bad = good;
    for (size_t i = bad.size() - 64; i < bad.size() - 32; ++i) bad[i] ^= 0x5a;
    std::ofstream(shard, std::ios::binary | std::ios::trunc) << bad;
  }
  const std::string db = dir_ + "/results.db";
  std::string endpoint;
  Process* first =
      StartCoordinator(WriteStudy(CnnStudy("corrupt", 2, 1, 8), "corrupt.json"),
                       db, "tcp://127.0.0.1:*", false, &endpoint);
  // No --exit-when-done: it waits for the next study.
  Process* worker = StartWorker(
      endpoint, "w",
      {"--data", dir_ + "/data", "--device", "cpu", "--threads", "1"});
  ASSERT_EQ(first->Wait(120), 0) << first->log();
  {
    auto store = Store::Open(db, true);
    const int64_t id = store->FindStudy("corrupt")->id;
    std::vector<TrialRow> trials = store->Trials(id);
    ASSERT_EQ(trials.size(), 2u);
    for (const TrialRow& t : trials) {
      EXPECT_EQ(ToString(t.state), "failed");
      EXPECT_EQ(t.error.rfind("data: ", 0), 0u) << t.error;
      EXPECT_NE(t.error.find(shard), std::string::npos) << t.error;
      EXPECT_NE(t.error.find("checksum"), std::string::npos) << t.error;
      EXPECT_LE(t.attempts, 1);  // Not retried.
    }
    std::printf("corrupt shard: trial error \"%s\"\n", trials[0].error.c_str());
  }
  EXPECT_FALSE(worker->Wait(0).has_value()) << worker->log();

  // Repaired as the README says: hpo-prep reuses a shard whose marker
  // (STEM.done.json) is there without checking its bytes, so the marker
  // goes first; the same command then rewrites that shard alone.
  fs::remove(dir_ + "/data/shards/training-00000.done.json");
  auto r = PrepShards();
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ReadFile(shard), good);
  r = RunCommand({HPO_PREP, "verify", "--shards", dir_ + "/data/shards"}, dir_);
  EXPECT_EQ(r.code, 0) << r.err;
  // The same worker process trains the next study.
  std::string again;
  Process* second = StartCoordinator(
      WriteStudy(CnnStudy("repaired", 2, 1, 8), "repaired.json"), db, endpoint,
      false, &again);
  ASSERT_EQ(second->Wait(120), 0) << second->log();
  auto store = Store::Open(db, true);
  for (const TrialRow& t : store->Trials(store->FindStudy("repaired")->id)) {
    EXPECT_EQ(ToString(t.state), "complete") << t.error;
  }
  EXPECT_EQ(Occurrences(worker->log(), "joined study"), 2) << worker->log();
  worker->Signal(SIGTERM);
  EXPECT_EQ(worker->Wait(20), 0) << worker->log();
}

// The only worker's --data does not exist: each trial it takes fails with a
// message naming the missing manifest (there is no other worker to retry it
// on), and it goes on taking trials to the end of the study.
TEST_F(FaultsTest, MissingDataDirectoryFailsItsTrialsAndWorkerCarriesOn) {
  const std::string db = dir_ + "/results.db";
  const std::string missing = dir_ + "/not-mounted";
  std::string endpoint;
  Process* coordinator =
      StartCoordinator(WriteStudy(CnnStudy("half", 6, 100, 2), "half.json"), db,
                       "tcp://127.0.0.1:*", false, &endpoint);
  Process* bare = StartWorker(endpoint, "bare",
                              {"--data", missing, "--device", "cpu",
                               "--threads", "1", "--exit-when-done"});
  ASSERT_EQ(coordinator->Wait(120), 0) << coordinator->log();
  EXPECT_EQ(bare->Wait(20), 0) << bare->log();

  auto store = Store::Open(db, true);
  const int64_t id = store->FindStudy("half")->id;
  int failed = 0;
  std::string error;
  for (const TrialRow& t : store->Trials(id)) {
    EXPECT_EQ(ToString(t.state), "failed");
    EXPECT_EQ(t.worker, "bare") << t.error;
    EXPECT_EQ(t.attempts, 1) << "a data failure is not retried on the worker "
                                "that has no data";
    EXPECT_EQ(t.error.rfind("data: ", 0), 0u) << t.error;
    EXPECT_NE(t.error.find(missing + "/shards/manifest.json does not exist"),
              std::string::npos)
        << t.error;
    ++failed;
    error = t.error;
  }
  EXPECT_GE(failed, 2) << "bare did not carry on after a failure";
  EXPECT_NE(coordinator->log().find("no connected worker can, so the job "
                                    "fails"),
            std::string::npos)
      << coordinator->log();
  EXPECT_TRUE(store->Evaluations(id).empty());
  std::printf(
      "missing data on the only worker: %d trials failed, each with \"%s\"\n",
      failed, error.c_str());
}

// The same worker beside one that has the shards: every trial completes on
// the one that has them. The first attempt on the other fails as "data"; from
// then on that worker is passed over (it stays in the study, idle).
TEST_F(FaultsTest, DataFailureOnOneWorkerIsRetriedOnAnother) {
  MakeShards();
  ASSERT_FALSE(HasFailure());
  const std::string db = dir_ + "/results.db";
  std::string endpoint;
  Process* coordinator =
      StartCoordinator(WriteStudy(CnnStudy("half", 6, 100, 2), "half.json"), db,
                       "tcp://127.0.0.1:*", false, &endpoint);
  Process* good = StartWorker(endpoint, "good",
                              {"--data", dir_ + "/data", "--device", "cpu",
                               "--threads", "1", "--exit-when-done"});
  // good first: a data failure is retried only while some connected worker
  // has not failed one.
  ASSERT_TRUE(WaitFor(
      [&] {
        return coordinator->log().find("worker good joined") !=
               std::string::npos;
      },
      30))
      << coordinator->log();
  Process* bare = StartWorker(endpoint, "bare",
                              {"--data", dir_ + "/not-mounted", "--device",
                               "cpu", "--threads", "1", "--exit-when-done"});
  ASSERT_EQ(coordinator->Wait(180), 0) << coordinator->log();
  EXPECT_EQ(good->Wait(20), 0) << good->log();
  EXPECT_EQ(bare->Wait(20), 0) << bare->log();
  auto store = Store::Open(db, true);
  const int64_t id = store->FindStudy("half")->id;
  for (const TrialRow& t : store->Trials(id)) {
    EXPECT_EQ(ToString(t.state), "complete") << t.number << ": " << t.error;
    EXPECT_EQ(t.worker, "good");
  }
  int data_failures = 0;
  for (const AttemptRow& a : store->Attempts(id)) {
    if (a.state != "failed") continue;
    EXPECT_EQ(a.worker, "bare");
    EXPECT_EQ(a.reason.rfind("data: ", 0), 0u) << a.reason;
    ++data_failures;
  }
  // bare is offered no trial of this study once it has failed one for want
  // of data (until it rejoins as a new session).
  EXPECT_LE(data_failures, 1);
  // Nor the evaluation of the best trial on the test split.
  std::vector<EvaluationRow> evaluations = store->Evaluations(id);
  ASSERT_EQ(evaluations.size(), 1u);
  EXPECT_EQ(evaluations[0].state, "done") << evaluations[0].error;
  EXPECT_EQ(evaluations[0].worker, "good");
  testutil::CheckConsistent(db, "half");
  std::printf(
      "missing data on one of two workers: %d attempt(s) failed on bare, all "
      "trials complete on good\n",
      data_failures);
}

}  // namespace
}  // namespace hpo
