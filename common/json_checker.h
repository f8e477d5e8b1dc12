// Collects validation problems while reading a JSON document, each with the
// JSON path where it was found, so that a user sees every problem at once.
#ifndef HPO_COMMON_JSON_CHECKER_H_
#define HPO_COMMON_JSON_CHECKER_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace hpo {

// Joins a parent path and a key: ("a.b", "c") -> "a.b.c", ("", "c") -> "c".
std::string JoinPath(const std::string& parent, const std::string& key);

// Not thread safe; one per document.
class JsonChecker {
 public:
  // `source` prefixes every message (a file name, or "message").
  explicit JsonChecker(std::string source) : source_(std::move(source)) {}

  // Records `SOURCE: PATH: message`.
  void Add(const std::string& path, const std::string& message);

  // Records one problem per key of `object` not in `allowed`, with a
  // did-you-mean hint when a known key is close. `what` describes the object
  // in the hint ("a study", "a loguniform parameter").
  void CheckKeys(const nlohmann::json& object, const std::string& path,
                 const std::vector<std::string>& allowed,
                 const std::string& what);

  // Typed accessors for `object[key]`. If the key is missing: records
  // "missing" when `required`, and returns nullopt. If present with the wrong
  // type or an out-of-range value: records the problem and returns nullopt.
  std::optional<std::string> String(const nlohmann::json& object,
                                    const std::string& path,
                                    const std::string& key, bool required);
  std::optional<double> Number(const nlohmann::json& object,
                               const std::string& path, const std::string& key,
                               bool required);
  // Accepts integral numbers, also when written as 16.0.
  std::optional<int64_t> Integer(const nlohmann::json& object,
                                 const std::string& path,
                                 const std::string& key, bool required);
  std::optional<bool> Bool(const nlohmann::json& object,
                           const std::string& path, const std::string& key,
                           bool required);
  // Returns a pointer into `object`, or nullptr (recorded if required or of
  // the wrong type).
  const nlohmann::json* Object(const nlohmann::json& object,
                               const std::string& path, const std::string& key,
                               bool required);
  const nlohmann::json* Array(const nlohmann::json& object,
                              const std::string& path, const std::string& key,
                              bool required);

  // Integer() plus a lower bound (and an optional upper bound).
  std::optional<int64_t> IntegerAtLeast(const nlohmann::json& object,
                                        const std::string& path,
                                        const std::string& key, int64_t min,
                                        bool required, int64_t max = INT64_MAX);
  // Number() that must be > 0.
  std::optional<double> PositiveNumber(const nlohmann::json& object,
                                       const std::string& path,
                                       const std::string& key, bool required);

  bool ok() const { return problems_.empty(); }
  const std::vector<std::string>& problems() const { return problems_; }

  // Throws hpo::ValidationError with every recorded problem, if any.
  void ThrowIfAny() const;

 private:
  const nlohmann::json* Present(const nlohmann::json& object,
                                const std::string& path, const std::string& key,
                                bool required);
  void WrongType(const std::string& path, const std::string& expected,
                 const nlohmann::json& got);

  std::string source_;
  std::vector<std::string> problems_;
};

// Integers beyond 2^53 cannot all be told apart as doubles; hpo rejects them.
constexpr int64_t kMaxExactInteger = int64_t{1} << 53;

// True for JSON numbers with an integral value (3, 3.0; not 3.5, not "3").
bool IsIntegral(const nlohmann::json& value);

// The value of an integral JSON number within +-kMaxExactInteger, else
// nullopt.
std::optional<int64_t> ExactInteger(const nlohmann::json& value);

// Formats a number the way a user would write it: 0, 1e-05, 0.001, 27.
std::string FormatNumber(double value);

}  // namespace hpo

#endif  // HPO_COMMON_JSON_CHECKER_H_
