#pragma once

// The project's error codes, their HTTP statuses and the JSON error envelope.

#include <cstdint>
#include <string>
#include <string_view>

namespace eventcast {

enum class error_code : uint8_t {
  invalid_json = 1,
  invalid_field,
  invalid_stream_id,
  route_not_found,
  stream_not_found,
  method_not_allowed,
  conflict,
  payload_too_large,
  rate_limited,
  unavailable,
  timeout,
  internal,
  bad_request,
  length_required,
  header_too_large,
};

/// "invalid_json", "stream_not_found", ...
const char* to_string(error_code code);

int http_status(error_code code);

/// `{"success":false,"error":{"code":..,"message":..[,"field":..]},"timestamp":N}`
std::string error_body(error_code code, std::string_view message,
                       std::string_view field = {});

/// Maps a code received from another layer back; internal for unknown values.
error_code error_code_from(uint8_t value);

} // namespace eventcast
