#pragma once

// JSON in and out. RapidJSON stays behind this header.

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/event.hpp"

namespace eventcast::json {

/// Appends `s` as a quoted, escaped JSON string.
void append_string(std::string& out, std::string_view s);

/// Builds one JSON object, field by field, in insertion order.
class object_writer {
public:
  object_writer() : out_("{") {}

  object_writer& field(std::string_view key, std::string_view value);
  object_writer& field(std::string_view key, const char* value) {
    return field(key, std::string_view{value});
  }
  object_writer& field(std::string_view key, const std::string& value) {
    return field(key, std::string_view{value});
  }
  object_writer& field(std::string_view key, bool value);
  object_writer& field(std::string_view key, int value) {
    return field(key, static_cast<int64_t>(value));
  }
  object_writer& field(std::string_view key, int64_t value);
  object_writer& field(std::string_view key, uint64_t value);
  object_writer& field(std::string_view key, double value);
  object_writer& field(std::string_view key,
                       const std::vector<std::string>& values);
  /// `json` must already be a valid JSON value.
  object_writer& raw_field(std::string_view key, std::string_view json);

  std::string str() const { return out_ + "}"; }

private:
  void key(std::string_view k);
  std::string out_;
};

/// A field-level reason why a request body was rejected.
struct field_error {
  std::string code;    // "invalid_json", "invalid_field", ...
  std::string field;   // empty when the whole body is at fault
  std::string message; // for humans
};

/// The body of POST .../broadcast.
struct broadcast_request {
  std::string stream_id; // empty: every stream
  event_input event;
};

using broadcast_result = std::variant<broadcast_request, field_error>;

/// Parses and validates a broadcast body: strict JSON, valid UTF-8, `type`
/// and `message` strings, `data` an object, `stream_id` a string naming a
/// valid stream (or empty).
broadcast_result parse_broadcast(std::string_view body);

/// True when `json` is one valid JSON object (used for generator output).
bool is_object(std::string_view json);

} // namespace eventcast::json
