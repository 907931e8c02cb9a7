#include "cluster/detail/link_core.hpp"

#include <algorithm>
#include <chrono>

#include "core/log.hpp"

namespace eventcast::cluster::detail {

namespace {

constexpr const char* log_module = "cluster";

// A consumer's closure: which subscription, and which of its consumers, so
// that messages still queued for a replaced consumer are dropped.
struct delivery_closure {
  std::shared_ptr<sub_state> state;
  uint64_t generation;
};

// On the subscription's NATS delivery thread.
void on_delivery(natsConnection*, natsSubscription*, natsMsg* msg,
                 void* closure) {
  auto* c = static_cast<delivery_closure*>(closure);
  c->state->deliver(c->generation, msg);
}

// NATS's last call with the closure, once the subscription is closed.
void on_delivery_done(void* closure) {
  delete static_cast<delivery_closure*>(closure);
}

int64_t inactive_threshold_ns(const link_config& cfg) {
  return to_ns(std::max(millis{5000}, cfg.heartbeat * 5));
}

// A push consumer that delivers once, in order, from `start_seq`: what the
// client's ordered consumer does, but restarted by us from the last sequence
// we delivered (the library's restarts from 1 before the first message).
void consumer_options(jsSubOptions& so, const link_config& cfg,
                      const stream_names& names, uint64_t start_seq) {
  jsSubOptions_Init(&so);
  so.Stream = names.stream.c_str();
  auto& cc = so.Config;
  cc.AckPolicy = js_AckNone;
  cc.MaxDeliver = 1;
  cc.FlowControl = true;
  cc.Heartbeat = to_ns(cfg.heartbeat);
  cc.MemoryStorage = true;
  cc.Replicas = 1;
  cc.InactiveThreshold = inactive_threshold_ns(cfg);
  if (start_seq > 1) {
    cc.DeliverPolicy = js_DeliverByStartSequence;
    cc.OptStartSeq = start_seq;
  }
}

struct sequences {
  uint64_t stream = 0;
  uint64_t consumer = 0;
  uint64_t pending = 0;
};

bool read_sequences(natsMsg* msg, sequences& out) {
  jsMsgMetaData* raw = nullptr;
  if (natsMsg_GetMetaData(&raw, msg) != NATS_OK)
    return false;
  nats_ptr<jsMsgMetaData> meta{raw};
  out = {meta->Sequence.Stream, meta->Sequence.Consumer, meta->NumPending};
  return true;
}

std::string_view payload_of(natsMsg* msg) {
  auto len = natsMsg_GetDataLength(msg);
  return {natsMsg_GetData(msg), static_cast<size_t>(len)};
}

// Unsubscribes, deleting the consumer: a request, so it waits for the answer
// or the link's timeout.
void stop(natsSubscription* sub) {
  natsSubscription_Unsubscribe(sub);
}

void stop(kvWatcher* watcher) {
  kvWatcher_Stop(watcher);
}

void stop(retired_handle& handle) {
  std::visit([](auto& owned) { stop(owned.get()); }, handle);
}

} // namespace

// -- callback_hub -------------------------------------------------------------

void callback_hub::notify(connection_state state) {
  std::lock_guard<std::mutex> guard{mtx};
  if (core != nullptr && state != connection_state::disconnected)
    core->wake_retrier();
  if (on_state)
    on_state(state);
}

void callback_hub::async_error(natsSubscription* sub, natsStatus status) {
  std::lock_guard<std::mutex> guard{mtx};
  if (core == nullptr)
    return;
  switch (status) {
    case NATS_MISSED_HEARTBEAT:
    case NATS_MISMATCH:
    case NATS_SLOW_CONSUMER:
      if (sub != nullptr)
        core->mark_broken(sub);
      EC_DEBUG(log_module, "consumer " << natsStatus_GetText(status)
                                       << ": recreating it");
      break;
    default:
      EC_WARN(log_module, "NATS: " << natsStatus_GetText(status));
  }
}

void callback_hub::detach() {
  std::lock_guard<std::mutex> guard{mtx};
  core = nullptr;
  on_state = nullptr;
}

// -- sub_state ----------------------------------------------------------------

void sub_state::deliver(uint64_t from_generation, natsMsg* msg) {
  nats_ptr<natsMsg> owned{msg};
  sequences seqs;
  if (!read_sequences(msg, seqs))
    return;
  std::lock_guard<std::recursive_mutex> guard{mtx};
  if (closed || from_generation != generation || broken)
    return;
  if (seqs.consumer != next_dseq) {
    // A delivery was lost (slow consumer, reconnect): start again after the
    // last event we handed out.
    broken = true;
    core->wake_retrier();
    return;
  }
  ++next_dseq;
  if (seqs.stream <= last_seq)
    return;
  last_seq = seqs.stream;
  try {
    on_message(seqs.stream, payload_of(msg));
  } catch (const std::exception& e) {
    EC_ERROR(log_module, "message handler threw: " << e.what());
  } catch (...) {
    EC_ERROR(log_module, "message handler threw");
  }
}

expected<void> sub_state::restart() {
  if (closed)
    return {};
  if (!core->connected())
    return unavailable("subscribe to " + names.subject);
  if (auto ok = core->ensure(names); !ok)
    return ok;
  drop_consumer();
  ++generation;
  next_dseq = 1;
  jsSubOptions so;
  consumer_options(so, core->cfg, names, last_seq + 1);
  auto* closure = new delivery_closure{shared_from_this(), generation};
  natsSubscription* handle = nullptr;
  auto s = js_Subscribe(&handle, core->consumer_js.get(),
                        names.subject.c_str(), on_delivery, closure, nullptr,
                        &so, nullptr);
  if (s != NATS_OK) {
    delete closure;
    if (s == NATS_NOT_FOUND) // deleted behind our back: the retry creates it
      core->forget(names);
    return to_error(s, "subscribe to " + names.subject);
  }
  // Fails only when NATS closed the subscription already; NATS may still be
  // delivering with the closure then, so it is left to leak.
  natsSubscription_SetOnCompleteCB(handle, on_delivery_done, closure);
  sub.reset(handle);
  core->remember(handle, shared_from_this());
  broken = false;
  ++created;
  return {};
}

void sub_state::drop_consumer() {
  if (sub)
    core->retire(std::move(sub));
}

void sub_state::close() {
  std::lock_guard<std::recursive_mutex> guard{mtx};
  closed = true;
  drop_consumer();
}

// -- link_core ----------------------------------------------------------------

link_core::~link_core() {
  close();
  if (hub)
    hub->detach();
}

bool link_core::connected() const {
  return nc && natsConnection_Status(nc.get()) == NATS_CONN_STATUS_CONNECTED;
}

expected<void> link_core::ensure(const stream_names& names) {
  {
    std::lock_guard<std::mutex> guard{ensured_mtx};
    if (ensured.count(names.stream) > 0)
      return {};
  }
  if (!connected())
    return unavailable("create stream " + names.stream);
  const char* subjects[] = {names.subject.c_str()};
  const auto& sp = cfg.streams;
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  sc.Name = names.stream.c_str();
  sc.Subjects = subjects;
  sc.SubjectsLen = 1;
  sc.Retention = js_LimitsPolicy;
  sc.Discard = js_DiscardOld;
  sc.MaxMsgs = sp.max_msgs;
  sc.MaxBytes = sp.max_bytes;
  sc.MaxAge = to_ns(sp.max_age);
  sc.Storage = sp.memory_storage ? js_MemoryStorage : js_FileStorage;
  sc.Replicas = sp.replicas;
  sc.Duplicates = to_ns(sp.duplicate_window);
  jsErrCode jerr = static_cast<jsErrCode>(0);
  auto s = js_AddStream(nullptr, js.get(), &sc, nullptr, &jerr);
  // Another node may have created it first, maybe with other settings: the
  // existing stream is the cluster's truth.
  if (s != NATS_OK && jerr != JSStreamNameExistErr)
    return to_error(s, "create stream " + names.stream);
  std::lock_guard<std::mutex> guard{ensured_mtx};
  ensured.insert(names.stream);
  return {};
}

void link_core::forget(const stream_names& names) {
  std::lock_guard<std::mutex> guard{ensured_mtx};
  ensured.erase(names.stream);
}

// No responders: a stream without a leader (an election, seconds) or one
// deleted behind our back. Only the latter makes the next publish create it
// again; asking with a short wait keeps a publish during an election fast.
void link_core::check_exists(const stream_names& names) {
  jsStreamInfo* raw = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  auto s = js_GetStreamInfo(&raw, consumer_js.get(), names.stream.c_str(),
                            nullptr, &jerr);
  nats_ptr<jsStreamInfo> info{raw};
  if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr)
    forget(names);
}

