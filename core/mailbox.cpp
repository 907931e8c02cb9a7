#include "core/mailbox.hpp"

namespace eventcast {

mailbox::mailbox(size_t capacity, overflow_policy policy,
                 std::function<void()> wake)
  : capacity_(capacity), policy_(policy), wake_(std::move(wake)) {
}

mailbox::mailbox(size_t capacity, overflow_policy policy,
                 std::weak_ptr<wake_target> target, uint64_t id)
  : capacity_(capacity), policy_(policy), target_(std::move(target)), id_(id) {
}

void mailbox::notify_consumer() {
  if (wake_) {
    wake_();
  } else if (auto target = target_.lock()) {
    wake_batch::wake(target, id_);
  }
}

bool mailbox::claim_wake_locked() {
  if (consumer_notified_)
    return false;
  consumer_notified_ = true;
  return true;
}

void mailbox::forget_replayed(size_t n) {
  replay_queued_ -= std::min(n, replay_queued_);
}

bool mailbox::full_locked() const {
  return queue_.size() >= capacity_ + replay_queued_;
}

mailbox::push_result mailbox::push(frame f) {
  auto result = push_result::queued;
  bool wake = false;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (closed_ != close_reason::none)
      return push_result::closed;
    if (full_locked()) {
      if (policy_ == overflow_policy::disconnect) {
        closed_ = close_reason::overflow;
        ++dropped_total_;
        result = push_result::overflow;
        // The consumer may be waiting for a reader that never reads: it
        // must hear of the close even if it was already told of frames.
        consumer_notified_ = false;
      } else {
        ++missed_;
        ++dropped_total_;
        result = push_result::dropped_oldest;
        if (queue_.empty())
          return result; // capacity 0: nothing older to drop
        queue_.pop_front();
        forget_replayed(1);
      }
    }
    if (result != push_result::overflow)
      queue_.push_back(std::move(f));
    wake = claim_wake_locked();
  }
  if (wake)
    notify_consumer();
  return result;
}

void mailbox::push_replay(std::vector<frame> frames) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (closed_ != close_reason::none || frames.empty())
      return;
    for (auto& f : frames)
      queue_.push_back(std::move(f));
    replay_queued_ += frames.size();
    wake = claim_wake_locked();
  }
  if (wake)
    notify_consumer();
}

mailbox::batch mailbox::take(size_t max) {
  batch b;
  std::lock_guard<std::mutex> guard{mtx_};
  auto n = std::min(max, queue_.size());
  b.frames.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    b.frames.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  forget_replayed(n);
  b.missed = missed_;
  missed_ = 0;
  b.closed = closed_.load(std::memory_order_relaxed);
  if (b.frames.empty())
    consumer_notified_ = false;
  return b;
}

bool mailbox::close(close_reason why) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (closed_ != close_reason::none)
      return false;
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

uint64_t mailbox::dropped_total() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return dropped_total_;
}

size_t mailbox::size() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return queue_.size();
}

} // namespace eventcast
