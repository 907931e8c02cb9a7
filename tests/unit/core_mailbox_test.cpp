// The feed (a stream's shared ring of live frames) and the subscriber
// mailboxes that read it: ordering, private frames, overflow under both
// policies, closing, the wake protocol, and producers and consumers on
// different threads.

#include "core/mailbox.hpp"
#include "core/wake.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace eventcast;

namespace {

using strings = std::vector<std::string>;
using id_lists = std::vector<std::vector<uint64_t>>;

frame make_frame(uint64_t n) {
  return std::make_shared<const std::string>(std::to_string(n));
}

frame make_frame(const std::string& text) {
  return std::make_shared<const std::string>(text);
}

std::vector<frame> frames(std::initializer_list<uint64_t> ns) {
  std::vector<frame> out;
  for (auto n : ns)
    out.push_back(make_frame(n));
  return out;
}

strings texts(const mailbox::batch& b) {
  strings out;
  for (auto& f : b.frames)
    out.push_back(*f);
  return out;
}

/// Records every wake it is told of. Thread-safe.
struct recorder : wake_target {
  void wake(const std::vector<uint64_t>& ids) override {
    std::lock_guard<std::mutex> guard{mtx};
    log.push_back(ids);
  }

  /// Every call so far, each with its ids sorted (their order is not part
  /// of the protocol).
  id_lists calls() const {
    std::lock_guard<std::mutex> guard{mtx};
    auto out = log;
    for (auto& ids : out)
      std::sort(ids.begin(), ids.end());
    return out;
  }

  /// How many times `id` was named.
  int wakes(uint64_t id) const {
    std::lock_guard<std::mutex> guard{mtx};
    int n = 0;
    for (auto& ids : log)
      n += static_cast<int>(std::count(ids.begin(), ids.end(), id));
    return n;
  }

  void clear() {
    std::lock_guard<std::mutex> guard{mtx};
    log.clear();
  }

  mutable std::mutex mtx;
  id_lists log;
};

/// One mailbox (id 1) with a recording target, optionally following a feed.
struct fixture {
  explicit fixture(size_t capacity = 10,
                   overflow_policy policy = overflow_policy::disconnect)
    : live(std::make_shared<feed>(capacity, policy)) {
  }

  void follow() { box.follow(live); }
  int wakes() const { return target->wakes(1); }

  std::shared_ptr<recorder> target = std::make_shared<recorder>();
  std::shared_ptr<feed> live;
  mailbox box{target, 1};
};

bool no_loss(const feed::append_result& r) {
  return r.dropped == 0 && r.disconnected == 0;
}

// Appends the frames numbered `numbers`; none may cost any mailbox a frame.
void append_all(feed& live, std::initializer_list<uint64_t> numbers) {
  for (auto n : numbers)
    EXPECT_TRUE(no_loss(live.append(make_frame(n))));
}

} // namespace

// -- one mailbox on a feed (the old mailbox tests, adapted) -------------------

TEST(Mailbox, ReadsUpToCapacityFeedFrames) {
  fixture f{3};
  f.follow();
  for (uint64_t i = 1; i <= 3; ++i)
    EXPECT_TRUE(no_loss(f.live->append(make_frame(i))));
  EXPECT_FALSE(f.box.closed());
  EXPECT_EQ(f.box.reason(), close_reason::none);
  auto b = f.box.take(10);
  EXPECT_EQ(texts(b), (strings{"1", "2", "3"}));
  EXPECT_EQ(b.missed, 0u);
  EXPECT_EQ(b.closed, close_reason::none);
  EXPECT_TRUE(f.box.take(10).frames.empty());
}

TEST(Mailbox, DisconnectPolicyClosesOnOverflow) {
  fixture f{2};
  f.follow();
  append_all(*f.live, {1, 2});
  auto r = f.live->append(make_frame(3));
  EXPECT_EQ(r.disconnected, 1u);
  EXPECT_EQ(r.dropped, 0u);
  EXPECT_TRUE(f.box.closed());
  EXPECT_EQ(f.box.reason(), close_reason::overflow);
  append_all(*f.live, {4, 5}); // closed: it no longer counts
  auto b = f.box.take(10);
  EXPECT_EQ(texts(b), (strings{"1", "2"}));
  EXPECT_EQ(b.missed, 0u);
  EXPECT_EQ(b.closed, close_reason::overflow);
  EXPECT_TRUE(f.box.take(10).frames.empty());
  EXPECT_FALSE(f.box.close(close_reason::shutdown)); // already closed
  EXPECT_EQ(f.box.reason(), close_reason::overflow);
}

// A feed keeps at least one frame: a capacity of 0 acts as 1.
TEST(Mailbox, DisconnectPolicyWithZeroCapacityKeepsOneFrame) {
  fixture f{0};
  f.follow();
  EXPECT_TRUE(no_loss(f.live->append(make_frame(1))));
  EXPECT_FALSE(f.box.closed());
  EXPECT_EQ(f.live->append(make_frame(2)).disconnected, 1u);
  EXPECT_TRUE(f.box.closed());
  auto b = f.box.take(10);
  EXPECT_EQ(texts(b), (strings{"1"}));
  EXPECT_EQ(b.closed, close_reason::overflow);
}

TEST(Mailbox, DropOldestDropsTheOldestFrame) {
  fixture f{2, overflow_policy::drop_oldest};
  f.follow();
  append_all(*f.live, {1, 2});
  auto r = f.live->append(make_frame(3));
  EXPECT_EQ(r.dropped, 1u);
  EXPECT_EQ(r.disconnected, 0u);
  EXPECT_EQ(f.live->append(make_frame(4)).dropped, 1u);
  EXPECT_FALSE(f.box.closed());
  auto b = f.box.take(10);
  EXPECT_EQ(texts(b), (strings{"3", "4"}));
  EXPECT_EQ(b.missed, 2u);
  EXPECT_EQ(b.closed, close_reason::none);
}

TEST(Mailbox, MissedIsReportedOnceThenReset) {
  fixture f{1, overflow_policy::drop_oldest};
  f.follow();
  f.live->append(make_frame(1));
  f.live->append(make_frame(2));
  auto first = f.box.take(10);
  EXPECT_EQ(first.missed, 1u);
  EXPECT_EQ(texts(first), (strings{"2"}));
  EXPECT_EQ(f.box.take(10).missed, 0u);
  EXPECT_TRUE(no_loss(f.live->append(make_frame(3))));
  auto b = f.box.take(10);
  EXPECT_EQ(b.missed, 0u);
  EXPECT_EQ(texts(b), (strings{"3"}));
}

