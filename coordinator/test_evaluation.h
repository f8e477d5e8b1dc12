// The test-split evaluation of a study's best trial, once its search is over:
// one attempt at a time on a worker, retried after a failure while attempts
// remain, then one row for the evaluations table (done or failed).
//
// TestEvaluation owns the attempt's state (its lease, its worker, how many
// attempts failed) and nothing else: the coordinator picks the worker, sends
// what Start() returns, and records the row that OnResult() or OnFailure()
// hands back, after which the evaluation is over.
#ifndef HPO_COORDINATOR_TEST_EVALUATION_H_
#define HPO_COORDINATOR_TEST_EVALUATION_H_

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

#include "common/clock.h"
#include "common/protocol.h"
#include "common/store.h"

namespace hpo {

class TestEvaluation {
 public:
  using Logger = std::function<void(const std::string&)>;

  // What is evaluated: trial `trial` of study `study`, with `params`, from
  // `checkpoint`, which holds `epoch` epochs.
  struct Target {
    std::string study;
    int64_t trial = -1;
    nlohmann::json params;
    int epoch = 0;
    std::string checkpoint;
  };

  // `max_attempts`: attempts that may fail (execution.max_attempts) before
  // the failure is recorded.
  TestEvaluation(Target target, int max_attempts, const Clock& clock,
                 Logger log);

  int64_t trial() const { return target_.trial; }
  // No attempt runs: it waits for a worker with a free slot.
  bool waiting() const { return lease_ == 0; }
  // An attempt runs on the worker with routing id `identity`.
  bool RunsOn(const std::string& identity) const;
  // ... and it is the attempt with lease `lease`.
  bool Owns(const std::string& identity, int64_t lease) const;

  // Starts an attempt with lease `lease` on worker `worker` (routing id
  // `identity`); returns the "evaluate" message to send it. Only while
  // waiting().
  Message Start(const std::string& identity, const std::string& worker,
                int64_t lease);

  // An "evaluation" message from `identity`: the row to record (the
  // evaluation is then over), or nullopt when it is not for the running
  // attempt (stale).
  std::optional<EvaluationRow> OnResult(const std::string& identity,
                                        const nlohmann::json& body);

  // The running attempt failed with `kind` (a FailureKind's name, as the
  // worker sent it) or its worker was lost. Returns
  // nullopt when it is to be retried (waiting() again: start it on another
  // worker), else the failed row to record (the evaluation is over).
  // `counts`: the attempt counts towards max_attempts. `elsewhere`: retry on
  // another worker even if `kind` is not retryable (a "data" failure from a
  // worker that is now passed over).
  std::optional<EvaluationRow> OnFailure(const std::string& kind,
                                         const std::string& reason,
                                         bool counts = true,
                                         bool elsewhere = false);

  // A heartbeat from `identity` that lists the leases it runs: true when the
  // attempt runs there, is not listed, and nothing was heard of it for
  // `timeout_s` (a lost message; fail it with OnFailure).
  bool Overdue(const std::string& identity, const std::set<int64_t>& running,
               double timeout_s) const;

 private:
  const Target target_;
  const int max_attempts_;
  const Clock& clock_;
  Logger log_;
  int failures_ = 0;
  int64_t lease_ = 0;  // Of the running attempt; 0 when none runs.
  std::string identity_;
  std::string worker_;  // Name of the worker that runs it.
  double started_ = 0;
};

}  // namespace hpo

#endif  // HPO_COORDINATOR_TEST_EVALUATION_H_
