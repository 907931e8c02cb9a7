// Deterministic tests of the stream, generator and service actors. CAF's
// test_coordinator runs every actor on the test's own thread and moves a
// virtual clock, so nothing here sleeps or races.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "actors/generator.hpp"
#include "actors/messages.hpp"
#include "actors/service.hpp"
#include "actors/stream.hpp"
#include "actors/stream_publisher.hpp"
#include "core/samples.hpp"

using namespace std::chrono_literals;

namespace eventcast {
namespace {

// -- SSE frames as a client reads them ---------------------------------------

struct sse_frame {
  std::optional<uint64_t> id;
  std::string data;
};

sse_frame parse(const frame& f) {
  sse_frame out;
  std::string_view text{*f};
  while (!text.empty()) {
    auto eol = text.find('\n');
    auto line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    if (line.rfind("id: ", 0) == 0)
      out.id = std::stoull(std::string{line.substr(4)});
    else if (line.rfind("data: ", 0) == 0)
      out.data.append(line.substr(6));
  }
  return out;
}

/// The raw JSON value of `key` in the event's data line (strings unquoted);
/// enough for the flat values these tests look at.
std::string field(const sse_frame& f, std::string_view key) {
  auto needle = "\"" + std::string{key} + "\":";
  auto pos = f.data.find(needle);
  if (pos == std::string::npos)
    return "<absent>";
  pos += needle.size();
  if (f.data[pos] == '"') {
    auto end = f.data.find('"', pos + 1);
    return f.data.substr(pos + 1, end - pos - 1);
  }
  auto end = f.data.find_first_of(",}", pos);
  return f.data.substr(pos, end - pos);
}

std::string type_of(const frame& f) {
  return field(parse(f), "type");
}

/// The ids of sequenced frames, in order; unsequenced frames are skipped.
std::vector<uint64_t> ids_of(const std::vector<frame>& frames) {
  std::vector<uint64_t> ids;
  for (auto& f : frames)
    if (auto id = parse(f).id)
      ids.push_back(*id);
  return ids;
}

std::vector<std::string> types_of(const std::vector<frame>& frames) {
  std::vector<std::string> types;
  for (auto& f : frames)
    types.push_back(type_of(f));
  return types;
}

// -- subscribers --------------------------------------------------------------

/// Counts the wakes a mailbox sends its consumer.
struct wake_counter : wake_target {
  int count = 0;
  void wake(const std::vector<uint64_t>&) override { ++count; }
};

/// A subscriber's mailbox as the output reactor would own it, with a wake
/// counter instead of a reactor.
struct test_client {
  explicit test_client(uint64_t client_id)
    : id(client_id),
      consumer(std::make_shared<wake_counter>()),
      inbox(std::make_shared<mailbox>(std::weak_ptr<wake_target>{consumer},
                                      client_id)) {
  }

  subscription sub(std::optional<uint64_t> last_event_id = std::nullopt) const {
    return {id, inbox, last_event_id};
  }

  std::vector<frame> take() {
    return inbox->take(std::numeric_limits<size_t>::max()).frames;
  }

  int wakes() const { return consumer->count; }

  uint64_t id;
  std::shared_ptr<wake_counter> consumer;
  std::shared_ptr<mailbox> inbox;
};

// -- generator kinds for tests ------------------------------------------------

/// One `tick` event per tick, numbered from 1.
struct counting_source : event_source {
  uint64_t n = 0;
  std::vector<event_input> next() override {
    ++n;
    return {{"tick", "tick " + std::to_string(n), ""}};
  }
};

/// Shared between a test and the generator actors it makes: how often the
/// kind was spawned, and whether a tick throws.
struct generator_probe {
  int spawns = 0;
  int pauses = 0;
  bool fail = true;
};

/// Throws on a tick while `probe->fail`, else posts a `tick` event. Quits
/// with its stream, as generator kinds must.
caf::behavior probed_generator(caf::event_based_actor* self,
                               stream_actor stream, millis interval,
                               std::shared_ptr<generator_probe> probe) {
  ++probe->spawns;
  self->monitor(stream);
  self->set_down_handler([self](caf::down_msg&) { self->quit(); });
  self->delayed_send(self, interval, caf::tick_atom::value);
  return {
    [=](caf::tick_atom) {
      if (probe->fail)
        throw std::runtime_error("generator failed on its tick");
      self->send(stream, post_atom::value,
                 event_input{"tick", "probed tick", ""});
      self->delayed_send(self, interval, caf::tick_atom::value);
    },
    [=](pause_atom) { ++probe->pauses; },
    [](resume_atom) {},
  };
}

generator_factory probed_kind(std::shared_ptr<generator_probe> probe) {
  return [probe](caf::local_actor* parent, stream_actor stream,
                 const generator_params& params) {
    return caf::actor{parent->spawn(probed_generator, std::move(stream),
                                    params.interval, probe)};
  };
}

// -- the fixture --------------------------------------------------------------

/// The settings of CAF's test_coordinator_fixture that matter without its
/// DSL: the deterministic scheduler and a quiet logger. No `parse`, so no
/// stray caf-application.ini is read.
caf::actor_system_config& deterministic(caf::actor_system_config& cfg) {
  cfg.set("scheduler.policy", caf::atom("testing"));
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  return cfg;
}

/// Owns an actor system on caf::scheduler::test_coordinator: actors run only
/// inside `sched.run()`, and delayed messages fire only when `elapse` moves
/// the virtual clock. Requests come from a hidden scoped_actor.
class ActorTest : public ::testing::Test {
protected:
  ActorTest()
    : sys(deterministic(cfg)),
      self(sys, true),
      sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())) {
    sched.clock().current_time += std::chrono::hours(1);
    probe = std::make_shared<generator_probe>();
    registry = std::make_shared<generator_registry>();
    registry->add("count", sampling_kind([](const generator_params&) {
                    return std::make_unique<counting_source>();
                  }));
    registry->add("boom", probed_kind(probe));
  }

  ~ActorTest() override {
    // Streams take their generators along (down_msg); services their streams.
    for (auto& hdl : owned)
      caf::anon_send_exit(hdl, caf::exit_reason::user_shutdown);
    sched.run();
  }

