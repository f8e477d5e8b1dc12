// Checkpoint clean-up: asks a worker to delete the checkpoints of pruned
// and failed trials, which nothing will restore.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

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
  SweepSharedCheckpoints();
}

void Coordinator::SweepSharedCheckpoints() {
  for (auto it = shared_.begin(); it != shared_.end();) {
    const auto [trial, epoch] = it->first;
    if (scheduler_->KeepsCheckpoint(trial, epoch).value_or(true)) {
      ++it;
      continue;
    }
    forget_paths_.push_back(it->second);
    store_.DeleteCheckpoint(study_id_, trial, epoch);
    auto t = trials_.find(trial);
    if (t != trials_.end() && t->second.row.checkpoint == it->second) {
      t->second.row.checkpoint.clear();
      t->second.row.checkpoint_epoch = 0;
      SaveTrial(t->second);
    }
    it = shared_.erase(it);
  }
}

void Coordinator::ForgetCheckpoints() {
  if ((forget_.empty() && forget_paths_.empty()) || workers_.empty()) return;
  std::vector<std::string> paths;
  paths.swap(forget_paths_);
  for (int64_t trial : forget_) {
    TrialInfo& info = trials_.at(trial);
    if (info.row.checkpoint.empty()) continue;
    paths.push_back(info.row.checkpoint);
    info.row.checkpoint.clear();
    info.row.checkpoint_epoch = 0;
    SaveTrial(info);
  }
  forget_.clear();
  if (paths.empty()) return;
  // Every worker sees the same checkpoint directory: one deletes.
  Send(workers_.begin()->first, ForgetMessage(spec_.name, paths));
}

}  // namespace hpo
