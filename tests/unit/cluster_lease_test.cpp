// Leases and desired generator states in JetStream's KV store, against one
// real nats-server.

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "cluster/desired_state.hpp"
#include "cluster/lease.hpp"
#include "cluster/testing/nats_server.hpp"
#include "tests/unit/cluster_fixture.hpp"

using namespace eventcast::cluster;
using namespace eventcast::cluster::testing;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr auto wait_limit = 10s;
constexpr auto ttl = 2000ms;

class ClusterLease : public single_nats_server<ClusterLease> {
protected:
  static jetstream_link connect(std::string node) {
    link_config cfg;
    cfg.urls = {server_->url()};
    cfg.node_name = std::move(node);
    auto link = jetstream_link::connect(cfg);
    EXPECT_TRUE(link) << link.error().message;
    EXPECT_TRUE(wait_until([&] { return link->connected(); }, wait_limit));
    return std::move(*link);
  }

  // One bucket per test, so TTLs and leftovers do not leak between tests.
  static lease open_lease(jetstream_link& link) {
    lease_config cfg;
    cfg.bucket = "leases-" + test_name();
    cfg.ttl = ttl;
    auto l = lease::open(link, "events.system", cfg);
    EXPECT_TRUE(l) << l.error().message;
    return std::move(*l);
  }

};


// When a keeper reported what, on its own thread.
struct changes {
  std::mutex mtx;
  std::vector<std::pair<bool, clock_type::time_point>> seen;

  lease_keeper::change_handler handler() {
    return [this](bool held) {
      std::lock_guard<std::mutex> guard{mtx};
      seen.emplace_back(held, clock_type::now());
    };
  }
  std::optional<clock_type::time_point> when(bool held) {
    std::lock_guard<std::mutex> guard{mtx};
    for (auto& [h, t] : seen)
      if (h == held)
        return t;
    return std::nullopt;
  }
};

} // namespace

TEST_F(ClusterLease, OfTwoNodesCompetingExactlyOneHoldsIt) {
  auto node_a = connect("node-a");
  auto node_b = connect("node-b");
  auto lease_a = open_lease(node_a);
  auto lease_b = open_lease(node_b);
  expected<bool> got_a = false, got_b = false;
  std::thread ta{[&] { got_a = lease_a.try_acquire(); }};
  std::thread tb{[&] { got_b = lease_b.try_acquire(); }};
  ta.join();
  tb.join();
  ASSERT_TRUE(got_a && got_b);
  ASSERT_NE(*got_a, *got_b) << "exactly one must win";
  auto& winner = *got_a ? lease_a : lease_b;
  auto& loser = *got_a ? lease_b : lease_a;
  auto winner_name = *got_a ? "node-a" : "node-b";
  EXPECT_TRUE(winner.held());
  EXPECT_FALSE(loser.held());
  EXPECT_EQ(*loser.holder(), winner_name);
  EXPECT_FALSE(*loser.try_acquire());
  auto before = winner.revision();
  EXPECT_TRUE(*winner.renew());
  EXPECT_GT(winner.revision(), before);
  ASSERT_TRUE(winner.release());
  EXPECT_FALSE(winner.held());
  EXPECT_TRUE(*loser.try_acquire()); // at once: no need to wait for the TTL
  EXPECT_FALSE(*winner.renew());
}

TEST_F(ClusterLease, ALostHoldersLeaseExpiresAndAnotherNodeTakesIt) {
  auto node_a = connect("node-a");
  auto node_b = connect("node-b");
  auto lease_a = open_lease(node_a);
  auto lease_b = open_lease(node_b);
  ASSERT_TRUE(*lease_a.try_acquire());
  EXPECT_EQ(lease_a.ttl(), ttl);
  node_a.close(); // node a dies without releasing
  auto died = clock_type::now();
  ASSERT_TRUE(wait_until([&] { return *lease_b.try_acquire(); }, wait_limit));
  auto took = clock_type::now() - died;
  EXPECT_GE(took, ttl - 100ms); // not before the TTL (minus timing slack)
  EXPECT_LE(took, ttl + 1000ms);
  EXPECT_FALSE(lease_a.held()); // a trusts it for 3/4 TTL only
}

