#include "search/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "common/error.h"
#include "search/hyperband_math.h"
#include "search/simulator.h"

namespace hpo {
namespace {

using nlohmann::json;

StudySpec Study(const json& algorithm, const json& budget = nullptr,
                const std::string& mode = "max") {
  json s = {
      {"name", "t"},
      {"seed", 1},
      {"objective", {{"metric", "val_accuracy"}, {"mode", mode}}},
      {"search_space", {{"x", {{"type", "uniform"}, {"low", 0}, {"high", 1}}}}},
      {"algorithm", algorithm}};
  if (!budget.is_null()) s["budget"] = budget;
  return ParseStudy(s, "t.json");
}

using ValueFn = std::function<double(int64_t trial, int epoch)>;

// Runs a study on one worker: every job to its end (or until stopped).
// Returns the jobs in the order they were handed out.
std::vector<Job> RunSerial(Scheduler& scheduler, const ValueFn& value) {
  std::vector<Job> jobs;
  while (true) {
    Decision d = scheduler.NextJob();
    if (d.type == Decision::Type::kDone) break;
    EXPECT_EQ(d.type, Decision::Type::kRun) << "a single worker never waits";
    if (d.type != Decision::Type::kRun) break;
    jobs.push_back(d.job);
    for (int e = d.job.from_epoch + 1; e <= d.job.to_epoch; ++e) {
      if (scheduler.OnEpoch(d.job.trial, e, value(d.job.trial, e)) ==
          Verdict::kStop) {
        break;
      }
    }
    EXPECT_LT(jobs.size(), 100000u);
  }
  return jobs;
}

std::map<TrialState, int> CountStates(const Scheduler& s) {
  std::map<TrialState, int> counts;
  for (const auto& [n, t] : s.trials()) ++counts[t.state];
  return counts;
}

TEST(FifoSchedulerTest, RandomRunsTheBudgetToMaxEpochs) {
  auto s = NewScheduler(
      Study({{"type", "random"}, {"max_epochs", 3}}, {{"max_trials", 5}}));
  std::vector<Job> jobs = RunSerial(*s, [](int64_t, int) { return 0.5; });
  ASSERT_EQ(jobs.size(), 5u);
  for (size_t i = 0; i < jobs.size(); ++i) {
    EXPECT_EQ(jobs[i].trial, static_cast<int64_t>(i));
    EXPECT_EQ(jobs[i].from_epoch, 0);
    EXPECT_EQ(jobs[i].to_epoch, 3);
    EXPECT_TRUE(jobs[i].params.contains("x"));
  }
  EXPECT_EQ(CountStates(*s)[TrialState::kComplete], 5);
  EXPECT_EQ(s->NextJob().type, Decision::Type::kDone);
}

TEST(FifoSchedulerTest, GridRunsEveryPointOnce) {
  json study = {
      {"name", "g"},
      {"objective", {{"metric", "val_loss"}, {"mode", "min"}}},
      {"search_space",
       {{"layers", {{"type", "int"}, {"low", 2}, {"high", 4}}},
        {"units",
         {{"type", "int"}, {"low", 200}, {"high", 800}, {"step", 200}}}}},
      {"algorithm", {{"type", "grid"}, {"max_epochs", 2}}}};
  auto s = NewScheduler(ParseStudy(study, "g.json"));
  std::vector<Job> jobs = RunSerial(*s, [](int64_t, int) { return 1.0; });
  ASSERT_EQ(jobs.size(), 12u);  // The seed-002 grid: {2,3,4} x {200..800}.
  std::set<std::string> configs;
  for (const Job& j : jobs) configs.insert(j.params.dump());
  EXPECT_EQ(configs.size(), 12u);
  EXPECT_EQ(s->Plan()["trials"], 12);
}

// Successive halving over 9 trials, eta 3: rungs 9x1, 3x3, 1x9.
StudySpec NineTrialHalving(const std::string& mode = "max") {
  return Study({{"type", "successive_halving"},
                {"min_epochs", 1},
                {"max_epochs", 9},
                {"eta", 3},
                {"n", 9}},
               nullptr, mode);
}

TEST(SuccessiveHalvingTest, PromotesTheTopThirdBestFirst) {
  auto s = NewScheduler(NineTrialHalving());
  std::vector<Job> jobs = RunSerial(*s, [](int64_t t, int) { return 0.1 * t; });
  ASSERT_EQ(jobs.size(), 9u + 3 + 1);
  for (int i = 0; i < 9; ++i) {
    EXPECT_EQ(jobs[i].trial, i);
    EXPECT_EQ(jobs[i].to_epoch, 1);
  }
  // Best value first: trials 8, 7, 6 continue from epoch 1 to 3.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(jobs[9 + i].trial, 8 - i);
    EXPECT_EQ(jobs[9 + i].from_epoch, 1);
    EXPECT_EQ(jobs[9 + i].to_epoch, 3);
    EXPECT_EQ(jobs[9 + i].rung, 1);
  }
  EXPECT_EQ(jobs[12].trial, 8);
  EXPECT_EQ(jobs[12].from_epoch, 3);
  EXPECT_EQ(jobs[12].to_epoch, 9);
  auto counts = CountStates(*s);
  EXPECT_EQ(counts[TrialState::kComplete], 1);
  EXPECT_EQ(counts[TrialState::kPruned], 8);
}

TEST(SuccessiveHalvingTest, MinimisesForModeMin) {
  auto s = NewScheduler(NineTrialHalving("min"));
  std::vector<Job> jobs = RunSerial(*s, [](int64_t t, int) { return 0.1 * t; });
  EXPECT_EQ(jobs[9].trial, 0);
  EXPECT_EQ(jobs[10].trial, 1);
  EXPECT_EQ(jobs[11].trial, 2);
}

TEST(SuccessiveHalvingTest, TiesGoToTheLowerTrialNumber) {
  auto s = NewScheduler(NineTrialHalving());
  std::vector<Job> jobs = RunSerial(*s, [](int64_t, int) { return 0.5; });
  EXPECT_EQ(jobs[9].trial, 0);
  EXPECT_EQ(jobs[10].trial, 1);
  EXPECT_EQ(jobs[11].trial, 2);
}

TEST(SuccessiveHalvingTest, NaNCountsAsWorst) {
  auto s = NewScheduler(NineTrialHalving());
  std::vector<Job> jobs = RunSerial(
      *s, [](int64_t t, int) { return t == 8 ? std::nan("") : 0.1 * t; });
  EXPECT_EQ(jobs[9].trial, 7);
}

TEST(SuccessiveHalvingTest, WaitsForTheRungThenPromotes) {
  auto s = NewScheduler(NineTrialHalving());
  std::vector<Job> running;
  for (int i = 0; i < 9; ++i) running.push_back(s->NextJob().job);
  EXPECT_EQ(s->NextJob().type, Decision::Type::kWait);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(s->OnEpoch(i, 1, 0.1 * i), Verdict::kStop);
    EXPECT_EQ(s->NextJob().type, Decision::Type::kWait);
  }
  EXPECT_EQ(s->trials().at(0).state, TrialState::kPaused);
  s->OnEpoch(8, 1, 0.0);
  Decision d = s->NextJob();
  ASSERT_EQ(d.type, Decision::Type::kRun);
  EXPECT_EQ(d.job.trial, 7);
}

