#include "core/route.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

using namespace eventcast;

namespace {

const std::vector<std::string> mounts = {"/api/v1/events",
                                         "/api/v1/broadcast-demo"};

constexpr const char* get_allow = "GET, OPTIONS";
constexpr const char* post_allow = "POST, OPTIONS";

const char* kind_name(route_kind k) {
  switch (k) {
    case route_kind::subscribe: return "subscribe";
    case route_kind::broadcast: return "broadcast";
    case route_kind::streams: return "streams";
    case route_kind::start: return "start";
    case route_kind::stop: return "stop";
    case route_kind::pause: return "pause";
    case route_kind::resume: return "resume";
    case route_kind::preflight: return "preflight";
    case route_kind::health: return "health";
    case route_kind::cluster: return "cluster";
    case route_kind::not_found: return "not_found";
    case route_kind::method_not_allowed: return "method_not_allowed";
    case route_kind::bad_stream_id: return "bad_stream_id";
  }
  return "?";
}

struct route_case {
  std::string method;
  std::string path;
  route_kind kind;
  size_t service = 0;
  std::string stream_id;
  std::string allow; // checked unless kind is not_found
};

route_case nf(std::string method, std::string path) {
  return {std::move(method), std::move(path), route_kind::not_found, 0, "",
          ""};
}

void check(const std::vector<route_case>& cases) {
  for (const auto& c : cases) {
    SCOPED_TRACE(c.method + " " + c.path);
    auto m = match_route(c.method, c.path, mounts);
    EXPECT_STREQ(kind_name(m.kind), kind_name(c.kind));
    if (c.kind == route_kind::not_found)
      continue;
    ASSERT_NE(m.allow, nullptr);
    EXPECT_EQ(std::string{m.allow}, c.allow);
    if (c.kind != route_kind::health && c.kind != route_kind::cluster) {
      EXPECT_EQ(m.service, c.service);
    }
    if (!c.stream_id.empty()) {
      EXPECT_EQ(m.stream_id, c.stream_id);
    }
  }
}

std::vector<route_case> service_cases(size_t service) {
  std::string base = mounts[service];
  auto stream = base + "/stream/orders";
  return {
    {"GET", stream, route_kind::subscribe, service, "orders", get_allow},
    {"POST", base + "/broadcast", route_kind::broadcast, service, "",
     post_allow},
    {"GET", base + "/streams", route_kind::streams, service, "", get_allow},
    {"POST", stream + "/start", route_kind::start, service, "orders",
     post_allow},
    {"POST", stream + "/stop", route_kind::stop, service, "orders",
     post_allow},
    {"POST", stream + "/pause", route_kind::pause, service, "orders",
     post_allow},
    {"POST", stream + "/resume", route_kind::resume, service, "orders",
     post_allow},
    // Wrong methods: 405 with the route's methods.
    {"POST", stream, route_kind::method_not_allowed, service, "", get_allow},
    {"DELETE", stream, route_kind::method_not_allowed, service, "",
     get_allow},
    {"HEAD", stream, route_kind::method_not_allowed, service, "", get_allow},
    {"GET", base + "/broadcast", route_kind::method_not_allowed, service, "",
     post_allow},
    {"PUT", base + "/broadcast", route_kind::method_not_allowed, service, "",
     post_allow},
    {"POST", base + "/streams", route_kind::method_not_allowed, service, "",
     get_allow},
    {"GET", stream + "/start", route_kind::method_not_allowed, service, "",
     post_allow},
    {"GET", stream + "/stop", route_kind::method_not_allowed, service, "",
     post_allow},
    {"PATCH", stream + "/pause", route_kind::method_not_allowed, service, "",
     post_allow},
    {"DELETE", stream + "/resume", route_kind::method_not_allowed, service,
     "", post_allow},
    // OPTIONS on every known route.
    {"OPTIONS", stream, route_kind::preflight, service, "", get_allow},
    {"OPTIONS", base + "/broadcast", route_kind::preflight, service, "",
     post_allow},
    {"OPTIONS", base + "/streams", route_kind::preflight, service, "",
     get_allow},
    {"OPTIONS", stream + "/start", route_kind::preflight, service, "",
     post_allow},
    {"OPTIONS", stream + "/resume", route_kind::preflight, service, "",
     post_allow},
    // Unknown paths under the mount.
    nf("GET", base),
    nf("GET", base + "/"),
    nf("GET", base + "/stream"),
    nf("GET", base + "/streams/"),
    nf("GET", base + "/streams/x"),
    nf("POST", base + "/broadcast/x"),
    nf("GET", stream + "/"),
    nf("GET", stream + "/extra"),
    nf("POST", stream + "/restart"),
    nf("POST", stream + "/start/now"),
    nf("POST", base + "/stream/a/b/start"),
    nf("OPTIONS", stream + "/extra"),
    nf("GET", base + "/unknown"),
  };
}

} // namespace

