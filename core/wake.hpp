#pragma once

// How a mailbox tells its consumer that it has work, and how a fan-out to
// many mailboxes tells each consumer once instead of once per mailbox.

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace eventcast {

/// A consumer of many mailboxes (the output thread). Thread-safe.
class wake_target {
public:
  virtual ~wake_target() = default;
  /// The mailboxes named by `ids` have work.
  virtual void wake(const std::vector<uint64_t>& ids) = 0;
};

/// While one lives on a thread, wakes on that thread are collected and
/// delivered per target when it ends. Not copyable; nests (the outermost
/// delivers).
class wake_batch {
public:
  wake_batch();
  ~wake_batch();

  wake_batch(const wake_batch&) = delete;
  wake_batch& operator=(const wake_batch&) = delete;

  /// Wakes `id` at `target` now, or when the batch on this thread ends.
  static void wake(const std::shared_ptr<wake_target>& target, uint64_t id);

private:
  wake_batch* outer_;
  std::vector<std::pair<std::shared_ptr<wake_target>, std::vector<uint64_t>>>
    pending_;
};

} // namespace eventcast
