// The optimizers against PyTorch's own steps (tests/data/
// optimizer_reference.json, from make_optimizer_reference.py), checkpoints
// that resume bit-identically, learning rates and bad configurations.
#include "worker/optimizers.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "tests/util/scratch_dir.h"
#include "tests/util/test_data.h"

namespace hpo {
namespace {

using nlohmann::json;

const json& Reference() {
  static const json* reference = [] {
    const std::string path =
        testutil::SourcePath("tests/data/optimizer_reference.json");
    std::ifstream in(path);
    EXPECT_TRUE(in) << "cannot open " << path;
    return new json(in ? json::parse(in) : json::object());
  }();
  return *reference;
}

OptimizerConfig ConfigFrom(const json& j) {
  OptimizerConfig c;
  c.name = j.at("name").get<std::string>();
  c.lr = j.at("lr").get<double>();
  c.weight_decay = j.at("weight_decay").get<double>();
  c.momentum = j.at("momentum").get<double>();
  c.nesterov = j.at("nesterov").get<bool>();
  c.beta1 = j.at("beta1").get<double>();
  c.beta2 = j.at("beta2").get<double>();
  c.eps = j.at("eps").get<double>();
  c.alpha = j.at("alpha").get<double>();
  c.rho = j.at("rho").get<double>();
  return c;
}

// A float64 tensor from a JSON number or (nested) array of numbers.
torch::Tensor TensorFrom(const json& j) {
  std::vector<double> values;
  std::vector<int64_t> shape;
  const json* level = &j;
  while (level->is_array()) {
    shape.push_back(static_cast<int64_t>(level->size()));
    level = &level->at(0);
  }
  std::vector<const json*> stack = {&j};
  // Depth-first, left to right: row-major order.
  while (!stack.empty()) {
    const json* node = stack.back();
    stack.pop_back();
    if (node->is_array()) {
      for (auto it = node->rbegin(); it != node->rend(); ++it) {
        stack.push_back(&*it);
      }
    } else {
      values.push_back(node->get<double>());
    }
  }
  return torch::tensor(values, torch::kFloat64).reshape(shape);
}

// The reference problem: loss = sum((x @ w + b - y)^2) over w [3, 2] and
// b [2], in float64.
struct Problem {
  Problem() {
    const json& p = Reference().at("problem");
    w = TensorFrom(p.at("w")).requires_grad_(true);
    b = TensorFrom(p.at("b")).requires_grad_(true);
    x = TensorFrom(p.at("x"));
    y = TensorFrom(p.at("y"));
  }

  std::vector<torch::Tensor> params() const { return {w, b}; }

  // One training step as the trainer takes it: lr, zero_grad, backward,
  // step.
  void Step(torch::optim::Optimizer& optimizer, double lr) const {
    SetLearningRate(optimizer, lr);
    optimizer.zero_grad();
    (x.matmul(w) + b - y).pow(2).sum().backward();
    optimizer.step();
  }

  torch::Tensor w, b, x, y;
};

std::vector<double> Lrs(const json& c) {
  return c.at("lrs").get<std::vector<double>>();
}

TEST(OptimizersTest, EveryCaseMatchesPyTorchStepByStep) {
  const json& cases = Reference().at("cases");
  ASSERT_GE(cases.size(), 12u);
  double max_error = 0;
  for (const json& c : cases) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    Problem problem;
    auto optimizer = NewOptimizer(ConfigFrom(c.at("config")), problem.params());
    const std::vector<double> lrs = Lrs(c);
    ASSERT_EQ(lrs.size(), c.at("steps").size());
    for (size_t step = 0; step < lrs.size(); ++step) {
      problem.Step(*optimizer, lrs[step]);
      const json& expected = c.at("steps")[step];
      for (const auto& [name, actual] :
           {std::pair{"w", problem.w}, std::pair{"b", problem.b}}) {
        const torch::Tensor want = TensorFrom(expected.at(name));
        ASSERT_EQ(actual.sizes(), want.sizes());
        const double error =
            ((actual.detach() - want).abs() / want.abs().clamp_min(1e-6))
                .max()
                .item<double>();
        max_error = std::max(max_error, error);
        EXPECT_LE(error, 1e-10) << name << " after step " << step + 1;
      }
    }
  }
  std::cout << "largest relative error vs PyTorch: " << max_error << "\n";
  RecordProperty("max_relative_error", std::to_string(max_error));
}

// The parameters after `steps` uninterrupted steps with these lrs.
std::vector<torch::Tensor> RunUninterrupted(const OptimizerConfig& config,
                                            const std::vector<double>& lrs,
                                            size_t steps) {
  Problem problem;
  auto optimizer = NewOptimizer(config, problem.params());
  for (size_t i = 0; i < steps; ++i) problem.Step(*optimizer, lrs[i]);
  return {problem.w.detach().clone(), problem.b.detach().clone()};
}

void ExpectBitIdentical(const std::vector<torch::Tensor>& actual,
                        const std::vector<torch::Tensor>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_TRUE(torch::equal(actual[i], expected[i]))
        << "parameter " << i << ":\n"
        << actual[i] << "\nexpected\n"
        << expected[i];
  }
}

