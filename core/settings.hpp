#pragma once

// The whole configuration as plain structs: read once by config/, handed down
// to actors/ and http/. Every default lives here and nowhere else.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace eventcast {

using millis = std::chrono::milliseconds;

enum class overflow_policy { disconnect, drop_oldest };

/// A stream that a service creates at start, optionally with a generator.
struct stream_settings {
  std::string id;
  std::string generator; // generator kind; empty: no generator
  millis interval{2000};
  bool autostart = true;
};

/// One mounted instance of the streaming service with its own namespace.
struct service_settings {
  std::string name;                    // e.g. "events"
  std::string path;                    // e.g. "/api/v1/events"
  std::vector<stream_settings> streams; // created at start
  std::string default_generator = "sample"; // kind for ".../start" of others
  millis default_interval{2000};
};

struct http_settings {
  std::string host = "0.0.0.0";
  uint16_t port = 8080;
  int reactor_threads = 1;
  size_t max_body_bytes = 64 * 1024;
  millis header_timeout{10000};   // first request on a connection
  millis body_timeout{30000};
  // Idle keep-alive connections (and later requests on them). An SSE
  // connection holds a second descriptor until this passes, so it is short.
  millis keepalive_timeout{5000};
  millis request_timeout{5000};    // waiting for an actor's reply
  millis drain_timeout{5000};      // SIGTERM: longest wait for streams to end
  std::string cors_origin = "*";
};

struct sse_settings {
  size_t mailbox_capacity = 100;
  overflow_policy overflow = overflow_policy::disconnect;
  millis heartbeat_interval{15000};
  millis retry{3000};
  // Frames for a subscriber wait at most this long to share one write with
  // the frames after them (0: write at once).
  millis coalesce{2};
  size_t history_size = 1000;
  size_t history_bytes = 8 * 1024 * 1024; // per stream
};

/// Protection against overload; 0 means unlimited.
struct limit_settings {
  size_t max_connections = 10000; // SSE connections in total
  size_t max_connections_per_stream = 0;
  size_t max_connections_per_ip = 0;
  size_t publish_rate = 0;   // broadcasts per second per client address
  size_t publish_burst = 50; // tokens a client may save up
  millis client_ttl{24 * 3600 * 1000}; // then: retry and reconnect
};

struct stream_limits {
  size_t max_streams = 10000;     // per service instance
  millis idle_retention{300000};  // keep a stream with no generator/subscribers
};

/// Several nodes sharing their streams through NATS JetStream. Off (a single
/// node without NATS) while `urls` is empty.
struct cluster_settings {
  std::vector<std::string> urls;   // e.g. nats://127.0.0.1:4222
  std::string node_name;           // empty: <hostname>:<port>
  std::string advertise_url;       // this node's HTTP URL for the others
  int replicas = 3;                // JetStream copies of each stream, 1..5
  int64_t history_messages = 100000; // events JetStream keeps per stream
  int64_t history_bytes = 0;       // bytes kept per stream, 0: unlimited
  millis history_age{0};           // age of the oldest kept event, 0: unlimited
  millis request_timeout{2000};    // one NATS request (publish ack, fetch)
  millis lease_ttl{4000};          // a dead node's generators move after this
  bool enabled() const { return !urls.empty(); }
};

struct settings {
  bool debug = false;
  int scheduler_threads = 2;
  http_settings http;
  sse_settings sse;
  stream_limits streams;
  limit_settings limits;
  cluster_settings cluster;
  std::vector<service_settings> services;
};

/// The two service instances of the API document, with their default streams.
service_settings default_events_service();
service_settings default_broadcast_demo_service();

/// Built-in defaults: both instances mounted, generators running.
settings default_settings();

} // namespace eventcast
