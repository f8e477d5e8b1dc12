// libFuzzer target for the search side: a study file that validates, and the
// scheduler built from it, as `hpo-coordinator --plan` and the start of a
// study use them.
//
// Contract checked: for any study that ParseStudy() accepts, NewScheduler(),
// Plan() and the first jobs finish quickly and in bounded memory (libFuzzer's
// -timeout and -rss_limit_mb), without crashing or throwing. Grid searches
// of more than kMaxFuzzedGridPoints points are left out: the grid sampler
// builds every point up front, in time and memory linear in the grid (which
// validation bounds), and under the sanitizers a grid of 100000 points takes
// seconds, which would read as a hang.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/error.h"
#include "common/json_util.h"
#include "common/study_spec.h"
#include "search/scheduler.h"

namespace {

// Jobs handed out per input: enough to start trials, finish them and see
// promotions, few enough to keep the target fast.
constexpr int kSteps = 32;
constexpr double kMaxFuzzedGridPoints = 1e4;

// Points of a grid search over `spec`, counted as ParseStudy() counts them.
double GridPoints(const hpo::StudySpec& spec) {
  double points = 1;
  for (const hpo::ParamSpec& p : spec.search_space.params) {
    if (!p.grid.empty()) {
      points *= static_cast<double>(p.grid.size());
    } else if (p.type == hpo::ParamType::kChoice) {
      points *= static_cast<double>(p.values.size());
    } else {
      points *= (p.high - p.low) / static_cast<double>(p.step) + 1;
    }
  }
  return points;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hpo::StudySpec spec;
  try {
    spec = hpo::ParseStudy(
        hpo::ParseJsonText(
            std::string(reinterpret_cast<const char*>(data), size),
            "fuzz.json"),
        "fuzz.json");
  } catch (const hpo::Error&) {
    return 0;  // Only valid studies reach the scheduler.
  }
  if (spec.algorithm.type == hpo::AlgorithmType::kGrid &&
      GridPoints(spec) > kMaxFuzzedGridPoints) {
    return 0;
  }
  std::unique_ptr<hpo::Scheduler> scheduler = hpo::NewScheduler(spec);
  (void)scheduler->Plan().dump();
  // Run jobs to their end with made-up values (the trial number, so that
  // promotions differ), failing every fifth.
  for (int step = 0; step < kSteps; ++step) {
    hpo::Decision d = scheduler->NextJob();
    if (d.type != hpo::Decision::Type::kRun) break;
    (void)d.job.params.dump();
    if (d.job.trial % 5 == 4) {
      scheduler->OnFailed(d.job.trial);
      continue;
    }
    const int first = d.job.from_epoch + 1;
    const double value = static_cast<double>(d.job.trial % 7);
    if (scheduler->OnEpoch(d.job.trial, first, value) ==
        hpo::Verdict::kContinue) {
      scheduler->OnEpoch(d.job.trial, d.job.to_epoch, value);
    }
  }
  (void)scheduler->TakeStateChanges();
  return 0;
}
