// The request bridge's deadlines, on CAF's test_coordinator: actors run only
// inside `sched.run()`, and time moves only when the test moves it.

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <vector>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "http/bridge.hpp"

namespace {

using namespace eventcast;
using namespace std::chrono_literals;

/// Counts how often it was told it is overdue.
struct probe_answer : http::pending_answer {
  int expired = 0;
  void expire() override { ++expired; }
};

caf::actor_system_config& deterministic(caf::actor_system_config& cfg) {
  cfg.set("scheduler.policy", caf::atom("testing"));
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  return cfg;
}

class RequestBridge : public ::testing::Test {
protected:
  RequestBridge()
    : sys(deterministic(cfg)),
      sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())),
      bridge(sys, 1, 1000ms) {
  }

  ~RequestBridge() override {
    bridge.stop();
    sched.run();
  }

  /// Runs a job that leaves `answer` unanswered.
  void owe(const std::shared_ptr<probe_answer>& answer) {
    bridge.run([](caf::event_based_actor*) {}, answer);
    sched.run();
  }

  void elapse(caf::timespan total) {
    for (caf::timespan t{0}; t < total; t += 10ms) {
      sched.clock().advance_time(10ms);
      sched.run();
    }
  }

  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  http::request_bridge bridge;
};

TEST_F(RequestBridge, UnansweredAnswerExpiresAfterTheTimeout) {
  auto answer = std::make_shared<probe_answer>();
  owe(answer);
  elapse(900ms);
  EXPECT_EQ(answer->expired, 0) << "expired before its timeout";
  elapse(400ms);
  EXPECT_EQ(answer->expired, 1);
  elapse(5s);
  EXPECT_EQ(answer->expired, 1) << "expired twice";
}

TEST_F(RequestBridge, AnswerGoneBeforeItsDeadlineIsSkipped) {
  auto kept = std::make_shared<probe_answer>();
  auto answered = std::make_shared<probe_answer>();
  std::weak_ptr<probe_answer> watch = answered;
  owe(answered);
  owe(kept);
  answered.reset(); // answered: its responder went away
  elapse(2s);
  EXPECT_TRUE(watch.expired());
  EXPECT_EQ(kept->expired, 1);
}

TEST_F(RequestBridge, LaterAnswersExpireLater) {
  auto first = std::make_shared<probe_answer>();
  auto second = std::make_shared<probe_answer>();
  owe(first);
  elapse(600ms);
  owe(second);
  elapse(600ms);
  EXPECT_EQ(first->expired, 1);
  EXPECT_EQ(second->expired, 0);
  elapse(600ms);
  EXPECT_EQ(second->expired, 1);
}

TEST_F(RequestBridge, JobWithoutAnswerRunsWithoutDeadline) {
  bool ran = false;
  bridge.run([&](caf::event_based_actor*) { ran = true; });
  sched.run();
  EXPECT_TRUE(ran);
  EXPECT_FALSE(sched.has_pending_timeout());
}

} // namespace