// The skip is reported on the take that crosses it, even one that returns
// fewer frames than are kept.
TEST(Mailbox, MissedComesWithThePartialTakeThatSkips) {
  fixture f{3, overflow_policy::drop_oldest};
  f.follow();
  for (uint64_t i = 1; i <= 5; ++i)
    f.live->append(make_frame(i));
  auto b = f.box.take(1);
  EXPECT_EQ(b.missed, 2u);
  EXPECT_EQ(texts(b), (strings{"3"}));
  // Not behind any more: no further loss while it stays within capacity.
  EXPECT_TRUE(no_loss(f.live->append(make_frame(6))));
  b = f.box.take(10);
  EXPECT_EQ(b.missed, 0u);
  EXPECT_EQ(texts(b), (strings{"4", "5", "6"}));
}

TEST(Mailbox, WakesOncePerIdleToBusyTransition) {
  fixture f{10};
  f.follow();
  EXPECT_EQ(f.wakes(), 0);
  f.live->append(make_frame(1));
  EXPECT_EQ(f.wakes(), 1);
  f.live->append(make_frame(2));
  f.live->append(make_frame(3));
  EXPECT_EQ(f.wakes(), 1);
  // Taking frames does not re-arm the wake; only an empty take does.
  EXPECT_EQ(f.box.take(10).frames.size(), 3u);
  f.live->append(make_frame(4));
  EXPECT_EQ(f.wakes(), 1);
  EXPECT_EQ(f.box.take(10).frames.size(), 1u);
  EXPECT_TRUE(f.box.take(10).frames.empty());
  EXPECT_EQ(f.wakes(), 1);
  f.live->append(make_frame(5));
  EXPECT_EQ(f.wakes(), 2);
  f.live->append(make_frame(6));
  EXPECT_EQ(f.wakes(), 2);
}

TEST(Mailbox, PrivateFramesWakeOncePerIdleToBusyTransition) {
  fixture f{10};
  f.box.push(frames({1}));
  EXPECT_EQ(f.wakes(), 1);
  f.box.push(frames({2}));
  f.box.push(frames({3}));
  EXPECT_EQ(f.wakes(), 1);
  EXPECT_EQ(f.box.take(10).frames.size(), 3u);
  f.box.push(frames({4}));
  EXPECT_EQ(f.wakes(), 1);
  EXPECT_EQ(f.box.take(10).frames.size(), 1u);
  EXPECT_TRUE(f.box.take(10).frames.empty());
  f.box.push(frames({5}));
  EXPECT_EQ(f.wakes(), 2);
  f.box.push(frames({6}));
  EXPECT_EQ(f.wakes(), 2);
}

TEST(Mailbox, EmptyTakeOnFreshMailboxKeepsItArmed) {
  fixture f{10};
  EXPECT_TRUE(f.box.take(10).frames.empty());
  f.box.push(frames({1}));
  EXPECT_EQ(f.wakes(), 1);
}

// follow() arms the wake: the consumer of a new mailbox may already be idle.
TEST(Mailbox, FollowArmsTheWakeForTheFirstAppend) {
  fixture f{10};
  EXPECT_TRUE(f.box.take(10).frames.empty());
  f.follow();
  EXPECT_EQ(f.wakes(), 0);
  f.live->append(make_frame(1));
  EXPECT_EQ(f.wakes(), 1);
  EXPECT_EQ(texts(f.box.take(10)), (strings{"1"}));
}

TEST(Mailbox, PushIsUnboundedAndWakes) {
  fixture f{2};
  f.follow();
  f.box.push(frames({1, 2, 3, 4}));
  EXPECT_EQ(f.wakes(), 1);
  EXPECT_FALSE(f.box.closed());
  // The private frames do not take room in the feed.
  EXPECT_TRUE(no_loss(f.live->append(make_frame(5))));
  EXPECT_TRUE(no_loss(f.live->append(make_frame(6))));
  EXPECT_FALSE(f.box.closed());
  auto b = f.box.take(10);
  EXPECT_EQ(texts(b), (strings{"1", "2", "3", "4", "5", "6"}));
  EXPECT_EQ(b.missed, 0u);
}

// A client that resumes far behind gets its whole replay: live frames that
// come before it is written queue up to the capacity behind it.
TEST(Mailbox, LiveFramesQueueUpToCapacityBehindAReplay) {
  fixture f{2};
  f.box.push(frames({1, 2, 3}));
  f.follow();
  EXPECT_TRUE(no_loss(f.live->append(make_frame(4))));
  EXPECT_TRUE(no_loss(f.live->append(make_frame(5))));
  EXPECT_EQ(f.live->append(make_frame(6)).disconnected, 1u);
  auto b = f.box.take(10);
  EXPECT_EQ(texts(b), (strings{"1", "2", "3", "4", "5"}));
  EXPECT_EQ(b.closed, close_reason::overflow);
}

// Taking only private frames does not move the mailbox on in the feed.
TEST(Mailbox, ReplayedFramesTakenDoNotChangeTheCapacity) {
  fixture f{2};
  f.box.push(frames({1, 2, 3}));
  f.follow();
  EXPECT_EQ(texts(f.box.take(2)), (strings{"1", "2"}));
  EXPECT_TRUE(no_loss(f.live->append(make_frame(4))));
  EXPECT_TRUE(no_loss(f.live->append(make_frame(5))));
  EXPECT_EQ(texts(f.box.take(1)), (strings{"3"}));
  EXPECT_EQ(f.live->append(make_frame(6)).disconnected, 1u);
  auto b = f.box.take(10);
  EXPECT_EQ(texts(b), (strings{"4", "5"}));
  EXPECT_EQ(b.closed, close_reason::overflow);
}

TEST(Mailbox, DropOldestNeverDropsPrivateFrames) {
  fixture f{1, overflow_policy::drop_oldest};
  f.box.push(frames({1, 2}));
  f.follow();
  EXPECT_TRUE(no_loss(f.live->append(make_frame(3))));
  EXPECT_EQ(f.live->append(make_frame(4)).dropped, 1u);
  auto b = f.box.take(10);
  EXPECT_EQ(texts(b), (strings{"1", "2", "4"}));
  EXPECT_EQ(b.missed, 1u);
}

