#include "http/runner.hpp"

#include <pthread.h>
#include <sys/resource.h>

#include <csignal>

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

} // namespace

std::vector<mount>
spawn_services(caf::actor_system& sys, const settings& cfg,
               std::shared_ptr<const generator_registry> registry) {
  std::vector<mount> mounts;
  for (auto& svc : cfg.services) {
    EC_INFO("app", "service '" << svc.name << "' at " << svc.path);
    mounts.push_back(
      {svc.path, spawn_service(sys, svc, cfg, registry)});
  }
  return mounts;
}

int run_server(const settings& cfg, const mount_fn& make_mounts) {
  log::set_debug(cfg.debug);
  raise_descriptor_limit();
  auto signals = block_shutdown_signals();
  caf::actor_system_config caf_cfg;
  caf_cfg.set("scheduler.max-threads", cfg.scheduler_threads);
  caf::actor_system sys{caf_cfg};
  auto mounts = make_mounts(sys);
  auto rc = serve(sys, cfg, mounts, signals);
  stop_services(mounts);
  sys.await_all_actors_done();
  EC_INFO("app", "stopped");
  return rc;
}

} // namespace eventcast::http
