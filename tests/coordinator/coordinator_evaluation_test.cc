// The coordinator driven directly (coordinator_fakes.h): the best trial on the
// test split, and checkpoints nobody needs.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tests/coordinator/coordinator_fakes.h"

namespace hpo {
namespace {

using namespace coordinator_testing;  // NOLINT(build/namespaces)
using nlohmann::json;

// kHyperbandStudy with the real trainer (the coordinator never runs it).
json RealHyperbandStudy() {
  json study = json::parse(kHyperbandStudy);
  study["trainer"] = {{"model", "cnn"}};
  study["data"] = {{"shards", "shards/small"}};
  return study;
}

// The best complete trial by its last value (the study maximises).
int64_t BestComplete(Store& store, int64_t id) {
  int64_t best = -1;
  double value = -1;
  for (const TrialRow& t : store.Trials(id, "complete")) {
    if (t.value && *t.value > value) {
      best = t.number;
      value = *t.value;
    }
  }
  return best;
}

TEST(CoordinatorEvaluationTest, TheBestTrialIsEvaluatedOnTheTestSplit) {
  auto store = Store::Open(":memory:");
  Cluster c(RealHyperbandStudy(), *store);
  c.set_checkpoints(true);
  c.AddWorker("a", 2);
  c.AddWorker("b", 1);
  ASSERT_TRUE(c.RunToEnd());
  EXPECT_EQ(c.coordinator().outcome(), "complete");
  const int64_t id = StudyId(*store, "hb");
  EXPECT_EQ(store->FindStudy("hb")->state, "complete");
  std::vector<Sent> asked = c.SentOf(MessageType::kEvaluate);
  ASSERT_EQ(asked.size(), 1u);
  const json& b = asked[0].message.body;
  const int64_t best = BestComplete(*store, id);
  EXPECT_EQ(b["trial"], best);
  EXPECT_EQ(b["split"], "test");
  EXPECT_EQ(b["epoch"], 9);
  EXPECT_EQ(b["checkpoint"],
            "hb/trial-" + std::to_string(best) + "/epoch-9.pt");
  EXPECT_EQ(b["params"], TrialParams(*store, "hb").at(best));
  // "done" only after the evaluation.
  std::vector<Sent> done = c.SentOf(MessageType::kDone);
  ASSERT_FALSE(done.empty());
  EXPECT_EQ(store->Evaluations(id).size(), 1u);
  const EvaluationRow e = store->Evaluations(id).at(0);
  EXPECT_EQ(e.trial, best);
  EXPECT_EQ(e.state, "done");
  EXPECT_EQ(e.split, "test");
  EXPECT_EQ(e.epoch, 9);
  EXPECT_EQ(e.loss, 0.75);
  EXPECT_EQ(e.accuracy, 0.625);
  EXPECT_EQ(e.track_accuracy, 0.5);
  EXPECT_EQ(e.samples, 8);
  EXPECT_EQ(e.tracks, 4);
  EXPECT_EQ(e.confusion, (std::vector<std::vector<int64_t>>{{3, 1}, {2, 2}}));
  EXPECT_EQ(e.classes, (std::vector<std::string>{"Rock", "Folk"}));
  EXPECT_EQ(e.worker, "fake-" + asked[0].identity);
  ExpectConsistent(*store, "hb");
}

// trainer.keep "best": the trial whose best epoch is best is evaluated from
// that epoch's checkpoint, and the row says which epoch it was.
TEST(CoordinatorEvaluationTest, KeepBestEvaluatesTheBestEpochsWeights) {
  auto store = Store::Open(":memory:");
  json study = RealHyperbandStudy();
  study["trainer"]["keep"] = "best";
  Cluster c(study, *store);
  c.set_checkpoints(true);
  c.set_best_checkpoints(true);
  // Every trial peaks after epoch 4 and declines after it.
  c.set_value([](const json& params, int64_t trial, int epoch) {
    return DefaultValue(params, trial, 9) - 0.02 * std::abs(epoch - 4);
  });
  c.AddWorker("a", 2);
  ASSERT_TRUE(c.RunToEnd());
  const int64_t id = StudyId(*store, "hb");
  // The best by best value (which here is also the best by last value).
  int64_t best = -1;
  double value = -1;
  for (const TrialRow& t : store->Trials(id, "complete")) {
    EXPECT_FALSE(t.best_checkpoint.empty()) << t.number;
    if (*t.best_value > value) {
      best = t.number;
      value = *t.best_value;
    }
  }
  std::vector<Sent> asked = c.SentOf(MessageType::kEvaluate);
  ASSERT_EQ(asked.size(), 1u);
  const json& b = asked[0].message.body;
  EXPECT_EQ(b["trial"], best);
  EXPECT_EQ(b["epoch"], 4);
  EXPECT_EQ(b["checkpoint"], "hb/trial-" + std::to_string(best) + "/best.pt");
  const EvaluationRow e = store->Evaluations(id).at(0);
  EXPECT_EQ(e.epoch, 4);
  EXPECT_EQ(e.checkpoint, "hb/trial-" + std::to_string(best) + "/best.pt");
  // Promoted jobs carry the trial's best so far.
  int with_best = 0;
  for (const Sent& s : c.SentOf(MessageType::kAssign)) {
    const json& a = s.message.body;
    if (a["from_epoch"].get<int>() > 0) {
      EXPECT_TRUE(a.contains("best_value")) << a;
      ++with_best;
    } else {
      EXPECT_FALSE(a.contains("best_value")) << a;
    }
  }
  EXPECT_GT(with_best, 0);
  ExpectConsistent(*store, "hb");
}

TEST(CoordinatorEvaluationTest, CheckpointsOfPrunedTrialsAreForgotten) {
  auto store = Store::Open(":memory:");
  Cluster c(RealHyperbandStudy(), *store);
  c.set_checkpoints(true);
  c.AddWorker("a", 2);
  ASSERT_TRUE(c.RunToEnd());
  const int64_t id = StudyId(*store, "hb");
  std::multiset<std::string> forgotten;
  for (const Sent& s : c.SentOf(MessageType::kForget)) {
    EXPECT_EQ(s.message.body["study"], "hb");
    for (const json& p : s.message.body["checkpoints"]) {
      forgotten.insert(p.get<std::string>());
    }
  }
  std::multiset<std::string> expected;
  int pruned = 0;
  for (const TrialRow& t : store->Trials(id)) {
    if (t.state == TrialState::kPruned) {
      ++pruned;
      EXPECT_TRUE(t.checkpoint.empty()) << "trial " << t.number;
      expected.insert("hb/trial-" + std::to_string(t.number) + "/epoch-" +
                      std::to_string(t.epochs) + ".pt");
    } else {
      ASSERT_EQ(t.state, TrialState::kComplete);
      EXPECT_EQ(t.checkpoint, "hb/trial-" + std::to_string(t.number) +
                                  "/epoch-" + std::to_string(t.epochs) + ".pt");
    }
  }
  EXPECT_GT(pruned, 5);
  EXPECT_EQ(forgotten, expected);
  // Each "forget" went out before "done".
  size_t last_forget = 0, first_done = SIZE_MAX;
  const auto& sent = c.transport().sent;
  for (size_t i = 0; i < sent.size(); ++i) {
    if (sent[i].message.type == MessageType::kForget) last_forget = i;
    if (sent[i].message.type == MessageType::kDone) {
      first_done = std::min(first_done, i);
    }
  }
  EXPECT_LT(last_forget, first_done);
}

TEST(CoordinatorEvaluationTest, AFailedEvaluationIsRetriedThenRecorded) {
  auto store = Store::Open(":memory:");
  Cluster c(RealHyperbandStudy(), *store);
  c.set_checkpoints(true);
  int calls = 0;
  c.set_evaluate([&](int64_t) -> std::optional<std::string> {
    ++calls;
    return std::string(calls == 1 ? "error" : "config");
  });
  c.AddWorker("a", 1);
  c.AddWorker("b", 1);
  ASSERT_TRUE(c.RunToEnd());
  EXPECT_EQ(calls, 2);  // "error" is retried, "config" is not.
  EXPECT_EQ(c.coordinator().outcome(), "complete");
  std::vector<EvaluationRow> rows = store->Evaluations(StudyId(*store, "hb"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].state, "failed");
  EXPECT_NE(rows[0].error.find("config: fake evaluation failure"),
            std::string::npos)
      << rows[0].error;
  EXPECT_TRUE(rows[0].worker == "fake-a" || rows[0].worker == "fake-b")
      << rows[0].worker;
  EXPECT_FALSE(rows[0].accuracy.has_value());
}

// A worker that cannot read the data fails the evaluation as "data": it
// goes to the other worker, whatever execution.max_attempts; once both
// have failed that way it is recorded as failed.
TEST(CoordinatorEvaluationTest, ADataFailureMovesTheEvaluationToAnotherWorker) {
  for (bool second_fails : {false, true}) {
    auto store = Store::Open(":memory:");
    json spec = RealHyperbandStudy();
    spec["execution"]["max_attempts"] = 1;
    Cluster c(spec, *store);
    c.set_checkpoints(true);
    int calls = 0;
    c.set_evaluate([&](int64_t) -> std::optional<std::string> {
      ++calls;
      if (calls == 1 || second_fails) return std::string("data");
      return std::nullopt;
    });
    c.AddWorker("a", 1);
    c.AddWorker("b", 1);
    ASSERT_TRUE(c.RunToEnd());
    EXPECT_EQ(calls, 2);
    std::vector<EvaluationRow> rows = store->Evaluations(StudyId(*store, "hb"));
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].state, second_fails ? "failed" : "done") << rows[0].error;
  }
}

