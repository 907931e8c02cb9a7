#pragma once

// How a mailbox tells its consumer that it has work.

#include <cstdint>
#include <vector>

namespace eventcast {

/// A consumer of many mailboxes (the output thread). Thread-safe.
class wake_target {
public:
  virtual ~wake_target() = default;
  /// The mailboxes named by `ids` have work.
  virtual void wake(const std::vector<uint64_t>& ids) = 0;
};

} // namespace eventcast
