#include "core/errors.hpp"

#include "core/event.hpp"
#include "core/json.hpp"

namespace eventcast {

namespace {

struct error_row {
  error_code code;
  const char* name;
  int status;
};

constexpr error_row error_table[] = {
  {error_code::invalid_json, "invalid_json", 400},
  {error_code::invalid_field, "invalid_field", 400},
  {error_code::invalid_stream_id, "invalid_stream_id", 400},
  {error_code::route_not_found, "not_found", 404},
  {error_code::stream_not_found, "stream_not_found", 404},
  {error_code::method_not_allowed, "method_not_allowed", 405},
  {error_code::conflict, "conflict", 409},
  {error_code::payload_too_large, "payload_too_large", 413},
  {error_code::rate_limited, "rate_limited", 429},
  {error_code::unavailable, "unavailable", 503},
  {error_code::timeout, "timeout", 504},
  {error_code::bad_request, "bad_request", 400},
  {error_code::length_required, "length_required", 411},
  {error_code::header_too_large, "header_too_large", 431},
  // Last: the fallback for codes not in the table.
  {error_code::internal, "internal_error", 500},
};

const error_row& row(error_code code) {
  for (auto& r : error_table)
    if (r.code == code)
      return r;
  return error_table[std::size(error_table) - 1];
}

} // namespace

const char* to_string(error_code code) {
  return row(code).name;
}

int http_status(error_code code) {
  return row(code).status;
}

error_code error_code_from(uint8_t value) {
  for (auto& r : error_table)
    if (static_cast<uint8_t>(r.code) == value)
      return r.code;
  return error_code::internal;
}

std::string error_body(error_code code, std::string_view message,
                       std::string_view field) {
  json::object_writer err;
  err.field("code", to_string(code)).field("message", message);
  if (!field.empty())
    err.field("field", field);
  return json::object_writer{}
    .field("success", false)
    .raw_field("error", err.str())
    .field("timestamp", unix_now())
    .str();
}

} // namespace eventcast
