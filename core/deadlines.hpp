#pragma once

// Deadlines of answers owed, checked a few times per timeout instead of one
// timer per answer. Every deadline is "now + the same timeout", so they come
// in order and the overdue ones are always at the front. Not thread-safe.

#include <deque>
#include <utility>

namespace eventcast {

template <class TimePoint, class Item>
class deadline_fifo {
public:
  void add(TimePoint deadline, Item item) {
    queue_.emplace_back(deadline, std::move(item));
  }

  /// Drops the items at the front that are `answered(item)` or due at `now`;
  /// calls `expire(item)` for each due one not answered.
  template <class Answered, class Expire>
  void pop_due(TimePoint now, Answered answered, Expire expire) {
    while (!queue_.empty()) {
      auto& [deadline, item] = queue_.front();
      bool done = answered(item);
      if (!done && deadline > now)
        return;
      if (!done)
        expire(item);
      queue_.pop_front();
    }
  }

  bool empty() const { return queue_.empty(); }
  void clear() { queue_.clear(); }

private:
  std::deque<std::pair<TimePoint, Item>> queue_;
};

} // namespace eventcast