TEST(Mailbox, EmptyPushDoesNotWake) {
  fixture f{2};
  f.box.push({});
  EXPECT_EQ(f.wakes(), 0);
  EXPECT_TRUE(f.box.take(10).frames.empty());
}

TEST(Mailbox, CloseWakesAndLaterFramesAreIgnored) {
  fixture f{4};
  f.follow();
  EXPECT_TRUE(f.box.close(close_reason::client_gone));
  EXPECT_EQ(f.wakes(), 1);
  EXPECT_TRUE(f.box.closed());
  EXPECT_EQ(f.box.reason(), close_reason::client_gone);
  EXPECT_FALSE(f.box.close(close_reason::shutdown));
  EXPECT_EQ(f.box.reason(), close_reason::client_gone);
  f.box.push(frames({1}));
  EXPECT_TRUE(no_loss(f.live->append(make_frame(2))));
  auto b = f.box.take(10);
  EXPECT_TRUE(b.frames.empty());
  EXPECT_EQ(b.closed, close_reason::client_gone);
  EXPECT_EQ(b.missed, 0u);
}

TEST(Mailbox, CloseKeepsQueuedFramesForTheConsumer) {
  fixture f{4};
  f.box.push(frames({1}));
  EXPECT_TRUE(f.box.close(close_reason::shutdown));
  auto b = f.box.take(10);
  EXPECT_EQ(texts(b), (strings{"1"}));
  EXPECT_EQ(b.closed, close_reason::shutdown);
}

TEST(Mailbox, CloseAfterEmptyTakeWakesAgain) {
  fixture f{4};
  f.box.push(frames({1}));
  f.box.take(10);
  f.box.take(10);
  EXPECT_EQ(f.wakes(), 1);
  f.box.close(close_reason::expired);
  EXPECT_EQ(f.wakes(), 2);
}

// "Always when it closes": even a consumer that was told of frames it has not
// taken yet hears of the close, whether they came from the feed or were its
// own.
TEST(Mailbox, CloseWakesAConsumerAlreadyWoken) {
  for (bool from_feed : {true, false}) {
    SCOPED_TRACE(from_feed ? "feed frame" : "own frame");
    fixture f{4};
    if (from_feed) {
      f.follow();
      f.live->append(make_frame(1));
    } else {
      f.box.push(frames({1}));
    }
    EXPECT_EQ(f.wakes(), 1);
    f.box.close(close_reason::expired);
    EXPECT_EQ(f.wakes(), 2);
    auto b = f.box.take(10);
    EXPECT_EQ(texts(b), (strings{"1"}));
    EXPECT_EQ(b.closed, close_reason::expired);
  }
}

TEST(Mailbox, TakeLimitsTheBatchAcrossPrivateAndFeedFrames) {
  fixture f{10};
  f.box.push(frames({1, 2, 3}));
  f.follow();
  for (uint64_t i = 4; i <= 6; ++i)
    f.live->append(make_frame(i));
  EXPECT_EQ(texts(f.box.take(2)), (strings{"1", "2"}));
  EXPECT_EQ(texts(f.box.take(2)), (strings{"3", "4"}));
  EXPECT_EQ(texts(f.box.take(2)), (strings{"5", "6"}));
  EXPECT_TRUE(f.box.take(2).frames.empty());
  f.live->append(make_frame(7));
  EXPECT_EQ(texts(f.box.take(2)), (strings{"7"}));
}

TEST(Mailbox, TakeZeroMovesNothing) {
  fixture f{10};
  f.box.push(frames({1}));
  f.follow();
  f.live->append(make_frame(2));
  EXPECT_TRUE(f.box.take(0).frames.empty());
  EXPECT_EQ(texts(f.box.take(10)), (strings{"1", "2"}));
}

TEST(Mailbox, FollowsOnlyOnce) {
  fixture f{10};
  f.follow();
  auto other = std::make_shared<feed>(10, overflow_policy::disconnect);
  f.box.follow(other);
  other->append(make_frame(99));
  f.live->append(make_frame(1));
  EXPECT_EQ(texts(f.box.take(10)), (strings{"1"}));
}

TEST(Mailbox, AClosedMailboxDoesNotFollow) {
  fixture f{1};
  f.box.close(close_reason::shutdown);
  f.follow();
  EXPECT_TRUE(no_loss(f.live->append(make_frame(1))));
  EXPECT_TRUE(no_loss(f.live->append(make_frame(2))));
  EXPECT_TRUE(f.box.take(10).frames.empty());
  EXPECT_EQ(f.box.reason(), close_reason::shutdown);
}

// -- the wake protocol (formerly core_wake_test) -------------------------------

TEST(Wake, EachMailboxWakesItsTargetWithItsId) {
  auto target = std::make_shared<recorder>();
  mailbox a{target, 1};
  mailbox b{target, 2};
  a.push(frames({1}));
  b.push(frames({1}));
  EXPECT_EQ(target->calls(), (id_lists{{1}, {2}}));
}

TEST(Wake, AnAppendWakesEachTargetOnceWithAllIdleIds) {
  auto first = std::make_shared<recorder>();
  auto second = std::make_shared<recorder>();
  auto live = std::make_shared<feed>(10, overflow_policy::disconnect);
  mailbox a{first, 1};
  mailbox b{first, 2};
  mailbox c{second, 3};
  mailbox busy{first, 4}; // told of an append it has not taken yet
  busy.follow(live);
  live->append(make_frame(0));
  EXPECT_EQ(first->calls(), (id_lists{{4}}));
  first->clear();
  a.follow(live);
  b.follow(live);
  c.follow(live);
  live->append(make_frame(1));
  EXPECT_EQ(first->calls(), (id_lists{{1, 2}}));
  EXPECT_EQ(second->calls(), (id_lists{{3}}));
  // Every one has been told: the next appends wake nobody.
  live->append(make_frame(2));
  live->append(make_frame(3));
  EXPECT_EQ(first->calls(), (id_lists{{1, 2}}));
  EXPECT_EQ(second->calls(), (id_lists{{3}}));
  // The ones that drain and find nothing are woken by the next append, again
  // in one call per target.
  for (auto* m : {&a, &b, &c, &busy}) {
    EXPECT_FALSE(m->take(10).frames.empty());
    EXPECT_TRUE(m->take(10).frames.empty());
  }
  first->clear();
  second->clear();
  live->append(make_frame(4));
  EXPECT_EQ(first->calls(), (id_lists{{1, 2, 4}}));
  EXPECT_EQ(second->calls(), (id_lists{{3}}));
}

