#include "common/protocol.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tests/util/protocol_samples.h"

namespace hpo {
namespace {

using nlohmann::json;

json Valid(MessageType type) {
  for (const auto& [t, fields] : EveryType()) {
    if (t == type) return MakeMessage(t, fields).body;
  }
  return json();
}

std::string Msgpack(const json& body) {
  std::vector<uint8_t> bytes = json::to_msgpack(body);
  return std::string(bytes.begin(), bytes.end());
}

// Decodes `bytes`, expecting a ProtocolError; returns it (or a default one).
ProtocolError DecodeError(const std::string& bytes) {
  try {
    Decode(bytes);
  } catch (const ProtocolError& e) {
    return e;
  }
  ADD_FAILURE() << "no ProtocolError for " << bytes.size() << " bytes";
  return ProtocolError("none");
}

void ExpectRejected(const json& body, const std::string& words) {
  ProtocolError e = DecodeError(Msgpack(body));
  EXPECT_NE(std::string(e.what()).find(words), std::string::npos)
      << e.what() << " (body " << body.dump() << ")";
  EXPECT_FALSE(e.version_mismatch()) << body.dump();
  // The same content as JSON text is rejected too.
  EXPECT_THROW(Decode(body.dump()), ProtocolError) << body.dump();
}

TEST(ProtocolTest, EveryTypeRoundTrips) {
  for (const auto& [type, fields] : EveryType()) {
    Message m = MakeMessage(type, fields);
    EXPECT_EQ(m.body["v"], kProtocolVersion);
    EXPECT_EQ(m.body["type"], ToString(type));
    Message back = Decode(Encode(m));
    EXPECT_EQ(back.type, type) << ToString(type);
    EXPECT_EQ(back.body, m.body) << ToString(type);
  }
}

TEST(ProtocolTest, AConfusionMatrixMustBeSquareCounts) {
  json m = Valid(MessageType::kEvaluation);
  m["confusion"] = {{1, 2}};
  ExpectRejected(m, "square");
  m["confusion"] = {{1, -2}, {0, 0}};
  ExpectRejected(m, "square");
  m["confusion"] = {{1, 0.5}, {0, 0}};
  ExpectRejected(m, "square");
  m["confusion"] = {1, 2};
  ExpectRejected(m, "square");
  m["confusion"] = json::array();
  EXPECT_EQ(Decode(Msgpack(m)).type, MessageType::kEvaluation);
}

TEST(ProtocolTest, TypeNamesAreDistinct) {
  std::set<std::string> names;
  for (const auto& [type, fields] : EveryType()) names.insert(ToString(type));
  EXPECT_EQ(names.size(), EveryType().size());
}

TEST(ProtocolTest, OptionalFieldsMayBeLeftOut) {
  Message hello = MakeMessage(MessageType::kHello, {{"name", "w"},
                                                    {"host", "h"},
                                                    {"devices", json::array()},
                                                    {"slots", 1},
                                                    {"session", 1}});
  EXPECT_EQ(Decode(Encode(hello)).type, MessageType::kHello);
  Message heartbeat = MakeMessage(MessageType::kHeartbeat, json::object());
  EXPECT_EQ(Decode(Encode(heartbeat)).type, MessageType::kHeartbeat);
  json epoch = Valid(MessageType::kEpoch);
  epoch.erase("checkpoint");
  EXPECT_EQ(Decode(Msgpack(epoch)).type, MessageType::kEpoch);
}

TEST(ProtocolTest, MakeMessageWithNonObjectFieldsGivesAnEmptyBody) {
  Message m = MakeMessage(MessageType::kHeartbeat, json::array({1, 2}));
  EXPECT_TRUE(m.body.is_object());
  EXPECT_EQ(m.body.size(), 2u);  // "v" and "type".
  EXPECT_EQ(Decode(Encode(m)).type, MessageType::kHeartbeat);
}

TEST(ProtocolTest, JsonTextIsAccepted) {
  for (const auto& [type, fields] : EveryType()) {
    json body = MakeMessage(type, fields).body;
    Message back = Decode(body.dump());
    EXPECT_EQ(back.type, type);
    EXPECT_EQ(back.body, body);
  }
  Message m = Decode(R"({"v": 1, "type": "rejoin", "why": "x"})");
  EXPECT_EQ(m.type, MessageType::kRejoin);
  EXPECT_EQ(m.body["why"], "x");
}

TEST(ProtocolTest, RawPointerOverloadDecodes) {
  std::string bytes = Encode(MakeMessage(MessageType::kDone, {{"study", "s"}}));
  Message m = Decode(bytes.data(), bytes.size());
  EXPECT_EQ(m.type, MessageType::kDone);
}

TEST(ProtocolTest, RejectsEmptyAndGarbage) {
  EXPECT_NE(std::string(DecodeError("").what()).find("empty"),
            std::string::npos);
  EXPECT_THROW(Decode(nullptr, 0), ProtocolError);
  EXPECT_THROW(Decode(std::string("\xc1\xff\x00\x13", 4)), ProtocolError);
  EXPECT_THROW(Decode("{not json"), ProtocolError);
  EXPECT_THROW(Decode(R"({"v": 1, "type": "done", "study": "s"} trailing)"),
               ProtocolError);
  // A truncated MessagePack map.
  std::string full = Encode(MakeMessage(MessageType::kDone, {{"study", "s"}}));
  EXPECT_THROW(Decode(full.substr(0, full.size() - 2)), ProtocolError);
  // Valid MessagePack followed by extra bytes.
  EXPECT_THROW(Decode(full + "x"), ProtocolError);
  for (int b = 0; b < 256; ++b) {
    std::string one(1, static_cast<char>(b));
    EXPECT_THROW(Decode(one), ProtocolError) << "byte " << b;
  }
}

TEST(ProtocolTest, RejectsNonMaps) {
  for (const json& body :
       {json::array({1, 2}), json("hello"), json(42), json(nullptr)}) {
    EXPECT_NE(std::string(DecodeError(Msgpack(body)).what()).find("not a map"),
              std::string::npos)
        << body.dump();
  }
  EXPECT_THROW(Decode("[1, 2]"), ProtocolError);
}

TEST(ProtocolTest, RejectsAMissingVersion) {
  json body = Valid(MessageType::kDone);
  body.erase("v");
  ProtocolError e = DecodeError(Msgpack(body));
  EXPECT_NE(std::string(e.what()).find("\"v\""), std::string::npos) << e.what();
  body["v"] = "1";  // Not an integer.
  EXPECT_THROW(Decode(Msgpack(body)), ProtocolError);
  body["v"] = 1.5;
  EXPECT_THROW(Decode(Msgpack(body)), ProtocolError);
}

TEST(ProtocolTest, WrongVersionIsAVersionMismatch) {
  for (int v : {0, kProtocolVersion + 1, -1, 1000}) {
    json body = Valid(MessageType::kHello);
    body["v"] = v;
    ProtocolError e = DecodeError(Msgpack(body));
    EXPECT_TRUE(e.version_mismatch()) << v;
    EXPECT_NE(std::string(e.what()).find("version"), std::string::npos)
        << e.what();
    EXPECT_TRUE(DecodeError(body.dump()).version_mismatch()) << v;
  }
}

TEST(ProtocolTest, OtherErrorsAreNotVersionMismatches) {
  EXPECT_FALSE(DecodeError("").version_mismatch());
  EXPECT_FALSE(DecodeError("garbage!").version_mismatch());
  EXPECT_FALSE(
      DecodeError(R"({"v": 1, "type": "nonsense"})").version_mismatch());
}

TEST(ProtocolTest, RejectsUnknownOrMissingType) {
  json body = Valid(MessageType::kDone);
  body["type"] = "explode";
  ExpectRejected(body, "unknown message type");
  body["type"] = 3;
  ExpectRejected(body, "type");
  body.erase("type");
  ExpectRejected(body, "type");
  body["type"] = "Done";  // Type names are case-sensitive.
  ExpectRejected(body, "unknown message type");
}

TEST(ProtocolTest, UnknownTypeMessageIsShort) {
  json body = Valid(MessageType::kDone);
  body["type"] = std::string(5000, 'x');
  ProtocolError e = DecodeError(Msgpack(body));
  EXPECT_LT(std::string(e.what()).size(), 200u);
}

TEST(ProtocolTest, RejectsEveryMissingRequiredField) {
  const std::map<MessageType, std::set<std::string>> optional = {
      {MessageType::kHello, {"pid"}},
      {MessageType::kHeartbeat, {"running"}},
      {MessageType::kAssign, {"checkpoint"}},
      {MessageType::kEpoch, {"checkpoint"}},
  };
  for (const auto& [type, fields] : EveryType()) {
    for (const auto& item : fields.items()) {
      auto opt = optional.find(type);
      if (opt != optional.end() && opt->second.count(item.key())) continue;
      json body = MakeMessage(type, fields).body;
      body.erase(item.key());
      ExpectRejected(body, "without \"" + item.key() + "\"");
    }
  }
}

TEST(ProtocolTest, RejectsWrongFieldTypes) {
  struct Case {
    MessageType type;
    const char* field;
    json value;
  };
  json too_many_metrics = json::object();
  for (int i = 0; i < 65; ++i) too_many_metrics["m" + std::to_string(i)] = i;
  const std::vector<Case> cases = {
      {MessageType::kEpoch, "epoch", -1},
      {MessageType::kEpoch, "epoch", 0},  // Epochs count from 1.
      {MessageType::kEpoch, "epoch", 1.5},
      {MessageType::kEpoch, "epoch", "3"},
      {MessageType::kEpoch, "lease", "5"},
      {MessageType::kEpoch, "lease", 0},
      {MessageType::kEpoch, "lease", -5},
      {MessageType::kEpoch, "trial", -1},
      {MessageType::kEpoch, "metrics", {{"val_accuracy", "high"}}},
      {MessageType::kEpoch, "metrics", {{"val_accuracy", {1, 2}}}},
      {MessageType::kEpoch, "metrics", json::array({0.5})},
      {MessageType::kEpoch, "metrics", too_many_metrics},
      {MessageType::kEpoch, "checkpoint", 7},
      {MessageType::kHello, "slots", 0},
      {MessageType::kHello, "slots", true},
      {MessageType::kHello, "session", 0},
      {MessageType::kHello, "devices", "cuda:0"},
      {MessageType::kHello, "devices", json::array({1})},
      {MessageType::kHello, "name", nullptr},
      {MessageType::kHello, "pid", -3},
      {MessageType::kWelcome, "heartbeat_s", 0},
      {MessageType::kWelcome, "heartbeat_s", -1},
      {MessageType::kWelcome, "lease_timeout_s", 1e12},
      {MessageType::kWelcome, "spec", "{}"},
      {MessageType::kHeartbeat, "running", json::array({0})},
      {MessageType::kHeartbeat, "running", json::array({"1"})},
      {MessageType::kHeartbeat, "running", 1},
      {MessageType::kAssign, "to_epoch", 0},
      {MessageType::kAssign, "params", json::array()},
      {MessageType::kAssign, "attempt", 0},
      {MessageType::kFailure, "epoch", -1},
      {MessageType::kFailure, "kind", 1},
      {MessageType::kDecision, "action", false},
      {MessageType::kDone, "study", json::object()},
      {MessageType::kBye, "why", 1},
      {MessageType::kRejoin, "why", nullptr},
      {MessageType::kError, "message", 404},
  };
  for (const Case& c : cases) {
    json body = Valid(c.type);
    body[c.field] = c.value;
    ExpectRejected(body, std::string("\"") + c.field + "\" must be");
  }
}

TEST(ProtocolTest, AcceptsBoundaryValues) {
  json too_many = json::object();
  for (int i = 0; i < 64; ++i) too_many["m" + std::to_string(i)] = i * 0.5;
  json body = Valid(MessageType::kEpoch);
  body["metrics"] = too_many;  // Exactly 64 is allowed.
  EXPECT_EQ(Decode(Msgpack(body)).body["metrics"].size(), 64u);
  body["metrics"] = json::object();
  EXPECT_NO_THROW(Decode(Msgpack(body)));
  body = Valid(MessageType::kEpoch);
  body["lease"] = INT64_MAX;
  EXPECT_NO_THROW(Decode(Msgpack(body)));
  body["lease"] = uint64_t{1} << 63;  // Does not fit a lease.
  EXPECT_THROW(Decode(Msgpack(body)), ProtocolError);
  // Unknown extra fields are tolerated (newer minor additions).
  body = Valid(MessageType::kDone);
  body["extra"] = "ignored";
  EXPECT_NO_THROW(Decode(Msgpack(body)));
}

TEST(ProtocolTest, OversizedMessagesAreRejected) {
  std::string big(kMaxMessageBytes + 1, ' ');
  ProtocolError e = DecodeError(big);
  EXPECT_NE(std::string(e.what()).find("exceeds"), std::string::npos)
      << e.what();
  EXPECT_FALSE(e.version_mismatch());

  Message huge = MakeMessage(MessageType::kError,
                             {{"message", std::string(kMaxMessageBytes, 'x')}});
  try {
    Encode(huge);
    FAIL() << "Encode accepted an oversized message";
  } catch (const ProtocolError& e) {
    EXPECT_NE(std::string(e.what()).find("exceeds"), std::string::npos);
  }

  // A message just under the limit goes both ways.
  Message fits =
      MakeMessage(MessageType::kError,
                  {{"message", std::string(kMaxMessageBytes - 64, 'y')}});
  std::string bytes = Encode(fits);
  EXPECT_LE(bytes.size(), kMaxMessageBytes);
  EXPECT_EQ(Decode(bytes).body, fits.body);
}

// A heartbeat whose extra field "x" holds `depth` nested arrays, as
// MessagePack.
std::string NestedHeartbeat(size_t depth) {
  std::string bytes = Msgpack(MakeMessage(MessageType::kHeartbeat, {}).body);
  bytes[0] = static_cast<char>(0x83);   // One more map entry...
  bytes += "\xa1x";                     // ...named "x"...
  bytes += std::string(depth, '\x91');  // ...of one-element arrays...
  bytes += '\x00';                      // ...around a 0.
  return bytes;
}

TEST(ProtocolTest, DeeplyNestedMessagesAreRejectedNotACrash) {
  // Far under the size limit, but deep enough to overflow a stack if the
  // decoder recursed per level.
  std::string deep = NestedHeartbeat(kMaxMessageBytes - 64);
  ASSERT_LE(deep.size(), kMaxMessageBytes);
  ProtocolError e = DecodeError(deep);
  EXPECT_NE(std::string(e.what()).find("nested"), std::string::npos)
      << e.what();
  EXPECT_THROW(Decode(NestedHeartbeat(200)), ProtocolError);
  // Nested maps too: {"a": {"a": ...}}.
  std::string maps;
  for (int i = 0; i < 300000; ++i)
    maps +=
        "\x81\xa1"
        "a";
  maps += '\x00';
  EXPECT_THROW(Decode(maps), ProtocolError);
  // Reasonable nesting is fine.
  Message m = Decode(NestedHeartbeat(100));
  EXPECT_EQ(m.type, MessageType::kHeartbeat);
  EXPECT_TRUE(m.body["x"].is_array());
  // Deep JSON text does not crash either.
  std::string text = R"({"v": 1, "type": "heartbeat", "x": )" +
                     std::string(300000, '[') + std::string(300000, ']') + "}";
  try {
    Decode(text);
  } catch (const ProtocolError&) {
  }
}

// Found while writing fuzz/protocol_fuzz: JSON text had no depth limit, so a
// message nested a few hundred thousand levels deep decoded, and then
// overflowed the stack wherever it was dumped, encoded or copied.
TEST(ProtocolTest, DeepJsonTextIsRejectedLikeMessagePack) {
  // The map itself is level 1; "x" adds `arrays` levels.
  auto text = [](size_t arrays) {
    return R"({"v": 1, "type": "heartbeat", "x": )" + std::string(arrays, '[') +
           std::string(arrays, ']') + "}";
  };
  Message m = Decode(text(127));
  EXPECT_EQ(m.type, MessageType::kHeartbeat);
  EXPECT_EQ(Decode(Encode(m)).body, m.body);  // MessagePack takes it too.
  ProtocolError e = DecodeError(text(128));
  EXPECT_NE(std::string(e.what()).find("nested more than 128 levels"),
            std::string::npos)
      << e.what();
  EXPECT_THROW(Decode(text(300000)), ProtocolError);
  EXPECT_THROW(
      Decode(R"({"v": 1, "type": "heartbeat", "x": )" + std::string(200, '[')),
      ProtocolError);
}

// The depth limit must not cost more than linear time: nlohmann's parser
// callback would rescan the array after each of these objects.
TEST(ProtocolTest, ManySmallObjectsInJsonTextDecodeQuickly) {
  std::string text = R"({"v": 1, "type": "heartbeat", "x": [{})";
  for (int i = 1; i < 200000; ++i) text += ",{}";
  text += "]}";
  ASSERT_LE(text.size(), kMaxMessageBytes);
  EXPECT_EQ(Decode(text).body["x"].size(), 200000u);
}

TEST(ProtocolTest, MutatedAndRandomBytesNeverEscapeAsOtherErrors) {
  std::mt19937 rng(12345);
  std::vector<std::string> valid;
  for (const auto& [type, fields] : EveryType()) {
    valid.push_back(Encode(MakeMessage(type, fields)));
  }
  int decoded = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string bytes;
    if (i % 2 == 0) {
      bytes = valid[static_cast<size_t>(i / 2) % valid.size()];
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips; ++f) {
        bytes[rng() % bytes.size()] = static_cast<char>(rng() & 0xff);
      }
      if (rng() % 4 == 0) bytes.resize(rng() % bytes.size());
    } else {
      bytes.resize(rng() % 48);
      for (char& c : bytes) c = static_cast<char>(rng() & 0xff);
    }
    try {
      Decode(bytes);
      ++decoded;
    } catch (const ProtocolError&) {
      // Expected for most.
    } catch (const std::exception& e) {
      ADD_FAILURE() << "Decode threw something else: " << e.what();
    }
  }
  EXPECT_GT(decoded, 0);  // Some flips leave a valid message.
}

