// libFuzzer target for the wire protocol: one frame as a worker or the
// coordinator receives it from the network.
//
// Contract checked: Decode() either returns a message or throws
// hpo::ProtocolError; it never crashes, hangs or throws anything else. A
// decoded message is nested at most kMaxDepth levels deep (so that code that
// walks it recursively cannot overflow the stack), and can be used as the
// handlers use it: dumped as JSON (log lines, the store) and encoded again,
// and what is encoded decodes to the same message. The "params" of an
// "assign" or "evaluate" go through CheckTrialParams() against a study with
// every kind of parameter, as a worker checks them: it accepts them or throws
// hpo::ValidationError, nothing else.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/protocol.h"
#include "common/study_spec.h"
#include "common/trial_params.h"

namespace {

// common/protocol.cc's limit on nesting.
constexpr size_t kMaxDepth = 128;

// Levels of non-empty arrays and objects in `value`, counted without
// recursion (MessagePack may hold an empty one below the last level).
size_t Depth(const nlohmann::json& value) {
  size_t deepest = 0;
  std::vector<std::pair<const nlohmann::json*, size_t>> todo = {{&value, 0}};
  while (!todo.empty()) {
    auto [v, depth] = todo.back();
    todo.pop_back();
    if (!v->is_structured() || v->empty()) continue;
    deepest = std::max(deepest, depth + 1);
    for (const nlohmann::json& child : *v) todo.emplace_back(&child, depth + 1);
  }
  return deepest;
}

// A study with a parameter of every type, a condition and an explicit grid.
const hpo::StudySpec& Study() {
  static const hpo::StudySpec spec = hpo::ParseStudy(nlohmann::json::parse(R"({
        "name": "fuzz",
        "trainer": {"model": "cnn"},
        "search_space": {
          "lr": {"type": "loguniform", "low": 1e-4, "high": 1e-1},
          "dropout": {"type": "uniform", "low": 0, "high": 0.5,
                      "grid": [0, 0.25, 0.5]},
          "batch_size": {"type": "int", "low": 16, "high": 256, "step": 16},
          "channels": {"type": "choice",
                       "values": [[8, 16], [8, 16, 32], [16, 32, 64]]},
          "scheduler": {"type": "choice", "values": ["none", "cyclic"]},
          "cyclic_max_lr_factor": {"type": "uniform", "low": 2, "high": 10,
                                   "when": {"scheduler": "cyclic"}}
        },
        "algorithm": {"type": "random", "max_epochs": 3},
        "budget": {"max_trials": 4}
      })"),
                                                     "fuzz.json");
  return spec;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hpo::Message message;
  try {
    message = hpo::Decode(data, size);
  } catch (const hpo::ProtocolError&) {
    return 0;  // A clean rejection.
  }
  // Anything that escapes from here on is a crash for libFuzzer.
  if (Depth(message.body) > kMaxDepth) {
    std::fprintf(stderr, "decoded a message nested %zu levels deep\n",
                 Depth(message.body));
    std::abort();
  }
  if ((message.type == hpo::MessageType::kAssign ||
       message.type == hpo::MessageType::kEvaluate) &&
      message.body.is_object() && message.body.contains("params")) {
    try {
      hpo::CheckTrialParams(Study(), message.body["params"], "fuzz");
    } catch (const hpo::ValidationError&) {
      // A clean rejection.
    }
  }
  const std::string text = message.body.dump();
  std::string bytes;
  try {
    bytes = hpo::Encode(message);
  } catch (const hpo::ProtocolError&) {
    return 0;  // JSON text can grow past the limit as MessagePack.
  }
  const hpo::Message again = hpo::Decode(bytes);
  if (again.type != message.type || again.body.dump() != text) {
    std::fprintf(stderr, "round trip changed the message:\n%s\n%s\n",
                 text.c_str(), again.body.dump().c_str());
    std::abort();
  }
  return 0;
}