TEST(Wake, AMailboxAlreadyWokenIsNotWokenAgainBeforeItTakes) {
  fixture f{10};
  f.follow();
  f.live->append(make_frame(1));
  f.live->append(make_frame(2));
  f.live->append(make_frame(3));
  EXPECT_EQ(f.wakes(), 1);
  // Several empty takes in one round: still one wake.
  EXPECT_EQ(f.box.take(10).frames.size(), 3u);
  EXPECT_TRUE(f.box.take(10).frames.empty());
  EXPECT_TRUE(f.box.take(10).frames.empty());
  EXPECT_TRUE(f.box.take(10).frames.empty());
  f.live->append(make_frame(4));
  EXPECT_EQ(f.target->calls(), (id_lists{{1}, {1}}));
}

// An append that closes one mailbox for overflow and wakes another idle one
// of the same consumer tells that consumer once, with both ids.
TEST(Wake, AnOverflowAndAnIdleMailboxShareOneCall) {
  auto target = std::make_shared<recorder>();
  auto live = std::make_shared<feed>(2, overflow_policy::disconnect);
  mailbox slow{target, 1};
  mailbox fast{target, 2};
  slow.follow(live);
  fast.follow(live);
  live->append(make_frame(1));
  live->append(make_frame(2));
  EXPECT_EQ(texts(fast.take(10)), (strings{"1", "2"}));
  EXPECT_TRUE(fast.take(10).frames.empty());
  target->clear();
  EXPECT_EQ(live->append(make_frame(3)).disconnected, 1u);
  EXPECT_EQ(target->calls(), (id_lists{{1, 2}}));
}

TEST(Wake, AGoneTargetIsNotWokenAndNothingCrashes) {
  auto target = std::make_shared<recorder>();
  std::weak_ptr<recorder> watch = target;
  auto live = std::make_shared<feed>(1, overflow_policy::disconnect);
  mailbox a{target, 1};
  a.follow(live);
  target.reset();
  EXPECT_TRUE(watch.expired());
  a.push(frames({1}));
  EXPECT_TRUE(no_loss(live->append(make_frame(2))));
  // It overflows (a close wake) with no one to tell.
  EXPECT_EQ(live->append(make_frame(3)).disconnected, 1u);
  auto b = a.take(10);
  EXPECT_EQ(texts(b), (strings{"1", "2"}));
  EXPECT_EQ(b.closed, close_reason::overflow);
  EXPECT_FALSE(a.close(close_reason::shutdown));
}

TEST(Wake, AGoneTargetDoesNotKeepOthersFromBeingWoken) {
  auto gone = std::make_shared<recorder>();
  auto here = std::make_shared<recorder>();
  auto live = std::make_shared<feed>(4, overflow_policy::disconnect);
  mailbox a{gone, 1};
  mailbox b{here, 2};
  mailbox c{std::weak_ptr<wake_target>{}, 3}; // never had a target
  a.follow(live);
  b.follow(live);
  c.follow(live);
  gone.reset();
  live->append(make_frame(1));
  EXPECT_EQ(here->calls(), (id_lists{{2}}));
  EXPECT_EQ(texts(a.take(10)), (strings{"1"}));
  EXPECT_EQ(texts(c.take(10)), (strings{"1"}));
  EXPECT_TRUE(c.close(close_reason::shutdown));
}

// -- several mailboxes on one feed ---------------------------------------------

TEST(Feed, SeveralMailboxesEachGetEveryFrameInOrder) {
  auto target = std::make_shared<recorder>();
  auto live = std::make_shared<feed>(8, overflow_policy::disconnect);
  std::vector<std::unique_ptr<mailbox>> boxes;
  for (uint64_t id = 1; id <= 3; ++id) {
    boxes.push_back(std::make_unique<mailbox>(target, id));
    boxes.back()->follow(live);
  }
  std::vector<strings> got(boxes.size());
  // Each reads at its own pace: box 0 after every append, box 1 every third,
  // box 2 only at the end, in small batches.
  for (uint64_t i = 1; i <= 20; ++i) {
    if (i > 8) {
      // Box 2 would overflow: let it catch up from time to time.
      if (i % 8 == 1)
        for (auto b = boxes[2]->take(3); !b.frames.empty();
             b = boxes[2]->take(3))
          for (auto& s : texts(b))
            got[2].push_back(s);
    }
    EXPECT_TRUE(no_loss(live->append(make_frame(i))));
    for (auto& s : texts(boxes[0]->take(100)))
      got[0].push_back(s);
    if (i % 3 == 0)
      for (auto& s : texts(boxes[1]->take(100)))
        got[1].push_back(s);
  }
  for (size_t k = 0; k < boxes.size(); ++k) {
    for (auto b = boxes[k]->take(3); !b.frames.empty(); b = boxes[k]->take(3))
      for (auto& s : texts(b))
        got[k].push_back(s);
    strings want;
    for (uint64_t i = 1; i <= 20; ++i)
      want.push_back(std::to_string(i));
    EXPECT_EQ(got[k], want) << "mailbox " << k;
    EXPECT_FALSE(boxes[k]->closed());
  }
}

TEST(Feed, AMailboxThatFollowsLateGetsOnlyLaterFrames) {
  fixture f{4};
  for (uint64_t i = 1; i <= 6; ++i)
    f.live->append(make_frame(i)); // wraps the ring
  f.follow();
  EXPECT_TRUE(f.box.take(10).frames.empty());
  f.live->append(make_frame(7));
  f.live->append(make_frame(8));
  auto b = f.box.take(10);
  EXPECT_EQ(texts(b), (strings{"7", "8"}));
  EXPECT_EQ(b.missed, 0u);
}

// A late follower has the full capacity from where it starts, not from the
// feed's oldest frame.
TEST(Feed, ALateFollowerOverflowsAtItsOwnCapacity) {
  fixture f{3};
  for (uint64_t i = 1; i <= 5; ++i)
    f.live->append(make_frame(i));
  f.follow();
  for (uint64_t i = 6; i <= 8; ++i)
    EXPECT_TRUE(no_loss(f.live->append(make_frame(i)))) << i;
  EXPECT_FALSE(f.box.closed());
  EXPECT_EQ(f.live->append(make_frame(9)).disconnected, 1u);
  auto b = f.box.take(10);
  EXPECT_EQ(texts(b), (strings{"6", "7", "8"}));
  EXPECT_EQ(b.closed, close_reason::overflow);
}

