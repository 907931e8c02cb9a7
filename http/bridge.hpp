#pragma once

// A few long-lived actors that send actor requests on behalf of the Pistache
// threads, which must never wait: a job runs inside one of them and answers
// from the reply. Cheaper than an actor spawned per HTTP request. Each keeps
// the deadlines of the answers its jobs owe. (Publishes to one stream skip
// the bridge: see actors/stream_publisher.hpp.)

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include <caf/all.hpp>

#include "core/settings.hpp"

namespace eventcast::http {

/// An answer owed to a client. Touched only inside the bridge actor that
/// runs its job.
class pending_answer {
public:
  virtual ~pending_answer() = default;

  /// Answers that the server did not answer in time, unless answered.
  virtual void expire() = 0;
};

class request_bridge {
public:
  using job = std::function<void(caf::event_based_actor*)>;

  /// `timeout`: how long the answer of a job may take.
  request_bridge(caf::actor_system& sys, size_t actors, millis timeout);
  ~request_bridge();

  request_bridge(const request_bridge&) = delete;
  request_bridge& operator=(const request_bridge&) = delete;

  /// Runs `j` in one of the bridge actors (round robin); `answer` expires
  /// after the timeout unless answered (or gone) before. The job's requests
  /// need no timeout of their own: one deadline per answer, checked a few
  /// times per timeout, instead of two clock events per request. Any thread.
  void run(job j, std::weak_ptr<pending_answer> answer = {});

  /// Stops the actors; jobs still waiting for replies are dropped.
  void stop();

private:
  std::vector<caf::actor> actors_;
  std::atomic<size_t> next_{0};
};

} // namespace eventcast::http
