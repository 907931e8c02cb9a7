#pragma once

// How a stream's frames reach each subscriber's consumer (the output thread).
//
// A stream appends each live frame once to its feed; every subscriber's
// mailbox reads the feed at its own cursor, after the frames meant for that
// subscriber alone (its connection event, a replay). So a publish costs the
// stream one append, whatever the number of subscribers, and the consumer
// reads frames that no other thread writes to any more. Thread-safe; the
// producer never blocks on a consumer.

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "core/event.hpp"
#include "core/settings.hpp"
#include "core/wake.hpp"

namespace eventcast {

enum class close_reason { none, client_gone, overflow, shutdown, expired };

class mailbox;

/// A stream's live frames. It keeps the last `capacity` of them: a mailbox
/// further behind has overflowed. Under `disconnect` it closes (keeping the
/// frames that fit); under `drop_oldest` it skips to the oldest frame kept
/// and its consumer is told how many it missed.
class feed {
public:
  feed(size_t capacity, overflow_policy policy);
  ~feed();

  feed(const feed&) = delete;
  feed& operator=(const feed&) = delete;

  struct append_result {
    uint64_t dropped = 0;      // frames skipped by lagging mailboxes
    uint64_t disconnected = 0; // mailboxes closed for overflow
  };

  /// Appends a frame and wakes the consumers of the mailboxes that had
  /// nothing left to read.
  append_result append(frame f);

private:
  friend class mailbox;

  struct wake_group {
    std::weak_ptr<wake_target> target;
    std::vector<uint64_t> ids;
  };

  uint64_t oldest() const;
  uint64_t position(const mailbox& m) const;
  uint32_t& readers_at(uint64_t position);
  void link(mailbox& m);
  void unlink(mailbox& m);
  uint64_t read(mailbox& m, size_t room, std::vector<frame>& out);
  void park(mailbox& m);
  static wake_group& group_of(std::vector<wake_group>& groups,
                              const std::weak_ptr<wake_target>& target);
  static void add_wake(std::vector<wake_group>& groups, const mailbox& m);
  uint64_t disconnect_behind(uint64_t leaving, std::vector<wake_group>& wakes);

  mutable std::mutex mtx_; // taken before any mailbox's own lock
  const size_t capacity_;
  const overflow_policy policy_;
  std::vector<frame> ring_;     // position p at p % capacity_
  std::vector<uint32_t> at_;    // mailboxes whose next frame is p, at p % (capacity_ + 1)
  uint64_t end_ = 0;            // the position of the next frame appended
  mailbox* first_ = nullptr;    // the linked mailboxes
  uint64_t round_ = 1;          // counts the appends that woke `parked_`
  std::vector<wake_group> parked_;
};

class mailbox {
public:
  /// `target` is told `id` when the consumer has new work: frames after a
  /// take that found none, and always when the mailbox closes (and perhaps
  /// once more after, by the feed it followed).
  mailbox(std::weak_ptr<wake_target> target, uint64_t id);
  ~mailbox();

  mailbox(const mailbox&) = delete;
  mailbox& operator=(const mailbox&) = delete;

  /// Frames for this subscriber alone (its connection event, a replay),
  /// unbounded. Only before follow(): they come before the feed's frames.
  void push(std::vector<frame> frames);

  /// Reads `live` from now on: the frames appended after this call. Once.
  void follow(std::shared_ptr<feed> live);

  struct batch {
    std::vector<frame> frames;
    uint64_t missed = 0; // frames skipped (drop_oldest) since the last take
    close_reason closed = close_reason::none;
  };

  /// Moves up to `max` frames out. When it returns no frames the consumer is
  /// idle until the next wake.
  batch take(size_t max);

  /// Closes the mailbox; frames not yet taken stay for the consumer, unless
  /// the client is gone. False if it was already closed.
  bool close(close_reason why);

  /// Lock-free: the consumer asks on every write.
  bool closed() const;
  close_reason reason() const;

private:
  friend class feed;

  struct locks {
    std::unique_lock<std::mutex> feed;
    std::unique_lock<std::mutex> own;
  };
  locks lock_both() const;
  bool claim_wake_locked();
  void notify_consumer();
  /// In its feed's list and counts: it follows one and is not closed (a
  /// close leaves the feed before it sets `closed_`).
  bool linked() const;
  /// Under both locks: leaves the feed; unread frames move to the queue.
  void detach_locked(close_reason why);

  mutable std::mutex mtx_;
  std::deque<frame> queue_;
  std::weak_ptr<wake_target> target_;
  uint64_t id_ = 0;
  std::atomic<close_reason> closed_{close_reason::none}; // set under mtx_
  bool consumer_notified_ = false;
  uint64_t missed_ = 0;

  // Set once by follow(); the rest is guarded by the feed's lock.
  std::shared_ptr<feed> live_;
  std::atomic<feed*> following_{nullptr};
  uint64_t cursor_ = 0; // the position of the next frame to read
  uint64_t parked_in_ = 0; // the feed's round in which it was parked
  mailbox* prev_ = nullptr;
  mailbox* next_ = nullptr;
};

} // namespace eventcast