TEST(Feed, PrivateFramesComeBeforeFeedFrames) {
  fixture f{10};
  f.follow();
  f.live->append(make_frame("live1"));
  f.box.push({make_frame("hello")});
  f.live->append(make_frame("live2"));
  f.box.push({make_frame("replay1"), make_frame("replay2")});
  auto b = f.box.take(10);
  EXPECT_EQ(texts(b), (strings{"hello", "replay1", "replay2", "live1",
                               "live2"}));
}

TEST(Feed, OrderSurvivesManyTurnsOfTheRing) {
  fixture f{3};
  f.follow();
  strings got;
  strings want;
  for (uint64_t i = 1; i <= 50; ++i) {
    EXPECT_TRUE(no_loss(f.live->append(make_frame(i))));
    want.push_back(std::to_string(i));
    if (i % 2 == 0)
      for (auto& s : texts(f.box.take(i % 4 == 0 ? 1 : 100)))
        got.push_back(s);
  }
  for (auto& s : texts(f.box.take(100)))
    got.push_back(s);
  EXPECT_EQ(got, want);
}

// Under disconnect, the mailbox closes at the append that would put it
// capacity + 1 frames behind, keeping the capacity frames that fit; the
// others are unaffected.
TEST(Feed, DisconnectClosesTheSlowMailboxAtExactlyTheOverflowingAppend) {
  constexpr uint64_t capacity = 4;
  auto target = std::make_shared<recorder>();
  auto live = std::make_shared<feed>(capacity, overflow_policy::disconnect);
  mailbox slow{target, 1};
  mailbox fast{target, 2};
  mailbox idle{target, 3}; // follows one frame later
  slow.follow(live);
  fast.follow(live);
  strings fast_got;
  auto append = [&](uint64_t i) {
    auto r = live->append(make_frame(i));
    for (auto& s : texts(fast.take(100)))
      fast_got.push_back(s);
    return r;
  };
  // The slow one reads two frames, then stops.
  append(1);
  append(2);
  EXPECT_EQ(texts(slow.take(100)), (strings{"1", "2"}));
  for (uint64_t i = 3; i <= 2 + capacity; ++i) {
    auto r = append(i);
    if (i == 3)
      idle.follow(live);
    EXPECT_TRUE(no_loss(r)) << i;
    EXPECT_FALSE(slow.closed()) << i;
  }
  EXPECT_EQ(target->wakes(1), 1); // the first append only
  auto r = append(3 + capacity); // the (capacity + 1)-th unread
  EXPECT_EQ(r.disconnected, 1u);
  EXPECT_EQ(r.dropped, 0u);
  EXPECT_TRUE(slow.closed());
  EXPECT_EQ(slow.reason(), close_reason::overflow);
  EXPECT_EQ(target->wakes(1), 2); // the close reaches its consumer
  EXPECT_FALSE(fast.closed());
  EXPECT_FALSE(idle.closed());
  // The idle one is now exactly at capacity: the next append closes it.
  r = append(4 + capacity);
  EXPECT_EQ(r.disconnected, 1u);
  EXPECT_TRUE(idle.closed());
  EXPECT_FALSE(fast.closed());
  for (uint64_t i = 5 + capacity; i <= 20; ++i)
    EXPECT_TRUE(no_loss(append(i))) << i;

  auto b = slow.take(100);
  EXPECT_EQ(texts(b), (strings{"3", "4", "5", "6"}));
  EXPECT_EQ(b.closed, close_reason::overflow);
  EXPECT_EQ(b.missed, 0u);
  EXPECT_TRUE(slow.take(100).frames.empty());
  b = idle.take(100);
  EXPECT_EQ(texts(b), (strings{"4", "5", "6", "7"}));
  EXPECT_EQ(b.closed, close_reason::overflow);

  strings want;
  for (uint64_t i = 1; i <= 20; ++i)
    want.push_back(std::to_string(i));
  EXPECT_EQ(fast_got, want);
  EXPECT_FALSE(fast.closed());
}

TEST(Feed, DisconnectCountsEveryMailboxItCloses) {
  auto live = std::make_shared<feed>(2, overflow_policy::disconnect);
  std::vector<std::unique_ptr<mailbox>> boxes;
  for (uint64_t id = 1; id <= 5; ++id) {
    boxes.push_back(std::make_unique<mailbox>(std::weak_ptr<wake_target>{}, id));
    boxes.back()->follow(live);
  }
  live->append(make_frame(1));
  live->append(make_frame(2));
  boxes[4]->take(100); // one keeps up
  auto r = live->append(make_frame(3));
  EXPECT_EQ(r.disconnected, 4u);
  for (size_t k = 0; k < 4; ++k) {
    auto b = boxes[k]->take(100);
    EXPECT_EQ(texts(b), (strings{"1", "2"}));
    EXPECT_EQ(b.closed, close_reason::overflow);
  }
  EXPECT_FALSE(boxes[4]->closed());
  EXPECT_EQ(texts(boxes[4]->take(100)), (strings{"3"}));
}

TEST(Feed, DropOldestCountsMissedAndTheReaderContinuesWithTheNewest) {
  constexpr uint64_t capacity = 3;
  auto target = std::make_shared<recorder>();
  auto live = std::make_shared<feed>(capacity, overflow_policy::drop_oldest);
  mailbox slow{target, 1};
  mailbox slower{target, 2};
  mailbox fast{target, 3};
  slow.follow(live);
  slower.follow(live);
  fast.follow(live);
  uint64_t dropped = 0;
  std::vector<uint64_t> per_append;
  for (uint64_t i = 1; i <= 10; ++i) {
    auto r = live->append(make_frame(i));
    EXPECT_EQ(r.disconnected, 0u);
    per_append.push_back(r.dropped);
    dropped += r.dropped;
    EXPECT_EQ(fast.take(100).frames.size(), 1u);
    if (i == 6) {
      auto b = slow.take(100);
      EXPECT_EQ(texts(b), (strings{"4", "5", "6"}));
      EXPECT_EQ(b.missed, 3u);
    }
  }
  // Appends 4..10 each skip slower; 4..6 and 10 skip slow too (it caught up
  // after 6, so 7..9 fit).
  EXPECT_EQ(per_append,
            (std::vector<uint64_t>{0, 0, 0, 2, 2, 2, 1, 1, 1, 2}));
  auto b = slow.take(100);
  EXPECT_EQ(texts(b), (strings{"8", "9", "10"}));
  EXPECT_EQ(b.missed, 1u);
  b = slower.take(100);
  EXPECT_EQ(texts(b), (strings{"8", "9", "10"}));
  EXPECT_EQ(b.missed, 7u);
  EXPECT_EQ(dropped, 3u + 1u + 7u);
  EXPECT_FALSE(slow.closed());
  EXPECT_FALSE(slower.closed());
  // Back in step: nothing more is missed.
  EXPECT_TRUE(no_loss(live->append(make_frame(11))));
  b = slower.take(100);
  EXPECT_EQ(texts(b), (strings{"11"}));
  EXPECT_EQ(b.missed, 0u);
  EXPECT_EQ(fast.take(100).missed, 0u);
}

