#include "actors/generator.hpp"

#include "core/log.hpp"

namespace eventcast {

namespace {

struct sampling_state {
  std::shared_ptr<event_source> source;
  stream_actor stream;
  millis interval{0};
  bool paused = false;
  uint64_t timer = 0; // ticks of older timers are ignored
  static inline const char* name = "generator";
};

using sampling_actor = caf::stateful_actor<sampling_state>;

void schedule_tick(sampling_actor* self) {
  self->delayed_send(self, self->state.interval, caf::tick_atom::value,
                     ++self->state.timer);
}

void tick(sampling_actor* self) {
  for (auto& ev : self->state.source->next())
    self->send(self->state.stream, post_atom::value, std::move(ev));
  schedule_tick(self);
}

caf::behavior sampling_generator(sampling_actor* self, stream_actor stream,
                                 millis interval,
                                 std::shared_ptr<event_source> source) {
  self->state.source = std::move(source);
  self->state.stream = stream;
  self->state.interval = interval;
  self->monitor(stream);
  self->set_down_handler([self](caf::down_msg&) { self->quit(); });
  schedule_tick(self);
  return {
    [self](caf::tick_atom, uint64_t timer) {
      if (!self->state.paused && timer == self->state.timer)
        tick(self);
    },
    [self](pause_atom) { self->state.paused = true; },
    [self](resume_atom) {
      if (!self->state.paused)
        return;
      self->state.paused = false;
      schedule_tick(self);
    },
  };
}

} // namespace

void generator_registry::add(std::string kind, generator_factory factory) {
  kinds_[std::move(kind)] = std::move(factory);
}

bool generator_registry::contains(const std::string& kind) const {
  return kinds_.count(kind) > 0;
}

caf::actor generator_registry::spawn(const std::string& kind,
                                     caf::local_actor* parent,
                                     stream_actor stream,
                                     const generator_params& params) const {
  auto it = kinds_.find(kind);
  if (it == kinds_.end())
    return {};
  return it->second(parent, std::move(stream), params);
}

generator_factory sampling_kind(
  std::function<std::unique_ptr<event_source>(const generator_params&)>
    make_source) {
  return [make_source](caf::local_actor* parent, stream_actor stream,
                       const generator_params& params) {
    std::shared_ptr<event_source> source = make_source(params);
    return parent->spawn(sampling_generator, std::move(stream),
                         params.interval, std::move(source));
  };
}

std::shared_ptr<generator_registry> generator_registry::with_builtin_kinds() {
  auto r = std::make_shared<generator_registry>();
  r->add("default", sampling_kind([](const generator_params& p) {
           return make_default_source(p.seed);
         }));
  r->add("system", sampling_kind([](const generator_params&) {
           return make_system_source(host_probe{});
         }));
  r->add("user-activity", sampling_kind([](const generator_params& p) {
           return make_user_activity_source(p.seed);
         }));
  r->add("notifications", sampling_kind([](const generator_params& p) {
           return make_notifications_source(p.seed);
         }));
  r->add("sample", sampling_kind([](const generator_params& p) {
           return make_generic_source(p.stream_id, p.seed);
         }));
  return r;
}

} // namespace eventcast
