#pragma once

// The embedding API: the API document's EventBroadcaster utility methods as a
// small blocking C++ façade over one service actor. For code outside actors
// (it waits for replies); actors talk to the service actor directly.

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "actors/messages.hpp"

namespace eventcast {

/// An in-process subscriber of one stream.
class stream_client {
public:
  stream_client(uint64_t id, std::string stream_id);

  uint64_t id() const { return id_; }
  const std::string& stream_id() const { return stream_id_; }

  /// The EventData JSON of the events delivered so far, waiting up to
  /// `timeout` for at least one.
  std::vector<std::string> receive(millis timeout);

  std::shared_ptr<mailbox> inbox() const { return inbox_; }

private:
  // The mailbox's consumer: shared, as the stream may wake it after the
  // client is gone.
  struct signal : wake_target {
    std::mutex mtx;
    std::condition_variable ready;
    bool woken = false;
    void wake(const std::vector<uint64_t>& ids) override;
  };

  uint64_t id_;
  std::string stream_id_;
  std::shared_ptr<signal> signal_ = std::make_shared<signal>();
  std::shared_ptr<mailbox> inbox_;
};

class broadcaster {
public:
  broadcaster(caf::actor_system& sys, service_actor service,
              millis timeout = millis{5000});

  caf::expected<std::shared_ptr<stream_client>>
  subscribe(const std::string& stream_id);
  void unsubscribe(const stream_client& client);

  caf::expected<published> broadcast(const std::string& stream_id,
                                     event_input event);
  /// Returns the number of streams reached.
  caf::expected<uint64_t> broadcast_to_all(event_input event);

  /// Stream id → connected clients.
  std::map<std::string, uint64_t> active_streams();
  std::vector<uint64_t> stream_clients(const std::string& stream_id);
  uint64_t total_clients();
  size_t stream_count();
  bool is_stream_active(const std::string& stream_id);

  const service_actor& service() const { return service_; }

private:
  template <class T, class... Ts>
  caf::expected<T> ask(Ts&&... xs);

  caf::actor_system& sys_;
  service_actor service_;
  millis timeout_;
};

} // namespace eventcast
