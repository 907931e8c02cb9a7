#pragma once

// The sample events of the built-in generator kinds. Plain functions of a
// seed (and, for `system`, of the host): no threads, no timers.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/event.hpp"
#include "core/host_metrics.hpp"

namespace eventcast {

/// Produces the events of one generator tick. Owned by one generator actor.
class event_source {
public:
  virtual ~event_source() = default;
  /// The events of one tick, usually one; may be none or several.
  virtual std::vector<event_input> next() = 0;
};

/// `default` stream: user_action, notification and data_update events.
std::unique_ptr<event_source> make_default_source(uint64_t seed);

/// `system` stream: a metric_update with this host's real CPU, memory and
/// disk figures each tick, plus a system_alert when a figure crosses its
/// threshold (once per crossing, not every tick).
std::unique_ptr<event_source> make_system_source(host_probe probe);

/// `user-activity` stream: authentication, profile, permission and content
/// user_action events.
std::unique_ptr<event_source> make_user_activity_source(uint64_t seed);

/// `notifications` stream: notification events (push, alert, reminder,
/// announcement).
std::unique_ptr<event_source> make_notifications_source(uint64_t seed);

/// Any other stream: a generic data_update / notification sample naming the
/// stream.
std::unique_ptr<event_source> make_generic_source(std::string stream_id,
                                                  uint64_t seed);

} // namespace eventcast
