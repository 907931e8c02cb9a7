#include "actors/service.hpp"

#include <algorithm>
#include <map>

#include "actors/steward.hpp"
#include "actors/stream.hpp"
#include "core/log.hpp"

namespace eventcast {

namespace {

/// Cluster: what this node knows of a generator, and what it runs of it.
struct generator_view {
  std::string desired; // "running", "paused", "stopped" or ""
  bool held = false;    // this node holds its lease
  bool running = false; // started on this node's stream actor
  bool paused = false;
};

struct service_state {
  service_settings svc;
  sse_settings sse;
  stream_limits limits;
  size_t max_subscribers = 0;
  std::shared_ptr<const generator_registry> registry;
  std::shared_ptr<const cluster_journal> journal; // null: a single node
  steward_actor steward;
  std::map<std::string, generator_view> generators;
  std::map<std::string, stream_actor> streams;
  static inline const char* name = "service";
};

using self_ptr = service_actor::stateful_pointer<service_state>;

stream_config config_for(self_ptr self, const std::string& id) {
  auto& st = self->state;
  stream_config cfg;
  cfg.id = id;
  cfg.generator_kind = st.svc.default_generator;
  cfg.interval = st.svc.default_interval;
  cfg.history_size = st.sse.history_size;
  cfg.history_bytes = st.sse.history_bytes;
  cfg.max_subscribers = st.max_subscribers;
  cfg.idle_retention = st.limits.idle_retention;
  cfg.journal = st.journal;
  for (auto& s : st.svc.streams)
    if (s.id == id && !s.generator.empty()) {
      cfg.generator_kind = s.generator;
      cfg.interval = s.interval;
    }
  return cfg;
}

/// The stream named `id`, created on first use within the stream limit.
caf::expected<stream_actor> ensure(self_ptr self, const std::string& id) {
  auto& st = self->state;
  if (auto it = st.streams.find(id); it != st.streams.end())
    return it->second;
  if (st.streams.size() >= st.limits.max_streams)
    return make_error(error_code::unavailable,
                      "the maximum number of streams ("
                        + std::to_string(st.limits.max_streams)
                        + ") is reached");
  auto stream = spawn_stream(self, config_for(self, id), st.registry, self);
  self->monitor(stream);
  st.streams.emplace(id, stream);
  EC_DEBUG("service", st.svc.name << ": stream '" << id << "' created");
  return stream;
}

caf::expected<stream_actor> existing(self_ptr self, const std::string& id) {
  auto& streams = self->state.streams;
  if (auto it = streams.find(id); it != streams.end())
    return it->second;
  return make_error(error_code::stream_not_found,
                    "stream '" + id + "' not found");
}

/// Forwards `xs...` to the stream named `id`; the stream answers the
/// original requester.
template <class Result, class... Ts>
caf::result<Result> forward(self_ptr self,
                            caf::expected<stream_actor> stream, Ts... xs) {
  if (!stream)
    return std::move(stream.error());
  return self->delegate(*stream, xs...);
}

void retire(self_ptr self, const std::string& id) {
  auto it = self->state.streams.find(id);
  if (it == self->state.streams.end())
    return;
  // await: no message for this stream may slip in while it decides.
  self->request(it->second, caf::infinite, retire_atom::value)
    .await([self, id](bool retired) {
      if (!retired)
        return;
      self->state.streams.erase(id);
      EC_DEBUG("service", self->state.svc.name << ": idle stream '" << id
                                               << "' removed");
    });
}

void collect_infos(self_ptr self,
                   caf::typed_response_promise<std::vector<stream_info>> rp) {
  auto& streams = self->state.streams;
  auto infos = std::make_shared<std::vector<stream_info>>();
  auto pending = std::make_shared<size_t>(streams.size());
  if (streams.empty()) {
    rp.deliver(std::vector<stream_info>{});
    return;
  }
  auto done = [rp, infos, pending]() mutable {
    if (--*pending > 0)
      return;
    std::sort(infos->begin(), infos->end(),
              [](auto& a, auto& b) { return a.id < b.id; });
    rp.deliver(std::move(*infos));
  };
  for (auto& kv : streams)
    self->request(kv.second, std::chrono::seconds(5), caf::get_atom::value)
      .then([infos, done](stream_info& info) mutable {
              infos->push_back(std::move(info));
              done();
            },
            [done](caf::error&) mutable { done(); });
}

/// In a cluster the steward starts generators, on one node each.
void start_configured_streams(self_ptr self) {
  for (auto& s : self->state.svc.streams) {
    auto stream = ensure(self, s.id);
    if (stream && s.autostart && !s.generator.empty() && !self->state.steward)
      caf::anon_send(*stream, start_atom::value);
  }
}

/// Cluster: runs a generator here exactly while this node holds its lease
/// and an operator wants it running or paused.
void apply(self_ptr self, const std::string& id) {
  auto& g = self->state.generators[id];
  bool run = g.held && (g.desired == "running" || g.desired == "paused");
  bool pause = run && g.desired == "paused";
  auto stream = run ? ensure(self, id) : existing(self, id);
  if (!stream)
    return;
  if (!run && g.running)
    caf::anon_send(*stream, stop_atom::value);
  if (run && !g.running)
    caf::anon_send(*stream, start_atom::value);
  if (run && pause && !(g.running && g.paused))
    caf::anon_send(*stream, pause_atom::value);
  if (run && !pause && g.running && g.paused)
    caf::anon_send(*stream, resume_atom::value);
  g.running = run;
  g.paused = pause;
}

void spawn_steward_for(self_ptr self, std::shared_ptr<cluster::jetstream_link> link,
                       const cluster_settings& cluster) {
  auto& st = self->state;
  steward_config cfg{st.svc.name, {}, cluster.lease_ttl, cluster.replicas};
  for (auto& s : st.svc.streams)
    if (s.autostart && !s.generator.empty())
      cfg.autostart.push_back(s.id);
  st.steward = spawn_steward(self->system(),
                             caf::actor_cast<service_actor>(self),
                             std::move(link), std::move(cfg));
}

/// An operator's start/stop/pause/resume: here, or through the steward.
template <class Atom>
caf::result<caf::ok_atom> control(self_ptr self, Atom op,
                                  const std::string& id) {
  auto& st = self->state;
  if (!st.steward)
    return forward<caf::ok_atom>(
      self, op == start_atom::value ? ensure(self, id) : existing(self, id),
      op);
  if (op == start_atom::value
      && !st.registry->contains(config_for(self, id).generator_kind))
    return make_error(error_code::conflict, "no generator kind '"
                                              + config_for(self, id)
                                                  .generator_kind
                                              + "' for stream '" + id + "'");
  return self->delegate(st.steward, control_atom::value,
                        caf::atom_value{op}, id);
}

service_actor::behavior_type
service_impl(self_ptr self, service_settings svc, settings cfg,
             std::shared_ptr<const generator_registry> registry,
             std::shared_ptr<cluster::jetstream_link> link) {
  auto& st = self->state;
  st.svc = std::move(svc);
  st.sse = cfg.sse;
  st.limits = cfg.streams;
  st.max_subscribers = cfg.limits.max_connections_per_stream;
  st.registry = std::move(registry);
  if (link) {
    st.journal = std::make_shared<const cluster_journal>(
      self->system(), link, st.svc.name, link->config().node_name);
    spawn_steward_for(self, link, cfg.cluster);
  }
  // On shutdown the streams go with their service.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    if (self->state.steward)
      self->send_exit(self->state.steward, msg.reason);
    for (auto& kv : self->state.streams)
      self->send_exit(kv.second, msg.reason);
    self->quit(msg.reason);
  });
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& streams = self->state.streams;
    for (auto it = streams.begin(); it != streams.end(); ++it)
      if (it->second.address() == dm.source) {
        auto& g = self->state.generators[it->first];
        g.running = g.paused = false;
        streams.erase(it);
        return;
      }
  });
  // Replies to our own `start` requests are not needed.
  start_configured_streams(self);
  return {
    [self](caf::subscribe_atom, const std::string& id, subscription& sub) {
      return forward<uint64_t>(self, ensure(self, id),
                               caf::subscribe_atom::value, std::move(sub));
    },
    [self](unsub_atom, const std::string& id, uint64_t client_id) {
      if (auto it = self->state.streams.find(id);
          it != self->state.streams.end())
        self->send(it->second, unsub_atom::value, client_id);
    },
    [self](caf::publish_atom, const std::string& id, event_input& in) {
      return forward<published>(self, ensure(self, id),
                                caf::publish_atom::value, std::move(in));
    },
    [self](publish_all_atom, const event_input& in) {
      for (auto& kv : self->state.streams)
        self->send(kv.second, post_atom::value, in);
      return static_cast<uint64_t>(self->state.streams.size());
    },
    [self](start_atom op, const std::string& id) {
      return control(self, op, id);
    },
    [self](stop_atom op, const std::string& id) {
      return control(self, op, id);
    },
    [self](pause_atom op, const std::string& id) {
      return control(self, op, id);
    },
    [self](resume_atom op, const std::string& id) {
      return control(self, op, id);
    },
    [self](caf::get_atom) {
      auto rp = self->make_response_promise<std::vector<stream_info>>();
      collect_infos(self, rp);
      return rp;
    },
    [self](caf::get_atom, const std::string& id) {
      return forward<stream_info>(self, existing(self, id),
                                  caf::get_atom::value);
    },
    [self](clients_atom, const std::string& id) {
      return forward<std::vector<uint64_t>>(self, existing(self, id),
                                            clients_atom::value);
    },
    [self](idle_atom, const std::string& id) { retire(self, id); },
    [self](desired_atom, const std::string& id, std::string& state) {
      self->state.generators[id].desired = std::move(state);
      apply(self, id);
    },
    [self](lease_atom, const std::string& id, bool held) {
      EC_INFO("cluster", "generator of '" << id << "' "
                                          << (held ? "runs" : "stops running")
                                          << " on this node");
      self->state.generators[id].held = held;
      apply(self, id);
    },
  };
}

} // namespace

service_actor spawn_service(caf::actor_system& sys, service_settings svc,
                            const settings& cfg,
                            std::shared_ptr<const generator_registry> registry,
                            std::shared_ptr<cluster::jetstream_link> link) {
  return sys.spawn(service_impl, std::move(svc), cfg, std::move(registry),
                   std::move(link));
}

} // namespace eventcast
