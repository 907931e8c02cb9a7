#pragma once

// Cluster only: makes each generator of a service run on exactly one node.
// Operators' start/stop/pause/resume become the generator's desired state in
// a JetStream KV bucket, seen by every node; every node competes for a lease
// per generator, and the holder's service runs it as desired. A detached
// actor, because the KV calls block.

#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "cluster/jetstream_link.hpp"

namespace eventcast {

using control_atom = caf::atom_constant<caf::atom("control")>;
using watch_atom = caf::atom_constant<caf::atom("watch")>;

/// Asks for `op` (start_atom, stop_atom, pause_atom or resume_atom) on a
/// stream's generator: answers once the new desired state is stored, or
/// with conflict / stream_not_found / unavailable.
using steward_actor = caf::typed_actor<
  caf::replies_to<control_atom, caf::atom_value, std::string>::with<
    caf::ok_atom>,
  caf::reacts_to<desired_atom, std::string, std::string>,
  caf::reacts_to<watch_atom>>;

struct steward_config {
  std::string service;
  std::vector<std::string> autostart; // streams whose generator runs unless
                                      // an operator stopped it
  millis lease_ttl{4000};
  int replicas = 1;
};

/// The service `owner` gets `desired_atom, stream id, state` for every
/// stored desired state ("running", "paused", "stopped"; "" when erased)
/// and `lease_atom, stream id, held` when this node gains or loses a
/// generator's lease.
steward_actor spawn_steward(caf::actor_system& sys, service_actor owner,
                            std::shared_ptr<cluster::jetstream_link> link,
                            steward_config cfg);

} // namespace eventcast