TEST(SuccessiveHalvingTest, AFailedTrialNeverBlocksARung) {
  auto s = NewScheduler(NineTrialHalving());
  for (int i = 0; i < 9; ++i) s->NextJob();
  for (int i = 0; i < 8; ++i) s->OnEpoch(i, 1, 0.1 * i);
  s->OnFailed(8);  // The would-be best fails before reporting.
  std::vector<int64_t> promoted;
  for (int i = 0; i < 3; ++i) promoted.push_back(s->NextJob().job.trial);
  EXPECT_EQ(promoted, (std::vector<int64_t>{7, 6, 5}));
  // A promoted trial failing in rung 1 does not block it either.
  s->OnEpoch(7, 2, 0.9);
  s->OnFailed(7);
  s->OnEpoch(6, 2, 0.6);
  s->OnEpoch(6, 3, 0.6);
  s->OnEpoch(5, 2, 0.5);
  s->OnEpoch(5, 3, 0.5);
  Decision d = s->NextJob();
  ASSERT_EQ(d.type, Decision::Type::kRun);
  EXPECT_EQ(d.job.trial, 6);
  EXPECT_EQ(d.job.to_epoch, 9);
}

TEST(HyperbandTest, RunsEveryBracketAsPlanned) {
  StudySpec spec = Study({{"type", "hyperband"},
                          {"min_epochs", 1},
                          {"max_epochs", 27},
                          {"eta", 3}});
  auto s = NewScheduler(spec);
  std::vector<Job> jobs = RunSerial(*s, [&s](int64_t t, int e) {
    return s->trials().at(t).params["x"].get<double>() * e / (e + 1.0);
  });
  // Count the trials per (bracket, rung) and the epochs trained.
  std::map<std::pair<int, int>, int64_t> per_rung;
  int64_t epochs = 0;
  for (const Job& j : jobs) {
    ++per_rung[{j.bracket, j.rung}];
    epochs += j.to_epoch - j.from_epoch;
  }
  std::vector<BracketPlan> plan = HyperbandBrackets(1, 27, 3);
  for (size_t b = 0; b < plan.size(); ++b) {
    for (size_t r = 0; r < plan[b].rungs.size(); ++r) {
      EXPECT_EQ((per_rung[{static_cast<int>(b), static_cast<int>(r)}]),
                plan[b].rungs[r].trials)
          << "bracket " << b << " rung " << r;
    }
  }
  EXPECT_EQ(epochs, s->Plan()["total_epochs"].get<int64_t>());
  EXPECT_EQ(s->trials().size(), 27u + 12 + 6 + 4);
  auto counts = CountStates(*s);
  EXPECT_EQ(counts[TrialState::kComplete], 1 + 1 + 2 + 4);
  EXPECT_EQ(counts[TrialState::kPruned], 49 - 8);
}

