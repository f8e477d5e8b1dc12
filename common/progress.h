// A progress line for long tasks: done/total, rate and time left.
#ifndef HPO_COMMON_PROGRESS_H_
#define HPO_COMMON_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <mutex>
#include <ostream>
#include <string>

namespace hpo {

// Shows "label [#####.....] 1234/8000 tracks  15%  13.2 tracks/s  ETA 8m32s".
// On a terminal the line is rewritten in place a few times a second;
// otherwise (a log file, CI) a plain line is printed every `log_every_s`
// seconds. Thread safe: Update() may be called from any thread.
class ProgressMeter {
 public:
  // `out` must outlive the meter; `tty` says whether it is a terminal.
  ProgressMeter(std::string label, std::string unit, int64_t total,
                std::ostream& out, bool tty, double log_every_s = 5.0);

  // Records that `done` units are finished. Units done before the timing
  // started (reused work) can be declared with Skip() so the rate and ETA
  // only count work done now.
  void Update(int64_t done);
  void Skip(int64_t units);

  // Changes the total (for tasks that learn it once started).
  void SetTotal(int64_t total);

  // Prints the final line ("... done in 1m02s").
  void Finish();

  // Clears a terminal line so a log message can be printed cleanly.
  void Clear();

 private:
  std::string Line(double elapsed) const;

  std::mutex mu_;
  std::string label_, unit_;
  int64_t total_, done_ = 0, skipped_ = 0;
  std::ostream& out_;
  bool tty_;
  double every_s_;
  std::chrono::steady_clock::time_point start_;
  double last_print_ = -1e9;
};

// "1h02m", "3m05s", "12.3s".
std::string FormatSeconds(double seconds);

}  // namespace hpo

#endif  // HPO_COMMON_PROGRESS_H_
