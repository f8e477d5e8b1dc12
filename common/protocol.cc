#include "common/protocol.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "common/random.h"

namespace hpo {

using nlohmann::json;

namespace {

// What a field must hold.
enum class Kind {
  kString,
  kStringOrNull,
  kCount,     // Integer >= 0.
  kPositive,  // Integer >= 1.
  kNumber,    // Finite number > 0.
  kObject,
  kStringArray,
  kLeaseArray,
  kMetrics,      // Object of metric name -> number or null.
  kCountMatrix,  // Square array of arrays of integers >= 0 (a confusion
                 // matrix), at most kMaxClasses on a side.
};

constexpr size_t kMaxClasses = 1000;

struct Field {
  const char* name;
  Kind kind;
  bool required;
};

struct TypeInfo {
  MessageType type;
  const char* name;
  std::vector<Field> fields;
};

const std::vector<TypeInfo>& Types() {
  static const std::vector<TypeInfo> types = {
      {MessageType::kHello,
       "hello",
       {{"name", Kind::kString, true},
        {"host", Kind::kString, true},
        {"devices", Kind::kStringArray, true},
        {"slots", Kind::kPositive, true},
        {"session", Kind::kPositive, true},
        {"pid", Kind::kCount, false}}},
      {MessageType::kWelcome,
       "welcome",
       {{"worker_id", Kind::kCount, true},
        {"study", Kind::kString, true},
        {"spec", Kind::kObject, true},
        {"heartbeat_s", Kind::kNumber, true},
        {"lease_timeout_s", Kind::kNumber, true}}},
      {MessageType::kHeartbeat,
       "heartbeat",
       {{"running", Kind::kLeaseArray, false}}},
      {MessageType::kAssign,
       "assign",
       {{"lease", Kind::kPositive, true},
        {"trial", Kind::kCount, true},
        {"attempt", Kind::kPositive, true},
        {"study", Kind::kString, true},
        {"params", Kind::kObject, true},
        {"from_epoch", Kind::kCount, true},
        {"to_epoch", Kind::kPositive, true},
        {"checkpoint", Kind::kStringOrNull, false},
        {"best_value", Kind::kNumber, false}}},
      {MessageType::kEpoch,
       "epoch",
       {{"lease", Kind::kPositive, true},
        {"trial", Kind::kCount, true},
        {"epoch", Kind::kPositive, true},
        {"metrics", Kind::kMetrics, true},
        {"checkpoint", Kind::kStringOrNull, false},
        {"best_checkpoint", Kind::kStringOrNull, false}}},
      {MessageType::kFailure,
       "failure",
       {{"lease", Kind::kPositive, true},
        {"trial", Kind::kCount, true},
        {"epoch", Kind::kCount, true},
        {"kind", Kind::kString, true},
        {"message", Kind::kString, true}}},
      {MessageType::kDecision,
       "decision",
       {{"lease", Kind::kPositive, true},
        {"trial", Kind::kCount, true},
        {"action", Kind::kString, true},
        {"to_epoch", Kind::kCount, true}}},
      {MessageType::kEvaluate,
       "evaluate",
       {{"lease", Kind::kPositive, true},
        {"trial", Kind::kCount, true},
        {"study", Kind::kString, true},
        {"params", Kind::kObject, true},
        {"epoch", Kind::kPositive, true},
        {"checkpoint", Kind::kString, true},
        {"split", Kind::kString, true}}},
      {MessageType::kEvaluation,
       "evaluation",
       {{"lease", Kind::kPositive, true},
        {"trial", Kind::kCount, true},
        {"split", Kind::kString, true},
        {"metrics", Kind::kMetrics, true},
        {"confusion", Kind::kCountMatrix, true},
        {"classes", Kind::kStringArray, true}}},
      {MessageType::kForget,
       "forget",
       {{"study", Kind::kString, true},
        {"checkpoints", Kind::kStringArray, true}}},
      {MessageType::kDone, "done", {{"study", Kind::kString, true}}},
      {MessageType::kBye, "bye", {{"why", Kind::kString, true}}},
      {MessageType::kRejoin, "rejoin", {{"why", Kind::kString, true}}},
      {MessageType::kError, "error", {{"message", Kind::kString, true}}},
  };
  return types;
}

// An integer in [min, 2^63) (MessagePack decodes non-negative integers as
// unsigned).
bool IsCount(const json& v, int64_t min) {
  if (v.is_number_unsigned()) {
    uint64_t u = v.get<uint64_t>();
    return u <= static_cast<uint64_t>(INT64_MAX) &&
           static_cast<int64_t>(u) >= min;
  }
  return v.is_number_integer() && v.get<int64_t>() >= min;
}

bool Holds(const json& v, Kind kind) {
  switch (kind) {
    case Kind::kString:
      return v.is_string();
    case Kind::kStringOrNull:
      return v.is_string() || v.is_null();
    case Kind::kCount:
      return IsCount(v, 0);
    case Kind::kPositive:
      return IsCount(v, 1);
    case Kind::kNumber:
      return v.is_number() && v.get<double>() > 0 && v.get<double>() < 1e9;
    case Kind::kObject:
      return v.is_object();
    case Kind::kStringArray:
      if (!v.is_array()) return false;
      for (const json& e : v) {
        if (!e.is_string()) return false;
      }
      return true;
    case Kind::kLeaseArray:
      if (!v.is_array()) return false;
      for (const json& e : v) {
        if (!IsCount(e, 1)) return false;
      }
      return true;
    case Kind::kMetrics:
      if (!v.is_object() || v.size() > 64) return false;
      for (const auto& [name, value] : v.items()) {
        if (!value.is_number() && !value.is_null()) return false;
      }
      return true;
    case Kind::kCountMatrix:
      if (!v.is_array() || v.size() > kMaxClasses) return false;
      for (const json& row : v) {
        if (!row.is_array() || row.size() != v.size()) return false;
        for (const json& e : row) {
          if (!IsCount(e, 0)) return false;
        }
      }
      return true;
  }
  return false;
}

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kString:
      return "a string";
    case Kind::kStringOrNull:
      return "a string or null";
    case Kind::kCount:
      return "an integer >= 0";
    case Kind::kPositive:
      return "an integer >= 1";
    case Kind::kNumber:
      return "a positive number";
    case Kind::kObject:
      return "an object";
    case Kind::kStringArray:
      return "an array of strings";
    case Kind::kLeaseArray:
      return "an array of leases";
    case Kind::kMetrics:
      return "an object of at most 64 numbers";
    case Kind::kCountMatrix:
      return "a square array of arrays of integers >= 0";
  }
  return "?";
}