  /// Sends a request, runs every actor until all is quiet, then reads the
  /// reply; "no reply" is an error instead of a hang.
  template <class T, class Handle, class... Ts>
  caf::expected<T> ask(const Handle& dest, Ts&&... xs) {
    auto hdl = self->request(dest, caf::infinite, std::forward<Ts>(xs)...);
    sched.run();
    if (self->mailbox().empty())
      return make_error(error_code::internal, "no reply");
    caf::expected<T> result{T{}};
    hdl.receive([&](T& x) { result = std::move(x); },
                [&](caf::error& err) { result = std::move(err); });
    return result;
  }

  /// Moves virtual time forward in `step`s, running the actors after each,
  /// as a real clock would let periodic timers fire one after another.
  void elapse(caf::timespan total, caf::timespan step = 100ms) {
    for (caf::timespan t{0}; t < total; t += step) {
      sched.clock().advance_time(step);
      sched.run();
    }
  }

  stream_actor make_stream(stream_config scfg) {
    auto hdl = spawn_stream(self.ptr(), std::move(scfg), registry,
                            service_actor{});
    owned.push_back(caf::actor_cast<caf::actor>(hdl));
    sched.run();
    return hdl;
  }

  /// A stream of `kind` ticking every second, remembering `history` events.
  static stream_config stream_cfg(std::string id, std::string kind = "count",
                                  size_t history = 1000) {
    stream_config scfg;
    scfg.live_capacity = 100;
    scfg.id = std::move(id);
    scfg.generator_kind = std::move(kind);
    scfg.interval = 1000ms;
    scfg.history_size = history;
    return scfg;
  }

  stream_actor make_stream(std::string id, size_t history = 1000) {
    return make_stream(stream_cfg(std::move(id), "count", history));
  }

  service_actor make_service(service_settings svc,
                             stream_limits limits = {}) {
    settings all;
    all.streams = limits;
    auto hdl = spawn_service(sys, std::move(svc), all, registry);
    owned.push_back(caf::actor_cast<caf::actor>(hdl));
    sched.run();
    return hdl;
  }

  static service_settings plain_service() {
    service_settings svc;
    svc.name = "test";
    svc.path = "/test";
    svc.default_generator = "count";
    svc.default_interval = 1000ms;
    return svc;
  }

  uint64_t subscribe(const stream_actor& stream, const test_client& client,
                     std::optional<uint64_t> last_event_id = std::nullopt) {
    auto n = ask<uint64_t>(stream, caf::subscribe_atom::value,
                           client.sub(last_event_id));
    EXPECT_TRUE(n) << sys.render(n.error());
    return n ? *n : 0;
  }

  published publish(const stream_actor& stream, std::string type) {
    auto p = ask<published>(stream, caf::publish_atom::value,
                            event_input{std::move(type), "a message", ""});
    EXPECT_TRUE(p) << sys.render(p.error());
    return p ? *p : published{};
  }

  stream_info info(const stream_actor& stream) {
    auto i = ask<stream_info>(stream, caf::get_atom::value);
    EXPECT_TRUE(i) << sys.render(i.error());
    return i ? *i : stream_info{};
  }

  /// The project error code of a failed request ("conflict", ...), or "ok";
  /// a string, so that a failed check prints it readably.
  template <class T>
  static std::string code_of(const caf::expected<T>& x) {
    return x ? "ok" : to_string(view(x.error()).code);
  }

  caf::actor_system_config cfg;
  caf::actor_system sys;
  caf::scoped_actor self;
  caf::scheduler::test_coordinator& sched;
  std::shared_ptr<generator_probe> probe;
  std::shared_ptr<generator_registry> registry;
  std::vector<caf::actor> owned;
};

// -- stream: publishing and fan-out -------------------------------------------

using StreamActor = ActorTest;

TEST_F(StreamActor, SubscriberGetsConnectionEventWithoutIdFirst) {
  auto stream = make_stream("s");
  test_client client{7};
  EXPECT_EQ(subscribe(stream, client), 1u);
  auto frames = client.take();
  ASSERT_EQ(frames.size(), 1u);
  auto f = parse(frames[0]);
  EXPECT_FALSE(f.id);
  EXPECT_EQ(field(f, "type"), "connection");
  EXPECT_EQ(field(f, "client_id"), "7");
  EXPECT_EQ(field(f, "stream_id"), "s");
  EXPECT_EQ(client.wakes(), 1);
}

TEST_F(StreamActor, PublishNumbersEventsAndSharesOneFrame) {
  auto stream = make_stream("s");
  test_client a{1};
  test_client b{2};
  subscribe(stream, a);
  subscribe(stream, b);
  a.take();
  b.take();
  for (uint64_t i = 1; i <= 3; ++i) {
    auto p = publish(stream, "update");
    EXPECT_EQ(p.seq, i);
    EXPECT_EQ(p.event_id.rfind("evt_", 0), 0u) << p.event_id;
  }
  auto fa = a.take();
  auto fb = b.take();
  ASSERT_EQ(fa.size(), 3u);
  ASSERT_EQ(fb.size(), 3u);
  EXPECT_EQ(ids_of(fa), (std::vector<uint64_t>{1, 2, 3}));
  for (size_t i = 0; i < 3; ++i) {
    // Encoded once, shared by every subscriber.
    EXPECT_EQ(fa[i].get(), fb[i].get()) << "frame " << i;
    EXPECT_EQ(type_of(fa[i]), "update");
    EXPECT_EQ(field(parse(fa[i]), "stream_id"), "s");
  }
  auto i = info(stream);
  EXPECT_EQ(i.last_event_id, 3u);
  EXPECT_EQ(i.events_published, 3u);
}

TEST_F(StreamActor, EventDataIdMatchesPublishReply) {
  auto stream = make_stream("s");
  test_client a{1};
  subscribe(stream, a);
  a.take();
  auto p = publish(stream, "update");
  auto frames = a.take();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(field(parse(frames[0]), "id"), p.event_id);
}

// -- stream: Last-Event-ID replay ---------------------------------------------

