#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "core/deadlines.hpp"

namespace {

using eventcast::deadline_fifo;

struct DeadlineFifo : ::testing::Test {
  deadline_fifo<int, int> fifo; // time points and items as plain numbers
  std::set<int> answered;
  std::vector<int> expired;

  void pop_due(int now) {
    fifo.pop_due(
      now, [&](int item) { return answered.count(item) > 0; },
      [&](int item) { expired.push_back(item); });
  }
};

TEST_F(DeadlineFifo, ExpiresWhatIsDueInOrderAndKeepsTheRest) {
  fifo.add(10, 1);
  fifo.add(20, 2);
  fifo.add(30, 3);
  pop_due(9);
  EXPECT_TRUE(expired.empty()) << "expired before its deadline";
  pop_due(20);
  EXPECT_EQ(expired, (std::vector<int>{1, 2}));
  pop_due(29);
  EXPECT_EQ(expired.size(), 2u);
  pop_due(30);
  EXPECT_EQ(expired, (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(fifo.empty());
}

TEST_F(DeadlineFifo, AnsweredItemsLeaveWithoutExpiringEvenBeforeTheirDeadline) {
  fifo.add(10, 1);
  fifo.add(20, 2);
  fifo.add(30, 3);
  answered = {1, 2};
  pop_due(5);
  EXPECT_TRUE(expired.empty());
  EXPECT_FALSE(fifo.empty()) << "3 is neither answered nor due";
  pop_due(30);
  EXPECT_EQ(expired, (std::vector<int>{3}));
  EXPECT_TRUE(fifo.empty());
}

TEST_F(DeadlineFifo, AnUnansweredItemNotDueHoldsBackAnsweredOnesBehindIt) {
  fifo.add(10, 1);
  fifo.add(20, 2);
  answered = {2};
  pop_due(5);
  EXPECT_FALSE(fifo.empty());
  answered.insert(1);
  pop_due(5);
  EXPECT_TRUE(fifo.empty());
  EXPECT_TRUE(expired.empty());
}

} // namespace
