// A NATS outage: publishes fail within the timeout and never falsely succeed;
// after the restart publishing resumes and subscribers continue without gap.

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <numeric>

#include "cluster/jetstream_link.hpp"
#include "cluster/testing/nats_server.hpp"

using namespace eventcast::cluster;
using namespace eventcast::cluster::testing;

namespace {

constexpr auto wait_limit = 10s;
constexpr auto publish_timeout = 1000ms;

struct recorder {
  std::mutex mtx;
  std::vector<uint64_t> seqs;
  std::vector<std::string> payloads;

  message_handler handler() {
    return [this](uint64_t seq, std::string_view payload) {
      std::lock_guard<std::mutex> guard{mtx};
      seqs.push_back(seq);
      payloads.emplace_back(payload);
    };
  }
  std::vector<uint64_t> snapshot() {
    std::lock_guard<std::mutex> guard{mtx};
    return seqs;
  }
};

// Counts the connection changes one link reports.
struct states {
  std::atomic<int> disconnected{0};
  std::atomic<int> reconnected{0};

  state_handler handler() {
    return [this](connection_state s) {
      if (s == connection_state::disconnected)
        ++disconnected;
      else if (s == connection_state::reconnected)
        ++reconnected;
    };
  }
};

std::vector<uint64_t> range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> out(last - first + 1);
  std::iota(out.begin(), out.end(), first);
  return out;
}

link_config config(const nats_server& server, std::string node) {
  link_config cfg;
  cfg.urls = {server.url()};
  cfg.node_name = std::move(node);
  cfg.timeout = publish_timeout;
  cfg.reconnect_wait = 100ms;
  cfg.heartbeat = 250ms;
  cfg.retry_interval = 100ms;
  return cfg;
}

// Publishes until JetStream takes it again (it recovers its streams after
// the restart) or the limit passes.
expected<uint64_t> publish_when_back(jetstream_link& link, std::string id,
                                     std::string payload) {
  expected<uint64_t> seq = error{};
  auto published = [&] {
    seq = link.publish("events", id, payload);
    return static_cast<bool>(seq);
  };
  wait_until(published, wait_limit);
  return seq;
}

} // namespace

TEST(ClusterOutage, PublishFailsWhileNatsIsDownAndEverythingResumesAfter) {
  auto bin = find_nats_server();
  ASSERT_FALSE(bin.empty()) << missing_nats_server_message();
  temp_dir dir;
  nats_server server{bin, dir.path(), "n1", free_port()};
  ASSERT_TRUE(server.start()) << server.log();
  states pub_states, sub_states;
  auto publisher = jetstream_link::connect(config(server, "pub"),
                                           pub_states.handler());
  auto subscriber = jetstream_link::connect(config(server, "sub"),
                                            sub_states.handler());
  ASSERT_TRUE(publisher && subscriber);
  const std::string id = "outage";
  for (int i = 1; i <= 5; ++i)
    ASSERT_EQ(*publisher->publish("events", id, "e" + std::to_string(i)),
              uint64_t(i));
  recorder got;
  auto sub = subscriber->subscribe("events", id, 0, got.handler());
  ASSERT_TRUE(sub);
  ASSERT_TRUE(wait_until([&] { return got.snapshot().size() == 5; },
                         wait_limit));

  server.stop();
  // Right away, before the client may have noticed: an error, in time.
  auto started = std::chrono::steady_clock::now();
  auto during = publisher->publish("events", id, "lost?");
  EXPECT_FALSE(during);
  EXPECT_LT(std::chrono::steady_clock::now() - started,
            publish_timeout + 500ms);
  ASSERT_TRUE(wait_until([&] { return pub_states.disconnected > 0; },
                         wait_limit));
  // Once it has: an error at once.
  started = std::chrono::steady_clock::now();
  during = publisher->publish("events", id, "lost?");
  ASSERT_FALSE(during);
  EXPECT_EQ(during.error().code, eventcast::error_code::unavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 100ms);
  // A subscription made during the outage starts once NATS is back.
  recorder late;
  auto late_sub = subscriber->subscribe("events", id, 3, late.handler());
  ASSERT_TRUE(late_sub);
  EXPECT_FALSE(late_sub->consuming());

  ASSERT_TRUE(server.start()) << server.log();
  ASSERT_TRUE(wait_until([&] { return pub_states.reconnected > 0; },
                         wait_limit));
  auto seq = publish_when_back(*publisher, id, "e6");
  ASSERT_TRUE(seq) << seq.error().message;
  EXPECT_EQ(*seq, 6u); // nothing published during the outage was stored
  ASSERT_EQ(*publisher->publish("events", id, "e7"), 7u);
  ASSERT_EQ(*publisher->publish("events", id, "e8"), 8u);
  ASSERT_TRUE(wait_until([&] { return got.snapshot().size() >= 8; },
                         wait_limit));
  ASSERT_TRUE(wait_until([&] { return late.snapshot().size() >= 5; },
                         wait_limit));
  EXPECT_EQ(got.snapshot(), range(1, 8));
  EXPECT_EQ(late.snapshot(), range(4, 8));
  EXPECT_EQ(got.payloads.back(), "e8");
  EXPECT_GE(sub->consumers_created(), 2u); // it really was recreated
}