TEST_F(StreamActor, ReplaysMissedEventsAfterLastEventIdThenLiveOnes) {
  auto stream = make_stream("s");
  test_client early{1};
  subscribe(stream, early);
  early.take();
  for (int i = 0; i < 5; ++i)
    publish(stream, "update");
  auto originals = early.take();
  ASSERT_EQ(originals.size(), 5u);

  test_client late{2};
  subscribe(stream, late, 2);
  publish(stream, "update"); // seq 6, live
  auto frames = late.take();
  ASSERT_EQ(frames.size(), 5u); // connection, 3, 4, 5, 6
  EXPECT_EQ(type_of(frames[0]), "connection");
  EXPECT_FALSE(parse(frames[0]).id);
  EXPECT_EQ(ids_of(frames), (std::vector<uint64_t>{3, 4, 5, 6}));
  // The replay hands out the very frames the history kept.
  for (size_t i = 0; i < 3; ++i)
    EXPECT_EQ(frames[1 + i].get(), originals[2 + i].get());
  EXPECT_EQ(frames[4].get(), early.take().at(0).get());
}

TEST_F(StreamActor, NoReplayWhenLastEventIdIsTheLatest) {
  auto stream = make_stream("s");
  for (int i = 0; i < 3; ++i)
    publish(stream, "update");
  test_client c{1};
  subscribe(stream, c, 3);
  auto frames = c.take();
  EXPECT_EQ(types_of(frames), (std::vector<std::string>{"connection"}));
}

TEST_F(StreamActor, LastEventIdZeroReplaysEverythingKept) {
  auto stream = make_stream("s");
  for (int i = 0; i < 3; ++i)
    publish(stream, "update");
  test_client c{1};
  subscribe(stream, c, 0);
  auto frames = c.take();
  EXPECT_EQ(types_of(frames),
            (std::vector<std::string>{"connection", "update", "update",
                                      "update"}));
  EXPECT_EQ(ids_of(frames), (std::vector<uint64_t>{1, 2, 3}));
}

TEST_F(StreamActor, LastEventIdOlderThanHistoryReportsLostCountFirst) {
  auto stream = make_stream("s", 3);
  for (int i = 0; i < 10; ++i)
    publish(stream, "update");
  test_client c{1};
  subscribe(stream, c, 2);
  auto frames = c.take();
  ASSERT_EQ(frames.size(), 5u);
  EXPECT_EQ(type_of(frames[0]), "connection");
  auto missed = parse(frames[1]);
  EXPECT_FALSE(missed.id); // must not move the client's Last-Event-ID
  EXPECT_EQ(field(missed, "type"), "events_missed");
  EXPECT_EQ(field(missed, "missed"), "5"); // 3..7 are gone
  EXPECT_EQ(field(missed, "last_event_id"), "2");
  EXPECT_EQ(ids_of(frames), (std::vector<uint64_t>{8, 9, 10}));
}

TEST_F(StreamActor, LastEventIdFromTheFutureReportsUnknownLoss) {
  auto stream = make_stream("s", 3);
  for (int i = 0; i < 4; ++i)
    publish(stream, "update");
  test_client c{1};
  subscribe(stream, c, 99);
  auto frames = c.take();
  ASSERT_GE(frames.size(), 2u);
  EXPECT_EQ(type_of(frames[0]), "connection");
  auto missed = parse(frames[1]);
  EXPECT_FALSE(missed.id);
  EXPECT_EQ(field(missed, "type"), "events_missed");
  EXPECT_EQ(field(missed, "missed"), "null");
  EXPECT_EQ(field(missed, "unknown"), "true");
  EXPECT_EQ(field(missed, "last_event_id"), "99");
  // What is still kept follows, in order.
  EXPECT_EQ(ids_of(frames), (std::vector<uint64_t>{2, 3, 4}));
}

// -- stream: subscriber bookkeeping -------------------------------------------

TEST_F(StreamActor, UnsubRemovesTheSubscriber) {
  auto stream = make_stream("s");
  test_client a{1};
  test_client b{2};
  EXPECT_EQ(subscribe(stream, a), 1u);
  EXPECT_EQ(subscribe(stream, b), 2u);
  EXPECT_EQ(info(stream).clients, 2u);
  self->send(stream, unsub_atom::value, uint64_t{1});
  sched.run();
  EXPECT_EQ(info(stream).clients, 1u);
  auto ids = ask<std::vector<uint64_t>>(stream, clients_atom::value);
  ASSERT_TRUE(ids);
  EXPECT_EQ(*ids, (std::vector<uint64_t>{2}));
  a.take();
  b.take();
  publish(stream, "update");
  EXPECT_TRUE(a.take().empty());
  EXPECT_EQ(b.take().size(), 1u);
}

TEST_F(StreamActor, ClosedMailboxIsPruned) {
  auto stream = make_stream("s");
  test_client a{1};
  test_client b{2};
  subscribe(stream, a);
  subscribe(stream, b);
  a.inbox->close(close_reason::client_gone);
  EXPECT_EQ(info(stream).clients, 1u);
  auto ids = ask<std::vector<uint64_t>>(stream, clients_atom::value);
  ASSERT_TRUE(ids);
  EXPECT_EQ(*ids, (std::vector<uint64_t>{2}));
}

TEST_F(StreamActor, ClosedMailboxIsDroppedOnPublish) {
  auto stream = make_stream("s");
  test_client a{1};
  subscribe(stream, a);
  a.inbox->close(close_reason::client_gone);
  publish(stream, "update");
  EXPECT_EQ(info(stream).clients, 0u);
  EXPECT_EQ(info(stream).slow_disconnects, 0u); // gone, not slow
}

TEST_F(StreamActor, SubscribingAClosedMailboxAddsNothing) {
  auto stream = make_stream("s");
  test_client a{1};
  a.inbox->close(close_reason::client_gone);
  EXPECT_EQ(subscribe(stream, a), 0u);
  EXPECT_EQ(info(stream).clients, 0u);
}

TEST_F(StreamActor, SubscriberLimitAnswersUnavailable) {
  auto scfg = stream_cfg("s");
  scfg.max_subscribers = 1;
  auto stream = make_stream(scfg);
  test_client a{1};
  test_client b{2};
  EXPECT_EQ(subscribe(stream, a), 1u);
  auto refused = ask<uint64_t>(stream, caf::subscribe_atom::value, b.sub());
  EXPECT_EQ(code_of(refused), "unavailable");
  EXPECT_TRUE(b.take().empty());
  self->send(stream, unsub_atom::value, uint64_t{1});
  sched.run();
  EXPECT_EQ(subscribe(stream, b), 1u);
}

