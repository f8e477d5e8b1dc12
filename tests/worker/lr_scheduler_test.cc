// The LR schedulers against PyTorch 1.13's own sequences
// (tests/data/lr_schedules.json, written by tests/data/make_lr_schedules.py),
// driven as the trainer drives them: lr() before each batch, StepBatch()
// after it, StepEpoch(metric) after each epoch.
#include "worker/lr_scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <iostream>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/json_util.h"
#include "tests/util/test_data.h"

namespace hpo {
namespace {

using nlohmann::json;

struct Case {
  std::string name;
  SchedulerConfig config;
  LrContext context;
  std::vector<double> metrics;           // One per epoch.
  std::vector<std::vector<double>> lrs;  // [epoch][batch], PyTorch's.
};

SchedulerConfig ConfigFromJson(const json& j) {
  SchedulerConfig c;
  c.name = j.at("name").get<std::string>();
  c.step_size = j.at("step_size").get<int>();
  c.gamma = j.at("gamma").get<double>();
  c.exp_gamma = j.at("exp_gamma").get<double>();
  c.t_max = j.at("t_max").get<int>();
  c.eta_min = j.at("eta_min").get<double>();
  c.max_lr = j.at("max_lr").get<double>();
  c.max_lr_factor = j.at("max_lr_factor").get<double>();
  c.pct_start = j.at("pct_start").get<double>();
  c.div_factor = j.at("div_factor").get<double>();
  c.final_div_factor = j.at("final_div_factor").get<double>();
  c.anneal = j.at("anneal").get<std::string>();
  c.three_phase = j.at("three_phase").get<bool>();
  c.plateau_factor = j.at("plateau_factor").get<double>();
  c.plateau_patience = j.at("plateau_patience").get<int>();
  c.plateau_threshold = j.at("plateau_threshold").get<double>();
  c.plateau_threshold_mode = j.at("plateau_threshold_mode").get<std::string>();
  c.plateau_cooldown = j.at("plateau_cooldown").get<int>();
  c.min_lr = j.at("min_lr").get<double>();
  c.base_lr = j.at("base_lr").get<double>();
  c.cyclic_max_lr_factor = j.at("cyclic_max_lr_factor").get<double>();
  c.cyclic_mode = j.at("cyclic_mode").get<std::string>();
  c.cyclic_gamma = j.at("cyclic_gamma").get<double>();
  c.step_size_up_epochs = j.at("step_size_up_epochs").get<double>();
  c.step_size_up_batches = j.at("step_size_up_batches").get<int>();
  // Every field above, no more: a renamed field fails here, not silently.
  EXPECT_EQ(j.size(), 25u) << j.dump();
  return c;
}

const std::vector<Case>& Cases() {
  static const std::vector<Case>* cases = [] {
    const std::string path =
        testutil::SourcePath("tests/data/lr_schedules.json");
    const json doc = ParseJsonText(ReadTextFile(path), path);
    auto* out = new std::vector<Case>;
    for (const json& j : doc.at("cases")) {
      Case c;
      c.name = j.at("name").get<std::string>();
      c.config = ConfigFromJson(j.at("config"));
      const json& ctx = j.at("context");
      c.context.base_lr = ctx.at("base_lr").get<double>();
      c.context.batches_per_epoch = ctx.at("batches_per_epoch").get<int64_t>();
      c.context.max_epochs = ctx.at("max_epochs").get<int>();
      c.context.maximize = ctx.at("maximize").get<bool>();
      c.metrics = j.at("metrics").get<std::vector<double>>();
      c.lrs = j.at("lrs").get<std::vector<std::vector<double>>>();
      out->push_back(std::move(c));
    }
    return out;
  }();
  return *cases;
}

// The trainer's calls, in order: before batch b of epoch e it reads lr(),
// after it calls StepBatch(); after the epoch, StepEpoch(metrics[e]).
struct Event {
  int epoch;
  int64_t batch;  // -1: the StepEpoch after the epoch.
};

std::vector<Event> Events(const Case& c) {
  std::vector<Event> events;
  for (int e = 0; e < c.context.max_epochs; ++e) {
    for (int64_t b = 0; b < c.context.batches_per_epoch; ++b) {
      events.push_back({e, b});
    }
    events.push_back({e, -1});
  }
  return events;
}

// Plays `event`: returns the lr read before a batch (NaN for StepEpoch).
double Play(LrScheduler& s, const Case& c, const Event& event) {
  if (event.batch < 0) {
    s.StepEpoch(c.metrics[event.epoch]);
    return std::nan("");
  }
  const double lr = s.lr();
  s.StepBatch();
  return lr;
}

double RelativeError(double got, double want) {
  return std::abs(got - want) / std::max(std::abs(want), 1e-300);
}

TEST(LrSchedulerTest, MatchesPyTorch) {
  ASSERT_GE(Cases().size(), 20u);
  double max_rel = 0;
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    auto s = NewLrScheduler(c.config, c.context);
    for (const Event& event : Events(c)) {
      const double lr = Play(*s, c, event);
      if (event.batch < 0) continue;
      const double want = c.lrs.at(event.epoch).at(event.batch);
      ASSERT_LE(std::abs(lr - want), 1e-12 * std::abs(want) + 1e-15)
          << "epoch " << event.epoch << " batch " << event.batch << ": got "
          << lr << ", PyTorch " << want;
      max_rel = std::max(max_rel, RelativeError(lr, want));
    }
  }
  RecordProperty("max_relative_error", std::to_string(max_rel));
  std::cout << "max relative error over " << Cases().size()
            << " cases: " << max_rel << "\n";
}

TEST(LrSchedulerTest, CasesCoverEverySchedulerAndMode) {
  std::set<std::string> seen;
  for (const Case& c : Cases()) {
    const SchedulerConfig& s = c.config;
    seen.insert(s.name);
    if (s.name == "onecycle") {
      seen.insert("onecycle " + s.anneal + (s.three_phase ? " 3" : " 2"));
    }
    if (s.name == "cyclic") seen.insert("cyclic " + s.cyclic_mode);
    if (s.name == "plateau") {
      seen.insert(std::string("plateau ") +
                  (c.context.maximize ? "max " : "min ") +
                  s.plateau_threshold_mode);
      if (s.plateau_cooldown > 0) seen.insert("plateau cooldown");
    }
    if (s.name == "cosine" && s.t_max > 0 &&
        c.context.max_epochs > 2 * s.t_max + 1) {
      seen.insert("cosine beyond t_max");
    }
  }
  for (const std::string& name : LrSchedulerNames()) {
    EXPECT_TRUE(seen.count(name)) << name;
  }
  for (const char* mode :
       {"onecycle cos 2", "onecycle linear 2", "onecycle cos 3",
        "onecycle linear 3", "cyclic triangular", "cyclic triangular2",
        "cyclic exp_range", "plateau min rel", "plateau max rel",
        "plateau min abs", "plateau max abs", "plateau cooldown",
        "cosine beyond t_max"}) {
    EXPECT_TRUE(seen.count(mode)) << mode;
  }
}

// Restores a copy at every point of every case (through a dump and parse,
// as a checkpoint does) and checks that both then give the same lrs.
TEST(LrSchedulerTest, RestoredStateContinuesIdentically) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    const std::vector<Event> events = Events(c);
    for (size_t split = 0; split <= events.size(); ++split) {
      auto original = NewLrScheduler(c.config, c.context);
      for (size_t i = 0; i < split; ++i) Play(*original, c, events[i]);
      const std::string saved = original->State().dump();
      auto restored = NewLrScheduler(c.config, c.context);
      restored->Restore(json::parse(saved));
      ASSERT_EQ(restored->State(), original->State()) << "split " << split;
      ASSERT_EQ(restored->lr(), original->lr()) << "split " << split;
      for (size_t i = split; i < events.size(); ++i) {
        Play(*original, c, events[i]);
        Play(*restored, c, events[i]);
        ASSERT_EQ(restored->lr(), original->lr())
            << "split " << split << ", event " << i;
      }
    }
  }
}

