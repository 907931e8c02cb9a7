#pragma once

// Internal to cluster/: the state behind a jetstream_link, shared with its
// subscriptions, leases and stores so the connection outlives all of them.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "cluster/detail/nats.hpp"
#include "cluster/jetstream_link.hpp"

namespace eventcast::cluster::detail {

struct link_core;

/// A handle NATS's reader may still reach after its owner is done with it;
/// the link's retrier stops it, then frees it (see free_retired).
using retired_handle =
  std::variant<nats_ptr<natsSubscription>, nats_ptr<kvWatcher>>;

/// What the connection's callbacks reach, on NATS's callback thread. NATS
/// may call them after the link is gone (the closed callback comes last and
/// frees their closure); detach() stops them reaching the link or the user.
struct callback_hub {
  std::mutex mtx;
  link_core* core = nullptr;
  state_handler on_state;

  void notify(connection_state state);
  void async_error(natsSubscription* sub, natsStatus status);
  void detach();
};

/// One subscription. Its mutex serializes delivery (NATS's delivery thread)
/// with unsubscribe (the owner) and with recreating the consumer (the
/// retrier thread).
struct sub_state : std::enable_shared_from_this<sub_state> {
  std::shared_ptr<link_core> core;
  stream_names names;
  message_handler on_message;

  std::recursive_mutex mtx;
  uint64_t last_seq = 0;   // last delivered
  uint64_t next_dseq = 1;  // the consumer sequence expected next
  uint64_t generation = 0; // of the current consumer
  bool closed = false;
  nats_ptr<natsSubscription> sub;
  std::atomic<bool> broken{true}; // needs a (new) consumer
  std::atomic<uint64_t> created{0};

  void deliver(uint64_t from_generation, natsMsg* msg);
  expected<void> restart();
  void drop_consumer();
  void close();
};

struct link_core {
  link_config cfg;
  nats_ptr<natsConnection> nc;
  nats_ptr<jsCtx> js; // declared after nc: destroyed before it
  // Creates consumers with short waits: right after a server dies, the meta
  // leader may place a consumer on it (it still counts as online), and the
  // next try, elsewhere, succeeds.
  nats_ptr<jsCtx> consumer_js;
  std::shared_ptr<callback_hub> hub;

  std::mutex ensured_mtx;
  std::set<std::string> ensured;

  std::mutex subs_mtx;
  std::condition_variable subs_cv;
  std::vector<std::weak_ptr<sub_state>> subs;
  std::unordered_map<natsSubscription*, std::weak_ptr<sub_state>> by_handle;
  std::vector<retired_handle> retiring; // to stop
  std::vector<retired_handle> retired;  // to free; retrier only
  std::atomic<bool> stopping{false}; // set under subs_mtx, for subs_cv
  std::thread retrier;

  ~link_core();

  bool connected() const;
  expected<void> ensure(const stream_names& names);
  void forget(const stream_names& names);
  void check_exists(const stream_names& names);
  expected<stream_state> state(const stream_names& names);
  expected<std::vector<message>> read(const stream_names& names,
                                      uint64_t from_seq, uint64_t to_seq);
  expected<std::vector<message>>
  read_from(natsSubscription* sub, const stream_names& names,
            uint64_t from_seq, uint64_t to_seq,
            std::chrono::steady_clock::time_point deadline);
  expected<std::vector<message>>
  read_each(const stream_names& names, uint64_t from_seq, uint64_t to_seq,
            std::chrono::steady_clock::time_point deadline);

  expected<void> add(const std::shared_ptr<sub_state>& state);
  void remember(natsSubscription* handle,
                const std::shared_ptr<sub_state>& state);
  /// Stops and frees `handle` on the retrier thread, later.
  void retire(retired_handle handle);
  void mark_broken(natsSubscription* handle);
  void wake_retrier();
  void run_retrier();
  void free_retired();
  void close();
};

} // namespace eventcast::cluster::detail
