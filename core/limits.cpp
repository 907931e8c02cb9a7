#include "core/limits.hpp"

#include <algorithm>

namespace eventcast {

namespace {

/// Past this many keys, buckets that have refilled completely are dropped:
/// they hold no information.
constexpr size_t max_tracked_keys = 10000;

} // namespace

connection_counter::verdict
connection_counter::try_acquire(const std::string& key) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (max_total_ > 0 && total_ >= max_total_)
    return verdict::total_full;
  auto& count = per_key_[key];
  if (max_per_key_ > 0 && count >= max_per_key_) {
    if (count == 0)
      per_key_.erase(key);
    return verdict::key_full;
  }
  ++count;
  ++total_;
  return verdict::admitted;
}

void connection_counter::release(const std::string& key) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto it = per_key_.find(key);
  if (it == per_key_.end())
    return;
  --total_;
  if (--it->second == 0)
    per_key_.erase(it);
}

size_t connection_counter::total() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return total_;
}

rate_limiter::rate_limiter(size_t rate, size_t burst)
  : rate_(static_cast<double>(rate)),
    burst_(static_cast<double>(std::max<size_t>(burst, 1))) {
}

bool rate_limiter::allow(const std::string& key, clock::time_point now) {
  if (rate_ == 0)
    return true;
  std::lock_guard<std::mutex> guard{mtx_};
  if (buckets_.size() >= max_tracked_keys)
    forget_full_buckets(now);
  auto [it, fresh] = buckets_.try_emplace(key, bucket{burst_, now});
  auto& b = it->second;
  if (!fresh) {
    std::chrono::duration<double> elapsed = now - b.last;
    b.tokens = std::min(burst_, b.tokens + elapsed.count() * rate_);
    b.last = now;
  }
  if (b.tokens < 1)
    return false;
  b.tokens -= 1;
  return true;
}

void rate_limiter::forget_full_buckets(clock::time_point now) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    std::chrono::duration<double> elapsed = now - it->second.last;
    bool full = it->second.tokens + elapsed.count() * rate_ >= burst_;
    it = full ? buckets_.erase(it) : std::next(it);
  }
}

size_t rate_limiter::tracked_keys() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return buckets_.size();
}

} // namespace eventcast
