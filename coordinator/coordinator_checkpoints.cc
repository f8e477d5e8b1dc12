// Checkpoint clean-up: asks a worker to delete the checkpoints of pruned
// and failed trials, which nothing will restore.
#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.h"
#include "common/json_util.h"
#include "coordinator/coordinator.h"

namespace hpo {

using nlohmann::json;

void Coordinator::ForgetCheckpoints() {
  if (forget_.empty() || workers_.empty()) return;
  std::vector<std::string> paths;
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
