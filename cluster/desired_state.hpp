#pragma once

// What operators asked of each generator (running, paused, stopped), shared
// by all nodes through a KV bucket without TTL: the lease holder runs the
// generator as asked; a node that takes the lease over reads it first.

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "cluster/expected.hpp"
#include "cluster/jetstream_link.hpp"

namespace eventcast::cluster {

enum class generator_state { running, paused, stopped };

const char* to_string(generator_state state);

std::optional<generator_state> generator_state_from(std::string_view text);

/// A key's value (nullopt: nothing was ever asked, or it was erased) and
/// revision (0: it never had a value).
struct desired_state_entry {
  std::optional<generator_state> state;
  uint64_t revision = 0;
};

struct desired_state_config {
  std::string bucket = "eventcast_generators"; // [A-Za-z0-9_-]
  int replicas = 1;
};

/// Called with each key's current value, then with every change: nullopt
/// when the key was deleted. Runs on the watch's own thread.
using desired_state_handler = std::function<void(
  const std::string& service, const std::string& stream_id,
  std::optional<generator_state> state)>;

/// A running watch; stops (and joins its thread) when destroyed. After a
/// NATS outage it resumes by itself once the client notices (about two
/// heartbeats of the KV watcher, ~10 s).
class desired_state_watch {
public:
  desired_state_watch() = default;
  desired_state_watch(desired_state_watch&&) noexcept;
  desired_state_watch& operator=(desired_state_watch&&) noexcept;
  ~desired_state_watch();

  void stop();

private:
  friend class desired_state_store;
  struct state;
  explicit desired_state_watch(std::unique_ptr<state> st);
  std::unique_ptr<state> state_;
};

/// Thread-safe. Each call waits at most the link's timeout; the bucket is
/// created (or bound) on first use, so opening succeeds while NATS is down.
class desired_state_store {
public:
  static expected<desired_state_store> open(const jetstream_link& link,
                                            desired_state_config cfg = {});

  desired_state_store(desired_state_store&&) noexcept;
  desired_state_store& operator=(desired_state_store&&) noexcept;
  ~desired_state_store();

  /// Writes `state` if the key is still at `revision` (0: it never had a
  /// value). The key's new revision; nullopt when another write came first.
  expected<std::optional<uint64_t>> put_if(std::string_view service,
                                           std::string_view stream_id,
                                           generator_state state,
                                           uint64_t revision);

  /// The key as the bucket's leader has it, so that a write another node
  /// was told of is seen.
  expected<desired_state_entry> get(std::string_view service,
                                    std::string_view stream_id);

  expected<void> erase(std::string_view service, std::string_view stream_id);

  expected<desired_state_watch> watch(desired_state_handler on_change);

private:
  struct state;
  explicit desired_state_store(std::unique_ptr<state> st);
  std::unique_ptr<state> state_;
};

} // namespace eventcast::cluster