TEST(CoordinatorEvaluationTest, ALostWorkersEvaluationGoesToAnother) {
  auto store = Store::Open(":memory:");
  Cluster c(RealHyperbandStudy(), *store);
  c.set_checkpoints(true);
  FakeWorker& a = c.AddWorker("a", 1);
  FakeWorker& b = c.AddWorker("b", 1);
  for (int i = 0; i < 5000 && c.SentOf(MessageType::kEvaluate).empty(); ++i) {
    for (FakeWorker* w : {&a, &b}) c.Train(*w);
    c.coordinator().Tick();
    c.Deliver();
  }
  std::vector<Sent> asked = c.SentOf(MessageType::kEvaluate);
  ASSERT_EQ(asked.size(), 1u);
  FakeWorker& first = asked[0].identity == "a" ? a : b;
  FakeWorker& other = &first == &a ? b : a;
  first.alive = false;
  first.evaluations.clear();
  EXPECT_FALSE(c.coordinator().finished());
  EXPECT_EQ(c.coordinator().stats().evaluating_trial,
            asked[0].message.body["trial"]);
  ASSERT_TRUE(c.RunToEnd());
  asked = c.SentOf(MessageType::kEvaluate);
  ASSERT_EQ(asked.size(), 2u);
  EXPECT_EQ(asked[1].identity, other.identity);
  EXPECT_EQ(store->Evaluations(StudyId(*store, "hb")).at(0).state, "done");
}

