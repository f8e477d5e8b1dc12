// The coordinator's side of the test-split evaluation (test_evaluation.h):
// which trial, on which worker, and recording the outcome.
#include <memory>
#include <optional>

#include "common/error.h"
#include "coordinator/coordinator.h"

namespace hpo {

void Coordinator::EvaluateOrFinish() {
  if (evaluation_) return;  // Under way.
  const std::string model = spec_.trainer.value("model", "");
  if (model.empty() || model == "synthetic") {
    Finish("complete");  // Analytic curves have no test split.
    return;
  }
  // The best complete trial whose checkpoint holds its last epoch.
  const TrialInfo* best = nullptr;
  for (const auto& [number, info] : trials_) {
    const TrialRow& r = info.row;
    if (r.state != TrialState::kComplete || !r.value || r.checkpoint.empty() ||
        r.checkpoint_epoch != r.epochs) {
      continue;
    }
    if (best == nullptr ||
        scheduler_->Score(*r.value) < scheduler_->Score(*best->row.value)) {
      best = &info;
    }
  }
  if (best == nullptr) {
    log_(
        "no complete trial has a checkpoint: nothing to evaluate on the "
        "test split");
    Finish("complete");
    return;
  }
  for (const EvaluationRow& e : store_.Evaluations(study_id_)) {
    if (e.trial == best->row.number && e.split == "test") {
      Finish("complete");  // Evaluated before a restart.
      return;
    }
  }
  evaluation_ = std::make_unique<TestEvaluation>(
      TestEvaluation::Target{spec_.name, best->row.number, best->row.params,
                             best->row.epochs, best->row.checkpoint},
      spec_.execution.max_attempts, clock_, log_);
  log_("search complete; evaluating the best trial, " +
       std::to_string(best->row.number) + ", on the test split");
  DispatchEvaluation();
}

void Coordinator::DispatchEvaluation() {
  if (!evaluation_ || !evaluation_->waiting() || finished_) return;
  for (auto& [identity, worker] : workers_) {
    if (static_cast<int>(worker.leases.size()) >= worker.slots) continue;
    if (PassedOver(worker)) continue;
    Send(identity, evaluation_->Start(identity, worker.name, NewLease()));
    return;
  }
}

void Coordinator::HandleEvaluation(const std::string& identity,
                                   const Message& m) {
  std::optional<EvaluationRow> row;
  if (evaluation_) row = evaluation_->OnResult(identity, m.body);
  if (!row) {
    ++dropped_;  // Stale.
    return;
  }
  EndEvaluation(*row);
}

void Coordinator::EvaluationFailed(const std::string& kind,
                                   const std::string& reason, bool counts,
                                   bool elsewhere) {
  std::optional<EvaluationRow> row =
      evaluation_->OnFailure(kind, reason, counts, elsewhere);
  if (row) {
    EndEvaluation(*row);
  } else {
    DispatchEvaluation();
  }
}

void Coordinator::EndEvaluation(const EvaluationRow& row) {
  store_.PutEvaluation(study_id_, row);
  evaluation_.reset();
  Finish("complete");
}

}  // namespace hpo
