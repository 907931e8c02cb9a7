#pragma once

// The stream actors' side of a cluster: every event of a stream is appended
// to its JetStream stream, whose acknowledgement gives the event its id, and
// comes back to every node's stream actor from a JetStream subscription.
// NATS calls block, so they run on detached worker actors, never on the
// scheduler's threads.

#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "cluster/jetstream_link.hpp"

namespace eventcast {

using append_atom = caf::atom_constant<caf::atom("append")>;
using open_atom = caf::atom_constant<caf::atom("open")>;
using fetch_atom = caf::atom_constant<caf::atom("fetch")>;
using list_atom = caf::atom_constant<caf::atom("list")>;

/// A stream's connection to its JetStream stream: the last stored sequence
/// when it was opened, and the subscription that delivers every later event
/// to the stream actor (`deliver_atom`) until it is destroyed.
struct opened_stream {
  uint64_t last_seq = 0;
  std::shared_ptr<cluster::subscription> feed;
};

/// Events JetStream still holds in a requested range, oldest first.
struct stored_events {
  std::vector<cluster::message> events;
};

using journal_worker = caf::typed_actor<
  caf::replies_to<open_atom, std::string, stream_actor>::with<opened_stream>,
  caf::replies_to<append_atom, std::string, std::string, std::string>::with<
    uint64_t>,
  caf::replies_to<fetch_atom, std::string, uint64_t, uint64_t>::with<
    stored_events>,
  caf::replies_to<list_atom>::with<std::vector<std::string>>>;

/// One service instance's view of the cluster, shared by its actors.
class cluster_journal {
public:
  /// Spawns `workers` detached actors on `link` for the service `service`.
  cluster_journal(caf::actor_system& sys,
                  std::shared_ptr<cluster::jetstream_link> link,
                  std::string service, size_t workers = 8);
  ~cluster_journal();

  cluster_journal(const cluster_journal&) = delete;
  cluster_journal& operator=(const cluster_journal&) = delete;

  /// The worker of a stream: always the same one, so a stream's appends
  /// keep the order in which its actor sent them.
  const journal_worker& worker_for(const std::string& stream_id) const;

  /// Any worker, for calls that are not about one stream.
  const journal_worker& any_worker() const { return workers_.front(); }

  /// A de-duplication key for an event, unique across the cluster.
  std::string message_id(const std::string& event_id) const;

  const std::string& service() const { return service_; }
  const std::shared_ptr<cluster::jetstream_link>& link() const {
    return link_;
  }

private:
  std::shared_ptr<cluster::jetstream_link> link_;
  std::string service_;
  std::vector<journal_worker> workers_;
};

/// Converts a cluster error at the actors' boundary.
caf::error make_error(const cluster::error& err);

} // namespace eventcast

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcast::opened_stream)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcast::stored_events)
