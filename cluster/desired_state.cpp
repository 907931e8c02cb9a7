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

  /// `key` in the bucket's stream, once the bucket is bound.
  expected<detail::kv_key> stream_key(const std::string& key) {
    if (auto kv = bucket.get(); !kv)
      return kv.error();
    return detail::key_in(bucket.spec().name, key);
  }

  jsCtx* js() const { return bucket.core()->js.get(); }
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

expected<std::optional<uint64_t>>
desired_state_store::put_if(std::string_view service,
                            std::string_view stream_id, generator_state value,
                            uint64_t revision) {
  auto key = generator_key(service, stream_id);
  auto at = state_->stream_key(key);
  if (!at)
    return at.error();
  auto wait = state_->bucket.timeout();
  uint64_t written = 0;
  bool conflict = false;
  auto s = detail::retry_while_leaderless(
    wait,
    [&] {
      return detail::write_if(state_->js(), *at, to_string(value), revision,
                              wait, written, conflict);
    },
    [] { return true; });
  if (conflict)
    return std::optional<uint64_t>{};
  if (s != NATS_OK)
    return detail::to_error(s, "put desired state of " + key);
  return std::optional<uint64_t>{written};
}

expected<desired_state_entry>
desired_state_store::get(std::string_view service,
                         std::string_view stream_id) {
  auto key = generator_key(service, stream_id);
  auto at = state_->stream_key(key);
  if (!at)
    return at.error();
  auto wait = state_->bucket.timeout();
  detail::kv_entry e;
  auto s = detail::retry_while_leaderless(
    wait,
    [&] {
      return detail::read_latest(state_->js(), *at, wait, e);
    },
    [] { return true; });
  if (s != NATS_OK)
    return detail::to_error(s, "get desired state of " + key);
  return desired_state_entry{generator_state_from(e.value), e.revision};
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