TEST(LrSchedulerTest, PlateauStateKeepsAnInfiniteBest) {
  SchedulerConfig config;
  config.name = "plateau";
  auto s = NewLrScheduler(config, LrContext{0.1, 1, 10, false});
  const json state = json::parse(s->State().dump());
  EXPECT_EQ(state.at("best"), "inf");
  s->StepEpoch(-std::numeric_limits<double>::infinity());
  EXPECT_EQ(s->State().at("best"), "-inf");
  auto t = NewLrScheduler(config, LrContext{0.1, 1, 10, false});
  t->Restore(json::parse(s->State().dump()));
  EXPECT_EQ(t->State(), s->State());
}

TEST(LrSchedulerTest, PlateauCountsNanAsNoImprovement) {
  SchedulerConfig config;
  config.name = "plateau";
  config.plateau_patience = 1;
  config.plateau_factor = 0.5;
  auto s = NewLrScheduler(config, LrContext{0.1, 1, 10, true});
  s->StepEpoch(0.5);
  s->StepEpoch(std::nan(""));
  EXPECT_EQ(s->lr(), 0.1);
  s->StepEpoch(std::nan(""));
  EXPECT_EQ(s->lr(), 0.05);
}

void ExpectBadState(LrScheduler& s, const json& state,
                    const std::string& fragment) {
  const json before = s.State();
  try {
    s.Restore(state);
    ADD_FAILURE() << "accepted " << state.dump();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kBadInput);
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
        << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
  }
  EXPECT_EQ(s.State(), before) << "a refused state changed the scheduler";
}

