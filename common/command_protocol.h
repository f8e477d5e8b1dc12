// The line protocol between hpo-worker and a training program it runs for a
// job (the command trainer, `"trainer": {"command": [...]}`), as pure
// functions: the program's argv and environment from the job, and the
// meaning of each line it prints.
//
// A program prints, on stdout, one line per epoch
//   hpo-metrics {"epoch": 3, "val_accuracy": 0.61, "val_loss": 1.2}
// and after its last epoch
//   hpo-checkpoint {"epoch": 9, "path": "..."}
// Every other line is the program's own (the worker logs it).
//
// Its exit code says how a failure should be treated (README, "Your own
// training script"): kExitConfig (78, sysexits' EX_CONFIG) or 2 (a usage
// error, as Python's argparse exits) fail the trial as `config`, kExitData
// (65, EX_DATAERR) as `data`; any other non-zero code, or a signal, fails the
// attempt as `error` and the coordinator retries it.
#ifndef HPO_COMMON_COMMAND_PROTOCOL_H_
#define HPO_COMMON_COMMAND_PROTOCOL_H_

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/protocol.h"

namespace hpo {
namespace command {

constexpr int kExitConfig = 78;
constexpr int kExitData = 65;

// How a program that exited with `code` (non-zero) failed.
FailureKind ExitFailureKind(int code);

// One line of a program's stdout.
struct ProtocolLine {
  enum class Kind {
    kOther,       // The program's own output.
    kMetrics,     // hpo-metrics: `epoch` and `metrics`.
    kCheckpoint,  // hpo-checkpoint: `epoch` and `path`.
    kMalformed,   // Starts with a tag but does not parse: see `error`.
  };
  Kind kind = Kind::kOther;
  int epoch = 0;
  // kMetrics: every field but "epoch"; each a finite number or null (a
  // NaN or infinity the program printed as a string reads as null).
  nlohmann::json metrics = nlohmann::json::object();
  std::string path;   // kCheckpoint.
  std::string error;  // kMalformed: what is wrong, in one line.
};

// What `line` (without its newline; a trailing "\r" is ignored) means.
ProtocolLine ParseLine(const std::string& line);

// `argv` with each `{name}` replaced by the trial's parameter `name`:
// numbers as JSON writes them (0.001, 64), strings as they are, booleans
// as true/false; `{{` and `}}` stand for literal braces. Throws
// hpo::Error (bad input) naming the argument for a name that is not a
// parameter or a brace left open.
std::vector<std::string> SubstituteParams(const std::vector<std::string>& argv,
                                          const nlohmann::json& params);

// `argv` as one line for logs and listings: the arguments joined by spaces.
std::string JoinArgv(const std::vector<std::string>& argv);

// The names `{name}` refers to in `argv` (for checking a study file before
// any worker runs it). Throws as SubstituteParams does for a brace left
// open.
std::vector<std::string> ReferencedParams(const std::vector<std::string>& argv);

}  // namespace command
}  // namespace hpo

#endif  // HPO_COMMON_COMMAND_PROTOCOL_H_
