#include "coordinator/test_evaluation.h"

#include <cmath>
#include <cstdio>
#include <utility>

namespace hpo {

using nlohmann::json;

TestEvaluation::TestEvaluation(Target target, int max_attempts,
                               const Clock& clock, Logger log)
    : target_(std::move(target)),
      max_attempts_(max_attempts),
      clock_(clock),
      log_(std::move(log)) {}

bool TestEvaluation::RunsOn(const std::string& identity) const {
  return lease_ != 0 && identity_ == identity;
}

bool TestEvaluation::Owns(const std::string& identity, int64_t lease) const {
  return RunsOn(identity) && lease_ == lease;
}

Message TestEvaluation::Start(const std::string& identity,
                              const std::string& worker, int64_t lease) {
  lease_ = lease;
  identity_ = identity;
  worker_ = worker;
  started_ = clock_.Now();
  return EvaluateMessage({lease_, target_.trial, target_.study, target_.params,
                          target_.epoch, target_.checkpoint, "test"});
}

std::optional<EvaluationRow> TestEvaluation::OnResult(
    const std::string& identity, const json& body) {
  if (!Owns(identity, body.at("lease").get<int64_t>()) ||
      body.at("trial").get<int64_t>() != target_.trial) {
    return std::nullopt;
  }
  const json& metrics = body.at("metrics");
  const std::string split = body.at("split").get<std::string>();
  const std::string prefix = split == "validation" ? "val" : split;
  auto number = [&](const std::string& name) -> std::optional<double> {
    auto it = metrics.find(name);
    if (it == metrics.end() || !it->is_number()) return std::nullopt;
    const double v = it->get<double>();
    return std::isfinite(v) ? std::optional<double>(v) : std::nullopt;
  };
  EvaluationRow row;
  row.trial = target_.trial;
  row.split = split;
  row.state = "done";
  row.checkpoint = target_.checkpoint;
  // The epochs the weights evaluated had trained, as the worker read them
  // from the checkpoint (the target's otherwise).
  const std::optional<double> trained = number("checkpoint_epoch");
  row.epoch = trained && *trained >= 1 && *trained <= 1e9
                  ? static_cast<int>(*trained)
                  : target_.epoch;
  row.loss = number(prefix + "_loss");
  row.accuracy = number(prefix + "_accuracy");
  row.track_accuracy = number(prefix + "_track_accuracy");
  row.samples = static_cast<int64_t>(number("samples").value_or(0));
  row.tracks = static_cast<int64_t>(number("tracks").value_or(0));
  row.metrics = metrics;
  for (const json& r : body.at("confusion")) {
    row.confusion.push_back(r.get<std::vector<int64_t>>());
  }
  row.classes = body.at("classes").get<std::vector<std::string>>();
  row.worker = worker_;
  row.recorded_at = clock_.WallTime();
  char line[200];
  std::snprintf(line, sizeof line,
                "trial %lld (after epoch %d) on the %s split: loss %.4f, "
                "accuracy %.4f (segments), %.4f (tracks)",
                static_cast<long long>(row.trial), row.epoch, split.c_str(),
                row.loss.value_or(std::nan("")),
                row.accuracy.value_or(std::nan("")),
                row.track_accuracy.value_or(std::nan("")));
  log_(line);
  lease_ = 0;
  return row;
}

std::optional<EvaluationRow> TestEvaluation::OnFailure(
    const std::string& kind, const std::string& reason, bool counts,
    bool elsewhere) {
  const std::string worker = worker_;
  lease_ = 0;
  identity_.clear();
  failures_ += counts;
  log_("evaluating trial " + std::to_string(target_.trial) +
       " failed: " + kind + ": " + reason);
  if ((Retryable(ParseFailureKind(kind)) || elsewhere) &&
      failures_ < max_attempts_) {
    return std::nullopt;
  }
  EvaluationRow row;
  row.trial = target_.trial;
  row.state = "failed";
  row.error = kind + ": " + reason;
  row.worker = worker;
  row.checkpoint = target_.checkpoint;
  row.epoch = target_.epoch;
  row.recorded_at = clock_.WallTime();
  return row;
}

bool TestEvaluation::Overdue(const std::string& identity,
                             const std::set<int64_t>& running,
                             double timeout_s) const {
  return RunsOn(identity) && !running.count(lease_) &&
         clock_.Now() - started_ > timeout_s;
}

}  // namespace hpo
