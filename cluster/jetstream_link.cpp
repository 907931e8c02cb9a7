#include "cluster/jetstream_link.hpp"

#include <algorithm>
#include <thread>

#include "cluster/detail/link_core.hpp"
#include "core/log.hpp"

namespace eventcast::cluster {

using detail::callback_hub;
using detail::link_core;
using detail::nats_ptr;
using detail::sub_state;

namespace {

using hub_closure = std::shared_ptr<callback_hub>;

callback_hub& hub_of(void* closure) {
  return **static_cast<hub_closure*>(closure);
}

// The connection callbacks, all on NATS's callback thread.
void on_connected(natsConnection*, void* closure) {
  hub_of(closure).notify(connection_state::connected);
}

void on_disconnected(natsConnection*, void* closure) {
  hub_of(closure).notify(connection_state::disconnected);
}

void on_reconnected(natsConnection*, void* closure) {
  hub_of(closure).notify(connection_state::reconnected);
}

void on_closed(natsConnection*, void* closure) {
  hub_of(closure).notify(connection_state::closed);
  delete static_cast<hub_closure*>(closure);
}

void on_async_error(natsConnection*, natsSubscription* sub,
                    natsStatus status, void* closure) {
  hub_of(closure).async_error(sub, status);
}

natsStatus set_callbacks(natsOptions* opts, void* closure) {
  auto s = natsOptions_SetRetryOnFailedConnect(opts, true, on_connected,
                                               closure);
  if (s == NATS_OK)
    s = natsOptions_SetDisconnectedCB(opts, on_disconnected, closure);
  if (s == NATS_OK)
    s = natsOptions_SetReconnectedCB(opts, on_reconnected, closure);
  if (s == NATS_OK)
    s = natsOptions_SetClosedCB(opts, on_closed, closure);
  if (s == NATS_OK)
    s = natsOptions_SetErrorHandler(opts, on_async_error, closure);
  return s;
}

natsStatus set_options(natsOptions* opts, const link_config& cfg) {
  std::vector<const char*> urls;
  for (auto& url : cfg.urls)
    urls.push_back(url.c_str());
  auto s = natsOptions_SetServers(opts, urls.data(),
                                  static_cast<int>(urls.size()));
  if (s == NATS_OK && !cfg.node_name.empty())
    s = natsOptions_SetName(opts, cfg.node_name.c_str());
  if (s == NATS_OK)
    s = natsOptions_SetMaxReconnect(opts, -1);
  if (s == NATS_OK)
    s = natsOptions_SetReconnectWait(opts, detail::to_ms(cfg.reconnect_wait));
  if (s == NATS_OK)
    s = natsOptions_SetTimeout(opts, detail::to_ms(cfg.timeout));
  if (s == NATS_OK)
    s = natsOptions_SetPingInterval(opts, detail::to_ms(cfg.ping_interval));
  if (s == NATS_OK)
    s = natsOptions_SetMaxPingsOut(opts, cfg.max_pings_out);
  // A request in flight when the connection drops fails at once instead of
  // waiting out its timeout.
  if (s == NATS_OK)
    s = natsOptions_SetFailRequestsOnDisconnect(opts, true);
  return s;
}

expected<nats_ptr<natsConnection>> open_connection(const link_config& cfg,
                                                   const hub_closure& hub) {
  natsOptions* raw = nullptr;
  if (auto s = natsOptions_Create(&raw); s != NATS_OK)
    return detail::to_error(s, "connect");
  nats_ptr<natsOptions> opts{raw};
  auto* closure = new hub_closure{hub};
  auto s = set_options(opts.get(), cfg);
  if (s == NATS_OK)
    s = set_callbacks(opts.get(), closure);
  natsConnection* nc = nullptr;
  if (s == NATS_OK)
    s = natsConnection_Connect(&nc, opts.get());
  if (s == NATS_OK) {
    hub->notify(connection_state::connected);
  } else if (s != NATS_NOT_YET_CONNECTED) {
    // No connection, so no closed callback will free it.
    delete closure;
    return detail::to_error(s, "connect");
  }
  return nats_ptr<natsConnection>{nc};
}

} // namespace

const char* to_string(connection_state state) {
  switch (state) {
    case connection_state::connected: return "connected";
    case connection_state::disconnected: return "disconnected";
    case connection_state::reconnected: return "reconnected";
    default: return "closed";
  }
}

// -- subscription -------------------------------------------------------------

subscription::subscription(std::shared_ptr<sub_state> state)
  : state_(std::move(state)) {
}

subscription& subscription::operator=(subscription&& other) noexcept {
  if (this != &other) {
    unsubscribe();
    state_ = std::move(other.state_);
  }
  return *this;
}

subscription::~subscription() {
  unsubscribe();
}

void subscription::unsubscribe() {
  if (state_)
    state_->close();
}

uint64_t subscription::last_seq() const {
  if (!state_)
    return 0;
  std::lock_guard<std::recursive_mutex> guard{state_->mtx};
  return state_->last_seq;
}

bool subscription::consuming() const {
  return state_ && !state_->broken;
}

uint64_t subscription::consumers_created() const {
  return state_ ? state_->created.load() : 0;
}

// -- jetstream_link -----------------------------------------------------------

jetstream_link::jetstream_link(std::shared_ptr<link_core> core)
  : core_(std::move(core)) {
}

jetstream_link& jetstream_link::operator=(jetstream_link&& other) noexcept {
  if (this != &other) {
    shut_down();
    core_ = std::move(other.core_);
  }
  return *this;
}

jetstream_link::~jetstream_link() {
  shut_down();
}

void jetstream_link::shut_down() {
  if (core_) {
    core_->hub->detach();
    core_->close();
  }
}

expected<jetstream_link> jetstream_link::connect(link_config cfg,
                                                 state_handler on_state) {
  if (cfg.urls.empty())
    return error{error_code::internal, "connect: no NATS URL configured"};
  auto core = std::make_shared<link_core>();
  core->cfg = std::move(cfg);
  core->hub = std::make_shared<callback_hub>();
  core->hub->core = core.get();
  core->hub->on_state = std::move(on_state);
  auto nc = open_connection(core->cfg, core->hub);
  if (!nc)
    return nc.error();
  core->nc = std::move(*nc);
  auto js = detail::make_js(core->nc.get(), core->cfg.timeout);
  if (!js)
    return js.error();
  core->js = std::move(*js);
  auto consumer_js = detail::make_js(core->nc.get(),
                                     detail::consumer_wait(core->cfg));
  if (!consumer_js)
    return consumer_js.error();
  core->consumer_js = std::move(*consumer_js);
  core->retrier = std::thread{[c = core.get()] { c->run_retrier(); }};
  return jetstream_link{std::move(core)};
}

bool jetstream_link::connected() const {
  return core_ && core_->connected();
}

const link_config& jetstream_link::config() const {
  return core_->cfg;
}

expected<void> jetstream_link::ensure_stream(std::string_view service,
                                             std::string_view stream_id) {
  return core_->ensure(names_for(service, stream_id));
}

namespace {

struct append_result {
  natsStatus status;
  uint64_t seq;
};

append_result append(link_core& core, const stream_names& names,
                     std::string_view payload, const std::string& msg_id) {
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = detail::to_ms(core.cfg.timeout);
  po.ExpectStream = names.stream.c_str();
  if (!msg_id.empty())
    po.MsgId = msg_id.c_str();
  jsPubAck* raw = nullptr;
  auto s = js_Publish(&raw, core.js.get(), names.subject.c_str(),
                      payload.data(), static_cast<int>(payload.size()), &po,
                      nullptr);
  nats_ptr<jsPubAck> ack{raw};
  return {s, s == NATS_OK ? ack->Sequence : 0};
}

} // namespace

expected<uint64_t> jetstream_link::publish(std::string_view service,
                                           std::string_view stream_id,
                                           std::string_view payload,
                                           std::string_view msg_id) {
  auto names = names_for(service, stream_id);
  // Checked first so that nothing lands in the client's reconnect buffer, to
  // be stored later by a publish that already answered an error.
  if (!core_->connected())
    return detail::unavailable("publish to " + names.subject);
  if (auto ok = core_->ensure(names); !ok)
    return ok.error();
  append_result r{};
  auto attempt = [&] {
    r = append(*core_, names, payload, std::string{msg_id});
    return r.status;
  };
  auto recreate_if_deleted = [&] {
    core_->check_exists(names);
    return static_cast<bool>(core_->ensure(names));
  };
  detail::retry_while_leaderless(core_->cfg.timeout, attempt,
                                 recreate_if_deleted);
  if (r.status != NATS_OK)
    return detail::to_error(r.status, "publish to " + names.subject);
  return r.seq;
}

expected<subscription> jetstream_link::subscribe(std::string_view service,
                                                 std::string_view stream_id,
                                                 uint64_t start_after,
                                                 message_handler on_message) {
  if (!on_message)
    return error{error_code::internal, "subscribe: no message handler"};
  auto state = std::make_shared<sub_state>();
  state->core = core_;
  state->names = names_for(service, stream_id);
  state->on_message = std::move(on_message);
  state->last_seq = start_after;
  if (auto ok = core_->add(state); !ok)
    return ok.error();
  {
    std::lock_guard<std::recursive_mutex> guard{state->mtx};
    if (auto ok = state->restart(); !ok)
      EC_DEBUG("cluster", ok.error().message << "; retrying in background");
  }
  return subscription{std::move(state)};
}

expected<std::vector<message>>
jetstream_link::fetch_range(std::string_view service,
                            std::string_view stream_id, uint64_t from_seq,
                            uint64_t to_seq, size_t max) {
  auto names = names_for(service, stream_id);
  auto bounds = core_->state(names);
  if (!bounds)
    return bounds.error();
  from_seq = std::max({from_seq, bounds->first_seq, uint64_t{1}});
  to_seq = std::min(to_seq, bounds->last_seq);
  if (max == 0 || from_seq > to_seq)
    return std::vector<message>{};
  if (to_seq - from_seq >= max)
    to_seq = from_seq + max - 1;
  return core_->read(names, from_seq, to_seq);
}

expected<stream_state> jetstream_link::state(std::string_view service,
                                             std::string_view stream_id) {
  return core_->state(names_for(service, stream_id));
}

namespace {

// The names of the JetStream streams with a subject matching `filter`.
expected<std::vector<std::string>> names_matching(jsCtx* js,
                                                  const std::string& filter) {
  jsOptions o;
  jsOptions_Init(&o);
  o.Stream.Info.SubjectsFilter = filter.c_str();
  jsStreamNamesList* raw = nullptr;
  auto s = js_StreamNames(&raw, js, &o, nullptr);
  nats_ptr<jsStreamNamesList> list{raw};
  if (s == NATS_NOT_FOUND) // none matches
    return std::vector<std::string>{};
  if (s != NATS_OK)
    return detail::to_error(s, "list streams of " + filter);
  return std::vector<std::string>{list->List, list->List + list->Count};
}

// A stream's only subject; "" for a stream deleted meanwhile, or not ours.
expected<std::string> subject_of(jsCtx* js, const std::string& stream) {
  jsStreamInfo* raw = nullptr;
  auto s = js_GetStreamInfo(&raw, js, stream.c_str(), nullptr, nullptr);
  nats_ptr<jsStreamInfo> info{raw};
  if (s == NATS_NOT_FOUND)
    return std::string{};
  if (s != NATS_OK)
    return detail::to_error(s, "info of stream " + stream);
  const auto* cfg = info->Config;
  if (cfg == nullptr || cfg->SubjectsLen != 1)
    return std::string{};
  return std::string{cfg->Subjects[0]};
}

} // namespace

expected<std::vector<std::string>>
jetstream_link::stream_ids(std::string_view service) {
  auto filter = service_subjects(service);
  if (!core_->connected())
    return detail::unavailable("list streams of " + filter);
  auto names = names_matching(core_->js.get(), filter);
  if (!names)
    return names.error();
  std::vector<std::string> out;
  for (auto& name : *names) {
    auto ids = parse_stream_name(name);
    if (!ids) { // shortened to a hash: its subject still holds the ids
      auto subject = subject_of(core_->js.get(), name);
      if (!subject)
        return subject.error();
      ids = parse_stream_subject(*subject);
    }
    if (ids && ids->first == service)
      out.push_back(std::move(ids->second));
  }
  std::sort(out.begin(), out.end());
  return out;
}

void jetstream_link::close() {
  if (core_)
    core_->close();
}

} // namespace eventcast::cluster
