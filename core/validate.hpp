#pragma once

// Validation rules for identifiers that come from clients.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace eventcast {

inline constexpr size_t max_stream_id_length = 128;
inline constexpr size_t max_type_length = 128;
inline constexpr const char* stream_id_rule
  = "stream id must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}";

/// [A-Za-z0-9][A-Za-z0-9_.-]{0,127}
bool valid_stream_id(std::string_view id);

/// A plain decimal number of at most 19 digits (so it always fits).
std::optional<uint64_t> parse_decimal(std::string_view text);

/// Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view text);

/// A Last-Event-ID that is not one of our sequence numbers: the client gets
/// what history holds, preceded by events_missed with an unknown count.
inline constexpr uint64_t unknown_event_id
  = std::numeric_limits<uint64_t>::max();

/// The sequence number in a client's Last-Event-ID; unknown_event_id for
/// anything that is not a plain decimal number of ours.
uint64_t parse_last_event_id(std::string_view text);

} // namespace eventcast
