// eventcast: wiring only. Reads the settings, starts the actor system, one
// service actor per configured instance and the HTTP front end, then waits
// for SIGINT or SIGTERM and shuts down in order.

#include <csignal>
#include <cstdio>
#include <pthread.h>

#include <caf/all.hpp>

#include "actors/generator.hpp"
#include "actors/service.hpp"
#include "config/loader.hpp"
#include "core/log.hpp"
#include "http/server.hpp"

namespace {

using namespace eventcast;

constexpr millis drain_window{5000};

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

std::vector<http::mount> spawn_services(caf::actor_system& sys,
                                        const settings& cfg) {
  auto registry = generator_registry::with_builtin_kinds();
  std::vector<http::mount> mounts;
  for (auto& svc : cfg.services) {
    EC_INFO("app", "service '" << svc.name << "' at " << svc.path);
    mounts.push_back({svc.path, spawn_service(sys, svc, cfg.sse, cfg.streams,
                                              registry)});
  }
  return mounts;
}

int serve(const settings& cfg, const sigset_t& signals) {
  caf::actor_system_config caf_cfg;
  caf_cfg.set("scheduler.max-threads", cfg.scheduler_threads);
  caf::actor_system sys{caf_cfg};
  auto mounts = spawn_services(sys, cfg);
  http::server server{sys, cfg, mounts};
  try {
    server.start();
  } catch (const std::exception& e) {
    EC_ERROR("app", "cannot listen on " << cfg.http.host << ":"
                                        << cfg.http.port << ": " << e.what());
    for (auto& m : mounts)
      caf::anon_send_exit(m.service, caf::exit_reason::user_shutdown);
    return 1;
  }
  EC_INFO("app", "listening on http://" << cfg.http.host << ":"
                                        << server.port());
  int sig = 0;
  sigwait(&signals, &sig);
  EC_INFO("app", "received " << (sig == SIGINT ? "SIGINT" : "SIGTERM")
                             << ", shutting down");
  server.stop(drain_window);
  for (auto& m : mounts)
    caf::anon_send_exit(m.service, caf::exit_reason::user_shutdown);
  sys.await_all_actors_done();
  EC_INFO("app", "stopped");
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  config::cli_result cli;
  try {
    cli = config::from_command_line(argc, argv);
  } catch (const config::config_error& e) {
    std::fprintf(stderr, "eventcast: %s\n", e.what());
    return 2;
  }
  if (cli.help) {
    std::fputs(cli.help_text.c_str(), stdout);
    return 0;
  }
  log::set_debug(cli.config.debug);
  if (!cli.config_path.empty())
    EC_INFO("app", "configuration from " << cli.config_path);
  auto signals = block_shutdown_signals();
  return serve(cli.config, signals);
}
