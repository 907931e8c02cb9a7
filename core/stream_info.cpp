#include "core/stream_info.hpp"

#include "core/event.hpp"
#include "core/json.hpp"

namespace eventcast {

namespace {

std::string stream_json(const stream_info& s) {
  auto generator = json::object_writer{}
                     .field("running", s.generator_running)
                     .field("paused", s.generator_paused);
  if (!s.generator_kind.empty())
    generator.field("kind", s.generator_kind);
  json::object_writer info;
  info.field("clients", s.clients);
  if (!s.clients_by_node.empty()) {
    json::object_writer nodes;
    for (auto& [node, clients] : s.clients_by_node)
      nodes.field(node, clients);
    info.raw_field("nodes", nodes.str());
  }
  return info.field("active", true)
    .raw_field("generator", generator.str())
    .field("last_event_id", s.last_event_id)
    .field("events_published", s.events_published)
    .field("dropped_events", s.dropped_events)
    .field("slow_disconnects", s.slow_disconnects)
    .field("generator_restarts", s.generator_restarts)
    .str();
}

} // namespace

std::string streams_body(const std::vector<stream_info>& streams) {
  json::object_writer data;
  for (auto& s : streams)
    data.raw_field(s.id, stream_json(s));
  return data_body(data.str());
}

std::string data_body(std::string_view data_json) {
  return json::object_writer{}
    .field("success", true)
    .raw_field("data", data_json)
    .field("timestamp", unix_now())
    .str();
}

std::string success_body(std::string_view message, std::string_view data_json) {
  json::object_writer w;
  w.field("success", true).field("message", message);
  if (!data_json.empty())
    w.raw_field("data", data_json);
  return w.field("timestamp", unix_now()).str();
}

} // namespace eventcast
