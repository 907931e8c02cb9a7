#pragma once

// Leases that make each generator run on exactly one node: a key in a
// JetStream KV bucket whose values expire after the bucket's TTL.
//
// Algorithm. The bucket keeps one value per key and drops values older than
// the TTL (server-side MaxAge, stamped by the server when it stores them).
// - acquire: write our node name if the key has no value (or an empty value,
//   left by a release, or our own name, left by an earlier life of this
//   node) -- a compare-and-set on the key's last revision, so of two nodes
//   racing only one succeeds;
// - renew: rewrite it, expecting the revision we last wrote;
// - release: overwrite it with "" expecting our revision;
// - a dead holder stops renewing; its value expires after the TTL and the
//   next acquire succeeds.
// The holder trusts its lease until (send time of its last successful
// write) + 3/4 TTL. The server stamped that write later than we sent it, so
// the value lives until at least send time + TTL: the holder gives up a
// quarter TTL before anyone else can take over. Every call waits at most a
// quarter TTL and never past that deadline. revision() grows with every
// write: a fencing token.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "cluster/expected.hpp"
#include "cluster/jetstream_link.hpp"

namespace eventcast::cluster {

struct lease_config {
  std::string bucket = "eventcast_leases"; // [A-Za-z0-9_-]
  millis ttl{4000}; // used when creating the bucket; an existing bucket's wins
  int replicas = 1;
};

/// One named lease, held for the link's node_name. Not thread-safe: one
/// owner drives it (a lease_keeper, or an actor on a blocking worker).
class lease {
public:
  /// `name` is a KV key, e.g. generator_key(service, stream id). Creates
  /// the bucket lazily, so it succeeds while NATS is down.
  static expected<lease> open(const jetstream_link& link, std::string name,
                              lease_config cfg = {});

  lease(lease&&) noexcept;
  lease& operator=(lease&&) noexcept;
  ~lease(); // does not release: a dead node releases nothing either

  /// True: we hold it now, until valid_until(). False: someone else does.
  expected<bool> try_acquire();

  /// True: still held, valid_until() moved on. False: lost (taken over, or
  /// expired). An error leaves it held until valid_until().
  expected<bool> renew();

  /// Frees it for the others at once. We stop holding it even on an error
  /// (then it expires by its TTL).
  expected<void> release();

  /// Held and not past valid_until().
  bool held() const;

  std::chrono::steady_clock::time_point valid_until() const;

  /// The revision of our last write: grows with every acquire and renew.
  uint64_t revision() const;

  /// The current holder's node name; "" when free.
  expected<std::string> holder();

  /// The bucket's TTL (the configured one until the bucket was read).
  millis ttl() const;

  const std::string& name() const;

private:
  struct state;
  explicit lease(std::unique_ptr<state> st);
  std::unique_ptr<state> state_;
};

/// Drives a lease on its own thread: acquires it whenever it is free, renews
/// it every quarter TTL while held, and reports each change to `on_change`
/// on that thread (true: we hold it; false: we no longer do, reported by
/// the lease's deadline at the latest). on_change must not call stop().
class lease_keeper {
public:
  using change_handler = std::function<void(bool held)>;

  lease_keeper(lease l, change_handler on_change);
  ~lease_keeper(); // stop(true)

  /// Ends the thread; releases the lease if held and `release` is set, and
  /// reports false if it was held. Idempotent.
  void stop(bool release = true);

  /// The last state reported.
  bool held() const;

private:
  struct state;
  std::unique_ptr<state> state_;
};

} // namespace eventcast::cluster
