#pragma once

// The stream actors a publishing actor has looked up, per service instance,
// so that its publishes go straight to the stream actor instead of through
// the service actor (which every publish of an instance would otherwise
// pass, one at a time). Owned by one actor and used only inside it.

#include <functional>
#include <string>
#include <unordered_map>
#include <utility>

#include "actors/messages.hpp"

namespace eventcast {

class stream_cache {
public:
  using on_published = std::function<void(caf::expected<published>)>;

  /// `self` owns the cache; it must call `forget` from its down handler.
  explicit stream_cache(caf::event_based_actor* self) : self_(self) {}

  /// Publishes `in` to stream `id` of `svc` and hands the reply to `done`.
  /// A stream not yet known is looked up (and created) through the service
  /// once; a known one that has retired meanwhile bounces the publish, which
  /// then goes through the service, which creates a fresh stream.
  void publish(const service_actor& svc, std::string id, event_input in,
               caf::duration timeout, on_published done);

  /// Drops the entry of a stream actor that went down.
  void forget(const caf::actor_addr& stream);

  size_t size() const { return names_.size(); }

private:
  using key = std::pair<caf::actor_id, std::string>; // service, stream id

  void remember(const service_actor& svc, const std::string& id,
                const stream_actor& stream);
  void send(const stream_actor& stream, const service_actor& svc,
            std::string id, event_input in, caf::duration timeout,
            on_published done);
  void through_service(const service_actor& svc, std::string id,
                       event_input in, caf::duration timeout,
                       on_published done);

  struct key_hash {
    size_t operator()(const key& k) const {
      return std::hash<std::string>{}(k.second) ^ k.first;
    }
  };

  caf::event_based_actor* self_;
  std::unordered_map<key, stream_actor, key_hash> streams_;
  std::unordered_map<caf::actor_id, key> names_; // stream actor -> its key
};

} // namespace eventcast
