#include "cluster/desired_state.hpp"

#include <atomic>
#include <thread>

#include "cluster/detail/kv.hpp"
#include "cluster/detail/link_core.hpp"
#include "cluster/names.hpp"
#include "core/log.hpp"

namespace eventcast::cluster {

using detail::nats_ptr;

const char* to_string(generator_state state) {
  switch (state) {
    case generator_state::running: return "running";
    case generator_state::paused: return "paused";
    default: return "stopped";
  }
}

std::optional<generator_state> generator_state_from(std::string_view text) {
  if (text == "running")
    return generator_state::running;
  if (text == "paused")
    return generator_state::paused;
  if (text == "stopped")
    return generator_state::stopped;
  return std::nullopt;
}

// -- desired_state_watch ------------------------------------------------------

struct desired_state_watch::state {
  std::shared_ptr<detail::link_core> core;
  nats_ptr<kvWatcher> watcher;
  desired_state_handler on_change;
  std::atomic<bool> stopping{false};
  std::thread worker;

  void run();
  void handle(kvEntry* e);
};

void desired_state_watch::state::handle(kvEntry* e) {
  auto key = parse_generator_key(kvEntry_Key(e));
  if (!key)
    return;
  std::optional<generator_state> value;
  if (kvEntry_Operation(e) == kvOp_Put) {
    value = generator_state_from(detail::entry_value(e));
    if (!value)
      return;
  }
  on_change(key->first, key->second, value);
}

void desired_state_watch::state::run() {
  while (!stopping) {
    kvEntry* raw = nullptr;
    auto s = kvWatcher_Next(&raw, watcher.get(), 1000);
    nats_ptr<kvEntry> e{raw};
    if (s == NATS_ILLEGAL_STATE || s == NATS_CONNECTION_CLOSED
        || s == NATS_INVALID_SUBSCRIPTION)
      return;
    if (s == NATS_OK && e) // a null entry marks the end of current values
      handle(e.get());
  }
}

desired_state_watch::desired_state_watch(std::unique_ptr<state> st)
  : state_(std::move(st)) {
}

desired_state_watch::desired_state_watch(desired_state_watch&&) noexcept
  = default;

desired_state_watch&
desired_state_watch::operator=(desired_state_watch&& other) noexcept {
  if (this != &other) {
    stop();
    state_ = std::move(other.state_);
  }
  return *this;
}

desired_state_watch::~desired_state_watch() {
  stop();
}

void desired_state_watch::stop() {
  if (!state_ || state_->stopping.exchange(true))
    return;
  kvWatcher_Stop(state_->watcher.get()); // wakes the worker
  if (state_->worker.joinable())
    state_->worker.join();
  // NATS's reader may be handling a put for it.
  state_->core->retire(std::move(state_->watcher));
}

// -- desired_state_store ------------------------------------------------------

struct desired_state_store::state {
  detail::lazy_bucket bucket;

  state(std::shared_ptr<detail::link_core> core, detail::bucket_spec spec)
    : bucket(std::move(core), std::move(spec)) {
  }
};

desired_state_store::desired_state_store(std::unique_ptr<state> st)
  : state_(std::move(st)) {
}

desired_state_store::desired_state_store(desired_state_store&&) noexcept
  = default;

desired_state_store&
desired_state_store::operator=(desired_state_store&&) noexcept = default;

desired_state_store::~desired_state_store() = default;

expected<desired_state_store>
desired_state_store::open(const jetstream_link& link,
                          desired_state_config cfg) {
  detail::bucket_spec spec{std::move(cfg.bucket), millis{0}, cfg.replicas};
  return desired_state_store{std::make_unique<state>(link.core_,
                                                    std::move(spec))};
}

expected<uint64_t> desired_state_store::put(std::string_view service,
                                            std::string_view stream_id,
                                            generator_state value) {
  auto kv = state_->bucket.get();
  if (!kv)
    return kv.error();
  auto key = generator_key(service, stream_id);
  uint64_t rev = 0;
  auto s = detail::retry_while_leaderless(
    state_->bucket.timeout(),
    [&] {
      return kvStore_PutString(&rev, kv->get(), key.c_str(), to_string(value));
    },
    [] { return true; });
  if (s != NATS_OK)
    return detail::to_error(s, "put desired state of " + key);
  return rev;
}

expected<std::optional<generator_state>>
desired_state_store::get(std::string_view service,
                         std::string_view stream_id) {
  auto kv = state_->bucket.get();
  if (!kv)
    return kv.error();
  auto key = generator_key(service, stream_id);
  kvEntry* raw = nullptr;
  auto s = kvStore_Get(&raw, kv->get(), key.c_str());
  nats_ptr<kvEntry> e{raw};
  if (s == NATS_NOT_FOUND)
    return std::optional<generator_state>{};
  if (s != NATS_OK)
    return detail::to_error(s, "get desired state of " + key);
  return generator_state_from(kvEntry_ValueString(e.get()));
}

expected<void> desired_state_store::erase(std::string_view service,
                                          std::string_view stream_id) {
  auto kv = state_->bucket.get();
  if (!kv)
    return kv.error();
  auto key = generator_key(service, stream_id);
  if (auto s = kvStore_Delete(kv->get(), key.c_str()); s != NATS_OK)
    return detail::to_error(s, "erase desired state of " + key);
  return {};
}

expected<desired_state_watch>
desired_state_store::watch(desired_state_handler on_change) {
  if (!on_change)
    return error{error_code::internal, "watch: no handler"};
  auto kv = state_->bucket.get();
  if (!kv)
    return kv.error();
  kvWatchOptions opts;
  kvWatchOptions_Init(&opts);
  kvWatcher* raw = nullptr;
  if (auto s = kvStore_WatchAll(&raw, kv->get(), &opts); s != NATS_OK)
    return detail::to_error(s, "watch desired states");
  auto st = std::make_unique<desired_state_watch::state>();
  st->core = state_->bucket.core();
  st->watcher.reset(raw);
  st->on_change = std::move(on_change);
  st->worker = std::thread{[p = st.get()] { p->run(); }};
  return desired_state_watch{std::move(st)};
}

} // namespace eventcast::cluster