TEST(Feed, CloseWithShutdownKeepsUnreadFeedFrames) {
  fixture f{4};
  mailbox other{f.target, 2};
  f.follow();
  other.follow(f.live);
  f.live->append(make_frame(1));
  f.live->append(make_frame(2));
  f.box.push(frames({0})); // pushed late, still first
  EXPECT_TRUE(f.box.close(close_reason::shutdown));
  EXPECT_EQ(other.take(10).frames.size(), 2u);
  // It left the feed: later appends neither reach nor overflow it (it would
  // have overflowed at 7).
  for (uint64_t i = 3; i <= 10; ++i) {
    EXPECT_TRUE(no_loss(f.live->append(make_frame(i)))) << i;
    EXPECT_EQ(texts(other.take(10)), (strings{std::to_string(i)}));
  }
  auto b = f.box.take(10);
  EXPECT_EQ(texts(b), (strings{"0", "1", "2"}));
  EXPECT_EQ(b.closed, close_reason::shutdown);
  EXPECT_TRUE(f.box.take(10).frames.empty());
  EXPECT_FALSE(other.closed());
}

TEST(Feed, CloseWithShutdownReportsWhatWasMissed) {
  fixture f{2, overflow_policy::drop_oldest};
  f.follow();
  for (uint64_t i = 1; i <= 5; ++i)
    f.live->append(make_frame(i));
  EXPECT_TRUE(f.box.close(close_reason::expired));
  auto b = f.box.take(1);
  EXPECT_EQ(texts(b), (strings{"4"}));
  EXPECT_EQ(b.missed, 3u);
  b = f.box.take(10);
  EXPECT_EQ(texts(b), (strings{"5"}));
  EXPECT_EQ(b.missed, 0u);
  EXPECT_EQ(b.closed, close_reason::expired);
}

TEST(Feed, CloseWithClientGoneDropsUnreadFeedFrames) {
  fixture f{4};
  f.follow();
  f.live->append(make_frame(1));
  f.live->append(make_frame(2));
  EXPECT_TRUE(f.box.close(close_reason::client_gone));
  for (uint64_t i = 3; i <= 10; ++i)
    EXPECT_TRUE(no_loss(f.live->append(make_frame(i))));
  auto b = f.box.take(10);
  EXPECT_TRUE(b.frames.empty());
  EXPECT_EQ(b.closed, close_reason::client_gone);
}

// A mailbox destroyed while it still reads the feed leaves it: later appends
// neither touch it nor count it.
TEST(Feed, ADestroyedMailboxLeavesTheFeed) {
  for (auto policy : {overflow_policy::disconnect, overflow_policy::drop_oldest}) {
    SCOPED_TRACE(policy == overflow_policy::disconnect ? "disconnect"
                                                       : "drop_oldest");
    auto target = std::make_shared<recorder>();
    auto live = std::make_shared<feed>(2, policy);
    auto first = std::make_unique<mailbox>(target, 1);
    auto middle = std::make_unique<mailbox>(target, 2);
    auto last = std::make_unique<mailbox>(target, 3);
    first->follow(live);
    middle->follow(live);
    last->follow(live);
    live->append(make_frame(1));
    live->append(make_frame(2));
    // All three are at capacity; one leaves from the middle of the list, one
    // from its head (the last to follow).
    middle.reset();
    last.reset();
    auto r = live->append(make_frame(3));
    EXPECT_EQ(r.disconnected + r.dropped, 1u); // `first` only
    EXPECT_EQ(first->take(10).frames.size(), 2u);
    // A new one takes a destroyed one's place and counts exactly.
    auto next = std::make_unique<mailbox>(target, 4);
    next->follow(live);
    EXPECT_TRUE(no_loss(live->append(make_frame(4))));
    EXPECT_TRUE(no_loss(live->append(make_frame(5))));
    r = live->append(make_frame(6));
    auto b = next->take(10);
    if (policy == overflow_policy::disconnect) {
      EXPECT_EQ(r.disconnected, 1u); // `next`; `first` closed at 3
      EXPECT_EQ(texts(b), (strings{"4", "5"}));
      EXPECT_EQ(b.closed, close_reason::overflow);
    } else {
      EXPECT_EQ(r.dropped, 2u); // `next` and `first`
      EXPECT_EQ(texts(b), (strings{"5", "6"}));
      EXPECT_EQ(b.missed, 1u);
    }
    first.reset();
    next.reset();
    for (uint64_t i = 7; i <= 12; ++i)
      EXPECT_TRUE(no_loss(live->append(make_frame(i))));
  }
}

// The feed outlives its stream's handle while mailboxes still read it.
TEST(Feed, MailboxesKeepTheirFeed) {
  fixture f{4};
  f.follow();
  std::weak_ptr<feed> watch = f.live;
  f.live->append(make_frame(1));
  f.live.reset();
  EXPECT_FALSE(watch.expired());
  EXPECT_EQ(texts(f.box.take(10)), (strings{"1"}));
  f.box.close(close_reason::shutdown);
}

// -- producers and consumers on different threads ------------------------------

namespace {

using namespace std::chrono_literals;

/// A consumer thread's wake-up: ids pending since its last wait.
struct signal_target : wake_target {
  void wake(const std::vector<uint64_t>& ids) override {
    {
      std::lock_guard<std::mutex> guard{mtx};
      pending.insert(pending.end(), ids.begin(), ids.end());
    }
    cv.notify_one();
  }

  /// The ids woken since the last call; empty after `limit` without any (a
  /// lost wake: the tests fail rather than hang).
  std::vector<uint64_t> wait(std::chrono::seconds limit = 20s) {
    std::unique_lock<std::mutex> lk{mtx};
    cv.wait_for(lk, limit, [&] { return !pending.empty(); });
    std::vector<uint64_t> out;
    out.swap(pending);
    return out;
  }

