#pragma once

// What GET /api/v1/cluster shows: this node, its NATS connection, and the
// Eventcast nodes it sees.

#include <cstdint>
#include <string>
#include <vector>

namespace eventcast {

struct node_view {
  std::string name;
  std::string url;
  int64_t started_ms = 0;
  uint64_t streams = 0; // streams with subscribers on it
  uint64_t clients = 0;
};

struct cluster_view {
  bool enabled = false; // false: a single node without NATS
  std::string node;
  bool nats_connected = false;
  std::vector<std::string> nats_urls;
  std::vector<node_view> nodes; // every live node, this one included
  std::string error;            // why `nodes` could not be read
};

/// `{"success":true,"data":{"enabled":..,"node":..,"nats":{..},"nodes":[..]},
/// "timestamp":N}`
std::string cluster_body(const cluster_view& view);

} // namespace eventcast
