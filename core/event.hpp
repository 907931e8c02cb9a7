#pragma once

// The event model of the API document (EventData) and its wire encodings.

#include <cstdint>
#include <memory>
#include <string>

namespace eventcast {

/// What a producer supplies: the document's type, message and optional data.
struct event_input {
  std::string type;
  std::string message;
  std::string data_json; // a serialized JSON object, or empty for "no data"
};

/// An event as stored and delivered: the document's EventData plus the
/// stream sequence number that goes out as the SSE `id:`.
struct event {
  uint64_t seq = 0;
  std::string id; // "evt_..."
  std::string type;
  std::string message;
  std::string data_json;
  int64_t timestamp = 0; // Unix seconds
  std::string stream_id;
};

/// An encoded SSE frame, shared by every subscriber of a stream.
using frame = std::shared_ptr<const std::string>;

/// The document's EventData JSON: id, type, message, data (omitted when
/// empty), timestamp, stream_id.
std::string to_json(const event& e);

/// Event ids unique to this process and, by their random last six digits,
/// across processes: "evt_" followed by digits.
std::string next_event_id();

/// Unix seconds now.
int64_t unix_now();

} // namespace eventcast
