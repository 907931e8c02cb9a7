// The embedding API against a real actor system and real actors.

#include <gtest/gtest.h>

#include <caf/all.hpp>

#include "actors/broadcaster.hpp"
#include "actors/service.hpp"

namespace {

using namespace eventcast;
using namespace std::chrono_literals;

struct Broadcaster : ::testing::Test {
  caf::actor_system_config caf_cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<broadcaster> hub;

  Broadcaster() {
    caf_cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(caf_cfg);
    service_settings svc;
    svc.name = "orders";
    svc.path = "/api/v1/orders";
    auto svc_actor = spawn_service(*sys, svc, settings{},
                                   generator_registry::with_builtin_kinds());
    hub = std::make_unique<broadcaster>(*sys, svc_actor);
  }

  ~Broadcaster() override {
    caf::anon_send_exit(hub->service(), caf::exit_reason::user_shutdown);
    sys->await_all_actors_done();
  }

  /// Receives until `n` events arrived or the deadline passes.
  static std::vector<std::string> receive_n(stream_client& c, size_t n) {
    std::vector<std::string> all;
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (all.size() < n && std::chrono::steady_clock::now() < deadline)
      for (auto& e : c.receive(100ms))
        all.push_back(std::move(e));
    return all;
  }
};

TEST_F(Broadcaster, SubscriberReceivesConnectionThenBroadcasts) {
  auto client = hub->subscribe("orders");
  ASSERT_TRUE(client) << sys->render(client.error());
  auto first = hub->broadcast("orders", {"order_created", "New order", ""});
  ASSERT_TRUE(first);
  EXPECT_EQ(first->seq, 1u);
  auto events = receive_n(**client, 2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_NE(events[0].find("\"type\":\"connection\""), std::string::npos);
  EXPECT_NE(events[1].find("\"type\":\"order_created\""), std::string::npos);
  EXPECT_NE(events[1].find(first->event_id), std::string::npos);
}

TEST_F(Broadcaster, CountsClientsAndStreams) {
  auto a = hub->subscribe("orders");
  auto b = hub->subscribe("orders");
  auto c = hub->subscribe("refunds");
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(hub->stream_count(), 2u);
  EXPECT_EQ(hub->total_clients(), 3u);
  EXPECT_EQ(hub->active_streams(),
            (std::map<std::string, uint64_t>{{"orders", 2}, {"refunds", 1}}));
  auto ids = hub->stream_clients("orders");
  std::sort(ids.begin(), ids.end());
  std::vector<uint64_t> expected{(*a)->id(), (*b)->id()};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(ids, expected);
  EXPECT_TRUE(hub->is_stream_active("refunds"));
  EXPECT_FALSE(hub->is_stream_active("never-used"));
  hub->unsubscribe(**a);
  EXPECT_EQ(hub->stream_clients("orders"), std::vector<uint64_t>{(*b)->id()});
  EXPECT_EQ(hub->total_clients(), 2u);
}

TEST_F(Broadcaster, BroadcastToAllReachesEveryStream) {
  auto a = hub->subscribe("orders");
  auto b = hub->subscribe("refunds");
  ASSERT_TRUE(a && b);
  auto reached = hub->broadcast_to_all({"maintenance", "Soon", ""});
  ASSERT_TRUE(reached);
  EXPECT_EQ(*reached, 2u);
  for (auto* client : {a->get(), b->get()}) {
    auto events = receive_n(*client, 2);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_NE(events[1].find("\"type\":\"maintenance\""), std::string::npos);
  }
}

TEST_F(Broadcaster, ErrorsComeBackAsValues) {
  auto bad = hub->stream_clients("missing");
  EXPECT_TRUE(bad.empty());
  caf::scoped_actor self{*sys};
  std::optional<error_code> code;
  self->request(hub->service(), 5s, pause_atom::value, std::string{"missing"})
    .receive([](caf::ok_atom) {},
             [&](caf::error& err) { code = view(err).code; });
  EXPECT_EQ(code, error_code::stream_not_found);
}

} // namespace
