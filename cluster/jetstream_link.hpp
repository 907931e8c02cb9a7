#pragma once

// A node's connection to NATS JetStream: appends events, reads them back and
// consumes them in order. Plain C++17 over the NATS C client; actors/ wraps it.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/expected.hpp"
#include "cluster/names.hpp"

namespace eventcast::cluster {

using millis = std::chrono::milliseconds;

namespace detail {
struct link_core;
struct sub_state;
} // namespace detail

enum class connection_state { connected, disconnected, reconnected, closed };

const char* to_string(connection_state state);

/// How JetStream stores each Eventcast stream (one JetStream stream each).
struct stream_config {
  int replicas = 1;          // 3 in a 3-server cluster
  int64_t max_msgs = 100000; // retention per Eventcast stream; -1: unlimited
  int64_t max_bytes = -1;    // -1: unlimited
  millis max_age{0};         // 0: unlimited
  bool memory_storage = false;
  millis duplicate_window{120000}; // publish msg_id de-duplication
};

struct link_config {
  std::vector<std::string> urls{"nats://127.0.0.1:4222"};
  std::string node_name;       // this node: connection name, lease holder
  millis timeout{2000};        // each request: publish ack, admin, fetch
  millis reconnect_wait{250};  // reconnecting never gives up
  millis ping_interval{2000};  // with max_pings_out: finds a silent server
  int max_pings_out = 2;
  millis heartbeat{1000};      // consumers; two missed recreate it
  millis retry_interval{500};  // recreating a subscription's consumer
  stream_config streams;
};

/// One event as JetStream stores it: its sequence is the Eventcast id.
struct message {
  uint64_t seq = 0;
  std::string payload;
};

/// The bounds of a stream in JetStream. Empty: first_seq == last_seq + 1
/// (or both 0 for a stream that never had a message).
struct stream_state {
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  uint64_t messages = 0;
  std::string leader; // server name of the stream's leader; "" unclustered
};

/// Called with each event of a subscription, in sequence order, on the
/// subscription's own NATS delivery thread (one at a time). Must not block
/// for long: the consumer waits. A jump in seq means JetStream no longer
/// held the events in between (retention): they count as missed. Must not
/// close the link.
using message_handler = std::function<void(uint64_t seq,
                                            std::string_view payload)>;

/// Called on NATS's callback thread; must not call jetstream_link::close().
using state_handler = std::function<void(connection_state)>;

/// Delivery of one Eventcast stream's events, from a start sequence on, with
/// no gap and no duplicate: it survives reconnects, server restarts and
/// failovers by recreating its JetStream consumer after the last sequence it
/// delivered. Move-only; unsubscribes when destroyed.
class subscription {
public:
  subscription() = default;
  subscription(subscription&& other) noexcept = default;
  subscription& operator=(subscription&& other) noexcept;
  ~subscription();

  /// Waits only for a handler call in progress on another thread; once it
  /// returns the handler does not run again. May be called from the handler.
  /// The consumer is deleted on the server soon after, from the link's
  /// retrier thread.
  void unsubscribe();

  /// The sequence of the last event handed to the handler (or start_after).
  uint64_t last_seq() const;

  /// Whether a JetStream consumer feeds it now: false until one could be
  /// created, and from two missed heartbeats until it is recreated.
  bool consuming() const;

  /// How many times its consumer was (re)created.
  uint64_t consumers_created() const;

  explicit operator bool() const { return state_ != nullptr; }

private:
  friend class jetstream_link;
  explicit subscription(std::shared_ptr<detail::sub_state> state);
  std::shared_ptr<detail::sub_state> state_;
};

/// Owned by one node (shared by its actors: every member is thread-safe).
/// Connects in the background and reconnects forever; calls that need NATS
/// fail fast with error_code::unavailable while it is unreachable, and wait
/// at most `timeout` otherwise. Connection changes go to the state handler
/// on NATS's callback thread.
class jetstream_link {
public:
  /// Never waits for NATS: an unreachable NATS yields a link that connects
  /// later. Fails only on a bad configuration (no URL, bad URL).
  static expected<jetstream_link> connect(link_config cfg,
                                          state_handler on_state = {});

  jetstream_link(jetstream_link&&) noexcept = default;
  jetstream_link& operator=(jetstream_link&& other) noexcept;
  ~jetstream_link(); // closes; the state handler is not called any more

  bool connected() const;

  const link_config& config() const;

  /// Creates the JetStream stream of an Eventcast stream if it does not
  /// exist; an existing stream is taken as it is. Remembered per link.
  expected<void> ensure_stream(std::string_view service,
                               std::string_view stream_id);

  /// Appends `payload` and returns the sequence from JetStream's ack: the
  /// event's id. A non-empty `msg_id` (the event's evt_ id) makes a retry
  /// within the duplicate window return the first append's sequence. An
  /// error means not confirmed: never a false success.
  expected<uint64_t> publish(std::string_view service,
                             std::string_view stream_id,
                             std::string_view payload,
                             std::string_view msg_id = {});

  /// Delivers every event after `start_after` (0: from the beginning).
  /// Succeeds while NATS is down too: the consumer is created once it can.
  expected<subscription> subscribe(std::string_view service,
                                   std::string_view stream_id,
                                   uint64_t start_after,
                                   message_handler on_message);

  /// The events from `from_seq` to `to_seq` inclusive that JetStream still
  /// holds (at most `max`, oldest first), for a resume beyond the history
  /// ring. Waits at most `timeout`.
  expected<std::vector<message>> fetch_range(std::string_view service,
                                             std::string_view stream_id,
                                             uint64_t from_seq,
                                             uint64_t to_seq,
                                             size_t max = 10000);

  /// first_seq/last_seq for events_missed arithmetic; stream_not_found when
  /// the stream was never created.
  expected<stream_state> state(std::string_view service,
                               std::string_view stream_id);

  /// The ids of the service's Eventcast streams that exist in JetStream,
  /// created by any node; sorted. Waits at most `timeout`.
  expected<std::vector<std::string>> stream_ids(std::string_view service);

  /// Drops the connection without releasing anything (leases run out by
  /// their TTL): what a node's death looks like to the others. Idempotent.
  void close();

private:
  friend class lease;
  friend class desired_state_store;
  friend class presence;
  explicit jetstream_link(std::shared_ptr<detail::link_core> core);
  void shut_down();
  std::shared_ptr<detail::link_core> core_;
};

} // namespace eventcast::cluster