TEST(LrSchedulerTest, RestoreRejectsMalformedState) {
  SchedulerConfig config;
  config.name = "step";
  config.step_size = 2;
  const LrContext context{0.1, 3, 10, false};
  auto s = NewLrScheduler(config, context);
  s->StepEpoch(0);
  s->StepEpoch(0);
  const json good = s->State();

  ExpectBadState(*s, json::array(), "must be an object");
  json j = good;
  j.erase("scheduler");
  ExpectBadState(*s, j, "\"scheduler\"");
  j = good;
  j["scheduler"] = "cosine";
  ExpectBadState(*s, j, "saved by the \"cosine\" scheduler");
  j = good;
  j["params"]["gamma"] = 0.5;
  ExpectBadState(*s, j, "other step settings (gamma: 0.5 -> 0.1)");
  j = good;
  j.erase("params");
  ExpectBadState(*s, j, "needs \"params\"");
  j = good;
  j.erase("lr");
  ExpectBadState(*s, j, "needs \"lr\"");
  j = good;
  j["lr"] = "0.1";
  ExpectBadState(*s, j, "lr must be a number");
  j = good;
  j["lr"] = "inf";
  ExpectBadState(*s, j, "lr must be a number");
  j = good;
  j["epoch"] = -1;
  ExpectBadState(*s, j, "epoch must be an integer >= 0");
  j = good;
  j["epoch"] = 1.5;
  ExpectBadState(*s, j, "epoch must be an integer >= 0");

  SchedulerConfig onecycle;
  onecycle.name = "onecycle";
  auto o = NewLrScheduler(onecycle, context);
  ExpectBadState(*o, good, "saved by the \"step\" scheduler");
  json other = o->State();
  other["params"]["total_steps"] = 60;  // Another batches_per_epoch.
  ExpectBadState(*o, other, "total_steps: 60 -> 30");
  other = o->State();
  other["step"] = "3";
  ExpectBadState(*o, other, "step must be an integer >= 0");
}

