#include "http/bridge.hpp"

#include <utility>

#include "core/deadlines.hpp"

namespace eventcast::http {

namespace {

struct task {
  request_bridge::job run;
  std::weak_ptr<pending_answer> answer;
};

} // namespace

} // namespace eventcast::http

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventcast::http::task)

namespace eventcast::http {

namespace {

// Class-based: CAF 0.17 trips UBSan on argument-less function actors.
class bridge_actor : public caf::event_based_actor {
public:
  bridge_actor(caf::actor_config& cfg, millis timeout)
    : caf::event_based_actor(cfg), timeout_(timeout) {
  }

  caf::behavior make_behavior() override {
    return {
      [this](task& t) {
        watch(std::move(t.answer));
        t.run(this);
      },
      [this](caf::tick_atom) { expire_overdue(); },
    };
  }

private:
  void watch(std::weak_ptr<pending_answer> answer) {
    if (answer.expired())
      return;
    deadlines_.add(clock().now() + timeout_, std::move(answer));
    if (!ticking_)
      tick();
  }

  void tick() {
    ticking_ = true;
    delayed_send(this, std::max(timeout_ / 4, millis{1}),
                 caf::tick_atom::value);
  }

  void expire_overdue() {
    using answer_ptr = std::weak_ptr<pending_answer>;
    deadlines_.pop_due(
      clock().now(), [](const answer_ptr& a) { return a.expired(); },
      [](const answer_ptr& a) {
        if (auto answer = a.lock())
          answer->expire();
      });
    ticking_ = false;
    if (!deadlines_.empty())
      tick();
  }

  millis timeout_;
  deadline_fifo<caf::actor_clock::time_point, std::weak_ptr<pending_answer>>
    deadlines_;
  bool ticking_ = false;
};

} // namespace

request_bridge::request_bridge(caf::actor_system& sys, size_t actors,
                               millis timeout) {
  for (size_t i = 0; i < std::max<size_t>(actors, 1); ++i)
    actors_.push_back(sys.spawn<bridge_actor>(timeout));
}

request_bridge::~request_bridge() {
  stop();
}

void request_bridge::run(job j, std::weak_ptr<pending_answer> answer) {
  auto i = next_.fetch_add(1, std::memory_order_relaxed) % actors_.size();
  caf::anon_send(actors_[i], task{std::move(j), std::move(answer)});
}

void request_bridge::stop() {
  for (auto& a : actors_)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
}

} // namespace eventcast::http
