#include "core/mailbox.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace eventcast;

namespace {

using push_result = mailbox::push_result;

frame make_frame(uint64_t n) {
  return std::make_shared<const std::string>(std::to_string(n));
}

std::vector<std::string> texts(const mailbox::batch& b) {
  std::vector<std::string> out;
  for (auto& f : b.frames)
    out.push_back(*f);
  return out;
}

using strings = std::vector<std::string>;

// A mailbox with a wake counter.
struct fixture {
  explicit fixture(size_t capacity,
                   overflow_policy policy = overflow_policy::disconnect)
    : box(capacity, policy, [this] { ++wakes; }) {
  }
  int wakes = 0;
  mailbox box;
};

} // namespace

TEST(Mailbox, QueuesUpToCapacity) {
  fixture f{3};
  for (uint64_t i = 1; i <= 3; ++i)
    EXPECT_EQ(f.box.push(make_frame(i)), push_result::queued);
  EXPECT_EQ(f.box.size(), 3u);
  EXPECT_FALSE(f.box.closed());
  EXPECT_EQ(f.box.dropped_total(), 0u);
  auto b = f.box.take(10);
  EXPECT_EQ(texts(b), (strings{"1", "2", "3"}));
  EXPECT_EQ(b.missed, 0u);
  EXPECT_EQ(b.closed, close_reason::none);
}

TEST(Mailbox, DisconnectPolicyClosesOnOverflow) {
  fixture f{2};
  EXPECT_EQ(f.box.push(make_frame(1)), push_result::queued);
  EXPECT_EQ(f.box.push(make_frame(2)), push_result::queued);
  EXPECT_EQ(f.box.push(make_frame(3)), push_result::overflow);
  EXPECT_TRUE(f.box.closed());
  EXPECT_EQ(f.box.dropped_total(), 1u);
  EXPECT_EQ(f.box.push(make_frame(4)), push_result::closed);
  auto b = f.box.take(10);
  EXPECT_EQ(texts(b), (strings{"1", "2"}));
  EXPECT_EQ(b.closed, close_reason::overflow);
}

TEST(Mailbox, DisconnectPolicyWithZeroCapacityOverflowsAtOnce) {
  fixture f{0};
  EXPECT_EQ(f.box.push(make_frame(1)), push_result::overflow);
  EXPECT_TRUE(f.box.closed());
  EXPECT_EQ(f.box.size(), 0u);
}

TEST(Mailbox, DropOldestDropsTheOldestFrame) {
  fixture f{2, overflow_policy::drop_oldest};
  EXPECT_EQ(f.box.push(make_frame(1)), push_result::queued);
  EXPECT_EQ(f.box.push(make_frame(2)), push_result::queued);
  EXPECT_EQ(f.box.push(make_frame(3)), push_result::dropped_oldest);
  EXPECT_EQ(f.box.push(make_frame(4)), push_result::dropped_oldest);
  EXPECT_FALSE(f.box.closed());
  EXPECT_EQ(f.box.size(), 2u);
  EXPECT_EQ(f.box.dropped_total(), 2u);
  auto b = f.box.take(10);
  EXPECT_EQ(texts(b), (strings{"3", "4"}));
  EXPECT_EQ(b.missed, 2u);
}

TEST(Mailbox, MissedIsReportedOnceThenReset) {
  fixture f{1, overflow_policy::drop_oldest};
  f.box.push(make_frame(1));
  f.box.push(make_frame(2));
  EXPECT_EQ(f.box.take(10).missed, 1u);
  EXPECT_EQ(f.box.take(10).missed, 0u);
  f.box.push(make_frame(3));
  auto b = f.box.take(10);
  EXPECT_EQ(b.missed, 0u);
  EXPECT_EQ(texts(b), (strings{"3"}));
  EXPECT_EQ(f.box.dropped_total(), 1u); // the total is not reset
}

TEST(Mailbox, WakesOncePerIdleToBusyTransition) {
  fixture f{10};
  f.box.push(make_frame(1));
  EXPECT_EQ(f.wakes, 1);
  f.box.push(make_frame(2));
  f.box.push(make_frame(3));
  EXPECT_EQ(f.wakes, 1);
  // Taking frames does not re-arm the wake; only an empty take does.
  EXPECT_EQ(f.box.take(10).frames.size(), 3u);
  f.box.push(make_frame(4));
  EXPECT_EQ(f.wakes, 1);
  EXPECT_EQ(f.box.take(10).frames.size(), 1u);
  EXPECT_TRUE(f.box.take(10).frames.empty());
  EXPECT_EQ(f.wakes, 1);
  f.box.push(make_frame(5));
  EXPECT_EQ(f.wakes, 2);
  f.box.push(make_frame(6));
  EXPECT_EQ(f.wakes, 2);
}

