#pragma once

// The message vocabulary of Eventcast's actors: atoms, message types, error
// conversion and one typed_actor alias per actor.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "core/cluster_view.hpp"
#include "core/errors.hpp"
#include "core/event.hpp"
#include "core/mailbox.hpp"
#include "core/stream_info.hpp"

namespace eventcast {

using start_atom = caf::atom_constant<caf::atom("start")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using pause_atom = caf::atom_constant<caf::atom("pause")>;
using resume_atom = caf::atom_constant<caf::atom("resume")>;
using unsub_atom = caf::atom_constant<caf::atom("unsub")>;
using publish_all_atom = caf::atom_constant<caf::atom("pub_all")>;
using post_atom = caf::atom_constant<caf::atom("post")>;
using respawn_atom = caf::atom_constant<caf::atom("respawn")>;
using retire_atom = caf::atom_constant<caf::atom("retire")>;
using idle_atom = caf::atom_constant<caf::atom("idle_chk")>;
using clients_atom = caf::atom_constant<caf::atom("clients")>;
using deliver_atom = caf::atom_constant<caf::atom("deliver")>;
using resync_atom = caf::atom_constant<caf::atom("resync")>;
using catch_up_atom = caf::atom_constant<caf::atom("catch_up")>;
using desired_atom = caf::atom_constant<caf::atom("desired")>;
using lease_atom = caf::atom_constant<caf::atom("lease")>;
using local_atom = caf::atom_constant<caf::atom("local")>;
using cluster_atom = caf::atom_constant<caf::atom("cluster")>;
using lookup_atom = caf::atom_constant<caf::atom("lookup")>;

/// A new subscriber: its id, the mailbox the stream pushes frames into, and
/// the last event id it saw (a reconnect), if any.
struct subscription {
  uint64_t client_id = 0;
  std::shared_ptr<mailbox> inbox;
  std::optional<uint64_t> last_event_id;
};

/// The answer to a publish: the event's stream sequence and its EventData id;
/// `stored` when JetStream acknowledged it (a cluster), not only memory.
struct published {
  uint64_t seq = 0;
  std::string event_id;
  bool stored = false;
  uint64_t fanout = 0; // the subscribers it reaches on this node
};

/// Turns a project error into a caf::error carrying the message as context.
caf::error make_error(error_code code, std::string message);

/// The code and message of a caf::error from our actors; request timeouts
/// and dead actors map to `timeout` and `unavailable`.
struct error_view {
  error_code code;
  std::string message;
};
error_view view(const caf::error& err);

/// One per stream: subscribers, sequence counter, history ring, generator.
using stream_actor = caf::typed_actor<
  caf::replies_to<caf::subscribe_atom, subscription>::with<uint64_t>,
  caf::reacts_to<unsub_atom, uint64_t>,
  caf::replies_to<caf::publish_atom, event_input>::with<published>,
  caf::reacts_to<post_atom, event_input>,
  caf::replies_to<start_atom>::with<caf::ok_atom>,
  caf::replies_to<stop_atom>::with<caf::ok_atom>,
  caf::replies_to<pause_atom>::with<caf::ok_atom>,
  caf::replies_to<resume_atom>::with<caf::ok_atom>,
  caf::replies_to<caf::get_atom>::with<stream_info>,
  caf::replies_to<clients_atom>::with<std::vector<uint64_t>>,
  caf::replies_to<retire_atom>::with<bool>,
  caf::reacts_to<respawn_atom, uint64_t>,
  caf::reacts_to<idle_atom>,
  // Cluster only: an event from JetStream, retrying the JetStream feed,
  // bringing one subscriber up to date.
  caf::reacts_to<deliver_atom, uint64_t, std::string>,
  caf::reacts_to<resync_atom>,
  caf::reacts_to<catch_up_atom, uint64_t>>;

/// One per service instance: the stream directory of its namespace.
using service_actor = caf::typed_actor<
  caf::replies_to<caf::subscribe_atom, std::string, subscription>::with<
    uint64_t>,
  caf::reacts_to<unsub_atom, std::string, uint64_t>,
  caf::replies_to<caf::publish_atom, std::string, event_input>::with<published>,
  caf::replies_to<publish_all_atom, event_input>::with<uint64_t>,
  // The stream's own actor (created if needed), to publish to it directly.
  caf::replies_to<lookup_atom, std::string>::with<stream_actor>,
  caf::replies_to<start_atom, std::string>::with<caf::ok_atom>,
  caf::replies_to<stop_atom, std::string>::with<caf::ok_atom>,
  caf::replies_to<pause_atom, std::string>::with<caf::ok_atom>,
  caf::replies_to<resume_atom, std::string>::with<caf::ok_atom>,
  caf::replies_to<caf::get_atom>::with<std::vector<stream_info>>,
  caf::replies_to<caf::get_atom, std::string>::with<stream_info>,
  caf::replies_to<clients_atom, std::string>::with<std::vector<uint64_t>>,
  // This node's streams only (get_atom counts the whole cluster's clients),
  // and what this node sees of the cluster.
  caf::replies_to<local_atom>::with<std::vector<stream_info>>,
  caf::replies_to<cluster_atom>::with<cluster_view>,
  caf::reacts_to<idle_atom, std::string>,
  // Cluster only, from the steward: a generator's desired state, and this
  // node's lease on it.
  caf::reacts_to<desired_atom, std::string, std::string>,
  caf::reacts_to<lease_atom, std::string, bool>>;

} // namespace eventcast

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcast::subscription)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcast::published)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcast::event_input)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcast::stream_info)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<eventcast::stream_info>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcast::cluster_view)
