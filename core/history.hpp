#pragma once

// The last events of one stream, for Last-Event-ID replay. Owned by one
// stream actor.

#include <cstdint>
#include <cstddef>
#include <deque>
#include <optional>
#include <vector>

#include "core/event.hpp"

namespace eventcast {

class history_ring {
public:
  /// Holds at most `capacity` events and `max_bytes` of frames.
  explicit history_ring(size_t capacity, size_t max_bytes = SIZE_MAX)
    : capacity_(capacity), max_bytes_(max_bytes) {}

  void append(uint64_t seq, frame f);

  struct replay {
    std::vector<frame> frames;
    /// Events the client missed that the ring no longer holds; nullopt when
    /// the count cannot be known (an id from another life of the stream).
    std::optional<uint64_t> lost = 0;
  };

  /// Everything after `last_seen`, given the stream's latest sequence.
  replay since(uint64_t last_seen, uint64_t latest) const;

  size_t size() const { return entries_.size(); }
  size_t bytes() const { return bytes_; }

private:
  struct entry {
    uint64_t seq;
    frame data;
  };
  size_t capacity_;
  size_t max_bytes_;
  size_t bytes_ = 0;
  std::deque<entry> entries_;
};

} // namespace eventcast
