// One valid message of every type, with every optional field set: the
// protocol tests' samples and the protocol fuzzer's seed corpus
// (fuzz/make_protocol_corpus.cc).
#ifndef HPO_TESTS_UTIL_PROTOCOL_SAMPLES_H_
#define HPO_TESTS_UTIL_PROTOCOL_SAMPLES_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "common/protocol.h"

namespace hpo {

inline std::vector<std::pair<MessageType, nlohmann::json>> EveryType() {
  using nlohmann::json;
  return {
      {MessageType::kHello,
       {{"name", "w1"},
        {"host", "node7"},
        {"devices", {"cuda:0", "cuda:1"}},
        {"slots", 2},
        {"session", 99},
        {"pid", 1234}}},
      {MessageType::kWelcome,
       {{"worker_id", 3},
        {"study", "lr_sweep"},
        {"spec",
         {{"name", "lr_sweep"},
          {"seed", 7},
          {"objective", {{"metric", "val_accuracy"}, {"mode", "max"}}},
          {"trainer", {{"model", "cnn"}, {"batch_size", 42}}},
          {"search_space",
           {{"lr", {{"type", "loguniform"}, {"low", 1e-5}, {"high", 0.1}}}}},
          {"algorithm", {{"type", "random"}, {"max_epochs", 3}}},
          {"budget", {{"max_trials", 4}}}}},
        {"heartbeat_s", 2},
        {"lease_timeout_s", 20.5}}},
      {MessageType::kHeartbeat, {{"running", {1, int64_t{1} << 62}}}},
      {MessageType::kAssign,
       {{"lease", int64_t{0x7fffffffffffffff}},
        {"trial", 0},
        {"attempt", 1},
        {"study", "lr_sweep"},
        {"params", {{"lr", 0.001}, {"channels", {32, 64}}}},
        {"from_epoch", 3},
        {"to_epoch", 9},
        {"checkpoint", "/ck/t0-e3.pt"}}},
      {MessageType::kEpoch,
       {{"lease", 5},
        {"trial", 12},
        {"epoch", 4},
        {"metrics", {{"val_accuracy", 0.5}, {"train_loss", nullptr}}},
        {"checkpoint", nullptr}}},
      {MessageType::kFailure,
       {{"lease", 5},
        {"trial", 12},
        {"epoch", 0},
        {"kind", "diverged"},
        {"message", "loss is NaN"}}},
      {MessageType::kDecision,
       {{"lease", 5}, {"trial", 12}, {"action", "continue"}, {"to_epoch", 9}}},
      {MessageType::kEvaluate,
       {{"lease", 6},
        {"trial", 3},
        {"study", "lr_sweep"},
        {"params", {{"lr", 0.01}}},
        {"epoch", 9},
        {"checkpoint", "lr_sweep/trial-00003/epoch-0009.pt"},
        {"split", "test"}}},
      {MessageType::kEvaluation,
       {{"lease", 6},
        {"trial", 3},
        {"split", "test"},
        {"metrics", {{"test_loss", 1.5}, {"test_accuracy", 0.25}}},
        {"confusion", {{1, 0}, {3, 0}}},
        {"classes", {"Rock", "Pop"}}}},
      {MessageType::kForget,
       {{"study", "lr_sweep"},
        {"checkpoints", {"lr_sweep/trial-00001/epoch-0003.pt"}}}},
      {MessageType::kDone, {{"study", "lr_sweep"}}},
      {MessageType::kBye, {{"why", "the study is over"}}},
      {MessageType::kRejoin, {{"why", "unknown session"}}},
      {MessageType::kError, {{"message", "version 2"}}},
  };
}

}  // namespace hpo

#endif  // HPO_TESTS_UTIL_PROTOCOL_SAMPLES_H_
