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
  // The best complete trial whose checkpoint holds its last epoch; with
  // trainer.keep "best", the one whose best epoch is best, from the
  // checkpoint of that epoch.
  const bool by_best = spec_.keep_best;
  auto kept = [by_best](const TrialRow& r) {
    return by_best ? r.best_value : r.value;
  };
  const TrialInfo* best = nullptr;
  for (const auto& [number, info] : trials_) {
    const TrialRow& r = info.row;
    const bool has_checkpoint =
        by_best ? !r.best_checkpoint.empty()
                : !r.checkpoint.empty() && r.checkpoint_epoch == r.epochs;
    if (r.state != TrialState::kComplete || !kept(r) || !has_checkpoint) {
      continue;
    }
    if (best == nullptr ||
        scheduler_->Score(*kept(r)) < scheduler_->Score(*kept(best->row))) {
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
  const int epoch =
      by_best ? best->row.best_checkpoint_epoch : best->row.epochs;
  evaluation_ = std::make_unique<TestEvaluation>(
      TestEvaluation::Target{
          spec_.name, best->row.number, best->row.params, epoch,
          by_best ? best->row.best_checkpoint : best->row.checkpoint},
      spec_.execution.max_attempts, clock_, log_);
  log_("search complete; evaluating the best trial, " +
       std::to_string(best->row.number) + ", on the test split" +
       (by_best
            ? " with the weights of its best epoch, " + std::to_string(epoch) +
                  " of " + std::to_string(best->row.epochs)
            : std::string()));
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
