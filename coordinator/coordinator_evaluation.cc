// The best trial on the test split once the search is over: dispatched to
// a worker with a free slot, retried on failure, recorded, then the end.
#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.h"
#include "common/json_util.h"
#include "coordinator/coordinator.h"

namespace hpo {

using nlohmann::json;

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
  evaluation_ = Evaluation{};
  evaluation_->trial = best->row.number;
  evaluation_->epoch = best->row.epochs;
  evaluation_->checkpoint = best->row.checkpoint;
  log_("search complete; evaluating the best trial, " +
       std::to_string(best->row.number) + ", on the test split");
  DispatchEvaluation();
}

void Coordinator::DispatchEvaluation() {
  if (!evaluation_ || evaluation_->lease != 0 || finished_) return;
  for (auto& [identity, worker] : workers_) {
    if (static_cast<int>(worker.leases.size()) >= worker.slots) continue;
    if (PassedOver(worker)) continue;
    const TrialInfo& info = trials_.at(evaluation_->trial);
    evaluation_->lease = NewLease();
    evaluation_->identity = identity;
    evaluation_->worker = worker.name;
    evaluation_->last_activity = clock_.Now();
    Send(identity,
         EvaluateMessage({evaluation_->lease, evaluation_->trial, spec_.name,
                          info.row.params, evaluation_->epoch,
                          evaluation_->checkpoint, "test"}));
    return;
  }
}

void Coordinator::HandleEvaluation(const std::string& identity,
                                   const Message& m) {
  const json& b = m.body;
  if (!evaluation_ || evaluation_->lease == 0 ||
      evaluation_->lease != b.at("lease").get<int64_t>() ||
      evaluation_->identity != identity ||
      evaluation_->trial != b.at("trial").get<int64_t>()) {
    ++dropped_;  // Stale.
    return;
  }
  const json& metrics = b.at("metrics");
  const std::string split = b.at("split").get<std::string>();
  const std::string p = split == "validation" ? "val" : split;
  auto number = [&](const std::string& name) -> std::optional<double> {
    auto it = metrics.find(name);
    if (it == metrics.end() || !it->is_number()) return std::nullopt;
    double v = it->get<double>();
    return std::isfinite(v) ? std::optional<double>(v) : std::nullopt;
  };
  EvaluationRow row;
  row.trial = evaluation_->trial;
  row.split = split;
  row.state = "done";
  row.checkpoint = evaluation_->checkpoint;
  row.epoch = evaluation_->epoch;
  row.loss = number(p + "_loss");
  row.accuracy = number(p + "_accuracy");
  row.track_accuracy = number(p + "_track_accuracy");
  row.samples = static_cast<int64_t>(number("samples").value_or(0));
  row.tracks = static_cast<int64_t>(number("tracks").value_or(0));
  row.metrics = metrics;
  for (const json& r : b.at("confusion")) {
    row.confusion.push_back(r.get<std::vector<int64_t>>());
  }
  row.classes = b.at("classes").get<std::vector<std::string>>();
  row.worker = workers_.at(identity).name;
  row.recorded_at = clock_.WallTime();
  store_.PutEvaluation(study_id_, row);
  char line[200];
  std::snprintf(line, sizeof line,
                "trial %lld on the %s split: loss %.4f, accuracy %.4f "
                "(segments), %.4f (tracks)",
                static_cast<long long>(row.trial), split.c_str(),
                row.loss.value_or(std::nan("")),
                row.accuracy.value_or(std::nan("")),
                row.track_accuracy.value_or(std::nan("")));
  log_(line);
  evaluation_.reset();
  Finish("complete");
}

void Coordinator::EvaluationFailed(const std::string& kind,
                                   const std::string& reason, bool counts,
                                   bool elsewhere) {
  Evaluation& e = *evaluation_;
  const std::string worker = e.worker;
  e.lease = 0;
  e.identity.clear();
  e.failures += counts;
  log_("evaluating trial " + std::to_string(e.trial) + " failed: " + kind +
       ": " + reason);
  if ((Retryable(ParseFailureKind(kind)) || elsewhere) &&
      e.failures < spec_.execution.max_attempts) {
    DispatchEvaluation();
    return;
  }
  EvaluationRow row;
  row.trial = e.trial;
  row.state = "failed";
  row.error = kind + ": " + reason;
  row.worker = worker;
  row.checkpoint = e.checkpoint;
  row.epoch = e.epoch;
  row.recorded_at = clock_.WallTime();
  store_.PutEvaluation(study_id_, row);
  evaluation_.reset();
  Finish("complete");
}

}  // namespace hpo
