#include "config/loader.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

using namespace eventcast;
using namespace std::chrono_literals;
using config::config_error;
using config::from_command_line;
using config::load_file;
using config::parse_yaml;

namespace fs = std::filesystem;

namespace {

// -- helpers ------------------------------------------------------------------

void expect_same(const stream_settings& a, const stream_settings& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.generator, b.generator) << a.id;
  EXPECT_EQ(a.interval.count(), b.interval.count()) << a.id;
  EXPECT_EQ(a.autostart, b.autostart) << a.id;
}

void expect_same(const service_settings& a, const service_settings& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.path, b.path) << a.name;
  EXPECT_EQ(a.default_generator, b.default_generator) << a.name;
  EXPECT_EQ(a.default_interval.count(), b.default_interval.count()) << a.name;
  ASSERT_EQ(a.streams.size(), b.streams.size()) << a.name;
  for (size_t i = 0; i < a.streams.size(); ++i)
    expect_same(a.streams[i], b.streams[i]);
}

void expect_same(const cluster_settings& a, const cluster_settings& b) {
  EXPECT_EQ(a.urls, b.urls);
  EXPECT_EQ(a.node_name, b.node_name);
  EXPECT_EQ(a.advertise_url, b.advertise_url);
  EXPECT_EQ(a.replicas, b.replicas);
  EXPECT_EQ(a.history_messages, b.history_messages);
  EXPECT_EQ(a.history_bytes, b.history_bytes);
  EXPECT_EQ(a.history_age.count(), b.history_age.count());
  EXPECT_EQ(a.request_timeout.count(), b.request_timeout.count());
  EXPECT_EQ(a.lease_ttl.count(), b.lease_ttl.count());
}

void expect_same(const settings& a, const settings& b) {
  EXPECT_EQ(a.debug, b.debug);
  EXPECT_EQ(a.scheduler_threads, b.scheduler_threads);
  EXPECT_EQ(a.http.host, b.http.host);
  EXPECT_EQ(a.http.port, b.http.port);
  EXPECT_EQ(a.http.reactor_threads, b.http.reactor_threads);
  EXPECT_EQ(a.http.max_body_bytes, b.http.max_body_bytes);
  EXPECT_EQ(a.http.header_timeout.count(), b.http.header_timeout.count());
  EXPECT_EQ(a.http.body_timeout.count(), b.http.body_timeout.count());
  EXPECT_EQ(a.http.keepalive_timeout.count(),
            b.http.keepalive_timeout.count());
  EXPECT_EQ(a.http.request_timeout.count(), b.http.request_timeout.count());
  EXPECT_EQ(a.http.cors_origin, b.http.cors_origin);
  EXPECT_EQ(a.sse.mailbox_capacity, b.sse.mailbox_capacity);
  EXPECT_EQ(a.sse.overflow, b.sse.overflow);
  EXPECT_EQ(a.sse.heartbeat_interval.count(), b.sse.heartbeat_interval.count());
  EXPECT_EQ(a.sse.retry.count(), b.sse.retry.count());
  EXPECT_EQ(a.sse.history_size, b.sse.history_size);
  EXPECT_EQ(a.streams.max_streams, b.streams.max_streams);
  EXPECT_EQ(a.streams.idle_retention.count(), b.streams.idle_retention.count());
  expect_same(a.cluster, b.cluster);
  ASSERT_EQ(a.services.size(), b.services.size());
  for (size_t i = 0; i < a.services.size(); ++i)
    expect_same(a.services[i], b.services[i]);
}

std::vector<std::string> service_names(const settings& cfg) {
  std::vector<std::string> result;
  for (const auto& s : cfg.services)
    result.push_back(s.name);
  return result;
}

const service_settings* find_service(const settings& cfg,
                                     const std::string& name) {
  for (const auto& s : cfg.services)
    if (s.name == name)
      return &s;
  return nullptr;
}

// The message of the config_error that parsing `yaml` throws; "" if none.
config_error error_of(const std::string& yaml) {
  try {
    parse_yaml(yaml);
  } catch (const config_error& e) {
    return e;
  }
  return config_error{"", ""};
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream out{path};
  out << text;
}

