// The trainer settings of a trial: the study's trainer with the trial's
// searched parameters over it.
#include "common/train_config.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace hpo {
namespace {

using nlohmann::json;

std::vector<std::string> Problems(const json& trainer, const json& params) {
  try {
    ParseTrainConfig(trainer, params, "study.json");
  } catch (const ValidationError& e) {
    return e.problems();
  }
  return {};
}

TEST(TrainConfigTest, SearchedParametersOverrideTheTrainer) {
  json trainer = {{"model", "cnn"},
                  {"optimizer", "sgd"},
                  {"lr", 0.1},
                  {"momentum", 0.9},
                  {"nesterov", true},
                  {"batch_size", 42},
                  {"scheduler", "onecycle"},
                  {"augment", {{"spec_time_mask", 20}, {"spec_freq_mask", 8}}}};
  json params = {{"lr", 0.003},
                 {"channels", {32, 64}},
                 {"batch_size", 64},
                 {"dropout", 0.25}};
  TrainConfig c = ParseTrainConfig(trainer, params, "trial 3");
  EXPECT_EQ(c.model.name, "cnn");
  EXPECT_EQ(c.model.channels, (std::vector<int64_t>{32, 64}));
  EXPECT_DOUBLE_EQ(c.model.dropout, 0.25);
  EXPECT_EQ(c.optimizer.name, "sgd");
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 0.003);
  EXPECT_DOUBLE_EQ(c.optimizer.momentum, 0.9);
  EXPECT_TRUE(c.optimizer.nesterov);
  EXPECT_EQ(c.batch_size, 64);
  EXPECT_EQ(c.scheduler.name, "onecycle");
  EXPECT_EQ(c.augment.spec_time_mask, 20);
  EXPECT_EQ(c.augment.spec_freq_mask, 8);
  EXPECT_EQ(c.augment.masks, 1);
}

TEST(TrainConfigTest, ListParametersElementsFormTheirList) {
  // A searched list ("type": "list") arrives as its elements and replaces
  // the trainer's fixed list whole.
  json trainer = {{"model", "cnn"}, {"channels", {8, 8, 8, 8, 8}}};
  json params = {{"channels[0]", 32},
                 {"channels[1]", 64},
                 {"kernel_size[1]", 3},
                 {"kernel_size[0]", 7}};
  TrainConfig c = ParseTrainConfig(trainer, params, "trial 3");
  EXPECT_EQ(c.model.channels, (std::vector<int64_t>{32, 64}));
  EXPECT_EQ(c.model.kernel_sizes, (std::vector<int>{7, 3}));
  EXPECT_EQ(c.model.kernel_size, 0);
  // One size for all blocks, as before.
  c = ParseTrainConfig(trainer, {{"kernel_size", 5}}, "trial 3");
  EXPECT_EQ(c.model.kernel_size, 5);
  EXPECT_TRUE(c.model.kernel_sizes.empty());
  // A missing element is named.
  EXPECT_EQ(Problems(trainer, {{"channels[1]", 64}}),
            (std::vector<std::string>{
                "study.json: trainer.channels: expected a list of positive "
                "integers (e.g. [64, 64, 128, 128]), found [null,64]"}));
  EXPECT_EQ(Problems(trainer, {{"kernel_size", {3, 65}}}),
            (std::vector<std::string>{"study.json: trainer.kernel_size: a "
                                      "kernel size is at most 64 (got 65)"}));
}

TEST(TrainConfigTest, DefaultsNeedOnlyAModel) {
  TrainConfig c = ParseTrainConfig({{"model", "mlp"}}, json::object(), "s");
  EXPECT_EQ(c.model.name, "mlp");
  EXPECT_EQ(c.optimizer.name, "adam");
  EXPECT_EQ(c.scheduler.name, "none");
  EXPECT_EQ(c.batch_size, 32);
  EXPECT_FALSE(c.amp);
  EXPECT_EQ(c.data_on_device, "auto");
  EXPECT_EQ(c.memory_format, "contiguous");
}

