#include "core/event.hpp"

#include <atomic>
#include <chrono>
#include <random>

#include "core/json.hpp"

namespace eventcast {

std::string to_json(const event& e) {
  json::object_writer w;
  w.field("id", e.id).field("type", e.type).field("message", e.message);
  if (!e.data_json.empty())
    w.raw_field("data", e.data_json);
  w.field("timestamp", e.timestamp);
  if (!e.stream_id.empty())
    w.field("stream_id", e.stream_id);
  return w.str();
}

std::string next_event_id() {
  // Microseconds at start keep ids unique across restarts; the counter keeps
  // them unique within the process. Two processes started close together
  // (cluster nodes) count through the same numbers, so each also ends its
  // ids with six random digits of its own.
  static const uint64_t base = static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now().time_since_epoch())
      .count());
  static const std::string suffix = [] {
    auto digits = std::to_string(1000000 + std::random_device{}() % 1000000);
    return digits.substr(1);
  }();
  static std::atomic<uint64_t> counter{0};
  return "evt_" + std::to_string(base + counter.fetch_add(1)) + suffix;
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

} // namespace eventcast