// Deepest nesting of arrays and maps a message may have. nlohmann's
// MessagePack reader recurses once per level, so without this limit a
// message of a few hundred thousand nested arrays (well under
// kMaxMessageBytes) would overflow the stack.
constexpr size_t kMaxDepth = 128;

// How a MessagePack value with first byte 0xc0 + i is laid out: `length`
// bytes of big-endian count follow; then, for a scalar, count + `fixed`
// payload bytes; for an array or a map (`per_item` 1 or 2), count items
// (map entries are a key and a value).
struct Format {
  uint8_t length;
  uint8_t fixed;
  uint8_t per_item;
};
constexpr Format kFormats[32] = {
    {0, 0, 0},  {0, 0, 0}, {0, 0, 0}, {0, 0, 0},   // nil, (unused), false, true
    {1, 0, 0},  {2, 0, 0}, {4, 0, 0},              // bin 8/16/32
    {1, 1, 0},  {2, 1, 0}, {4, 1, 0},              // ext 8/16/32
    {0, 4, 0},  {0, 8, 0},                         // float 32/64
    {0, 1, 0},  {0, 2, 0}, {0, 4, 0}, {0, 8, 0},   // uint 8..64
    {0, 1, 0},  {0, 2, 0}, {0, 4, 0}, {0, 8, 0},   // int 8..64
    {0, 2, 0},  {0, 3, 0}, {0, 5, 0}, {0, 9, 0},   // fixext 1..8
    {0, 17, 0},                                    // fixext 16
    {1, 0, 0},  {2, 0, 0}, {4, 0, 0},              // str 8/16/32
    {2, 0, 1},  {4, 0, 1}, {2, 0, 2}, {4, 0, 2}};  // array 16/32, map 16/32