TEST(HyperbandTest, PromotesTheBestOfEachRung) {
  auto s = NewScheduler(Study({{"type", "hyperband"},
                               {"min_epochs", 1},
                               {"max_epochs", 9},
                               {"eta", 3}}));
  // Bracket s=2 has trials 0..8 at 1 epoch; the best three are 2, 5, 8.
  std::vector<Job> jobs = RunSerial(
      *s, [](int64_t t, int e) { return t % 3 == 2 ? 0.5 + 0.01 * t : 0.1; });
  std::vector<int64_t> rung1;
  for (const Job& j : jobs) {
    if (j.bracket == 0 && j.rung == 1) rung1.push_back(j.trial);
  }
  EXPECT_EQ(rung1, (std::vector<int64_t>{8, 5, 2}));
}

TEST(HyperbandTest, PlanForMax81Eta3IsThePapersTable) {
  auto s = NewScheduler(Study({{"type", "hyperband"},
                               {"min_epochs", 1},
                               {"max_epochs", 81},
                               {"eta", 3}}));
  EXPECT_EQ(
      s->Plan().dump(),
      R"({"algorithm":"hyperband","eta":3,"min_epochs":1,"max_epochs":81,"brackets":[)"
      R"({"s":4,"rungs":[{"trials":81,"epochs":1},{"trials":27,"epochs":3},{"trials":9,"epochs":9},{"trials":3,"epochs":27},{"trials":1,"epochs":81}]},)"
      R"({"s":3,"rungs":[{"trials":34,"epochs":3},{"trials":11,"epochs":9},{"trials":3,"epochs":27},{"trials":1,"epochs":81}]},)"
      R"({"s":2,"rungs":[{"trials":15,"epochs":9},{"trials":5,"epochs":27},{"trials":1,"epochs":81}]},)"
      R"({"s":1,"rungs":[{"trials":8,"epochs":27},{"trials":2,"epochs":81}]},)"
      R"({"s":0,"rungs":[{"trials":5,"epochs":81}]}],"total_epochs":1581,)"
      R"("sampler":{"type":"random"}})");
}

TEST(HyperbandTest, TrialBudgetCutsBracketsShort) {
  auto s = NewScheduler(Study({{"type", "hyperband"},
                               {"min_epochs", 1},
                               {"max_epochs", 27},
                               {"eta", 3}},
                              {{"max_trials", 10}}));
  std::vector<Job> jobs =
      RunSerial(*s, [](int64_t t, int) { return 0.01 * t; });
  EXPECT_EQ(s->trials().size(), 10u);
  // The 10 trials of bracket 0 still halve: 3 continue, then 1.
  EXPECT_EQ(CountStates(*s)[TrialState::kComplete], 1);
  EXPECT_EQ(jobs.size(), 10u + 3 + 1 + 1);
}

