#pragma once

// A test suite with one nats-server of its own, started once for the suite
// and killed by pid at its end. `Suite` keeps the statics per suite.

#include <gtest/gtest.h>

#include <string>

#include "cluster/testing/nats_server.hpp"

namespace eventcast::cluster::testing {

inline std::string test_name() {
  return ::testing::UnitTest::GetInstance()->current_test_info()->name();
}

template <class Suite>
class single_nats_server : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    bin_ = find_nats_server();
    if (bin_.empty())
      return;
    dir_ = new temp_dir;
    server_ = new nats_server(bin_, dir_->path(), "n1", free_port());
    server_->start();
  }

  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
    server_ = nullptr;
    dir_ = nullptr;
  }

  void SetUp() override {
    ASSERT_FALSE(bin_.empty()) << missing_nats_server_message();
    ASSERT_TRUE(server_->running()) << server_->log();
  }

  static inline std::string bin_;
  static inline temp_dir* dir_ = nullptr;
  static inline nats_server* server_ = nullptr;
};

} // namespace eventcast::cluster::testing
