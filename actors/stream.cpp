#include "actors/stream.hpp"

#include <chrono>
#include <random>
#include <unordered_map>

#include "core/history.hpp"
#include "core/json.hpp"
#include "core/log.hpp"
#include "core/sse.hpp"

namespace eventcast {

namespace {

constexpr millis first_backoff{500};
constexpr millis max_backoff{30000};
constexpr std::chrono::seconds healthy_run{60};

struct stream_state {
  stream_config cfg;
  std::shared_ptr<const generator_registry> registry;
  service_actor directory;
  uint64_t seq = 0;
  history_ring history{0};
  std::unordered_map<uint64_t, std::shared_ptr<mailbox>> subscribers;
  // Generator: `running` is the operator's wish; `generator` the actor that
  // carries it out (invalid during a restart back-off).
  bool running = false;
  bool paused = false;
  caf::actor generator;
  uint64_t generation = 0;
  caf::actor_clock::time_point spawned_at;
  millis backoff = first_backoff;
  // Counters shown in stream info.
  uint64_t dropped = 0;
  uint64_t slow_disconnects = 0;
  uint64_t restarts = 0;
  // Times come from the actor clock, so tests can move it.
  caf::actor_clock::time_point idle_since;
  static inline const char* name = "stream";
};

using self_ptr = stream_actor::stateful_pointer<stream_state>;

event make_event(self_ptr self, event_input in, uint64_t seq) {
  event e;
  e.seq = seq;
  e.id = next_event_id();
  e.type = std::move(in.type);
  e.message = std::move(in.message);
  e.data_json = std::move(in.data_json);
  e.timestamp = unix_now();
  e.stream_id = self->state.cfg.id;
  return e;
}

// A frame for one subscriber only: no id, so it leaves Last-Event-ID alone.
frame unsequenced_frame(self_ptr self, event_input in) {
  auto e = make_event(self, std::move(in), 0);
  return std::make_shared<const std::string>(sse::anonymous_frame(to_json(e)));
}

void fan_out(self_ptr self, const frame& f) {
  auto& st = self->state;
  wake_batch batch; // one wake per consumer thread, not per subscriber
  for (auto it = st.subscribers.begin(); it != st.subscribers.end();) {
    switch (it->second->push(f)) {
      case mailbox::push_result::queued:
        ++it;
        break;
      case mailbox::push_result::dropped_oldest:
        ++st.dropped;
        ++it;
        break;
      case mailbox::push_result::overflow:
        ++st.slow_disconnects;
        EC_DEBUG("stream", "client " << it->first << " of '" << st.cfg.id
                                     << "' too slow: disconnected");
        it = st.subscribers.erase(it);
        break;
      case mailbox::push_result::closed:
        it = st.subscribers.erase(it);
        break;
    }
  }
}

published publish(self_ptr self, event_input in) {
  auto& st = self->state;
  auto e = make_event(self, std::move(in), ++st.seq);
  auto f = sse::encode(e);
  st.history.append(st.seq, f);
  fan_out(self, f);
  return {e.seq, std::move(e.id)};
}

frame events_missed_frame(self_ptr self, std::optional<uint64_t> lost,
                          uint64_t last_seen) {
  json::object_writer data;
  if (lost)
    data.field("missed", *lost);
  else
    data.raw_field("missed", "null").field("unknown", true);
  data.field("last_event_id", last_seen);
  auto message = lost ? std::to_string(*lost) + " events were lost"
                      : std::string{"an unknown number of events were lost"};
  return unsequenced_frame(self, {"events_missed", message, data.str()});
}

frame connection_frame(self_ptr self, uint64_t client_id) {
  auto data = json::object_writer{}
                .field("client_id", std::to_string(client_id))
                .field("stream_id", self->state.cfg.id)
                .str();
  return unsequenced_frame(
    self, {"connection", "Connected to stream " + self->state.cfg.id, data});
}

void prune_closed(self_ptr self) {
  auto& subs = self->state.subscribers;
  for (auto it = subs.begin(); it != subs.end();)
    it = it->second->closed() ? subs.erase(it) : std::next(it);
}

bool full(self_ptr self) {
  auto limit = self->state.cfg.max_subscribers;
  if (limit == 0 || self->state.subscribers.size() < limit)
    return false;
  prune_closed(self);
  return self->state.subscribers.size() >= limit;
}

caf::result<uint64_t> subscribe(self_ptr self, subscription& sub) {
  auto& st = self->state;
  if (sub.inbox->closed())
    return st.subscribers.size();
  if (full(self))
    return make_error(error_code::unavailable,
                      "stream '" + st.cfg.id + "' has reached its "
                        + std::to_string(st.cfg.max_subscribers)
                        + " connections");
  std::vector<frame> first{connection_frame(self, sub.client_id)};
  if (sub.last_event_id) {
    auto replay = st.history.since(*sub.last_event_id, st.seq);
    if (replay.lost != uint64_t{0})
      first.push_back(events_missed_frame(self, replay.lost,
                                          *sub.last_event_id));
    first.insert(first.end(), replay.frames.begin(), replay.frames.end());
  }
  sub.inbox->push_replay(std::move(first));
  st.subscribers.emplace(sub.client_id, std::move(sub.inbox));
  EC_DEBUG("stream", "client " << sub.client_id << " subscribed to '"
                               << st.cfg.id << "' ("
                               << st.subscribers.size() << " clients)");
  return static_cast<uint64_t>(st.subscribers.size());
}

void spawn_generator(self_ptr self) {
  auto& st = self->state;
  generator_params params{st.cfg.id, st.cfg.interval, std::random_device{}()};
  st.generator = st.registry->spawn(st.cfg.generator_kind, self, self,
                                    params);
  if (!st.generator)
    return;
  st.spawned_at = self->clock().now();
  self->monitor(st.generator);
  if (st.paused)
    caf::anon_send(st.generator, pause_atom::value);
}

void stop_generator(self_ptr self) {
  auto& st = self->state;
  ++st.generation; // cancels a pending restart
  if (st.generator) {
    self->demonitor(st.generator);
    self->send_exit(st.generator, caf::exit_reason::user_shutdown);
    st.generator = nullptr;
  }
}

void on_generator_down(self_ptr self, const caf::down_msg& dm) {
  auto& st = self->state;
  if (!st.generator || dm.source != st.generator.address())
    return;
  st.generator = nullptr;
  ++st.restarts;
  if (self->clock().now() - st.spawned_at > healthy_run)
    st.backoff = first_backoff;
  auto reason = to_string(dm.reason);
  EC_ERROR("stream", "generator '" << st.cfg.generator_kind << "' of stream '"
                                   << st.cfg.id << "' failed (" << reason
                                   << "); restarting in "
                                   << st.backoff.count() << " ms");
  auto data = json::object_writer{}
                .field("generator", st.cfg.generator_kind)
                .field("reason", reason)
                .field("retry_in_ms", static_cast<int64_t>(st.backoff.count()))
                .str();
  publish(self, {"error", "Stream generator failed; restarting", data});
  self->delayed_send(self, st.backoff, respawn_atom::value, st.generation);
  st.backoff = std::min(st.backoff * 2, max_backoff);
}

caf::result<caf::ok_atom> conflict(self_ptr self, const char* what) {
  return make_error(error_code::conflict,
                    "stream '" + self->state.cfg.id + "' " + what);
}

bool idle(self_ptr self) {
  return self->state.subscribers.empty() && !self->state.running;
}

void check_idle(self_ptr self) {
  auto& st = self->state;
  prune_closed(self);
  auto now = self->clock().now();
  if (!idle(self))
    st.idle_since = now;
  else if (now - st.idle_since >= st.cfg.idle_retention)
    self->send(st.directory, idle_atom::value, st.cfg.id);
  auto period = std::max(millis{1000}, st.cfg.idle_retention / 4);
  self->delayed_send(self, std::min(period, millis{30000}),
                     idle_atom::value);
}

stream_actor::behavior_type
stream_impl(self_ptr self, stream_config cfg,
            std::shared_ptr<const generator_registry> registry,
            service_actor directory) {
  auto& st = self->state;
  st.history = history_ring{cfg.history_size, cfg.history_bytes};
  st.cfg = std::move(cfg);
  st.registry = std::move(registry);
  st.directory = std::move(directory);
  st.idle_since = self->clock().now();
  self->set_down_handler(
    [self](caf::down_msg& dm) { on_generator_down(self, dm); });
  check_idle(self);
  return {
    [self](caf::subscribe_atom, subscription& sub) {
      return subscribe(self, sub);
    },
    [self](unsub_atom, uint64_t client_id) {
      if (self->state.subscribers.erase(client_id) > 0)
        EC_DEBUG("stream", "client " << client_id << " left '"
                                     << self->state.cfg.id << "'");
    },
    [self](caf::publish_atom, event_input& in) {
      return publish(self, std::move(in));
    },
    [self](post_atom, event_input& in) { publish(self, std::move(in)); },
    [self](start_atom) -> caf::result<caf::ok_atom> {
      auto& st = self->state;
      if (!st.registry->contains(st.cfg.generator_kind))
        return make_error(error_code::conflict,
                          "no generator kind '" + st.cfg.generator_kind
                            + "' for stream '" + st.cfg.id + "'");
      stop_generator(self);
      st.running = true;
      st.paused = false;
      st.backoff = first_backoff;
      spawn_generator(self);
      EC_DEBUG("stream", "generator '" << st.cfg.generator_kind
                                       << "' started on '" << st.cfg.id << "'");
      publish(self, {"stream_started", "Stream '" + st.cfg.id + "' started",
                     json::object_writer{}
                       .field("generator", st.cfg.generator_kind)
                       .str()});
      return caf::ok_atom::value;
    },
    [self](stop_atom) -> caf::result<caf::ok_atom> {
      auto& st = self->state;
      if (!st.running)
        return conflict(self, "has no running generator");
      stop_generator(self);
      st.running = false;
      st.paused = false;
      EC_DEBUG("stream", "generator of '" << st.cfg.id << "' stopped");
      return caf::ok_atom::value;
    },
    [self](pause_atom) -> caf::result<caf::ok_atom> {
      auto& st = self->state;
      if (!st.running)
        return conflict(self, "has no running generator");
      if (st.paused)
        return conflict(self, "is already paused");
      st.paused = true;
      if (st.generator)
        caf::anon_send(st.generator, pause_atom::value);
      EC_DEBUG("stream", "generator of '" << st.cfg.id << "' paused");
      return caf::ok_atom::value;
    },
    [self](resume_atom) -> caf::result<caf::ok_atom> {
      auto& st = self->state;
      if (!st.running || !st.paused)
        return conflict(self, "is not paused");
      st.paused = false;
      if (st.generator)
        caf::anon_send(st.generator, resume_atom::value);
      EC_DEBUG("stream", "generator of '" << st.cfg.id << "' resumed");
      return caf::ok_atom::value;
    },
    [self](caf::get_atom) {
      auto& st = self->state;
      prune_closed(self);
      stream_info info;
      info.id = st.cfg.id;
      info.clients = st.subscribers.size();
      info.generator_running = st.running;
      info.generator_paused = st.paused;
      info.generator_kind = st.running ? st.cfg.generator_kind : "";
      info.last_event_id = st.seq;
      info.events_published = st.seq;
      info.dropped_events = st.dropped;
      info.slow_disconnects = st.slow_disconnects;
      info.generator_restarts = st.restarts;
      return info;
    },
    [self](clients_atom) {
      prune_closed(self);
      std::vector<uint64_t> ids;
      for (auto& kv : self->state.subscribers)
        ids.push_back(kv.first);
      return ids;
    },
    [self](retire_atom) {
      if (!idle(self))
        return false;
      self->quit();
      return true;
    },
    [self](respawn_atom, uint64_t generation) {
      auto& st = self->state;
      if (generation == st.generation && st.running && !st.generator)
        spawn_generator(self);
    },
    [self](idle_atom) { check_idle(self); },
  };
}

} // namespace

stream_actor spawn_stream(caf::local_actor* parent, stream_config cfg,
                          std::shared_ptr<const generator_registry> registry,
                          service_actor directory) {
  return parent->spawn(stream_impl, std::move(cfg), std::move(registry),
                       std::move(directory));
}

} // namespace eventcast