TEST_F(StreamActor, OverflowDisconnectsOnlyTheSlowSubscriber) {
  auto scfg = stream_cfg("s");
  scfg.live_capacity = 3;
  scfg.overflow = overflow_policy::disconnect;
  auto stream = make_stream(scfg);
  test_client slow{1};
  test_client fast{2};
  subscribe(stream, slow); // its connection frame, then 3 live events fit
  subscribe(stream, fast);
  fast.take();
  std::vector<frame> seen;
  for (int i = 0; i < 6; ++i) {
    publish(stream, "update");
    for (auto& f : fast.take())
      seen.push_back(f);
  }
  EXPECT_EQ(ids_of(seen), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_TRUE(slow.inbox->closed());
  auto i = info(stream);
  EXPECT_EQ(i.slow_disconnects, 1u);
  EXPECT_EQ(i.clients, 1u);
  auto ids = ask<std::vector<uint64_t>>(stream, clients_atom::value);
  ASSERT_TRUE(ids);
  EXPECT_EQ(*ids, (std::vector<uint64_t>{2}));
  // The slow one got what fit, then nothing more.
  auto kept = slow.inbox->take(100);
  EXPECT_EQ(kept.closed, close_reason::overflow);
  EXPECT_EQ(types_of(kept.frames),
            (std::vector<std::string>{"connection", "update", "update",
                                      "update"}));
  EXPECT_EQ(ids_of(kept.frames), (std::vector<uint64_t>{1, 2, 3}));
}

TEST_F(StreamActor, DropOldestKeepsTheSubscriberAndCountsDrops) {
  auto scfg = stream_cfg("s");
  scfg.live_capacity = 2;
  scfg.overflow = overflow_policy::drop_oldest;
  auto stream = make_stream(scfg);
  test_client lagging{1};
  // Its connection frame stays; of the live events, each publish beyond
  // two drops the oldest.
  subscribe(stream, lagging);
  for (int i = 0; i < 4; ++i)
    publish(stream, "update");
  auto i = info(stream);
  EXPECT_EQ(i.clients, 1u);
  EXPECT_EQ(i.dropped_events, 2u);
  EXPECT_EQ(i.slow_disconnects, 0u);
  auto b = lagging.inbox->take(100);
  EXPECT_EQ(types_of(b.frames),
            (std::vector<std::string>{"connection", "update", "update"}));
  EXPECT_EQ(ids_of(b.frames), (std::vector<uint64_t>{3, 4}));
  EXPECT_EQ(b.missed, 2u);
}

// -- generator control --------------------------------------------------------

using GeneratorControl = ActorTest;

TEST_F(GeneratorControl, StartRunsTheGeneratorAndAnnouncesIt) {
  auto stream = make_stream("s");
  test_client c{1};
  subscribe(stream, c);
  c.take();
  EXPECT_FALSE(info(stream).generator_running);
  auto ok = ask<caf::ok_atom>(stream, start_atom::value);
  ASSERT_TRUE(ok) << sys.render(ok.error());
  auto i = info(stream);
  EXPECT_TRUE(i.generator_running);
  EXPECT_FALSE(i.generator_paused);
  EXPECT_EQ(i.generator_kind, "count");
  auto frames = c.take();
  ASSERT_EQ(frames.size(), 1u);
  auto f = parse(frames[0]);
  EXPECT_EQ(f.id, 1u); // a real event: it is numbered and kept
  EXPECT_EQ(field(f, "type"), "stream_started");
  EXPECT_EQ(field(f, "generator"), "count");
}

TEST_F(GeneratorControl, StartWithUnknownKindIsAConflict) {
  auto stream = make_stream(
    stream_cfg("s", "no-such-kind"));
  auto ok = ask<caf::ok_atom>(stream, start_atom::value);
  EXPECT_EQ(code_of(ok), "conflict");
  EXPECT_FALSE(info(stream).generator_running);
}

TEST_F(GeneratorControl, PauseWithoutGeneratorIsAConflict) {
  auto stream = make_stream("s");
  auto ok = ask<caf::ok_atom>(stream, pause_atom::value);
  ASSERT_FALSE(ok);
  EXPECT_EQ(code_of(ok), "conflict");
  EXPECT_NE(view(ok.error()).message.find("'s'"), std::string::npos)
    << view(ok.error()).message;
}

TEST_F(GeneratorControl, PauseTwiceIsAConflict) {
  auto stream = make_stream("s");
  ASSERT_TRUE(ask<caf::ok_atom>(stream, start_atom::value));
  EXPECT_TRUE(ask<caf::ok_atom>(stream, pause_atom::value));
  EXPECT_TRUE(info(stream).generator_paused);
  EXPECT_EQ(code_of(ask<caf::ok_atom>(stream, pause_atom::value)),
            "conflict");
}

TEST_F(GeneratorControl, ResumeWhenNotPausedIsAConflict) {
  auto stream = make_stream("s");
  EXPECT_EQ(code_of(ask<caf::ok_atom>(stream, resume_atom::value)),
            "conflict");
  ASSERT_TRUE(ask<caf::ok_atom>(stream, start_atom::value));
  EXPECT_EQ(code_of(ask<caf::ok_atom>(stream, resume_atom::value)),
            "conflict");
}

TEST_F(GeneratorControl, StopWithoutGeneratorIsAConflict) {
  auto stream = make_stream("s");
  EXPECT_EQ(code_of(ask<caf::ok_atom>(stream, stop_atom::value)),
            "conflict");
  ASSERT_TRUE(ask<caf::ok_atom>(stream, start_atom::value));
  EXPECT_TRUE(ask<caf::ok_atom>(stream, stop_atom::value));
  EXPECT_FALSE(info(stream).generator_running);
  EXPECT_EQ(code_of(ask<caf::ok_atom>(stream, stop_atom::value)),
            "conflict");
}

TEST_F(GeneratorControl, PublishesOnItsIntervalAndNotWhilePaused) {
  auto stream = make_stream("s"); // "count", every 1000 ms
  test_client c{1};
  subscribe(stream, c);
  ASSERT_TRUE(ask<caf::ok_atom>(stream, start_atom::value));
  c.take(); // connection, stream_started (seq 1)

  elapse(900ms);
  EXPECT_TRUE(c.take().empty()) << "ticked before its interval";
  elapse(2100ms); // t = 3 s
  auto ticks = c.take();
  EXPECT_EQ(ids_of(ticks), (std::vector<uint64_t>{2, 3, 4}));
  EXPECT_EQ(types_of(ticks),
            (std::vector<std::string>{"tick", "tick", "tick"}));

  ASSERT_TRUE(ask<caf::ok_atom>(stream, pause_atom::value));
  elapse(5s);
  EXPECT_TRUE(c.take().empty()) << "published while paused";
  EXPECT_EQ(info(stream).last_event_id, 4u);

  ASSERT_TRUE(ask<caf::ok_atom>(stream, resume_atom::value));
  EXPECT_FALSE(info(stream).generator_paused);
  elapse(2s);
  auto resumed = c.take();
  EXPECT_EQ(ids_of(resumed), (std::vector<uint64_t>{5, 6}));
  // The source continues where it paused.
  ASSERT_EQ(resumed.size(), 2u);
  EXPECT_EQ(field(parse(resumed[0]), "message"), "tick 4");
}

TEST_F(GeneratorControl, StopEndsPublishing) {
  auto stream = make_stream("s");
  test_client c{1};
  subscribe(stream, c);
  ASSERT_TRUE(ask<caf::ok_atom>(stream, start_atom::value));
  elapse(2s);
  ASSERT_TRUE(ask<caf::ok_atom>(stream, stop_atom::value));
  c.take();
  elapse(5s);
  EXPECT_TRUE(c.take().empty());
}

TEST_F(GeneratorControl, PausedBeforeATickThenResumedTicksOnce) {
  auto stream = make_stream("s");
  test_client c{1};
  subscribe(stream, c);
  ASSERT_TRUE(ask<caf::ok_atom>(stream, start_atom::value));
  c.take();
  elapse(500ms);
  ASSERT_TRUE(ask<caf::ok_atom>(stream, pause_atom::value));
  ASSERT_TRUE(ask<caf::ok_atom>(stream, resume_atom::value));
  // The timer from before the pause must not add a second tick.
  elapse(1000ms);
  EXPECT_EQ(ids_of(c.take()), (std::vector<uint64_t>{2}));
}

// -- supervision --------------------------------------------------------------

using Supervision = ActorTest;

TEST_F(Supervision, FailingGeneratorIsReportedAndRespawnedAfterBackoff) {
  auto stream = make_stream(
    stream_cfg("s", "boom"));
  test_client c{1};
  subscribe(stream, c);
  ASSERT_TRUE(ask<caf::ok_atom>(stream, start_atom::value));
  c.take();
  EXPECT_EQ(probe->spawns, 1);

  elapse(1000ms); // first tick: throws
  auto frames = c.take();
  ASSERT_EQ(frames.size(), 1u);
  auto err = parse(frames[0]);
  EXPECT_EQ(err.id, 2u);
  EXPECT_EQ(field(err, "type"), "error");
  EXPECT_EQ(field(err, "generator"), "boom");
  EXPECT_EQ(field(err, "retry_in_ms"), "500");
  auto i = info(stream);
  EXPECT_EQ(i.generator_restarts, 1u);
  EXPECT_TRUE(i.generator_running); // still the operator's wish

  elapse(400ms);
  EXPECT_EQ(probe->spawns, 1) << "respawned before the back-off";
  elapse(100ms);
  EXPECT_EQ(probe->spawns, 2);

  elapse(1000ms); // the respawned one fails too: the back-off doubles
  frames = c.take();
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(field(parse(frames[0]), "retry_in_ms"), "1000");
  EXPECT_EQ(info(stream).generator_restarts, 2u);
  elapse(900ms);
  EXPECT_EQ(probe->spawns, 2);
  elapse(100ms);
  EXPECT_EQ(probe->spawns, 3);
}

TEST_F(Supervision, RespawnedGeneratorPublishesAgain) {
  auto stream = make_stream(
    stream_cfg("s", "boom"));
  test_client c{1};
  subscribe(stream, c);
  ASSERT_TRUE(ask<caf::ok_atom>(stream, start_atom::value));
  elapse(1000ms);
  probe->fail = false;
  elapse(500ms + 2000ms); // back-off, then two healthy ticks
  auto types = types_of(c.take());
  EXPECT_EQ(types, (std::vector<std::string>{"connection", "stream_started",
                                             "error", "tick", "tick"}));
}

TEST_F(Supervision, StopDuringBackoffCancelsTheRespawn) {
  auto stream = make_stream(
    stream_cfg("s", "boom"));
  ASSERT_TRUE(ask<caf::ok_atom>(stream, start_atom::value));
  elapse(1000ms);
  ASSERT_TRUE(ask<caf::ok_atom>(stream, stop_atom::value));
  elapse(5s);
  EXPECT_EQ(probe->spawns, 1);
  EXPECT_FALSE(info(stream).generator_running);
}

TEST_F(Supervision, PausedDuringBackoffRespawnsPaused) {
  auto stream = make_stream(
    stream_cfg("s", "boom"));
  ASSERT_TRUE(ask<caf::ok_atom>(stream, start_atom::value));
  elapse(1000ms); // fails: no generator during the back-off
  ASSERT_TRUE(ask<caf::ok_atom>(stream, pause_atom::value));
  EXPECT_EQ(probe->pauses, 0);
  probe->fail = false;
  elapse(500ms);
  EXPECT_EQ(probe->spawns, 2);
  EXPECT_EQ(probe->pauses, 1) << "the respawned generator was not paused";
  EXPECT_TRUE(info(stream).generator_paused);
}

TEST_F(Supervision, BackoffResetsAfterAHealthyRun) {
  auto stream = make_stream(
    stream_cfg("s", "boom"));
  test_client c{1};
  subscribe(stream, c);
  ASSERT_TRUE(ask<caf::ok_atom>(stream, start_atom::value));
  elapse(1000ms); // fails: retry in 500
  probe->fail = false;
  elapse(500ms + 61s); // respawned, then healthy for over a minute
  probe->fail = true;
  c.take();
  elapse(1000ms);
  std::vector<std::string> retries;
  for (auto& f : c.take())
    if (type_of(f) == "error")
      retries.push_back(field(parse(f), "retry_in_ms"));
  // After a healthy run the back-off starts over at 500 ms.
  EXPECT_EQ(retries, (std::vector<std::string>{"500"}));
}

TEST_F(Supervision, OtherStreamsOfTheServiceAreUnaffected) {
  auto svc = plain_service();
  svc.streams = {{"bad", "boom", 1000ms, true}, {"good", "count", 1000ms, true}};
  auto service = make_service(svc);
  test_client bad{1};
  test_client good{2};
  ASSERT_TRUE(ask<uint64_t>(service, caf::subscribe_atom::value,
                            std::string{"bad"}, bad.sub()));
  ASSERT_TRUE(ask<uint64_t>(service, caf::subscribe_atom::value,
                            std::string{"good"}, good.sub()));
  elapse(5s);
  auto bad_types = types_of(bad.take());
  EXPECT_GE(std::count(bad_types.begin(), bad_types.end(), "error"), 2);
  auto good_frames = good.take();
  EXPECT_EQ(types_of(good_frames),
            (std::vector<std::string>{"connection", "tick", "tick", "tick",
                                      "tick", "tick"}));
  auto good_info = ask<stream_info>(service, caf::get_atom::value,
                                    std::string{"good"});
  ASSERT_TRUE(good_info);
  EXPECT_EQ(good_info->generator_restarts, 0u);
  EXPECT_TRUE(good_info->generator_running);
  auto bad_info = ask<stream_info>(service, caf::get_atom::value,
                                   std::string{"bad"});
  ASSERT_TRUE(bad_info);
  EXPECT_GE(bad_info->generator_restarts, 2u);
}

// -- service ------------------------------------------------------------------

using ServiceActor = ActorTest;

std::set<std::string> ids_of(const std::vector<stream_info>& infos) {
  std::set<std::string> ids;
  for (auto& i : infos)
    ids.insert(i.id);
  return ids;
}

TEST_F(ServiceActor, StartsItsConfiguredStreams) {
  auto svc = plain_service();
  svc.streams = {{"auto", "count", 1000ms, true},
                 {"manual", "count", 1000ms, false},
                 {"quiet", "", 1000ms, true}};
  auto service = make_service(svc);
  auto infos = ask<std::vector<stream_info>>(service, caf::get_atom::value);
  ASSERT_TRUE(infos);
  EXPECT_EQ(ids_of(*infos), (std::set<std::string>{"auto", "manual", "quiet"}));
  for (auto& i : *infos)
    EXPECT_EQ(i.generator_running, i.id == "auto") << i.id;
}

TEST_F(ServiceActor, StartOnUnknownStreamCreatesIt) {
  auto service = make_service(plain_service());
  auto ok = ask<caf::ok_atom>(service, start_atom::value, std::string{"new"});
  ASSERT_TRUE(ok) << sys.render(ok.error());
  auto i = ask<stream_info>(service, caf::get_atom::value, std::string{"new"});
  ASSERT_TRUE(i);
  EXPECT_TRUE(i->generator_running);
  EXPECT_EQ(i->generator_kind, "count"); // the service's default kind
}

TEST_F(ServiceActor, ControlOfUnknownStreamIsNotFound) {
  auto service = make_service(plain_service());
  std::string id = "ghost";
  EXPECT_EQ(code_of(ask<caf::ok_atom>(service, stop_atom::value, id)),
            "stream_not_found");
  EXPECT_EQ(code_of(ask<caf::ok_atom>(service, pause_atom::value, id)),
            "stream_not_found");
  EXPECT_EQ(code_of(ask<caf::ok_atom>(service, resume_atom::value, id)),
            "stream_not_found");
  EXPECT_EQ(code_of(ask<stream_info>(service, caf::get_atom::value, id)),
            "stream_not_found");
  EXPECT_EQ(code_of(ask<std::vector<uint64_t>>(service, clients_atom::value,
                                               id)),
            "stream_not_found");
  // None of these created it.
  auto infos = ask<std::vector<stream_info>>(service, caf::get_atom::value);
  ASSERT_TRUE(infos);
  EXPECT_TRUE(infos->empty());
}

TEST_F(ServiceActor, ControlErrorsOfAStreamComeBackThroughTheService) {
  auto service = make_service(plain_service());
  std::string id = "s";
  ASSERT_TRUE(ask<published>(service, caf::publish_atom::value, id,
                             event_input{"t", "m", ""}));
  EXPECT_EQ(code_of(ask<caf::ok_atom>(service, stop_atom::value, id)),
            "conflict");
  EXPECT_EQ(code_of(ask<caf::ok_atom>(service, resume_atom::value, id)),
            "conflict");
}

TEST_F(ServiceActor, PublishCreatesTheStream) {
  auto service = make_service(plain_service());
  auto p = ask<published>(service, caf::publish_atom::value,
                          std::string{"fresh"}, event_input{"t", "m", ""});
  ASSERT_TRUE(p) << sys.render(p.error());
  EXPECT_EQ(p->seq, 1u);
  auto i = ask<stream_info>(service, caf::get_atom::value,
                            std::string{"fresh"});
  ASSERT_TRUE(i);
  EXPECT_EQ(i->last_event_id, 1u);
  EXPECT_FALSE(i->generator_running);
}

TEST_F(ServiceActor, PublishAllReachesEveryStream) {
  auto service = make_service(plain_service());
  std::vector<test_client> clients{test_client{1}, test_client{2},
                                   test_client{3}};
  std::vector<std::string> ids{"a", "b", "c"};
  for (size_t i = 0; i < ids.size(); ++i)
    ASSERT_TRUE(ask<uint64_t>(service, caf::subscribe_atom::value, ids[i],
                              clients[i].sub()));
  auto n = ask<uint64_t>(service, publish_all_atom::value,
                         event_input{"announcement", "to all", ""});
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 3u);
  for (size_t i = 0; i < ids.size(); ++i) {
    auto frames = clients[i].take();
    ASSERT_EQ(frames.size(), 2u) << ids[i];
    auto f = parse(frames[1]);
    EXPECT_EQ(f.id, 1u);
    EXPECT_EQ(field(f, "type"), "announcement");
    EXPECT_EQ(field(f, "stream_id"), ids[i]);
  }
}