// PyTorch raises when OneCycleLR is stepped past total_steps; hpo holds the
// lr of the last scheduled step instead.
TEST(LrSchedulerTest, OneCycleHoldsFinalLrPastTotalSteps) {
  for (const char* anneal : {"cos", "linear"}) {
    for (bool three_phase : {false, true}) {
      for (double pct_start : {0.0, 0.3, 1.0}) {
        SCOPED_TRACE(std::string(anneal) + (three_phase ? " 3" : " 2") +
                     " pct_start " + std::to_string(pct_start));
        SchedulerConfig config;
        config.name = "onecycle";
        config.anneal = anneal;
        config.three_phase = three_phase;
        config.pct_start = pct_start;
        config.max_lr = 0.1;
        const LrContext context{0.01, 4, 5, false};
        auto s = NewLrScheduler(config, context);
        for (int i = 0; i < 19; ++i) s->StepBatch();
        const double last = s->lr();
        EXPECT_TRUE(std::isfinite(last));
        if (pct_start < 1) {
          EXPECT_NEAR(last, 0.1 / 25 / 1e4, 1e-12);
        } else if (!three_phase) {
          EXPECT_NEAR(last, 0.1, 1e-12);
        }
        for (int i = 0; i < 100; ++i) {
          s->StepBatch();
          ASSERT_EQ(s->lr(), last) << "step " << 20 + i;
        }
        s->StepEpoch(1.0);
        EXPECT_EQ(s->lr(), last);
      }
    }
  }
}

struct BadConfig {
  std::string key;  // The key the message must name.
  std::function<void(SchedulerConfig&, LrContext&)> change;
};

