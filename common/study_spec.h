// The study file: what to search, how, and on what budget (README.md,
// "Study files").
//
// ParseStudy() validates a whole study at once and reports every problem with
// its JSON path and a hint; a StudySpec that it returns is known to be
// consistent, so later stages never re-check it.
#ifndef HPO_COMMON_STUDY_SPEC_H_
#define HPO_COMMON_STUDY_SPEC_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hpo {

enum class ParamType { kUniform, kLogUniform, kInt, kChoice };

// "Parameter `param` takes one of `any_of`": one entry of a `when` object.
struct Condition {
  std::string param;
  std::vector<nlohmann::json> any_of;

  // Whether `value` is one of any_of; numbers compare by value (3 and 3.0
  // are the same setting).
  bool HoldsFor(const nlohmann::json& value) const;
};

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::kUniform;
  double low = 0;    // uniform, loguniform, int (an integral value for int).
  double high = 0;   // Inclusive for int.
  bool log = false;  // int: sample on a log scale (loguniform is always log).
  int64_t step = 1;  // int only.
  std::vector<nlohmann::json> values;  // choice: the options, any JSON.
  std::vector<nlohmann::json> grid;    // Optional explicit grid points.
  std::vector<Condition> when;         // Active only if all hold.
  // An element of a list parameter (`"type": "list"`): the list's name and
  // this element's index; `name` is then "LIST[INDEX]". Empty and -1 for a
  // parameter of its own.
  std::string list;
  int index = -1;

  bool is_log() const { return type == ParamType::kLogUniform || log; }
  // The trainer setting this parameter sets: the list's name for an element.
  const std::string& setting() const { return list.empty() ? name : list; }
};

// "channels[2]" -> ("channels", 2); nullopt for a name that is not of that
// form (INDEX decimal, without leading zeros).
std::optional<std::pair<std::string, int>> SplitElementName(
    const std::string& name);

// `params` (a trial's searched values) laid over `base` (fixed settings),
// with list elements ("channels[2]": 64) written into their list
// ("channels": [.., .., 64, ..]), which replaces a list of that name in
// `base` (an index not given is null). With keep_elements, the "LIST[INDEX]"
// keys stay as well (a program's HPO_PARAMS); without, they are dropped (hpo's
// own trainers).
nlohmann::json WithLists(const nlohmann::json& base,
                         const nlohmann::json& params, bool keep_elements);

// Parameters in name order (the order of a JSON object after parsing).
struct SearchSpaceSpec {
  std::vector<ParamSpec> params;

  // Returns the parameter called `name`, or nullptr.
  const ParamSpec* Find(const std::string& name) const;
  // The elements of list parameter `list`, in index order; empty if there is
  // no such list.
  std::vector<const ParamSpec*> Elements(const std::string& list) const;
};

enum class ObjectiveMode { kMin, kMax };

struct ObjectiveSpec {
  std::string metric = "val_accuracy";
  ObjectiveMode mode = ObjectiveMode::kMax;
};

enum class AlgorithmType {
  kRandom,
  kGrid,
  kSuccessiveHalving,
  kHyperband,
  kAsha,
  kMedian,
  kPbt,
};

// How an algorithm proposes new configurations (`algorithm.sampler`).
enum class SamplerType { kRandom, kGrid, kTpe, kBohb };

// How a multi-fidelity study's observations enter TPE's model.
enum class TpeObservations {
  // Optuna's rule for pruned trials: every trial counts once, ranked by how
  // many epochs it reached (more is better), then by its last value.
  kFurthest,
  // BOHB's rule: only the values at the largest epoch count that at least
  // n_startup_trials trials reached, each trial's value at that epoch.
  kLargestBudget,
};

struct SamplerSpec {
  SamplerType type = SamplerType::kRandom;  // grid for the grid algorithm.
  // Running trials count as the worst value (a "constant liar"), so that
  // simultaneous proposals spread out.
  bool constant_liar = true;
  // tpe (Optuna 3.1's defaults).
  int n_startup_trials = 10;
  int n_ei_candidates = 24;
  double prior_weight = 1.0;
  bool consider_magic_clip = true;
  bool consider_endpoints = false;
  bool multivariate = false;
  double gamma = 0.1;  // The good set holds min(ceil(gamma n), gamma_max).
  int gamma_max = 25;
  TpeObservations observations = TpeObservations::kFurthest;
  // bohb (the BOHB paper's and HpBandSter's defaults).
  double top_n_percent = 15;
  int min_points_in_model = 0;  // 0: the number of parameters + 2.
  double min_bandwidth = 1e-3;
  double random_fraction = 1.0 / 3;
  int num_samples = 64;
  double bandwidth_factor = 3;
};

