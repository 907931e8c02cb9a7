#pragma once

// The bounded queue between one stream actor (producer) and one subscriber's
// output (consumer). Thread-safe; the producer never blocks.

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "core/event.hpp"
#include "core/settings.hpp"
#include "core/wake.hpp"

namespace eventcast {

enum class close_reason { none, client_gone, overflow, shutdown, expired };

class mailbox {
public:
  /// `wake` is called (outside the lock) when the consumer has new work:
  /// frames after it found the queue empty, and always when the mailbox
  /// closes.
  mailbox(size_t capacity, overflow_policy policy, std::function<void()> wake);

  /// As above, but the wake goes to mailbox `id` at `target`, grouped with
  /// others when a wake_batch is active on the producer's thread.
  mailbox(size_t capacity, overflow_policy policy,
          std::weak_ptr<wake_target> target, uint64_t id);

  enum class push_result { queued, dropped_oldest, overflow, closed };

  /// Queues a live frame under the overflow policy. `overflow` means the
  /// mailbox closed itself (policy `disconnect`).
  push_result push(frame f);

  /// Queues frames regardless of capacity (a replay, bounded by history).
  /// Until they are taken, live frames may queue up to the capacity after
  /// them: a client far behind is not cut before its replay is written.
  void push_replay(std::vector<frame> frames);

  struct batch {
    std::vector<frame> frames;
    uint64_t missed = 0; // frames dropped (drop_oldest) since the last take
    close_reason closed = close_reason::none;
  };

  /// Moves up to `max` queued frames out. When it returns no frames the
  /// consumer is idle until the next wake.
  batch take(size_t max);

  /// Closes the mailbox; further pushes answer `closed`. False if it was
  /// already closed.
  bool close(close_reason why);

  /// Lock-free: the consumer asks on every write.
  bool closed() const;
  close_reason reason() const;
  uint64_t dropped_total() const;
  size_t size() const;

private:
  bool claim_wake_locked();
  bool full_locked() const;
  void forget_replayed(size_t n); // `n` frames left the front of the queue
  void notify_consumer();

  mutable std::mutex mtx_;
  std::deque<frame> queue_;
  size_t capacity_;
  overflow_policy policy_;
  std::function<void()> wake_;
  std::weak_ptr<wake_target> target_;
  uint64_t id_ = 0;
  std::atomic<close_reason> closed_{close_reason::none}; // set under mtx_
  bool consumer_notified_ = false;
  size_t replay_queued_ = 0; // replayed frames at the front of the queue
  uint64_t missed_ = 0;
  uint64_t dropped_total_ = 0;
};

} // namespace eventcast
