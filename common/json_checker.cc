#include "common/json_checker.h"

#include <cmath>
#include <sstream>

#include "common/error.h"
#include "common/json_util.h"

namespace hpo {

using nlohmann::json;

std::string JoinPath(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

bool IsIntegral(const json& value) {
  if (value.is_number_integer() || value.is_number_unsigned()) return true;
  if (!value.is_number_float()) return false;
  double d = value.get<double>();
  return std::isfinite(d) && std::floor(d) == d;
}

std::optional<int64_t> ExactInteger(const json& value) {
  if (!IsIntegral(value)) return std::nullopt;
  if (value.is_number_unsigned()) {
    uint64_t u = value.get<uint64_t>();
    if (u > static_cast<uint64_t>(kMaxExactInteger)) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (value.is_number_integer()) {
    int64_t i = value.get<int64_t>();
    if (i > kMaxExactInteger || i < -kMaxExactInteger) return std::nullopt;
    return i;
  }
  double d = value.get<double>();
  if (std::fabs(d) > static_cast<double>(kMaxExactInteger)) return std::nullopt;
  return static_cast<int64_t>(d);
}

std::string FormatNumber(double value) {
  std::ostringstream out;
  out.precision(12);
  out << value;
  return out.str();
}

void JsonChecker::Add(const std::string& path, const std::string& message) {
  problems_.push_back(source_ + ": " + (path.empty() ? "(top level)" : path) +
                      ": " + message);
}

void JsonChecker::CheckKeys(const json& object, const std::string& path,
                            const std::vector<std::string>& allowed,
                            const std::string& what) {
  for (const auto& item : object.items()) {
    bool known = false;
    for (const std::string& key : allowed) known = known || key == item.key();
    if (known) continue;
    std::string hint = ClosestMatch(item.key(), allowed);
    std::string message = "unknown key";
    if (!hint.empty()) {
      message += " (did you mean \"" + hint + "\"?)";
    } else {
      std::string list;
      for (const std::string& key : allowed) {
        list += (list.empty() ? "" : ", ") + key;
      }
      message += " for " + what + " (allowed: " + list + ")";
    }
    Add(JoinPath(path, item.key()), message);
  }
}

const json* JsonChecker::Present(const json& object, const std::string& path,
                                 const std::string& key, bool required) {
  auto it = object.find(key);
  if (it == object.end()) {
    if (required) Add(JoinPath(path, key), "missing (this key is required)");
    return nullptr;
  }
  return &*it;
}

void JsonChecker::WrongType(const std::string& path,
                            const std::string& expected, const json& got) {
  Add(path, "must be " + expected + " (got " + TypeName(got) + " " +
                Brief(got) + ")");
}

std::optional<std::string> JsonChecker::String(const json& object,
                                               const std::string& path,
                                               const std::string& key,
                                               bool required) {
  const json* value = Present(object, path, key, required);
  if (value == nullptr) return std::nullopt;
  if (!value->is_string()) {
    WrongType(JoinPath(path, key), "a string", *value);
    return std::nullopt;
  }
  return value->get<std::string>();
}

std::optional<double> JsonChecker::Number(const json& object,
                                          const std::string& path,
                                          const std::string& key,
                                          bool required) {
  const json* value = Present(object, path, key, required);
  if (value == nullptr) return std::nullopt;
  if (!value->is_number()) {
    WrongType(JoinPath(path, key), "a number", *value);
    return std::nullopt;
  }
  return value->get<double>();
}

std::optional<int64_t> JsonChecker::Integer(const json& object,
                                            const std::string& path,
                                            const std::string& key,
                                            bool required) {
  const json* value = Present(object, path, key, required);
  if (value == nullptr) return std::nullopt;
  if (!IsIntegral(*value)) {
    WrongType(JoinPath(path, key), "an integer", *value);
    return std::nullopt;
  }
  std::optional<int64_t> exact = ExactInteger(*value);
  if (!exact) {
    Add(JoinPath(path, key), "too large: integers must lie within +-2^53 (" +
                                 std::to_string(kMaxExactInteger) + "); got " +
                                 Brief(*value));
  }
  return exact;
}

std::optional<bool> JsonChecker::Bool(const json& object,
                                      const std::string& path,
                                      const std::string& key, bool required) {
  const json* value = Present(object, path, key, required);
  if (value == nullptr) return std::nullopt;
  if (!value->is_boolean()) {
    WrongType(JoinPath(path, key), "true or false", *value);
    return std::nullopt;
  }
  return value->get<bool>();
}

const json* JsonChecker::Object(const json& object, const std::string& path,
                                const std::string& key, bool required) {
  const json* value = Present(object, path, key, required);
  if (value == nullptr) return nullptr;
  if (!value->is_object()) {
    WrongType(JoinPath(path, key), "an object", *value);
    return nullptr;
  }
  return value;
}

const json* JsonChecker::Array(const json& object, const std::string& path,
                               const std::string& key, bool required) {
  const json* value = Present(object, path, key, required);
  if (value == nullptr) return nullptr;
  if (!value->is_array()) {
    WrongType(JoinPath(path, key), "an array", *value);
    return nullptr;
  }
  return value;
}

std::optional<int64_t> JsonChecker::IntegerAtLeast(const json& object,
                                                   const std::string& path,
                                                   const std::string& key,
                                                   int64_t min, bool required,
                                                   int64_t max) {
  std::optional<int64_t> value = Integer(object, path, key, required);
  if (!value) return std::nullopt;
  if (*value < min) {
    Add(JoinPath(path, key), "must be >= " + std::to_string(min) + " (got " +
                                 std::to_string(*value) + ")");
    return std::nullopt;
  }
  if (*value > max) {
    Add(JoinPath(path, key), "must be <= " + std::to_string(max) + " (got " +
                                 std::to_string(*value) + ")");
    return std::nullopt;
  }
  return value;
}

std::optional<double> JsonChecker::PositiveNumber(const json& object,
                                                  const std::string& path,
                                                  const std::string& key,
                                                  bool required) {
  std::optional<double> value = Number(object, path, key, required);
  if (!value) return std::nullopt;
  if (!(*value > 0)) {
    Add(JoinPath(path, key), "must be > 0 (got " + FormatNumber(*value) + ")");
    return std::nullopt;
  }
  return value;
}

void JsonChecker::ThrowIfAny() const {
  if (!problems_.empty()) throw ValidationError(problems_);
}

}  // namespace hpo
