// Each scheduler repeats PyTorch 1.13's arithmetic operation for operation
// (torch/optim/lr_scheduler.py), so that the doubles match PyTorch's exactly:
// step, exponential and cosine update the previous lr recursively as PyTorch
// does, onecycle and cyclic compute it from the step count.
#include "worker/lr_scheduler.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/json_util.h"

namespace hpo {
namespace {

using nlohmann::json;

constexpr double kPi = 3.141592653589793;  // Python's math.pi.

std::string Num(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  return Brief(json(x));
}

bool Finite(double x) { return std::isfinite(x); }
bool InRange(double x, double lo, double hi) {
  return Finite(x) && x >= lo && x <= hi;
}
bool Positive(double x) { return Finite(x) && x > 0; }
bool NonNegative(double x) { return Finite(x) && x >= 0; }

// Reports a bad config value as
// `trainer.KEY: VALUE is invalid for the SCHEDULER scheduler; FIX`.
class ConfigChecker {
 public:
  explicit ConfigChecker(std::string scheduler)
      : scheduler_(std::move(scheduler)) {}

  void Check(bool ok, const std::string& key, const std::string& value,
             const std::string& fix) const {
    if (!ok) {
      Fail(key,
           value + " is invalid for the " + scheduler_ + " scheduler; " + fix);
    }
  }

  [[noreturn]] void Fail(const std::string& key,
                         const std::string& what) const {
    throw BadInput("trainer." + key + ": " + what);
  }

 private:
  std::string scheduler_;
};

// Doubles in a state: numbers, or "inf", "-inf" and "nan" (JSON has none).
json EncodeDouble(double x) {
  if (Finite(x)) return x;
  return Num(x);
}

// Reads a State() back, naming what is wrong as
// `lr scheduler state: KEY ...`. Construction checks that the state is from
// the scheduler `name` with the same `params`.
class StateReader {
 public:
  StateReader(const json& state, const std::string& name, const json& params)
      : state_(state) {
    if (!state.is_object()) {
      Fail("must be an object (got " + TypeName(state) + ")");
    }
    auto it = state.find("scheduler");
    if (it == state.end() || !it->is_string()) {
      Fail("needs \"scheduler\", a string");
    }
    if (*it != name) {
      Fail("saved by the " + Brief(*it) + " scheduler, but this trial uses " +
           name);
    }
    it = state.find("params");
    if (it == state.end()) Fail("needs \"params\"");
    if (*it != params) {
      std::string changes;
      for (const std::string& change : DescribeChanges(*it, params)) {
        changes += (changes.empty() ? "" : ", ") + change;
      }
      Fail("saved with other " + name + " settings (" + changes +
           "); the trial's config or horizon changed since the checkpoint");
    }
  }

  // A double, which may be infinite or NaN only if `finite` is false.
  double Double(const char* key, bool finite = true) const {
    const json& v = Get(key);
    double x = 0;
    if (v.is_number()) {
      x = v.get<double>();
    } else if (!finite && v.is_string() &&
               (v == "inf" || v == "-inf" || v == "nan")) {
      x = v == "nan" ? NAN : v == "inf" ? HUGE_VAL : -HUGE_VAL;
    } else {
      Fail(std::string(key) + " must be a number (got " + Brief(v) + ")");
    }
    if (finite && !Finite(x)) {
      Fail(std::string(key) + " must be finite (got " + Num(x) + ")");
    }
    return x;
  }

  // A count: an integer >= 0.
  int64_t Count(const char* key) const {
    const json& v = Get(key);
    if (!v.is_number_integer() || v.get<int64_t>() < 0) {
      Fail(std::string(key) + " must be an integer >= 0 (got " + Brief(v) +
           ")");
    }
    return v.get<int64_t>();
  }

 private:
  const json& Get(const char* key) const {
    auto it = state_.find(key);
    if (it == state_.end()) Fail(std::string("needs \"") + key + "\"");
    return *it;
  }

  [[noreturn]] static void Fail(const std::string& what) {
    throw BadInput("lr scheduler state: " + what);
  }