TEST_F(ServiceActor, PublishAllWithoutStreamsReachesNone) {
  auto service = make_service(plain_service());
  auto n = ask<uint64_t>(service, publish_all_atom::value,
                         event_input{"announcement", "to all", ""});
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0u);
}

TEST_F(ServiceActor, MaxStreamsReachedIsUnavailable) {
  stream_limits limits;
  limits.max_streams = 2;
  auto service = make_service(plain_service(), limits);
  auto pub = [&](std::string id) {
    return ask<published>(service, caf::publish_atom::value, std::move(id),
                          event_input{"t", "m", ""});
  };
  ASSERT_TRUE(pub("a"));
  ASSERT_TRUE(pub("b"));
  auto third = pub("c");
  ASSERT_FALSE(third);
  EXPECT_EQ(code_of(third), "unavailable");
  test_client c{1};
  EXPECT_EQ(code_of(ask<uint64_t>(service, caf::subscribe_atom::value,
                                  std::string{"c"}, c.sub())),
            "unavailable");
  EXPECT_EQ(code_of(ask<caf::ok_atom>(service, start_atom::value,
                                      std::string{"c"})),
            "unavailable");
  // Existing streams still work.
  EXPECT_TRUE(pub("a"));
}

TEST_F(ServiceActor, GetListsEveryStream) {
  auto svc = plain_service();
  svc.streams = {{"configured", "count", 1000ms, false}};
  auto service = make_service(svc);
  ASSERT_TRUE(ask<published>(service, caf::publish_atom::value,
                             std::string{"published"},
                             event_input{"t", "m", ""}));
  ASSERT_TRUE(ask<caf::ok_atom>(service, start_atom::value,
                                std::string{"started"}));
  test_client c{1};
  ASSERT_TRUE(ask<uint64_t>(service, caf::subscribe_atom::value,
                            std::string{"subscribed"}, c.sub()));
  auto infos = ask<std::vector<stream_info>>(service, caf::get_atom::value);
  ASSERT_TRUE(infos);
  EXPECT_EQ(ids_of(*infos),
            (std::set<std::string>{"configured", "published", "started",
                                   "subscribed"}));
}

