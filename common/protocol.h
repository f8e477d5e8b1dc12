// The wire protocol between hpo-coordinator and hpo-worker (README.md, "How
// coordinator and workers talk").
//
// The coordinator binds a ZeroMQ ROUTER; each worker connects a DEALER. Every
// message is one frame: a MessagePack map (JSON text is accepted too, for
// debugging) with the protocol version "v", a "type" and the type's fields.
//
//   worker -> coordinator            coordinator -> worker
//   hello     name host devices      welcome    worker_id study spec
//             slots session pid                 heartbeat_s lease_timeout_s
//   heartbeat running (leases)       heartbeat
//   epoch     lease trial epoch      assign     lease trial attempt params
//             metrics [checkpoint]              from_epoch to_epoch
//   failure   lease trial epoch                 [checkpoint]
//             kind message           decision   lease trial action to_epoch
//   evaluation lease trial split     evaluate   lease trial study params
//             metrics confusion                 epoch checkpoint split
//             classes                forget     study checkpoints
//   bye       why  (leaves the       done       study        (study over)
//             study after done)      rejoin     why    (say hello again)
//   error / error: message           (a fatal mismatch, e.g. the version)
//
// When the search is over, the coordinator has one worker evaluate the best
// trial's checkpoint on the held-out split ("evaluate"; the answer is
// "evaluation", or "failure" with the lease); "forget" asks a worker to
// delete checkpoints nobody needs any more (pruned and failed trials), paths
// relative to its checkpoint directory.
//
// A worker's hello carries a session number it draws each time it (re)joins;
// a hello means "I run nothing": a new session from a known worker ends the
// attempts of its previous one, a repeated hello of the same session does not.
//
// A trial attempt is identified on the wire by its lease: a random 63-bit
// number the coordinator draws per attempt, so a message from an attempt the
// coordinator has given up on (or from before a coordinator restart) never
// matches a live one.
//
// Decode() checks everything a handler relies on (version, known type, every
// required field with its type and range) and throws ProtocolError otherwise,
// so handlers may use json::at() on required fields without further checks.
#ifndef HPO_COMMON_PROTOCOL_H_
#define HPO_COMMON_PROTOCOL_H_

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace hpo {

constexpr int kProtocolVersion = 1;
// Larger messages are dropped unread (a study spec or a trial's parameters
// are a few kilobytes).
constexpr size_t kMaxMessageBytes = 1 << 20;

enum class MessageType {
  kHello,
  kWelcome,
  kHeartbeat,
  kAssign,
  kEpoch,
  kFailure,
  kDecision,
  kEvaluate,
  kEvaluation,
  kForget,
  kDone,
  kBye,
  kRejoin,
  kError,
};

const char* ToString(MessageType type);

struct Message {
  MessageType type = MessageType::kHeartbeat;
  nlohmann::json body;  // An object; includes "v" and "type".
};

// A message that cannot be used: malformed, oversized, unknown type, or a
// different protocol version (version_mismatch() is then true).
class ProtocolError : public std::runtime_error {
 public:
  ProtocolError(const std::string& what, bool version_mismatch = false)
      : std::runtime_error(what), version_mismatch_(version_mismatch) {}
  bool version_mismatch() const { return version_mismatch_; }

 private:
  bool version_mismatch_;
};

// Builds a message of `type` from `fields` (an object), stamping the version.
Message MakeMessage(MessageType type, nlohmann::json fields);

// Encodes as MessagePack. Throws ProtocolError if the result exceeds
// kMaxMessageBytes.
std::string Encode(const Message& message);

// Decodes and validates one frame. Throws ProtocolError saying what is wrong.
Message Decode(const void* data, size_t size);
inline Message Decode(const std::string& bytes) {
  return Decode(bytes.data(), bytes.size());
}

// Why a trial attempt failed, as a worker reports it ("kind" of a failure
// message). Whether another attempt could succeed follows from it.
enum class FailureKind {
  kDiverged,  // The loss became NaN or infinite.
  kOom,       // Out of memory on the trial's device.
  kConfig,    // The study or the parameters cannot work (on any worker).
  kData,      // This worker cannot read the study's data.
  kError,     // Anything else: a crash, a lost worker, no free slot.
};

// "diverged", "oom", "config", "data", "error".
const char* ToString(FailureKind kind);
// The kind named `name`; a name this version does not know is kError.
FailureKind ParseFailureKind(const std::string& name);
// True for "error" only. "diverged", "oom" and "config" happen again on any
// worker: the trial fails at once. "data" is this worker's --data: the
// coordinator retries the job on another worker when one can read the data,
// and fails the trial otherwise.
bool Retryable(FailureKind kind);

// Typed builders, one per message the coordinator or a worker sends, so each
// field is named in one place (the table in protocol.cc checks them again
// on the receiving end).

// worker -> coordinator
struct Hello {
  std::string name;
  std::string host;
  std::vector<std::string> devices;
  int slots = 1;
  int64_t session = 0;
  int64_t pid = 0;
};
Message HelloMessage(const Hello& hello);
Message HeartbeatMessage(const std::vector<int64_t>& running);
// `best_checkpoint` (trainer.keep "best"): this epoch is the trial's best
// so far, and the worker saved its weights there.
Message EpochMessage(int64_t lease, int64_t trial, int epoch,
                     nlohmann::json metrics,
                     const std::optional<std::string>& checkpoint,
                     const std::optional<std::string>& best_checkpoint = {});
Message FailureMessage(int64_t lease, int64_t trial, int epoch,
                       FailureKind kind, const std::string& message);
// `result`: the trainer's {"metrics", "confusion", "classes"}.
Message EvaluationMessage(int64_t lease, int64_t trial,
                          const std::string& split, nlohmann::json result);
Message ByeMessage(const std::string& why);

// coordinator -> worker
struct Welcome {
  int64_t worker_id = 0;
  std::string study;
  nlohmann::json spec;
  double heartbeat_s = 0;
  double lease_timeout_s = 0;
};
Message WelcomeMessage(const Welcome& welcome);
// An empty heartbeat: "the coordinator is alive".
Message CoordinatorHeartbeatMessage();
struct Assignment {
  int64_t lease = 0;
  int64_t trial = 0;
  int attempt = 1;
  std::string study;
  nlohmann::json params;
  int from_epoch = 0;
  int to_epoch = 0;
  std::optional<std::string> checkpoint;  // Restore from it (from_epoch > 0).
  // trainer.keep "best": the trial's best objective so far, which an epoch
  // must beat for the worker to save it as the trial's best.
  std::optional<double> best_value;
};
Message AssignMessage(const Assignment& assignment);
// "continue" to `to_epoch`, or "stop" (`to_epoch`: where the trial stopped).
Message DecisionMessage(int64_t lease, int64_t trial, bool go_on, int to_epoch);
struct EvaluationRequest {
  int64_t lease = 0;
  int64_t trial = 0;
  std::string study;
  nlohmann::json params;
  int epoch = 0;
  std::string checkpoint;
  std::string split;
};
Message EvaluateMessage(const EvaluationRequest& request);
Message ForgetMessage(const std::string& study,
                      const std::vector<std::string>& checkpoints);
Message DoneMessage(const std::string& study);
Message RejoinMessage(const std::string& why);
Message ErrorMessage(const std::string& message);

// A new random lease (positive, below 2^63), from the OS entropy source
// mixed with a counter.
int64_t NewLease();

}  // namespace hpo

#endif  // HPO_COMMON_PROTOCOL_H_
