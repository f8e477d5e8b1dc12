// TestEvaluation on its own: one attempt at a time, retries, stale reports,
// the rows it hands back, and the heartbeat safety net.
#include "coordinator/test_evaluation.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "tests/util/fake_clock.h"

namespace hpo {
namespace {

using nlohmann::json;

class TestEvaluationTest : public ::testing::Test {
 protected:
  TestEvaluation Make(int max_attempts) {
    return TestEvaluation(
        {"genres", 7, json{{"lr", 0.01}}, 9, "genres/trial-7/epoch-9.pt"},
        max_attempts, clock_,
        [this](const std::string& line) { log_.push_back(line); });
  }
  // The worker's report of lease `lease` for trial 7.
  static json Report(int64_t lease, int64_t trial = 7) {
    return {{"lease", lease},
            {"trial", trial},
            {"split", "test"},
            {"metrics",
             {{"test_loss", 1.25},
              {"test_accuracy", 0.5},
              {"test_track_accuracy", 0.625},
              {"samples", 40},
              {"tracks", 8},
              {"extra", "not a number"}}},
            {"confusion", {{3, 1}, {2, 2}}},
            {"classes", {"Rock", "Jazz"}}};
  }

  FakeClock clock_;
  std::vector<std::string> log_;
};

TEST_F(TestEvaluationTest, StartAsksForTheTrialOnTheTestSplit) {
  TestEvaluation e = Make(3);
  EXPECT_TRUE(e.waiting());
  EXPECT_EQ(e.trial(), 7);
  Message m = e.Start("id-a", "a", 41);
  EXPECT_EQ(m.type, MessageType::kEvaluate);
  EXPECT_EQ(m.body["lease"], 41);
  EXPECT_EQ(m.body["trial"], 7);
  EXPECT_EQ(m.body["study"], "genres");
  EXPECT_EQ(m.body["params"], (json{{"lr", 0.01}}));
  EXPECT_EQ(m.body["epoch"], 9);
  EXPECT_EQ(m.body["checkpoint"], "genres/trial-7/epoch-9.pt");
  EXPECT_EQ(m.body["split"], "test");
  EXPECT_FALSE(e.waiting());
  EXPECT_TRUE(e.RunsOn("id-a"));
  EXPECT_FALSE(e.RunsOn("id-b"));
  EXPECT_TRUE(e.Owns("id-a", 41));
  EXPECT_FALSE(e.Owns("id-a", 42));
}

TEST_F(TestEvaluationTest, AReportBecomesTheDoneRow) {
  TestEvaluation e = Make(3);
  e.Start("id-a", "a", 41);
  std::optional<EvaluationRow> row = e.OnResult("id-a", Report(41));
  ASSERT_TRUE(row);
  EXPECT_EQ(row->trial, 7);
  EXPECT_EQ(row->split, "test");
  EXPECT_EQ(row->state, "done");
  EXPECT_EQ(row->checkpoint, "genres/trial-7/epoch-9.pt");
  EXPECT_EQ(row->epoch, 9);
  EXPECT_EQ(row->loss, 1.25);
  EXPECT_EQ(row->accuracy, 0.5);
  EXPECT_EQ(row->track_accuracy, 0.625);
  EXPECT_EQ(row->samples, 40);
  EXPECT_EQ(row->tracks, 8);
  EXPECT_EQ(row->metrics["extra"], "not a number");
  EXPECT_EQ(row->confusion,
            (std::vector<std::vector<int64_t>>{{3, 1}, {2, 2}}));
  EXPECT_EQ(row->classes, (std::vector<std::string>{"Rock", "Jazz"}));
  EXPECT_EQ(row->worker, "a");
  EXPECT_EQ(row->recorded_at, clock_.WallTime());
  ASSERT_FALSE(log_.empty());
  EXPECT_NE(log_.back().find(
                "trial 7 (after epoch 9) on the test split: loss 1.2500"),
            std::string::npos)
      << log_.back();
}

TEST_F(TestEvaluationTest, StaleReportsAreNotRows) {
  TestEvaluation e = Make(3);
  EXPECT_FALSE(e.OnResult("id-a", Report(41)));  // Nothing runs.
  e.Start("id-a", "a", 41);
  EXPECT_FALSE(e.OnResult("id-b", Report(41)));     // Another worker.
  EXPECT_FALSE(e.OnResult("id-a", Report(40)));     // An earlier lease.
  EXPECT_FALSE(e.OnResult("id-a", Report(41, 8)));  // Another trial.
  EXPECT_FALSE(e.waiting());
  EXPECT_TRUE(e.OnResult("id-a", Report(41)));
}

TEST_F(TestEvaluationTest, RetryableFailuresAreRetriedUntilAttemptsRunOut) {
  TestEvaluation e = Make(2);
  e.Start("id-a", "a", 41);
  EXPECT_FALSE(e.OnFailure("error", "the GPU fell off"));  // Retry.
  EXPECT_TRUE(e.waiting());
  EXPECT_FALSE(e.RunsOn("id-a"));
  EXPECT_FALSE(e.OnResult("id-a", Report(41)));  // The failed attempt.
  e.Start("id-b", "b", 42);
  std::optional<EvaluationRow> row = e.OnFailure("error", "again");
  ASSERT_TRUE(row);
  EXPECT_EQ(row->state, "failed");
  EXPECT_EQ(row->error, "error: again");
  EXPECT_EQ(row->worker, "b");
  EXPECT_EQ(row->trial, 7);
  EXPECT_EQ(row->checkpoint, "genres/trial-7/epoch-9.pt");
  EXPECT_EQ(row->epoch, 9);
  EXPECT_TRUE(row->confusion.empty());
}

TEST_F(TestEvaluationTest, FailuresThatWouldHappenAnywhereAreRecordedAtOnce) {
  for (const char* kind : {"config", "oom", "diverged", "data"}) {
    TestEvaluation e = Make(5);
    e.Start("id-a", "a", 41);
    std::optional<EvaluationRow> row = e.OnFailure(kind, "no");
    ASSERT_TRUE(row) << kind;
    EXPECT_EQ(row->error, std::string(kind) + ": no");
  }
}

TEST_F(TestEvaluationTest, ElsewhereAndUncountedFailuresAreRetried) {
  TestEvaluation e = Make(2);
  e.Start("id-a", "a", 41);
  // A data failure from a worker that is now passed over: elsewhere.
  EXPECT_FALSE(e.OnFailure("data", "no shards", /*counts=*/false,
                           /*elsewhere=*/true));
  // A worker that left politely: does not count.
  for (int i = 0; i < 5; ++i) {
    e.Start("id-b", "b", 50 + i);
    EXPECT_FALSE(e.OnFailure("error", "it left", /*counts=*/false));
  }
  e.Start("id-c", "c", 60);
  EXPECT_FALSE(e.OnFailure("error", "lost"));  // The first that counts.
  e.Start("id-c", "c", 61);
  EXPECT_TRUE(e.OnFailure("error", "lost"));
}

TEST_F(TestEvaluationTest, OverdueOnlyWhenUnlistedPastTheTimeout) {
  TestEvaluation e = Make(3);
  EXPECT_FALSE(e.Overdue("id-a", {}, 10));  // Nothing runs.
  e.Start("id-a", "a", 41);
  EXPECT_FALSE(e.Overdue("id-a", {}, 10));  // Not yet past the timeout.
  clock_.Advance(11);
  EXPECT_TRUE(e.Overdue("id-a", {}, 10));
  EXPECT_FALSE(e.Overdue("id-a", {41}, 10));  // Listed: it runs.
  EXPECT_FALSE(e.Overdue("id-b", {}, 10));    // Another worker.
}

}  // namespace
}  // namespace hpo
