// A Clock that moves only when the test says so.
#ifndef HPO_TESTS_UTIL_FAKE_CLOCK_H_
#define HPO_TESTS_UTIL_FAKE_CLOCK_H_

#include <atomic>

#include "common/clock.h"

namespace hpo {

class FakeClock : public Clock {
 public:
  double Now() const override { return now_; }
  double WallTime() const override { return 1.7e9 + now_; }
  void Advance(double seconds) { now_ = now_ + seconds; }

 private:
  std::atomic<double> now_{100};
};

}  // namespace hpo

#endif  // HPO_TESTS_UTIL_FAKE_CLOCK_H_
