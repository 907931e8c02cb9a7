#pragma once

// Generator actors and the registry of generator kinds. A kind is a name
// bound to a function that spawns the kind's actor; a new kind is a new actor
// type plus one registration line.

#include <functional>
#include <map>
#include <memory>
#include <string>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "core/samples.hpp"
#include "core/settings.hpp"

namespace eventcast {

struct generator_params {
  std::string stream_id;
  millis interval{2000};
  uint64_t seed = 0;
};

/// Spawns a generator that sends `post_atom, event_input` to `stream` on its
/// own schedule, understands `pause_atom` and `resume_atom`, and quits when
/// the stream goes down.
using generator_factory = std::function<caf::actor(
  caf::local_actor* parent, stream_actor stream, const generator_params&)>;

class generator_registry {
public:
  void add(std::string kind, generator_factory factory);
  bool contains(const std::string& kind) const;
  /// An invalid handle for an unknown kind.
  caf::actor spawn(const std::string& kind, caf::local_actor* parent,
                   stream_actor stream, const generator_params& params) const;

  /// default, system, user-activity, notifications and sample.
  static std::shared_ptr<generator_registry> with_builtin_kinds();

private:
  std::map<std::string, generator_factory> kinds_;
};

/// A kind whose actor ticks every interval and publishes what an
/// event_source made by `make_source` produces.
generator_factory sampling_kind(
  std::function<std::unique_ptr<event_source>(const generator_params&)>
    make_source);

} // namespace eventcast
