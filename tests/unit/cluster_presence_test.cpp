// Node presence in a JetStream KV bucket, and listing a service's streams,
// against real nats-servers on loopback ports.

#include <gtest/gtest.h>

#include <atomic>

#include "cluster/presence.hpp"
#include "cluster/testing/nats_server.hpp"
#include "tests/unit/cluster_fixture.hpp"

using namespace eventcast::cluster;
using namespace eventcast::cluster::testing;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr auto wait_limit = 10s;
constexpr auto fast = 300ms; // "at once", with room for a loaded machine

link_config config(std::string url, std::string node) {
  link_config cfg;
  cfg.urls = {std::move(url)};
  cfg.node_name = std::move(node);
  cfg.timeout = 1000ms;
  cfg.reconnect_wait = 100ms;
  return cfg;
}

jetstream_link connect_link(std::string url, std::string node,
                            bool wait_connected = true) {
  auto link = jetstream_link::connect(config(std::move(url), std::move(node)));
  EXPECT_TRUE(link) << link.error().message;
  if (wait_connected) {
    EXPECT_TRUE(wait_until([&] { return link->connected(); }, wait_limit));
  }
  return std::move(*link);
}

// One bucket per test, so TTLs and leftovers do not leak between tests.
presence open_presence(jetstream_link& link, millis ttl = 6000ms) {
  presence_config cfg;
  cfg.bucket = "presence-" + test_name();
  cfg.ttl = ttl;
  auto p = presence::open(link, cfg);
  EXPECT_TRUE(p) << p.error().message;
  return std::move(*p);
}

node_report report_of(std::string node, uint64_t clients = 1) {
  return {node, "http://" + node + ":8080", 1700000000123,
          {{"events", "system", clients}, {"events", "a.b c", 0}}};
}

std::vector<std::string> names(const std::vector<node_report>& nodes) {
  std::vector<std::string> out;
  for (auto& n : nodes)
    out.push_back(n.node);
  return out;
}

// The names listed now; an error lists as "<error>".
std::vector<std::string> listed(presence& p) {
  auto nodes = p.nodes();
  return nodes ? names(*nodes) : std::vector<std::string>{"<error>"};
}

class ClusterPresence : public single_nats_server<ClusterPresence> {
protected:
  static jetstream_link connect(std::string node) {
    return connect_link(server_->url(), std::move(node));
  }
};

// Expects `call` to fail with unavailable, in no time.
template <class Call>
void expect_unavailable_at_once(const char* what, Call call) {
  auto started = clock_type::now();
  auto result = call();
  auto took = clock_type::now() - started;
  ASSERT_FALSE(result) << what;
  EXPECT_EQ(result.error().code, eventcast::error_code::unavailable) << what;
  EXPECT_LT(took, fast) << what;
}

void expect_presence_unavailable(presence& p) {
  expect_unavailable_at_once("announce",
                             [&] { return p.announce(report_of("x")); });
  expect_unavailable_at_once("nodes", [&] { return p.nodes(); });
  expect_unavailable_at_once("withdraw", [&] { return p.withdraw("x"); });
}

} // namespace

// -- the value format ---------------------------------------------------------

TEST(ClusterPresenceFormat, ReportsRoundTripWhateverTheirTexts) {
  node_report r{"node a/1.b_c", "http://10.0.0.1:8080/x?y=1 z", 1700000000123,
                {{"events", "a b\nc", 3},
                 {"svc=x", "", 0},
                 {"\xC3\xA9t\xC3\xA9", "-", UINT64_MAX}}};
  auto text = encode_node_report(r);
  EXPECT_EQ(text.rfind("eventcast-node 1\n", 0), 0u) << text;
  EXPECT_EQ(decode_node_report(text), r);
  node_report bare{"n", "", -1, {}};
  EXPECT_EQ(decode_node_report(encode_node_report(bare)), bare);
}

TEST(ClusterPresenceFormat, ValuesThatAreNotReportsAreRejected) {
  const std::string fields = "node n\nurl u\nstarted 1\n";
  for (std::string text : {
         std::string{}, std::string{"garbage"},
         std::string{"eventcast-node 1\n"},
         "eventcast-node 2\n" + fields, // another format
         "eventcast-node 1\n" + fields + "stream s i\n",
         "eventcast-node 1\n" + fields + "stream s i -1\n",
         std::string{"eventcast-node 1\nurl u\nstarted 1\n"}, // no node
         std::string{"eventcast-node 1\nnode \nurl u\nstarted 1\n"},
         std::string{"eventcast-node 1\nnode n\nstarted 1\n"}, // no url
         std::string{"eventcast-node 1\nnode n\nurl u\nstarted 1x\n"},
         std::string{"eventcast-node 1\nnode n\nurl u\nstarted\n"},
         std::string{"eventcast-node 1\nnode n.x\nurl u\nstarted 1\n"}})
    EXPECT_FALSE(decode_node_report(text)) << text;
  EXPECT_TRUE(decode_node_report("eventcast-node 1\n" + fields));
}

