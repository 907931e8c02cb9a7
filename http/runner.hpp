#pragma once

// Runs a whole server process: signals, actor system, services, HTTP front
// end, and the shutdown order. Used by eventcast and by embedding programs.

#include <functional>
#include <memory>
#include <vector>

#include "actors/generator.hpp"
#include "core/settings.hpp"
#include "http/server.hpp"

namespace eventcast::http {

/// One service actor per configured instance, with the given generator kinds.
std::vector<mount>
spawn_services(caf::actor_system& sys, const settings& cfg,
               std::shared_ptr<const generator_registry> registry);

using mount_fn = std::function<std::vector<mount>(caf::actor_system&)>;

/// Blocks SIGINT and SIGTERM, starts the actor system and the services that
/// `make_mounts` spawns, serves HTTP until a signal, then drains the streams
/// and stops in order. Returns the process exit code.
int run_server(const settings& cfg, const mount_fn& make_mounts);

} // namespace eventcast::http