TEST(Route, EventsServiceRoutes) {
  check(service_cases(0));
}

TEST(Route, BroadcastDemoServiceRoutes) {
  check(service_cases(1));
}

TEST(Route, HealthAnswersGetAndOptionsOnly) {
  check({
    {"GET", "/health", route_kind::health, 0, "", get_allow},
    {"OPTIONS", "/health", route_kind::preflight, 0, "", get_allow},
    {"POST", "/health", route_kind::method_not_allowed, 0, "", get_allow},
    nf("GET", "/health/"),
    nf("GET", "/healthz"),
  });
}

TEST(Route, ClusterAnswersGetAndOptionsOnly) {
  check({
    {"GET", "/api/v1/cluster", route_kind::cluster, 0, "", get_allow},
    {"OPTIONS", "/api/v1/cluster", route_kind::preflight, 0, "", get_allow},
    {"POST", "/api/v1/cluster", route_kind::method_not_allowed, 0, "",
     get_allow},
    nf("GET", "/api/v1/cluster/"),
    nf("GET", "/api/v1/clusters"),
  });
}

TEST(Route, InvalidStreamIdsAreBadStreamId) {
  const std::string base = mounts[0];
  const std::string long_id(129, 'a');
  const std::string max_id(128, 'a');
  check({
    {"GET", base + "/stream/-x", route_kind::bad_stream_id, 0, "", get_allow},
    {"GET", base + "/stream/%20", route_kind::bad_stream_id, 0, "",
     get_allow},
    {"GET", base + "/stream/a%20b", route_kind::bad_stream_id, 0, "",
     get_allow},
    {"GET", base + "/stream/_x", route_kind::bad_stream_id, 0, "", get_allow},
    {"GET", base + "/stream/" + long_id, route_kind::bad_stream_id, 0, "",
     get_allow},
    {"GET", base + "/stream/" + max_id, route_kind::subscribe, 0, max_id,
     get_allow},
    {"POST", base + "/stream/-x/start", route_kind::bad_stream_id, 0, "",
     post_allow},
    {"POST", base + "/stream/%20/stop", route_kind::bad_stream_id, 0, "",
     post_allow},
    {"POST", base + "/stream/" + long_id + "/pause",
     route_kind::bad_stream_id, 0, "", post_allow},
    {"POST", base + "/stream/.x/resume", route_kind::bad_stream_id, 0, "",
     post_allow},
  });
}

TEST(Route, EmptyStreamIdIsBadStreamId) {
  const std::string base = mounts[0];
  check({
    {"GET", base + "/stream/", route_kind::bad_stream_id, 0, "", get_allow},
    {"POST", base + "/stream//start", route_kind::bad_stream_id, 0, "",
     post_allow},
  });
}

TEST(Route, ActionNamesAreValidStreamIds) {
  const std::string base = mounts[0];
  check({
    {"GET", base + "/stream/start", route_kind::subscribe, 0, "start",
     get_allow},
    {"POST", base + "/stream/start/start", route_kind::start, 0, "start",
     post_allow},
    {"POST", base + "/stream/stop/resume", route_kind::resume, 0, "stop",
     post_allow},
    {"GET", base + "/stream/a.b-c_d", route_kind::subscribe, 0, "a.b-c_d",
     get_allow},
  });
}

TEST(Route, PathsOfOtherMountsDoNotMatch) {
  check({
    nf("GET", "/api/v2/events/streams"),
    nf("GET", "/api/v1/eventsx/streams"),
    nf("GET", "/api/v1/event/streams"),
    nf("GET", "/api/v1/broadcast-demo-x/streams"),
    nf("GET", "/events/streams"),
    nf("GET", "/streams"),
    nf("GET", "/stream/default"),
    nf("GET", ""),
    nf("GET", "/"),
  });
}

TEST(Route, OnlyTheGivenMountsMatch) {
  const std::vector<std::string> only_demo = {"/api/v1/broadcast-demo"};
  auto m = match_route("GET", "/api/v1/events/streams", only_demo);
  EXPECT_EQ(m.kind, route_kind::not_found);
  auto d = match_route("GET", "/api/v1/broadcast-demo/streams", only_demo);
  EXPECT_EQ(d.kind, route_kind::streams);
  EXPECT_EQ(d.service, 0u);
  auto none = match_route("GET", "/api/v1/events/streams", {});
  EXPECT_EQ(none.kind, route_kind::not_found);
}

TEST(Route, NestedMountsPickTheMountThatOwnsThePath) {
  const std::vector<std::string> nested = {"/api", "/api/v1"};
  auto outer = match_route("GET", "/api/streams", nested);
  EXPECT_EQ(outer.kind, route_kind::streams);
  EXPECT_EQ(outer.service, 0u);
  auto inner = match_route("GET", "/api/v1/streams", nested);
  EXPECT_EQ(inner.kind, route_kind::streams);
  EXPECT_EQ(inner.service, 1u);
}
