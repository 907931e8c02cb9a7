#include "actors/stream.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
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

/// A subscriber whose missed events this node's ring does not hold: it gets
/// them from JetStream before it joins the live subscribers.
struct catching_up {
  std::shared_ptr<mailbox> inbox;
  uint64_t cursor = 0; // the last event it has
  bool fetching = false;
  bool lagging = false; // its id is in JetStream, not yet in this node's feed
};

struct stream_state {
  stream_config cfg;
  std::shared_ptr<const generator_registry> registry;
  service_actor directory;
  uint64_t seq = 0;
  history_ring history{0};
  std::shared_ptr<eventcast::feed> live; // what the subscribers read
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
  // Cluster: the JetStream feed (null until it could be opened) and the
  // subscribers still catching up.
  std::shared_ptr<cluster::subscription> feed;
  std::unordered_map<uint64_t, catching_up> behind;
  // Subscriptions that came before the feed opened: only then is it known
  // which events are "from now on".
  std::vector<std::pair<subscription, caf::typed_response_promise<uint64_t>>>
    before_feed;
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

uint64_t client_count(self_ptr self) {
  return self->state.subscribers.size() + self->state.behind.size();
}

void prune_closed(self_ptr self) {
  auto& subs = self->state.subscribers;
  for (auto it = subs.begin(); it != subs.end();)
    it = it->second->closed() ? subs.erase(it) : std::next(it);
  auto& behind = self->state.behind;
  for (auto it = behind.begin(); it != behind.end();)
    it = it->second.inbox->closed() ? behind.erase(it) : std::next(it);
}

void fan_out(self_ptr self, const frame& f) {
  auto& st = self->state;
  auto result = st.live->append(f);
  st.dropped += result.dropped;
  if (result.disconnected == 0)
    return;
  st.slow_disconnects += result.disconnected;
  EC_DEBUG("stream", result.disconnected << " client(s) of '" << st.cfg.id
                                         << "' too slow: disconnected");
  prune_closed(self);
}

void append(self_ptr self, uint64_t seq, frame f) {
  self->state.seq = seq;
  self->state.history.append(seq, f);
  fan_out(self, f);
}

/// Cluster: JetStream numbers the event; it comes back through the feed.
auto store(self_ptr self, const event& e) {
  auto& j = *self->state.cfg.journal;
  return self->request(j.worker_for(e.stream_id), caf::infinite,
                       append_atom::value, e.stream_id, to_json(e),
                       j.message_id(e.id));
}

void log_not_stored(const std::string& stream, const caf::error& err) {
  EC_DEBUG("stream", "event for '" << stream << "' not stored: "
                                   << view(err).message);
}

published publish_locally(self_ptr self, event e) {
  e.seq = self->state.seq + 1;
  append(self, e.seq, sse::encode(e));
  return {e.seq, std::move(e.id), false, client_count(self)};
}

/// A publish that answers with the event's id once it is stored.
caf::result<published> publish(self_ptr self, event_input in) {
  auto e = make_event(self, std::move(in), 0);
  if (!self->state.cfg.journal)
    return publish_locally(self, std::move(e));
  auto rp = self->make_response_promise<published>();
  store(self, e).then(
    [self, rp, id = e.id](uint64_t seq) mutable {
      rp.deliver(published{seq, std::move(id), true, client_count(self)});
    },
    [rp, stream = e.stream_id](caf::error& err) mutable {
      log_not_stored(stream, err);
      rp.deliver(std::move(err));
    });
  return rp;
}

/// A publish nobody waits for: generators and the stream's own notices.
void post(self_ptr self, event_input in) {
  auto e = make_event(self, std::move(in), 0);
  if (!self->state.cfg.journal) {
    publish_locally(self, std::move(e));
    return;
  }
  store(self, e).then([](uint64_t) {},
                      [stream = e.stream_id](caf::error& err) {
                        log_not_stored(stream, err);
                      });
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

bool full(self_ptr self) {
  auto limit = self->state.cfg.max_subscribers;
  if (limit == 0 || client_count(self) < limit)
    return false;
  prune_closed(self);
  return client_count(self) >= limit;
}

frame stored_frame(uint64_t seq, std::string_view payload) {
  return std::make_shared<const std::string>(sse::data_frame(seq, payload));
}

void go_live(self_ptr self, uint64_t client_id) {
  auto& st = self->state;
  auto node = st.behind.extract(client_id);
  node.mapped().inbox->follow(st.live);
  st.subscribers.emplace(client_id, std::move(node.mapped().inbox));
}

void catch_up(self_ptr self, uint64_t client_id);

void retry_catch_up(self_ptr self, uint64_t client_id, const caf::error& err) {
  if (auto it = self->state.behind.find(client_id);
      it != self->state.behind.end())
    it->second.fetching = false;
  EC_DEBUG("stream", "events for client " << client_id << " not fetched: "
                                          << view(err).message);
  self->delayed_send(self, millis{1000}, catch_up_atom::value, client_id);
}

void request_stored(self_ptr self, uint64_t client_id, uint64_t from,
                    uint64_t to,
                    std::function<void(catching_up&, stored_events&)> use) {
  auto& st = self->state;
  st.behind[client_id].fetching = true;
  self
    ->request(st.cfg.journal->worker_for(st.cfg.id), caf::infinite,
              fetch_atom::value, st.cfg.id, from, to)
    .then(
      [self, client_id, use](stored_events& got) {
        auto it = self->state.behind.find(client_id);
        if (it == self->state.behind.end())
          return;
        it->second.fetching = false;
        use(it->second, got);
        catch_up(self, client_id);
      },
      [self, client_id](caf::error& err) {
        retry_catch_up(self, client_id, err);
      });
}

/// Sends what JetStream still holds of (cursor, to]; what it dropped counts
/// as missed (retention drops the oldest, so only at the front).
void backfill(self_ptr self, uint64_t client_id, uint64_t to) {
  auto use = [self, to](catching_up& b, stored_events& got) {
    auto& events = got.events;
    auto kept_from = events.empty() ? to + 1 : events.front().seq;
    std::vector<frame> frames;
    if (kept_from > b.cursor + 1)
      frames.push_back(
        events_missed_frame(self, kept_from - b.cursor - 1, b.cursor));
    for (auto& m : events)
      if (m.seq > b.cursor)
        frames.push_back(stored_frame(m.seq, m.payload));
    b.cursor = events.empty() ? to : std::max(b.cursor, events.back().seq);
    b.inbox->push(std::move(frames));
  };
  auto from = self->state.behind[client_id].cursor + 1;
  request_stored(self, client_id, from, to, use);
}

/// An id beyond this node's latest event: either this node's feed lags
/// (JetStream has it: wait for it) or the id is not one of this stream's.
void probe(self_ptr self, uint64_t client_id, uint64_t id) {
  auto use = [self, id](catching_up& b, stored_events& got) {
    b.lagging = !got.events.empty() && got.events.front().seq == id;
    if (b.lagging)
      return;
    b.inbox->push({events_missed_frame(self, std::nullopt, id)});
    b.cursor = self->state.seq;
  };
  request_stored(self, client_id, id, id, use);
}

void catch_up(self_ptr self, uint64_t client_id) {
  auto& st = self->state;
  auto it = st.behind.find(client_id);
  if (it == st.behind.end() || it->second.fetching || !st.feed)
    return;
  auto& b = it->second;
  if (b.inbox->closed()) {
    st.behind.erase(it);
    return;
  }
  if (b.cursor > st.seq) {
    if (!b.lagging) // else the feed's next events release it
      probe(self, client_id, b.cursor);
    return;
  }
  auto replay = st.history.since(b.cursor, st.seq);
  if (replay.lost != uint64_t{0})
    return backfill(self, client_id,
                    std::min(st.seq, b.cursor + st.cfg.history_size));
  b.inbox->push(std::move(replay.frames));
  go_live(self, client_id);
}

/// Subscribers that waited for this node's feed to reach their id.
void release_waiting(self_ptr self) {
  auto& st = self->state;
  std::vector<uint64_t> ready;
  for (auto& [id, b] : st.behind)
    if (!b.fetching && b.cursor <= st.seq)
      ready.push_back(id);
  for (auto id : ready)
    catch_up(self, id);
}

void deliver(self_ptr self, uint64_t seq, std::string_view payload) {
  if (seq <= self->state.seq)
    return;
  append(self, seq, stored_frame(seq, payload));
  if (!self->state.behind.empty())
    release_waiting(self);
}

caf::expected<uint64_t> subscribe(self_ptr self, subscription& sub);

void answer(caf::typed_response_promise<uint64_t>& rp,
            caf::expected<uint64_t> result) {
  if (result)
    rp.deliver(*result);
  else
    rp.deliver(std::move(result.error()));
}

void subscribe_waiting(self_ptr self) {
  auto waiting = std::move(self->state.before_feed);
  for (auto& [sub, rp] : waiting)
    answer(rp, subscribe(self, sub));
}

/// Opens the stream's JetStream feed, retrying every second while NATS
/// cannot be reached.
void open_feed(self_ptr self) {
  auto& st = self->state;
  self
    ->request(st.cfg.journal->worker_for(st.cfg.id), caf::infinite,
              open_atom::value, st.cfg.id,
              caf::actor_cast<stream_actor>(self))
    .then(
      [self](opened_stream& opened) {
        auto& st = self->state;
        st.feed = std::move(opened.feed);
        // Events of the new feed may have come before this reply.
        st.seq = std::max(st.seq, opened.last_seq);
        subscribe_waiting(self);
      },
      [self](caf::error& err) {
        EC_DEBUG("stream", "stream '" << self->state.cfg.id
                                      << "' not opened in JetStream: "
                                      << view(err).message);
        self->delayed_send(self, millis{1000}, resync_atom::value);
      });
}

caf::expected<uint64_t> subscribe(self_ptr self, subscription& sub) {
  auto& st = self->state;
  if (sub.inbox->closed())
    return client_count(self);
  if (full(self))
    return make_error(error_code::unavailable,
                      "stream '" + st.cfg.id + "' has reached its "
                        + std::to_string(st.cfg.max_subscribers)
                        + " connections");
  std::vector<frame> first{connection_frame(self, sub.client_id)};
  std::optional<history_ring::replay> replay;
  if (sub.last_event_id)
    replay = st.history.since(*sub.last_event_id, st.seq);
  if (replay && replay->lost != uint64_t{0} && st.cfg.journal) {
    sub.inbox->push(std::move(first));
    st.behind[sub.client_id] = {std::move(sub.inbox), *sub.last_event_id};
    catch_up(self, sub.client_id);
    return client_count(self);
  }
  if (replay && replay->lost != uint64_t{0})
    first.push_back(events_missed_frame(self, replay->lost,
                                        *sub.last_event_id));
  if (replay)
    first.insert(first.end(), replay->frames.begin(), replay->frames.end());
  sub.inbox->push(std::move(first));
  sub.inbox->follow(st.live);
  st.subscribers.emplace(sub.client_id, std::move(sub.inbox));
  EC_DEBUG("stream", "client " << sub.client_id << " subscribed to '"
                               << st.cfg.id << "' ("
                               << st.subscribers.size() << " clients)");
  return client_count(self);
}

void unsubscribe(self_ptr self, uint64_t client_id) {
  auto& st = self->state;
  std::shared_ptr<mailbox> inbox;
  if (auto it = st.subscribers.find(client_id); it != st.subscribers.end()) {
    inbox = std::move(it->second);
    st.subscribers.erase(it);
  } else if (auto b = st.behind.find(client_id); b != st.behind.end()) {
    inbox = std::move(b->second.inbox);
    st.behind.erase(b);
  }
  if (!inbox)
    return;
  inbox->close(close_reason::client_gone); // it reads the feed no more
  EC_DEBUG("stream", "client " << client_id << " left '" << st.cfg.id << "'");
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
  post(self, {"error", "Stream generator failed; restarting", data});
  self->delayed_send(self, st.backoff, respawn_atom::value, st.generation);
  st.backoff = std::min(st.backoff * 2, max_backoff);
}

caf::result<caf::ok_atom> conflict(self_ptr self, const char* what) {
  return make_error(error_code::conflict,
                    "stream '" + self->state.cfg.id + "' " + what);
}

bool idle(self_ptr self) {
  auto& st = self->state;
  return client_count(self) == 0 && st.before_feed.empty() && !st.running;
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
  st.live = std::make_shared<feed>(cfg.live_capacity, cfg.overflow);
  st.cfg = std::move(cfg);
  st.registry = std::move(registry);
  st.directory = std::move(directory);
  st.idle_since = self->clock().now();
  self->set_down_handler(
    [self](caf::down_msg& dm) { on_generator_down(self, dm); });
  check_idle(self);
  if (st.cfg.journal)
    open_feed(self);
  return {
    [self](caf::subscribe_atom, subscription& sub) {
      auto& st = self->state;
      auto rp = self->make_response_promise<uint64_t>();
      if (st.cfg.journal && !st.feed)
        st.before_feed.emplace_back(std::move(sub), rp);
      else
        answer(rp, subscribe(self, sub));
      return rp;
    },
    [self](unsub_atom, uint64_t client_id) { unsubscribe(self, client_id); },
    [self](caf::publish_atom, event_input& in) {
      return publish(self, std::move(in));
    },
    [self](post_atom, event_input& in) { post(self, std::move(in)); },
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
      post(self, {"stream_started", "Stream '" + st.cfg.id + "' started",
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
      info.clients = client_count(self);
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
      for (auto& kv : self->state.behind)
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
    [self](deliver_atom, uint64_t seq, const std::string& payload) {
      deliver(self, seq, payload);
    },
    [self](resync_atom) { open_feed(self); },
    [self](catch_up_atom, uint64_t client_id) { catch_up(self, client_id); },
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
