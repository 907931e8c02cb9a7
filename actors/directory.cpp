#include "actors/directory.hpp"

#include <chrono>
#include <optional>

#include "core/log.hpp"
#include "actors/journal.hpp"

namespace eventcast {

namespace {

using services = named_services;
using steady = std::chrono::steady_clock;

constexpr millis cache_for{500};
constexpr millis count_timeout{1000};

struct directory_state {
  std::shared_ptr<cluster::jetstream_link> link;
  std::string url;
  int64_t started_ms = 0;
  std::optional<cluster::presence> presence;
  std::unique_ptr<cluster::presence_announcer> announcer;
  size_t services_up = 0; // it leaves the cluster with the last of them
  node_reports cached;
  steady::time_point cached_at;
  static inline const char* name = "directory";
};

using self_ptr = directory_actor::stateful_pointer<directory_state>;

/// This node's streams with subscribers, asked on the announcer's thread.
std::vector<cluster::stream_clients> local_counts(caf::actor_system& sys,
                                                  const services& svcs) {
  std::vector<cluster::stream_clients> out;
  caf::scoped_actor self{sys};
  for (auto& [name, svc] : svcs)
    self->request(svc, count_timeout, local_atom::value)
      .receive(
        [&, service = name](std::vector<stream_info>& infos) {
          for (auto& info : infos)
            if (info.clients > 0)
              out.push_back({service, info.id, info.clients});
        },
        [](caf::error&) {});
  return out;
}

void start_announcing(self_ptr self, const services& svcs) {
  auto& st = self->state;
  for (auto& kv : svcs)
    self->monitor(kv.second);
  st.services_up += svcs.size();
  if (!st.presence || st.announcer)
    return;
  // The announcer's thread reads a copy made here: `svcs` came from the main
  // thread through CAF's mailbox, whose synchronization ThreadSanitizer cannot
  // see (tests/tsan/suppressions.txt).
  auto report = [&sys = self->system(), svcs = services(svcs),
                 node = st.link->config().node_name, url = st.url,
                 started = st.started_ms] {
    return cluster::node_report{node, url, started, local_counts(sys, svcs)};
  };
  st.announcer = std::make_unique<cluster::presence_announcer>(
    *st.presence, std::move(report));
}

caf::result<node_reports> nodes(self_ptr self) {
  auto& st = self->state;
  if (!st.presence)
    return make_error(error_code::unavailable, "presence is not available");
  if (steady::now() - st.cached_at < cache_for)
    return st.cached;
  auto fresh = st.presence->nodes();
  if (!fresh)
    return make_error(fresh.error());
  st.cached = std::move(*fresh);
  st.cached_at = steady::now();
  return st.cached;
}

directory_actor::behavior_type
directory_impl(self_ptr self, std::shared_ptr<cluster::jetstream_link> link,
               std::string url, cluster_settings cfg) {
  auto& st = self->state;
  st.link = std::move(link);
  st.url = std::move(url);
  st.started_ms = std::chrono::duration_cast<millis>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  cluster::presence_config pc;
  pc.replicas = cfg.replicas;
  if (auto p = cluster::presence::open(*st.link, pc))
    st.presence.emplace(std::move(*p));
  else
    EC_ERROR("cluster", "presence: " << p.error().message);
  self->set_down_handler([self](caf::down_msg&) {
    if (--self->state.services_up == 0)
      self->quit();
  });
  return {
    [self](announce_atom, services& svcs) {
      start_announcing(self, svcs);
    },
    [self](nodes_atom) { return nodes(self); },
  };
}

} // namespace

directory_actor spawn_directory(caf::actor_system& sys,
                                std::shared_ptr<cluster::jetstream_link> link,
                                std::string url, const cluster_settings& cfg) {
  return sys.spawn<caf::detached>(directory_impl, std::move(link),
                                  std::move(url), cfg);
}

} // namespace eventcast