  const json& state_;
};

// A scheduler whose state is {"scheduler": name, "params": params, ...}:
// params are the settings it was made with, to refuse a foreign state.
class SchedulerBase : public LrScheduler {
 protected:
  SchedulerBase(std::string name, json params)
      : name_(std::move(name)), params_(std::move(params)) {}

  json NewState() const {
    return json{{"scheduler", name_}, {"params", params_}};
  }
  StateReader Reader(const json& state) const {
    return StateReader(state, name_, params_);
  }

 private:
  std::string name_;
  json params_;
};

// A scheduler stepped per batch whose lr is a function of the optimizer
// steps so far (PyTorch's last_epoch). Subclasses call Start() once their
// members are set.
class BatchScheduler : public SchedulerBase {
 public:
  double lr() const override { return lr_; }

  void StepBatch() override {
    ++step_;
    lr_ = Compute();
  }

  json State() const override {
    json state = NewState();
    state["step"] = step_;
    return state;
  }

  void Restore(const json& state) override {
    step_ = Reader(state).Count("step");
    lr_ = Compute();
  }

 protected:
  using SchedulerBase::SchedulerBase;
  void Start() { lr_ = Compute(); }
  virtual double Compute() const = 0;
  int64_t step() const { return step_; }

 private:
  int64_t step_ = 0;
  double lr_ = 0;
};

// none: the optimizer's lr throughout.
class ConstantLr : public SchedulerBase {
 public:
  explicit ConstantLr(double lr)
      : SchedulerBase("none", {{"lr", lr}}), lr_(lr) {}

  double lr() const override { return lr_; }
  json State() const override { return NewState(); }
  void Restore(const json& state) override { Reader(state); }

 private:
  double lr_;
};

// A scheduler stepped per epoch whose next lr follows from the epoch count
// (PyTorch's last_epoch) and the current lr, as PyTorch's recursive
// get_lr() computes it.
class EpochScheduler : public SchedulerBase {
 public:
  double lr() const override { return lr_; }

  void StepEpoch(double) override {
    ++epoch_;
    lr_ = Next(epoch_, lr_);
  }

  json State() const override {
    json state = NewState();
    state["epoch"] = epoch_;
    state["lr"] = lr_;
    return state;
  }

  void Restore(const json& state) override {
    StateReader reader = Reader(state);
    int64_t epoch = reader.Count("epoch");
    lr_ = reader.Double("lr");
    epoch_ = epoch;
  }

 protected:
  EpochScheduler(std::string name, json params, double base_lr)
      : SchedulerBase(std::move(name), std::move(params)), lr_(base_lr) {}
  // The lr after `epoch` epochs, given the lr before it.
  virtual double Next(int64_t epoch, double lr) const = 0;

 private:
  int64_t epoch_ = 0;
  double lr_;
};

// step (StepLR) and exponential (ExponentialLR): the lr times gamma after
// every `step_size` epochs, recursively as in PyTorch's get_lr().
class StepLr : public EpochScheduler {
 public:
  StepLr(const std::string& name, double base_lr, int64_t step_size,
         double gamma)
      : EpochScheduler(
            name,
            {{"base_lr", base_lr}, {"step_size", step_size}, {"gamma", gamma}},
            base_lr),
        step_size_(step_size),
        gamma_(gamma) {}

 private:
  double Next(int64_t epoch, double lr) const override {
    return epoch % step_size_ == 0 ? lr * gamma_ : lr;
  }

  const int64_t step_size_;
  const double gamma_;
};

// cosine: CosineAnnealingLR's recursive get_lr(), which beyond T_max climbs
// back to base_lr and down again with period 2 T_max.
class CosineLr : public EpochScheduler {
 public:
  CosineLr(double base_lr, int64_t t_max, double eta_min)
      : EpochScheduler(
            "cosine",
            {{"base_lr", base_lr}, {"t_max", t_max}, {"eta_min", eta_min}},
            base_lr),
        base_lr_(base_lr),
        t_max_(t_max),
        eta_min_(eta_min) {}

