#pragma once

// Publishes to stream actors from any thread with no actor of its own in the
// path: the request goes from the caller's thread straight into the stream
// actor's mailbox, and the stream actor's reply runs the caller's callback
// on the thread that answers (through a CAF actor companion, which hands
// every message it is sent to a function instead of a mailbox). A publish
// costs the stream actor's turn and nothing else; an actor in between would
// add two more turns (the request and the reply) and a thread wake-up each.
//
// A stream is looked up through its service once and cached until its actor
// terminates; a publish that reaches a stream actor that has just quit is
// bounced by CAF and goes through the service, which creates a fresh stream.

#include <functional>
#include <memory>
#include <string>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "core/settings.hpp"

namespace eventcast {

class stream_publisher {
public:
  using on_published = std::function<void(caf::expected<published>)>;

  /// `timeout`: how long an answer may take before `done` gets
  /// `sec::request_timeout`.
  stream_publisher(caf::actor_system& sys, millis timeout);
  ~stream_publisher();

  stream_publisher(const stream_publisher&) = delete;
  stream_publisher& operator=(const stream_publisher&) = delete;

  /// Publishes `in` to stream `id` of `svc`. `done` runs once, on the thread
  /// that has the answer (a CAF worker; the caller's own for a destination
  /// that is already gone). Any thread; never blocks.
  void publish(const service_actor& svc, std::string id, event_input in,
               on_published done);

  /// Streams whose actors are cached.
  size_t cached() const;

  /// Replies that arrive from now on are dropped; callbacks still waiting
  /// are destroyed without being called.
  void stop();

private:
  struct state;
  std::shared_ptr<state> state_;
  caf::actor ticker_;
};

} // namespace eventcast
