// The command trainer's line protocol and argv substitution.
#include "common/command_protocol.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"

namespace hpo {
namespace command {
namespace {

using nlohmann::json;
using Kind = ProtocolLine::Kind;

TEST(CommandProtocolTest, MetricsLine) {
  ProtocolLine l = ParseLine(
      R"(hpo-metrics {"epoch": 3, "val_accuracy": 0.61, "val_loss": 1.2, "f1": 0.5})");
  ASSERT_EQ(l.kind, Kind::kMetrics) << l.error;
  EXPECT_EQ(l.epoch, 3);
  EXPECT_EQ(l.metrics,
            (json{{"val_accuracy", 0.61}, {"val_loss", 1.2}, {"f1", 0.5}}));
}

TEST(CommandProtocolTest, NonFiniteValuesReadAsNull) {
  ProtocolLine l = ParseLine(
      R"(hpo-metrics {"epoch": 1, "val_loss": "nan", "a": "inf", "b": null})");
  ASSERT_EQ(l.kind, Kind::kMetrics) << l.error;
  EXPECT_TRUE(l.metrics["val_loss"].is_null());
  EXPECT_TRUE(l.metrics["a"].is_null());
  EXPECT_TRUE(l.metrics["b"].is_null());
}

TEST(CommandProtocolTest, CheckpointLine) {
  ProtocolLine l =
      ParseLine(R"(hpo-checkpoint {"epoch": 9, "path": "ckpt/e9.pt"})"
                "\r");
  ASSERT_EQ(l.kind, Kind::kCheckpoint) << l.error;
  EXPECT_EQ(l.epoch, 9);
  EXPECT_EQ(l.path, "ckpt/e9.pt");
}

TEST(CommandProtocolTest, OtherLinesAreTheProgramsOwn) {
  for (const char* line : {"", "epoch 3: loss 1.2", "hpo-metricsX {}",
                           " hpo-metrics {}", "HPO-METRICS {\"epoch\": 1}"}) {
    EXPECT_EQ(ParseLine(line).kind, Kind::kOther) << line;
  }
}

TEST(CommandProtocolTest, MalformedTaggedLinesSayWhatIsWrong) {
  struct Case {
    const char* line;
    const char* says;
  };
  for (const Case& c : std::vector<Case>{
           {"hpo-metrics", "not a JSON object"},
           {"hpo-metrics {\"epoch\": 1", "not a JSON object"},
           {"hpo-metrics [1]", "not a JSON object"},
           {"hpo-metrics {\"val_loss\": 1}", "\"epoch\""},
           {"hpo-metrics {\"epoch\": 0}", "\"epoch\""},
           {"hpo-metrics {\"epoch\": 1.5}", "\"epoch\""},
           {"hpo-metrics {\"epoch\": 1, \"acc\": \"high\"}",
            "\"acc\" is string, not a number"},
           {"hpo-metrics {\"epoch\": 1, \"acc\": [1]}", "\"acc\" is array"},
           {"hpo-checkpoint {\"epoch\": 2}", "\"path\""},
           {"hpo-checkpoint {\"epoch\": 2, \"path\": \"\"}", "\"path\""},
       }) {
    ProtocolLine l = ParseLine(c.line);
    EXPECT_EQ(l.kind, Kind::kMalformed) << c.line;
    EXPECT_NE(l.error.find(c.says), std::string::npos)
        << c.line << " -> " << l.error;
  }
}

TEST(CommandProtocolTest, ParametersAreSubstituted) {
  const json params = {{"lr", 0.001},
                       {"batch_size", 64},
                       {"optimizer", "adam"},
                       {"amp", true},
                       {"wd", 1e-05}};
  EXPECT_EQ(SubstituteParams(
                {"python3", "train.py", "--lr", "{lr}", "--bs={batch_size}",
                 "{optimizer}-{amp}", "{wd}", "{{literal}}", "plain"},
                params),
            (std::vector<std::string>{"python3", "train.py", "--lr", "0.001",
                                      "--bs=64", "adam-true", "1e-05",
                                      "{literal}", "plain"}));
}

TEST(CommandProtocolTest, BadReferencesAreBadInput) {
  const json params = {{"lr", 0.1}};
  for (const char* arg : {"{momentum}", "--lr={lr", "x}", "{}"}) {
    try {
      SubstituteParams({"train", arg}, params);
      ADD_FAILURE() << arg << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.exit_code(), 2);
      EXPECT_NE(std::string(e.what()).find(arg), std::string::npos) << e.what();
    }
  }
}

TEST(CommandProtocolTest, ReferencedParamsListsTheNames) {
  EXPECT_EQ(ReferencedParams({"a", "{lr}", "--x={bs}{{y}}", "{lr}"}),
            (std::vector<std::string>{"lr", "bs", "lr"}));
  EXPECT_THROW(ReferencedParams({"{lr"}), Error);
}

// Runs `code` with Debian's python3 and python/ on its path; its stdout.
std::string RunPython(const std::string& code) {
  const char* source = std::getenv("HPO_SOURCE_DIR");
  EXPECT_NE(source, nullptr) << "HPO_SOURCE_DIR is not set (run under ctest)";
  const std::string command =
      "env -i HPO_PARAMS='{\"lr\": 0.01}' "
      "HPO_FROM_EPOCH=2 HPO_TO_EPOCH=5 "
      "HPO_CHECKPOINT=c/e2.pt PYTHONPATH=" +
      std::string(source ? source : ".") + "/python /usr/bin/python3 -c \"" +
      code + "\"";
  FILE* pipe = popen(command.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  std::string out;
  char buffer[4096];
  size_t n;
  while (pipe && (n = fread(buffer, 1, sizeof buffer, pipe)) > 0) {
    out.append(buffer, n);
  }
  EXPECT_EQ(pipe ? pclose(pipe) : -1, 0) << out;
  return out;
}

// The Python helper shipped in python/hpo_trial.py prints lines this parser
// reads back as it meant them.
TEST(CommandProtocolTest, ThePythonHelpersLinesParse) {
  const std::string out = RunPython(
      "import hpo_trial as h; "
      "assert h.params() == {'lr': 0.01}; "
      "assert (h.from_epoch(), h.to_epoch()) == (2, 5); "
      "assert h.resume_checkpoint() == 'c/e2.pt'; "
      "print('my own line'); "
      "h.report(3, val_accuracy=0.75, val_loss=float('nan'), f1=1); "
      "h.checkpoint(5, 'c/e5.pt')");
  std::istringstream lines(out);
  std::vector<ProtocolLine> parsed;
  for (std::string line; std::getline(lines, line);) {
    parsed.push_back(ParseLine(line));
  }
  ASSERT_EQ(parsed.size(), 3u) << out;
  EXPECT_EQ(parsed[0].kind, Kind::kOther);
  ASSERT_EQ(parsed[1].kind, Kind::kMetrics) << parsed[1].error;
  EXPECT_EQ(parsed[1].epoch, 3);
  EXPECT_EQ(parsed[1].metrics,
            (json{{"val_accuracy", 0.75}, {"val_loss", nullptr}, {"f1", 1}}));
  ASSERT_EQ(parsed[2].kind, Kind::kCheckpoint) << parsed[2].error;
  EXPECT_EQ(parsed[2].epoch, 5);
  EXPECT_EQ(parsed[2].path, "c/e5.pt");
}

}  // namespace
}  // namespace command
}  // namespace hpo
