#pragma once

// The HTTP front end: Pistache parses requests; each one becomes one actor
// request whose reply is written by the output reactor.

#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "core/settings.hpp"

namespace eventcast::http {

/// A service instance mounted at `path`.
struct mount {
  std::string path;
  service_actor service;
};

class server {
public:
  server(caf::actor_system& sys, const settings& cfg,
         std::vector<mount> mounts);
  ~server();

  /// Binds and starts serving; throws std::runtime_error when it cannot.
  void start();

  uint16_t port() const;

  /// Stops accepting, ends every stream with a `retry:` within `drain`, and
  /// shuts the endpoint down.
  void stop(millis drain);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace eventcast::http
