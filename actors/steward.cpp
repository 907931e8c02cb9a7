#include "actors/steward.hpp"

#include <map>
#include <optional>

#include "actors/journal.hpp"
#include "cluster/desired_state.hpp"
#include "cluster/lease.hpp"
#include "core/log.hpp"

namespace eventcast {

namespace {

using cluster::generator_state;

struct steward_state {
  steward_config cfg;
  service_actor owner;
  std::shared_ptr<cluster::jetstream_link> link;
  std::optional<cluster::desired_state_store> store;
  std::optional<cluster::desired_state_watch> watch;
  // Destroyed with the actor: its leases are released, so the generators
  // move at once when this node shuts down.
  std::map<std::string, std::unique_ptr<cluster::lease_keeper>> keepers;
  static inline const char* name = "steward";
};

using self_ptr = steward_actor::stateful_pointer<steward_state>;

generator_state target_of(caf::atom_value op) {
  if (op == stop_atom::value)
    return generator_state::stopped;
  if (op == pause_atom::value)
    return generator_state::paused;
  return generator_state::running; // start, resume
}

/// Why `op` cannot apply to a generator in state `now`; null when it can.
const char* conflict_of(caf::atom_value op, generator_state now) {
  if ((op == stop_atom::value || op == pause_atom::value)
      && now == generator_state::stopped)
    return "has no running generator";
  if (op == pause_atom::value && now == generator_state::paused)
    return "is already paused";
  if (op == resume_atom::value && now != generator_state::paused)
    return "is not paused";
  return nullptr;
}

// A write between our read and ours makes us read and decide again; this
// many in a row is an operator fight, answered as unavailable.
constexpr int max_control_tries = 5;

caf::result<caf::ok_atom> control(self_ptr self, caf::atom_value op,
                                  const std::string& id) {
  auto& st = self->state;
  for (int tries = 0; tries < max_control_tries; ++tries) {
    auto now = st.store->get(st.cfg.service, id);
    if (!now)
      return make_error(now.error());
    auto current = now->state.value_or(generator_state::stopped);
    if (auto why = conflict_of(op, current))
      return make_error(error_code::conflict, "stream '" + id + "' " + why);
    auto put = st.store->put_if(st.cfg.service, id, target_of(op),
                                now->revision);
    if (!put)
      return make_error(put.error());
    if (*put)
      return caf::ok_atom::value;
  }
  return make_error(error_code::unavailable,
                    "stream '" + id + "' changed meanwhile; try again");
}

/// Generators configured to start run unless an operator decided otherwise.
bool store_defaults(self_ptr self) {
  auto& st = self->state;
  for (auto& id : st.cfg.autostart) {
    auto now = st.store->get(st.cfg.service, id);
    if (!now)
      return false;
    // Another node's default may come first: fine.
    if (!now->state && !st.store->put_if(st.cfg.service, id,
                                         generator_state::running,
                                         now->revision))
      return false;
  }
  return true;
}

void start_watching(self_ptr self) {
  auto& st = self->state;
  auto on_change = [hdl = caf::actor_cast<steward_actor>(self),
                    service = st.cfg.service](
                     const std::string& svc, const std::string& id,
                     std::optional<generator_state> state) {
    if (svc == service)
      caf::anon_send(hdl, desired_atom::value, id,
                     std::string{state ? cluster::to_string(*state) : ""});
  };
  if (store_defaults(self)) {
    auto watch = st.store->watch(on_change);
    if (watch) {
      st.watch.emplace(std::move(*watch));
      return;
    }
  }
  EC_DEBUG("cluster", "generator states of '" << st.cfg.service
                                              << "' not watched yet");
  self->delayed_send(self, millis{1000}, watch_atom::value);
}

void keep_lease(self_ptr self, const std::string& id) {
  auto& st = self->state;
  if (st.keepers.count(id) > 0)
    return;
  cluster::lease_config cfg;
  cfg.ttl = st.cfg.lease_ttl;
  cfg.replicas = st.cfg.replicas;
  auto lease = cluster::lease::open(
    *st.link, cluster::generator_key(st.cfg.service, id), cfg);
  if (!lease) {
    EC_ERROR("cluster", "lease for '" << id << "': " << lease.error().message);
    return;
  }
  auto on_change = [owner = st.owner, id](bool held) {
    caf::anon_send(owner, lease_atom::value, id, held);
  };
  st.keepers.emplace(id, std::make_unique<cluster::lease_keeper>(
                           std::move(*lease), on_change));
}

void drop_lease(self_ptr self, const std::string& id) {
  if (auto it = self->state.keepers.find(id); it != self->state.keepers.end()) {
    it->second->stop(true);
    self->state.keepers.erase(it);
  }
}

steward_actor::behavior_type
steward_impl(self_ptr self, service_actor owner,
             std::shared_ptr<cluster::jetstream_link> link,
             steward_config cfg) {
  auto& st = self->state;
  st.owner = std::move(owner);
  st.link = std::move(link);
  st.cfg = std::move(cfg);
  cluster::desired_state_config store_cfg;
  store_cfg.replicas = st.cfg.replicas;
  auto store = cluster::desired_state_store::open(*st.link, store_cfg);
  if (store)
    st.store = std::move(*store);
  else
    EC_ERROR("cluster", "generator states: " << store.error().message);
  if (st.store)
    start_watching(self);
  return {
    [self](control_atom, caf::atom_value op,
           const std::string& id) -> caf::result<caf::ok_atom> {
      if (!self->state.store)
        return make_error(error_code::unavailable,
                          "generator states are not available");
      return control(self, op, id);
    },
    [self](desired_atom, const std::string& id, const std::string& state) {
      caf::anon_send(self->state.owner, desired_atom::value, id, state);
      if (state == "running" || state == "paused")
        keep_lease(self, id);
      else
        drop_lease(self, id);
    },
    [self](watch_atom) { start_watching(self); },
  };
}

} // namespace

steward_actor spawn_steward(caf::actor_system& sys, service_actor owner,
                            std::shared_ptr<cluster::jetstream_link> link,
                            steward_config cfg) {
  return sys.spawn<caf::detached>(steward_impl, std::move(owner),
                                  std::move(link), std::move(cfg));
}

} // namespace eventcast
