#include "common/progress.h"

#include <algorithm>
#include <cstdio>

namespace hpo {

std::string FormatSeconds(double s) {
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60,
                  static_cast<int>(s) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600,
                  static_cast<int>(s) % 3600 / 60);
  }
  return buf;
}

ProgressMeter::ProgressMeter(std::string label, std::string unit, int64_t total,
                             std::ostream& out, bool tty, double log_every_s)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      out_(out),
      tty_(tty),
      every_s_(tty ? 0.2 : log_every_s),
      start_(std::chrono::steady_clock::now()) {}

void ProgressMeter::Skip(int64_t units) {
  std::lock_guard<std::mutex> lock(mu_);
  skipped_ += units;
  done_ += units;
}

void ProgressMeter::SetTotal(int64_t total) {
  std::lock_guard<std::mutex> lock(mu_);
  total_ = total;
}

std::string ProgressMeter::Line(double elapsed) const {
  const int64_t fresh = done_ - skipped_;
  const double rate = elapsed > 0 ? fresh / elapsed : 0;
  const double fraction =
      total_ > 0 ? static_cast<double>(done_) / total_ : 1.0;
  std::string bar;
  if (tty_) {
    const int width = 24, filled = static_cast<int>(fraction * width + 1e-9);
    bar = "[" + std::string(filled, '#') + std::string(width - filled, '.') +
          "] ";
  }
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s %s%lld/%lld %s  %3.0f%%  %.1f %s/s",
                label_.c_str(), bar.c_str(), static_cast<long long>(done_),
                static_cast<long long>(total_), unit_.c_str(), 100.0 * fraction,
                rate, unit_.c_str());
  std::string line = buf;
  if (done_ < total_ && rate > 0) {
    line += "  ETA " + FormatSeconds((total_ - done_) / rate);
  }
  return line;
}

void ProgressMeter::Update(int64_t done) {
  std::lock_guard<std::mutex> lock(mu_);
  done_ = std::max(done_, done);
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
          .count();
  if (elapsed - last_print_ < every_s_) return;
  last_print_ = elapsed;
  if (tty_) {
    out_ << "\r\033[K" << Line(elapsed) << std::flush;
  } else {
    out_ << Line(elapsed) << "\n" << std::flush;
  }
}

void ProgressMeter::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  if (tty_) out_ << "\r\033[K" << std::flush;
}

void ProgressMeter::Finish() {
  std::lock_guard<std::mutex> lock(mu_);
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_)
          .count();
  out_ << (tty_ ? "\r\033[K" : "") << Line(elapsed) << "  done in "
       << FormatSeconds(elapsed) << "\n"
       << std::flush;
}

}  // namespace hpo
