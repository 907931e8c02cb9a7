#include "core/history.hpp"

#include <algorithm>

namespace eventcast {

void history_ring::append(uint64_t seq, frame f) {
  if (capacity_ == 0 || f->size() > max_bytes_)
    return;
  bytes_ += f->size();
  entries_.push_back({seq, std::move(f)});
  while (entries_.size() > capacity_ || bytes_ > max_bytes_) {
    bytes_ -= entries_.front().data->size();
    entries_.pop_front();
  }
}

history_ring::replay history_ring::since(uint64_t last_seen,
                                         uint64_t latest) const {
  replay r;
  if (last_seen > latest) {
    r.lost = std::nullopt;
    for (auto& e : entries_)
      r.frames.push_back(e.data);
    return r;
  }
  auto first = std::upper_bound(
    entries_.begin(), entries_.end(), last_seen,
    [](uint64_t seq, const entry& e) { return seq < e.seq; });
  auto oldest_kept = first == entries_.end() ? latest + 1 : first->seq;
  r.lost = oldest_kept - last_seen - 1;
  for (auto it = first; it != entries_.end(); ++it)
    r.frames.push_back(it->data);
  return r;
}

} // namespace eventcast