TEST_F(ServiceActor, UnsubThroughTheService) {
  auto service = make_service(plain_service());
  std::string id = "s";
  test_client a{1};
  test_client b{2};
  ASSERT_TRUE(ask<uint64_t>(service, caf::subscribe_atom::value, id, a.sub()));
  auto n = ask<uint64_t>(service, caf::subscribe_atom::value, id, b.sub());
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 2u);
  self->send(service, unsub_atom::value, id, uint64_t{1});
  sched.run();
  auto ids = ask<std::vector<uint64_t>>(service, clients_atom::value, id);
  ASSERT_TRUE(ids);
  EXPECT_EQ(*ids, (std::vector<uint64_t>{2}));
}

TEST_F(ServiceActor, LookupCreatesTheStreamAndAnswersItsActor) {
  auto service = make_service(plain_service());
  auto stream = ask<stream_actor>(service, lookup_atom::value,
                                  std::string{"direct"});
  ASSERT_TRUE(stream) << sys.render(stream.error());
  EXPECT_EQ(publish(*stream, "t").seq, 1u);
  auto i = ask<stream_info>(service, caf::get_atom::value,
                            std::string{"direct"});
  ASSERT_TRUE(i);
  EXPECT_EQ(i->last_event_id, 1u);
  auto again = ask<stream_actor>(service, lookup_atom::value,
                                 std::string{"direct"});
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *stream);
}

