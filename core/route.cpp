#include "core/route.hpp"

#include <utility>

#include "core/validate.hpp"

namespace eventcast {

namespace {

struct action_row {
  std::string_view suffix;
  route_kind kind;
};

constexpr action_row stream_actions[] = {
  {"/start", route_kind::start},
  {"/stop", route_kind::stop},
  {"/pause", route_kind::pause},
  {"/resume", route_kind::resume},
};

// The route a path names and the one method it takes.
struct target {
  route_kind kind;
  std::string_view method;
  std::string stream_id;
};

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size()
         && s.substr(s.size() - suffix.size()) == suffix;
}

// `rest` is the path below the service's mount point.
bool find_target(std::string_view rest, target& out) {
  if (rest == "/broadcast") {
    out = {route_kind::broadcast, "POST", {}};
    return true;
  }
  if (rest == "/streams") {
    out = {route_kind::streams, "GET", {}};
    return true;
  }
  if (!starts_with(rest, "/stream/"))
    return false;
  auto tail = rest.substr(8);
  for (auto& action : stream_actions)
    if (ends_with(tail, action.suffix)) {
      auto id = tail.substr(0, tail.size() - action.suffix.size());
      if (id.find('/') == std::string_view::npos) {
        out = {action.kind, "POST", std::string{id}};
        return true;
      }
    }
  if (tail.find('/') != std::string_view::npos)
    return false;
  out = {route_kind::subscribe, "GET", std::string{tail}};
  return true;
}

const char* allow_header(std::string_view method) {
  return method == "GET" ? "GET, OPTIONS" : "POST, OPTIONS";
}

/// Routes of the node rather than of a service: GET only.
constexpr std::pair<std::string_view, route_kind> node_routes[] = {
  {"/health", route_kind::health},
  {"/api/v1/cluster", route_kind::cluster},
};

route_match resolve(std::string_view method, size_t service, target t) {
  route_match m;
  m.service = service;
  m.allow = allow_header(t.method);
  m.stream_id = std::move(t.stream_id);
  bool needs_id = t.kind != route_kind::broadcast
                  && t.kind != route_kind::streams;
  if (method == "OPTIONS")
    m.kind = route_kind::preflight;
  else if (method != t.method)
    m.kind = route_kind::method_not_allowed;
  else if (needs_id && !valid_stream_id(m.stream_id))
    m.kind = route_kind::bad_stream_id;
  else
    m.kind = t.kind;
  return m;
}

} // namespace

route_match match_route(std::string_view method, std::string_view path,
                        const std::vector<std::string>& service_paths) {
  for (auto& [node_path, kind] : node_routes)
    if (path == node_path) {
      route_match m;
      m.allow = "GET, OPTIONS";
      m.kind = method == "GET"       ? kind
               : method == "OPTIONS" ? route_kind::preflight
                                     : route_kind::method_not_allowed;
      return m;
    }
  for (size_t i = 0; i < service_paths.size(); ++i) {
    auto& base = service_paths[i];
    if (!starts_with(path, base))
      continue;
    target t;
    if (find_target(path.substr(base.size()), t))
      return resolve(method, i, std::move(t));
  }
  return {};
}

} // namespace eventcast
