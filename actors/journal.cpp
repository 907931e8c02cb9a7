#include "actors/journal.hpp"

#include <functional>

namespace eventcast {

namespace {

using worker_ptr = journal_worker::pointer;

caf::result<opened_stream> open_stream(cluster::jetstream_link& link,
                                       const std::string& service,
                                       const std::string& id,
                                       stream_actor stream) {
  if (auto made = link.ensure_stream(service, id); !made)
    return make_error(made.error());
  auto bounds = link.state(service, id);
  if (!bounds)
    return make_error(bounds.error());
  auto deliver = [stream](uint64_t seq, std::string_view payload) {
    caf::anon_send(stream, deliver_atom::value, seq, std::string{payload});
  };
  auto feed = link.subscribe(service, id, bounds->last_seq, deliver);
  if (!feed)
    return make_error(feed.error());
  return opened_stream{
    bounds->last_seq,
    std::make_shared<cluster::subscription>(std::move(*feed))};
}

journal_worker::behavior_type
worker_impl(worker_ptr, std::shared_ptr<cluster::jetstream_link> link,
            std::string service) {
  return {
    [link, service](open_atom, const std::string& id, stream_actor stream) {
      return open_stream(*link, service, id, std::move(stream));
    },
    [link, service](append_atom, const std::string& id,
                    const std::string& payload,
                    const std::string& msg_id) -> caf::result<uint64_t> {
      auto seq = link->publish(service, id, payload, msg_id);
      if (!seq)
        return make_error(seq.error());
      return *seq;
    },
    [link, service](fetch_atom, const std::string& id, uint64_t from,
                    uint64_t to) -> caf::result<stored_events> {
      auto events = link->fetch_range(service, id, from, to);
      if (!events)
        return make_error(events.error());
      return stored_events{std::move(*events)};
    },
    [link, service](list_atom) -> caf::result<std::vector<std::string>> {
      auto ids = link->stream_ids(service);
      if (!ids)
        return make_error(ids.error());
      return std::move(*ids);
    },
  };
}

} // namespace

cluster_journal::cluster_journal(caf::actor_system& sys,
                 std::shared_ptr<cluster::jetstream_link> link,
                 std::string service, size_t workers)
  : link_(std::move(link)),
    service_(std::move(service)) {
  for (size_t i = 0; i < std::max<size_t>(workers, 1); ++i)
    workers_.push_back(
      sys.spawn<caf::detached>(worker_impl, link_, service_));
}

cluster_journal::~cluster_journal() {
  for (auto& w : workers_)
    caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
}

const journal_worker& cluster_journal::worker_for(const std::string& stream_id) const {
  return workers_[std::hash<std::string>{}(stream_id) % workers_.size()];
}

std::string cluster_journal::message_id(const std::string& event_id) const {
  return link_->config().node_name + "/" + event_id;
}

caf::error make_error(const cluster::error& err) {
  return make_error(err.code, err.message);
}

} // namespace eventcast
