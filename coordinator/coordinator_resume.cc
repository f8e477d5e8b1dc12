// Resuming a study: the study file checked against the recorded one, the
// scheduler rebuilt from the event log, the interrupted jobs requeued.
#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.h"
#include "common/json_util.h"
#include "coordinator/coordinator.h"

namespace hpo {

using nlohmann::json;

namespace {

// Parts of a study file that may change between sessions: they do not
// affect which configurations run or in what order.
bool MayChangeOnResume(const std::string& change) {
  return change.rfind("description", 0) == 0 ||
         change.rfind("budget.max_hours", 0) == 0 ||
         change.rfind("execution", 0) == 0;
}

}  // namespace

void Coordinator::ResumeFrom(const StudyRow& study, const json& spec_json) {
  json before;
  try {
    before = json::parse(study.spec);
  } catch (const json::exception&) {
    throw BadInput(store_.path() + ": the recorded file of study \"" +
                   study.name + "\" is not JSON; the database is damaged");
  }
  std::vector<std::string> refused;
  for (const std::string& change : DescribeChanges(before, spec_json)) {
    if (!MayChangeOnResume(change)) refused.push_back(change);
  }
  if (!refused.empty()) {
    std::string list;
    for (size_t i = 0; i < refused.size() && i < 5; ++i) {
      list += (i ? "; " : "") + refused[i];
    }
    if (refused.size() > 5) {
      list += "; and " + std::to_string(refused.size() - 5) + " more";
    }
    throw BadInput("--resume: the study file changed since study \"" +
                   study.name + "\" started (" + list +
                   "); resuming needs the same search (only description, "
                   "budget.max_hours and execution may change): restore the "
                   "file, or start a new study under another name");
  }
  study_id_ = study.id;
  prior_elapsed_ = study.elapsed_s;

  // Rebuild the scheduler from its event log.
  std::vector<std::string> events = store_.Events(study_id_);
  for (const std::string& text : events) {
    json event = json::parse(text, nullptr, false);
    if (event.is_discarded()) {
      throw BadInput(store_.path() + ": event " + std::to_string(next_event_) +
                     " of study \"" + study.name + "\" is not JSON");
    }
    scheduler_->Apply(SchedulerEvent::FromJson(event));
    ++next_event_;
  }
  scheduler_->TakeStateChanges();
  scheduler_->TakeExploits();  // Recorded when they were decided.
  if (study.state == "complete") {
    outcome_ = "complete";
    finished_ = true;
    log_("study \"" + study.name + "\" is already complete; nothing to do");
    return;
  }

  for (TrialRow& row : store_.Trials(study_id_)) {
    TrialInfo& info = trials_[row.number];
    info.row = std::move(row);
  }
  for (const MetricRow& m : store_.Metrics(study_id_, -1)) {
    auto it = trials_.find(m.trial);
    if (it == trials_.end()) continue;
    std::vector<double>& values = it->second.values;
    values.resize(std::max(values.size(), static_cast<size_t>(m.epoch)),
                  std::nan(""));
    values[static_cast<size_t>(m.epoch - 1)] =
        m.objective.value_or(std::nan(""));
  }
  for (const AttemptRow& a : store_.Attempts(study_id_)) {
    if (a.state == "lost" || a.state == "failed") ++trials_[a.trial].failures;
    if (a.state == "running") {
      store_.EndAttempt(a.id, "interrupted", "the coordinator stopped",
                        clock_.WallTime());
    }
  }
  for (const CheckpointRow& c : store_.Checkpoints(study_id_)) {
    shared_[{c.trial, c.epoch}] = c.path;
  }
  for (const auto& [number, info] : trials_) {
    if ((info.row.state == TrialState::kPruned ||
         info.row.state == TrialState::kFailed) &&
        !info.row.checkpoint.empty() && !shared_checkpoints_) {
      forget_.insert(number);
    }
  }
  int requeued = 0;
  for (const Job& job : scheduler_->RunningJobs()) {
    Requeue(job.trial);
    ++requeued;
  }
  for (const auto& [number, info] : trials_) {
    for (double v : info.values) {
      double score = scheduler_->Score(v);
      if (std::isfinite(score) && (best_trial_ < 0 || score < best_score_)) {
        best_trial_ = number;
        best_score_ = score;
        best_value_ = v;
      }
    }
  }
  store_.UpdateStudy(study_id_, "running", prior_elapsed_, clock_.WallTime());
  log_("resuming study \"" + study.name +
       "\": " + std::to_string(trials_.size()) + " trials recorded, " +
       std::to_string(events.size()) + " scheduler events replayed, " +
       std::to_string(requeued) + " jobs queued to restart");
}

}  // namespace hpo