TEST(ClusterPresenceFormat, FieldsOfNewerVersionsAreSkipped) {
  auto r = report_of("node-a");
  EXPECT_EQ(decode_node_report(encode_node_report(r) + "zone eu 1\n"), r);
}

TEST(ClusterPresenceFormat, KeysNamesAndSubjectsMapBack) {
  EXPECT_EQ(node_key("node a.1"), "node=20a=2E1");
  auto n = names_for("ev.ents", "a.b_c d");
  using ids = std::pair<std::string, std::string>;
  EXPECT_EQ(parse_stream_name(n.stream), (ids{"ev.ents", "a.b_c d"}));
  EXPECT_EQ(parse_stream_subject(n.subject), (ids{"ev.ents", "a.b_c d"}));
  EXPECT_EQ(service_subjects("ev.ents"), "ec.ev=2Eents.*");
  auto hashed = names_for("events", std::string(250, 'x'));
  EXPECT_FALSE(parse_stream_name(hashed.stream)) << hashed.stream;
  EXPECT_EQ(parse_stream_subject(hashed.subject),
            (ids{"events", std::string(250, 'x')}));
  EXPECT_FALSE(parse_stream_name("KV_eventcast_nodes"));
  EXPECT_FALSE(parse_stream_subject("$KV.eventcast_nodes.n"));
}

// -- presence against one server ----------------------------------------------

TEST_F(ClusterPresence, AnnouncedNodesAreListedWithTheirReports) {
  std::vector<std::string> nodes{"node-a", "node-b", "node.c 3"};
  std::vector<jetstream_link> links;
  for (auto& node : nodes)
    links.push_back(connect(node));
  for (size_t i = 0; i < nodes.size(); ++i) {
    auto p = open_presence(links[i]);
    ASSERT_TRUE(p.announce(report_of(nodes[i], i)));
  }
  auto observer_link = connect("observer");
  auto observer = open_presence(observer_link);
  auto seen = observer.nodes();
  ASSERT_TRUE(seen) << seen.error().message;
  ASSERT_EQ(seen->size(), 3u);
  for (size_t i = 0; i < nodes.size(); ++i)
    EXPECT_EQ((*seen)[i], report_of(nodes[i], i));

  auto again = open_presence(links[0]);
  ASSERT_TRUE(again.announce(report_of("node-a", 42)));
  seen = observer.nodes();
  ASSERT_TRUE(seen && seen->size() == 3u);
  EXPECT_EQ(seen->front(), report_of("node-a", 42));
}

TEST_F(ClusterPresence, AWithdrawnNodeIsGoneAtOnce) {
  auto link = connect("node-a");
  auto p = open_presence(link);
  ASSERT_TRUE(p.announce(report_of("node-a")));
  ASSERT_TRUE(p.announce(report_of("node-b")));
  ASSERT_TRUE(p.withdraw("node-a"));
  EXPECT_EQ(listed(p), std::vector<std::string>{"node-b"});
  ASSERT_TRUE(p.withdraw("never-announced"));
  EXPECT_FALSE(p.withdraw(""));
  EXPECT_FALSE(p.announce(report_of("")));
}

TEST_F(ClusterPresence, AStoppedNodesKeyExpiresAfterTheTtl) {
  constexpr auto ttl = 1000ms;
  auto link_a = connect("node-a");
  auto link_b = connect("node-b");
  auto observer = open_presence(link_b, ttl);
  presence_announcer a{open_presence(link_a, ttl),
                       [] { return report_of("node-a"); }, 100ms};
  presence_announcer b{open_presence(link_b, ttl),
                       [] { return report_of("node-b"); }, 100ms};
  std::vector<std::string> both{"node-a", "node-b"};
  ASSERT_TRUE(wait_until([&] { return listed(observer) == both; },
                         wait_limit));

  a.stop(false); // like kill -9: nothing withdrawn
  link_a.close();
  auto stopped = clock_type::now();
  ASSERT_TRUE(wait_until(
    [&] { return listed(observer) == std::vector<std::string>{"node-b"}; },
    wait_limit));
  auto took = clock_type::now() - stopped;
  EXPECT_GE(took, ttl - 300ms) << "gone before its TTL";
  EXPECT_LE(took, ttl + 1500ms);

  b.stop(); // a clean shutdown withdraws at once
  EXPECT_EQ(listed(observer), std::vector<std::string>{});
}