 private:
  double Next(int64_t e, double lr) const override {
    const double t = static_cast<double>(t_max_);
    if ((e - 1 - t_max_) % (2 * t_max_) == 0) {
      return lr + (base_lr_ - eta_min_) * (1 - std::cos(kPi / t)) / 2;
    }
    return (1 + std::cos(kPi * static_cast<double>(e) / t)) /
               (1 + std::cos(kPi * static_cast<double>(e - 1) / t)) *
               (lr - eta_min_) +
           eta_min_;
  }

  const double base_lr_;
  const int64_t t_max_;
  const double eta_min_;
};

// onecycle: OneCycleLR's phases, each annealing from one lr to the next
// over (start step, end step]; steps past total_steps - 1 hold the lr of
// step total_steps - 1.
class OneCycleLr : public BatchScheduler {
 public:
  OneCycleLr(double max_lr, int64_t total_steps, double pct_start, bool cos,
             double div_factor, double final_div_factor, bool three_phase)
      : BatchScheduler("onecycle", {{"max_lr", max_lr},
                                    {"total_steps", total_steps},
                                    {"pct_start", pct_start},
                                    {"anneal", cos ? "cos" : "linear"},
                                    {"div_factor", div_factor},
                                    {"final_div_factor", final_div_factor},
                                    {"three_phase", three_phase}}),
        total_steps_(total_steps),
        cos_(cos) {
    const double initial_lr = max_lr / div_factor;
    const double min_lr = initial_lr / final_div_factor;
    const double t = static_cast<double>(total_steps);
    const double warmup_end = pct_start * t - 1;
    const double last = static_cast<double>(total_steps - 1);
    if (three_phase) {
      phases_ = {{warmup_end, initial_lr, max_lr},
                 {2 * pct_start * t - 2, max_lr, initial_lr},
                 {last, initial_lr, min_lr}};
    } else {
      phases_ = {{warmup_end, initial_lr, max_lr}, {last, max_lr, min_lr}};
    }
    Start();
  }

 private:
  struct Phase {
    double end_step;
    double start_lr;
    double end_lr;
  };

  double Compute() const override {
    const double at = static_cast<double>(std::min(step(), total_steps_ - 1));
    double start_step = 0;
    for (size_t i = 0; i < phases_.size(); ++i) {
      const Phase& phase = phases_[i];
      if (at <= phase.end_step || i == phases_.size() - 1) {
        const double pct = (at - start_step) / (phase.end_step - start_step);
        if (cos_) {
          const double cos_out = std::cos(kPi * pct) + 1;
          return phase.end_lr + (phase.start_lr - phase.end_lr) / 2.0 * cos_out;
        }
        return (phase.end_lr - phase.start_lr) * pct + phase.start_lr;
      }
      start_step = phase.end_step;
    }
    return phases_.back().end_lr;  // Not reached: the last phase returns.
  }

  const int64_t total_steps_;
  const bool cos_;
  std::vector<Phase> phases_;
};

// cyclic: CyclicLR with step_size_down = step_size_up.
class CyclicLr : public BatchScheduler {
 public:
  enum class Mode { kTriangular, kTriangular2, kExpRange };

  CyclicLr(double base_lr, double max_lr, int64_t step_size_up,
           const std::string& mode, double gamma)
      : BatchScheduler("cyclic", {{"base_lr", base_lr},
                                  {"max_lr", max_lr},
                                  {"step_size_up", step_size_up},
                                  {"mode", mode},
                                  {"gamma", gamma}}),
        base_lr_(base_lr),
        max_lr_(max_lr),
        gamma_(gamma),
        mode_(mode == "triangular"    ? Mode::kTriangular
              : mode == "triangular2" ? Mode::kTriangular2
                                      : Mode::kExpRange) {
    const double up = static_cast<double>(step_size_up);
    total_size_ = up + up;
    step_ratio_ = up / total_size_;
    Start();
  }

 private:
  double Compute() const override {
    const double e = static_cast<double>(step());
    const double cycle = std::floor(1 + e / total_size_);
    const double x = 1. + e / total_size_ - cycle;
    const double scale_factor =
        x <= step_ratio_ ? x / step_ratio_ : (x - 1) / (step_ratio_ - 1);
    const double base_height = (max_lr_ - base_lr_) * scale_factor;
    switch (mode_) {
      case Mode::kTriangular:
        return base_lr_ + base_height * 1.;
      case Mode::kTriangular2:
        return base_lr_ + base_height * (1 / std::pow(2., cycle - 1));
      case Mode::kExpRange:
        return base_lr_ + base_height * std::pow(gamma_, e);
    }
    return base_lr_;
  }

