#include "cluster/lease.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "cluster/detail/kv.hpp"
#include "cluster/detail/link_core.hpp"
#include "core/log.hpp"

namespace eventcast::cluster {

using clock = std::chrono::steady_clock;
using detail::nats_ptr;

namespace {

// The result of a conditional write: a revision, a lost compare-and-set, or
// no answer.
struct write_result {
  uint64_t revision = 0;
  bool conflict = false;
  std::optional<error> failure;
};

// The key's last value as the stream leader has it ("" for a release).
using entry = detail::kv_entry;

millis left_until(clock::time_point deadline) {
  return std::chrono::duration_cast<millis>(deadline - clock::now());
}

} // namespace

struct lease::state {
  std::shared_ptr<detail::link_core> core;
  std::string name;
  std::string node;
  lease_config cfg;
  detail::kv_key key;
  nats_ptr<jsCtx> js;
  bool bucket_ready = false;
  bool held = false;
  uint64_t revision = 0;
  clock::time_point valid_until{};

  millis op_timeout() const { return cfg.ttl / 4; }
  millis validity() const { return cfg.ttl - cfg.ttl / 4; }

  expected<void> ensure_bucket();
  write_result write(const std::string& value, uint64_t expected_revision,
                     clock::time_point deadline);
  expected<entry> read(clock::time_point deadline);
  expected<bool> take(const entry& current);
  void hold(uint64_t rev, clock::time_point sent);
};

expected<void> lease::state::ensure_bucket() {
  if (bucket_ready)
    return {};
  detail::bucket_spec spec{cfg.bucket, cfg.ttl, cfg.replicas};
  auto kv = detail::open_bucket(js.get(), spec);
  if (!kv)
    return kv.error();
  auto ttl = detail::bucket_ttl(kv->get());
  if (!ttl)
    return ttl.error();
  if (ttl->count() <= 0)
    return error{error_code::internal,
                 "KV bucket " + cfg.bucket + " has no TTL: leases need one"};
  cfg.ttl = *ttl;
  bucket_ready = true;
  return {};
}

// The KV API hides JetStream's error codes and takes no per-call timeout,
// so leases publish to the bucket's stream themselves.
write_result lease::state::write(const std::string& value,
                                 uint64_t expected_revision,
                                 clock::time_point deadline) {
  auto wait = left_until(deadline);
  if (wait.count() <= 0)
    return {0, false, error{error_code::unavailable, "lease: out of time"}};
  write_result w;
  auto s = detail::write_if(js.get(), key, value, expected_revision, wait,
                            w.revision, w.conflict);
  if (s != NATS_OK && !w.conflict)
    w.failure = detail::to_error(s, "lease " + name);
  return w;
}

expected<entry> lease::state::read(clock::time_point deadline) {
  auto wait = left_until(deadline);
  if (wait.count() <= 0)
    return error{error_code::unavailable, "lease: out of time"};
  entry e;
  if (auto s = detail::read_latest(js.get(), key, wait, e); s != NATS_OK)
    return detail::to_error(s, "lease " + name);
  return e;
}

void lease::state::hold(uint64_t rev, clock::time_point sent) {
  held = true;
  revision = rev;
  valid_until = sent + validity();
}

// Takes over a key whose value is free or ours.
expected<bool> lease::state::take(const entry& current) {
  if (!current.value.empty() && current.value != node) {
    held = false;
    return false;
  }
  auto sent = clock::now();
  auto w = write(node, current.revision, sent + op_timeout());
  if (w.failure)
    return *w.failure;
  if (w.conflict)
    return false;
  hold(w.revision, sent);
  return true;
}

lease::lease(std::unique_ptr<state> st) : state_(std::move(st)) {
}

lease::lease(lease&&) noexcept = default;

lease& lease::operator=(lease&&) noexcept = default;

lease::~lease() = default;

expected<lease> lease::open(const jetstream_link& link, std::string name,
                            lease_config cfg) {
  if (!detail::valid_key(name))
    return error{error_code::internal, "lease: invalid key '" + name + "'"};
  if (link.config().node_name.empty())
    return error{error_code::internal, "lease: the link has no node_name"};
  if (cfg.ttl < millis{100})
    return error{error_code::internal, "lease: TTL under 100 ms"};
  auto st = std::make_unique<state>();
  st->core = link.core_;
  st->node = link.config().node_name;
  st->key = detail::key_in(cfg.bucket, name);
  st->name = std::move(name);
  st->cfg = std::move(cfg);
  auto js = detail::make_js(st->core->nc.get(), st->core->cfg.timeout);
  if (!js)
    return js.error();
  st->js = std::move(*js);
  return lease{std::move(st)};
}

expected<bool> lease::try_acquire() {
  auto& st = *state_;
  if (!st.core->connected())
    return detail::unavailable("lease " + st.name);
  if (auto ok = st.ensure_bucket(); !ok)
    return ok.error();
  auto sent = clock::now();
  auto w = st.write(st.node, 0, sent + st.op_timeout());
  if (w.failure)
    return *w.failure;
  if (!w.conflict) {
    st.hold(w.revision, sent);
    return true;
  }
  auto current = st.read(clock::now() + st.op_timeout());
  if (!current)
    return current.error();
  return st.take(*current);
}

expected<bool> lease::renew() {
  auto& st = *state_;
  auto sent = clock::now();
  if (!st.held || sent >= st.valid_until) {
    st.held = false;
    return false;
  }
  if (!st.core->connected())
    return detail::unavailable("lease " + st.name);
  auto w = st.write(st.node, st.revision,
                    std::min(sent + st.op_timeout(), st.valid_until));
  if (w.failure)
    return *w.failure;
  if (!w.conflict) {
    st.hold(w.revision, sent);
    return true;
  }
  auto current = st.read(std::min(clock::now() + st.op_timeout(),
                                  st.valid_until));
  if (!current)
    return current.error();
  if (current->found && current->value == st.node) {
    // A renew of ours that timed out landed after all: adopt its revision,
    // but not a later deadline, since we do not know when it was sent.
    st.revision = current->revision;
    return true;
  }
  st.held = false;
  return false;
}

expected<void> lease::release() {
  auto& st = *state_;
  if (!st.held)
    return {};
  st.held = false;
  if (!st.core->connected())
    return detail::unavailable("lease " + st.name);
  auto w = st.write("", st.revision, clock::now() + st.op_timeout());
  if (w.failure)
    return *w.failure;
  return {}; // a conflict: it was not ours any more
}

bool lease::held() const {
  return state_->held && clock::now() < state_->valid_until;
}

clock::time_point lease::valid_until() const {
  return state_->valid_until;
}

uint64_t lease::revision() const {
  return state_->revision;
}

expected<std::string> lease::holder() {
  auto& st = *state_;
  if (!st.core->connected())
    return detail::unavailable("lease " + st.name);
  if (auto ok = st.ensure_bucket(); !ok)
    return ok.error();
  auto current = st.read(clock::now() + st.op_timeout());
  if (!current)
    return current.error();
  return current->value;
}

millis lease::ttl() const {
  return state_->cfg.ttl;
}

const std::string& lease::name() const {
  return state_->name;
}

// -- lease_keeper -------------------------------------------------------------

struct lease_keeper::state {
  lease owned;
  change_handler on_change;
  std::mutex mtx;
  std::condition_variable cv;
  bool stopping = false;
  bool release_on_stop = true;
  std::atomic<bool> reported{false};
  std::thread worker;

