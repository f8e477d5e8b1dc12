// Checks of a study's results database shared by the fault tests: nothing
// lost or duplicated, and what a study decided, to compare two runs.
#ifndef HPO_TESTS_UTIL_STUDY_CHECKS_H_
#define HPO_TESTS_UTIL_STUDY_CHECKS_H_

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/store.h"
#include "tests/util/process.h"

namespace hpo::testutil {

// A study over three parameters (lr, batch_size, scheduler) on the
// synthetic trainer, with fast heartbeats for tests of real processes and
// leases (3 s) wide enough that a worker starved of the CPU for a moment
// under `ctest -j2` is not declared lost.
inline nlohmann::json SyntheticStudy(const std::string& name,
                                     nlohmann::json algorithm,
                                     double epoch_seconds,
                                     double heartbeat_s = 0.1,
                                     double lease_timeout_s = 3.0,
                                     int max_attempts = 3) {
  return {
      {"name", name},
      {"seed", 11},
      {"objective", {{"metric", "val_accuracy"}, {"mode", "max"}}},
      {"trainer", {{"model", "synthetic"}, {"epoch_seconds", epoch_seconds}}},
      {"search_space",
       {{"lr", {{"type", "loguniform"}, {"low", 1e-5}, {"high", 1e-1}}},
        {"batch_size",
         {{"type", "int"}, {"low", 16}, {"high", 256}, {"log", true}}},
        {"scheduler",
         {{"type", "choice"},
          {"values", {"none", "onecycle", "plateau", "cyclic"}}}}}},
      {"algorithm", std::move(algorithm)},
      {"execution",
       {{"max_attempts", max_attempts},
        {"heartbeat_s", heartbeat_s},
        {"lease_timeout_s", lease_timeout_s}}}};
}

// Epoch metrics recorded in `db` (0 while it or its study does not exist).
inline int64_t CountMetrics(const std::string& db) {
  if (!std::filesystem::exists(db)) return 0;
  try {
    auto store = Store::Open(db, true);
    auto studies = store->Studies();
    return studies.empty()
               ? 0
               : static_cast<int64_t>(store->Metrics(studies[0].id, -1).size());
  } catch (const std::exception&) {
    return 0;
  }
}

// The study is complete, every trial is final, trial numbers are unique,
// each trial has exactly one metrics row per epoch it completed (1, 2, ...),
// and no metrics row was recorded after its attempt had ended (a late report
// of an attempt given up on). `complete` false skips the study's state.
inline void CheckConsistent(const std::string& db, const std::string& name,
                            bool complete = true) {
  auto store = Store::Open(db, true);
  std::optional<StudyRow> study = store->FindStudy(name);
  ASSERT_TRUE(study) << name;
  if (complete) {
    EXPECT_EQ(study->state, "complete");
  }
  std::map<int64_t, AttemptRow> attempts;
  for (const AttemptRow& a : store->Attempts(study->id)) attempts[a.id] = a;
  std::set<int64_t> numbers;
  for (const TrialRow& t : store->Trials(study->id)) {
    EXPECT_TRUE(numbers.insert(t.number).second);
    if (complete) {
      EXPECT_TRUE(IsFinal(t.state))
          << "trial " << t.number << " " << ToString(t.state);
    }
    std::vector<MetricRow> metrics = store->Metrics(study->id, t.number);
    ASSERT_EQ(static_cast<int>(metrics.size()), t.epochs)
        << "trial " << t.number;
    for (size_t i = 0; i < metrics.size(); ++i) {
      EXPECT_EQ(metrics[i].epoch, static_cast<int>(i) + 1);
      auto a = attempts.find(metrics[i].attempt_id);
      ASSERT_NE(a, attempts.end()) << "trial " << t.number << " epoch "
                                   << metrics[i].epoch << ": no attempt";
      EXPECT_EQ(a->second.trial, t.number);
      if (a->second.ended_at) {
        EXPECT_LE(metrics[i].recorded_at, *a->second.ended_at)
            << "trial " << t.number << " epoch " << metrics[i].epoch
            << " recorded after attempt " << a->second.attempt << " ("
            << a->second.state << ") had ended";
      }
    }
  }
}

// What a finished study decided, trial by trial: parameters, final state,
// epochs and every epoch's objective.
struct Outcome {
  nlohmann::json params;
  std::string state;
  int epochs = 0;
  std::vector<double> values;
  bool operator==(const Outcome& o) const {
    return params == o.params && state == o.state && epochs == o.epochs &&
           values == o.values;
  }
};

inline std::map<int64_t, Outcome> Outcomes(const std::string& db,
                                           const std::string& name) {
  auto store = Store::Open(db, true);
  const int64_t id = store->FindStudy(name)->id;
  std::map<int64_t, Outcome> out;
  for (const TrialRow& t : store->Trials(id)) {
    Outcome& o = out[t.number];
    o.params = t.params;
    o.state = ToString(t.state);
    o.epochs = t.epochs;
  }
  for (const MetricRow& m : store->Metrics(id, -1)) {
    out[m.trial].values.push_back(m.objective.value_or(-1));
  }
  return out;
}

// Expects two runs of a study to have decided the same, trial by trial.
inline void ExpectSameOutcomes(const std::string& db,
                               const std::string& reference_db,
                               const std::string& name) {
  const std::map<int64_t, Outcome> got = Outcomes(db, name);
  const std::map<int64_t, Outcome> want = Outcomes(reference_db, name);
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [number, o] : want) {
    auto it = got.find(number);
    ASSERT_NE(it, got.end()) << "trial " << number << " missing";
    EXPECT_TRUE(it->second == o)
        << "trial " << number << ": " << it->second.state << " after "
        << it->second.epochs << " epochs, undisturbed " << o.state << " after "
        << o.epochs;
  }
}

// The endpoint in a coordinator's "listening on ENDPOINT, ..." log line,
// waiting up to `seconds` for it (or until `coordinator`, when given, exits);
// "" if it never came.
inline std::string WaitForEndpoint(const std::string& log, double seconds,
                                   Process* coordinator = nullptr) {
  const std::string marker = "listening on ";
  WaitFor(
      [&] {
        return ReadFile(log).find(marker) != std::string::npos ||
               (coordinator != nullptr && coordinator->Wait(0).has_value());
      },
      seconds);
  const std::string text = ReadFile(log);
  size_t at = text.find(marker);
  if (at == std::string::npos) return "";
  at += marker.size();
  return text.substr(at, text.find(',', at) - at);
}

// How many times `needle` occurs in `text`.
inline int Occurrences(const std::string& text, const std::string& needle) {
  int n = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

}  // namespace hpo::testutil

#endif  // HPO_TESTS_UTIL_STUDY_CHECKS_H_