// False if the MessagePack value at the start of `bytes` nests deeper than
// kMaxDepth. Walks the encoding without recursion; malformed or truncated
// input passes here and is left to the parser to report.
bool MsgpackDepthOk(const uint8_t* bytes, size_t size) {
  std::vector<uint64_t> open;  // Items still to come in each open container.
  size_t i = 0;
  while (i < size) {
    const uint8_t b = bytes[i++];
    uint64_t items = 0;  // Of a container that starts here.
    uint64_t skip = 0;   // Payload bytes of a scalar.
    // Fixints (0x00-0x7f, 0xe0-0xff) are the one byte.
    if (b >= 0x80 && b <= 0x8f) {
      items = 2 * uint64_t{b & 0x0fu};  // fixmap
    } else if (b >= 0x90 && b <= 0x9f) {
      items = b & 0x0fu;  // fixarray
    } else if (b >= 0xa0 && b <= 0xbf) {
      skip = b & 0x1fu;  // fixstr
    } else if (b >= 0xc0 && b <= 0xdf) {
      const Format& f = kFormats[b - 0xc0];
      uint64_t count = 0;
      for (int k = 0; k < f.length && i < size; ++k) {
        count = (count << 8) | bytes[i++];
      }
      if (f.per_item > 0) {
        items = count * f.per_item;
      } else {
        skip = count + f.fixed;
      }
    }
    if (skip > size - i) return true;  // Truncated.
    i += static_cast<size_t>(skip);
    if (!open.empty()) --open.back();
    if (items > 0) {
      if (open.size() >= kMaxDepth) return false;
      open.push_back(items);
    }
    while (!open.empty() && open.back() == 0) open.pop_back();
    if (open.empty()) return true;  // The top-level value is complete.
  }
  return true;
}

// False if the JSON text at `bytes` nests arrays and objects deeper than
// kMaxDepth. Brackets in strings do not count; malformed text passes here and
// is left to the parser to report. (A parser callback could count levels
// too, but nlohmann's callback parser rescans a container after each object
// in it, which is quadratic in the container's size.)
bool JsonDepthOk(const uint8_t* bytes, size_t size) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < size; ++i) {
    const uint8_t c = bytes[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // The escaped character cannot end the string.
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}

}  // namespace

const char* ToString(MessageType type) {
  for (const TypeInfo& info : Types()) {
    if (info.type == type) return info.name;
  }
  return "?";
}

Message MakeMessage(MessageType type, json fields) {
  Message m{type, std::move(fields)};
  if (!m.body.is_object()) m.body = json::object();
  m.body["v"] = kProtocolVersion;
  m.body["type"] = ToString(type);
  return m;
}

std::string Encode(const Message& message) {
  std::vector<uint8_t> bytes = json::to_msgpack(message.body);
  if (bytes.size() > kMaxMessageBytes) {
    throw ProtocolError(std::string(ToString(message.type)) + " message of " +
                        std::to_string(bytes.size()) +
                        " bytes exceeds the limit of " +
                        std::to_string(kMaxMessageBytes));
  }
  return std::string(bytes.begin(), bytes.end());
}

