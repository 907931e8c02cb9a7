#include "http/runner.hpp"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <sstream>
#include <thread>

#include "actors/service.hpp"
#include "core/log.hpp"

namespace eventcast::http {

namespace {

/// Every SSE client costs a descriptor: take all the process may have.
void raise_descriptor_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &lim);
  }
}

/// Blocks the shutdown signals in every thread started after this call, so
/// that only the main thread's sigwait sees them.
sigset_t block_shutdown_signals() {
  std::signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

void stop_services(const std::vector<mount>& mounts) {
  for (auto& m : mounts)
    caf::anon_send_exit(m.service, caf::exit_reason::user_shutdown);
}

int serve(caf::actor_system& sys, const settings& cfg,
          const std::vector<mount>& mounts, const sigset_t& signals) {
  server srv{sys, cfg, mounts};
  try {
    srv.start();
  } catch (const std::exception& e) {
    EC_ERROR("app", "cannot listen on " << cfg.http.host << ":"
                                        << cfg.http.port << ": " << e.what());
    return 1;
  }
  EC_INFO("app", "listening on http://" << cfg.http.host << ":"
                                        << srv.port());
  int sig = 0;
  sigwait(&signals, &sig);
  EC_INFO("app", "received " << (sig == SIGINT ? "SIGINT" : "SIGTERM")
                             << ", shutting down");
  srv.stop(cfg.http.drain_timeout);
  return 0;
}

std::string node_name(const settings& cfg) {
  if (!cfg.cluster.node_name.empty())
    return cfg.cluster.node_name;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  // Port 0 is picked at listen time: the pid tells two such nodes apart.
  auto suffix = cfg.http.port != 0 ? std::to_string(cfg.http.port)
                                   : "pid" + std::to_string(::getpid());
  return std::string{host} + ":" + suffix;
}

cluster::link_config link_config_for(const cluster_settings& cfg,
                                     std::string name) {
  cluster::link_config link;
  link.urls = cfg.urls;
  link.node_name = std::move(name);
  link.timeout = cfg.request_timeout;
  link.streams.replicas = cfg.replicas;
  link.streams.max_msgs = cfg.history_messages;
  link.streams.max_bytes = cfg.history_bytes == 0 ? -1 : cfg.history_bytes;
  link.streams.max_age = cfg.history_age;
  return link;
}

std::string joined(const std::vector<std::string>& urls) {
  std::ostringstream out;
  for (size_t i = 0; i < urls.size(); ++i)
    out << (i > 0 ? "," : "") << urls[i];
  return out.str();
}

/// The node's link to NATS. Never waits long for NATS: an unreachable one
/// is said so and retried in the background.
std::shared_ptr<cluster::jetstream_link> connect_nats(const settings& cfg) {
  auto name = node_name(cfg);
  auto on_state = [](cluster::connection_state s) {
    EC_INFO("cluster", "NATS " << cluster::to_string(s));
  };
  auto link = cluster::jetstream_link::connect(
    link_config_for(cfg.cluster, name), on_state);
  if (!link)
    throw std::runtime_error("cluster: " + link.error().message);
  EC_INFO("cluster", "node '" << name << "' joining through NATS at "
                              << joined(cfg.cluster.urls));
  auto shared = std::make_shared<cluster::jetstream_link>(std::move(*link));
  auto deadline = std::chrono::steady_clock::now() + cfg.cluster.request_timeout;
  while (!shared->connected() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(millis{20});
  if (!shared->connected())
    EC_ERROR("cluster", "cannot reach NATS at " << joined(cfg.cluster.urls)
                                                << "; retrying (publishes "
                                                   "answer 503 until then)");
  return shared;
}

std::string advertised_url(const settings& cfg) {
  if (!cfg.cluster.advertise_url.empty() || cfg.http.port == 0)
    return cfg.cluster.advertise_url;
  return "http://" + cfg.http.host + ":" + std::to_string(cfg.http.port);
}

/// Empty without a cluster.
cluster_membership join_cluster(caf::actor_system& sys, const settings& cfg) {
  if (!cfg.cluster.enabled())
    return {};
  auto link = connect_nats(cfg);
  auto directory = spawn_directory(sys, link, advertised_url(cfg), cfg.cluster);
  return {std::move(link), std::move(directory), cfg.cluster};
}

} // namespace

std::vector<mount>
spawn_services(caf::actor_system& sys, const settings& cfg,
               std::shared_ptr<const generator_registry> registry) {
  auto cluster = join_cluster(sys, cfg);
  std::vector<mount> mounts;
  named_services announced;
  for (auto& svc : cfg.services) {
    EC_INFO("app", "service '" << svc.name << "' at " << svc.path);
    mounts.push_back(
      {svc.path, spawn_service(sys, svc, cfg, registry, cluster)});
    announced.emplace_back(svc.name, mounts.back().service);
  }
  if (cluster)
    caf::anon_send(cluster.directory, announce_atom::value,
                   std::move(announced));
  return mounts;
}

int run_server(const settings& cfg, const mount_fn& make_mounts) {
  log::set_debug(cfg.debug);
  raise_descriptor_limit();
  auto signals = block_shutdown_signals();
  caf::actor_system_config caf_cfg;
  caf_cfg.set("scheduler.max-threads", cfg.scheduler_threads);
  // An idle CAF worker polls every 50 us for 25 ms before it waits on its
  // condition variable. At a few hundred events a second those wake-ups
  // never stop and preempt the output thread: without them the fan-out's
  // p99 fell from 8.7-10.0 ms to 7.0-8.0 ms (bench L1), throughput unchanged.
  caf_cfg.set("work-stealing.moderate-poll-attempts", size_t{0});
  caf::actor_system sys{caf_cfg};
  std::vector<mount> mounts;
  try {
    mounts = make_mounts(sys);
  } catch (const std::exception& e) {
    EC_ERROR("app", e.what());
    return 2;
  }
  auto rc = serve(sys, cfg, mounts, signals);
  stop_services(mounts);
  sys.await_all_actors_done();
  EC_INFO("app", "stopped");
  return rc;
}

} // namespace eventcast::http
