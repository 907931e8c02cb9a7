// jetstream_link against one real nats-server on a loopback port.

#include <gtest/gtest.h>
#include <nats/nats.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <numeric>
#include <thread>

#include "cluster/jetstream_link.hpp"
#include "cluster/testing/nats_server.hpp"
#include "tests/unit/cluster_fixture.hpp"

using namespace eventcast::cluster;
using namespace eventcast::cluster::testing;

namespace {

constexpr auto wait_limit = 10s;

// Collects what a subscription delivers (on NATS's delivery thread).
struct recorder {
  std::mutex mtx;
  std::vector<message> got;

  message_handler handler() {
    return [this](uint64_t seq, std::string_view payload) {
      std::lock_guard<std::mutex> guard{mtx};
      got.push_back({seq, std::string{payload}});
    };
  }
  std::vector<message> snapshot() {
    std::lock_guard<std::mutex> guard{mtx};
    return got;
  }
  size_t size() { return snapshot().size(); }
  std::vector<uint64_t> seqs() {
    std::vector<uint64_t> out;
    for (auto& m : snapshot())
      out.push_back(m.seq);
    return out;
  }
};

std::vector<uint64_t> range(uint64_t first, uint64_t last) {
  std::vector<uint64_t> out(last - first + 1);
  std::iota(out.begin(), out.end(), first);
  return out;
}

class ClusterLink : public single_nats_server<ClusterLink> {
protected:
  static link_config config(std::string node) {
    link_config cfg;
    cfg.urls = {server_->url()};
    cfg.node_name = std::move(node);
    cfg.heartbeat = 500ms;
    return cfg;
  }

  static jetstream_link connect(std::string node,
                                link_config cfg = config("")) {
    cfg.node_name = std::move(node);
    auto link = jetstream_link::connect(cfg);
    EXPECT_TRUE(link) << link.error().message;
    EXPECT_TRUE(wait_until([&] { return link->connected(); }, wait_limit));
    return std::move(*link);
  }

};


} // namespace

TEST_F(ClusterLink, PublishReturnsConsecutiveSequencesPerEventcastStream) {
  auto link = connect("a");
  auto a = test_name() + "-a";
  auto b = test_name() + "-b";
  std::vector<uint64_t> seqs_a, seqs_b;
  for (int i = 0; i < 5; ++i) {
    auto sa = link.publish("events", a, "a" + std::to_string(i));
    ASSERT_TRUE(sa) << sa.error().message;
    seqs_a.push_back(*sa);
    if (i < 3) {
      auto sb = link.publish("events", b, "b" + std::to_string(i));
      ASSERT_TRUE(sb) << sb.error().message;
      seqs_b.push_back(*sb);
    }
  }
  EXPECT_EQ(seqs_a, range(1, 5));
  EXPECT_EQ(seqs_b, range(1, 3));
  auto st = link.state("events", a);
  ASSERT_TRUE(st) << st.error().message;
  EXPECT_EQ(st->first_seq, 1u);
  EXPECT_EQ(st->last_seq, 5u);
}

TEST_F(ClusterLink, TwoNodesSeeTheSameEventsInTheSameOrder) {
  auto node_a = connect("a");
  auto node_b = connect("b");
  auto id = test_name();
  ASSERT_TRUE(node_a.ensure_stream("events", id));
  recorder on_a, on_b;
  auto sub_a = node_a.subscribe("events", id, 0, on_a.handler());
  auto sub_b = node_b.subscribe("events", id, 0, on_b.handler());
  ASSERT_TRUE(sub_a && sub_b);
  std::vector<uint64_t> acked;
  std::mutex acked_mtx;
  auto publish_from = [&](jetstream_link& node, std::string prefix) {
    for (int i = 0; i < 20; ++i) {
      auto seq = node.publish("events", id, prefix + std::to_string(i));
      ASSERT_TRUE(seq) << seq.error().message;
      std::lock_guard<std::mutex> guard{acked_mtx};
      acked.push_back(*seq);
    }
  };
  std::thread ta{publish_from, std::ref(node_a), "a"};
  std::thread tb{publish_from, std::ref(node_b), "b"};
  ta.join();
  tb.join();
  std::sort(acked.begin(), acked.end());
  EXPECT_EQ(acked, range(1, 40));
  ASSERT_TRUE(wait_until(
    [&] { return on_a.size() >= 40 && on_b.size() >= 40; }, wait_limit));
  EXPECT_EQ(on_a.seqs(), range(1, 40));
  auto got_a = on_a.snapshot();
  auto got_b = on_b.snapshot();
  ASSERT_EQ(got_a.size(), got_b.size());
  for (size_t i = 0; i < got_a.size(); ++i) {
    EXPECT_EQ(got_a[i].seq, got_b[i].seq);
    EXPECT_EQ(got_a[i].payload, got_b[i].payload);
  }
}

