// Writes the protocol fuzzer's seed corpus: one message of every type, with
// every optional field set, as MessagePack (TYPE.msgpack) and as JSON text
// (TYPE.json). Usage: make_protocol_corpus DIR. To remake fuzz/corpus/protocol
// after a protocol change:
//   cmake --build build-fuzz --target make_protocol_corpus
//   build-fuzz/fuzz/make_protocol_corpus fuzz/corpus/protocol
#include <cstdio>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "common/protocol.h"

namespace {

using hpo::MessageType;
using nlohmann::json;

// The messages of tests/common/protocol_test.cc (EveryType()).
std::vector<std::pair<MessageType, json>> EveryType() {
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

bool Write(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_protocol_corpus DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  for (const auto& [type, fields] : EveryType()) {
    const hpo::Message m = hpo::MakeMessage(type, fields);
    const std::string stem = dir + "/" + hpo::ToString(type);
    if (!Write(stem + ".msgpack", hpo::Encode(m)) ||
        !Write(stem + ".json", m.body.dump())) {
      std::fprintf(stderr, "make_protocol_corpus: cannot write %s\n",
                   stem.c_str());
      return 1;
    }
  }
  return 0;
}
