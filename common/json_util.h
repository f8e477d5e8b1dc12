// Reading JSON files with error messages that users can act on.
#ifndef HPO_COMMON_JSON_UTIL_H_
#define HPO_COMMON_JSON_UTIL_H_

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace hpo {

// Reads a whole file. Throws hpo::Error (bad input) naming the path when the
// file cannot be opened or read.
std::string ReadTextFile(const std::string& path);

// Parses `text` as strict JSON (no comments, no trailing commas). `source` is
// the name used in messages (usually the file path). Throws hpo::Error (bad
// input) with `source:LINE:COLUMN: not valid JSON: ...` on a syntax error, and
// hpo::ValidationError listing every object key that appears twice (JSON
// allows it, but the second value would silently win).
nlohmann::json ParseJsonText(const std::string& text,
                             const std::string& source);

// Edit distance between two strings: insertions, deletions, substitutions
// and swaps of adjacent characters each cost 1.
size_t EditDistance(const std::string& a, const std::string& b);

// Returns the candidate closest to `word` if it is close enough to be a likely
// typo (at most a third of the word's length, at least 1, edits away) or one
// is a prefix (3 letters or more) of the other, else an empty string.
std::string ClosestMatch(const std::string& word,
                         const std::vector<std::string>& candidates);

// A short, human-readable rendering of a JSON value for messages: strings in
// double quotes, numbers as written, long values cut with "...".
std::string Brief(const nlohmann::json& value);

// The JSON type name used in messages: "a string", "a number", "an object"...
std::string TypeName(const nlohmann::json& value);

// The differences between two JSON values, one per changed leaf, as
// `PATH: BEFORE -> AFTER` (or `PATH: added = V`, `PATH: removed`), with paths
// like `search_space.lr.high` and `values[2]`. Empty when they are equal.
std::vector<std::string> DescribeChanges(const nlohmann::json& before,
                                         const nlohmann::json& after,
                                         const std::string& path = "");

}  // namespace hpo

#endif  // HPO_COMMON_JSON_UTIL_H_
