#include "core/mailbox.hpp"

#include <algorithm>
#include <cassert>
#include <utility>

namespace eventcast {

// -- feed ---------------------------------------------------------------------

feed::feed(size_t capacity, overflow_policy policy)
  : capacity_(std::max<size_t>(capacity, 1)),
    policy_(policy),
    ring_(capacity_),
    at_(capacity_ + 1, 0) {
}

feed::~feed() {
  // Mailboxes hold their feed: none can still be linked.
  assert(first_ == nullptr);
}

uint64_t feed::oldest() const {
  return end_ > capacity_ ? end_ - capacity_ : 0;
}

// A mailbox behind the oldest frame kept reads from there (drop_oldest).
uint64_t feed::position(const mailbox& m) const {
  return std::max(m.cursor_, oldest());
}

uint32_t& feed::readers_at(uint64_t position) {
  return at_[position % (capacity_ + 1)];
}

void feed::link(mailbox& m) {
  m.cursor_ = end_;
  ++readers_at(end_);
  m.prev_ = nullptr;
  m.next_ = first_;
  if (first_)
    first_->prev_ = &m;
  first_ = &m;
}

void feed::unlink(mailbox& m) {
  --readers_at(position(m));
  (m.prev_ ? m.prev_->next_ : first_) = m.next_;
  if (m.next_)
    m.next_->prev_ = m.prev_;
  m.prev_ = m.next_ = nullptr;
}

/// Appends up to `room` frames from `m`'s cursor to `out`; returns how many
/// frames it skipped because they are no longer kept.
uint64_t feed::read(mailbox& m, size_t room, std::vector<frame>& out) {
  auto from = position(m);
  auto skipped = from - m.cursor_;
  auto n = std::min<uint64_t>(room, end_ - from);
  for (auto p = from; p < from + n; ++p)
    out.push_back(ring_[p % capacity_]);
  --readers_at(from);
  ++readers_at(from + n);
  m.cursor_ = from + n;
  return skipped;
}

/// The group of `target` in `groups`, added if missing. Few distinct
/// consumers: a linear search is fastest.
feed::wake_group& feed::group_of(std::vector<wake_group>& groups,
                                 const std::weak_ptr<wake_target>& target) {
  for (auto& g : groups)
    if (!g.target.owner_before(target) && !target.owner_before(g.target))
      return g;
  return groups.emplace_back(wake_group{target, {}});
}

void feed::add_wake(std::vector<wake_group>& groups, const mailbox& m) {
  group_of(groups, m.target_).ids.push_back(m.id_);
}

void feed::park(mailbox& m) {
  if (m.parked_in_ == round_)
    return;
  m.parked_in_ = round_;
  add_wake(parked_, m);
}

/// Closes the mailboxes whose next frame is at `leaving`, the position about
/// to be overwritten: they would be `capacity_` + 1 frames behind.
uint64_t feed::disconnect_behind(uint64_t leaving,
                                 std::vector<wake_group>& wakes) {
  uint64_t closed = 0;
  for (auto* m = first_; m != nullptr;) {
    auto* next = m->next_;
    if (position(*m) == leaving) {
      std::lock_guard<std::mutex> guard{m->mtx_};
      m->detach_locked(close_reason::overflow);
      m->closed_ = close_reason::overflow;
      m->consumer_notified_ = true;
      add_wake(wakes, *m);
      ++closed;
    }
    m = next;
  }
  return closed;
}

feed::append_result feed::append(frame f) {
  append_result result;
  std::vector<wake_group> wakes;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (end_ >= capacity_) {
      auto leaving = end_ - capacity_;
      if (auto behind = readers_at(leaving); behind > 0) {
        if (policy_ == overflow_policy::drop_oldest) {
          result.dropped = behind;
          readers_at(leaving + 1) += behind;
        } else {
          result.disconnected = disconnect_behind(leaving, wakes);
        }
      }
      readers_at(leaving) = 0; // becomes the slot of the new end
    }
    ring_[end_ % capacity_] = std::move(f);
    ++end_;
    for (auto& g : parked_) {
      auto& ids = group_of(wakes, g.target).ids;
      if (ids.empty())
        ids = std::move(g.ids);
      else
        ids.insert(ids.end(), g.ids.begin(), g.ids.end());
    }
    parked_.clear();
    ++round_;
  }
  for (auto& g : wakes)
    if (auto target = g.target.lock())
      target->wake(g.ids);
  return result;
}

