#pragma once

// A few long-lived actors that send actor requests on behalf of the Pistache
// threads, which must never wait: a job runs inside one of them and answers
// from the reply. Cheaper than an actor spawned per HTTP request. Each keeps
// a stream cache, so that publishes skip the service actor.

#include <atomic>
#include <functional>
#include <vector>

#include <caf/all.hpp>

#include "actors/stream_cache.hpp"

namespace eventcast::http {

class request_bridge {
public:
  using job = std::function<void(caf::event_based_actor*, stream_cache&)>;

  request_bridge(caf::actor_system& sys, size_t actors);
  ~request_bridge();

  request_bridge(const request_bridge&) = delete;
  request_bridge& operator=(const request_bridge&) = delete;

  /// Runs `j` in one of the bridge actors (round robin). Any thread.
  void run(job j);

  /// Stops the actors; jobs still waiting for replies are dropped.
  void stop();

private:
  std::vector<caf::actor> actors_;
  std::atomic<size_t> next_{0};
};

} // namespace eventcast::http
