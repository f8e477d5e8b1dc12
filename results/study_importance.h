// A study's parameter importance (search/importance.h) from the results
// database's rows, for hpo-query importance and hpo-report.
#ifndef HPO_RESULTS_STUDY_IMPORTANCE_H_
#define HPO_RESULTS_STUDY_IMPORTANCE_H_

#include <vector>

#include "common/store.h"
#include "search/importance.h"

namespace hpo {

struct StudyImportance {
  int epoch = 0;        // The epoch budget the trials were compared at.
  bool chosen = false;  // `epoch` was asked for, not picked.
  ImportanceResult result;
};

// Trials picked when no epoch is asked for: the largest epoch at least this
// many trials reached (or all trials with an objective, when fewer).
constexpr int kImportanceMinTrials = 10;

// The importance of `study`'s searched parameters over `trials`, each scored
// by its objective after `epoch` epochs (0: ImportanceEpoch with
// kImportanceMinTrials), from `metrics` (every trial's epochs). Throws
// hpo::Error (bad input) saying why when it cannot be computed: no search
// space, an epoch no trial reached, fewer than 2 trials.
StudyImportance ComputeStudyImportance(const StudyRow& study,
                                       const std::vector<TrialRow>& trials,
                                       const std::vector<MetricRow>& metrics,
                                       int epoch);

}  // namespace hpo

#endif  // HPO_RESULTS_STUDY_IMPORTANCE_H_