// -- mailbox ------------------------------------------------------------------

mailbox::mailbox(std::weak_ptr<wake_target> target, uint64_t id)
  : target_(std::move(target)), id_(id) {
}

mailbox::~mailbox() {
  if (!live_)
    return;
  std::lock_guard<std::mutex> guard{live_->mtx_};
  if (linked())
    live_->unlink(*this);
}

mailbox::locks mailbox::lock_both() const {
  // The feed's lock comes first, but which feed is known only under ours:
  // retry in the rare case that follow() ran in between.
  for (;;) {
    auto* live = following_.load(std::memory_order_acquire);
    locks held;
    if (live)
      held.feed = std::unique_lock<std::mutex>{live->mtx_};
    held.own = std::unique_lock<std::mutex>{mtx_};
    if (following_.load(std::memory_order_relaxed) == live)
      return held;
  }
}

bool mailbox::linked() const {
  return live_ && closed_.load(std::memory_order_relaxed) == close_reason::none;
}

void mailbox::notify_consumer() {
  if (auto target = target_.lock())
    target->wake({id_});
}

bool mailbox::claim_wake_locked() {
  if (consumer_notified_)
    return false;
  consumer_notified_ = true;
  return true;
}

void mailbox::detach_locked(close_reason why) {
  if (!linked())
    return;
  if (why != close_reason::client_gone) {
    std::vector<frame> unread;
    missed_ += live_->read(*this, live_->capacity_, unread);
    queue_.insert(queue_.end(), unread.begin(), unread.end());
  }
  live_->unlink(*this);
}

void mailbox::push(std::vector<frame> frames) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (closed_ != close_reason::none || frames.empty())
      return;
    for (auto& f : frames)
      queue_.push_back(std::move(f));
    wake = claim_wake_locked();
  }
  if (wake)
    notify_consumer();
}

void mailbox::follow(std::shared_ptr<feed> live) {
  std::unique_lock<std::mutex> feed_guard{live->mtx_};
  std::lock_guard<std::mutex> guard{mtx_};
  if (live_ || closed_ != close_reason::none)
    return;
  live_ = std::move(live);
  following_.store(live_.get(), std::memory_order_release);
  live_->link(*this);
  if (!consumer_notified_) // its consumer is idle: the next append wakes it
    live_->park(*this);
}

mailbox::batch mailbox::take(size_t max) {
  batch b;
  auto held = lock_both();
  auto n = std::min(max, queue_.size());
  b.frames.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    b.frames.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  if (linked() && b.frames.size() < max)
    missed_ += live_->read(*this, max - b.frames.size(), b.frames);
  b.missed = std::exchange(missed_, 0);
  b.closed = closed_.load(std::memory_order_relaxed);
  if (b.frames.empty()) {
    consumer_notified_ = false;
    if (linked())
      live_->park(*this);
  }
  return b;
}

bool mailbox::close(close_reason why) {
  bool wake = false;
  {
    auto held = lock_both();
    if (closed_ != close_reason::none)
      return false;
    detach_locked(why);
    if (why == close_reason::client_gone)
      queue_.clear(); // nobody will read them
    closed_ = why;
    consumer_notified_ = false; // a close always reaches the consumer
    wake = claim_wake_locked();
  }
  if (wake)
    notify_consumer();
  return true;
}

bool mailbox::closed() const {
  return reason() != close_reason::none;
}

close_reason mailbox::reason() const {
  return closed_.load(std::memory_order_acquire);
}

} // namespace eventcast