TEST(ProtocolTest, LeasesArePositiveAndDistinct) {
  std::set<int64_t> seen;
  constexpr int kCount = 100000;
  for (int i = 0; i < kCount; ++i) {
    int64_t lease = NewLease();
    ASSERT_GT(lease, 0);
    seen.insert(lease);
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kCount));
  // Leases use the whole range, not a small counter.
  EXPECT_GT(*seen.rbegin(), int64_t{1} << 60);
}

TEST(ProtocolTest, LeaseFitsAnAssign) {
  Message m = MakeMessage(MessageType::kDecision, {{"lease", NewLease()},
                                                   {"trial", 0},
                                                   {"action", "stop"},
                                                   {"to_epoch", 0}});
  EXPECT_EQ(Decode(Encode(m)).body, m.body);
}

}  // namespace
}  // namespace hpo

namespace hpo {
namespace {

// Each typed builder, given the sample's values, makes the sample message:
// a field misnamed or mistyped in a builder shows here.
TEST(ProtocolBuildersTest, MakeTheSampleOfEveryType) {
  const json spec = Valid(MessageType::kWelcome).at("spec");
  const json welcome = Valid(MessageType::kWelcome);
  const std::vector<Message> built = {
      HelloMessage({"w1", "node7", {"cuda:0", "cuda:1"}, 2, 99, 1234}),
      WelcomeMessage({3, "lr_sweep", spec, 2, 20.5}),
      HeartbeatMessage({1, int64_t{1} << 62}),
      AssignMessage({int64_t{0x7fffffffffffffff},
                     0,
                     1,
                     "lr_sweep",
                     {{"lr", 0.001}, {"channels", {32, 64}}},
                     3,
                     9,
                     std::string("/ck/t0-e3.pt")}),
      EpochMessage(5, 12, 4, {{"val_accuracy", 0.5}, {"train_loss", nullptr}},
                   std::nullopt),
      FailureMessage(5, 12, 0, FailureKind::kDiverged, "loss is NaN"),
      DecisionMessage(5, 12, /*go_on=*/true, 9),
      EvaluateMessage({6,
                       3,
                       "lr_sweep",
                       {{"lr", 0.01}},
                       9,
                       "lr_sweep/trial-00003/epoch-0009.pt",
                       "test"}),
      EvaluationMessage(
          6, 3, "test",
          {{"metrics", {{"test_loss", 1.5}, {"test_accuracy", 0.25}}},
           {"confusion", {{1, 0}, {3, 0}}},
           {"classes", {"Rock", "Pop"}}}),
      ForgetMessage("lr_sweep", {"lr_sweep/trial-00001/epoch-0003.pt"}),
      DoneMessage("lr_sweep"),
      ByeMessage("the study is over"),
      RejoinMessage("unknown session"),
      ErrorMessage("version 2"),
  };
  std::set<MessageType> types;
  for (const Message& m : built) {
    types.insert(m.type);
    EXPECT_EQ(m.body, Valid(m.type)) << ToString(m.type);
    EXPECT_NO_THROW(Decode(Encode(m))) << ToString(m.type);
  }
  EXPECT_EQ(types.size(), EveryType().size()) << "a builder per type";
  EXPECT_EQ(DecisionMessage(5, 12, false, 4).body.at("action"), "stop");
  EXPECT_EQ(CoordinatorHeartbeatMessage().body.count("running"), 0u);
}

TEST(ProtocolBuildersTest, FailureKindsRoundTripAndSayWhatRetries) {
  for (FailureKind kind :
       {FailureKind::kDiverged, FailureKind::kOom, FailureKind::kConfig,
        FailureKind::kData, FailureKind::kError}) {
    EXPECT_EQ(ParseFailureKind(ToString(kind)), kind) << ToString(kind);
  }
  EXPECT_EQ(ParseFailureKind("from-a-newer-worker"), FailureKind::kError)
      << "an unknown kind is retried, as any error";
  EXPECT_TRUE(Retryable(FailureKind::kError));
  for (FailureKind kind : {FailureKind::kDiverged, FailureKind::kOom,
                           FailureKind::kConfig, FailureKind::kData}) {
    EXPECT_FALSE(Retryable(kind)) << ToString(kind);
  }
}

}  // namespace
}  // namespace hpo
