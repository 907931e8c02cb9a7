#include <gtest/gtest.h>

#include "core/limits.hpp"

namespace {

using eventcast::connection_counter;
using eventcast::rate_limiter;
using verdict = connection_counter::verdict;
using clock_type = rate_limiter::clock;

TEST(ConnectionCounter, LimitsTotalAndPerKey) {
  connection_counter c{3, 2};
  EXPECT_EQ(c.try_acquire("a"), verdict::admitted);
  EXPECT_EQ(c.try_acquire("a"), verdict::admitted);
  EXPECT_EQ(c.try_acquire("a"), verdict::key_full);
  EXPECT_EQ(c.try_acquire("b"), verdict::admitted);
  EXPECT_EQ(c.try_acquire("c"), verdict::total_full);
  EXPECT_EQ(c.total(), 3u);
  c.release("a");
  EXPECT_EQ(c.try_acquire("c"), verdict::admitted);
  EXPECT_EQ(c.total(), 3u);
}

TEST(ConnectionCounter, ZeroMeansUnlimitedAndUnknownReleaseIsIgnored) {
  connection_counter c{0, 0};
  for (int i = 0; i < 1000; ++i)
    ASSERT_EQ(c.try_acquire("a"), verdict::admitted);
  c.release("never-seen");
  EXPECT_EQ(c.total(), 1000u);
}

TEST(RateLimiter, AllowsTheBurstThenTheRate) {
  rate_limiter r{10, 5};
  auto t = clock_type::now();
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(r.allow("a", t)) << i;
  EXPECT_FALSE(r.allow("a", t));
  EXPECT_TRUE(r.allow("b", t)) << "buckets are per key";
  EXPECT_FALSE(r.allow("a", t + std::chrono::milliseconds(50)));
  EXPECT_TRUE(r.allow("a", t + std::chrono::milliseconds(110)));
  EXPECT_FALSE(r.allow("a", t + std::chrono::milliseconds(120)));
  // A long pause refills only up to the burst.
  auto later = t + std::chrono::seconds(60);
  for (int i = 0; i < 5; ++i)
    EXPECT_TRUE(r.allow("a", later)) << i;
  EXPECT_FALSE(r.allow("a", later));
}

TEST(RateLimiter, ZeroRateIsUnlimited) {
  rate_limiter r{0, 1};
  auto t = clock_type::now();
  for (int i = 0; i < 1000; ++i)
    ASSERT_TRUE(r.allow("a", t));
  EXPECT_EQ(r.tracked_keys(), 0u);
}

TEST(RateLimiter, ForgetsRefilledBucketsWhenManyKeysAreTracked) {
  rate_limiter r{1, 1};
  auto t = clock_type::now();
  for (int i = 0; i < 10000; ++i)
    r.allow("k" + std::to_string(i), t);
  EXPECT_EQ(r.tracked_keys(), 10000u);
  r.allow("fresh", t + std::chrono::seconds(5));
  EXPECT_EQ(r.tracked_keys(), 1u);
}

} // namespace