TEST_F(ClusterLink, SubscribeFromAStartSequenceDeliversExactlyTheRest) {
  auto link = connect("a");
  auto id = test_name();
  for (int i = 1; i <= 10; ++i)
    ASSERT_TRUE(link.publish("events", id, "e" + std::to_string(i)));
  recorder got;
  auto sub = link.subscribe("events", id, 6, got.handler());
  ASSERT_TRUE(sub);
  ASSERT_TRUE(wait_until([&] { return got.size() >= 4; }, wait_limit));
  ASSERT_TRUE(link.publish("events", id, "e11"));
  ASSERT_TRUE(link.publish("events", id, "e12"));
  ASSERT_TRUE(wait_until([&] { return got.size() >= 6; }, wait_limit));
  EXPECT_EQ(got.seqs(), range(7, 12));
  EXPECT_EQ(got.snapshot().front().payload, "e7");
  EXPECT_EQ(sub->last_seq(), 12u);
}

TEST_F(ClusterLink, NoDeliveryAfterUnsubscribe) {
  auto link = connect("a");
  auto id = test_name();
  recorder got;
  auto sub = link.subscribe("events", id, 0, got.handler());
  ASSERT_TRUE(sub && sub->consuming());
  ASSERT_TRUE(link.publish("events", id, "one"));
  ASSERT_TRUE(wait_until([&] { return got.size() == 1; }, wait_limit));
  sub->unsubscribe();
  ASSERT_TRUE(link.publish("events", id, "two"));
  std::this_thread::sleep_for(200ms); // nothing to wait for: it must not come
  EXPECT_EQ(got.size(), 1u);
}

TEST_F(ClusterLink, FetchRangeReturnsWhatJetStreamHolds) {
  auto link = connect("a");
  auto id = test_name();
  for (int i = 1; i <= 10; ++i)
    ASSERT_TRUE(link.publish("events", id, "e" + std::to_string(i)));
  auto mid = link.fetch_range("events", id, 3, 7);
  ASSERT_TRUE(mid) << mid.error().message;
  ASSERT_EQ(mid->size(), 5u);
  EXPECT_EQ(mid->front().seq, 3u);
  EXPECT_EQ(mid->front().payload, "e3");
  EXPECT_EQ(mid->back().seq, 7u);
  auto tail = link.fetch_range("events", id, 8, 1000);
  ASSERT_TRUE(tail);
  EXPECT_EQ(tail->size(), 3u);
  auto head = link.fetch_range("events", id, 0, 2);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->size(), 2u);
  auto capped = link.fetch_range("events", id, 1, 10, 4);
  ASSERT_TRUE(capped);
  EXPECT_EQ(capped->back().seq, 4u);
  auto beyond = link.fetch_range("events", id, 11, 20);
  ASSERT_TRUE(beyond);
  EXPECT_TRUE(beyond->empty());
}

TEST_F(ClusterLink, RetentionKeepsTheLastEventsAndTheirIds) {
  auto cfg = config("");
  cfg.streams.max_msgs = 5;
  auto link = connect("a", cfg);
  auto id = test_name();
  for (int i = 1; i <= 8; ++i)
    ASSERT_TRUE(link.publish("events", id, "e" + std::to_string(i)));
  auto st = link.state("events", id);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->first_seq, 4u);
  EXPECT_EQ(st->last_seq, 8u);
  EXPECT_EQ(st->messages, 5u);
  auto all = link.fetch_range("events", id, 1, 8);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 5u);
  EXPECT_EQ(all->front().seq, 4u);
  EXPECT_EQ(all->front().payload, "e4");
}

