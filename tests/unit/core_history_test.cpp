#include "core/history.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace eventcast;

namespace {

frame make_frame(uint64_t seq) {
  return std::make_shared<const std::string>("f" + std::to_string(seq));
}

// A ring holding seqs first..last appended in order.
history_ring ring_with(size_t capacity, uint64_t first, uint64_t last) {
  history_ring r{capacity};
  for (uint64_t s = first; s <= last; ++s)
    r.append(s, make_frame(s));
  return r;
}

std::vector<std::string> texts(const history_ring::replay& r) {
  std::vector<std::string> out;
  for (auto& f : r.frames)
    out.push_back(*f);
  return out;
}

using strings = std::vector<std::string>;

} // namespace

TEST(History, ReplaysExactlyWhatFollowsAnIdInsideTheRing) {
  auto ring = ring_with(10, 1, 10);
  auto r = ring.since(6, 10);
  EXPECT_EQ(texts(r), (strings{"f7", "f8", "f9", "f10"}));
  EXPECT_EQ(r.lost, std::optional<uint64_t>{0});
}

TEST(History, IdJustBeforeTheOldestKeptLosesNothing) {
  auto ring = ring_with(5, 1, 10); // holds 6..10
  auto r = ring.since(5, 10);
  EXPECT_EQ(texts(r), (strings{"f6", "f7", "f8", "f9", "f10"}));
  EXPECT_EQ(r.lost, std::optional<uint64_t>{0});
}

TEST(History, IdOlderThanTheRingCountsWhatIsNoLongerHeld) {
  auto ring = ring_with(5, 1, 10); // holds 6..10
  auto r = ring.since(2, 10);      // missed 3..10; 3,4,5 are gone
  EXPECT_EQ(texts(r), (strings{"f6", "f7", "f8", "f9", "f10"}));
  EXPECT_EQ(r.lost, std::optional<uint64_t>{3});
}

TEST(History, IdZeroOnAFullRingCountsAllEvicted) {
  auto ring = ring_with(3, 1, 10); // holds 8..10
  auto r = ring.since(0, 10);
  EXPECT_EQ(texts(r), (strings{"f8", "f9", "f10"}));
  EXPECT_EQ(r.lost, std::optional<uint64_t>{7});
}

TEST(History, IdEqualToLatestReplaysNothing) {
  auto ring = ring_with(10, 1, 10);
  auto r = ring.since(10, 10);
  EXPECT_TRUE(r.frames.empty());
  EXPECT_EQ(r.lost, std::optional<uint64_t>{0});
}

TEST(History, IdGreaterThanLatestIsUnknownAndReplaysEverythingHeld) {
  auto ring = ring_with(3, 1, 5); // holds 3..5
  auto r = ring.since(99, 5);
  EXPECT_EQ(texts(r), (strings{"f3", "f4", "f5"}));
  EXPECT_EQ(r.lost, std::nullopt);
}

TEST(History, FreshStreamHasNothingToReplay) {
  history_ring ring{10};
  auto r = ring.since(0, 0);
  EXPECT_TRUE(r.frames.empty());
  EXPECT_EQ(r.lost, std::optional<uint64_t>{0});
}

TEST(History, CapacityZeroHoldsNothingAndCountsAllMissedAsLost) {
  auto ring = ring_with(0, 1, 10);
  EXPECT_EQ(ring.size(), 0u);
  auto r = ring.since(4, 10);
  EXPECT_TRUE(r.frames.empty());
  EXPECT_EQ(r.lost, std::optional<uint64_t>{6});
  auto same = ring.since(10, 10);
  EXPECT_EQ(same.lost, std::optional<uint64_t>{0});
}

TEST(History, WrapAroundKeepsTheNewestInOrder) {
  auto ring = ring_with(4, 1, 11);
  EXPECT_EQ(ring.size(), 4u);
  auto r = ring.since(0, 11);
  EXPECT_EQ(texts(r), (strings{"f8", "f9", "f10", "f11"}));
  auto mid = ring.since(9, 11);
  EXPECT_EQ(texts(mid), (strings{"f10", "f11"}));
  EXPECT_EQ(mid.lost, std::optional<uint64_t>{0});
}

TEST(History, ReplaySharesTheStoredFrames) {
  history_ring ring{2};
  auto f = make_frame(1);
  ring.append(1, f);
  auto r = ring.since(0, 1);
  ASSERT_EQ(r.frames.size(), 1u);
  EXPECT_EQ(r.frames[0].get(), f.get());
}

TEST(History, EveryLastSeenAccountsForEachMissedEvent) {
  // frames + lost == latest - last_seen for every last_seen <= latest.
  for (size_t cap : {0u, 1u, 3u, 8u, 20u}) {
    auto ring = ring_with(cap, 1, 12);
    for (uint64_t seen = 0; seen <= 12; ++seen) {
      auto r = ring.since(seen, 12);
      ASSERT_TRUE(r.lost.has_value()) << cap << " " << seen;
      EXPECT_EQ(r.frames.size() + *r.lost, 12 - seen) << cap << " " << seen;
      if (!r.frames.empty()) {
        EXPECT_EQ(*r.frames.back(), "f12");
      }
    }
  }
}

TEST(History, ByteBoundEvictsOldestAndCountsThemLost) {
  history_ring r{100, 300};
  for (uint64_t s = 1; s <= 10; ++s)
    r.append(s, std::make_shared<const std::string>(100, 'x'));
  EXPECT_EQ(r.size(), 3u);
  EXPECT_EQ(r.bytes(), 300u);
  auto replay = r.since(0, 10);
  EXPECT_EQ(replay.frames.size(), 3u);
  EXPECT_EQ(replay.lost, std::optional<uint64_t>{7});
}

TEST(History, FrameLargerThanTheByteBoundIsNotKept) {
  history_ring r{100, 50};
  r.append(1, std::make_shared<const std::string>(100, 'x'));
  EXPECT_EQ(r.size(), 0u);
  EXPECT_EQ(r.since(0, 1).lost, std::optional<uint64_t>{1});
}
