#pragma once

// The stream actor: one per stream of a service instance.

#include <memory>
#include <string>

#include "actors/generator.hpp"
#include "actors/journal.hpp"
#include "actors/messages.hpp"
#include "core/settings.hpp"

namespace eventcast {

struct stream_config {
  std::string id;
  std::string generator_kind; // what `start` runs
  millis interval{2000};
  size_t history_size = 1000;
  size_t history_bytes = 8 * 1024 * 1024;
  size_t max_subscribers = 0; // 0: unlimited
  // Live events a subscriber may have unread, and what happens beyond.
  size_t live_capacity = 100;
  overflow_policy overflow = overflow_policy::disconnect;
  millis idle_retention{300000};
  // Cluster: where the stream's events are stored and numbered; null on a
  // single node, where the stream numbers them itself.
  std::shared_ptr<const cluster_journal> journal;
};

/// Spawns a stream. It tells `directory` (`idle_atom`) when it has had
/// neither subscribers nor generator for `cfg.idle_retention`.
stream_actor spawn_stream(caf::local_actor* parent, stream_config cfg,
                          std::shared_ptr<const generator_registry> registry,
                          service_actor directory);

} // namespace eventcast