TEST(LrSchedulerTest, BadConfigThrowsNamingTheKey) {
  const double nan = std::nan("");
  const std::vector<BadConfig> bad = {
      {"lr", [](auto& c, auto& x) { x.base_lr = -1; }},
      {"lr", [&](auto& c, auto& x) { x.base_lr = nan; }},
      {"step_size", [](auto& c, auto& x) { c.name = "step", c.step_size = 0; }},
      {"gamma", [](auto& c, auto& x) { c.name = "step", c.gamma = 0; }},
      {"exp_gamma",
       [](auto& c, auto& x) { c.name = "exponential", c.exp_gamma = -0.5; }},
      {"t_max", [](auto& c, auto& x) { c.name = "cosine", c.t_max = -1; }},
      {"eta_min", [](auto& c, auto& x) { c.name = "cosine", c.eta_min = -1; }},
      {"pct_start",
       [](auto& c, auto& x) { c.name = "onecycle", c.pct_start = 1.5; }},
      {"pct_start",
       [](auto& c, auto& x) { c.name = "onecycle", c.pct_start = -0.1; }},
      {"pct_start",
       [&](auto& c, auto& x) { c.name = "onecycle", c.pct_start = nan; }},
      {"pct_start",  // A warm-up of exactly 1 of 4 steps: 0 / 0 in PyTorch.
       [](auto& c, auto& x) {
         c.name = "onecycle", c.pct_start = 0.25;
         x.max_epochs = 2, x.batches_per_epoch = 2;
       }},
      {"anneal",
       [](auto& c, auto& x) { c.name = "onecycle", c.anneal = "cosine"; }},
      {"div_factor",
       [](auto& c, auto& x) { c.name = "onecycle", c.div_factor = 0; }},
      {"final_div_factor",
       [](auto& c, auto& x) { c.name = "onecycle", c.final_div_factor = -1; }},
      {"max_lr", [](auto& c, auto& x) { c.name = "onecycle", c.max_lr = -1; }},
      {"max_lr_factor",
       [](auto& c, auto& x) { c.name = "onecycle", c.max_lr_factor = 0; }},
      {"plateau_factor",
       [](auto& c, auto& x) { c.name = "plateau", c.plateau_factor = 1.0; }},
      {"plateau_factor",
       [](auto& c, auto& x) { c.name = "plateau", c.plateau_factor = -0.1; }},
      {"plateau_patience",
       [](auto& c, auto& x) { c.name = "plateau", c.plateau_patience = -1; }},
      {"plateau_threshold",
       [](auto& c, auto& x) { c.name = "plateau", c.plateau_threshold = -1; }},
      {"plateau_threshold_mode",
       [](auto& c, auto& x) {
         c.name = "plateau", c.plateau_threshold_mode = "relative";
       }},
      {"plateau_cooldown",
       [](auto& c, auto& x) { c.name = "plateau", c.plateau_cooldown = -2; }},
      {"min_lr", [](auto& c, auto& x) { c.name = "plateau", c.min_lr = -1; }},
      {"base_lr", [](auto& c, auto& x) { c.name = "cyclic", c.base_lr = -1; }},
      {"max_lr", [](auto& c, auto& x) { c.name = "cyclic", c.max_lr = -1; }},
      {"cyclic_max_lr_factor",
       [](auto& c, auto& x) { c.name = "cyclic", c.cyclic_max_lr_factor = 0; }},
      {"cyclic_mode",
       [](auto& c, auto& x) { c.name = "cyclic", c.cyclic_mode = "triangle"; }},
      {"cyclic_gamma",
       [](auto& c, auto& x) {
         c.name = "cyclic", c.cyclic_mode = "exp_range", c.cyclic_gamma = 0;
       }},
      {"step_size_up_batches",
       [](auto& c, auto& x) {
         c.name = "cyclic", c.step_size_up_batches = -1;
       }},
      {"step_size_up_epochs",
       [](auto& c, auto& x) { c.name = "cyclic", c.step_size_up_epochs = 0; }},
      {"step_size_up_epochs",  // 0.2 x 2 batches rounds to 0.
       [](auto& c, auto& x) {
         c.name = "cyclic", c.step_size_up_epochs = 0.2;
         x.batches_per_epoch = 2;
       }},
      {"scheduler",
       [](auto& c, auto& x) { c.name = "onecycle", x.batches_per_epoch = 0; }},
  };
  for (const BadConfig& b : bad) {
    SchedulerConfig config;
    LrContext context{0.01, 10, 20, false};
    b.change(config, context);
    SCOPED_TRACE(config.name + " " + b.key);
    try {
      NewLrScheduler(config, context);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_EQ(e.kind(), ErrorKind::kBadInput);
      EXPECT_EQ(what.rfind("trainer." + b.key + ": ", 0), 0u) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  }
}

TEST(LrSchedulerTest, ValidatesOnlyTheChosenSchedulersFields) {
  SchedulerConfig config;
  config.name = "step";
  config.pct_start = 5;  // onecycle's.
  config.plateau_factor = 2;
  config.cyclic_mode = "nonsense";
  config.cyclic_gamma = -1;  // Only exp_range reads it.
  EXPECT_NO_THROW(NewLrScheduler(config, LrContext{0.1, 1, 1, false}));
  config.name = "cyclic";
  config.cyclic_mode = "triangular";
  EXPECT_NO_THROW(NewLrScheduler(config, LrContext{0.1, 1, 1, false}));
}

TEST(LrSchedulerTest, UnknownNameListsValidNames) {
  SchedulerConfig config;
  config.name = "cosin";
  try {
    NewLrScheduler(config, LrContext{});
    FAIL() << "accepted";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.kind(), ErrorKind::kBadInput);
    EXPECT_EQ(what.rfind("trainer.scheduler: unknown scheduler \"cosin\"", 0),
              0u)
        << what;
    EXPECT_NE(what.find("did you mean \"cosine\""), std::string::npos) << what;
    for (const std::string& name : LrSchedulerNames()) {
      EXPECT_NE(what.find(name), std::string::npos) << name;
    }
  }
}

}  // namespace
}  // namespace hpo