  const double base_lr_;
  const double max_lr_;
  const double gamma_;
  const Mode mode_;
  double total_size_ = 0;
  double step_ratio_ = 0;
};

// plateau: ReduceLROnPlateau.
class PlateauLr : public SchedulerBase {
 public:
  PlateauLr(double base_lr, bool maximize, double factor, int64_t patience,
            double threshold, bool rel, int64_t cooldown, double min_lr)
      : SchedulerBase("plateau", {{"base_lr", base_lr},
                                  {"mode", maximize ? "max" : "min"},
                                  {"factor", factor},
                                  {"patience", patience},
                                  {"threshold", threshold},
                                  {"threshold_mode", rel ? "rel" : "abs"},
                                  {"cooldown", cooldown},
                                  {"min_lr", min_lr},
                                  {"eps", kEps}}),
        maximize_(maximize),
        factor_(factor),
        patience_(patience),
        threshold_(threshold),
        rel_(rel),
        cooldown_(cooldown),
        min_lr_(min_lr),
        lr_(base_lr),
        best_(maximize ? -HUGE_VAL : HUGE_VAL) {}

  double lr() const override { return lr_; }

  void StepEpoch(double metric) override {
    if (IsBetter(metric, best_)) {
      best_ = metric;
      num_bad_epochs_ = 0;
    } else {
      ++num_bad_epochs_;
    }
    if (cooldown_counter_ > 0) {
      --cooldown_counter_;
      num_bad_epochs_ = 0;  // Bad epochs in cooldown do not count.
    }
    if (num_bad_epochs_ > patience_) {
      double new_lr = lr_ * factor_;
      if (min_lr_ > new_lr) new_lr = min_lr_;  // Python's max().
      if (lr_ - new_lr > kEps) lr_ = new_lr;
      cooldown_counter_ = cooldown_;
      num_bad_epochs_ = 0;
    }
  }

  json State() const override {
    json state = NewState();
    state["lr"] = lr_;
    state["best"] = EncodeDouble(best_);
    state["num_bad_epochs"] = num_bad_epochs_;
    state["cooldown_counter"] = cooldown_counter_;
    return state;
  }

  void Restore(const json& state) override {
    StateReader reader = Reader(state);
    double lr = reader.Double("lr");
    double best = reader.Double("best", /*finite=*/false);
    int64_t num_bad_epochs = reader.Count("num_bad_epochs");
    int64_t cooldown_counter = reader.Count("cooldown_counter");
    lr_ = lr;
    best_ = best;
    num_bad_epochs_ = num_bad_epochs;
    cooldown_counter_ = cooldown_counter;
  }

 private:
  static constexpr double kEps = 1e-8;

  bool IsBetter(double a, double best) const {
    if (!maximize_) {
      return rel_ ? a < best * (1. - threshold_) : a < best - threshold_;
    }
    return rel_ ? a > best * (threshold_ + 1.) : a > best + threshold_;
  }