TEST_F(ClusterLease, KeepersHandTheLeaseOverWithoutOverlap) {
  auto node_a = std::make_unique<jetstream_link>(connect("node-a"));
  auto node_b = connect("node-b");
  changes on_a, on_b;
  lease_keeper keeper_a{open_lease(*node_a), on_a.handler()};
  ASSERT_TRUE(wait_until([&] { return keeper_a.held(); }, wait_limit));
  lease_keeper keeper_b{open_lease(node_b), on_b.handler()};
  std::this_thread::sleep_for(ttl); // b must stay out while a renews
  EXPECT_TRUE(keeper_a.held());
  EXPECT_FALSE(keeper_b.held());

  node_a->close(); // a's node dies; its keeper runs on, unable to renew
  auto died = clock_type::now();
  ASSERT_TRUE(wait_until([&] { return keeper_b.held(); }, wait_limit));
  auto a_lost = on_a.when(false);
  auto b_got = on_b.when(true);
  ASSERT_TRUE(a_lost && b_got);
  EXPECT_LT(*a_lost, *b_got) << "a must give up before b takes over";
  EXPECT_LE(*b_got - died, ttl + 1000ms);
  keeper_a.stop(false);
  keeper_b.stop(true);
  EXPECT_FALSE(keeper_b.held());
}

TEST_F(ClusterLease, DesiredStatesAreSharedAndWatched) {
  auto node_a = connect("node-a");
  auto node_b = connect("node-b");
  desired_state_config cfg;
  cfg.bucket = "desired-" + test_name();
  auto store_a = desired_state_store::open(node_a, cfg);
  auto store_b = desired_state_store::open(node_b, cfg);
  ASSERT_TRUE(store_a && store_b);
  auto nothing = store_b->get("events", "system");
  ASSERT_TRUE(nothing) << nothing.error().message;
  EXPECT_FALSE(nothing->state);
  EXPECT_EQ(nothing->revision, 0u);
  auto first = store_a->put_if("events", "system", generator_state::running, 0);
  ASSERT_TRUE(first && *first);
  auto seen = store_b->get("events", "system");
  ASSERT_TRUE(seen) << seen.error().message;
  EXPECT_EQ(seen->state, generator_state::running);
  EXPECT_EQ(seen->revision, **first);
  auto stale = store_b->put_if("events", "system", generator_state::stopped, 0);
  ASSERT_TRUE(stale) << stale.error().message;
  EXPECT_FALSE(*stale) << "a write decided on an old value must lose";

  std::mutex mtx;
  std::vector<std::optional<generator_state>> watched;
  auto watch = store_b->watch(
    [&](const std::string& service, const std::string& stream_id,
        std::optional<generator_state> state) {
      EXPECT_EQ(service, "events");
      EXPECT_EQ(stream_id, "system");
      std::lock_guard<std::mutex> guard{mtx};
      watched.push_back(state);
    });
  ASSERT_TRUE(watch) << watch.error().message;
  auto count = [&] {
    std::lock_guard<std::mutex> guard{mtx};
    return watched.size();
  };
  ASSERT_TRUE(wait_until([&] { return count() == 1; }, wait_limit));
  ASSERT_TRUE(store_a->put_if("events", "system", generator_state::paused,
                              **first));
  ASSERT_TRUE(wait_until([&] { return count() == 2; }, wait_limit));
  ASSERT_TRUE(store_a->erase("events", "system"));
  ASSERT_TRUE(wait_until([&] { return count() == 3; }, wait_limit));
  watch->stop();
  std::lock_guard<std::mutex> guard{mtx};
  EXPECT_EQ(watched[0], generator_state::running);
  EXPECT_EQ(watched[1], generator_state::paused);
  EXPECT_EQ(watched[2], std::nullopt);
}