TEST(CoordinatorEvaluationTest, AResumeEvaluatesWhatACrashInterrupted) {
  ScratchDir dir;
  const std::string path = dir.path() + "/e.db";
  const json study = RealHyperbandStudy();
  {
    auto store = Store::Open(path);
    Cluster c(study, *store);
    c.set_checkpoints(true);
    FakeWorker& a = c.AddWorker("a", 2);
    for (int i = 0; i < 5000 && c.SentOf(MessageType::kEvaluate).empty(); ++i) {
      c.Train(a);
      c.coordinator().Tick();
      c.Deliver();
    }
    ASSERT_EQ(c.SentOf(MessageType::kEvaluate).size(), 1u);
    c.clock().Advance(1);
    c.coordinator().Tick();  // Commits the batch.
    c.Crash();               // Before the answer.
  }
  {
    auto store = Store::Open(path);
    EXPECT_EQ(store->FindStudy("hb")->state, "running");
    Cluster c(study, *store, /*resume=*/true);
    c.set_checkpoints(true);
    c.AddWorker("b", 1);
    ASSERT_TRUE(c.RunToEnd());
    EXPECT_EQ(c.SentOf(MessageType::kAssign).size(), 0u);
    EXPECT_EQ(c.SentOf(MessageType::kEvaluate).size(), 1u);
    EXPECT_EQ(store->Evaluations(StudyId(*store, "hb")).size(), 1u);
    EXPECT_EQ(store->FindStudy("hb")->state, "complete");
  }
}

TEST(CoordinatorEvaluationTest, SyntheticStudiesHaveNoEvaluation) {
  auto store = Store::Open(":memory:");
  Cluster c(json::parse(kHyperbandStudy), *store);
  c.set_checkpoints(true);
  c.AddWorker("a", 2);
  ASSERT_TRUE(c.RunToEnd());
  EXPECT_TRUE(c.SentOf(MessageType::kEvaluate).empty());
  EXPECT_TRUE(store->Evaluations(StudyId(*store, "hb")).empty());
}

}  // namespace
}  // namespace hpo
