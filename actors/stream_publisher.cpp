#include "actors/stream_publisher.hpp"

#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/actor_companion.hpp>

#include "core/deadlines.hpp"

namespace eventcast {

namespace {

using reply_handler = std::function<void(caf::message&)>;

/// The reply as a `T`, or the error it carries.
template <class T>
caf::expected<T> reply_as(caf::message& reply) {
  if (reply.match_elements<T>())
    return std::move(reply.get_mutable_as<T>(0));
  if (reply.match_elements<caf::error>())
    return std::move(reply.get_mutable_as<caf::error>(0));
  return caf::make_error(caf::sec::unexpected_response);
}

} // namespace

struct stream_publisher::state
  : std::enable_shared_from_this<stream_publisher::state> {
  using key = std::pair<caf::actor_id, std::string>; // service, stream id

  struct key_hash {
    size_t operator()(const key& k) const {
      return std::hash<std::string>{}(k.second) ^ k.first;
    }
  };

  caf::actor_system& sys;
  millis timeout;
  caf::strong_actor_ptr companion;

  mutable std::mutex mtx; // guards the fields below
  uint64_t last_request = 0;
  std::unordered_map<uint64_t, reply_handler> pending;
  deadline_fifo<caf::actor_clock::time_point, uint64_t> deadlines;
  std::unordered_map<key, stream_actor, key_hash> streams;

  state(caf::actor_system& sys, millis timeout) : sys(sys), timeout(timeout) {
  }

  /// Sends a request to `dest` from the companion; its reply goes to `h`.
  template <class Handle, class... Ts>
  void request(const Handle& dest, reply_handler h, Ts&&... xs) {
    uint64_t id;
    {
      std::lock_guard<std::mutex> guard{mtx};
      id = ++last_request;
      pending.emplace(id, std::move(h));
      deadlines.add(sys.clock().now() + timeout, id);
    }
    caf::actor_cast<caf::strong_actor_ptr>(dest)->enqueue(
      companion, caf::make_message_id(id),
      caf::make_message(std::forward<Ts>(xs)...), nullptr);
  }

  void on_reply(caf::mailbox_element& reply) {
    if (!reply.mid.is_response())
      return;
    auto h = take(reply.mid.request_id().integer_value());
    if (!h)
      return; // timed out before, or stopped
    auto content = reply.move_content_to_message();
    h(content);
  }

  reply_handler take(uint64_t id) {
    std::lock_guard<std::mutex> guard{mtx};
    auto it = pending.find(id);
    if (it == pending.end())
      return {};
    auto h = std::move(it->second);
    pending.erase(it);
    return h;
  }

  void expire_overdue() {
    auto now = sys.clock().now();
    std::vector<reply_handler> overdue;
    {
      std::lock_guard<std::mutex> guard{mtx};
      deadlines.pop_due(
        now, [this](uint64_t id) { return pending.count(id) == 0; },
        [&](uint64_t id) {
          auto it = pending.find(id);
          overdue.push_back(std::move(it->second));
          pending.erase(it);
        });
    }
    for (auto& h : overdue) {
      auto timed_out = caf::make_message(
        caf::make_error(caf::sec::request_timeout));
      h(timed_out);
    }
  }

  std::unordered_map<uint64_t, reply_handler> take_all_pending() {
    std::lock_guard<std::mutex> guard{mtx};
    deadlines.clear();
    return std::exchange(pending, {});
  }

  std::optional<stream_actor> cached(const service_actor& svc,
                                     const std::string& id) const {
    std::lock_guard<std::mutex> guard{mtx};
    auto it = streams.find(key{svc.id(), id});
    if (it == streams.end())
      return std::nullopt;
    return it->second;
  }

  void remember(const service_actor& svc, const std::string& id,
                const stream_actor& stream) {
    key k{svc.id(), id};
    {
      std::lock_guard<std::mutex> guard{mtx};
      auto [it, added] = streams.try_emplace(k, stream);
      if (!added && it->second == stream)
        return;
      it->second = stream;
    }
    // Outside the lock: for an actor that is already gone, the functor runs
    // at once, here.
    caf::actor_cast<caf::abstract_actor*>(stream)->attach_functor(
      [weak = weak_from_this(), k = std::move(k), actor = stream.id()] {
        if (auto self = weak.lock())
          self->forget(k, actor);
      });
  }

  void forget(const key& k, caf::actor_id actor) {
    std::lock_guard<std::mutex> guard{mtx};
    if (auto it = streams.find(k); it != streams.end() && it->second.id() == actor)
      streams.erase(it);
  }

  void publish(const service_actor& svc, std::string id, event_input in,
               on_published done) {
    if (auto stream = cached(svc, id))
      return publish_to(*stream, svc, std::move(id), std::move(in),
                        std::move(done));
    auto lookup_id = id;
    request(
      svc,
      [this, svc, id = std::move(id), in = std::move(in),
       done = std::move(done)](caf::message& reply) mutable {
        auto stream = reply_as<stream_actor>(reply);
        if (!stream)
          return done(std::move(stream.error()));
        remember(svc, id, *stream);
        publish_to(*stream, svc, std::move(id), std::move(in),
                   std::move(done));
      },
      lookup_atom::value, std::move(lookup_id));
  }

  void publish_to(const stream_actor& stream, const service_actor& svc,
                  std::string id, event_input in, on_published done) {
    // Kept for the rare bounce: a stream that retired after we looked it up.
    auto again = in;
    request(
      stream,
      [this, svc, id = std::move(id), again = std::move(again),
       done = std::move(done)](caf::message& reply) mutable {
        auto p = reply_as<published>(reply);
        if (!p && p.error() == caf::sec::request_receiver_down)
          return through_service(svc, std::move(id), std::move(again),
                                 std::move(done));
        done(std::move(p));
      },
      caf::publish_atom::value, std::move(in));
  }

  void through_service(const service_actor& svc, std::string id,
                       event_input in, on_published done) {
    request(
      svc,
      [done = std::move(done)](caf::message& reply) {
        done(reply_as<published>(reply));
      },
      caf::publish_atom::value, std::move(id), std::move(in));
  }
};

namespace {

/// Runs `expire` every `period`: one timer for all deadlines instead of one
/// per request. Class-based: CAF 0.17 trips UBSan on argument-less function
/// actors.
class deadline_ticker : public caf::event_based_actor {
public:
  deadline_ticker(caf::actor_config& cfg, std::function<void()> expire,
                  millis period)
    : caf::event_based_actor(cfg), expire_(std::move(expire)), period_(period) {
  }

