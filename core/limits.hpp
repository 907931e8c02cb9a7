#pragma once

// Overload protection: connection counts and per-client publish rates.
// Thread-safe; time is passed in, so tests move it instead of sleeping.

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace eventcast {

/// Counts open connections in total and per key (a client address).
class connection_counter {
public:
  /// 0 means unlimited.
  connection_counter(size_t max_total, size_t max_per_key)
    : max_total_(max_total), max_per_key_(max_per_key) {}

  enum class verdict { admitted, total_full, key_full };

  verdict try_acquire(const std::string& key);
  void release(const std::string& key);
  size_t total() const;

private:
  mutable std::mutex mtx_;
  size_t max_total_;
  size_t max_per_key_;
  size_t total_ = 0;
  std::unordered_map<std::string, size_t> per_key_;
};

/// A token bucket per key: `rate` tokens a second, at most `burst` saved.
class rate_limiter {
public:
  using clock = std::chrono::steady_clock;

  /// rate 0 means unlimited.
  rate_limiter(size_t rate, size_t burst);

  bool allow(const std::string& key, clock::time_point now);

  size_t tracked_keys() const;

private:
  struct bucket {
    double tokens;
    clock::time_point last;
  };
  void forget_full_buckets(clock::time_point now);

  mutable std::mutex mtx_;
  double rate_;
  double burst_;
  std::unordered_map<std::string, bucket> buckets_;
};

} // namespace eventcast