TEST(Mailbox, EmptyTakeOnFreshMailboxKeepsItArmed) {
  fixture f{10};
  EXPECT_TRUE(f.box.take(10).frames.empty());
  f.box.push(make_frame(1));
  EXPECT_EQ(f.wakes, 1);
}

TEST(Mailbox, PushReplayIgnoresCapacityAndWakes) {
  fixture f{2};
  f.box.push_replay({make_frame(1), make_frame(2), make_frame(3),
                     make_frame(4)});
  EXPECT_EQ(f.wakes, 1);
  EXPECT_EQ(f.box.size(), 4u);
  EXPECT_FALSE(f.box.closed());
  EXPECT_EQ(f.box.dropped_total(), 0u);
  auto b = f.box.take(10);
  EXPECT_EQ(texts(b), (strings{"1", "2", "3", "4"}));
}

// A client that resumes far behind gets its whole replay: live frames that
// come before it is written queue up to the capacity behind it.
TEST(Mailbox, LiveFramesQueueUpToCapacityBehindAReplay) {
  fixture f{2};
  f.box.push_replay({make_frame(1), make_frame(2), make_frame(3)});
  EXPECT_EQ(f.box.push(make_frame(4)), push_result::queued);
  EXPECT_EQ(f.box.push(make_frame(5)), push_result::queued);
  EXPECT_EQ(f.box.push(make_frame(6)), push_result::overflow);
}

TEST(Mailbox, ReplayedFramesTakenNoLongerWidenTheCapacity) {
  fixture f{2};
  f.box.push_replay({make_frame(1), make_frame(2), make_frame(3)});
  EXPECT_EQ(texts(f.box.take(2)), (strings{"1", "2"}));
  EXPECT_EQ(f.box.push(make_frame(4)), push_result::queued);
  EXPECT_EQ(f.box.push(make_frame(5)), push_result::queued);
  EXPECT_EQ(f.box.push(make_frame(6)), push_result::overflow);
}

TEST(Mailbox, DropOldestBehindAReplayDropsTheReplayFirst) {
  fixture f{1, overflow_policy::drop_oldest};
  f.box.push_replay({make_frame(1), make_frame(2)});
  EXPECT_EQ(f.box.push(make_frame(3)), push_result::queued);
  EXPECT_EQ(f.box.push(make_frame(4)), push_result::dropped_oldest);
  auto b = f.box.take(10);
  EXPECT_EQ(texts(b), (strings{"2", "3", "4"}));
  EXPECT_EQ(b.missed, 1u);
}

TEST(Mailbox, EmptyReplayDoesNotWake) {
  fixture f{2};
  f.box.push_replay({});
  EXPECT_EQ(f.wakes, 0);
}

TEST(Mailbox, CloseWakesAndLaterPushesAnswerClosed) {
  fixture f{4};
  EXPECT_TRUE(f.box.close(close_reason::client_gone));
  EXPECT_EQ(f.wakes, 1);
  EXPECT_TRUE(f.box.closed());
  EXPECT_FALSE(f.box.close(close_reason::shutdown));
  EXPECT_EQ(f.box.push(make_frame(1)), push_result::closed);
  f.box.push_replay({make_frame(2)});
  EXPECT_EQ(f.box.size(), 0u);
  EXPECT_EQ(f.box.dropped_total(), 0u);
  auto b = f.box.take(10);
  EXPECT_TRUE(b.frames.empty());
  EXPECT_EQ(b.closed, close_reason::client_gone);
}

TEST(Mailbox, CloseKeepsQueuedFramesForTheConsumer) {
  fixture f{4};
  f.box.push(make_frame(1));
  EXPECT_TRUE(f.box.close(close_reason::shutdown));
  auto b = f.box.take(10);
  EXPECT_EQ(texts(b), (strings{"1"}));
  EXPECT_EQ(b.closed, close_reason::shutdown);
}

TEST(Mailbox, CloseAfterEmptyTakeWakesAgain) {
  fixture f{4};
  f.box.push(make_frame(1));
  f.box.take(10);
  f.box.take(10);
  EXPECT_EQ(f.wakes, 1);
  f.box.close(close_reason::expired);
  EXPECT_EQ(f.wakes, 2);
}

