#include "core/cluster_view.hpp"

#include "core/json.hpp"
#include "core/stream_info.hpp"

namespace eventcast {

namespace {

std::string node_json(const node_view& n) {
  return json::object_writer{}
    .field("node", n.name)
    .field("url", n.url)
    .field("started_ms", n.started_ms)
    .field("streams", n.streams)
    .field("clients", n.clients)
    .str();
}

template <class T, class ToJson>
std::string array_of(const std::vector<T>& xs, ToJson to_json) {
  std::string out = "[";
  for (size_t i = 0; i < xs.size(); ++i)
    out += (i > 0 ? "," : "") + to_json(xs[i]);
  return out + "]";
}

std::string string_json(const std::string& s) {
  std::string out;
  json::append_string(out, s);
  return out;
}

std::string nats_json(const cluster_view& view) {
  return json::object_writer{}
    .field("connected", view.nats_connected)
    .raw_field("urls", array_of(view.nats_urls, string_json))
    .str();
}

} // namespace

std::string cluster_body(const cluster_view& view) {
  json::object_writer data;
  data.field("enabled", view.enabled);
  if (view.enabled) {
    data.field("node", view.node)
      .raw_field("nats", nats_json(view))
      .raw_field("nodes", array_of(view.nodes, node_json));
    if (!view.error.empty())
      data.field("error", view.error);
  }
  return data_body(data.str());
}

} // namespace eventcast
