#pragma once

// Finds where each HTTP/1.1 request on a connection ends, before the HTTP
// parser sees it: the head (up to a blank line) and a Content-Length body.
// It rejects what must not reach the parser: huge or malformed lengths,
// oversized heads, chunked request bodies. Pure; one per connection.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace eventcast {

class request_framer {
public:
  request_framer(size_t max_head_bytes, size_t max_body_bytes)
    : max_head_(max_head_bytes), max_body_(max_body_bytes) {}

  enum class status {
    need_more,      // all bytes belong to an unfinished request
    complete,       // a request ends after `used` bytes
    head_too_large, // no blank line within max_head_bytes
    body_too_large, // Content-Length over max_body_bytes
    bad_length,     // Content-Length not a plain decimal, or conflicting
    chunked_body,   // Transfer-Encoding on a request: not accepted
  };

  struct step {
    size_t used = 0;
    status result = status::need_more;
  };

  /// Consumes the bytes of the current request from the front of `data`.
  /// After `complete`, the rest of `data` starts the next request.
  step feed(std::string_view data);

private:
  step on_head_complete(size_t used);
  step consume_body(std::string_view data, size_t used_before);

  size_t max_head_;
  size_t max_body_;
  std::string head_;
  bool in_body_ = false;
  uint64_t body_left_ = 0;
};

} // namespace eventcast