TEST(Mailbox, TakeLimitsTheBatch) {
  fixture f{10};
  for (uint64_t i = 1; i <= 5; ++i)
    f.box.push(make_frame(i));
  EXPECT_EQ(texts(f.box.take(2)), (strings{"1", "2"}));
  EXPECT_EQ(texts(f.box.take(2)), (strings{"3", "4"}));
  EXPECT_EQ(texts(f.box.take(2)), (strings{"5"}));
  EXPECT_TRUE(f.box.take(2).frames.empty());
  EXPECT_EQ(f.box.size(), 0u);
}

TEST(Mailbox, TakeZeroMovesNothing) {
  fixture f{10};
  f.box.push(make_frame(1));
  EXPECT_TRUE(f.box.take(0).frames.empty());
  EXPECT_EQ(f.box.size(), 1u);
}

// A producer thread pushes numbered frames under drop_oldest while a consumer
// thread drains them on wake. Every frame is either received, in order, or
// counted as dropped.
TEST(MailboxStress, DropOldestLosesNothingUnaccounted) {
  constexpr uint64_t total = 200000;
  std::mutex m;
  std::condition_variable cv;
  bool woken = false;
  mailbox box{64, overflow_policy::drop_oldest, [&] {
                {
                  std::lock_guard<std::mutex> g{m};
                  woken = true;
                }
                cv.notify_one();
              }};

  uint64_t received = 0;
  uint64_t missed = 0;
  uint64_t last = 0;
  bool in_order = true;
  close_reason reason = close_reason::none;
  std::thread consumer{[&] {
    while (true) {
      {
        std::unique_lock<std::mutex> lk{m};
        cv.wait(lk, [&] { return woken; });
        woken = false;
      }
      // Drain until empty: only an empty take re-arms the wake.
      while (true) {
        auto b = box.take(16);
        missed += b.missed;
        for (auto& f : b.frames) {
          auto n = std::stoull(*f);
          if (n <= last)
            in_order = false;
          last = n;
          ++received;
        }
        if (b.frames.empty()) {
          if (b.closed != close_reason::none) {
            reason = b.closed;
            return;
          }
          break;
        }
      }
    }
  }};

  uint64_t dropped_results = 0;
  uint64_t unexpected = 0;
  for (uint64_t i = 1; i <= total; ++i) {
    auto r = box.push(make_frame(i));
    if (r == push_result::dropped_oldest)
      ++dropped_results;
    else if (r != push_result::queued)
      ++unexpected;
  }
  box.close(close_reason::shutdown);
  consumer.join();

  EXPECT_EQ(unexpected, 0u);
  EXPECT_TRUE(in_order);
  EXPECT_EQ(reason, close_reason::shutdown);
  EXPECT_EQ(received + box.dropped_total(), total);
  EXPECT_EQ(missed, box.dropped_total());
  EXPECT_EQ(dropped_results, box.dropped_total());
  EXPECT_EQ(box.size(), 0u);
}

// Same shape under disconnect: the consumer sees a prefix, in order, and the
// overflow closes the mailbox with exactly one frame counted as dropped.
TEST(MailboxStress, DisconnectDeliversAnOrderedPrefix) {
  constexpr uint64_t total = 200000;
  std::mutex m;
  std::condition_variable cv;
  bool woken = false;
  mailbox box{64, overflow_policy::disconnect, [&] {
                {
                  std::lock_guard<std::mutex> g{m};
                  woken = true;
                }
                cv.notify_one();
              }};
  uint64_t received = 0;
  bool in_order = true;
  close_reason reason = close_reason::none;
  std::thread consumer{[&] {
    while (true) {
      {
        std::unique_lock<std::mutex> lk{m};
        cv.wait(lk, [&] { return woken; });
        woken = false;
      }
      while (true) {
        auto b = box.take(16);
        for (auto& f : b.frames)
          if (std::stoull(*f) != ++received)
            in_order = false;
        if (b.frames.empty()) {
          if (b.closed != close_reason::none) {
            reason = b.closed;
            return;
          }
          break;
        }
      }
    }
  }};
  uint64_t accepted = 0;
  for (uint64_t i = 1; i <= total; ++i) {
    auto r = box.push(make_frame(i));
    if (r != push_result::queued)
      break;
    ++accepted;
  }
  box.close(close_reason::shutdown);
  consumer.join();
  EXPECT_TRUE(in_order);
  EXPECT_EQ(received, accepted);
  if (accepted < total) {
    EXPECT_EQ(reason, close_reason::overflow);
    EXPECT_EQ(box.dropped_total(), 1u);
  } else {
    EXPECT_EQ(reason, close_reason::shutdown);
    EXPECT_EQ(box.dropped_total(), 0u);
  }
}
