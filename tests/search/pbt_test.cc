// Population-based training: exploit (ranking), explore (perturbations) and
// the scheduler, on synthetic "annealing" learning curves in virtual time.
#include "search/pbt.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "search/scheduler.h"
#include "search/simulator.h"

namespace hpo {
namespace {

using nlohmann::json;

constexpr double kInf = std::numeric_limits<double>::infinity();

json Study(json algorithm = json::object(), json space = json()) {
  json a = {
      {"type", "pbt"}, {"population", 8}, {"max_epochs", 12}, {"interval", 3}};
  for (const auto& [k, v] : algorithm.items()) a[k] = v;
  if (space.is_null()) {
    space = {{"lr", {{"type", "loguniform"}, {"low", 1e-4}, {"high", 0.1}}},
             {"dropout", {{"type", "uniform"}, {"low", 0.0}, {"high", 0.5}}},
             {"batch_size",
              {{"type", "int"}, {"low", 16}, {"high", 128}, {"step", 16}}},
             {"optimizer",
              {{"type", "choice"}, {"values", {"adam", "sgd", "rmsprop"}}}}};
  }
  return {{"name", "pbt"},
          {"seed", 11},
          {"objective", {{"metric", "val_accuracy"}, {"mode", "max"}}},
          {"trainer", {{"model", "synthetic"}, {"curves", "annealing"}}},
          {"search_space", space},
          {"algorithm", a}};
}

StudySpec Spec(json algorithm = json::object(), json space = json()) {
  return ParseStudy(Study(algorithm, space), "pbt.json");
}

TEST(RankPbtTest, QuantilesOfTheMembersAtABoundary) {
  std::vector<std::pair<double, int64_t>> m;
  for (int i = 0; i < 8; ++i) m.emplace_back(-0.1 * i, i);  // 7 is best.
  PbtQuantiles q = RankPbt(m, 0.25);
  EXPECT_EQ(q.top, (std::vector<int64_t>{7, 6}));
  EXPECT_EQ(q.bottom, (std::vector<int64_t>{1, 0}));
  // ceil(3 x 0.25) = 1; ceil(5 x 0.5) = 3 is capped at floor(5 / 2) = 2.
  m.resize(3);
  q = RankPbt(m, 0.25);
  EXPECT_EQ(q.top, (std::vector<int64_t>{2}));
  EXPECT_EQ(q.bottom, (std::vector<int64_t>{0}));
  std::vector<std::pair<double, int64_t>> five;
  for (int i = 0; i < 5; ++i) five.emplace_back(i, i);
  q = RankPbt(five, 0.5);
  EXPECT_EQ(q.top, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(q.bottom, (std::vector<int64_t>{3, 4}));
  // One member has no one to compare with.
  q = RankPbt({{0.5, 3}}, 0.25);
  EXPECT_TRUE(q.top.empty());
  EXPECT_TRUE(q.bottom.empty());
}

TEST(RankPbtTest, TiesRankTheLowerNumberFirstAndMissingValuesLast) {
  PbtQuantiles q =
      RankPbt({{0.3, 5}, {0.3, 2}, {kInf, 0}, {0.3, 9}, {0.1, 7}}, 0.25);
  EXPECT_EQ(q.top, (std::vector<int64_t>{7, 2}));
  EXPECT_EQ(q.bottom, (std::vector<int64_t>{9, 0}));
}

TEST(PbtExploreTest, PerturbsByTheFactorsAndClipsToTheRange) {
  StudySpec spec =
      Spec({{"resample_probability", 0.0}, {"mutable", {"lr", "dropout"}}});
  SearchSpace space(spec.search_space);
  const json parent = {{"lr", 0.01},
                       {"dropout", 0.45},
                       {"batch_size", 64},
                       {"optimizer", "sgd"}};
  std::set<double> lrs, dropouts;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Rng rng(seed);
    json child = PbtExplore(space, spec.algorithm, parent, rng);
    lrs.insert(child["lr"].get<double>());
    dropouts.insert(child["dropout"].get<double>());
    // Parameters left out of "mutable" are the parent's.
    EXPECT_EQ(child["batch_size"], 64);
    EXPECT_EQ(child["optimizer"], "sgd");
  }
  // x 0.8 or x 1.2; 0.45 x 1.2 = 0.54 is clipped to the high end, 0.5.
  EXPECT_EQ(lrs.size(), 2u);
  EXPECT_DOUBLE_EQ(*lrs.begin(), 0.008);
  EXPECT_DOUBLE_EQ(*lrs.rbegin(), 0.012);
  EXPECT_EQ(dropouts.size(), 2u);
  EXPECT_DOUBLE_EQ(*dropouts.begin(), 0.36);
  EXPECT_DOUBLE_EQ(*dropouts.rbegin(), 0.5);
}

TEST(PbtExploreTest, IntegersKeepTheirStepAndChoicesMoveToANeighbour) {
  StudySpec spec = Spec({{"resample_probability", 0.0},
                         {"mutable", {"batch_size", "optimizer"}}});
  SearchSpace space(spec.search_space);
  std::set<int64_t> batches;
  std::map<std::string, int> from_adam, from_sgd;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Rng rng(seed);
    json child = PbtExplore(space, spec.algorithm,
                            {{"lr", 0.01},
                             {"dropout", 0.1},
                             {"batch_size", 112},
                             {"optimizer", "adam"}},
                            rng);
    batches.insert(child["batch_size"].get<int64_t>());
    ++from_adam[child["optimizer"].get<std::string>()];
    Rng rng2(seed);
    child = PbtExplore(space, spec.algorithm,
                       {{"lr", 0.01},
                        {"dropout", 0.1},
                        {"batch_size", 16},
                        {"optimizer", "sgd"}},
                       rng2);
    ++from_sgd[child["optimizer"].get<std::string>()];
  }
  // 112 x 0.8 = 89.6 -> 96 (step 16 from 16); 112 x 1.2 = 134.4 -> 128.
  EXPECT_EQ(batches, (std::set<int64_t>{96, 128}));
  // "adam" is the first option: it can only move inwards.
  EXPECT_EQ(from_adam, (std::map<std::string, int>{{"sgd", 200}}));
  // "sgd" moves to either side.
  EXPECT_EQ(from_sgd.size(), 2u);
  EXPECT_GT(from_sgd["adam"], 50);
  EXPECT_GT(from_sgd["rmsprop"], 50);
}

TEST(PbtExploreTest, ResamplingDrawsFromThePriorAndIsDeterministic) {
  StudySpec spec = Spec({{"resample_probability", 1.0}, {"mutable", {"lr"}}});
  SearchSpace space(spec.search_space);
  const json parent = {
      {"lr", 0.01}, {"dropout", 0.1}, {"batch_size", 16}, {"optimizer", "sgd"}};
  int below = 0;
  for (uint64_t seed = 0; seed < 400; ++seed) {
    Rng a(seed), b(seed);
    json x = PbtExplore(space, spec.algorithm, parent, a);
    EXPECT_EQ(x, PbtExplore(space, spec.algorithm, parent, b));
    const double lr = x["lr"].get<double>();
    EXPECT_GE(lr, 1e-4);
    EXPECT_LE(lr, 0.1);
    below += lr < std::sqrt(1e-4 * 0.1);  // The log-scale midpoint.
  }
  EXPECT_GT(below, 150);  // Log-uniform: about half below the midpoint.
  EXPECT_LT(below, 250);
}

TEST(PbtExploreTest, ConditionalParametersFollowAChoiceThatMoved) {
  json space = {
      {"lr", {{"type", "loguniform"}, {"low", 1e-4}, {"high", 0.1}}},
      {"optimizer", {{"type", "choice"}, {"values", {"adam", "sgd"}}}},
      {"momentum",
       {{"type", "uniform"},
        {"low", 0.5},
        {"high", 0.99},
        {"when", {{"optimizer", "sgd"}}}}}};
  StudySpec spec = Spec(
      {{"resample_probability", 0.0}, {"mutable", {"optimizer", "momentum"}}},
      space);
  SearchSpace s(spec.search_space);
  Rng rng(3);
  json child =
      PbtExplore(s, spec.algorithm, {{"lr", 0.01}, {"optimizer", "adam"}}, rng);
  EXPECT_EQ(child["optimizer"], "sgd");
  ASSERT_TRUE(child.contains("momentum"));  // Newly active: from its prior.
  EXPECT_GE(child["momentum"].get<double>(), 0.5);
  child =
      PbtExplore(s, spec.algorithm,
                 {{"lr", 0.01}, {"optimizer", "sgd"}, {"momentum", 0.9}}, rng);
  EXPECT_EQ(child["optimizer"], "adam");
  EXPECT_FALSE(child.contains("momentum"));  // Inactive: removed.
}

struct PbtRun {
  SimResult result;
  std::vector<Exploit> exploits;
};

PbtRun RunPbt(const StudySpec& spec, int workers) {
  std::unique_ptr<Scheduler> s = NewScheduler(spec);
  SyntheticCurves curves(spec.search_space, SyntheticTrainerOptions(spec));
  SimOptions options;
  options.workers = workers;
  PbtRun run;
  run.result = Simulate(*s, curves, spec, options);
  run.exploits = s->TakeExploits();
  return run;
}

TEST(PbtSchedulerTest, ThePopulationTrainsToTheEndInIntervals) {
  StudySpec spec = Spec();
  PbtRun run = RunPbt(spec, 3);
  EXPECT_FALSE(run.result.stalled);
  EXPECT_EQ(run.result.trials, 8);
  EXPECT_EQ(run.result.completed, 8);
  EXPECT_EQ(run.result.epochs, 8 * 12);
  // Every job runs one interval, from boundary to boundary.
  for (const json& out : run.result.outputs) {
    if (!out.is_object()) continue;
    EXPECT_EQ(out["from"].get<int>() % 3, 0) << out;
    EXPECT_EQ(out["to"].get<int>(), out["from"].get<int>() + 3) << out;
  }
  ASSERT_FALSE(run.exploits.empty());
  for (const Exploit& e : run.exploits) {
    EXPECT_TRUE(e.epoch == 3 || e.epoch == 6 || e.epoch == 9) << e.epoch;
    EXPECT_EQ(e.parent_epoch, e.epoch);
    EXPECT_NE(e.parent, e.trial);
    // Mutable parameters changed; the others are the parent's.
    EXPECT_NE(e.new_params, e.old_params);
  }
}

TEST(PbtSchedulerTest, ExploitsCopyATopMemberAtTheSameBoundary) {
  StudySpec spec = Spec({{"population", 12}});
  std::unique_ptr<Scheduler> s = NewScheduler(spec);
  SyntheticCurves curves(spec.search_space, SyntheticTrainerOptions(spec));
  SimOptions options;
  options.workers = 4;
  SimResult r = Simulate(*s, curves, spec, options);
  // Replay the events; at each exploit, rank the members that had reached
  // its boundary by their value there.
  std::unique_ptr<Scheduler> replay = NewScheduler(spec);
  int checked = 0;
  for (const SchedulerEvent& e : r.events) {
    replay->Apply(e);
    for (const Exploit& x : replay->TakeExploits()) {
      std::vector<std::pair<double, int64_t>> members;
      for (const auto& [n, t] : replay->trials()) {
        if (t.epochs >= x.epoch && t.state != TrialState::kFailed) {
          members.emplace_back(t.score[static_cast<size_t>(x.epoch - 1)], n);
        }
      }
      PbtQuantiles q = RankPbt(members, 0.25);
      EXPECT_NE(std::find(q.top.begin(), q.top.end(), x.parent), q.top.end());
      EXPECT_NE(std::find(q.bottom.begin(), q.bottom.end(), x.trial),
                q.bottom.end());
      ++checked;
    }
  }
  EXPECT_GT(checked, 3);
}

TEST(PbtSchedulerTest, ReplayingTheEventLogMakesTheSameDecisions) {
  StudySpec spec = Spec();
  std::unique_ptr<Scheduler> s = NewScheduler(spec);
  SyntheticCurves curves(spec.search_space, SyntheticTrainerOptions(spec));
  SimOptions options;
  options.workers = 5;
  SimResult r = Simulate(*s, curves, spec, options);
  std::vector<Exploit> exploits = s->TakeExploits();

  std::unique_ptr<Scheduler> replay = NewScheduler(spec);
  std::vector<json> outputs;
  for (const SchedulerEvent& e : r.events) {
    Decision d;
    Verdict v;
    replay->Apply(e, &d, &v);
    outputs.push_back(e.type == SchedulerEvent::Type::kNextJob ? ToJson(d)
                      : e.type == SchedulerEvent::Type::kEpoch ? ToJson(v)
                                                               : json());
  }
  EXPECT_EQ(outputs, r.outputs);
  std::vector<Exploit> again = replay->TakeExploits();
  ASSERT_EQ(again.size(), exploits.size());
  for (size_t i = 0; i < again.size(); ++i) {
    EXPECT_EQ(again[i].trial, exploits[i].trial);
    EXPECT_EQ(again[i].epoch, exploits[i].epoch);
    EXPECT_EQ(again[i].parent, exploits[i].parent);
    EXPECT_EQ(again[i].new_params, exploits[i].new_params);
  }
  // The same seed and workers give the same run.
  PbtRun second = RunPbt(spec, 5);
  EXPECT_EQ(second.result.outputs, r.outputs);
}

TEST(PbtSchedulerTest, KeepsOnlyTheCheckpointsAMemberMayStillResume) {
  StudySpec spec = Spec({{"population", 4}, {"max_epochs", 6}});
  std::unique_ptr<Scheduler> s = NewScheduler(spec);
  // Start all four members (epochs 0-3).
  std::vector<Job> jobs;
  for (int i = 0; i < 4; ++i) {
    Decision d = s->NextJob();
    ASSERT_EQ(d.type, Decision::Type::kRun);
    jobs.push_back(d.job);
  }
  EXPECT_EQ(s->NextJob().type, Decision::Type::kWait);
  auto finish = [&](int64_t trial, int from, double value) {
    for (int e = from + 1; e <= from + 3; ++e) s->OnEpoch(trial, e, value);
  };
  // Members 0, 1, 2 reach epoch 3, each better than those before (so none
  // is in the bottom when it arrives). Member 3 has not ranked at 3 yet, so
  // all of their epoch-3 checkpoints stay (it may copy any).
  finish(0, 0, 0.1);
  finish(1, 0, 0.5);
  finish(2, 0, 0.9);
  EXPECT_TRUE(s->TakeExploits().empty());
  EXPECT_TRUE(*s->KeepsCheckpoint(0, 3));
  EXPECT_TRUE(*s->KeepsCheckpoint(1, 3));
  // Member 3 is the worst of four at epoch 3: it copies member 2, the best.
  finish(3, 0, 0.05);
  std::vector<Exploit> x = s->TakeExploits();
  ASSERT_EQ(x.size(), 1u);
  EXPECT_EQ(x[0].trial, 3);
  EXPECT_EQ(x[0].parent, 2);
  EXPECT_EQ(x[0].epoch, 3);
  EXPECT_TRUE(*s->KeepsCheckpoint(2, 3));
  // Hand out the four continuations; member 3's resumes member 2's state.
  std::map<int64_t, Job> next;
  for (int i = 0; i < 4; ++i) {
    Decision d = s->NextJob();
    ASSERT_EQ(d.type, Decision::Type::kRun);
    next[d.job.trial] = d.job;
  }
  EXPECT_EQ(next[3].source, 2);
  EXPECT_EQ(next[3].from_epoch, 3);
  EXPECT_EQ(next[3].params, x[0].new_params);
  EXPECT_EQ(next[2].source, -1);
  // Member 2 finishes: its epoch-3 checkpoint is still member 3's start
  // (a lost job restarts from it).
  finish(2, 3, 0.95);
  EXPECT_TRUE(*s->KeepsCheckpoint(2, 6));
  EXPECT_TRUE(*s->KeepsCheckpoint(2, 3));
  // Once member 3 has finished too, only each member's newest is kept.
  finish(3, 3, 0.93);
  EXPECT_FALSE(*s->KeepsCheckpoint(2, 3));
  EXPECT_TRUE(*s->KeepsCheckpoint(3, 6));
  EXPECT_FALSE(*s->KeepsCheckpoint(3, 3));
  EXPECT_TRUE(*s->KeepsCheckpoint(1, 3));  // Member 1's newest.
}

TEST(PbtSchedulerTest, OtherSchedulersLeaveCheckpointsToTheTrainers) {
  json study = Study();
  study["algorithm"] = {{"type", "asha"}, {"max_epochs", 9}};
  study["budget"] = {{"max_trials", 5}};
  std::unique_ptr<Scheduler> s = NewScheduler(ParseStudy(study, "a.json"));
  EXPECT_FALSE(s->KeepsCheckpoint(0, 1).has_value());
}

TEST(PbtSchedulerTest, BeatsAConstantLearningRateOnAnnealingCurves) {
  // On curves whose best lr falls during training, the population's copies
  // and perturbations should beat random search's fixed rates with the same
  // epochs, on most seeds (the bench measures it: bench/pbt_bench).
  int wins = 0;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    json pbt = Study({{"population", 16}, {"max_epochs", 27}});
    pbt["seed"] = seed;
    json random = pbt;
    random["algorithm"] = {{"type", "random"}, {"max_epochs", 27}};
    random["budget"] = {{"max_trials", 16}};
    PbtRun a = RunPbt(ParseStudy(pbt, "p.json"), 8);
    StudySpec rs = ParseStudy(random, "r.json");
    std::unique_ptr<Scheduler> s = NewScheduler(rs);
    SyntheticCurves curves(rs.search_space, SyntheticTrainerOptions(rs));
    SimOptions options;
    options.workers = 8;
    SimResult b = Simulate(*s, curves, rs, options);
    EXPECT_EQ(a.result.epochs, b.epochs);
    wins += a.result.best > b.best;
  }
  EXPECT_GE(wins, 7);
}

}  // namespace
}  // namespace hpo