TEST(OptimizersTest, ResumingFromAFileContinuesBitIdentically) {
  testutil::ScratchDir dir("optimizers");
  for (const json& c : Reference().at("cases")) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    const OptimizerConfig config = ConfigFrom(c.at("config"));
    const std::vector<double> lrs = Lrs(c);
    const std::string path = dir.path() + "/optimizer.pt";

    Problem first;
    auto optimizer = NewOptimizer(config, first.params());
    for (size_t i = 0; i < 4; ++i) first.Step(*optimizer, lrs[i]);
    SaveOptimizer(*optimizer, path);

    // A new process: fresh parameters with the saved values, a fresh
    // optimizer with the same config.
    Problem resumed;
    {
      torch::NoGradGuard no_grad;
      resumed.w.copy_(first.w);
      resumed.b.copy_(first.b);
    }
    auto restored = NewOptimizer(config, resumed.params());
    LoadOptimizer(*restored, path);
    for (size_t i = 4; i < 8; ++i) resumed.Step(*restored, lrs[i]);

    ExpectBitIdentical({resumed.w.detach(), resumed.b.detach()},
                       RunUninterrupted(config, lrs, 8));
  }
}

TEST(OptimizersTest, ResumingFromTheCallersArchiveContinuesBitIdentically) {
  testutil::ScratchDir dir("optimizers");
  const std::string path = dir.path() + "/checkpoint.pt";
  for (const std::string name :
       {"adam", "adamw", "sgd", "rmsprop", "adagrad", "adadelta"}) {
    SCOPED_TRACE(name);
    OptimizerConfig config;
    config.name = name;
    config.lr = 0.01;
    config.momentum = name == "sgd" || name == "rmsprop" ? 0.9 : 0.0;
    const std::vector<double> lrs = {0.01, 0.02, 0.03, 0.04, 0.05, 0.06};

    Problem first;
    auto optimizer = NewOptimizer(config, first.params());
    for (size_t i = 0; i < 3; ++i) first.Step(*optimizer, lrs[i]);
    {
      // One checkpoint file: the model's tensors beside the optimizer.
      torch::serialize::OutputArchive archive;
      archive.write("model/w", first.w.detach());
      archive.write("model/b", first.b.detach());
      SaveOptimizer(*optimizer, archive, "trainer/optimizer");
      archive.save_to(path);
    }

    Problem resumed;
    torch::serialize::InputArchive archive;
    archive.load_from(path);
    torch::Tensor w, b;
    archive.read("model/w", w);
    archive.read("model/b", b);
    {
      torch::NoGradGuard no_grad;
      resumed.w.copy_(w);
      resumed.b.copy_(b);
    }
    auto restored = NewOptimizer(config, resumed.params());
    LoadOptimizer(*restored, archive, "trainer/optimizer", path);
    for (size_t i = 3; i < 6; ++i) resumed.Step(*restored, lrs[i]);

    ExpectBitIdentical({resumed.w.detach(), resumed.b.detach()},
                       RunUninterrupted(config, lrs, 6));
  }
}

TEST(OptimizersTest, LoadingRestoresTheLearningRate) {
  testutil::ScratchDir dir("optimizers");
  const std::string path = dir.path() + "/optimizer.pt";
  for (const std::string name :
       {"adam", "adamw", "sgd", "rmsprop", "adagrad", "adadelta"}) {
    SCOPED_TRACE(name);
    OptimizerConfig config;
    config.name = name;
    Problem problem;
    auto optimizer = NewOptimizer(config, problem.params());
    problem.Step(*optimizer, 0.0375);
    SaveOptimizer(*optimizer, path);

    auto restored = NewOptimizer(config, Problem().params());
    EXPECT_EQ(restored->param_groups()[0].options().get_lr(), config.lr);
    LoadOptimizer(*restored, path);
    EXPECT_EQ(restored->param_groups()[0].options().get_lr(), 0.0375);
  }
}