TEST_F(ServiceActor, LookupBeyondMaxStreamsIsUnavailable) {
  stream_limits limits;
  limits.max_streams = 1;
  auto service = make_service(plain_service(), limits);
  ASSERT_TRUE(ask<stream_actor>(service, lookup_atom::value,
                                std::string{"a"}));
  EXPECT_EQ(code_of(ask<stream_actor>(service, lookup_atom::value,
                                      std::string{"b"})),
            "unavailable");
}

TEST_F(ServiceActor, IdleStreamIsRemovedAfterRetention) {
  stream_limits limits;
  limits.idle_retention = 10s;
  auto service = make_service(plain_service(), limits);
  ASSERT_TRUE(ask<published>(service, caf::publish_atom::value,
                             std::string{"lonely"}, event_input{"t", "m", ""}));
  test_client c{1};
  ASSERT_TRUE(ask<uint64_t>(service, caf::subscribe_atom::value,
                            std::string{"watched"}, c.sub()));
  ASSERT_TRUE(ask<caf::ok_atom>(service, start_atom::value,
                                std::string{"running"}));

  elapse(5s);
  auto infos = ask<std::vector<stream_info>>(service, caf::get_atom::value);
  ASSERT_TRUE(infos);
  EXPECT_EQ(ids_of(*infos),
            (std::set<std::string>{"lonely", "running", "watched"}))
    << "removed before the retention";

  elapse(15s);
  infos = ask<std::vector<stream_info>>(service, caf::get_atom::value);
  ASSERT_TRUE(infos);
  EXPECT_EQ(ids_of(*infos), (std::set<std::string>{"running", "watched"}));
}

TEST_F(ServiceActor, StreamThatLostItsSubscriberIsRemovedAfterRetention) {
  stream_limits limits;
  limits.idle_retention = 10s;
  auto service = make_service(plain_service(), limits);
  std::string id = "s";
  test_client c{1};
  ASSERT_TRUE(ask<uint64_t>(service, caf::subscribe_atom::value, id, c.sub()));
  elapse(30s);
  auto i = ask<stream_info>(service, caf::get_atom::value, id);
  ASSERT_TRUE(i) << "a stream with a subscriber was removed";
  c.inbox->close(close_reason::client_gone);
  elapse(30s);
  EXPECT_EQ(code_of(ask<stream_info>(service, caf::get_atom::value, id)),
            "stream_not_found");
  // Publishing again starts a fresh stream.
  auto p = ask<published>(service, caf::publish_atom::value, id,
                          event_input{"t", "m", ""});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->seq, 1u);
}

// -- stream publisher ---------------------------------------------------------

/// A service that never answers: it keeps every promise it makes.
/// Class-based: CAF 0.17 trips UBSan on argument-less function actors.
class silent_service : public caf::event_based_actor {
public:
  explicit silent_service(caf::actor_config& cfg)
    : caf::event_based_actor(cfg) {
  }

  caf::behavior make_behavior() override {
    return {
      [this](lookup_atom, std::string&) {
        kept_.push_back(make_response_promise<stream_actor>());
        return kept_.back();
      },
    };
  }

  // A promise holds its actor: dropped here, or neither would be freed.
  void on_exit() override { kept_.clear(); }

private:
  std::vector<caf::typed_response_promise<stream_actor>> kept_;
};

