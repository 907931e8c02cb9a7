// A 3-server JetStream cluster, streams with 3 replicas: kill -9 the stream's
// leader while publishing; every acknowledged event must still be there, in
// place, and a subscriber on another node must see them all without gap.

#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "cluster/jetstream_link.hpp"
#include "cluster/testing/nats_server.hpp"

using namespace eventcast::cluster;
using namespace eventcast::cluster::testing;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr auto wait_limit = 30s; // elections: 5 s typical, 18 s seen

link_config config(nats_cluster& cluster, std::string node) {
  link_config cfg;
  cfg.urls = cluster.urls();
  cfg.node_name = std::move(node);
  cfg.timeout = 2000ms;
  cfg.reconnect_wait = 100ms;
  cfg.heartbeat = 500ms;
  cfg.retry_interval = 200ms;
  cfg.streams.replicas = 3;
  return cfg;
}

long long ms(clock_type::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// Publishes e1, e2, ... until stopped; remembers what JetStream acked.
struct publisher {
  jetstream_link& link;
  std::string id;
  std::mutex mtx;
  std::map<uint64_t, std::string> acked;
  std::atomic<int> failures{0};
  std::string last_error; // guarded by mtx
  std::atomic<bool> stopping{false};
  std::thread worker;

  publisher(jetstream_link& l, std::string stream_id)
    : link(l), id(std::move(stream_id)) {
    worker = std::thread{[this] { run(); }};
  }
  ~publisher() { stop(); }

  void run() {
    for (int i = 1; !stopping; ++i) {
      auto payload = "e" + std::to_string(i);
      if (auto seq = link.publish("events", id, payload, id + payload)) {
        std::lock_guard<std::mutex> guard{mtx};
        EXPECT_TRUE(acked.emplace(*seq, payload).second) << "seq reused";
      } else {
        ++failures;
        std::lock_guard<std::mutex> guard{mtx};
        last_error = seq.error().message;
        std::this_thread::sleep_for(20ms);
      }
    }
  }
  size_t count() {
    std::lock_guard<std::mutex> guard{mtx};
    return acked.size();
  }
  void stop() {
    stopping = true;
    if (worker.joinable())
      worker.join();
  }
};

} // namespace

TEST(ClusterFailover, AcknowledgedEventsSurviveKillingTheStreamLeader) {
  auto bin = find_nats_server();
  ASSERT_FALSE(bin.empty()) << missing_nats_server_message();
  temp_dir dir;
  nats_cluster cluster{bin, dir.path()};
  ASSERT_TRUE(cluster.start()) << cluster.at(0).log();
  auto writer = jetstream_link::connect(config(cluster, "writer"));
  auto reader = jetstream_link::connect(config(cluster, "reader"));
  ASSERT_TRUE(writer && reader);
  const std::string id = "failover";
  // Until the cluster has elected its meta leader, creating streams fails.
  ASSERT_TRUE(wait_until(
    [&] { return static_cast<bool>(writer->ensure_stream("events", id)); },
    wait_limit));
  std::mutex mtx;
  std::vector<message> seen;
  auto sub = reader->subscribe("events", id, 0,
                               [&](uint64_t seq, std::string_view payload) {
                                 std::lock_guard<std::mutex> guard{mtx};
                                 seen.push_back({seq, std::string{payload}});
                               });
  ASSERT_TRUE(sub);

  publisher pub{*writer, id};
  ASSERT_TRUE(wait_until([&] { return pub.count() >= 100; }, wait_limit));
  auto st = writer->state("events", id);
  ASSERT_TRUE(st) << st.error().message;
  auto* leader = cluster.find(st->leader);
  ASSERT_NE(leader, nullptr) << "leader '" << st->leader << "'";
  auto before = pub.count();
  leader->kill(SIGKILL);
  auto killed = clock_type::now();
  ASSERT_TRUE(wait_until([&] { return pub.count() >= before + 100; },
                         wait_limit))
    << "publishing did not resume; failures: " << pub.failures
    << ", last: " << pub.last_error;
  auto resumed = clock_type::now();
  pub.stop();

  auto acked = pub.acked;
  auto last = acked.rbegin()->first;
  auto stored = writer->fetch_range("events", id, 1, last, 100000);
  ASSERT_TRUE(stored) << stored.error().message;
  std::map<uint64_t, std::string> in_stream;
  for (auto& m : *stored)
    in_stream.emplace(m.seq, m.payload);
  for (auto& [seq, payload] : acked) {
    auto i = in_stream.find(seq);
    ASSERT_NE(i, in_stream.end()) << "acked seq " << seq << " is gone";
    EXPECT_EQ(i->second, payload) << "seq " << seq;
  }
  ASSERT_TRUE(wait_until(
    [&] {
      std::lock_guard<std::mutex> guard{mtx};
      return !seen.empty() && seen.back().seq >= last;
    },
    wait_limit));
  std::lock_guard<std::mutex> guard{mtx};
  for (size_t i = 0; i < seen.size(); ++i) {
    ASSERT_EQ(seen[i].seq, i + 1) << "gap or duplicate";
    EXPECT_EQ(seen[i].payload, in_stream[seen[i].seq]);
  }
  std::cout << "[   INFO   ] " << acked.size() << " acked, " << pub.failures
            << " failed publishes (last: " << pub.last_error
            << "); publishing resumed "
            << ms(resumed - killed) << " ms after kill -9 of leader "
            << st->leader << "\n";
}
