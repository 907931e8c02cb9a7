#pragma once

// Maps a request's method and path to what it asks for. Pure: the HTTP
// layer turns the result into an actor request or an error.

#include <string>
#include <string_view>
#include <vector>

namespace eventcast {

enum class route_kind {
  subscribe,  // GET  {service}/stream/{id}
  broadcast,  // POST {service}/broadcast
  streams,    // GET  {service}/streams
  start,      // POST {service}/stream/{id}/start
  stop,
  pause,
  resume,
  preflight,  // OPTIONS on any known route
  health,     // GET /health
  cluster,    // GET /api/v1/cluster
  not_found,
  method_not_allowed,
  bad_stream_id,
};

struct route_match {
  route_kind kind = route_kind::not_found;
  size_t service = 0;     // index into the service paths
  std::string stream_id;  // for stream routes
  const char* allow = ""; // methods of the route, for 405 and preflight
};

/// `service_paths` are the mount points, e.g. "/api/v1/events".
route_match match_route(std::string_view method, std::string_view path,
                        const std::vector<std::string>& service_paths);

} // namespace eventcast