TEST_F(ClusterPresence, StreamIdsListExactlyTheServicesStreams) {
  auto link = connect("node-a");
  std::vector<std::string> ids{"system", "a.b c_d*>", "\xC3\xA9",
                               std::string(250, 'x')};
  for (auto& id : ids)
    ASSERT_TRUE(link.ensure_stream("events", id));
  ASSERT_TRUE(link.ensure_stream("events2", "x"));
  ASSERT_TRUE(link.ensure_stream("ev", "y"));
  ASSERT_TRUE(link.ensure_stream("other", "system"));
  std::sort(ids.begin(), ids.end());

  auto other_node = connect("node-b"); // sees the streams a created
  auto listed_ids = other_node.stream_ids("events");
  ASSERT_TRUE(listed_ids) << listed_ids.error().message;
  EXPECT_EQ(*listed_ids, ids);
  EXPECT_EQ(*other_node.stream_ids("events2"), std::vector<std::string>{"x"});
  EXPECT_EQ(*other_node.stream_ids("nothing"), std::vector<std::string>{});
}

// -- presence through NATS outages --------------------------------------------

TEST(ClusterPresenceOutage, CallsFailFastWhileNatsIsDown) {
  auto bin = find_nats_server();
  ASSERT_FALSE(bin.empty()) << missing_nats_server_message();
  temp_dir dir;
  nats_server server{bin, dir.path(), "n1", free_port()};

  // Never reached: the bucket cannot even be created.
  auto never = connect_link(server.url(), "node-a", false);
  auto unbound = open_presence(never);
  expect_presence_unavailable(unbound);
  expect_unavailable_at_once("stream_ids",
                             [&] { return never.stream_ids("events"); });

  // Reached, then lost: the bound bucket must not wait for an answer.
  ASSERT_TRUE(server.start()) << server.log();
  auto link = connect_link(server.url(), "node-b");
  auto bound = open_presence(link);
  ASSERT_TRUE(bound.announce(report_of("node-b")));
  server.stop();
  ASSERT_TRUE(wait_until([&] { return !link.connected(); }, wait_limit));
  expect_presence_unavailable(bound);
}

TEST(ClusterPresenceOutage, TheAnnouncerRidesOutANatsRestart) {
  constexpr auto ttl = 2000ms;
  auto bin = find_nats_server();
  ASSERT_FALSE(bin.empty()) << missing_nats_server_message();
  temp_dir dir;
  nats_server server{bin, dir.path(), "n1", free_port()};
  ASSERT_TRUE(server.start()) << server.log();
  auto link_a = connect_link(server.url(), "node-a");
  auto link_b = connect_link(server.url(), "node-b");
  auto observer = open_presence(link_a, ttl);
  std::atomic<uint64_t> reports_a{0};
  presence_announcer a{open_presence(link_a, ttl),
                       [&] { return report_of("node-a", ++reports_a); },
                       100ms};
  presence_announcer b{open_presence(link_b, ttl),
                       [] { return report_of("node-b"); }, 100ms};
  std::vector<std::string> both{"node-a", "node-b"};
  ASSERT_TRUE(wait_until([&] { return listed(observer) == both; },
                         wait_limit));

  server.stop();
  b.stop(false); // b dies during the outage: its key must still expire
  ASSERT_TRUE(wait_until([&] { return !link_a.connected(); }, wait_limit));
  auto during = reports_a.load();
  ASSERT_TRUE(wait_until([&] { return reports_a >= during + 3; }, wait_limit))
    << "the announcer must keep trying, without hanging";

  ASSERT_TRUE(server.start()) << server.log();
  auto restarted = reports_a.load();
  auto fresh_and_alone = [&] {
    auto nodes = observer.nodes();
    return nodes && nodes->size() == 1 && nodes->front().node == "node-a"
           && nodes->front().streams.front().clients > restarted;
  };
  EXPECT_TRUE(wait_until(fresh_and_alone, wait_limit)) << server.log();
  EXPECT_GT(a.announced(), 0u);
}