TEST(OptimizersTest, SetLearningRateSetsEveryGroup) {
  for (const std::string name :
       {"adam", "adamw", "sgd", "rmsprop", "adagrad", "adadelta"}) {
    SCOPED_TRACE(name);
    OptimizerConfig config;
    config.name = name;
    Problem problem;
    auto optimizer = NewOptimizer(config, {problem.w});
    optimizer->add_param_group(torch::optim::OptimizerParamGroup({problem.b}));
    ASSERT_EQ(optimizer->param_groups().size(), 2u);
    SetLearningRate(*optimizer, 0.125);
    for (const auto& group : optimizer->param_groups()) {
      EXPECT_EQ(group.options().get_lr(), 0.125);
    }
    EXPECT_THROW(SetLearningRate(*optimizer, -1), Error);
    EXPECT_THROW(
        SetLearningRate(*optimizer, std::numeric_limits<double>::quiet_NaN()),
        Error);
    EXPECT_EQ(optimizer->param_groups()[1].options().get_lr(), 0.125);
  }
}

TEST(OptimizersTest, SetLearningRateDrivesTheStep) {
  // Plain SGD moves every parameter by exactly lr * grad, in each group.
  OptimizerConfig config;
  config.name = "sgd";
  Problem problem;
  auto optimizer = NewOptimizer(config, {problem.w});
  optimizer->add_param_group(torch::optim::OptimizerParamGroup({problem.b}));
  const torch::Tensor w0 = problem.w.detach().clone();
  const torch::Tensor b0 = problem.b.detach().clone();
  problem.Step(*optimizer, 0.5);
  EXPECT_TRUE(torch::allclose(problem.w.detach(), w0 - 0.5 * problem.w.grad(),
                              0, 1e-15));
  EXPECT_TRUE(torch::allclose(problem.b.detach(), b0 - 0.5 * problem.b.grad(),
                              0, 1e-15));
}

TEST(OptimizersTest, EpsMinusOneTakesPyTorchsDefault) {
  Problem problem;
  OptimizerConfig config;
  config.name = "adam";
  auto adam = NewOptimizer(config, problem.params());
  EXPECT_EQ(static_cast<torch::optim::AdamOptions&>(adam->defaults()).eps(),
            1e-8);
  config.name = "rmsprop";
  auto rmsprop = NewOptimizer(config, problem.params());
  EXPECT_EQ(
      static_cast<torch::optim::RMSpropOptions&>(rmsprop->defaults()).eps(),
      1e-8);
  config.name = "adagrad";
  auto adagrad = NewOptimizer(config, problem.params());
  EXPECT_EQ(
      static_cast<torch::optim::AdagradOptions&>(adagrad->defaults()).eps(),
      1e-10);
  config.name = "adadelta";
  auto adadelta = NewOptimizer(config, problem.params());
  const auto& options = static_cast<AdadeltaOptions&>(adadelta->defaults());
  EXPECT_EQ(options.eps(), 1e-6);
  EXPECT_EQ(options.lr(), config.lr);  // Not PyTorch's default of 1.0.
  EXPECT_EQ(options.rho(), 0.9);
}

// The message of the hpo::Error (bad input) that `f` throws, or "".
template <typename F>
std::string BadInputMessage(F f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kBadInput) << e.what();
    return e.what();
  }
  return "";
}

TEST(OptimizersTest, BadConfigsThrowNamingTheKey) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  struct Bad {
    std::string name;
    void (*change)(OptimizerConfig&, double);
    std::string key;
  };
  const std::vector<Bad> bad = {
      {"nosuch", [](OptimizerConfig&, double) {}, "trainer.optimizer"},
      {"adam", [](OptimizerConfig& c, double) { c.lr = -0.1; }, "trainer.lr"},
      {"sgd", [](OptimizerConfig& c, double n) { c.lr = n; }, "trainer.lr"},
      {"adamw", [](OptimizerConfig& c, double) { c.weight_decay = -1; },
       "trainer.weight_decay"},
      {"adam", [](OptimizerConfig& c, double) { c.beta1 = 1; },
       "trainer.beta1"},
      {"adamw", [](OptimizerConfig& c, double n) { c.beta2 = n; },
       "trainer.beta2"},
      {"adam", [](OptimizerConfig& c, double) { c.eps = -2; }, "trainer.eps"},
      {"sgd", [](OptimizerConfig& c, double) { c.nesterov = true; },
       "trainer.nesterov"},
      {"sgd", [](OptimizerConfig& c, double) { c.momentum = -0.5; },
       "trainer.momentum"},
      {"rmsprop", [](OptimizerConfig& c, double) { c.alpha = -0.5; },
       "trainer.alpha"},
      {"adagrad", [](OptimizerConfig& c, double n) { c.eps = n; },
       "trainer.eps"},
      {"adadelta", [](OptimizerConfig& c, double) { c.rho = 1.5; },
       "trainer.rho"},
  };
  for (const Bad& b : bad) {
    OptimizerConfig config;
    config.name = b.name;
    b.change(config, nan);
    const std::string message =
        BadInputMessage([&] { NewOptimizer(config, Problem().params()); });
    EXPECT_NE(message.find(b.key), std::string::npos)
        << b.name << " / " << b.key << ": \"" << message << "\"";
  }
  OptimizerConfig ok;
  EXPECT_NE(BadInputMessage([&] { NewOptimizer(ok, {}); }).find("empty"),
            std::string::npos);
  ok.name = "sgd";
  ok.momentum = 0.9;
  ok.nesterov = true;
  EXPECT_NO_THROW(NewOptimizer(ok, Problem().params()));
}

