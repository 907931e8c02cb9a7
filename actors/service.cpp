#include "actors/service.hpp"

#include <algorithm>
#include <map>

#include "actors/stream.hpp"
#include "core/log.hpp"

namespace eventcast {

namespace {

struct service_state {
  service_settings svc;
  sse_settings sse;
  stream_limits limits;
  size_t max_subscribers = 0;
  std::shared_ptr<const generator_registry> registry;
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

void start_configured_streams(self_ptr self) {
  for (auto& s : self->state.svc.streams) {
    auto stream = ensure(self, s.id);
    if (stream && s.autostart && !s.generator.empty())
      caf::anon_send(*stream, start_atom::value);
  }
}

service_actor::behavior_type
service_impl(self_ptr self, service_settings svc, settings cfg,
             std::shared_ptr<const generator_registry> registry) {
  auto& st = self->state;
  st.svc = std::move(svc);
  st.sse = cfg.sse;
  st.limits = cfg.streams;
  st.max_subscribers = cfg.limits.max_connections_per_stream;
  st.registry = std::move(registry);
  // On shutdown the streams go with their service.
  self->set_exit_handler([self](caf::exit_msg& msg) {
    for (auto& kv : self->state.streams)
      self->send_exit(kv.second, msg.reason);
    self->quit(msg.reason);
  });
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& streams = self->state.streams;
    for (auto it = streams.begin(); it != streams.end(); ++it)
      if (it->second.address() == dm.source) {
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
      for (auto& kv : self->state.streams)
        self->send(kv.second, post_atom::value, in);
      return static_cast<uint64_t>(self->state.streams.size());
    },
    [self](start_atom, const std::string& id) {
      return forward<caf::ok_atom>(self, ensure(self, id), start_atom::value);
    },
    [self](stop_atom, const std::string& id) {
      return forward<caf::ok_atom>(self, existing(self, id), stop_atom::value);
    },
    [self](pause_atom, const std::string& id) {
      return forward<caf::ok_atom>(self, existing(self, id),
                                   pause_atom::value);
    },
    [self](resume_atom, const std::string& id) {
      return forward<caf::ok_atom>(self, existing(self, id),
                                   resume_atom::value);
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
  };
}

} // namespace

service_actor spawn_service(caf::actor_system& sys, service_settings svc,
                            const settings& cfg,
                            std::shared_ptr<const generator_registry> registry) {
  return sys.spawn(service_impl, std::move(svc), cfg, std::move(registry));
}

} // namespace eventcast
