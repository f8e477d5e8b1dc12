// Time, behind an interface so tests drive leases, heartbeats, hellos and
// retry delays with a fake clock (tests/util/fake_clock.h) instead of
// sleeping. Every service reads time through a Clock; MonotonicSeconds() is
// SystemClock's Now() for code that needs no fake (log throttling on a
// helper thread).
#ifndef HPO_COMMON_CLOCK_H_
#define HPO_COMMON_CLOCK_H_

#include <chrono>

namespace hpo {

// Seconds on the steady clock (for intervals and timeouts).
inline double MonotonicSeconds() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class Clock {
 public:
  virtual ~Clock() = default;
  // Seconds on a monotonic clock (for intervals and timeouts).
  virtual double Now() const = 0;
  // Seconds since the Unix epoch (for timestamps in the database).
  virtual double WallTime() const = 0;
};

class SystemClock : public Clock {
 public:
  // One shared instance, the default of code that may be handed a clock.
  static const SystemClock& Instance() {
    static const SystemClock clock;
    return clock;
  }
  double Now() const override { return MonotonicSeconds(); }
  double WallTime() const override {
    return std::chrono::duration<double>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace hpo

#endif  // HPO_COMMON_CLOCK_H_