TEST(TrainConfigTest, DataOnDeviceIsAutoOrNever) {
  EXPECT_EQ(ParseTrainConfig({{"model", "cnn"}, {"data_on_device", "never"}},
                             json::object(), "s")
                .data_on_device,
            "never");
  std::vector<std::string> p = Problems(
      {{"model", "cnn"}, {"data_on_device", "always"}}, json::object());
  ASSERT_EQ(p.size(), 1u);
  EXPECT_NE(p[0].find("trainer.data_on_device: \"always\" is not one of auto, "
                      "never"),
            std::string::npos)
      << p[0];
}

TEST(TrainConfigTest, MemoryFormatIsContiguousOrChannelsLast) {
  EXPECT_EQ(ParseTrainConfig({{"model", "cnn"}},
                             {{"memory_format", "channels_last"}}, "s")
                .memory_format,
            "channels_last");
  std::vector<std::string> p =
      Problems({{"model", "cnn"}, {"memory_format", "nhwc"}}, json::object());
  ASSERT_EQ(p.size(), 1u);
  EXPECT_NE(p[0].find("trainer.memory_format: \"nhwc\" is not one of "
                      "contiguous, channels_last"),
            std::string::npos)
      << p[0];
}

TEST(TrainConfigTest, EveryProblemIsListedWithItsKey) {
  std::vector<std::string> p =
      Problems({{"model", "cnnn"}, {"lr", -1}, {"dropuot", 0.2}},
               {{"batch_size", 0}, {"channels", {64, -1}}});
  ASSERT_EQ(p.size(), 5u);
  std::string all;
  for (const std::string& s : p) all += s + "\n";
  EXPECT_NE(all.find("study.json: trainer.model: \"cnnn\" is not one of cnn, "),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("(did you mean \"cnn\"?)"), std::string::npos) << all;
  EXPECT_NE(all.find("trainer.lr: -1 is out of range"), std::string::npos);
  EXPECT_NE(
      all.find("trainer.dropuot: unknown key (did you mean \"dropout\"?)"),
      std::string::npos);
  EXPECT_NE(all.find("trainer.batch_size"), std::string::npos);
  EXPECT_NE(all.find("trainer.channels: expected a list of positive integers"),
            std::string::npos);
  EXPECT_FALSE(Problems({{"lr", 0.1}}, json::object()).empty());  // No model.
  EXPECT_FALSE(
      Problems({{"model", "cnn"}, {"optimizer", "sgd"}, {"nesterov", true}},
               json::object())
          .empty());  // Nesterov without momentum.
  EXPECT_FALSE(Problems({{"model", "cnn"}, {"augment", {{"time_mask", 3}}}},
                        json::object())
                   .empty());
}

// Integer settings stored in an int had no upper bound, so 2^32 + 1 was
// accepted and became 1.
TEST(TrainConfigTest, IntSettingsTooLargeForAnIntAreRejected) {
  for (const char* key : {"step_size", "t_max", "plateau_patience",
                          "plateau_cooldown", "step_size_up_batches"}) {
    std::vector<std::string> p = Problems(
        {{"model", "cnn"}, {key, int64_t{4294967297}}}, json::object());
    ASSERT_EQ(p.size(), 1u) << key;
    EXPECT_EQ(p[0], std::string("study.json: trainer.") + key +
                        ": must be <= 2147483647 (got 4294967297)");
  }
  TrainConfig c = ParseTrainConfig(
      {{"model", "cnn"}, {"step_size", 2147483647}}, json::object(), "s");
  EXPECT_EQ(c.scheduler.step_size, 2147483647);
}

TEST(TrainConfigTest, KeysCoverEverySetting) {
  const auto& keys = TrainConfigKeys();
  for (const char* k : {"model", "channels", "lr", "scheduler", "pct_start",
                        "cyclic_mode", "plateau_patience", "augment", "amp"}) {
    EXPECT_NE(std::find(keys.begin(), keys.end(), k), keys.end()) << k;
  }
  EXPECT_EQ(TrainableModels().size(), 8u);
}

}  // namespace
}  // namespace hpo
