// What a scheduler knows of each trial, and the jobs it hands out. Samplers
// read the same records to learn from what has been observed.
#ifndef HPO_SEARCH_TRIAL_RECORD_H_
#define HPO_SEARCH_TRIAL_RECORD_H_

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/trial_state.h"

namespace hpo {

struct Job {
  int64_t trial = -1;
  nlohmann::json params;  // The trial's parameters (every job carries them).
  int from_epoch = 0;     // Checkpoint to resume from; 0 for a new trial.
  int to_epoch = 0;       // Train until this many epochs are complete.
  int bracket = 0;        // Hyperband/ASHA bracket (0 otherwise).
  int rung = 0;           // Rung the job trains for (0 otherwise).
  // PBT: the trial whose checkpoint after from_epoch epochs the job resumes
  // (another member after an exploit); -1: the trial's own.
  int64_t source = -1;
};

// What a scheduler knows of one trial.
struct TrialRecord {
  int64_t number = -1;
  nlohmann::json params;
  TrialState state = TrialState::kRunning;
  int bracket = 0;
  int rung = 0;
  int epochs = 0;             // Epochs completed.
  std::vector<double> score;  // score[e-1]: epoch e's value in minimisation
                              // form (negated for "max"; NaN becomes +inf).
  Job job;                    // The current (or last) job.
};

// Every trial a scheduler has started, by number.
using TrialHistory = std::map<int64_t, TrialRecord>;

}  // namespace hpo

#endif  // HPO_SEARCH_TRIAL_RECORD_H_
