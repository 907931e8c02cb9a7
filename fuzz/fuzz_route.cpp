// Fuzzes request routing and the identifiers that come from clients:
// match_route (core/route.hpp), valid_stream_id and parse_last_event_id
// (core/validate.hpp).
//
// Input: "METHOD PATH\nLAST-EVENT-ID": the first line is split at its first
// space into method and path (no space: all of it is the path, method GET);
// whatever follows the first LF is the Last-Event-ID text.
//
// Invariants: a stream route only ever carries an id that satisfies
// valid_stream_id, and the path is exactly mount + "/stream/" + id (+ action);
// bad_stream_id only for ids that fail it; parse_last_event_id returns the
// exact decimal value of an all-digit text (re-printed to check) or
// unknown_event_id.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/route.hpp"
#include "core/validate.hpp"
#include "fuzz_check.hpp"

using namespace eventcast;
using namespace eventcast::fuzz;

namespace {

// The two built-in mounts plus one nested below another: config allows any
// distinct paths, so prefixes of each other must not confuse the router.
const std::vector<std::string> mounts = {
  "/api/v1/events",
  "/api/v1/broadcast-demo",
  "/api/v1/events/nested",
};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool reference_valid_id(std::string_view id) {
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c);
  };
  if (id.empty() || id.size() > max_stream_id_length || !alnum(id[0]))
    return false;
  for (char c : id)
    if (!alnum(c) && c != '_' && c != '.' && c != '-')
      return false;
  return true;
}

const char* action_of(route_kind k) {
  switch (k) {
    case route_kind::start: return "/start";
    case route_kind::stop: return "/stop";
    case route_kind::pause: return "/pause";
    case route_kind::resume: return "/resume";
    default: return "";
  }
}

std::string describe(std::string_view method, std::string_view path,
                     const route_match& m) {
  return "method '" + printable(method) + "' path '" + printable(path)
         + "' -> kind " + std::to_string(static_cast<int>(m.kind))
         + " service " + std::to_string(m.service) + " stream_id '"
         + printable(m.stream_id) + "'";
}

void check_route(std::string_view method, std::string_view path) {
  auto m = match_route(method, path, mounts);
  auto what = describe(method, path, m);
  FUZZ_CHECK(m.allow != nullptr, what);
  switch (m.kind) {
    case route_kind::subscribe:
    case route_kind::start:
    case route_kind::stop:
    case route_kind::pause:
    case route_kind::resume: {
      FUZZ_CHECK(valid_stream_id(m.stream_id), what);
      FUZZ_CHECK(m.service < mounts.size(), what);
      bool get = m.kind == route_kind::subscribe;
      FUZZ_CHECK(method == (get ? "GET" : "POST"), what);
      FUZZ_CHECK(path == mounts[m.service] + "/stream/" + m.stream_id
                           + action_of(m.kind),
                 what);
      break;
    }
    case route_kind::broadcast:
    case route_kind::streams: {
      bool post = m.kind == route_kind::broadcast;
      FUZZ_CHECK(m.service < mounts.size() && m.stream_id.empty(), what);
      FUZZ_CHECK(method == (post ? "POST" : "GET"), what);
      FUZZ_CHECK(path == mounts[m.service]
                           + (post ? "/broadcast" : "/streams"),
                 what);
      break;
    }
    case route_kind::health:
      FUZZ_CHECK(method == "GET" && path == "/health", what);
      break;
    case route_kind::cluster:
      FUZZ_CHECK(method == "GET" && path == "/api/v1/cluster", what);
      break;
    case route_kind::preflight:
      FUZZ_CHECK(method == "OPTIONS" && *m.allow != '\0', what);
      break;
    case route_kind::method_not_allowed:
      FUZZ_CHECK(method != "OPTIONS" && *m.allow != '\0', what);
      break;
    case route_kind::bad_stream_id:
      FUZZ_CHECK(!valid_stream_id(m.stream_id), what);
      FUZZ_CHECK(m.service < mounts.size(), what);
      FUZZ_CHECK(path.substr(0, mounts[m.service].size() + 8)
                   == mounts[m.service] + "/stream/",
                 what);
      break;
    case route_kind::not_found:
      break;
    default:
      FUZZ_CHECK(false, "route_kind out of range: " + what);
  }

  // Completeness: a well-formed stream URL of the first mount is routed.
  const std::string prefix = mounts[0] + "/stream/";
  if (path.substr(0, prefix.size()) == prefix) {
    auto id = path.substr(prefix.size());
    if (reference_valid_id(id)
        && (method == "GET" || method == "POST" || method == "OPTIONS")) {
      FUZZ_CHECK(m.kind == (method == "GET"    ? route_kind::subscribe
                            : method == "POST" ? route_kind::method_not_allowed
                                               : route_kind::preflight)
                   && m.stream_id == id && m.service == 0,
                 "valid stream URL not routed: " + what);
    }
  }
}

void check_stream_id(std::string_view id) {
  FUZZ_CHECK(valid_stream_id(id) == reference_valid_id(id),
             "valid_stream_id('" + printable(id) + "') disagrees with "
               "[A-Za-z0-9][A-Za-z0-9_.-]{0,127}");
}

void check_last_event_id(std::string_view text) {
  auto value = parse_last_event_id(text);
  bool digits = !text.empty();
  for (char c : text)
    digits = digits && is_digit(c);
  // The decimal text without leading zeros ("0" stays "0").
  auto significant = text;
  while (significant.size() > 1 && significant[0] == '0')
    significant.remove_prefix(1);
  if (value != unknown_event_id) {
    FUZZ_CHECK(digits && std::to_string(value) == significant,
               "parse_last_event_id('" + printable(text) + "') = "
                 + std::to_string(value));
  } else if (digits) {
    // Only values that do not fit (or are the reserved maximum) are unknown.
    bool fits = significant.size() < 20
                || (significant.size() == 20
                    && significant < std::string_view{"18446744073709551615"});
    FUZZ_CHECK(!fits, "parse_last_event_id('" + printable(text)
                        + "') = unknown_event_id for a number that fits");
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string_view input{reinterpret_cast<const char*>(bytes), size};
  auto newline = input.find('\n');
  auto request = input.substr(0, newline);
  auto last_event_id = newline == std::string_view::npos
                         ? std::string_view{}
                         : input.substr(newline + 1);
  std::string_view method = "GET", path = request;
  if (auto space = request.find(' '); space != std::string_view::npos) {
    method = request.substr(0, space);
    path = request.substr(space + 1);
  }

  check_route(method, path);
  check_stream_id(path);
  check_stream_id(last_event_id);
  check_last_event_id(last_event_id);
  check_last_event_id(path);
  return 0;
}
