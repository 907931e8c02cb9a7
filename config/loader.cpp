#include "config/loader.hpp"

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <limits>
#include <optional>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "core/validate.hpp"

namespace eventcast::config {

config_error::config_error(std::string key, const std::string& message)
  : std::runtime_error(message), key_(std::move(key)) {
  // nop
}

namespace {

// Nodes are only ever read through `const node&`: yaml-cpp's non-const
// operator[] inserts missing keys.
using node = YAML::Node;

constexpr uint64_t no_limit = std::numeric_limits<uint64_t>::max();

// Long enough for idle retention, short enough that `now() + d` in
// nanoseconds cannot overflow anywhere below us.
constexpr millis max_duration{365LL * 24 * 3600 * 1000};

// -- errors -------------------------------------------------------------------

[[noreturn]] void fail(const std::string& key, const std::string& problem) {
  throw config_error(key, key + ": " + problem);
}

std::string quote(std::string_view text) {
  constexpr size_t max_shown = 60;
  if (text.size() <= max_shown)
    return '"' + std::string{text} + '"';
  return '"' + std::string{text.substr(0, max_shown)} + "...\"";
}

// How a value reads in a message: scalars quoted, the rest by kind.
std::string describe(const node& x) {
  switch (x.Type()) {
    case YAML::NodeType::Scalar:
      return quote(x.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    default:
      return "an empty value";
  }
}

[[noreturn]] void fail_got(const std::string& key, const std::string& expected,
                           const node& x) {
  fail(key, "must be " + expected + ", got " + describe(x));
}

std::string join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string index_key(const std::string& key, size_t i) {
  return key + "[" + std::to_string(i) + "]";
}

// -- scalars ------------------------------------------------------------------

std::string range_text(uint64_t min, uint64_t max) {
  if (min == 1 && max == no_limit)
    return "a positive integer";
  return "an integer in " + std::to_string(min) + ".." + std::to_string(max);
}

uint64_t read_uint(const node& x, const std::string& key, uint64_t min,
                   uint64_t max) {
  auto n = x.IsScalar() ? parse_decimal(x.Scalar()) : std::nullopt;
  if (!n || *n < min || *n > max)
    fail_got(key, range_text(min, max), x);
  return *n;
}

bool read_bool(const node& x, const std::string& key) {
  bool result = false;
  if (!x.IsScalar() || !YAML::convert<bool>::decode(x, result))
    fail_got(key, "true or false", x);
  return result;
}

std::string read_string(const node& x, const std::string& key) {
  if (!x.IsScalar())
    fail_got(key, "a string", x);
  return x.Scalar();
}

bool has_control_char(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

std::optional<uint64_t> unit_millis(std::string_view unit) {
  if (unit == "ms")
    return 1;
  if (unit == "s")
    return 1000;
  if (unit == "m")
    return 60 * 1000;
  if (unit == "h")
    return 3600 * 1000;
  return std::nullopt;
}

// Returns nullopt for anything that is not <digits><unit>; clamps to
// max_duration + 1ms so that the caller reports "too long".
std::optional<millis> to_duration(std::string_view text) {
  auto digits = text.find_first_not_of("0123456789");
  if (digits == std::string_view::npos || digits == 0)
    return std::nullopt;
  auto n = parse_decimal(text.substr(0, digits));
  auto scale = unit_millis(text.substr(digits));
  if (!n || !scale)
    return std::nullopt;
  auto limit = static_cast<uint64_t>(max_duration.count());
  if (*n > limit / *scale)
    return max_duration + millis{1};
  return millis{static_cast<millis::rep>(*n * *scale)};
}

std::string duration_text(millis d) {
  auto ms = d.count();
  if (ms % (3600 * 1000) == 0)
    return std::to_string(ms / (3600 * 1000)) + "h";
  if (ms % 1000 == 0)
    return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

millis read_duration(const node& x, const std::string& key,
                     millis min = millis{1}) {
  auto d = x.IsScalar() ? to_duration(x.Scalar()) : std::nullopt;
  if (!d && x.IsScalar() && parse_decimal(x.Scalar()))
    fail(key, quote(x.Scalar()) + " has no unit; add one of ms, s, m, h"
                " (e.g. \"" + x.Scalar() + "s\")");
  if (!d)
    fail_got(key, "a duration such as \"500ms\", \"15s\", \"5m\" or \"24h\"",
             x);
  if (*d < min)
    fail_got(key, min == millis{1} ? std::string{"greater than 0"}
                                   : "at least " + duration_text(min),
             x);
  if (*d > max_duration)
    fail_got(key, "at most " + duration_text(max_duration), x);
  return *d;
}

// -- text rules ---------------------------------------------------------------

// A test for a string value and what the error says the value must be.
struct text_rule {
  bool (*valid)(std::string_view);
  const char* expected;
};

std::string checked(std::string text, const std::string& key,
                    const text_rule& rule) {
  if (!rule.valid(text))
    fail(key, "must be " + std::string{rule.expected} + ", got " + quote(text));
  return text;
}

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
         || (c >= '0' && c <= '9');
}

bool path_char(char c) {
  return is_alnum(c) || c == '-' || c == '_' || c == '.' || c == '~'
         || c == '/';
}

// Also rules out the router's own syntax (`:param`, `*`) and dot segments.
bool valid_service_path(std::string_view path) {
  if (path.size() < 2 || path.front() != '/' || path.back() == '/')
    return false;
  if (!std::all_of(path.begin(), path.end(), path_char))
    return false;
  std::string with_end{path};
  with_end += '/';
  for (const char* bad : {"//", "/./", "/../"})
    if (with_end.find(bad) != std::string::npos)
      return false;
  return true;
}

constexpr text_rule service_path_rule{
  valid_service_path,
  "a path such as \"/api/v1/orders\" (leading '/', no trailing '/',"
  " segments of letters, digits, '-', '_', '.', '~')"};

bool host_char(char c) {
  return is_alnum(c) || c == '-' || c == '_' || c == '.';
}

bool ipv6_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
         || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
}

// "host" or "host:port": a name or IPv4 address, or an IPv6 address in
// brackets; the port 1..65535.
bool valid_authority(std::string_view text) {
  bool bracketed = !text.empty() && text.front() == '[';
  auto end = text.find(bracketed ? ']' : ':');
  if (bracketed && end == std::string_view::npos)
    return false;
  auto host = bracketed ? text.substr(1, end - 1) : text.substr(0, end);
  auto port = end == std::string_view::npos
                ? std::string_view{}
                : text.substr(bracketed ? end + 1 : end);
  if (host.empty()
      || !std::all_of(host.begin(), host.end(),
                      bracketed ? ipv6_char : host_char))
    return false;
  auto n = port.empty() ? std::nullopt : parse_decimal(port.substr(1));
  return port.empty() || (port.front() == ':' && n && *n >= 1 && *n <= 65535);
}

// `scheme://authority`, followed by a path (as for a service) only if
// `with_path`.
bool valid_url(std::string_view text,
               std::initializer_list<std::string_view> schemes,
               bool with_path) {
  auto sep = text.find("://");
  if (sep == std::string_view::npos
      || std::find(schemes.begin(), schemes.end(), text.substr(0, sep))
           == schemes.end())
    return false;
  auto rest = text.substr(sep + 3);
  auto slash = rest.find('/');
  if (slash == std::string_view::npos)
    return valid_authority(rest);
  return with_path && valid_authority(rest.substr(0, slash))
         && valid_service_path(rest.substr(slash));
}

constexpr text_rule nats_url_rule{
  [](std::string_view text) { return valid_url(text, {"nats", "tls"}, false); },
  "a NATS URL such as \"nats://10.0.0.1:4222\" (nats:// or tls://, a host,"
  " an optional port)"};

constexpr text_rule advertise_url_rule{
  [](std::string_view text) {
    return text.empty() || valid_url(text, {"http", "https"}, true);
  },
  "empty or a URL such as \"http://10.0.0.1:8080\" (http:// or https://,"
  " a host, an optional port and path)"};

constexpr size_t max_node_name_length = 64;

constexpr text_rule node_name_rule{
  [](std::string_view text) {
    auto ok = [](char c) { return host_char(c) || c == ':'; };
    return text.size() <= max_node_name_length
           && std::all_of(text.begin(), text.end(), ok);
  },
  "at most 64 letters, digits, '-', '_', '.' or ':' (empty: derived)"};

std::string trimmed(std::string_view text) {
  auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos)
    return {};
  auto last = text.find_last_not_of(" \t");
  return std::string{text.substr(first, last - first + 1)};
}

// Splits "a, b,c" at commas, trimming blanks around each item; each item
// must pass `rule`.
std::vector<std::string> split_checked(std::string_view text,
                                       const std::string& key,
                                       const text_rule& rule) {
  std::vector<std::string> result;
  for (size_t start = 0;;) {
    auto comma = text.find(',', start);
    auto item = trimmed(text.substr(start, comma - start));
    result.push_back(checked(std::move(item), key, rule));
    if (comma == std::string_view::npos)
      return result;
    start = comma + 1;
  }
}

// -- mappings -----------------------------------------------------------------

using handler = std::function<void(const node&, const std::string&)>;

struct field {
  const char* name;
  handler apply;
};

std::string names_of(const std::vector<field>& fields) {
  std::string result;
  for (const auto& f : fields)
    result += (result.empty() ? "" : ", ") + std::string{f.name};
  return result;
}

// Calls `visit(key, value, key_path)` for each entry of a mapping, in
// document order. A null node counts as an empty mapping, so that a section
// whose keys are all commented out is accepted.
void for_each_entry(
  const node& map, const std::string& path,
  const std::function<void(const std::string&, const node&,
                           const std::string&)>& visit) {
  if (map.IsNull())
    return;
  if (!map.IsMap())
    fail_got(path, "a mapping", map);
  std::vector<std::string> seen;
  for (const auto& entry : map) {
    if (!entry.first.IsScalar())
      fail(path.empty() ? "document" : path,
           "keys must be plain names, got " + describe(entry.first));
    auto name = entry.first.Scalar();
    auto key_path = join(path, name);
    if (std::find(seen.begin(), seen.end(), name) != seen.end())
      throw config_error(key_path, "duplicate key '" + key_path + "'");
    seen.push_back(name);
    visit(name, entry.second, key_path);
  }
}

void apply_fields(const node& map, const std::string& path,
                  const std::vector<field>& fields) {
  for_each_entry(map, path, [&](const std::string& name, const node& value,
                                const std::string& key_path) {
    auto has_name = [&](const field& f) { return name == f.name; };
    auto i = std::find_if(fields.begin(), fields.end(), has_name);
    if (i == fields.end())
      throw config_error(key_path, "unknown key '" + key_path
                                     + "' (expected one of: "
                                     + names_of(fields) + ")");
    i->apply(value, key_path);
  });
}

template <class T>
handler uint_field(T& dst, uint64_t min,
                   uint64_t max = std::numeric_limits<T>::max()) {
  return [&dst, min, max](const node& x, const std::string& key) {
    dst = static_cast<T>(read_uint(x, key, min, max));
  };
}

handler bool_field(bool& dst) {
  return [&dst](const node& x, const std::string& key) {
    dst = read_bool(x, key);
  };
}

handler duration_field(millis& dst, millis min = millis{1}) {
  return [&dst, min](const node& x, const std::string& key) {
    dst = read_duration(x, key, min);
  };
}

handler text_field(std::string& dst, bool allow_empty) {
  return [&dst, allow_empty](const node& x, const std::string& key) {
    auto text = read_string(x, key);
    if ((text.empty() && !allow_empty) || has_control_char(text))
      fail_got(key,
               allow_empty ? "a string without control characters"
                           : "a non-empty string without control characters",
               x);
    dst = std::move(text);
  };
}

handler checked_text_field(std::string& dst, text_rule rule) {
  return [&dst, rule](const node& x, const std::string& key) {
    dst = checked(read_string(x, key), key, rule);
  };
}

// A list of strings, or one string of comma-separated items; null is an
// empty list.
handler text_list_field(std::vector<std::string>& dst, text_rule rule) {
  return [&dst, rule](const node& x, const std::string& key) {
    if (x.IsScalar()) {
      dst = split_checked(x.Scalar(), key, rule);
      return;
    }
    if (!x.IsNull() && !x.IsSequence())
      fail_got(key, "a list of strings or one comma-separated string", x);
    std::vector<std::string> result;
    for (size_t i = 0; i < x.size(); ++i) {
      auto item_key = index_key(key, i);
      result.push_back(checked(read_string(x[i], item_key), item_key, rule));
    }
    dst = std::move(result);
  };
}

handler overflow_field(overflow_policy& dst) {
  return [&dst](const node& x, const std::string& key) {
    auto text = x.IsScalar() ? x.Scalar() : std::string{};
    if (text == "disconnect")
      dst = overflow_policy::disconnect;
    else if (text == "drop_oldest")
      dst = overflow_policy::drop_oldest;
    else
      fail_got(key, "disconnect or drop_oldest", x);
  };
}

// -- sections -----------------------------------------------------------------

handler app_section(settings& cfg) {
  return [&cfg](const node& x, const std::string& path) {
    apply_fields(x, path,
                 {{"debug", bool_field(cfg.debug)},
                  {"scheduler_threads", uint_field(cfg.scheduler_threads, 1,
                                                   64)}});
  };
}

handler server_section(http_settings& http) {
  return [&http](const node& x, const std::string& path) {
    apply_fields(
      x, path,
      {{"host", text_field(http.host, false)},
       {"port", uint_field(http.port, 0)},
       {"reactor_threads", uint_field(http.reactor_threads, 1, 64)},
       {"max_body_bytes", uint_field(http.max_body_bytes, 1, no_limit)},
       {"header_timeout", duration_field(http.header_timeout)},
       {"body_timeout", duration_field(http.body_timeout)},
       {"keepalive_timeout", duration_field(http.keepalive_timeout)},
       {"request_timeout", duration_field(http.request_timeout)},
       {"drain_timeout", duration_field(http.drain_timeout)},
       {"cors_origin", text_field(http.cors_origin, true)}});
  };
}

handler sse_section(sse_settings& sse) {
  return [&sse](const node& x, const std::string& path) {
    apply_fields(
      x, path,
      {{"mailbox_capacity", uint_field(sse.mailbox_capacity, 1, no_limit)},
       {"overflow_policy", overflow_field(sse.overflow)},
       {"heartbeat_interval", duration_field(sse.heartbeat_interval,
                                             millis{100})},
       {"retry", duration_field(sse.retry)},
       {"coalesce", duration_field(sse.coalesce, millis{0})},
       {"history_size", uint_field(sse.history_size, 1, no_limit)},
       {"history_bytes", uint_field(sse.history_bytes, 1, no_limit)}});
  };
}

handler streams_section(stream_limits& limits) {
  return [&limits](const node& x, const std::string& path) {
    apply_fields(x, path,
                 {{"max_streams", uint_field(limits.max_streams, 1, no_limit)},
                  {"idle_retention", duration_field(limits.idle_retention)}});
  };
}

handler limits_section(limit_settings& limits) {
  return [&limits](const node& x, const std::string& path) {
    apply_fields(
      x, path,
      {{"max_connections", uint_field(limits.max_connections, 0, no_limit)},
       {"max_connections_per_stream",
        uint_field(limits.max_connections_per_stream, 0, no_limit)},
       {"max_connections_per_ip",
        uint_field(limits.max_connections_per_ip, 0, no_limit)},
       {"publish_rate", uint_field(limits.publish_rate, 0, no_limit)},
       {"publish_burst", uint_field(limits.publish_burst, 1, no_limit)},
       {"client_ttl", duration_field(limits.client_ttl)}});
  };
}

constexpr uint64_t max_replicas = 5; // JetStream's limit

handler cluster_section(cluster_settings& cluster) {
  return [&cluster](const node& x, const std::string& path) {
    apply_fields(
      x, path,
      {{"urls", text_list_field(cluster.urls, nats_url_rule)},
       {"node_name", checked_text_field(cluster.node_name, node_name_rule)},
       {"advertise_url",
        checked_text_field(cluster.advertise_url, advertise_url_rule)},
       {"replicas", uint_field(cluster.replicas, 1, max_replicas)},
       {"history_messages", uint_field(cluster.history_messages, 1)},
       {"history_bytes", uint_field(cluster.history_bytes, 0)},
       {"history_age", duration_field(cluster.history_age, millis{0})},
       {"request_timeout",
        duration_field(cluster.request_timeout, millis{100})},
       {"lease_ttl", duration_field(cluster.lease_ttl, millis{1000})}});
  };
}

// -- services -----------------------------------------------------------------

struct builtin {
  const char* name;
  const char* alias; // the name in the API document's config.yaml
  service_settings (*make)();
};

constexpr builtin builtins[] = {
  {"events", "service_g", default_events_service},
  {"broadcast-demo", "service_h", default_broadcast_demo_service},
};

const builtin* find_builtin(const std::string& key) {
  for (const auto& b : builtins)
    if (key == b.name || key == b.alias)
      return &b;
  return nullptr;
}

handler stream_id_field(std::string& dst) {
  return [&dst](const node& x, const std::string& key) {
    auto text = read_string(x, key);
    if (!valid_stream_id(text))
      fail(key, std::string{stream_id_rule} + ", got " + quote(text));
    dst = std::move(text);
  };
}

stream_settings read_stream(const node& x, const std::string& path) {
  stream_settings result;
  apply_fields(x, path,
               {{"id", stream_id_field(result.id)},
                {"generator", text_field(result.generator, true)},
                {"interval", duration_field(result.interval)},
                {"autostart", bool_field(result.autostart)}});
  if (result.id.empty())
    fail(join(path, "id"), "required");
  return result;
}

handler streams_list(std::vector<stream_settings>& dst) {
  return [&dst](const node& x, const std::string& key) {
    if (!x.IsNull() && !x.IsSequence())
      fail_got(key, "a list of streams", x);
    std::vector<stream_settings> result;
    for (size_t i = 0; i < x.size(); ++i) {
      auto path = index_key(key, i);
      auto entry = read_stream(x[i], path);
      auto same_id = [&](const stream_settings& s) { return s.id == entry.id; };
      if (std::any_of(result.begin(), result.end(), same_id))
        fail(path + ".id", "duplicate stream id " + quote(entry.id));
      result.push_back(std::move(entry));
    }
    dst = std::move(result);
  };
}

using service_list = std::vector<service_settings>;

service_list::iterator find_service(service_list& services,
                                    const std::string& name) {
  auto has_name = [&](const service_settings& s) { return s.name == name; };
  return std::find_if(services.begin(), services.end(), has_name);
}

// A mapping defines a service, starting from the one of that name if any.
void define_service(service_list& services, const std::string& name,
                    const node& x, const std::string& path) {
  auto i = find_service(services, name);
  auto b = find_builtin(name);
  service_settings s = i != services.end() ? *i
                       : b               ? b->make()
                                         : service_settings{};
  s.name = name;
  apply_fields(x, path,
               {{"path", checked_text_field(s.path, service_path_rule)},
                {"default_generator", text_field(s.default_generator, false)},
                {"default_interval", duration_field(s.default_interval)},
                {"streams", streams_list(s.streams)}});
  if (s.path.empty())
    fail(join(path, "path"), "required for a new service");
  if (i != services.end())
    *i = std::move(s);
  else
    services.push_back(std::move(s));
}

void toggle_builtin(service_list& services, const builtin& b, bool enabled) {
  auto i = find_service(services, b.name);
  if (!enabled && i != services.end())
    services.erase(i);
  else if (enabled && i == services.end())
    services.push_back(b.make());
}

void check_unique_paths(const service_list& services, const std::string& key) {
  for (auto i = services.begin(); i != services.end(); ++i)
    for (auto j = services.begin(); j != i; ++j)
      if (i->path == j->path)
        fail(join(key, i->name),
             "path " + quote(i->path) + " is already used by service '"
               + j->name + "'");
}

void apply_service_entry(service_list& services, std::vector<std::string>& seen,
                         const std::string& key, const node& value,
                         const std::string& path) {
  auto b = find_builtin(key);
  auto name = b ? std::string{b->name} : key;
  if (std::find(seen.begin(), seen.end(), name) != seen.end())
    fail(path, "names service '" + name + "' a second time");
  seen.push_back(name);
  if (!valid_stream_id(name))
    fail(path, "a service name must match [A-Za-z0-9][A-Za-z0-9_.-]*");
  if (value.IsMap())
    define_service(services, name, value, path);
  else if (b)
    toggle_builtin(services, *b, read_bool(value, path));
  else
    fail_got(path,
             "a mapping defining the service (true/false only applies to"
             " service_g, events, service_h, broadcast-demo)",
             value);
}

// Overlays the entries on `services`: unmentioned services stay as they are.
handler services_section(service_list& services) {
  return [&services](const node& x, const std::string& path) {
    auto result = services;
    std::vector<std::string> seen;
    for_each_entry(x, path, [&](const std::string& key, const node& value,
                                const std::string& key_path) {
      apply_service_entry(result, seen, key, value, key_path);
    });
    check_unique_paths(result, path);
    services = std::move(result);
  };
}

// -- documents ----------------------------------------------------------------

/// Listens to a parse without building anything: counts documents.
class document_counter : public YAML::EventHandler {
public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

/// Documents in `text`, counting no further than `limit`: yaml-cpp 0.7's
/// LoadAll never ends on some inputs (a lone ','; upstream #1040).
size_t count_documents(const std::string& text, size_t limit) {
  std::istringstream in{text};
  YAML::Parser parser{in};
  document_counter counter;
  size_t n = 0;
  while (n < limit && parser.HandleNextDocument(counter))
    ++n;
  return n;
}

node load_document(std::string_view yaml_text) {
  std::string text{yaml_text};
  size_t docs = 0;
  node doc;
  try {
    docs = count_documents(text, 2);
    doc = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    auto where = "line " + std::to_string(e.mark.line + 1) + ", column "
                 + std::to_string(e.mark.column + 1);
    // A bare `*` (as in `cors_origin: *`) reads as an alias in YAML.
    auto hint = e.msg.find("alias") != std::string::npos
                  ? std::string{" (quote values that start with '*')"}
                  : std::string{};
    throw config_error(where,
                       "YAML syntax error at " + where + ": " + e.msg + hint);
  }
  if (docs > 1)
    throw config_error("document", "expected one YAML document, got more");
  return doc;
}

std::string read_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw config_error(path, path + ": is a directory, not a config file");
  if (!std::filesystem::exists(path, ec))
    throw config_error(path, path + ": no such config file");
  std::ifstream in{path, std::ios::binary};
  std::ostringstream text;
  if (in)
    text << in.rdbuf();
  if (!in || in.bad())
    throw config_error(path, path + ": cannot read config file");
  return text.str();
}

} // namespace

settings parse_yaml(std::string_view yaml_text, settings base) {
  const node doc = load_document(yaml_text);
  if (!doc.IsNull() && !doc.IsMap())
    fail_got("document",
             "a mapping of sections (app, server, sse, streams, limits,"
             " cluster, services)",
             doc);
  apply_fields(doc, "",
               {{"app", app_section(base)},
                {"server", server_section(base.http)},
                {"sse", sse_section(base.sse)},
                {"streams", streams_section(base.streams)},
                {"limits", limits_section(base.limits)},
                {"cluster", cluster_section(base.cluster)},
                {"services", services_section(base.services)}});
  return base;
}

settings load_file(const std::string& path) {
  auto text = read_file(path);
  try {
    return parse_yaml(text);
  } catch (const config_error& e) {
    throw config_error(e.key(), path + ": " + e.what());
  }
}

// -- command line -------------------------------------------------------------

namespace {

struct flags {
  std::optional<std::string> config;
  std::optional<std::string> host;
  std::optional<uint16_t> port;
  bool debug = false;
  bool help = false;
  std::optional<std::vector<std::string>> cluster;
  std::optional<std::string> node_name;
  std::optional<std::string> advertise_url;
  std::optional<int> replicas;
};

std::string help_text(const char* program) {
  std::string name = program && *program ? program : "eventcast";
  return "Usage: " + name + " [options]\n"
         "  --config PATH           settings file (default: ./config.yaml if"
         " present)\n"
         "  --host HOST             listen address, overrides server.host\n"
         "  --port N                listen port 0..65535 (0: any free port),"
         " overrides server.port\n"
         "  --debug                 debug logging, overrides app.debug\n"
         "  --cluster URL[,URL...]  NATS servers (nats:// or tls://), overrides"
         " cluster.urls\n"
         "  --node-name NAME        this node's name, overrides"
         " cluster.node_name\n"
         "  --advertise-url URL     this node's HTTP URL for the other nodes,"
         " overrides cluster.advertise_url\n"
         "  --replicas N            JetStream copies of each stream 1..5,"
         " overrides cluster.replicas\n"
         "  -h, --help              print this help and exit\n";
}

uint64_t parse_uint(const std::string& flag, const std::string& text,
                    uint64_t min, uint64_t max) {
  auto n = parse_decimal(text);
  if (!n || *n < min || *n > max)
    fail(flag, "must be " + range_text(min, max) + ", got " + quote(text));
  return *n;
}

std::string parse_host(const std::string& text) {
  auto bad = [](char c) { return c == ' ' || c == '\t'; };
  if (text.empty() || has_control_char(text)
      || std::any_of(text.begin(), text.end(), bad))
    fail("--host", "must be a host name or address, got " + quote(text));
  return text;
}

// Splits `--name=value`; `value` stays empty without '='.
std::pair<std::string, std::optional<std::string>>
split_flag(const std::string& arg) {
  auto eq = arg.find('=');
  if (arg.rfind("--", 0) != 0 || eq == std::string::npos)
    return {arg, std::nullopt};
  return {arg.substr(0, eq), arg.substr(eq + 1)};
}

std::string non_empty(const std::string& flag, std::string value) {
  if (value.empty())
    fail(flag, "needs a non-empty value");
  return value;
}

using flag_value = std::function<std::string()>;

// The flags for settings::cluster; false for any other name.
bool apply_cluster_flag(flags& out, const std::string& name,
                        const flag_value& value) {
  if (name == "--cluster")
    out.cluster = split_checked(non_empty(name, value()), name, nats_url_rule);
  else if (name == "--node-name")
    out.node_name = checked(value(), name, node_name_rule);
  else if (name == "--advertise-url")
    out.advertise_url = checked(value(), name, advertise_url_rule);
  else if (name == "--replicas")
    out.replicas = static_cast<int>(parse_uint(name, value(), 1, max_replicas));
  else
    return false;
  return true;
}

void apply_flag(flags& out, const std::string& name, const flag_value& value) {
  if (name == "--config")
    out.config = non_empty(name, value());
  else if (name == "--host")
    out.host = parse_host(value());
  else if (name == "--port")
    out.port = static_cast<uint16_t>(parse_uint(name, value(), 0, 65535));
  else if (name == "--debug")
    out.debug = true;
  else if (name == "--help" || name == "-h")
    out.help = true;
  else if (apply_cluster_flag(out, name, value))
    return;
  else if (name.rfind("-", 0) == 0)
    throw config_error(name, "unknown flag '" + name + "' (see --help)");
  else
    throw config_error(name, "unexpected argument '" + name + "' (see --help)");
}

bool takes_value(const std::string& name) {
  static constexpr std::string_view names[] = {
    "--config",    "--host",      "--port",          "--cluster",
    "--node-name", "--replicas",  "--advertise-url",
  };
  return std::find(std::begin(names), std::end(names), name) != std::end(names);
}

flags parse_flags(int argc, const char* const* argv) {
  flags out;
  for (int i = 1; i < argc; ++i) {
    auto [name, inline_value] = split_flag(argv[i]);
    if (inline_value && !takes_value(name))
      fail(name, "takes no value");
    auto value = [&, name = name, inline_value = inline_value] {
      if (inline_value)
        return *inline_value;
      if (i + 1 >= argc)
        fail(name, "needs a value");
      return std::string{argv[++i]};
    };
    apply_flag(out, name, value);
  }
  return out;
}

template <class T>
void override_with(T& dst, const std::optional<T>& flag) {
  if (flag)
    dst = *flag;
}

void apply_overrides(const flags& f, settings& cfg) {
  override_with(cfg.http.host, f.host);
  override_with(cfg.http.port, f.port);
  if (f.debug)
    cfg.debug = true;
  override_with(cfg.cluster.urls, f.cluster);
  override_with(cfg.cluster.node_name, f.node_name);
  override_with(cfg.cluster.advertise_url, f.advertise_url);
  override_with(cfg.cluster.replicas, f.replicas);
}

// The API document's app reads config.yaml from its working directory.
std::string config_path_for(const flags& f) {
  if (f.config)
    return *f.config;
  std::error_code ec;
  return std::filesystem::exists("config.yaml", ec) ? "config.yaml" : "";
}

} // namespace

cli_result from_command_line(int argc, const char* const* argv) {
  auto f = parse_flags(argc, argv);
  cli_result result;
  if (f.help) {
    result.config = default_settings();
    result.help = true;
    result.help_text = help_text(argc > 0 ? argv[0] : nullptr);
    return result;
  }
  result.config_path = config_path_for(f);
  result.config = result.config_path.empty() ? default_settings()
                                             : load_file(result.config_path);
  apply_overrides(f, result.config);
  return result;
}

} // namespace eventcast::config