class StreamPublisher : public ActorTest {
protected:
  StreamPublisher()
    : service(make_service(plain_service(), limits())),
      publisher(sys, 1000ms) {
  }

  ~StreamPublisher() override { publisher.stop(); }

  static stream_limits limits() {
    stream_limits l;
    l.idle_retention = 10s;
    return l;
  }

  /// Publishes from the test's thread; `answer` is set once `done` runs.
  void start_publish(std::string id,
                     std::optional<caf::expected<published>>& answer) {
    publisher.publish(service, std::move(id), event_input{"t", "m", ""},
                      [&answer](caf::expected<published> p) {
                        EXPECT_FALSE(answer) << "answered twice";
                        answer = std::move(p);
                      });
  }

  caf::expected<published> publish_to(std::string id) {
    std::optional<caf::expected<published>> answer;
    start_publish(std::move(id), answer);
    sched.run();
    if (!answer)
      return make_error(error_code::internal, "no reply");
    return std::move(*answer);
  }

  stream_actor stream_of(std::string id) {
    auto s = ask<stream_actor>(service, lookup_atom::value, std::move(id));
    EXPECT_TRUE(s);
    return s ? *s : stream_actor{};
  }

  service_actor silent() {
    auto hdl = sys.spawn<silent_service>();
    owned.push_back(hdl);
    return caf::actor_cast<service_actor>(hdl);
  }

  service_actor service;
  stream_publisher publisher;
};

TEST_F(StreamPublisher, FirstPublishLooksTheStreamUpAndCreatesIt) {
  auto p = publish_to("s");
  ASSERT_TRUE(p) << sys.render(p.error());
  EXPECT_EQ(p->seq, 1u);
  EXPECT_EQ(publisher.cached(), 1u);
  auto i = ask<stream_info>(service, caf::get_atom::value, std::string{"s"});
  ASSERT_TRUE(i);
  EXPECT_EQ(i->last_event_id, 1u);
}

TEST_F(StreamPublisher, LaterPublishesGoStraightToTheStreamActor) {
  ASSERT_TRUE(publish_to("s"));
  std::optional<caf::expected<published>> answer;
  start_publish("s", answer);
  std::vector<caf::actor_id> ran;
  while (sched.has_job()) {
    ran.push_back(sched.next_job<caf::abstract_actor>().id());
    sched.run_once();
  }
  EXPECT_EQ(ran, std::vector<caf::actor_id>{stream_of("s").id()})
    << "one actor turn per publish: the stream actor's";
  ASSERT_TRUE(answer);
  ASSERT_TRUE(*answer) << sys.render(answer->error());
  EXPECT_EQ((*answer)->seq, 2u);
}

TEST_F(StreamPublisher, KeepsOrderAndIdsPerStream) {
  for (uint64_t seq = 1; seq <= 5; ++seq)
    for (auto id : {"a", "b"}) {
      auto p = publish_to(id);
      ASSERT_TRUE(p);
      EXPECT_EQ(p->seq, seq) << id;
    }
  EXPECT_EQ(publisher.cached(), 2u);
}

TEST_F(StreamPublisher, RetiredStreamIsForgottenAndCreatedAfresh) {
  ASSERT_TRUE(publish_to("s"));
  ASSERT_TRUE(publish_to("s"));
  elapse(30s); // no subscribers, no generator: retired
  EXPECT_EQ(code_of(ask<stream_info>(service, caf::get_atom::value,
                                     std::string{"s"})),
            "stream_not_found");
  EXPECT_EQ(publisher.cached(), 0u);
  auto p = publish_to("s");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->seq, 1u);
  EXPECT_EQ(publisher.cached(), 1u);
}

TEST_F(StreamPublisher, PublishBouncedByAStreamThatJustRetiredGoesThroughTheService) {
  ASSERT_TRUE(publish_to("s"));
  auto old = stream_of("s");
  // Idle long enough: the stream tells the service, the service asks it to
  // retire. Run the actors one at a time until that request is on its way.
  sched.clock().advance_time(30s);
  while (sched.has_job()) {
    bool service_turn = sched.next_job<caf::abstract_actor>().id() == service.id();
    sched.run_once();
    if (service_turn)
      break;
  }
  // The publish finds the stream in the cache and lands behind the retire
  // request: the stream quits, and CAF bounces the publish.
  EXPECT_EQ(publisher.cached(), 1u);
  std::optional<caf::expected<published>> answer;
  start_publish("s", answer);
  sched.run();
  ASSERT_TRUE(answer);
  ASSERT_TRUE(*answer) << sys.render(answer->error());
  EXPECT_EQ((*answer)->seq, 1u) << "not the fresh stream";
  EXPECT_NE(stream_of("s"), old);
}

TEST_F(StreamPublisher, ErrorsOfTheServiceReachTheCaller) {
  stream_limits l;
  l.max_streams = 1;
  service = make_service(plain_service(), l);
  ASSERT_TRUE(publish_to("a"));
  EXPECT_EQ(code_of(publish_to("b")), "unavailable");
  EXPECT_EQ(publisher.cached(), 1u);
}

TEST_F(StreamPublisher, UnansweredPublishTimesOutOnce) {
  service = silent();
  std::optional<caf::expected<published>> answer;
  start_publish("s", answer);
  sched.run();
  elapse(900ms, 10ms);
  EXPECT_FALSE(answer) << "timed out before its timeout";
  elapse(400ms, 10ms);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->error(), caf::sec::request_timeout);
  elapse(5s); // a second answer would fail start_publish's check
}

TEST_F(StreamPublisher, StopDropsWaitingCallbacksUncalled) {
  service = silent();
  std::optional<caf::expected<published>> answer;
  auto alive = std::make_shared<int>(0);
  std::weak_ptr<int> watch = alive;
  publisher.publish(service, "s", event_input{"t", "m", ""},
                    [&answer, alive](caf::expected<published> p) {
                      answer = std::move(p);
                    });
  alive.reset();
  sched.run();
  EXPECT_FALSE(watch.expired()) << "the callback waits for its answer";
  publisher.stop();
  EXPECT_TRUE(watch.expired()) << "the callback outlived stop()";
  elapse(5s);
  EXPECT_FALSE(answer);
}

} // namespace
} // namespace eventcast