TEST(OptimizersTest, LoadRefusesAMismatchingOrUnreadableFileNamingIt) {
  testutil::ScratchDir dir("optimizers");
  const std::string path = dir.path() + "/optimizer.pt";
  OptimizerConfig adam;
  Problem problem;
  auto saved = NewOptimizer(adam, problem.params());
  problem.Step(*saved, 0.01);
  SaveOptimizer(*saved, path);

  // Another optimizer.
  OptimizerConfig sgd;
  sgd.name = "sgd";
  auto other_kind = NewOptimizer(sgd, Problem().params());
  std::string message =
      BadInputMessage([&] { LoadOptimizer(*other_kind, path); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("adam"), std::string::npos) << message;

  // Other parameters: shapes, count, dtype.
  for (const std::vector<torch::Tensor>& params :
       {std::vector<torch::Tensor>{torch::zeros({2, 3}, torch::kFloat64),
                                   torch::zeros({2}, torch::kFloat64)},
        std::vector<torch::Tensor>{torch::zeros({3, 2}, torch::kFloat64)},
        std::vector<torch::Tensor>{torch::zeros({3, 2}), torch::zeros({2})}}) {
    auto other = NewOptimizer(adam, params);
    message = BadInputMessage([&] { LoadOptimizer(*other, path); });
    EXPECT_NE(message.find(path), std::string::npos) << message;
    EXPECT_NE(message.find("parameter"), std::string::npos) << message;
    EXPECT_TRUE(other->state().empty());
  }

  auto fresh = NewOptimizer(adam, Problem().params());
  message = BadInputMessage(
      [&] { LoadOptimizer(*fresh, dir.path() + "/missing.pt"); });
  EXPECT_NE(message.find("missing.pt"), std::string::npos) << message;

  const std::string garbage = dir.path() + "/garbage.pt";
  std::ofstream(garbage) << "not a checkpoint";
  message = BadInputMessage([&] { LoadOptimizer(*fresh, garbage); });
  EXPECT_NE(message.find("garbage.pt"), std::string::npos) << message;

  // An archive without the key.
  torch::serialize::OutputArchive empty;
  empty.write("model/w", torch::zeros({1}));
  const std::string model_only = dir.path() + "/model_only.pt";
  empty.save_to(model_only);
  torch::serialize::InputArchive archive;
  archive.load_from(model_only);
  message = BadInputMessage(
      [&] { LoadOptimizer(*fresh, archive, "optimizer", model_only); });
  EXPECT_NE(message.find("model_only.pt"), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_TRUE(fresh->state().empty());
}

TEST(OptimizersTest, SaveThatCannotWriteThrowsNamingTheFile) {
  testutil::ScratchDir dir("optimizers");
  const std::string path = dir.path() + "/no/such/dir/optimizer.pt";
  auto optimizer = NewOptimizer(OptimizerConfig(), Problem().params());
  try {
    SaveOptimizer(*optimizer, path);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kRuntime);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

TEST(OptimizersTest, AdadeltaSkipsParametersWithoutGradient) {
  OptimizerConfig config;
  config.name = "adadelta";
  config.lr = 1.0;
  Problem problem;
  torch::Tensor unused = torch::ones({4}, torch::kFloat64).requires_grad_();
  auto optimizer = NewOptimizer(config, {problem.w, unused, problem.b});
  problem.Step(*optimizer, 1.0);
  EXPECT_TRUE(torch::equal(unused.detach(), torch::ones({4}, torch::kFloat64)));
  EXPECT_EQ(optimizer->state().size(), 2u);
  for (const auto& [key, state] : optimizer->state()) {
    EXPECT_EQ(static_cast<const AdadeltaParamState&>(*state).step(), 1);
  }
}

}  // namespace
}  // namespace hpo