  std::mutex mtx;
  std::condition_variable cv;
  std::vector<uint64_t> pending;
};

/// What one consumer saw of one mailbox fed numbered frames 1, 2, ...
struct reading {
  uint64_t received = 0;
  uint64_t missed = 0;
  uint64_t last = 0; // 0: none yet
  bool exact = true; // every frame is last + missed-before-it + 1
  close_reason closed = close_reason::none;
  bool any_start = false; // followed late: the first frame can be any
  bool lost_wake = false; // its consumer waited in vain
  std::atomic<uint64_t> progress{0}; // `last`, for the producer to pace by

  void see(const mailbox::batch& b) {
    missed += b.missed;
    auto expect = last + b.missed + 1;
    for (auto& f : b.frames) {
      auto n = std::stoull(*f);
      if (n != expect && !(any_start && last == 0))
        exact = false;
      last = n;
      expect = n + 1;
      ++received;
    }
    progress.store(last, std::memory_order_release);
  }

  /// Drains until a take returns nothing (which re-arms the wake); true once
  /// the mailbox is closed and empty.
  bool drain(mailbox& box, size_t batch) {
    while (true) {
      auto b = box.take(batch);
      see(b);
      if (b.frames.empty()) {
        closed = b.closed;
        return b.closed != close_reason::none;
      }
    }
  }
};

/// Spins until `done` holds; false after a deadline (a consumer that stopped:
/// a lost wake).
template <class Pred>
bool spin_until(Pred done) {
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    std::this_thread::yield();
  }
  return true;
}

} // namespace

// A producer appends numbered frames under drop_oldest while a consumer
// thread drains its mailbox on wake. Every frame is either received, in
// order, or reported missed exactly where it was skipped; the appends count
// exactly the frames reported missed.
TEST(MailboxStress, DropOldestLosesNothingUnaccounted) {
  constexpr uint64_t total = 200000;
  auto target = std::make_shared<signal_target>();
  auto live = std::make_shared<feed>(64, overflow_policy::drop_oldest);
  mailbox box{target, 7};
  box.follow(live);

  reading seen;
  bool other_ids = false;
  std::thread consumer{[&] {
    while (true) {
      auto ids = target->wait();
      if (ids.empty()) {
        seen.lost_wake = true;
        return;
      }
      for (auto id : ids)
        if (id != 7)
          other_ids = true;
      if (seen.drain(box, 16))
        return;
    }
  }};

  uint64_t dropped = 0;
  uint64_t disconnected = 0;
  for (uint64_t i = 1; i <= total; ++i) {
    auto r = live->append(make_frame(i));
    dropped += r.dropped;
    disconnected += r.disconnected;
  }
  EXPECT_TRUE(box.close(close_reason::shutdown));
  consumer.join();

  EXPECT_FALSE(seen.lost_wake);
  EXPECT_FALSE(other_ids);
  EXPECT_TRUE(seen.exact);
  EXPECT_EQ(seen.closed, close_reason::shutdown);
  EXPECT_EQ(seen.received + seen.missed, total);
  EXPECT_EQ(seen.last, total);
  EXPECT_EQ(seen.missed, dropped);
  EXPECT_EQ(disconnected, 0u);
  EXPECT_TRUE(box.take(100).frames.empty());
}

// Same shape under disconnect: the consumer sees an ordered prefix, exactly
// the frames before the append that overflowed it, and exactly one mailbox is
// reported disconnected. The producer keeps within the consumer's reach for
// the first half (so the consumer is woken from idle again and again), then
// runs free.
TEST(MailboxStress, DisconnectDeliversAnOrderedPrefix) {
  constexpr uint64_t total = 200000;
  constexpr uint64_t capacity = 64;
  auto target = std::make_shared<signal_target>();
  auto live = std::make_shared<feed>(capacity, overflow_policy::disconnect);
  mailbox box{target, 7};
  box.follow(live);

  reading seen;
  std::thread consumer{[&] {
    while (true) {
      auto ids = target->wait();
      if (ids.empty()) {
        seen.lost_wake = true;
        return;
      }
      if (seen.drain(box, 16))
        return;
    }
  }};

  uint64_t disconnected = 0;
  uint64_t overflowed_at = 0;
  uint64_t dropped = 0;
  bool paced = true;
  for (uint64_t i = 1; i <= total; ++i) {
    if (i <= total / 2 && paced)
      paced = spin_until([&] {
        return seen.progress.load(std::memory_order_acquire) + capacity / 2
               >= i;
      });
    auto r = live->append(make_frame(i));
    dropped += r.dropped;
    if (r.disconnected > 0 && overflowed_at == 0)
      overflowed_at = i;
    disconnected += r.disconnected;
  }
  bool closed_here = box.close(close_reason::shutdown);
  consumer.join();

  EXPECT_TRUE(paced) << "the consumer stopped at " << seen.progress.load();
  EXPECT_FALSE(seen.lost_wake);
  EXPECT_TRUE(seen.exact);
  EXPECT_EQ(seen.missed, 0u);
  EXPECT_EQ(dropped, 0u);
  if (disconnected > 0) {
    EXPECT_EQ(disconnected, 1u);
    EXPECT_GT(overflowed_at, total / 2);
    EXPECT_FALSE(closed_here);
    EXPECT_EQ(seen.closed, close_reason::overflow);
    EXPECT_EQ(seen.received, overflowed_at - 1);
  } else {
    EXPECT_TRUE(closed_here);
    EXPECT_EQ(seen.closed, close_reason::shutdown);
    EXPECT_EQ(seen.received, total);
  }
  EXPECT_EQ(seen.last, seen.received);
}

