#pragma once

// The service actor: one per mounted service instance, the stream directory
// of its namespace.

#include <memory>

#include "actors/generator.hpp"
#include "actors/messages.hpp"
#include "cluster/jetstream_link.hpp"
#include "core/settings.hpp"

namespace eventcast {

/// Spawns a service instance and starts its configured streams. With a
/// `link`, its streams keep their events in NATS JetStream (a cluster node).
service_actor spawn_service(caf::actor_system& sys, service_settings svc,
                            const settings& cfg,
                            std::shared_ptr<const generator_registry> registry,
                            std::shared_ptr<cluster::jetstream_link> link = {});

} // namespace eventcast
