#pragma once

// What the service reports about one stream, and the response bodies of the
// document's JSON shapes.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace eventcast {

struct stream_info {
  std::string id;
  uint64_t clients = 0;
  bool generator_running = false;
  bool generator_paused = false;
  std::string generator_kind;
  uint64_t last_event_id = 0;
  uint64_t events_published = 0;
  uint64_t dropped_events = 0;    // drop_oldest drops
  uint64_t slow_disconnects = 0;  // mailboxes closed on overflow
  uint64_t generator_restarts = 0;
  // Cluster: subscribers per node (node name, clients); `clients` is their
  // sum. Empty on a single node.
  std::vector<std::pair<std::string, uint64_t>> clients_by_node;
};

/// `{"success":true,"data":{"<id>":{"clients":..,"active":true,
/// "generator":{"running":..,"paused":..},...}},"timestamp":N}`
std::string streams_body(const std::vector<stream_info>& streams);

/// `{"success":true,"data":<data_json>,"timestamp":N}`
std::string data_body(std::string_view data_json);

/// `{"success":true,"message":..,"timestamp":N}`, with an optional `data`
/// object (already JSON).
std::string success_body(std::string_view message,
                         std::string_view data_json = {});

} // namespace eventcast
