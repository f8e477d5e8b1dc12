// The life cycle of a trial, shared by the scheduler, the coordinator and the
// store.
#ifndef HPO_COMMON_TRIAL_STATE_H_
#define HPO_COMMON_TRIAL_STATE_H_

#include <optional>
#include <string>

namespace hpo {

enum class TrialState {
  kQueued,    // Decided on, not yet on a worker.
  kRunning,   // A worker is training it.
  kPaused,    // Reached the end of a rung; waits for a promotion decision.
  kComplete,  // Trained to its final epoch.
  kPruned,    // Stopped early by the scheduler.
  kFailed,    // Failed (diverged, crashed, out of attempts).
  kLost,      // Its worker vanished; an attempt that will be retried.
};

inline const char* ToString(TrialState state) {
  switch (state) {
    case TrialState::kQueued:
      return "queued";
    case TrialState::kRunning:
      return "running";
    case TrialState::kPaused:
      return "paused";
    case TrialState::kComplete:
      return "complete";
    case TrialState::kPruned:
      return "pruned";
    case TrialState::kFailed:
      return "failed";
    case TrialState::kLost:
      return "lost";
  }
  return "?";
}

// The state named `name` (as ToString() writes it), if any.
inline std::optional<TrialState> TrialStateFromString(const std::string& name) {
  for (TrialState s :
       {TrialState::kQueued, TrialState::kRunning, TrialState::kPaused,
        TrialState::kComplete, TrialState::kPruned, TrialState::kFailed,
        TrialState::kLost}) {
    if (name == ToString(s)) return s;
  }
  return std::nullopt;
}

// True for states a trial never leaves.
inline bool IsFinal(TrialState state) {
  return state == TrialState::kComplete || state == TrialState::kPruned ||
         state == TrialState::kFailed;
}

}  // namespace hpo

#endif  // HPO_COMMON_TRIAL_STATE_H_
