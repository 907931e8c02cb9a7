// An embedding example: a new service, `orders` at /api/v1/orders, with a
// generator kind of its own. A new kind is an actor plus one registration
// line; the rest is Eventcast as a library.
//
//   orders_service --port 8090
//   curl -N http://localhost:8090/api/v1/orders/stream/orders

#include <cstdio>
#include <random>

#include "actors/broadcaster.hpp"
#include "config/loader.hpp"
#include "core/json.hpp"
#include "http/runner.hpp"

using namespace eventcast;

namespace {

struct order_state {
  uint64_t next_order = 1000;
  std::mt19937_64 rng;
  bool paused = false;
};

/// Emits one order_created event per interval until paused.
caf::behavior order_generator(caf::stateful_actor<order_state>* self,
                              stream_actor stream, millis interval,
                              uint64_t seed) {
  self->state.rng.seed(seed);
  self->monitor(stream);
  self->set_down_handler([self](caf::down_msg&) { self->quit(); });
  self->send(self, caf::tick_atom::value);
  return {
    [=](caf::tick_atom) {
      self->delayed_send(self, interval, caf::tick_atom::value);
      if (self->state.paused)
        return;
      auto id = "ORD-" + std::to_string(self->state.next_order++);
      auto amount = 10.0 + (self->state.rng() % 50000) / 100.0;
      auto data = json::object_writer{}
                    .field("order_id", id)
                    .field("total_amount", amount)
                    .str();
      self->send(stream, post_atom::value,
                 event_input{"order_created", "New order received", data});
    },
    [=](pause_atom) { self->state.paused = true; },
    [=](resume_atom) { self->state.paused = false; },
  };
}

service_settings orders_service() {
  service_settings svc;
  svc.name = "orders";
  svc.path = "/api/v1/orders";
  svc.streams = {{"orders", "orders", millis{1000}, true}};
  svc.default_generator = "orders";
  return svc;
}

} // namespace

int main(int argc, char** argv) {
  config::cli_result cli;
  try {
    cli = config::from_command_line(argc, argv);
  } catch (const config::config_error& e) {
    std::fprintf(stderr, "orders_service: %s\n", e.what());
    return 2;
  }
  cli.config.services = {orders_service()};
  auto registry = generator_registry::with_builtin_kinds();
  registry->add("orders", [](caf::local_actor* parent, stream_actor stream,
                             const generator_params& p) {
    return parent->spawn(order_generator, stream, p.interval, p.seed);
  });
  return http::run_server(cli.config, [&](caf::actor_system& sys) {
    auto mounts = http::spawn_services(sys, cli.config, registry);
    // The embedding API: publish from C++ code in the same process.
    broadcaster orders{sys, mounts.front().service};
    orders.broadcast("orders", {"service_started", "Orders service is up", ""});
    return mounts;
  });
}
