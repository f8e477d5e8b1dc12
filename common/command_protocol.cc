#include "common/command_protocol.h"

#include <cmath>

#include "common/error.h"

namespace hpo {
namespace command {

using nlohmann::json;

namespace {

constexpr char kMetricsTag[] = "hpo-metrics";
constexpr char kCheckpointTag[] = "hpo-checkpoint";

// The JSON object after `tag` and a space, or an error.
ProtocolLine ParseTagged(const std::string& line, const std::string& tag,
                         ProtocolLine::Kind kind) {
  ProtocolLine out;
  out.kind = ProtocolLine::Kind::kMalformed;
  json body = json::parse(line.substr(tag.size()), nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    out.error = tag + " is followed by something that is not a JSON object";
    return out;
  }
  auto epoch = body.find("epoch");
  if (epoch == body.end() || !epoch->is_number_integer() ||
      epoch->get<int64_t>() < 1 || epoch->get<int64_t>() > 1000000) {
    out.error = tag + " needs \"epoch\": a whole number from 1";
    return out;
  }
  out.epoch = epoch->get<int>();
  if (kind == ProtocolLine::Kind::kCheckpoint) {
    auto path = body.find("path");
    if (path == body.end() || !path->is_string() ||
        path->get<std::string>().empty()) {
      out.error = tag + " needs \"path\": the file the program saved";
      return out;
    }
    out.path = path->get<std::string>();
    out.kind = kind;
    return out;
  }
  for (auto& [name, value] : body.items()) {
    if (name == "epoch") continue;
    if (value.is_number()) {
      const double v = value.get<double>();
      out.metrics[name] = std::isfinite(v) ? value : json();
    } else if (value.is_null() ||
               (value.is_string() &&
                (value == "nan" || value == "NaN" || value == "inf" ||
                 value == "-inf" || value == "Infinity" ||
                 value == "-Infinity"))) {
      out.metrics[name] = json();
    } else {
      out.error =
          tag + ": \"" + name + "\" is " + value.type_name() + ", not a number";
      return out;
    }
  }
  out.kind = kind;
  return out;
}

bool StartsWithTag(const std::string& line, const std::string& tag) {
  return line.compare(0, tag.size(), tag) == 0 &&
         (line.size() == tag.size() || line[tag.size()] == ' ' ||
          line[tag.size()] == '\t');
}

// Calls `literal` for the text between references and `reference` for each
// {name}, in order.
template <typename Literal, typename Reference>
void Scan(const std::string& arg, Literal literal, Reference reference) {
  for (size_t i = 0; i < arg.size();) {
    const char c = arg[i];
    if ((c == '{' || c == '}') && i + 1 < arg.size() && arg[i + 1] == c) {
      literal(std::string(1, c));
      i += 2;
    } else if (c == '{') {
      const size_t end = arg.find('}', i);
      if (end == std::string::npos) {
        throw BadInput("trainer.command: \"" + arg +
                       "\": a \"{\" is not closed (write {{ for a brace)");
      }
      reference(arg.substr(i + 1, end - i - 1));
      i = end + 1;
    } else if (c == '}') {
      throw BadInput("trainer.command: \"" + arg +
                     "\": a \"}\" closes nothing (write }} for a brace)");
    } else {
      literal(std::string(1, c));
      ++i;
    }
  }
}

}  // namespace

FailureKind ExitFailureKind(int code) {
  if (code == kExitConfig || code == 2) return FailureKind::kConfig;
  if (code == kExitData) return FailureKind::kData;
  return FailureKind::kError;
}

ProtocolLine ParseLine(const std::string& raw) {
  std::string line = raw;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (StartsWithTag(line, kMetricsTag)) {
    return ParseTagged(line, kMetricsTag, ProtocolLine::Kind::kMetrics);
  }
  if (StartsWithTag(line, kCheckpointTag)) {
    return ParseTagged(line, kCheckpointTag, ProtocolLine::Kind::kCheckpoint);
  }
  return ProtocolLine{};
}

std::vector<std::string> SubstituteParams(const std::vector<std::string>& argv,
                                          const json& params) {
  std::vector<std::string> out;
  for (const std::string& arg : argv) {
    std::string text;
    Scan(
        arg, [&](const std::string& s) { text += s; },
        [&](const std::string& name) {
          auto it = params.find(name);
          if (it == params.end()) {
            throw BadInput("trainer.command: \"" + arg + "\": {" + name +
                           "} is not a parameter of the search space");
          }
          text += it->is_string() ? it->get<std::string>() : it->dump();
        });
    out.push_back(std::move(text));
  }
  return out;
}

std::string JoinArgv(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

std::vector<std::string> ReferencedParams(
    const std::vector<std::string>& argv) {
  std::vector<std::string> names;
  for (const std::string& arg : argv) {
    Scan(
        arg, [](const std::string&) {},
        [&](const std::string& name) { names.push_back(name); });
  }
  return names;
}

}  // namespace command
}  // namespace hpo
