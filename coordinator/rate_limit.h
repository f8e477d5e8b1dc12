// Per-peer rate limits on the coordinator's incoming messages: a token
// bucket per ZeroMQ routing id, so a peer that floods the coordinator (a
// buggy or hostile worker) has its excess dropped before it is decoded and
// the other workers keep being served.
//
// Not thread-safe; time is passed in (seconds on any monotonic clock), so
// tests need no clock or sleeps.
#ifndef HPO_COORDINATOR_RATE_LIMIT_H_
#define HPO_COORDINATOR_RATE_LIMIT_H_

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace hpo {

class RateLimiter {
 public:
  // Each peer may send `rate` messages per second on average, and up to
  // `burst` (>= 1) at once after a quiet spell. `rate` <= 0 allows
  // everything.
  RateLimiter(double rate, double burst);

  // True if a message from `peer` at time `now` is within its limit (it
  // takes a token); false if it must be dropped (it is counted).
  bool Allow(const std::string& peer, double now);

  // The peers that had messages dropped since the last call, with how many,
  // in no particular order; resets those counts.
  std::vector<std::pair<std::string, int64_t>> TakeDropped();

  int64_t total_dropped() const { return total_dropped_; }
  double rate() const { return rate_; }
  double burst() const { return burst_; }
  // Peers currently tracked (idle peers with full buckets are forgotten).
  size_t tracked() const { return buckets_.size(); }

 private:
  struct Bucket {
    double tokens = 0;
    double last = 0;  // When `tokens` was last brought up to date.
    int64_t dropped = 0;
  };
  // Forgets peers whose buckets have refilled and have nothing to report.
  void Sweep(double now);

  double rate_;
  double burst_;
  std::unordered_map<std::string, Bucket> buckets_;
  size_t sweep_at_ = 1024;  // Sweep when this many peers are tracked.
  int64_t total_dropped_ = 0;
};

}  // namespace hpo

#endif  // HPO_COORDINATOR_RATE_LIMIT_H_