  const bool maximize_;
  const double factor_;
  const int64_t patience_;
  const double threshold_;
  const bool rel_;
  const int64_t cooldown_;
  const double min_lr_;
  double lr_;
  double best_;
  int64_t num_bad_epochs_ = 0;
  int64_t cooldown_counter_ = 0;
};

std::unique_ptr<LrScheduler> NewOneCycle(const SchedulerConfig& c,
                                         const LrContext& context,
                                         const ConfigChecker& check) {
  check.Check(NonNegative(c.max_lr), "max_lr", Num(c.max_lr),
              "use a finite value >= 0 (0: lr x max_lr_factor)");
  if (c.max_lr == 0) {
    check.Check(Positive(c.max_lr_factor), "max_lr_factor",
                Num(c.max_lr_factor), "use a finite value > 0");
  }
  const double max_lr =
      c.max_lr != 0 ? c.max_lr : context.base_lr * c.max_lr_factor;
  check.Check(InRange(c.pct_start, 0, 1), "pct_start", Num(c.pct_start),
              "use a value in [0, 1]");
  check.Check(c.anneal == "cos" || c.anneal == "linear", "anneal",
              Brief(json(c.anneal)), "use \"cos\" or \"linear\"");
  check.Check(Positive(c.div_factor), "div_factor", Num(c.div_factor),
              "use a finite value > 0 (initial lr = max_lr / div_factor)");
  check.Check(Positive(c.final_div_factor), "final_div_factor",
              Num(c.final_div_factor),
              "use a finite value > 0 (final lr = initial lr / "
              "final_div_factor)");
  const int64_t total_steps = context.max_epochs * context.batches_per_epoch;
  // A warm-up phase that ends at step 0 makes OneCycleLR divide 0 by 0.
  if (c.pct_start * static_cast<double>(total_steps) - 1 == 0) {
    check.Fail("pct_start", Num(c.pct_start) + " of " +
                                std::to_string(total_steps) +
                                " total steps is a 1-step warm-up, on which "
                                "PyTorch's OneCycleLR divides by zero; use "
                                "another pct_start");
  }
  return std::make_unique<OneCycleLr>(max_lr, total_steps, c.pct_start,
                                      c.anneal == "cos", c.div_factor,
                                      c.final_div_factor, c.three_phase);
}

std::unique_ptr<LrScheduler> NewCyclic(const SchedulerConfig& c,
                                       const LrContext& context,
                                       const ConfigChecker& check) {
  check.Check(NonNegative(c.base_lr), "base_lr", Num(c.base_lr),
              "use a finite value >= 0 (0: the optimizer's lr)");
  const double base_lr = c.base_lr != 0 ? c.base_lr : context.base_lr;
  check.Check(NonNegative(c.max_lr), "max_lr", Num(c.max_lr),
              "use a finite value >= 0 (0: base_lr x cyclic_max_lr_factor)");
  if (c.max_lr == 0) {
    check.Check(Positive(c.cyclic_max_lr_factor), "cyclic_max_lr_factor",
                Num(c.cyclic_max_lr_factor), "use a finite value > 0");
  }
  const double max_lr =
      c.max_lr != 0 ? c.max_lr : base_lr * c.cyclic_max_lr_factor;
  check.Check(c.cyclic_mode == "triangular" || c.cyclic_mode == "triangular2" ||
                  c.cyclic_mode == "exp_range",
              "cyclic_mode", Brief(json(c.cyclic_mode)),
              "use \"triangular\", \"triangular2\" or \"exp_range\"");
  if (c.cyclic_mode == "exp_range") {
    check.Check(Positive(c.cyclic_gamma), "cyclic_gamma", Num(c.cyclic_gamma),
                "use a finite value > 0");
  }
  int64_t step_size_up = c.step_size_up_batches;
  check.Check(step_size_up >= 0, "step_size_up_batches",
              std::to_string(step_size_up),
              "use an integer >= 1 (0: step_size_up_epochs)");
  if (step_size_up == 0) {
    const double batches =
        c.step_size_up_epochs * static_cast<double>(context.batches_per_epoch);
    check.Check(Positive(c.step_size_up_epochs) && batches < 1e15,
                "step_size_up_epochs", Num(c.step_size_up_epochs),
                "use a finite value > 0");
    step_size_up = std::llround(batches);
    if (step_size_up < 1) {
      check.Fail("step_size_up_epochs",
                 Num(c.step_size_up_epochs) + " epochs of " +
                     std::to_string(context.batches_per_epoch) +
                     " batches round to 0 batches; use more epochs or set "
                     "step_size_up_batches");
    }
  }
  return std::make_unique<CyclicLr>(base_lr, max_lr, step_size_up,
                                    c.cyclic_mode, c.cyclic_gamma);
}

std::unique_ptr<LrScheduler> NewPlateau(const SchedulerConfig& c,
                                        const LrContext& context,
                                        const ConfigChecker& check) {
  check.Check(
      Finite(c.plateau_factor) && c.plateau_factor >= 0 && c.plateau_factor < 1,
      "plateau_factor", Num(c.plateau_factor),
      "use a value in [0, 1) (new lr = lr x plateau_factor)");
  check.Check(c.plateau_patience >= 0, "plateau_patience",
              std::to_string(c.plateau_patience), "use an integer >= 0");
  check.Check(NonNegative(c.plateau_threshold), "plateau_threshold",
              Num(c.plateau_threshold), "use a finite value >= 0");
  check.Check(
      c.plateau_threshold_mode == "rel" || c.plateau_threshold_mode == "abs",
      "plateau_threshold_mode", Brief(json(c.plateau_threshold_mode)),
      "use \"rel\" or \"abs\"");
  check.Check(c.plateau_cooldown >= 0, "plateau_cooldown",
              std::to_string(c.plateau_cooldown), "use an integer >= 0");
  check.Check(NonNegative(c.min_lr), "min_lr", Num(c.min_lr),
              "use a finite value >= 0");
  return std::make_unique<PlateauLr>(
      context.base_lr, context.maximize, c.plateau_factor, c.plateau_patience,
      c.plateau_threshold, c.plateau_threshold_mode == "rel",
      c.plateau_cooldown, c.min_lr);
}

}  // namespace

const std::vector<std::string>& LrSchedulerNames() {
  static const auto* names = new std::vector<std::string>{
      "none", "step", "exponential", "cosine", "onecycle", "plateau", "cyclic"};
  return *names;
}

std::unique_ptr<LrScheduler> NewLrScheduler(const SchedulerConfig& config,
                                            const LrContext& context) {
  const std::string& name = config.name;
  const std::vector<std::string>& names = LrSchedulerNames();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    std::string valid;
    for (const std::string& n : names) valid += (valid.empty() ? "" : ", ") + n;
    const std::string guess = ClosestMatch(name, names);
    throw BadInput("trainer.scheduler: unknown scheduler " + Brief(json(name)) +
                   (guess.empty() ? "" : " (did you mean \"" + guess + "\"?)") +
                   "; valid: " + valid);
  }
  const ConfigChecker check(name);
  check.Check(NonNegative(context.base_lr), "lr", Num(context.base_lr),
              "use a finite learning rate >= 0");
  if (context.batches_per_epoch < 1 || context.max_epochs < 1) {
    throw BadInput("trainer.scheduler: the " + name +
                   " scheduler needs max_epochs >= 1 and at least one batch "
                   "per epoch (got " +
                   std::to_string(context.max_epochs) + " epochs of " +
                   std::to_string(context.batches_per_epoch) + " batches)");
  }
  const SchedulerConfig& c = config;
  if (name == "none") return std::make_unique<ConstantLr>(context.base_lr);
  if (name == "step") {
    check.Check(c.step_size >= 1, "step_size", std::to_string(c.step_size),
                "use an integer >= 1 (epochs between decays)");
    check.Check(Positive(c.gamma), "gamma", Num(c.gamma),
                "use a finite value > 0");
    return std::make_unique<StepLr>("step", context.base_lr, c.step_size,
                                    c.gamma);
  }
  if (name == "exponential") {
    check.Check(Positive(c.exp_gamma), "exp_gamma", Num(c.exp_gamma),
                "use a finite value > 0");
    return std::make_unique<StepLr>("exponential", context.base_lr, 1,
                                    c.exp_gamma);
  }
  if (name == "cosine") {
    check.Check(c.t_max >= 0, "t_max", std::to_string(c.t_max),
                "use an integer >= 1, or 0 for the study's max_epochs");
    check.Check(NonNegative(c.eta_min), "eta_min", Num(c.eta_min),
                "use a finite value >= 0");
    return std::make_unique<CosineLr>(
        context.base_lr, c.t_max > 0 ? c.t_max : context.max_epochs, c.eta_min);
  }
  if (name == "onecycle") return NewOneCycle(c, context, check);
  if (name == "cyclic") return NewCyclic(c, context, check);
  return NewPlateau(c, context, check);
}

}  // namespace hpo