Message Decode(const void* data, size_t size) {
  if (size > kMaxMessageBytes) {
    throw ProtocolError("message of " + std::to_string(size) +
                        " bytes exceeds the limit of " +
                        std::to_string(kMaxMessageBytes));
  }
  if (size == 0) throw ProtocolError("empty message");
  const auto* bytes = static_cast<const uint8_t*>(data);
  json body;
  try {
    if (bytes[0] == '{') {
      // The parser itself does not recurse, but dump(), Encode() and copies
      // of the body do: the same limit as for MessagePack.
      if (!JsonDepthOk(bytes, size)) {
        throw ProtocolError("nested more than " + std::to_string(kMaxDepth) +
                            " levels deep");
      }
      body = json::parse(bytes, bytes + size);
    } else {
      if (!MsgpackDepthOk(bytes, size)) {
        throw ProtocolError("nested more than " + std::to_string(kMaxDepth) +
                            " levels deep");
      }
      body = json::from_msgpack(bytes, bytes + size);
      // MessagePack strings are not checked for UTF-8 (JSON text is), and
      // dumping an invalid one later (a log line, the metrics column) would
      // throw far from here.
      try {
        (void)body.dump();
      } catch (const json::type_error&) {
        throw ProtocolError("a string is not valid UTF-8");
      }
    }
  } catch (const json::exception& e) {
    throw ProtocolError(std::string("not MessagePack or JSON: ") + e.what());
  }
  if (!body.is_object()) throw ProtocolError("not a map");
  auto v = body.find("v");
  if (v == body.end() || !v->is_number_integer()) {
    throw ProtocolError("no protocol version \"v\"", true);
  }
  if (v->get<int64_t>() != kProtocolVersion) {
    throw ProtocolError("protocol version " + v->dump() +
                            ", this program speaks version " +
                            std::to_string(kProtocolVersion) +
                            " (run the same hpo release on both sides)",
                        true);
  }
  auto type = body.find("type");
  if (type == body.end() || !type->is_string()) {
    throw ProtocolError("no message \"type\"");
  }
  for (const TypeInfo& info : Types()) {
    if (*type != info.name) continue;
    for (const Field& field : info.fields) {
      auto it = body.find(field.name);
      if (it == body.end()) {
        if (field.required) {
          throw ProtocolError(std::string(info.name) + " message without \"" +
                              field.name + "\"");
        }
        continue;
      }
      if (!Holds(*it, field.kind)) {
        throw ProtocolError(std::string(info.name) + " message: \"" +
                            field.name + "\" must be " + KindName(field.kind));
      }
    }
    return Message{info.type, std::move(body)};
  }
  throw ProtocolError("unknown message type " + type->dump().substr(0, 40));
}

const char* ToString(FailureKind kind) {
  switch (kind) {
    case FailureKind::kDiverged:
      return "diverged";
    case FailureKind::kOom:
      return "oom";
    case FailureKind::kConfig:
      return "config";
    case FailureKind::kData:
      return "data";
    case FailureKind::kError:
      return "error";
  }
  return "error";
}

FailureKind ParseFailureKind(const std::string& name) {
  for (FailureKind kind : {FailureKind::kDiverged, FailureKind::kOom,
                           FailureKind::kConfig, FailureKind::kData}) {
    if (name == ToString(kind)) return kind;
  }
  return FailureKind::kError;
}

bool Retryable(FailureKind kind) { return kind == FailureKind::kError; }

namespace {

json CheckpointField(const std::optional<std::string>& checkpoint) {
  return checkpoint ? json(*checkpoint) : json(nullptr);
}

}  // namespace

Message HelloMessage(const Hello& h) {
  return MakeMessage(MessageType::kHello, {{"name", h.name},
                                           {"host", h.host},
                                           {"devices", h.devices},
                                           {"slots", h.slots},
                                           {"session", h.session},
                                           {"pid", h.pid}});
}

Message HeartbeatMessage(const std::vector<int64_t>& running) {
  return MakeMessage(MessageType::kHeartbeat, {{"running", running}});
}