struct AlgorithmSpec {
  AlgorithmType type = AlgorithmType::kRandom;
  int min_epochs = 1;
  int max_epochs = 1;
  int eta = 3;
  int64_t n = 0;          // successive_halving: trials in the first rung.
  int brackets = 1;       // asha: number of brackets (early-stopping rates).
  int iterations = 1;     // hyperband: times the whole set of brackets runs.
  int warmup_epochs = 1;  // median: no stopping before this many epochs.
  int min_trials = 3;     // median: completed trials needed before stopping.
  // pbt (README "Population-based training"): `population` members train
  // to max_epochs in jobs of `interval` epochs; at each boundary one in the
  // bottom `quantile` copies a top-quantile member's checkpoint and perturbs
  // the `mutable` parameters.
  int population = 0;
  int interval = 0;
  double quantile = 0.25;
  double resample_probability = 0.25;
  std::vector<double> perturb_factors = {0.8, 1.2};
  std::vector<std::string> mutable_params;  // Search-space names, in order.
  SamplerSpec sampler;
};

struct BudgetSpec {
  int64_t max_trials = 0;  // 0: as many as the algorithm plans.
  double max_hours = 0;    // 0: no time limit.
};

struct ExecutionSpec {
  int max_attempts = 3;
  double heartbeat_s = 2;
  double lease_timeout_s = 20;
  // The command trainer: seconds between SIGTERM and SIGKILL when a
  // program is stopped, and the longest a program may go without reporting
  // an epoch before it is killed and the attempt retried (0: no limit).
  double stop_grace_s = 10;
  double epoch_timeout_s = 0;
};

struct StudySpec {
  std::string name;
  std::string description;
  uint64_t seed = 0;
  ObjectiveSpec objective;
  std::string data_shards;  // Empty when the study names no data.
  // Fixed training settings; a searched parameter of the same name
  // overrides its value here for each trial.
  nlohmann::json trainer = nlohmann::json::object();
  // trainer.command (the command trainer, README "Your own training
  // script"): the program and its arguments, `{name}` standing for a
  // parameter; empty for hpo's own trainers.
  std::vector<std::string> command;
  SearchSpaceSpec search_space;
  AlgorithmSpec algorithm;
  BudgetSpec budget;
  ExecutionSpec execution;
  // Configurations to run first, in order (`enqueue`): each holds values for
  // some or all of the searched parameters; the sampler fills in the rest.
  std::vector<nlohmann::json> enqueue;
  // trainer.keep "best": each trial keeps the checkpoint of its best epoch
  // by the objective beside its latest, the test evaluation uses it, and
  // trials rank by their best value (else by the value at their last
  // epoch).
  bool keep_best = false;
};

// The metrics a worker reports each epoch (README.md, "Study files").
const std::vector<std::string>& KnownMetrics();

// Validates `study` (already parsed JSON). `source` names the file in
// messages. Throws hpo::ValidationError listing every problem, one per line,
// as `SOURCE: JSON.PATH: what is wrong (hint)`.
StudySpec ParseStudy(const nlohmann::json& study, const std::string& source);

// The search space of `study` alone, checked as ParseStudy checks it but
// without the trainer's settings (for readers of a stored study, such as
// parameter importance, that need only its parameters). Throws
// hpo::ValidationError like ParseStudy.
SearchSpaceSpec ParseSearchSpaceOf(const nlohmann::json& study,
                                   const std::string& source);

// Reads, parses and validates a study file. Throws hpo::Error (bad input) for
// an unreadable file or invalid JSON (with line and column), and
// hpo::ValidationError for invalid contents.
StudySpec LoadStudyFile(const std::string& path);

std::string ToString(ParamType type);
std::string ToString(AlgorithmType type);
std::string ToString(ObjectiveMode mode);
std::string ToString(SamplerType type);

// How a recorded study's file proposes configurations, for listings: its
// sampler ("random", "grid", "tpe", "tpe multivariate", "bohb"), then ", N
// enqueued" if it has an enqueue list. Read leniently from the file's text.
std::string SamplerSummary(const std::string& study_text);
// What trains a recorded study's trials, for listings: its trainer.model
// ("cnn", "synthetic", ...) or, for the command trainer, its command as
// written ("python3 train.py --lr {lr}"). Read leniently.
std::string TrainerSummary(const std::string& study_text);
std::string ToString(TpeObservations observations);

}  // namespace hpo

#endif  // HPO_COMMON_STUDY_SPEC_H_
