#pragma once

// Raw HTTP/1.1 responses as bytes: the output reactor writes them, never
// Pistache's ResponseWriter (see output.hpp for why).

#include <cstdint>
#include <string>
#include <string_view>

namespace eventcast::http {

struct response_options {
  std::string cors_origin = "*";
  bool keep_alive = true;
};

const char* reason_phrase(int status);

/// Room for a chunk-size line: 16 hex digits and CRLF.
constexpr size_t chunk_size_line_max = 18;

/// Writes the line that opens a chunk of `size` bytes ("1a\r\n") into
/// `out`; returns its length.
size_t chunk_size_line(size_t size, char (&out)[chunk_size_line_max]);

/// A complete response with a JSON body (none for 204). `extra_headers` is
/// zero or more "Name: value\r\n" lines.
std::string json_response(int status, std::string_view body,
                          const response_options& opts,
                          std::string_view extra_headers = {});

/// The answer to a CORS preflight for a route that takes `allow`.
std::string preflight_response(std::string_view allow,
                               const response_options& opts);

/// The head of an SSE response (chunked) followed by a first chunk holding
/// the `retry:` field.
std::string sse_head(const response_options& opts, int64_t retry_ms);

} // namespace eventcast::http