TEST(HyperbandTest, PlanShowsWhatTheBudgetLetsRun) {
  auto s = NewScheduler(Study({{"type", "hyperband"},
                               {"min_epochs", 1},
                               {"max_epochs", 27},
                               {"eta", 3}},
                              {{"max_trials", 5}}));
  nlohmann::ordered_json plan = s->Plan();
  ASSERT_EQ(plan["brackets"].size(), 1u);
  EXPECT_EQ(plan["brackets"][0]["rungs"].dump(),
            R"([{"trials":5,"epochs":1},{"trials":1,"epochs":3},)"
            R"({"trials":1,"epochs":9},{"trials":1,"epochs":27}])");
  EXPECT_EQ(plan["total_epochs"], 5 + 2 + 6 + 18);
  EXPECT_EQ(plan["budget_cut"]["trials_without_budget"], 49);
  // And that is what runs.
  std::vector<Job> jobs = RunSerial(*s, [](int64_t t, int) { return 0.1 * t; });
  int64_t epochs = 0;
  for (const Job& j : jobs) epochs += j.to_epoch - j.from_epoch;
  EXPECT_EQ(epochs, plan["total_epochs"].get<int64_t>());
}

TEST(HyperbandTest, IterationsRepeatTheBrackets) {
  auto s = NewScheduler(Study({{"type", "hyperband"},
                               {"max_epochs", 9},
                               {"eta", 3},
                               {"iterations", 2}}));
  RunSerial(*s, [](int64_t t, int) { return 0.5; });
  EXPECT_EQ(s->trials().size(), 2u * (9 + 5 + 3));
  EXPECT_EQ(s->Plan()["iterations"], 2);
}

// ASHA with eta 3 and rungs at 1, 3, 9 epochs.
StudySpec SmallAsha(int64_t trials) {
  return Study(
      {{"type", "asha"}, {"min_epochs", 1}, {"max_epochs", 9}, {"eta", 3}},
      {{"max_trials", trials}});
}

TEST(AshaTest, PromotesFromTheHighestRungFirst) {
  auto s = NewScheduler(SmallAsha(100));
  // Values at rung 0 by trial; promoted trials score 0.9 later on.
  std::map<int64_t, double> first = {{0, 0.5}, {1, 0.7}, {2, 0.6},
                                     {3, 0.2}, {4, 0.1}, {5, 0.3},
                                     {6, 0.8}, {7, 0.4}, {8, 0.45}};
  auto value = [&first](int64_t t, int e) { return e == 1 ? first[t] : 0.9; };
  std::vector<std::string> log;
  for (int step = 0; step < 14; ++step) {
    Decision d = s->NextJob();
    ASSERT_EQ(d.type, Decision::Type::kRun);
    log.push_back(std::to_string(d.job.trial) + "@" +
                  std::to_string(d.job.rung));
    for (int e = d.job.from_epoch + 1; e <= d.job.to_epoch; ++e) {
      s->OnEpoch(d.job.trial, e, value(d.job.trial, e));
    }
  }
  // 0, 1, 2 start; with 3 results the top third (trial 1) is promotable.
  // Trial 1 then sits alone in rung 1 (a third of 1 is 0): new trials follow
  // until rung 0 has 6 results, whose top two are 1 (promoted) and 2. Trial 6
  // (0.8) makes 7 results, top two 6 and 1: 6 goes up. Rung 1 then holds
  // 1, 2, 6 (all 0.9): its best, the first to get there (1), goes to rung 2.
  EXPECT_EQ(log, (std::vector<std::string>{"0@0", "1@0", "2@0", "1@1", "3@0",
                                           "4@0", "5@0", "2@1", "6@0", "6@1",
                                           "1@2", "7@0", "8@0", "9@0"}));
  EXPECT_EQ(s->trials().at(1).state, TrialState::kComplete);
}

TEST(AshaTest, FinishesTheBudgetAndPrunesWhatIsLeft) {
  auto s = NewScheduler(SmallAsha(20));
  RunSerial(*s,
            [](int64_t t, int e) { return 0.01 * ((t * 7) % 20) + 0.001 * e; });
  EXPECT_EQ(s->trials().size(), 20u);
  auto counts = CountStates(*s);
  EXPECT_EQ(counts[TrialState::kPaused], 0);
  EXPECT_EQ(counts[TrialState::kRunning], 0);
  EXPECT_GE(counts[TrialState::kComplete], 1);
  EXPECT_EQ(counts[TrialState::kComplete] + counts[TrialState::kPruned], 20);
  EXPECT_EQ(s->NextJob().type, Decision::Type::kDone);
}

