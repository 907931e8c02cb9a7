#pragma once

// Cluster only: this node's entry in the presence bucket (who it is and how
// many subscribers each of its streams has, renewed every second) and the
// entries of the other nodes, for cluster-wide stream counts and
// GET /api/v1/cluster. A detached actor, because the KV calls block.

#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "cluster/jetstream_link.hpp"
#include "cluster/presence.hpp"
#include "core/settings.hpp"

namespace eventcast {

using announce_atom = caf::atom_constant<caf::atom("announce")>;
using nodes_atom = caf::atom_constant<caf::atom("nodes")>;

using node_reports = std::vector<cluster::node_report>;
using named_services = std::vector<std::pair<std::string, service_actor>>;

/// `announce_atom` with the node's services (name, actor) starts announcing
/// their subscriber counts; `nodes_atom` answers every live node's report
/// (at most half a second old).
using directory_actor = caf::typed_actor<
  caf::reacts_to<announce_atom, named_services>,
  caf::replies_to<nodes_atom>::with<node_reports>>;

/// What a service needs of the cluster; empty on a single node.
struct cluster_membership {
  std::shared_ptr<cluster::jetstream_link> link;
  directory_actor directory;
  cluster_settings config;

  explicit operator bool() const { return link != nullptr; }
  const std::string& node_name() const { return link->config().node_name; }
};

/// Joins the presence bucket as `url` (this node's HTTP address).
directory_actor spawn_directory(caf::actor_system& sys,
                                std::shared_ptr<cluster::jetstream_link> link,
                                std::string url, const cluster_settings& cfg);

} // namespace eventcast

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcast::node_reports)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcast::named_services)
