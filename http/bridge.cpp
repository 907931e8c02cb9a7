#include "http/bridge.hpp"

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcast::http::request_bridge::job)

namespace eventcast::http {

namespace {

// Class-based: CAF 0.17 trips UBSan on argument-less function actors.
class bridge_actor : public caf::event_based_actor {
public:
  explicit bridge_actor(caf::actor_config& cfg)
    : caf::event_based_actor(cfg), streams_(this) {
  }

  caf::behavior make_behavior() override {
    set_down_handler([this](caf::down_msg& dm) { streams_.forget(dm.source); });
    return {[this](request_bridge::job& j) { j(this, streams_); }};
  }

private:
  stream_cache streams_;
};

} // namespace

request_bridge::request_bridge(caf::actor_system& sys, size_t actors) {
  for (size_t i = 0; i < std::max<size_t>(actors, 1); ++i)
    actors_.push_back(sys.spawn<bridge_actor>());
}

request_bridge::~request_bridge() {
  stop();
}

void request_bridge::run(job j) {
  auto i = next_.fetch_add(1, std::memory_order_relaxed) % actors_.size();
  caf::anon_send(actors_[i], std::move(j));
}

void request_bridge::stop() {
  for (auto& a : actors_)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

} // namespace eventcast::http