TEST(AshaTest, BracketsTakeNewTrialsInTurn) {
  auto s = NewScheduler(Study({{"type", "asha"},
                               {"min_epochs", 1},
                               {"max_epochs", 9},
                               {"eta", 3},
                               {"brackets", 2}},
                              {{"max_trials", 4}}));
  Decision a = s->NextJob();
  Decision b = s->NextJob();
  EXPECT_EQ(a.job.bracket, 0);
  EXPECT_EQ(a.job.to_epoch, 1);
  EXPECT_EQ(b.job.bracket, 1);
  EXPECT_EQ(b.job.to_epoch, 3);  // Bracket s=1 starts one rung higher.
}

StudySpec SmallMedian() {
  return Study({{"type", "median"},
                {"max_epochs", 5},
                {"warmup_epochs", 1},
                {"min_trials", 2}},
               {{"max_trials", 6}});
}

TEST(MedianStoppingTest, StopsTrialsBelowTheMedianAfterWarmup) {
  auto s = NewScheduler(SmallMedian());
  std::map<int64_t, double> level = {{0, 0.5},  {1, 0.7}, {2, 0.4},
                                     {3, 0.65}, {4, 0.3}, {5, 0.9}};
  std::vector<Job> jobs =
      RunSerial(*s, [&level](int64_t t, int) { return level[t]; });
  ASSERT_EQ(jobs.size(), 6u);
  const auto& trials = s->trials();
  EXPECT_EQ(trials.at(0).state, TrialState::kComplete);  // Before min_trials.
  EXPECT_EQ(trials.at(1).state, TrialState::kComplete);
  // Median of {0.5, 0.7} is 0.6: 0.4 stops at epoch 2 (after the warm-up).
  EXPECT_EQ(trials.at(2).state, TrialState::kPruned);
  EXPECT_EQ(trials.at(2).epochs, 2);
  EXPECT_EQ(trials.at(3).state, TrialState::kComplete);  // 0.65 > 0.6.
  // Median of {0.5, 0.65, 0.7} is 0.65.
  EXPECT_EQ(trials.at(4).state, TrialState::kPruned);
  EXPECT_EQ(trials.at(5).state, TrialState::kComplete);
}

TEST(MedianStoppingTest, UsesTheBestValueSoFar) {
  auto s = NewScheduler(SmallMedian());
  RunSerial(*s, [](int64_t t, int e) {
    if (t < 2) return 0.6;
    return e == 1 ? 0.9 : 0.1;  // A good start keeps it alive.
  });
  EXPECT_EQ(s->trials().at(2).state, TrialState::kComplete);
}

TEST(SchedulerEventTest, JsonRoundTrip) {
  for (const SchedulerEvent& e :
       {SchedulerEvent{SchedulerEvent::Type::kNextJob},
        SchedulerEvent{SchedulerEvent::Type::kEpoch, 3, 7, 0.25},
        SchedulerEvent{SchedulerEvent::Type::kFailed, 4},
        SchedulerEvent{SchedulerEvent::Type::kRestart, 5}}) {
    SchedulerEvent back = SchedulerEvent::FromJson(e.ToJson());
    EXPECT_EQ(back.ToJson(), e.ToJson());
  }
  SchedulerEvent nan_value = SchedulerEvent::FromJson(
      SchedulerEvent{SchedulerEvent::Type::kEpoch, 1, 1, std::nan("")}
          .ToJson());
  EXPECT_TRUE(std::isnan(nan_value.value));
  EXPECT_THROW(SchedulerEvent::FromJson(json{{"type", "epoch"}}), Error);
  EXPECT_THROW(SchedulerEvent::FromJson(json::array()), Error);
}

// The scheduler contract, run against every algorithm (grid included) and
// every sampler that learns: stale and duplicate reports, restarts, NaN and
// ties, the order of state changes, and replay from the event log.
class SchedulerContractTest : public ::testing::TestWithParam<const char*> {};