expected<stream_state> link_core::state(const stream_names& names) {
  if (!connected())
    return unavailable("state of stream " + names.stream);
  jsStreamInfo* raw = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  auto s = js_GetStreamInfo(&raw, js.get(), names.stream.c_str(), nullptr,
                            &jerr);
  nats_ptr<jsStreamInfo> info{raw};
  if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr)
    return error{error_code::stream_not_found,
                 "stream " + names.stream + " does not exist"};
  if (s != NATS_OK)
    return to_error(s, "state of stream " + names.stream);
  stream_state out;
  out.first_seq = info->State.FirstSeq;
  out.last_seq = info->State.LastSeq;
  out.messages = info->State.Msgs;
  if (info->Cluster != nullptr && info->Cluster->Leader != nullptr)
    out.leader = info->Cluster->Leader;
  return out;
}

// A consumer streams a range fastest, but creating one needs the meta
// leader, which may be in an election after a server died while the
// stream's new leader already serves: then read one message at a time.
expected<std::vector<message>>
link_core::read(const stream_names& names, uint64_t from_seq,
                uint64_t to_seq) {
  auto now = std::chrono::steady_clock::now();
  auto deadline = now + cfg.timeout;
  jsSubOptions so;
  consumer_options(so, cfg, names, from_seq);
  nats_ptr<natsSubscription> sub;
  natsStatus s;
  do {
    natsSubscription* raw = nullptr;
    s = js_SubscribeSync(&raw, consumer_js.get(), names.subject.c_str(),
                         nullptr, &so, nullptr);
    sub.reset(raw);
  } while (s == NATS_TIMEOUT
           && std::chrono::steady_clock::now() + consumer_wait(cfg)
                < now + cfg.timeout / 2);
  if (s == NATS_TIMEOUT)
    return read_each(names, from_seq, to_seq, deadline);
  if (s != NATS_OK)
    return to_error(s, "fetch from " + names.subject);
  auto out = read_from(sub.get(), names, from_seq, to_seq, deadline);
  retire(std::move(sub));
  return out;
}

