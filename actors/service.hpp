#pragma once

// The service actor: one per mounted service instance, the stream directory
// of its namespace.

#include <memory>

#include "actors/generator.hpp"
#include "actors/messages.hpp"
#include "actors/directory.hpp"
#include "core/settings.hpp"

namespace eventcast {

/// Spawns a service instance and starts its configured streams. In a
/// `cluster`, its streams keep their events in NATS JetStream.
service_actor spawn_service(caf::actor_system& sys, service_settings svc,
                            const settings& cfg,
                            std::shared_ptr<const generator_registry> registry,
                            cluster_membership cluster = {});

} // namespace eventcast