// "algorithm" or "algorithm+sampler"; rung algorithms start at `min_epochs`.
StudySpec ReplayStudy(const std::string& name, int min_epochs = 1) {
  const size_t plus = name.find('+');
  const std::string algorithm = name.substr(0, plus);
  json a = {{"type", algorithm}, {"max_epochs", 27}};
  if (plus != std::string::npos) {
    // Few start-up trials, so that most proposals come from the model.
    a["sampler"] = {{"type", name.substr(plus + 1)}};
    if (name.substr(plus + 1) == "tpe") a["sampler"]["n_startup_trials"] = 4;
  }
  if (algorithm != "random" && algorithm != "median" && algorithm != "grid") {
    a["min_epochs"] = min_epochs;
    a["eta"] = 3;
  }
  if (algorithm == "asha") a["brackets"] = 2;
  json lr = {{"type", "loguniform"}, {"low", 1e-4}, {"high", 1e-1}};
  if (algorithm == "grid") lr["grid"] = {1e-4, 1e-3, 1e-2, 1e-1};
  json s = {{"name", "replay"},
            {"seed", 11},
            {"objective", {{"metric", "val_accuracy"}, {"mode", "max"}}},
            {"search_space",
             {{"lr", lr},
              {"opt", {{"type", "choice"}, {"values", {"adam", "sgd"}}}}}},
            {"algorithm", a},
            {"budget", {{"max_trials", 60}}}};
  return ParseStudy(s, "replay.json");
}

TEST_P(SchedulerContractTest, StaleAndDuplicateReportsAreIgnored) {
  auto s = NewScheduler(ReplayStudy(GetParam()));
  EXPECT_EQ(s->OnEpoch(4242, 1, 0.5), Verdict::kStop) << "an unknown trial";
  Decision d = s->NextJob();
  ASSERT_EQ(d.type, Decision::Type::kRun);
  const int64_t t = d.job.trial;
  s->OnEpoch(t, d.job.from_epoch + 1, 0.5);
  s->OnEpoch(t, d.job.from_epoch + 1, 0.9);  // The same epoch again.
  EXPECT_EQ(s->trials().at(t).epochs, d.job.from_epoch + 1);
  EXPECT_EQ(s->trials().at(t).score.size(), 1u) << "the first report counts";
  const size_t trials = s->trials().size();
  s->OnFailed(7777);
  s->OnRestart(7777);
  EXPECT_EQ(s->trials().size(), trials) << "unknown trials change nothing";
}

TEST_P(SchedulerContractTest, RestartForgetsEpochsAfterTheCheckpoint) {
  // Jobs of at least 3 epochs, so that one can restart halfway.
  auto s = NewScheduler(ReplayStudy(GetParam(), /*min_epochs=*/3));
  Decision d = s->NextJob();
  ASSERT_EQ(d.type, Decision::Type::kRun);
  const int64_t t = d.job.trial;
  s->OnEpoch(t, 1, 0.1);
  s->OnRestart(t);  // The worker died; the job restarts from epoch 0.
  EXPECT_EQ(s->trials().at(t).epochs, 0);
  EXPECT_EQ(s->OnEpoch(t, 1, 0.1), Verdict::kContinue);
  EXPECT_EQ(s->trials().at(t).epochs, 1);
  ASSERT_EQ(s->RunningJobs().size(), 1u);
  EXPECT_EQ(s->RunningJobs()[0].trial, t);
  EXPECT_EQ(s->RunningJobs()[0].to_epoch, d.job.to_epoch);
}

TEST_P(SchedulerContractTest, NaNAndTiesFinishAndNaNIsNeverBest) {
  // Trial 0 reports NaN, every other trial the same value.
  auto s = NewScheduler(ReplayStudy(GetParam()));
  RunSerial(*s, [](int64_t t, int) { return t == 0 ? std::nan("") : 0.5; });
  EXPECT_EQ(s->NextJob().type, Decision::Type::kDone);
  int most = 0;
  for (const auto& [n, t] : s->trials()) {
    EXPECT_TRUE(t.state == TrialState::kComplete ||
                t.state == TrialState::kPruned)
        << n << " " << ToString(t.state);
    if (n != 0) most = std::max(most, t.epochs);
  }
  EXPECT_LE(s->trials().at(0).epochs, most)
      << "NaN counts as the worst value: never promoted over a tie";
}

