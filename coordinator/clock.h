// Time as the coordinator sees it, behind an interface so tests can drive
// leases and heartbeats with a fake clock instead of sleeping.
#ifndef HPO_COORDINATOR_CLOCK_H_
#define HPO_COORDINATOR_CLOCK_H_

#include <chrono>

namespace hpo {

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
  double Now() const override {
    return std::chrono::duration<double>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  double WallTime() const override {
    return std::chrono::duration<double>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace hpo

#endif  // HPO_COORDINATOR_CLOCK_H_