  state(lease l, change_handler f)
    : owned(std::move(l)), on_change(std::move(f)) {
  }

  void report(bool held) {
    if (reported.exchange(held) != held && on_change)
      on_change(held);
  }

  clock::time_point step();
  void run();
};

clock::time_point lease_keeper::state::step() {
  auto period = owned.ttl() / 4;
  if (reported) {
    if (auto r = owned.renew(); !r)
      EC_DEBUG("cluster", r.error().message);
  } else if (auto r = owned.try_acquire(); !r) {
    EC_DEBUG("cluster", r.error().message);
  }
  report(owned.held());
  auto next = clock::now() + period;
  return reported ? std::min(next, owned.valid_until()) : next;
}

void lease_keeper::state::run() {
  std::unique_lock<std::mutex> lock{mtx};
  while (!stopping) {
    lock.unlock();
    auto next = step();
    lock.lock();
    cv.wait_until(lock, next, [this] { return stopping; });
  }
  lock.unlock();
  if (release_on_stop && owned.held())
    if (auto ok = owned.release(); !ok)
      EC_DEBUG("cluster", ok.error().message);
  report(false);
}

lease_keeper::lease_keeper(lease l, change_handler on_change)
  : state_(std::make_unique<state>(std::move(l), std::move(on_change))) {
  state_->worker = std::thread{[st = state_.get()] { st->run(); }};
}

lease_keeper::~lease_keeper() {
  stop(true);
}

void lease_keeper::stop(bool release) {
  {
    std::lock_guard<std::mutex> guard{state_->mtx};
    if (state_->stopping)
      return;
    state_->stopping = true;
    state_->release_on_stop = release;
  }
  state_->cv.notify_all();
  if (state_->worker.joinable())
    state_->worker.join();
}

bool lease_keeper::held() const {
  return state_->reported;
}

} // namespace eventcast::cluster
