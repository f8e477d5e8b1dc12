// Checkpoint clean-up: asks a worker to delete the checkpoints of pruned
// and failed trials, which nothing will restore.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

#include "common/error.h"
#include "common/json_util.h"
#include "coordinator/coordinator.h"

namespace hpo {

using nlohmann::json;

void Coordinator::SaveExploits() {
  if (!shared_checkpoints_) return;
  for (const Exploit& e : scheduler_->TakeExploits()) {
    TrialInfo& info = trials_.at(e.trial);
    info.row.params = e.new_params;
    SaveTrial(info);
    ExploitRow row;
    row.trial = e.trial;
    row.epoch = e.epoch;
    row.parent = e.parent;
    row.parent_epoch = e.parent_epoch;
    row.old_params = e.old_params;
    row.new_params = e.new_params;
    row.recorded_at = clock_.WallTime();
    store_.AddExploit(study_id_, row);
    auto brief = [](const json& v) {
      if (!v.is_number_float()) return v.dump();
      char text[32];
      std::snprintf(text, sizeof text, "%.4g", v.get<double>());
      return std::string(text);
    };
    std::string changed;
    for (const auto& [key, value] : e.new_params.items()) {
      const json old = e.old_params.value(key, json());
      if (old == value) continue;
      changed += (changed.empty() ? "" : ", ") + key + " " + brief(old) +
                 " -> " + brief(value);
    }
    log_("trial " + std::to_string(e.trial) + " (bottom) copies trial " +
         std::to_string(e.parent) + " (top) after epoch " +
         std::to_string(e.epoch) + (changed.empty() ? "" : ": " + changed));
  }
}

void Coordinator::SweepSharedCheckpoints() {
  std::set<std::string> dropped;
  for (auto it = shared_.begin(); it != shared_.end();) {
    const auto [trial, epoch] = it->first;
    if (scheduler_->KeepsCheckpoint(trial, epoch).value_or(true)) {
      ++it;
      continue;
    }
    dropped.insert(it->second);
    store_.DeleteCheckpoint(study_id_, trial, epoch);
    it = shared_.erase(it);
  }
  if (dropped.empty()) return;
  // A program may write one file for every epoch (trainer.command): a path
  // another kept entry or a trial's latest checkpoint still names stays.
  for (const auto& [key, path] : shared_) dropped.erase(path);
  for (const auto& [number, info] : trials_) {
    if (!IsFinal(info.row.state)) continue;
    if (info.row.state == TrialState::kComplete) {
      dropped.erase(info.row.checkpoint);
    }
  }
  for (auto& [number, info] : trials_) {
    if (!info.row.checkpoint.empty() && dropped.count(info.row.checkpoint)) {
      info.row.checkpoint.clear();
      info.row.checkpoint_epoch = 0;
      SaveTrial(info);
    }
  }
  // Sent once the batch that records these decisions is committed: a
  // coordinator killed before it would make them again, and may need them.
  uncommitted_forgets_.insert(uncommitted_forgets_.end(), dropped.begin(),
                              dropped.end());
}

void Coordinator::ForgetCheckpoints() {
  if ((forget_.empty() && forget_paths_.empty()) || workers_.empty()) return;
  std::vector<std::string> paths;
  paths.swap(forget_paths_);
  for (int64_t trial : forget_) {
    TrialInfo& info = trials_.at(trial);
    if (info.row.checkpoint.empty() && info.row.best_checkpoint.empty()) {
      continue;
    }
    for (std::string* path :
         {&info.row.checkpoint, &info.row.best_checkpoint}) {
      if (!path->empty()) paths.push_back(*path);
      path->clear();
    }
    info.row.checkpoint_epoch = 0;
    info.row.best_checkpoint_epoch = 0;
    SaveTrial(info);
  }
  forget_.clear();
  if (paths.empty()) return;
  // Every worker sees the same checkpoint directory: one deletes.
  Send(workers_.begin()->first, ForgetMessage(spec_.name, paths));
}

}  // namespace hpo
