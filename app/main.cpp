// eventcast: reads the settings and runs the server with the built-in
// generator kinds. Wiring only.

#include <cstdio>

#include "config/loader.hpp"
#include "core/log.hpp"
#include "http/runner.hpp"

int main(int argc, char** argv) {
  using namespace eventcast;
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
  if (!cli.config_path.empty())
    EC_INFO("app", "configuration from " << cli.config_path);
  auto registry = generator_registry::with_builtin_kinds();
  return http::run_server(cli.config, [&](caf::actor_system& sys) {
    return http::spawn_services(sys, cli.config, registry);
  });
}