TEST_P(SchedulerContractTest, StateChangesAreReportedInOrder) {
  auto s = NewScheduler(ReplayStudy(GetParam()));
  RunSerial(*s, [](int64_t t, int e) { return 0.01 * t + 0.001 * e; });
  const std::vector<StateChange> changes = s->TakeStateChanges();
  ASSERT_FALSE(changes.empty());
  std::map<int64_t, std::vector<TrialState>> by_trial;
  int64_t last_new = -1;
  for (const StateChange& c : changes) {
    if (!by_trial.count(c.trial)) {
      EXPECT_GT(c.trial, last_new) << "trials start in number order";
      last_new = c.trial;
    }
    by_trial[c.trial].push_back(c.state);
  }
  for (const auto& [trial, states] : by_trial) {
    EXPECT_EQ(states.front(), TrialState::kRunning) << trial;
    EXPECT_TRUE(states.back() == TrialState::kComplete ||
                states.back() == TrialState::kPruned)
        << trial << " ends " << ToString(states.back());
    EXPECT_EQ(states.back(), s->trials().at(trial).state) << trial;
  }
  EXPECT_EQ(by_trial.size(), s->trials().size());
  EXPECT_TRUE(s->TakeStateChanges().empty()) << "each change is told once";
}

TEST_P(SchedulerContractTest, ReplayReproducesEveryDecision) {
  StudySpec spec = ReplayStudy(GetParam());
  CurveOptions curve_options;
  curve_options.seed = 3;
  curve_options.divergence_rate = 0.1;
  SyntheticCurves curves(spec.search_space, curve_options);
  auto original = NewScheduler(spec);
  SimResult run = Simulate(*original, curves, spec, SimOptions{4});
  ASSERT_FALSE(run.stalled);
  ASSERT_GT(run.events.size(), 100u);

  auto replayed = NewScheduler(spec);
  for (size_t i = 0; i < run.events.size(); ++i) {
    Decision d;
    Verdict v = Verdict::kContinue;
    replayed->Apply(run.events[i], &d, &v);
    json out = nullptr;
    if (run.events[i].type == SchedulerEvent::Type::kNextJob) out = ToJson(d);
    if (run.events[i].type == SchedulerEvent::Type::kEpoch) out = ToJson(v);
    ASSERT_EQ(out, run.outputs[i])
        << "event " << i << ": " << run.events[i].ToJson();
  }
  ASSERT_EQ(replayed->trials().size(), original->trials().size());
  for (const auto& [n, t] : original->trials()) {
    const TrialRecord& r = replayed->trials().at(n);
    EXPECT_EQ(r.state, t.state) << n;
    EXPECT_EQ(r.epochs, t.epochs) << n;
    EXPECT_EQ(r.params, t.params) << n;
  }
}

TEST_P(SchedulerContractTest, AResumedSchedulerContinuesLikeTheOriginal) {
  // Stop after a third of the events, replay them into a new scheduler,
  // then feed both the rest: they must agree at every step.
  StudySpec spec = ReplayStudy(GetParam());
  SyntheticCurves curves(spec.search_space, CurveOptions{});
  auto original = NewScheduler(spec);
  SimResult run = Simulate(*original, curves, spec, SimOptions{3});
  const size_t cut = run.events.size() / 3;
  auto resumed = NewScheduler(spec);
  Replay(*resumed, std::vector<SchedulerEvent>(run.events.begin(),
                                               run.events.begin() + cut));
  auto fresh = NewScheduler(spec);
  Replay(*fresh, std::vector<SchedulerEvent>(run.events.begin(),
                                             run.events.begin() + cut));
  EXPECT_EQ(resumed->RunningJobs().size(), fresh->RunningJobs().size());
  for (size_t i = cut; i < run.events.size(); ++i) {
    Decision d;
    Verdict v = Verdict::kContinue;
    resumed->Apply(run.events[i], &d, &v);
    if (run.events[i].type == SchedulerEvent::Type::kNextJob) {
      ASSERT_EQ(ToJson(d), run.outputs[i]) << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllAlgorithms, SchedulerContractTest,
    ::testing::Values("random", "grid", "successive_halving", "hyperband",
                      "asha", "median", "random+tpe", "successive_halving+tpe",
                      "hyperband+tpe", "asha+tpe", "median+tpe",
                      "successive_halving+bohb", "hyperband+bohb", "asha+bohb"),
    [](const auto& info) {
      std::string name = info.param;
      std::replace(name.begin(), name.end(), '+', '_');
      return name;
    });

}  // namespace
}  // namespace hpo
