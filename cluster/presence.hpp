#pragma once

// Which Eventcast nodes are alive, and what each serves: a JetStream KV
// bucket with one key per node (its name, encoded) whose value is the node's
// latest report. The bucket's TTL drops the value of a node that stopped
// announcing (killed, cut off); a node that shuts down withdraws its key at
// once. A node announces every second or so, well within the TTL.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/expected.hpp"
#include "cluster/jetstream_link.hpp"

namespace eventcast::cluster {

struct stream_clients {
  std::string service;
  std::string stream_id;
  uint64_t clients = 0; // subscribers connected to this node
};

/// What one node announces about itself.
struct node_report {
  std::string node;       // link_config::node_name: unique in the cluster
  std::string url;        // where clients reach its HTTP server
  int64_t started_ms = 0; // its start, in ms since the Unix epoch
  std::vector<stream_clients> streams;
};

bool operator==(const stream_clients& a, const stream_clients& b);
bool operator==(const node_report& a, const node_report& b);

/// A report as its KV value: a first line "eventcast-node 1", then one line
/// per field ("node <name>", "url <url>", "started <ms>", and per stream
/// "stream <service> <stream id> <clients>"), texts written by encode_token.
std::string encode_node_report(const node_report& report);

/// The inverse of encode_node_report; nullopt for a malformed value. Lines
/// of unknown fields are skipped, so a newer node may add fields.
std::optional<node_report> decode_node_report(std::string_view text);

struct presence_config {
  std::string bucket = "eventcast_nodes"; // [A-Za-z0-9_-]
  millis ttl{6000}; // used when creating the bucket; an existing bucket's wins
  int replicas = 1;
};

/// The presence bucket as seen by one node. Thread-safe, and copies share
/// one handle. Each call waits at most the link's timeout and fails at once
/// with error_code::unavailable while NATS is unreachable; the bucket is
/// created (or bound) on first use, so opening succeeds while NATS is down.
class presence {
public:
  static expected<presence> open(const jetstream_link& link,
                                 presence_config cfg = {});

  /// Writes the report under its node's key, where it lives for one TTL.
  expected<void> announce(const node_report& report);

  /// The latest report of every live node, sorted by node name. Values that
  /// do not decode (a foreign writer) are left out.
  expected<std::vector<node_report>> nodes();

  /// Removes the node's key at once.
  expected<void> withdraw(std::string_view node);

private:
  struct state;
  explicit presence(std::shared_ptr<state> st);
  std::shared_ptr<state> state_;
};

/// Announces one node on a thread of its own: at once, then every
/// `interval` (> 0), with what `report` returns (called on that thread; it
/// must not call stop()). A failed announce is logged and the next one
/// tries again, so it rides out NATS outages without blocking anyone.
class presence_announcer {
public:
  using report_source = std::function<node_report()>;

  presence_announcer(presence target, report_source report,
                     millis interval = millis{1000});
  ~presence_announcer(); // stop(true)

  presence_announcer(const presence_announcer&) = delete;
  presence_announcer& operator=(const presence_announcer&) = delete;

  /// Ends the thread, waiting for an announce in flight (at most the link's
  /// timeout); then withdraws the last node announced if `withdraw` is set.
  /// A killed node withdraws nothing: its key expires by the TTL.
  /// Idempotent.
  void stop(bool withdraw = true);

  /// How many announces succeeded so far.
  uint64_t announced() const;

private:
  struct state;
  std::unique_ptr<state> state_;
};

} // namespace eventcast::cluster