  caf::behavior make_behavior() override {
    tick();
    return {
      [this](caf::tick_atom) {
        expire_();
        tick();
      },
    };
  }

private:
  void tick() { delayed_send(this, period_, caf::tick_atom::value); }

  std::function<void()> expire_;
  millis period_;
};

caf::actor_companion& companion_of(const caf::strong_actor_ptr& ptr) {
  return static_cast<caf::actor_companion&>(
    *caf::actor_cast<caf::abstract_actor*>(ptr));
}

} // namespace

stream_publisher::stream_publisher(caf::actor_system& sys, millis timeout)
  : state_(std::make_shared<state>(sys, timeout)) {
  state_->companion = caf::actor_cast<caf::strong_actor_ptr>(
    sys.spawn<caf::actor_companion, caf::hidden>());
  companion_of(state_->companion)
    .on_enqueue([s = state_](caf::mailbox_element_ptr reply) {
      s->on_reply(*reply);
    });
  std::weak_ptr<state> weak = state_;
  ticker_ = sys.spawn<deadline_ticker, caf::hidden>(
    [weak] {
      if (auto s = weak.lock())
        s->expire_overdue();
    },
    std::max(timeout / 4, millis{1}));
}

stream_publisher::~stream_publisher() {
  stop();
}

void stream_publisher::publish(const service_actor& svc, std::string id,
                               event_input in, on_published done) {
  state_->publish(svc, std::move(id), std::move(in), std::move(done));
}

size_t stream_publisher::cached() const {
  std::lock_guard<std::mutex> guard{state_->mtx};
  return state_->streams.size();
}

void stream_publisher::stop() {
  if (!ticker_)
    return;
  caf::anon_send_exit(ticker_, caf::exit_reason::user_shutdown);
  ticker_ = nullptr;
  // Waits for replies being handled; drops the companion's hold on state_.
  companion_of(state_->companion).on_enqueue({});
  state_->take_all_pending(); // destroyed here, outside the lock
}

} // namespace eventcast
