#pragma once

// Validation rules for identifiers that come from clients.

#include <cstddef>
#include <string_view>

namespace eventcast {

inline constexpr size_t max_stream_id_length = 128;
inline constexpr size_t max_type_length = 128;
inline constexpr const char* stream_id_rule
  = "stream id must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}";

/// [A-Za-z0-9][A-Za-z0-9_.-]{0,127}
bool valid_stream_id(std::string_view id);

} // namespace eventcast
