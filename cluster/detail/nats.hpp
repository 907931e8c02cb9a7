#pragma once

// Internal to cluster/: one owner type per NATS C object and the mapping of
// NATS statuses to cluster errors. Nothing outside cluster/*.cpp includes it.

#include <nats/nats.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string_view>
#include <thread>

#include "cluster/expected.hpp"

namespace eventcast::cluster {

using millis = std::chrono::milliseconds;

} // namespace eventcast::cluster

namespace eventcast::cluster::detail {

struct nats_deleter {
  void operator()(natsOptions* p) const { natsOptions_Destroy(p); }
  void operator()(natsConnection* p) const { natsConnection_Destroy(p); }
  void operator()(jsCtx* p) const { jsCtx_Destroy(p); }
  // Non-blocking: sends UNSUB but keeps the consumer; the server removes an
  // ephemeral consumer once its delivery subject has no interest.
  void operator()(natsSubscription* p) const { natsSubscription_Destroy(p); }
  void operator()(natsMsg* p) const { natsMsg_Destroy(p); }
  void operator()(jsPubAck* p) const { jsPubAck_Destroy(p); }
  void operator()(jsStreamInfo* p) const { jsStreamInfo_Destroy(p); }
  void operator()(jsStreamNamesList* p) const {
    jsStreamNamesList_Destroy(p);
  }
  void operator()(jsMsgMetaData* p) const { jsMsgMetaData_Destroy(p); }
  void operator()(kvStore* p) const { kvStore_Destroy(p); }
  void operator()(kvEntry* p) const { kvEntry_Destroy(p); }
  void operator()(kvStatus* p) const { kvStatus_Destroy(p); }
  void operator()(kvWatcher* p) const { kvWatcher_Destroy(p); }
};

template <class T>
using nats_ptr = std::unique_ptr<T, nats_deleter>;

/// Destroys a natsMsgList's messages and array (not the list itself).
struct msg_list_guard {
  natsMsgList list{nullptr, 0};
  ~msg_list_guard() { natsMsgList_Destroy(&list); }
};

/// `what` failed with `status`: unavailable for everything that means NATS or
/// JetStream did not answer, internal otherwise; the message carries the
/// library's last error text.
error to_error(natsStatus status, std::string_view what);

error unavailable(std::string_view what);

inline int64_t to_ms(std::chrono::milliseconds d) {
  return static_cast<int64_t>(d.count());
}

inline int64_t to_ns(std::chrono::milliseconds d) {
  return static_cast<int64_t>(d.count()) * 1000000;
}

/// How long one try at creating a consumer waits.
template <class Config>
millis consumer_wait(const Config& cfg) {
  return std::max(millis{250}, cfg.timeout / 4);
}

/// Calls `attempt` (which returns a natsStatus) again while the answer is
/// "no responders" -- nothing was done: the stream or bucket has no leader
/// yet (a new one, or an election after a server died) -- until `timeout`
/// passed or `between` (called before each retry) returns false.
template <class Attempt, class Between>
natsStatus retry_while_leaderless(millis timeout, Attempt attempt,
                                  Between between) {
  constexpr millis pause{50};
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto s = attempt();
  while (s == NATS_NO_RESPONDERS
         && std::chrono::steady_clock::now() + pause < deadline && between()) {
    std::this_thread::sleep_for(pause);
    s = attempt();
  }
  return s;
}

/// A JetStream context on `nc` whose requests wait at most `wait`.
expected<nats_ptr<jsCtx>> make_js(natsConnection* nc,
                                  std::chrono::milliseconds wait);

} // namespace eventcast::cluster::detail
