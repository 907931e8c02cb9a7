#include "actors/service.hpp"

#include <algorithm>
#include <functional>
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
  // Cluster only: all invalid or null on a single node.
  cluster_membership cluster;
  std::shared_ptr<const cluster_journal> journal;
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
  cfg.live_capacity = st.sse.mailbox_capacity;
  cfg.overflow = st.sse.overflow;
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

using infos_handler = std::function<void(std::vector<stream_info>)>;

/// The infos of this node's streams, sorted by id.
void collect_infos(self_ptr self, infos_handler done) {
  auto& streams = self->state.streams;
  auto infos = std::make_shared<std::vector<stream_info>>();
  auto pending = std::make_shared<size_t>(streams.size());
  if (streams.empty())
    return done({});
  auto one_done = [infos, pending, done] {
    if (--*pending > 0)
      return;
    std::sort(infos->begin(), infos->end(),
              [](auto& a, auto& b) { return a.id < b.id; });
    done(std::move(*infos));
  };
  for (auto& kv : streams)
    self->request(kv.second, std::chrono::seconds(5), caf::get_atom::value)
      .then([infos, one_done](stream_info& info) {
              infos->push_back(std::move(info));
              one_done();
            },
            [one_done](caf::error&) { one_done(); });
}

/// Cluster: a generator runs somewhere when an operator wants it to.
void show_desired_generator(self_ptr self, stream_info& info) {
  auto& g = self->state.generators[info.id];
  info.generator_running = g.desired == "running" || g.desired == "paused";
  info.generator_paused = g.desired == "paused";
  info.generator_kind = info.generator_running
                          ? config_for(self, info.id).generator_kind
                          : "";
}

/// Cluster: adds every other node's subscribers to this node's infos, with
/// the count of each node.
std::vector<stream_info> cluster_wide(self_ptr self,
                                      std::vector<stream_info> infos,
                                      const node_reports& reports) {
  auto& me = self->state.cluster.node_name();
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < infos.size(); ++i) {
    index[infos[i].id] = i;
    infos[i].clients_by_node.emplace_back(me, infos[i].clients);
  }
  for (auto& report : reports)
    for (auto& s : report.streams) {
      if (report.node == me || s.service != self->state.svc.name)
        continue;
      auto [it, added] = index.emplace(s.stream_id, infos.size());
      if (added) {
        infos.emplace_back();
        infos.back().id = s.stream_id;
      }
      auto& info = infos[it->second];
      info.clients += s.clients;
      info.clients_by_node.emplace_back(report.node, s.clients);
    }
  for (auto& info : infos)
    show_desired_generator(self, info);
  std::sort(infos.begin(), infos.end(),
            [](auto& a, auto& b) { return a.id < b.id; });
  return infos;
}

caf::result<std::vector<stream_info>> stream_infos(self_ptr self) {
  auto rp = self->make_response_promise<std::vector<stream_info>>();
  collect_infos(self, [self, rp](std::vector<stream_info> infos) mutable {
    if (!self->state.cluster) {
      rp.deliver(std::move(infos));
      return;
    }
    self->request(self->state.cluster.directory, caf::infinite,
                  nodes_atom::value)
      .then(
        [self, rp, infos](node_reports& reports) mutable {
          rp.deliver(cluster_wide(self, std::move(infos), reports));
        },
        [self, rp, infos](caf::error&) mutable {
          rp.deliver(cluster_wide(self, std::move(infos), {}));
        });
  });
  return rp;
}

node_view view_of(const cluster::node_report& report) {
  node_view n{report.node, report.url, report.started_ms,
              report.streams.size(), 0};
  for (auto& s : report.streams)
    n.clients += s.clients;
  return n;
}

caf::result<cluster_view> cluster_state(self_ptr self) {
  auto& c = self->state.cluster;
  if (!c)
    return cluster_view{};
  cluster_view shown{true, c.node_name(), c.link->connected(),
                     c.config.urls, {}, {}};
  auto rp = self->make_response_promise<cluster_view>();
  self->request(c.directory, caf::infinite, nodes_atom::value)
    .then(
      [rp, shown](node_reports& reports) mutable {
        for (auto& r : reports)
          shown.nodes.push_back(view_of(r));
        rp.deliver(std::move(shown));
      },
      [rp, shown](caf::error& err) mutable {
        shown.error = view(err).message;
        rp.deliver(std::move(shown));
      });
  return rp;
}

/// Cluster: every stream of the service in JetStream, not only this node's.
caf::result<uint64_t> publish_to_all(self_ptr self, const event_input& in) {
  auto& st = self->state;
  if (!st.journal) {
    for (auto& kv : st.streams)
      self->send(kv.second, post_atom::value, in);
    return static_cast<uint64_t>(st.streams.size());
  }
  auto rp = self->make_response_promise<uint64_t>();
  self->request(st.journal->any_worker(), caf::infinite, list_atom::value)
    .then(
      [self, rp, in](std::vector<std::string>& ids) mutable {
        uint64_t reached = 0;
        for (auto& id : ids)
          if (auto stream = ensure(self, id)) {
            self->send(*stream, post_atom::value, in);
            ++reached;
          }
        rp.deliver(reached);
      },
      [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
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

void spawn_steward_for(self_ptr self) {
  auto& st = self->state;
  auto& cluster = st.cluster.config;
  steward_config cfg{st.svc.name, {}, cluster.lease_ttl, cluster.replicas};
  for (auto& s : st.svc.streams)
    if (s.autostart && !s.generator.empty())
      cfg.autostart.push_back(s.id);
  st.steward = spawn_steward(self->system(),
                             caf::actor_cast<service_actor>(self),
                             st.cluster.link, std::move(cfg));
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
             cluster_membership cluster) {
  auto& st = self->state;
  st.svc = std::move(svc);
  st.sse = cfg.sse;
  st.limits = cfg.streams;
  st.max_subscribers = cfg.limits.max_connections_per_stream;
  st.registry = std::move(registry);
  if (cluster) {
    st.cluster = std::move(cluster);
    st.journal = std::make_shared<const cluster_journal>(
      self->system(), st.cluster.link, st.svc.name);
    spawn_steward_for(self);
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
    [self](lookup_atom, const std::string& id) -> caf::result<stream_actor> {
      auto stream = ensure(self, id);
      if (!stream)
        return std::move(stream.error());
      return *stream;
    },
    [self](publish_all_atom, const event_input& in) {
      return publish_to_all(self, in);
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
    [self](caf::get_atom) { return stream_infos(self); },
    [self](local_atom) {
      auto rp = self->make_response_promise<std::vector<stream_info>>();
      collect_infos(self, [rp](std::vector<stream_info> infos) mutable {
        rp.deliver(std::move(infos));
      });
      return rp;
    },
    [self](cluster_atom) { return cluster_state(self); },
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
                            cluster_membership cluster) {
  return sys.spawn(service_impl, std::move(svc), cfg, std::move(registry),
                   std::move(cluster));
}

} // namespace eventcast
