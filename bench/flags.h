// Command-line flags of the benchmarks: "--name value" pairs.
#ifndef HPO_BENCH_FLAGS_H_
#define HPO_BENCH_FLAGS_H_

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

namespace hpo::bench {

// Prints "PROGRAM: WHY" and the usage to stderr, then exits 2.
[[noreturn]] inline void UsageError(const char* program, const char* usage,
                                    const std::string& why) {
  std::fprintf(stderr, "%s: %s\n%s", program, why.c_str(), usage);
  std::exit(2);
}

// Calls set(flag, value) for each "--flag value" pair of argv. --help or -h
// prints `usage` and exits 0; a flag without a value, or one that `set`
// rejects by returning false, is a usage error.
inline void ParseFlagPairs(
    int argc, char** argv, const char* program, const char* usage,
    const std::function<bool(const std::string&, const char*)>& set) {
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::printf("%s", usage);
      std::exit(0);
    }
    if (i + 1 >= argc) UsageError(program, usage, flag + " needs a value");
    if (!set(flag, argv[i + 1])) {
      UsageError(program, usage, "unknown flag " + flag);
    }
  }
}

}  // namespace hpo::bench

#endif  // HPO_BENCH_FLAGS_H_
