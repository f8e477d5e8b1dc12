// The per-peer token bucket, on a clock the test sets.
#include "coordinator/rate_limit.h"

#include <gtest/gtest.h>

#include <map>

namespace hpo {
namespace {

TEST(RateLimiterTest, AllowsABurstThenTheSustainedRate) {
  RateLimiter limiter(100, 200);  // 100/s, bursts of 200.
  int allowed = 0;
  for (int i = 0; i < 1000; ++i) allowed += limiter.Allow("a", 0.0);
  EXPECT_EQ(allowed, 200);
  EXPECT_EQ(limiter.total_dropped(), 800);
  // Half a second refills 50 tokens.
  allowed = 0;
  for (int i = 0; i < 1000; ++i) allowed += limiter.Allow("a", 0.5);
  EXPECT_EQ(allowed, 50);
  // Sustained: one message every 10 ms for 10 s, all allowed.
  allowed = 0;
  for (int i = 1; i <= 1000; ++i) allowed += limiter.Allow("a", 0.5 + i * 0.01);
  EXPECT_EQ(allowed, 1000);
  // Twice the rate: about half are dropped (after the bucket is empty).
  allowed = 0;
  for (int i = 1; i <= 2000; ++i)
    allowed += limiter.Allow("a", 10.5 + i * 0.005);
  EXPECT_NEAR(allowed, 1000, 2);
}

TEST(RateLimiterTest, AFloodFromOnePeerDoesNotStarveAnother) {
  RateLimiter limiter(1000, 1000);
  int flood_allowed = 0, quiet_allowed = 0;
  // 1 s of virtual time: the flooder sends 100 messages per ms, the quiet
  // peer one per 10 ms.
  for (int ms = 0; ms < 1000; ++ms) {
    const double now = ms / 1000.0;
    for (int i = 0; i < 100; ++i) flood_allowed += limiter.Allow("flood", now);
    if (ms % 10 == 0) quiet_allowed += limiter.Allow("quiet", now);
  }
  EXPECT_EQ(quiet_allowed, 100);
  EXPECT_LE(flood_allowed, 2000);  // Its burst plus 1 s of its rate.
  EXPECT_GE(flood_allowed, 1990);
  std::map<std::string, int64_t> dropped;
  for (const auto& [peer, n] : limiter.TakeDropped()) dropped[peer] = n;
  EXPECT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped["flood"], 100000 - flood_allowed);
  EXPECT_TRUE(limiter.TakeDropped().empty());  // Counts were reset.
}

TEST(RateLimiterTest, ZeroRateAllowsEverything) {
  RateLimiter limiter(0, 0);
  for (int i = 0; i < 100000; ++i) ASSERT_TRUE(limiter.Allow("a", 0));
  EXPECT_EQ(limiter.total_dropped(), 0);
}

TEST(RateLimiterTest, ForgetsIdlePeers) {
  RateLimiter limiter(10, 10);
  for (int i = 0; i < 5000; ++i) {
    limiter.Allow("peer" + std::to_string(i), i * 1.0);
  }
  // Every peer but the last few had refilled its bucket by the sweeps.
  EXPECT_LT(limiter.tracked(), 2100u);
  // A clock that goes backwards (it should not) changes nothing.
  EXPECT_TRUE(limiter.Allow("late", 1.0));
}

}  // namespace
}  // namespace hpo
