#include <gtest/gtest.h>

#include "core/mailbox.hpp"
#include "core/wake.hpp"

namespace {

using namespace eventcast;

struct recorder : wake_target {
  std::vector<std::vector<uint64_t>> calls;
  void wake(const std::vector<uint64_t>& ids) override {
    calls.push_back(ids);
  }
};

frame make_frame() {
  return std::make_shared<const std::string>("data: x\n\n");
}

TEST(WakeBatch, WithoutABatchEachMailboxWakesAtOnce) {
  auto target = std::make_shared<recorder>();
  mailbox a{10, overflow_policy::disconnect, target, 1};
  mailbox b{10, overflow_policy::disconnect, target, 2};
  a.push(make_frame());
  b.push(make_frame());
  EXPECT_EQ(target->calls,
            (std::vector<std::vector<uint64_t>>{{1}, {2}}));
}

TEST(WakeBatch, AFanOutWakesEachTargetOnceWithAllIds) {
  auto first = std::make_shared<recorder>();
  auto second = std::make_shared<recorder>();
  mailbox a{10, overflow_policy::disconnect, first, 1};
  mailbox b{10, overflow_policy::disconnect, first, 2};
  mailbox c{10, overflow_policy::disconnect, second, 3};
  {
    wake_batch batch;
    {
      wake_batch nested; // the outermost batch delivers
      a.push(make_frame());
    }
    b.push(make_frame());
    c.push(make_frame());
    a.push(make_frame()); // already told: no second wake
    EXPECT_TRUE(first->calls.empty());
  }
  EXPECT_EQ(first->calls, (std::vector<std::vector<uint64_t>>{{1, 2}}));
  EXPECT_EQ(second->calls, (std::vector<std::vector<uint64_t>>{{3}}));
}

TEST(WakeBatch, AGoneTargetIsNotWoken) {
  auto target = std::make_shared<recorder>();
  mailbox a{10, overflow_policy::disconnect, target, 1};
  target.reset();
  EXPECT_EQ(a.push(make_frame()), mailbox::push_result::queued);
}

} // namespace
