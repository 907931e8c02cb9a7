#include "core/wake.hpp"

namespace eventcast {

namespace {

thread_local wake_batch* current_batch = nullptr;

} // namespace

wake_batch::wake_batch() : outer_(current_batch) {
  if (!outer_)
    current_batch = this;
}

wake_batch::~wake_batch() {
  if (outer_)
    return;
  current_batch = nullptr;
  for (auto& [target, ids] : pending_)
    target->wake(ids);
}

void wake_batch::wake(const std::shared_ptr<wake_target>& target,
                      uint64_t id) {
  auto* batch = current_batch;
  if (!batch) {
    target->wake({id});
    return;
  }
  // A fan-out has few distinct targets: a linear search is fastest.
  for (auto& [t, ids] : batch->pending_)
    if (t == target) {
      ids.push_back(id);
      return;
    }
  batch->pending_.emplace_back(target, std::vector<uint64_t>{id});
}

} // namespace eventcast