// Several consumers (two threads, three mailboxes each, like output threads)
// read one feed while another thread keeps making mailboxes that follow it,
// read a little and leave (closed either way, or destroyed while still
// reading). Every consumer mailbox accounts for every frame; every churned
// one reads in order; and the feed's counts stay exact, which a last reader
// checks. The producer keeps within the consumers' reach for the first half.
static void churn_stress(overflow_policy policy) {
  constexpr uint64_t total = 100000;
  constexpr uint64_t capacity = 32;
  constexpr uint64_t per_thread = 3;
  auto live = std::make_shared<feed>(capacity, policy);

  struct consumer {
    std::shared_ptr<signal_target> target = std::make_shared<signal_target>();
    std::map<uint64_t, std::unique_ptr<mailbox>> boxes;
    std::map<uint64_t, reading> seen;
    bool lost_wake = false;
    std::thread thread;
  };
  consumer consumers[2];
  uint64_t next_id = 1;
  for (auto& c : consumers)
    for (uint64_t k = 0; k < per_thread; ++k, ++next_id) {
      c.boxes[next_id] = std::make_unique<mailbox>(c.target, next_id);
      c.boxes[next_id]->follow(live);
      c.seen[next_id];
    }
  for (auto& c : consumers)
    c.thread = std::thread{[&c] {
      size_t open = c.boxes.size();
      while (open > 0) {
        auto ids = c.target->wait();
        if (ids.empty()) {
          c.lost_wake = true;
          return;
        }
        std::sort(ids.begin(), ids.end());
        ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
        for (auto id : ids) {
          auto& r = c.seen.at(id);
          if (r.closed != close_reason::none)
            continue; // done already: a late wake
          if (r.drain(*c.boxes.at(id), id % 2 ? 8 : 64))
            --open;
        }
      }
    }};

  std::atomic<bool> producing{true};
  uint64_t churned = 0;
  uint64_t churn_overflows = 0;  // seen closed for overflow
  uint64_t destroyed_linked = 0; // may have been closed for overflow unseen
  bool churn_exact = true;
  std::thread churn{[&] {
    auto target = std::make_shared<recorder>();
    std::mt19937 rng{12345};
    uint64_t id = 1000;
    while (producing.load()) {
      auto box = std::make_unique<mailbox>(target, ++id);
      box->push({make_frame(std::string{"hello"})});
      box->follow(live);
      auto first = box->take(1); // the private frame
      if (first.frames.size() != 1 || *first.frames[0] != "hello")
        churn_exact = false;
      reading r;
      r.any_start = true;
      for (auto reads = rng() % 4; reads > 0; --reads) {
        r.see(box->take(1 + rng() % 16));
        std::this_thread::yield();
      }
      auto how = rng() % 3;
      if (how == 2) {
        ++destroyed_linked; // still reading the feed as it goes
      } else {
        auto why = how == 0 ? close_reason::shutdown : close_reason::client_gone;
        bool closed_here = box->close(why);
        if (!closed_here) {
          if (box->reason() == close_reason::overflow)
            ++churn_overflows;
          else
            churn_exact = false;
        }
        // Whatever was kept stays readable, in order; a client gone keeps
        // no feed frames.
        auto before = r.received;
        if (!r.drain(*box, 1 + rng() % 64))
          churn_exact = false;
        if (closed_here && why == close_reason::client_gone &&
            r.received != before)
          churn_exact = false;
        if (!r.exact)
          churn_exact = false;
        if (policy == overflow_policy::disconnect && r.missed != 0)
          churn_exact = false;
      }
      ++churned;
    }
  }};

  // Every consumer mailbox still open is within reach of frame `i`.
  auto within_reach = [&](uint64_t i) {
    for (auto& c : consumers)
      for (auto& [id, r] : c.seen)
        if (!c.boxes.at(id)->closed() &&
            r.progress.load(std::memory_order_acquire) + capacity / 2 < i)
          return false;
    return true;
  };
  uint64_t dropped = 0;
  uint64_t disconnected = 0;
  bool paced = true;
  for (uint64_t i = 1; i <= total; ++i) {
    if (i <= total / 2 && paced)
      paced = spin_until([&] { return within_reach(i); });
    auto r = live->append(make_frame(i));
    dropped += r.dropped;
    disconnected += r.disconnected;
  }
  producing = false;
  churn.join();
  uint64_t consumer_overflows = 0;
  uint64_t consumer_missed = 0;
  for (auto& c : consumers)
    for (auto& [id, box] : c.boxes)
      if (!box->close(close_reason::shutdown))
        ++consumer_overflows;
  for (auto& c : consumers)
    c.thread.join();

  EXPECT_TRUE(paced);
  EXPECT_GT(churned, 0u);
  EXPECT_TRUE(churn_exact);
  for (auto& c : consumers) {
    EXPECT_FALSE(c.lost_wake);
    for (auto& [id, r] : c.seen) {
      SCOPED_TRACE("mailbox " + std::to_string(id));
      EXPECT_TRUE(r.exact);
      EXPECT_GE(r.received, total / 2); // nothing lost while paced
      consumer_missed += r.missed;
      if (policy == overflow_policy::drop_oldest) {
        EXPECT_EQ(r.closed, close_reason::shutdown);
        EXPECT_EQ(r.received + r.missed, total);
        EXPECT_EQ(r.last, total);
      } else {
        EXPECT_EQ(r.missed, 0u);
        EXPECT_EQ(r.last, r.received);
        EXPECT_TRUE(r.closed == close_reason::shutdown ||
                    r.closed == close_reason::overflow);
        if (r.closed == close_reason::shutdown) {
          EXPECT_EQ(r.received, total);
        }
      }
    }
  }
  if (policy == overflow_policy::drop_oldest) {
    EXPECT_EQ(disconnected, 0u);
    // Churned mailboxes that did not report their skips account for the rest.
    EXPECT_GE(dropped, consumer_missed);
  } else {
    EXPECT_EQ(dropped, 0u);
    EXPECT_GE(disconnected, consumer_overflows + churn_overflows);
    EXPECT_LE(disconnected,
              consumer_overflows + churn_overflows + destroyed_linked);
  }

  // Every mailbox is gone but one new reader: each append past its capacity
  // must skip (or close) exactly that one.
  mailbox check{std::weak_ptr<wake_target>{}, 1};
  check.follow(live);
  uint64_t lost = 0;
  for (uint64_t i = 0; i < 3 * capacity; ++i) {
    auto r = live->append(make_frame(total + 1 + i));
    lost += r.dropped + r.disconnected;
    EXPECT_LE(r.dropped + r.disconnected, 1u) << "append " << i;
  }
  if (policy == overflow_policy::drop_oldest) {
    EXPECT_EQ(lost, 2 * capacity);
    auto b = check.take(1000);
    EXPECT_EQ(b.missed, 2 * capacity);
    EXPECT_EQ(b.frames.size(), capacity);
  } else {
    EXPECT_EQ(lost, 1u);
    EXPECT_EQ(check.reason(), close_reason::overflow);
  }
}

TEST(MailboxStress, ManyReadersAndChurnUnderDropOldest) {
  churn_stress(overflow_policy::drop_oldest);
}

TEST(MailboxStress, ManyReadersAndChurnUnderDisconnect) {
  churn_stress(overflow_policy::disconnect);
}
