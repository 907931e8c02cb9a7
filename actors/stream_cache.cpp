#include "actors/stream_cache.hpp"

namespace eventcast {

void stream_cache::publish(const service_actor& svc, std::string id,
                           event_input in, caf::duration timeout,
                           on_published done) {
  if (auto it = streams_.find(key{svc.id(), id}); it != streams_.end())
    return send(it->second, svc, std::move(id), std::move(in), timeout,
                std::move(done));
  self_->request(svc, timeout, lookup_atom::value, id)
    .then(
      [this, svc, id, in, timeout, done](stream_actor& stream) mutable {
        remember(svc, id, stream);
        send(stream, svc, std::move(id), std::move(in), timeout,
             std::move(done));
      },
      [done](caf::error& err) { done(std::move(err)); });
}

void stream_cache::forget(const caf::actor_addr& stream) {
  auto it = names_.find(stream.id());
  if (it == names_.end())
    return;
  streams_.erase(it->second);
  names_.erase(it);
}

void stream_cache::remember(const service_actor& svc, const std::string& id,
                            const stream_actor& stream) {
  key k{svc.id(), id};
  if (auto old = streams_.find(k); old != streams_.end())
    names_.erase(old->second.id());
  streams_.insert_or_assign(k, stream);
  names_.insert_or_assign(stream.id(), std::move(k));
  self_->monitor(stream);
}

void stream_cache::send(const stream_actor& stream, const service_actor& svc,
                        std::string id, event_input in, caf::duration timeout,
                        on_published done) {
  // Kept for the rare bounce: a stream that retired after we looked it up.
  auto again = in;
  self_->request(stream, timeout, caf::publish_atom::value, std::move(in))
    .then([done](published& p) { done(std::move(p)); },
          [this, svc, id, again, timeout, done](caf::error& err) mutable {
            if (err != caf::sec::request_receiver_down)
              return done(std::move(err));
            through_service(svc, std::move(id), std::move(again), timeout,
                            std::move(done));
          });
}

void stream_cache::through_service(const service_actor& svc, std::string id,
                                   event_input in, caf::duration timeout,
                                   on_published done) {
  self_->request(svc, timeout, caf::publish_atom::value, std::move(id),
                 std::move(in))
    .then([done](published& p) { done(std::move(p)); },
          [done](caf::error& err) { done(std::move(err)); });
}

} // namespace eventcast
