#pragma once

// SSE frame encoding. Every function returns complete frames ending in a
// blank line, so whatever the input, one call is exactly one frame.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/event.hpp"

namespace eventcast::sse {

/// `id: <seq>` then one `data:` line per line of `payload`, then a blank line.
std::string data_frame(uint64_t seq, std::string_view payload);

/// A frame without an id line: it does not move the client's Last-Event-ID.
std::string anonymous_frame(std::string_view payload);

/// `retry: <ms>` on its own.
std::string retry_frame(int64_t retry_ms);

/// A comment line (heartbeat); newlines in `text` are stripped.
std::string comment_frame(std::string_view text);

/// An event's frame: its sequence as id, its EventData JSON as data.
frame encode(const event& e);

/// An `events_missed` event without id: `missed` events were dropped
/// because the subscriber fell behind (overflow policy drop_oldest).
frame missed_notice(uint64_t missed, std::string_view stream_id);

} // namespace eventcast::sse
