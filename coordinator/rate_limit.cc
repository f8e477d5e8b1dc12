#include "coordinator/rate_limit.h"

#include <algorithm>

namespace hpo {

RateLimiter::RateLimiter(double rate, double burst)
    : rate_(rate), burst_(std::max(1.0, burst)) {}

bool RateLimiter::Allow(const std::string& peer, double now) {
  if (rate_ <= 0) return true;
  auto [it, added] = buckets_.try_emplace(peer);
  Bucket& b = it->second;
  if (added) {
    b.tokens = burst_;
    b.last = now;
  } else if (now > b.last) {
    b.tokens = std::min(burst_, b.tokens + (now - b.last) * rate_);
    b.last = now;
  }
  // A hair below 1 counts as 1: refills are sums of rounded products.
  if (b.tokens >= 1 - 1e-9) {
    b.tokens -= 1;
    if (added && buckets_.size() >= sweep_at_) Sweep(now);
    return true;
  }
  ++b.dropped;
  ++total_dropped_;
  return false;
}

std::vector<std::pair<std::string, int64_t>> RateLimiter::TakeDropped() {
  std::vector<std::pair<std::string, int64_t>> out;
  for (auto& [peer, b] : buckets_) {
    if (b.dropped > 0) out.emplace_back(peer, b.dropped);
    b.dropped = 0;
  }
  return out;
}

void RateLimiter::Sweep(double now) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    const Bucket& b = it->second;
    const bool full = b.tokens + (now - b.last) * rate_ >= burst_;
    it = full && b.dropped == 0 ? buckets_.erase(it) : std::next(it);
  }
  // Sweep again when the table has doubled since: amortised O(1) a message.
  sweep_at_ = std::max<size_t>(1024, 2 * buckets_.size());
}

}  // namespace hpo