expected<std::vector<message>>
link_core::read_from(natsSubscription* sub, const stream_names& names,
                     uint64_t from_seq, uint64_t to_seq,
                     std::chrono::steady_clock::time_point deadline) {
  std::vector<message> out;
  out.reserve(to_seq - from_seq + 1);
  auto what = [&] {
    return "fetch " + std::to_string(from_seq) + ".." + std::to_string(to_seq)
           + " from " + names.subject + " (got " + std::to_string(out.size())
           + ")";
  };
  for (uint64_t next_dseq = 1;; ++next_dseq) {
    auto left = std::chrono::duration_cast<millis>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return error{error_code::unavailable, what() + ": timed out"};
    natsMsg* m = nullptr;
    auto s = natsSubscription_NextMsg(&m, sub, to_ms(left));
    nats_ptr<natsMsg> msg{m};
    if (s != NATS_OK)
      return to_error(s, what());
    sequences seqs;
    if (!read_sequences(msg.get(), seqs) || seqs.consumer != next_dseq)
      return error{error_code::unavailable, what() + ": lost a message"};
    if (seqs.stream > to_seq)
      break;
    out.push_back({seqs.stream, std::string{payload_of(msg.get())}});
    if (seqs.stream == to_seq || seqs.pending == 0)
      break;
  }
  return out;
}