std::string read_text(const fs::path& path) {
  std::ifstream in{path};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// config/config.yaml, found relative to this source file.
fs::path shipped_config() {
  return fs::path{__FILE__}.parent_path() / ".." / ".." / "config"
         / "config.yaml";
}

// -- the API document's config.yaml -------------------------------------------

TEST(ConfigDocument, ServiceGAloneKeepsEveryDefault) {
  expect_same(parse_yaml("services:\n  service_g: true  # Enable it\n"),
              default_settings());
}

TEST(ConfigDocument, DebugModeSnippetOnlyTurnsOnDebug) {
  auto expected = default_settings();
  expected.debug = true;
  expect_same(parse_yaml("app:\n  debug: true\n"), expected);
}

TEST(ConfigDocument, BothSnippetsTogether) {
  auto cfg = parse_yaml("services:\n  service_g: true\napp:\n  debug: true\n");
  EXPECT_TRUE(cfg.debug);
  EXPECT_EQ(service_names(cfg),
            (std::vector<std::string>{"events", "broadcast-demo"}));
}

TEST(ConfigDocument, EmptyDocumentsAndSectionsKeepTheBase) {
  expect_same(parse_yaml(""), default_settings());
  expect_same(parse_yaml("# nothing\n"), default_settings());
  expect_same(parse_yaml("app:\nserver:\nsse:\nstreams:\nservices:\n"),
              default_settings());
}

// -- the shipped config.yaml --------------------------------------------------

TEST(ConfigShipped, LoadsToTheBuiltInDefaults) {
  expect_same(load_file(shipped_config().string()), default_settings());
}

TEST(ConfigShipped, MentionsEveryKeyWithAComment) {
  auto text = read_text(shipped_config());
  for (const char* key :
       {"app:", "debug:", "scheduler_threads:", "server:", "host:", "port:",
        "reactor_threads:", "max_body_bytes:", "header_timeout:",
        "body_timeout:", "keepalive_timeout:", "request_timeout:",
        "cors_origin:", "sse:", "mailbox_capacity:", "overflow_policy:",
        "heartbeat_interval:", "retry:", "history_size:", "streams:",
        "max_streams:", "idle_retention:", "services:", "service_g:",
        "service_h:", "path:", "default_generator:", "default_interval:",
        "id:", "generator:", "interval:", "autostart:", "cluster:", "urls:",
        "node_name:", "advertise_url:", "replicas:", "history_messages:",
        "history_bytes:", "history_age:", "lease_ttl:"})
    EXPECT_NE(text.find(key), std::string::npos) << key;
  std::istringstream lines{text};
  std::string line;
  while (std::getline(lines, line)) {
    auto colon = line.find(':');
    auto is_leaf = colon != std::string::npos && colon + 1 < line.size()
                   && line.find_first_not_of(' ', colon + 1)
                        != std::string::npos;
    if (is_leaf) {
      EXPECT_NE(line.find('#'), std::string::npos) << line;
    }
  }
}

// -- each section -------------------------------------------------------------

TEST(ConfigSections, App) {
  auto cfg = parse_yaml("app:\n  debug: yes\n  scheduler_threads: 8\n");
  EXPECT_TRUE(cfg.debug);
  EXPECT_EQ(cfg.scheduler_threads, 8);
}

TEST(ConfigSections, Server) {
  auto cfg = parse_yaml("server:\n"
                        "  host: 127.0.0.1\n"
                        "  port: 0\n"
                        "  reactor_threads: 3\n"
                        "  max_body_bytes: 1024\n"
                        "  header_timeout: 2s\n"
                        "  body_timeout: 3s\n"
                        "  keepalive_timeout: 4m\n"
                        "  request_timeout: 250ms\n"
                        "  cors_origin: https://example.com\n");
  EXPECT_EQ(cfg.http.host, "127.0.0.1");
  EXPECT_EQ(cfg.http.port, 0);
  EXPECT_EQ(cfg.http.reactor_threads, 3);
  EXPECT_EQ(cfg.http.max_body_bytes, 1024u);
  EXPECT_EQ(cfg.http.header_timeout, 2s);
  EXPECT_EQ(cfg.http.body_timeout, 3s);
  EXPECT_EQ(cfg.http.keepalive_timeout, 4min);
  EXPECT_EQ(cfg.http.request_timeout, 250ms);
  EXPECT_EQ(cfg.http.cors_origin, "https://example.com");
}

TEST(ConfigSections, ServerPortBounds) {
  EXPECT_EQ(parse_yaml("server:\n  port: 65535\n").http.port, 65535);
  EXPECT_EQ(parse_yaml("server:\n  port: 0\n").http.port, 0);
}

TEST(ConfigSections, Sse) {
  auto cfg = parse_yaml("sse:\n"
                        "  mailbox_capacity: 7\n"
                        "  overflow_policy: drop_oldest\n"
                        "  heartbeat_interval: 100ms\n"
                        "  retry: 1500ms\n"
                        "  history_size: 5\n");
  EXPECT_EQ(cfg.sse.mailbox_capacity, 7u);
  EXPECT_EQ(cfg.sse.overflow, overflow_policy::drop_oldest);
  EXPECT_EQ(cfg.sse.heartbeat_interval, 100ms);
  EXPECT_EQ(cfg.sse.retry, 1500ms);
  EXPECT_EQ(cfg.sse.history_size, 5u);
  auto back = parse_yaml("sse:\n  overflow_policy: disconnect\n", cfg);
  EXPECT_EQ(back.sse.overflow, overflow_policy::disconnect);
}

TEST(ConfigSections, Streams) {
  auto cfg = parse_yaml("streams:\n  max_streams: 3\n  idle_retention: 1h\n");
  EXPECT_EQ(cfg.streams.max_streams, 3u);
  EXPECT_EQ(cfg.streams.idle_retention, 1h);
}

TEST(ConfigSections, Cluster) {
  auto cfg = parse_yaml("cluster:\n"
                        "  urls: [nats://10.0.0.1:4222, tls://nats.local]\n"
                        "  node_name: node-1.eu:8080\n"
                        "  advertise_url: https://node-1.example.com:8443\n"
                        "  replicas: 5\n"
                        "  history_messages: 7\n"
                        "  history_bytes: 1048576\n"
                        "  history_age: 2h\n"
                        "  request_timeout: 100ms\n"
                        "  lease_ttl: 1s\n");
  EXPECT_EQ(cfg.cluster.urls, (std::vector<std::string>{
                                "nats://10.0.0.1:4222", "tls://nats.local"}));
  EXPECT_EQ(cfg.cluster.node_name, "node-1.eu:8080");
  EXPECT_EQ(cfg.cluster.advertise_url, "https://node-1.example.com:8443");
  EXPECT_EQ(cfg.cluster.replicas, 5);
  EXPECT_EQ(cfg.cluster.history_messages, 7);
  EXPECT_EQ(cfg.cluster.history_bytes, 1048576);
  EXPECT_EQ(cfg.cluster.history_age, 2h);
  EXPECT_EQ(cfg.cluster.request_timeout, 100ms);
  EXPECT_EQ(cfg.cluster.lease_ttl, 1s);
  EXPECT_TRUE(cfg.cluster.enabled());
}

TEST(ConfigSections, UnmentionedKeysKeepTheBase) {
  auto base = default_settings();
  base.http.port = 1234;
  base.sse.retry = 9s;
  auto cfg = parse_yaml("server:\n  host: ::1\n", base);
  EXPECT_EQ(cfg.http.host, "::1");
  EXPECT_EQ(cfg.http.port, 1234);
  EXPECT_EQ(cfg.sse.retry, 9s);
}

// -- durations ----------------------------------------------------------------

TEST(ConfigDurations, AcceptsIntegerWithUnit) {
  struct row {
    const char* text;
    millis expected;
  };
  for (auto [text, expected] : {row{"500ms", 500ms}, row{"15s", 15s},
                                row{"5m", 5min}, row{"24h", 24h},
                                row{"0010s", 10s}, row{"8760h", 8760h},
                                row{"\"2s\"", 2s}}) {
    auto cfg = parse_yaml(std::string{"sse:\n  retry: "} + text + "\n");
    EXPECT_EQ(cfg.sse.retry, expected) << text;
  }
}

TEST(ConfigDurations, PlainIntegerAsksForAUnit) {
  auto e = error_of("server:\n  header_timeout: 10\n");
  EXPECT_EQ(e.key(), "server.header_timeout");
  EXPECT_NE(std::string{e.what()}.find("no unit; add one of ms, s, m, h"),
            std::string::npos)
    << e.what();
}

TEST(ConfigDurations, RejectsOtherForms) {
  for (const char* text : {"1.5s", "10 s", "-5s", "10S", "10d", "s", "ms10",
                           "\"\"", "[1s]", "{a: 1}", "0s", "0ms", "8761h",
                           "99999999999999999999h"}) {
    auto e = error_of(std::string{"streams:\n  idle_retention: "} + text
                      + "\n");
    EXPECT_EQ(e.key(), "streams.idle_retention") << text;
  }
}

TEST(ConfigDurations, HeartbeatNeedsAtLeast100ms) {
  auto e = error_of("sse:\n  heartbeat_interval: 99ms\n");
  EXPECT_EQ(std::string{e.what()},
            "sse.heartbeat_interval: must be at least 100ms, got \"99ms\"");
}

// -- errors name their key ----------------------------------------------------

struct error_case {
  const char* yaml;
  const char* key;
  const char* fragment; // expected somewhere in the message
};

// clang-format off
const error_case error_cases[] = {
  {"app:\n  debug: maybe\n", "app.debug", "true or false, got \"maybe\""},
  {"app:\n  debug: [true]\n", "app.debug", "got a list"},
  {"app:\n  debug:\n", "app.debug", "got an empty value"},
  {"app:\n  scheduler_threads: 0\n", "app.scheduler_threads", "1..64"},
  {"app:\n  scheduler_threads: 65\n", "app.scheduler_threads", "1..64"},
  {"app: 5\n", "app", "must be a mapping, got \"5\""},
  {"app:\n  debug: true\n  debug: false\n", "app.debug",
   "duplicate key 'app.debug'"},
  {"server:\n  port: 65536\n", "server.port", "0..65535, got \"65536\""},
  {"server:\n  port: -1\n", "server.port", "0..65535"},
  {"server:\n  port: 80.5\n", "server.port", "0..65535"},
  {"server:\n  host: ''\n", "server.host", "non-empty"},
  {"server:\n  host: {a: b}\n", "server.host", "got a mapping"},
  {"server:\n  reactor_threads: abc\n", "server.reactor_threads", "1..64"},
  {"server:\n  max_body_bytes: 0\n", "server.max_body_bytes",
   "positive integer"},
  {"server:\n  body_timeout: 0s\n", "server.body_timeout", "greater than 0"},
  {"server:\n  keepalive_timeout: soon\n", "server.keepalive_timeout",
   "duration"},
  {"server:\n  request_timeout: 5\n", "server.request_timeout", "no unit"},
  {"server:\n  cors_origin: \"a\\r\\nSet-Cookie: x\"\n", "server.cors_origin",
   "control characters"},
  {"server:\n  cors_origin: [a]\n", "server.cors_origin", "got a list"},
  {"sse:\n  mailbox_capacity: abc\n", "sse.mailbox_capacity",
   "sse.mailbox_capacity: must be a positive integer, got \"abc\""},
  {"sse:\n  mailbox_capacity: 0\n", "sse.mailbox_capacity", "positive"},
  {"sse:\n  overflow_policy: block\n", "sse.overflow_policy",
   "disconnect or drop_oldest, got \"block\""},
  {"sse:\n  retry: 0ms\n", "sse.retry", "greater than 0"},
  {"sse:\n  history_size: 0\n", "sse.history_size", "positive"},
  {"sse:\n  mailbox_capacty: 5\n", "sse.mailbox_capacty",
   "unknown key 'sse.mailbox_capacty' (expected one of: mailbox_capacity,"},
  {"streams:\n  max_streams: 0\n", "streams.max_streams", "positive"},
  {"cluster: [a]\n", "cluster", "must be a mapping"},
  {"cluster:\n  url: nats://a\n", "cluster.url",
   "unknown key 'cluster.url' (expected one of: urls,"},
  {"cluster:\n  urls: {a: b}\n", "cluster.urls",
   "a list of strings or one comma-separated string, got a mapping"},
  {"cluster:\n  urls: [nats://a, http://b]\n", "cluster.urls[1]",
   "must be a NATS URL such as \"nats://10.0.0.1:4222\""},
  {"cluster:\n  urls: [[nats://a]]\n", "cluster.urls[0]",
   "must be a string, got a list"},
  {"cluster:\n  urls: \"nats://a, b:4222\"\n", "cluster.urls",
   "NATS URL such as \"nats://10.0.0.1:4222\" (nats:// or tls://, a host,"
   " an optional port), got \"b:4222\""},
  {"cluster:\n  urls: \"nats://a,,nats://b\"\n", "cluster.urls",
   "NATS URL"},
  {"cluster:\n  node_name: a b\n", "cluster.node_name",
   "letters, digits, '-', '_', '.' or ':'"},
  {"cluster:\n  node_name: [a]\n", "cluster.node_name", "got a list"},
  {"cluster:\n  advertise_url: ftp://a\n", "cluster.advertise_url",
   "http:// or https://"},
  {"cluster:\n  replicas: 0\n", "cluster.replicas", "1..5, got \"0\""},
  {"cluster:\n  replicas: 6\n", "cluster.replicas", "1..5, got \"6\""},
  {"cluster:\n  history_messages: 0\n", "cluster.history_messages",
   "an integer in 1.."},
  {"cluster:\n  history_messages: 9223372036854775808\n",
   "cluster.history_messages", "1..9223372036854775807"},
  {"cluster:\n  history_bytes: -1\n", "cluster.history_bytes",
   "an integer in 0.."},
  {"cluster:\n  history_age: 5\n", "cluster.history_age", "no unit"},
  {"cluster:\n  history_age: -1s\n", "cluster.history_age", "duration"},
  {"cluster:\n  request_timeout: 99ms\n", "cluster.request_timeout",
   "at least 100ms, got \"99ms\""},
  {"cluster:\n  lease_ttl: 999ms\n", "cluster.lease_ttl",
   "at least 1s, got \"999ms\""},
  {"streams:\n  idle_retention: forever\n", "streams.idle_retention",
   "duration"},
  {"ssse:\n  x: 1\n", "ssse", "unknown key 'ssse'"},
  {"- a\n- b\n", "document", "mapping of sections"},
  {"app: {}\n---\napp: {}\n", "document", "one YAML document"},
  {"app: [\n", "line 2, column 1", "YAML syntax error"},
  {"services: [a]\n", "services", "must be a mapping"},
  {"services:\n  service_g: maybe\n", "services.service_g", "true or false"},
  {"services:\n  service_h:\n", "services.service_h", "true or false"},
  {"services:\n  foo: true\n", "services.foo", "a mapping defining"},
  {"services:\n  service_g: false\n  events: true\n", "services.events",
   "a second time"},
  {"services:\n  bad name:\n    path: /x\n", "services.bad name",
   "service name"},
  {"services:\n  orders:\n    default_interval: 1s\n", "services.orders.path",
   "required"},
  {"services:\n  orders:\n    path: api/orders\n", "services.orders.path",
   "leading '/'"},
  {"services:\n  orders:\n    path: /api/orders/\n", "services.orders.path",
   "no trailing"},
  {"services:\n  orders:\n    path: /\n", "services.orders.path", "path"},
  {"services:\n  orders:\n    path: /api//orders\n", "services.orders.path",
   "path"},
  {"services:\n  orders:\n    path: /api/:id\n", "services.orders.path",
   "path"},
  {"services:\n  orders:\n    path: /api/../x\n", "services.orders.path",
   "path"},
  {"services:\n  orders:\n    path: /api/v1/events\n", "services.orders",
   "already used by service 'events'"},
  {"services:\n  orders:\n    path: /o\n    pth: /p\n", "services.orders.pth",
   "unknown key 'services.orders.pth'"},
  {"services:\n  orders:\n    path: /o\n    default_generator: ''\n",
   "services.orders.default_generator", "non-empty"},
  {"services:\n  orders:\n    path: /o\n    default_interval: 2\n",
   "services.orders.default_interval", "no unit"},
  {"services:\n  orders:\n    path: /o\n    streams: 5\n",
   "services.orders.streams", "a list of streams"},
  {"services:\n  orders:\n    path: /o\n    streams:\n      - id: -bad\n",
   "services.orders.streams[0].id", "stream id must match"},
  {"services:\n  orders:\n    path: /o\n    streams:\n      - generator: x\n",
   "services.orders.streams[0].id", "required"},
  {"services:\n  orders:\n    path: /o\n    streams:\n      - id: a\n"
   "      - id: a\n",
   "services.orders.streams[1].id", "duplicate stream id \"a\""},
  {"services:\n  orders:\n    path: /o\n    streams:\n      - id: a\n"
   "        intervall: 1s\n",
   "services.orders.streams[0].intervall", "unknown key"},
  {"services:\n  orders:\n    path: /o\n    streams:\n      - id: a\n"
   "        interval: 1\n",
   "services.orders.streams[0].interval", "no unit"},
  {"services:\n  orders:\n    path: /o\n    streams:\n      - id: a\n"
   "        autostart: later\n",
   "services.orders.streams[0].autostart", "true or false"},
  {"services:\n  orders:\n    path: /o\n    streams:\n      - a\n",
   "services.orders.streams[0]", "must be a mapping"},
};
// clang-format on

TEST(ConfigErrors, EveryErrorNamesItsKey) {
  for (const auto& c : error_cases) {
    SCOPED_TRACE(c.yaml);
    auto e = error_of(c.yaml);
    std::string what = e.what();
    EXPECT_EQ(e.key(), c.key);
    EXPECT_NE(what.find(c.key), std::string::npos) << what;
    EXPECT_NE(what.find(c.fragment), std::string::npos) << what;
  }
}

TEST(ConfigErrors, ParseYamlThrowsConfigError) {
  EXPECT_THROW(parse_yaml("sse:\n  mailbox_capacity: abc\n"), config_error);
}

// -- cluster ------------------------------------------------------------------

TEST(ConfigCluster, DefaultsLeaveTheClusterDisabled) {
  EXPECT_FALSE(default_settings().cluster.enabled());
  EXPECT_FALSE(parse_yaml("").cluster.enabled());
  EXPECT_FALSE(parse_yaml("cluster:\n").cluster.enabled());
  EXPECT_FALSE(parse_yaml("cluster:\n  replicas: 1\n").cluster.enabled());
  EXPECT_FALSE(load_file(shipped_config().string()).cluster.enabled());
}

TEST(ConfigCluster, UrlsAsAList) {
  auto cfg = parse_yaml("cluster:\n"
                        "  urls:\n"
                        "    - nats://127.0.0.1:4222\n"
                        "    - tls://[::1]:4223\n"
                        "    - nats://nats_2\n");
  EXPECT_EQ(cfg.cluster.urls,
            (std::vector<std::string>{"nats://127.0.0.1:4222",
                                      "tls://[::1]:4223", "nats://nats_2"}));
}

TEST(ConfigCluster, UrlsAsACommaSeparatedString) {
  auto expected = std::vector<std::string>{"nats://a:4222", "tls://b"};
  for (const char* text :
       {"nats://a:4222,tls://b", "\" nats://a:4222 , tls://b\""})
    EXPECT_EQ(parse_yaml(std::string{"cluster:\n  urls: "} + text + "\n")
                .cluster.urls,
              expected)
      << text;
  EXPECT_EQ(parse_yaml("cluster:\n  urls: nats://one\n").cluster.urls,
            std::vector<std::string>{"nats://one"});
}

TEST(ConfigCluster, EmptyUrlsTurnTheClusterOff) {
  auto base = default_settings();
  base.cluster.urls = {"nats://a"};
  for (const char* yaml : {"cluster:\n  urls: []\n", "cluster:\n  urls:\n"})
    EXPECT_FALSE(parse_yaml(yaml, base).cluster.enabled()) << yaml;
}

TEST(ConfigCluster, RejectsUrlsThatAreNotNats) {
  for (const char* url :
       {"''", "127.0.0.1:4222", "http://a:4222", "NATS://a", "nats://",
        "nats://:4222", "nats://a:", "nats://a:0", "nats://a:65536",
        "nats://a:42x", "nats://a:4222/", "nats://a/x", "nats://user:pw@a",
        "nats://::1", "nats://[::1", "nats://[]:1", "nats://[::1]x",
        "nats://a b", "\"nats://a\\tb\""}) {
    auto e = error_of(std::string{"cluster:\n  urls:\n    - "} + url + "\n");
    EXPECT_EQ(e.key(), "cluster.urls[0]") << url;
  }
}

TEST(ConfigCluster, NodeNameRules) {
  auto name_64 = std::string(64, 'n');
  auto cfg = parse_yaml("cluster:\n  node_name: " + name_64 + "\n");
  EXPECT_EQ(cfg.cluster.node_name, name_64);
  cfg = parse_yaml("cluster:\n  node_name: ''\n", cfg);
  EXPECT_EQ(cfg.cluster.node_name, "");
  for (const char* name : {"a/b", "a@b", "\"a\\nb\"", "ä"}) {
    auto e = error_of(std::string{"cluster:\n  node_name: "} + name + "\n");
    EXPECT_EQ(e.key(), "cluster.node_name") << name;
  }
  auto e = error_of("cluster:\n  node_name: " + name_64 + "x\n");
  EXPECT_EQ(e.key(), "cluster.node_name");
  EXPECT_NE(std::string{e.what()}.find("at most 64"), std::string::npos);
}

TEST(ConfigCluster, AdvertiseUrlRules) {
  for (const char* url : {"http://10.0.0.1:8080", "https://node-1",
                          "http://[::1]:8080/eventcast"}) {
    auto cfg = parse_yaml(std::string{"cluster:\n  advertise_url: "} + url
                          + "\n");
    EXPECT_EQ(cfg.cluster.advertise_url, url);
    cfg = parse_yaml("cluster:\n  advertise_url: ''\n", cfg);
    EXPECT_EQ(cfg.cluster.advertise_url, "");
  }
  for (const char* url : {"node-1:8080", "nats://a", "http://", "http://a/",
                          "http://a/x?y=1", "http://a:99999", "http://a b"}) {
    auto e = error_of(std::string{"cluster:\n  advertise_url: "} + url
                      + "\n");
    EXPECT_EQ(e.key(), "cluster.advertise_url") << url;
  }
}

TEST(ConfigCluster, ZeroMeansUnlimitedWhereAllowed) {
  auto cfg = parse_yaml("cluster:\n  history_bytes: 0\n  history_age: 0s\n"
                        "  replicas: 1\n");
  EXPECT_EQ(cfg.cluster.history_bytes, 0);
  EXPECT_EQ(cfg.cluster.history_age, 0ms);
  EXPECT_EQ(cfg.cluster.replicas, 1);
}

// -- services -----------------------------------------------------------------

TEST(ConfigServices, AbsentKeepsTheBaseServices) {
  auto base = default_settings();
  base.services = {default_broadcast_demo_service()};
  auto cfg = parse_yaml("app:\n  debug: true\n", base);
  EXPECT_EQ(service_names(cfg), (std::vector<std::string>{"broadcast-demo"}));
}

TEST(ConfigServices, FalseRemovesABuiltIn) {
  EXPECT_EQ(service_names(parse_yaml("services:\n  service_g: false\n")),
            (std::vector<std::string>{"broadcast-demo"}));
  EXPECT_EQ(service_names(parse_yaml("services:\n  service_h: false\n")),
            (std::vector<std::string>{"events"}));
  EXPECT_EQ(service_names(parse_yaml("services:\n  events: false\n"
                                     "  broadcast-demo: off\n")),
            std::vector<std::string>{});
}

TEST(ConfigServices, TrueRestoresABuiltInMissingFromTheBase) {
  auto base = default_settings();
  base.services.clear();
  auto cfg = parse_yaml("services:\n  service_h: true\n", base);
  ASSERT_EQ(cfg.services.size(), 1u);
  expect_same(cfg.services[0], default_broadcast_demo_service());
}

TEST(ConfigServices, MappingAddsAService) {
  auto cfg = parse_yaml("services:\n"
                        "  service_g: true\n"
                        "  orders:\n"
                        "    path: /api/v1/orders\n"
                        "    default_generator: sample\n"
                        "    default_interval: 2s\n"
                        "    streams:\n"
                        "      - id: orders\n"
                        "        generator: orders\n"
                        "        interval: 1s\n"
                        "        autostart: true\n"
                        "      - id: audit.log\n"
                        "        generator: ''\n"
                        "        autostart: false\n"
                        "      - id: plain\n");
  EXPECT_EQ(service_names(cfg), (std::vector<std::string>{
                                  "events", "broadcast-demo", "orders"}));
  service_settings expected;
  expected.name = "orders";
  expected.path = "/api/v1/orders";
  expected.default_generator = "sample";
  expected.default_interval = 2s;
  expected.streams = {{"orders", "orders", 1s, true},
                      {"audit.log", "", 2s, false},
                      {"plain", "", 2s, true}};
  expect_same(cfg.services[2], expected);
}

TEST(ConfigServices, MappingOverridesABuiltInByName) {
  auto cfg = parse_yaml("services:\n"
                        "  events:\n"
                        "    default_interval: 500ms\n");
  auto expected = default_events_service();
  expected.default_interval = 500ms;
  ASSERT_EQ(cfg.services.size(), 2u);
  expect_same(cfg.services[0], expected);
}

TEST(ConfigServices, AliasMappingOverridesTheBuiltIn) {
  auto cfg = parse_yaml("services:\n"
                        "  service_g:\n"
                        "    path: /events\n"
                        "    streams: []\n");
  auto events = find_service(cfg, "events");
  ASSERT_NE(events, nullptr);
  EXPECT_EQ(events->path, "/events");
  EXPECT_TRUE(events->streams.empty());
  EXPECT_NE(find_service(cfg, "broadcast-demo"), nullptr);
}

TEST(ConfigServices, TwoNewServicesOnOnePathFail) {
  auto e = error_of("services:\n"
                    "  a:\n    path: /same\n"
                    "  b:\n    path: /same\n");
  EXPECT_EQ(e.key(), "services.b");
  EXPECT_NE(std::string{e.what()}.find("already used by service 'a'"),
            std::string::npos);
}

TEST(ConfigServices, MovingABuiltInFreesItsPath) {
  auto cfg = parse_yaml("services:\n"
                        "  events:\n    path: /old-events\n"
                        "  orders:\n    path: /api/v1/events\n");
  EXPECT_EQ(find_service(cfg, "orders")->path, "/api/v1/events");
}

// -- files --------------------------------------------------------------------

// Runs each test in a fresh temporary directory, which becomes the working
// directory, so that ./config.yaml can be present or not.
class ConfigFiles : public testing::Test {
protected:
  void SetUp() override {
    auto pattern = (fs::temp_directory_path() / "eventcast_config_XXXXXX")
                     .string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    old_cwd_ = fs::current_path();
    fs::current_path(dir_);
  }

  void TearDown() override {
    fs::current_path(old_cwd_);
    fs::remove_all(dir_);
  }

  config::cli_result run(std::vector<const char*> args) {
    args.insert(args.begin(), "eventcast");
    return from_command_line(static_cast<int>(args.size()), args.data());
  }

  config_error cli_error_of(std::vector<const char*> args) {
    try {
      run(std::move(args));
    } catch (const config_error& e) {
      return e;
    }
    return config_error{"", ""};
  }

  fs::path dir_;
  fs::path old_cwd_;
};

TEST_F(ConfigFiles, LoadFileMissingNamesThePath) {
  auto path = (dir_ / "absent.yaml").string();
  try {
    load_file(path);
    FAIL() << "no error";
  } catch (const config_error& e) {
    EXPECT_EQ(e.key(), path);
    EXPECT_NE(std::string{e.what()}.find(path), std::string::npos);
  }
}

TEST_F(ConfigFiles, LoadFileRejectsADirectory) {
  EXPECT_THROW(load_file(dir_.string()), config_error);
}

TEST_F(ConfigFiles, LoadFileErrorsNameFileAndKey) {
  write_file("bad.yaml", "sse:\n  retry: 3\n");
  try {
    load_file("bad.yaml");
    FAIL() << "no error";
  } catch (const config_error& e) {
    EXPECT_EQ(e.key(), "sse.retry");
    EXPECT_EQ(std::string{e.what()}.rfind("bad.yaml: sse.retry: ", 0), 0u)
      << e.what();
  }
}

TEST_F(ConfigFiles, NoArgumentsAndNoFileGivesDefaults) {
  auto result = run({});
  EXPECT_FALSE(result.help);
  EXPECT_EQ(result.config_path, "");
  expect_same(result.config, default_settings());
}

TEST_F(ConfigFiles, ConfigYamlInTheWorkingDirectoryIsLoaded) {
  write_file("config.yaml", "app:\n  debug: true\n");
  auto result = run({});
  EXPECT_EQ(result.config_path, "config.yaml");
  EXPECT_TRUE(result.config.debug);
}

TEST_F(ConfigFiles, BrokenConfigYamlInTheWorkingDirectoryFails) {
  write_file("config.yaml", "app:\n  debug: maybe\n");
  EXPECT_EQ(cli_error_of({}).key(), "app.debug");
}

TEST_F(ConfigFiles, ConfigFlagInBothForms) {
  write_file("a.yaml", "server:\n  port: 9001\n");
  write_file("config.yaml", "server:\n  port: 9002\n");
  EXPECT_EQ(run({"--config", "a.yaml"}).config.http.port, 9001);
  auto result = run({"--config=a.yaml"});
  EXPECT_EQ(result.config.http.port, 9001);
  EXPECT_EQ(result.config_path, "a.yaml");
}

TEST_F(ConfigFiles, FlagsOverrideTheFile) {
  write_file("config.yaml", "app:\n  debug: false\n"
                            "server:\n  host: 127.0.0.1\n  port: 9000\n");
  auto plain = run({});
  EXPECT_EQ(plain.config.http.host, "127.0.0.1");
  EXPECT_EQ(plain.config.http.port, 9000);
  auto result = run({"--port", "0", "--host=::1", "--debug"});
  EXPECT_EQ(result.config.http.host, "::1");
  EXPECT_EQ(result.config.http.port, 0);
  EXPECT_TRUE(result.config.debug);
  EXPECT_EQ(run({"--port=65535"}).config.http.port, 65535);
}

TEST_F(ConfigFiles, ClusterFlagsOverrideTheFile) {
  write_file("config.yaml", "cluster:\n"
                            "  urls: [nats://file:4222]\n"
                            "  node_name: from-file\n"
                            "  advertise_url: http://file:8080\n"
                            "  replicas: 3\n"
                            "  lease_ttl: 9s\n");
  auto result = run({"--cluster", "nats://a:4222, tls://b", "--node-name=n1",
                     "--advertise-url", "https://n1.example.com",
                     "--replicas=1"});
  const auto& cluster = result.config.cluster;
  EXPECT_EQ(cluster.urls,
            (std::vector<std::string>{"nats://a:4222", "tls://b"}));
  EXPECT_EQ(cluster.node_name, "n1");
  EXPECT_EQ(cluster.advertise_url, "https://n1.example.com");
  EXPECT_EQ(cluster.replicas, 1);
  EXPECT_EQ(cluster.lease_ttl, 9s);
  EXPECT_EQ(run({"--cluster=nats://c"}).config.cluster.urls,
            std::vector<std::string>{"nats://c"});
  EXPECT_EQ(run({}).config.cluster.node_name, "from-file");
}

TEST_F(ConfigFiles, ClusterFlagAloneTurnsTheClusterOn) {
  EXPECT_FALSE(run({}).config.cluster.enabled());
  EXPECT_TRUE(run({"--cluster", "nats://127.0.0.1"}).config.cluster.enabled());
}

TEST_F(ConfigFiles, ConfigFlagNamingAMissingFileFails) {
  auto e = cli_error_of({"--config", "nowhere.yaml"});
  EXPECT_EQ(e.key(), "nowhere.yaml");
  EXPECT_NE(std::string{e.what()}.find("nowhere.yaml"), std::string::npos);
}

TEST_F(ConfigFiles, BadFlagsNameTheFlag) {
  struct row {
    std::vector<const char*> args;
    const char* key;
    const char* fragment;
  };
  const row rows[] = {
    {{"--verbose"}, "--verbose", "unknown flag '--verbose'"},
    {{"-x"}, "-x", "unknown flag"},
    {{"--verbose=1"}, "--verbose", "takes no value"},
    {{"stray"}, "stray", "unexpected argument 'stray'"},
    {{"--port"}, "--port", "needs a value"},
    {{"--port", "65536"}, "--port", "0..65535, got \"65536\""},
    {{"--port=http"}, "--port", "0..65535"},
    {{"--port", "-1"}, "--port", "0..65535"},
    {{"--host="}, "--host", "host name or address"},
    {{"--host", "a b"}, "--host", "host name or address"},
    {{"--config"}, "--config", "needs a value"},
    {{"--config="}, "--config", "non-empty"},
    {{"--debug=false"}, "--debug", "takes no value"},
    {{"--cluster"}, "--cluster", "needs a value"},
    {{"--cluster="}, "--cluster", "non-empty"},
    {{"--cluster", "127.0.0.1:4222"}, "--cluster",
     "must be a NATS URL such as"},
    {{"--cluster=nats://a,http://b"}, "--cluster", "got \"http://b\""},
    {{"--node-name", "a b"}, "--node-name", "letters, digits"},
    {{"--node-name"}, "--node-name", "needs a value"},
    {{"--advertise-url=ftp://a"}, "--advertise-url", "http:// or https://"},
    {{"--replicas", "0"}, "--replicas", "1..5, got \"0\""},
    {{"--replicas=6"}, "--replicas", "1..5"},
    {{"--replicas", "three"}, "--replicas", "1..5"},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.key);
    auto e = cli_error_of(r.args);
    EXPECT_EQ(e.key(), r.key);
    EXPECT_NE(std::string{e.what()}.find(r.fragment), std::string::npos)
      << e.what();
  }
}

TEST_F(ConfigFiles, HelpNeedsNoConfigFile) {
  write_file("config.yaml", "app: [broken\n");
  for (const char* flag : {"--help", "-h"}) {
    auto result = run({flag});
    EXPECT_TRUE(result.help);
    EXPECT_NE(result.help_text.find("--config PATH"), std::string::npos);
    EXPECT_NE(result.help_text.find("--port N"), std::string::npos);
    for (const char* cluster_flag : {"--cluster URL[,URL...]",
                                     "--node-name NAME", "--advertise-url URL",
                                     "--replicas N"})
      EXPECT_NE(result.help_text.find(cluster_flag), std::string::npos)
        << cluster_flag;
  }
}

} // namespace

// yaml-cpp 0.7's LoadAll never returns on a lone ',' (upstream #1040);
// found by fuzz_config.
TEST(ConfigLoader, StrayCommaIsAnErrorNotAHang) {
  for (const char* text : {",", ", a", ",s"})
    EXPECT_THROW(eventcast::config::parse_yaml(text),
                 eventcast::config::config_error)
      << text;
}