Message EpochMessage(int64_t lease, int64_t trial, int epoch, json metrics,
                     const std::optional<std::string>& checkpoint,
                     const std::optional<std::string>& best_checkpoint) {
  json body = {{"lease", lease},
               {"trial", trial},
               {"epoch", epoch},
               {"metrics", std::move(metrics)},
               {"checkpoint", CheckpointField(checkpoint)}};
  if (best_checkpoint) body["best_checkpoint"] = *best_checkpoint;
  return MakeMessage(MessageType::kEpoch, std::move(body));
}

Message FailureMessage(int64_t lease, int64_t trial, int epoch,
                       FailureKind kind, const std::string& message) {
  return MakeMessage(MessageType::kFailure, {{"lease", lease},
                                             {"trial", trial},
                                             {"epoch", epoch},
                                             {"kind", ToString(kind)},
                                             {"message", message}});
}

Message EvaluationMessage(int64_t lease, int64_t trial,
                          const std::string& split, json result) {
  result["lease"] = lease;
  result["trial"] = trial;
  result["split"] = split;
  return MakeMessage(MessageType::kEvaluation, std::move(result));
}

Message ByeMessage(const std::string& why) {
  return MakeMessage(MessageType::kBye, {{"why", why}});
}

Message WelcomeMessage(const Welcome& w) {
  return MakeMessage(MessageType::kWelcome,
                     {{"worker_id", w.worker_id},
                      {"study", w.study},
                      {"spec", w.spec},
                      {"heartbeat_s", w.heartbeat_s},
                      {"lease_timeout_s", w.lease_timeout_s}});
}

Message CoordinatorHeartbeatMessage() {
  return MakeMessage(MessageType::kHeartbeat, json::object());
}

Message AssignMessage(const Assignment& a) {
  Message m = MakeMessage(MessageType::kAssign,
                          {{"lease", a.lease},
                           {"trial", a.trial},
                           {"attempt", a.attempt},
                           {"study", a.study},
                           {"params", a.params},
                           {"from_epoch", a.from_epoch},
                           {"to_epoch", a.to_epoch},
                           {"checkpoint", CheckpointField(a.checkpoint)}});
  if (a.best_value) m.body["best_value"] = *a.best_value;
  return m;
}

Message DecisionMessage(int64_t lease, int64_t trial, bool go_on,
                        int to_epoch) {
  return MakeMessage(MessageType::kDecision,
                     {{"lease", lease},
                      {"trial", trial},
                      {"action", go_on ? "continue" : "stop"},
                      {"to_epoch", to_epoch}});
}

Message EvaluateMessage(const EvaluationRequest& r) {
  return MakeMessage(MessageType::kEvaluate, {{"lease", r.lease},
                                              {"trial", r.trial},
                                              {"study", r.study},
                                              {"params", r.params},
                                              {"epoch", r.epoch},
                                              {"checkpoint", r.checkpoint},
                                              {"split", r.split}});
}

Message ForgetMessage(const std::string& study,
                      const std::vector<std::string>& checkpoints) {
  return MakeMessage(MessageType::kForget,
                     {{"study", study}, {"checkpoints", checkpoints}});
}

Message DoneMessage(const std::string& study) {
  return MakeMessage(MessageType::kDone, {{"study", study}});
}

Message RejoinMessage(const std::string& why) {
  return MakeMessage(MessageType::kRejoin, {{"why", why}});
}

Message ErrorMessage(const std::string& message) {
  return MakeMessage(MessageType::kError, {{"message", message}});
}

int64_t NewLease() {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t base = [] {
    std::random_device rd;
    uint64_t seed = (uint64_t{rd()} << 32) ^ rd();
    return seed ^
           static_cast<uint64_t>(
               std::chrono::steady_clock::now().time_since_epoch().count());
  }();
  // A SplitMix64 sequence from a random start: distinct for 2^64 calls.
  uint64_t x = Mix64(base + 0x9e3779b97f4a7c15ULL * counter++);
  x &= 0x7fffffffffffffffULL;
  return x == 0 ? 1 : static_cast<int64_t>(x);
}

}  // namespace hpo