expected<std::vector<message>>
link_core::read_each(const stream_names& names, uint64_t from_seq,
                     uint64_t to_seq,
                     std::chrono::steady_clock::time_point deadline) {
  std::vector<message> out;
  for (auto seq = from_seq; seq <= to_seq; ++seq) {
    auto left = std::chrono::duration_cast<millis>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return unavailable("fetch from " + names.subject);
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = to_ms(left);
    natsMsg* m = nullptr;
    auto s = js_GetMsg(&m, js.get(), names.stream.c_str(), seq, &o, nullptr);
    nats_ptr<natsMsg> msg{m};
    if (s == NATS_NOT_FOUND)
      continue; // removed by retention meanwhile, or deleted
    if (s != NATS_OK)
      return to_error(s, "fetch from " + names.subject);
    out.push_back({seq, std::string{payload_of(msg.get())}});
  }
  return out;
}

expected<void> link_core::add(const std::shared_ptr<sub_state>& state) {
  std::lock_guard<std::mutex> guard{subs_mtx};
  if (stopping)
    return error{error_code::unavailable, "subscribe: the link is closed"};
  subs.erase(std::remove_if(subs.begin(), subs.end(),
                            [](auto& w) { return w.expired(); }),
             subs.end());
  subs.push_back(state);
  return {};
}

void link_core::remember(natsSubscription* handle,
                         const std::shared_ptr<sub_state>& state) {
  std::lock_guard<std::mutex> guard{subs_mtx};
  by_handle[handle] = state;
}

void link_core::retire(retired_handle handle) {
  std::lock_guard<std::mutex> guard{subs_mtx};
  if (auto* sub = std::get_if<nats_ptr<natsSubscription>>(&handle))
    by_handle.erase(sub->get());
  retiring.push_back(std::move(handle));
  subs_cv.notify_one();
}

void link_core::mark_broken(natsSubscription* handle) {
  std::lock_guard<std::mutex> guard{subs_mtx};
  auto i = by_handle.find(handle);
  if (i == by_handle.end())
    return;
  if (auto state = i->second.lock())
    state->broken = true;
  subs_cv.notify_one();
}

void link_core::wake_retrier() {
  std::lock_guard<std::mutex> guard{subs_mtx};
  subs_cv.notify_one();
}

void link_core::run_retrier() {
  std::unique_lock<std::mutex> lock{subs_mtx};
  while (!stopping) {
    subs_cv.wait_for(lock, cfg.retry_interval);
    if (stopping || !connected())
      continue;
    std::vector<std::shared_ptr<sub_state>> todo;
    for (auto& w : subs)
      if (auto state = w.lock(); state && state->broken)
        todo.push_back(std::move(state));
    lock.unlock();
    for (auto& state : todo) {
      if (stopping)
        break;
      std::lock_guard<std::recursive_mutex> guard{state->mtx};
      if (!state->closed && state->broken)
        if (auto ok = state->restart(); !ok)
          EC_DEBUG(log_module, ok.error().message);
    }
    todo.clear();
    free_retired();
    lock.lock();
  }
}

// nats.c #637 (fixed in 3.6.1): NATS's reader looks a subscription up, lets
// go of the connection's lock, then locks the subscription without holding a
// reference, so freeing one it has just looked up crashes it. Stopping a
// handle takes it out of the connection's map (and deletes its consumer);
// a PING answered after that proves the reader, which handles what it reads
// in order, is past any earlier lookup. The PING waits a pass: when it
// cannot be written, NATS 3.4 reports the flush done at once.
void link_core::free_retired() {
  if (!retired.empty() && !stopping
      && natsConnection_FlushTimeout(nc.get(), to_ms(consumer_wait(cfg)))
           == NATS_OK)
    retired.clear();
  std::vector<retired_handle> fresh;
  {
    std::lock_guard<std::mutex> guard{subs_mtx};
    fresh.swap(retiring);
  }
  for (auto& handle : fresh) {
    if (!stopping) // else closing the connection unsubscribes it
      stop(handle);
    retired.push_back(std::move(handle));
  }
}

void link_core::close() {
  {
    std::lock_guard<std::mutex> guard{subs_mtx};
    stopping = true;
  }
  subs_cv.notify_all();
  if (retrier.joinable() && retrier.get_id() != std::this_thread::get_id())
    retrier.join();
  if (nc)
    natsConnection_Close(nc.get());
  // Closing joined NATS's reader: nothing can reach them any more.
  std::lock_guard<std::mutex> guard{subs_mtx};
  retiring.clear();
  retired.clear();
}

} // namespace eventcast::cluster::detail