TEST_F(ClusterLink, ARetriedPublishWithTheSameMsgIdKeepsItsSequence) {
  auto link = connect("a");
  auto id = test_name();
  auto first = link.publish("events", id, "x", "evt_1");
  auto retry = link.publish("events", id, "x", "evt_1");
  auto other = link.publish("events", id, "y", "evt_2");
  ASSERT_TRUE(first && retry && other);
  EXPECT_EQ(*first, 1u);
  EXPECT_EQ(*retry, 1u);
  EXPECT_EQ(*other, 2u);
}

TEST_F(ClusterLink, StateOfAStreamNeverCreatedIsNotFound) {
  auto link = connect("a");
  auto st = link.state("events", test_name());
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, eventcast::error_code::stream_not_found);
}

TEST_F(ClusterLink, ConnectingToNothingFailsFastAndConnectsLater) {
  auto cfg = config("a");
  auto port = free_port();
  cfg.urls = {"nats://127.0.0.1:" + std::to_string(port)};
  std::atomic<int> connected{0};
  auto link = jetstream_link::connect(cfg, [&](connection_state s) {
    if (s == connection_state::connected)
      ++connected;
  });
  ASSERT_TRUE(link) << link.error().message;
  EXPECT_FALSE(link->connected());
  auto started = std::chrono::steady_clock::now();
  auto seq = link->publish("events", test_name(), "x");
  ASSERT_FALSE(seq);
  EXPECT_EQ(seq.error().code, eventcast::error_code::unavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 100ms);
  nats_server late{bin_, dir_->path(), "late", port};
  ASSERT_TRUE(late.start()) << late.log();
  EXPECT_TRUE(wait_until([&] { return connected == 1; }, wait_limit));
  EXPECT_TRUE(link->publish("events", test_name(), "x"));
}

TEST_F(ClusterLink, AHandlerMayUnsubscribeItself) {
  auto link = connect("a");
  auto id = test_name();
  for (int i = 1; i <= 5; ++i)
    ASSERT_TRUE(link.publish("events", id, "e" + std::to_string(i)));
  std::atomic<int> calls{0};
  std::atomic<subscription*> self{nullptr};
  auto made = link.subscribe("events", id, 0, [&](uint64_t, std::string_view) {
    if (++calls == 2 && wait_until([&] { return self != nullptr; }, 1s))
      self.load()->unsubscribe();
  });
  ASSERT_TRUE(made);
  self = &*made;
  ASSERT_TRUE(wait_until([&] { return calls >= 2; }, wait_limit));
  std::this_thread::sleep_for(200ms); // nothing to wait for: no third call
  EXPECT_EQ(calls, 2);
}

TEST_F(ClusterLink, AStreamDeletedBehindOurBackIsCreatedAgain) {
  auto link = connect("a");
  auto id = test_name();
  recorder got;
  auto sub = link.subscribe("events", id, 0, got.handler());
  ASSERT_TRUE(sub);
  ASSERT_EQ(*link.publish("events", id, "before"), 1u);
  { // an operator deletes the stream with another client
    natsConnection* nc = nullptr;
    ASSERT_EQ(natsConnection_ConnectTo(&nc, server_->url().c_str()), NATS_OK);
    jsCtx* js = nullptr;
    ASSERT_EQ(natsConnection_JetStream(&js, nc, nullptr), NATS_OK);
    EXPECT_EQ(js_DeleteStream(js, names_for("events", id).stream.c_str(),
                              nullptr, nullptr),
              NATS_OK);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
  }
  // The publish finds no stream, creates it again and stores the event.
  auto seq = link.publish("events", id, "after");
  ASSERT_TRUE(seq) << seq.error().message;
  EXPECT_EQ(*seq, 1u); // a new stream: its ids start again
}
