// The output reactor against real sockets (socketpairs): framing, sharing,
// back-pressure, overflow, disconnects, and producers on other threads.

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "core/sse.hpp"
#include "http/output.hpp"

namespace {

using namespace eventcast;
using namespace std::chrono_literals;

constexpr auto deadline_after = 10s;

struct socket_pair {
  int server = -1; // handed to the reactor
  int client = -1; // read by the test

  socket_pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    server = fds[0];
    client = fds[1];
  }

  ~socket_pair() {
    if (client >= 0)
      ::close(client);
  }

  /// Reads until `done(text)` holds or the deadline passes.
  template <class Pred>
  std::string read_until(Pred done, std::string text = {}) {
    return read(done, std::move(text), deadline_after);
  }

  /// Whatever arrives within `window`.
  std::string read_for(std::chrono::milliseconds window) {
    return read([](const std::string&) { return false; }, {}, window);
  }

  template <class Pred>
  std::string read(Pred done, std::string text,
                   std::chrono::milliseconds window) {
    auto deadline = std::chrono::steady_clock::now() + window;
    char buf[65536];
    while (!done(text) && std::chrono::steady_clock::now() < deadline) {
      pollfd p{client, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0)
        continue;
      auto n = ::read(client, buf, sizeof buf);
      if (n <= 0)
        break;
      text.append(buf, static_cast<size_t>(n));
    }
    return text;
  }

  bool closed_by_peer() {
    auto deadline = std::chrono::steady_clock::now() + deadline_after;
    char buf[65536];
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{client, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0)
        continue;
      if (::read(client, buf, sizeof buf) <= 0) // EOF, or reset by an abort
        return true;
    }
    return false;
  }
};

/// Polls `done` until it holds or the deadline passes.
template <class Pred>
bool eventually(Pred done) {
  auto deadline = std::chrono::steady_clock::now() + deadline_after;
  while (!done() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  return done();
}

auto contains(std::string needle) {
  return [needle](const std::string& text) {
    return text.find(needle) != std::string::npos;
  };
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos;
       pos = text.find(needle, pos + 1))
    ++n;
  return n;
}

frame make_frame(uint64_t seq) {
  return std::make_shared<const std::string>(
    sse::data_frame(seq, "{\"n\":" + std::to_string(seq) + "}"));
}

sse_settings fast_settings(size_t capacity = 100) {
  sse_settings s;
  s.mailbox_capacity = capacity;
  s.heartbeat_interval = millis{200};
  s.retry = millis{1000};
  return s;
}

/// The feed a stream's live frames come from, as a stream creates it from
/// `s`; `inbox` reads it from now on.
std::shared_ptr<feed> follow(mailbox& inbox,
                             const sse_settings& s = fast_settings()) {
  auto live = std::make_shared<feed>(s.mailbox_capacity, s.overflow);
  inbox.follow(live);
  return live;
}

struct OutputReactor : ::testing::Test {
  http::output_reactor out{fast_settings(), millis{3600000}};
  OutputReactor() { out.start(); }
  ~OutputReactor() override { out.stop(millis{0}); }
};

TEST_F(OutputReactor, WritesHeadThenFramesAsChunks) {
  socket_pair sp;
  auto inbox = out.open_stream(out.attach(sp.server), 0, "HEAD\r\n\r\n", "s",
                               nullptr);
  auto live = follow(*inbox);
  live->append(make_frame(1));
  live->append(make_frame(2));
  auto text = sp.read_until(contains("{\"n\":2}"));
  ASSERT_EQ(text.rfind("HEAD\r\n\r\n", 0), 0u) << text;
  // Each chunk is "<hex size>\r\n<frames>\r\n".
  auto body = text.substr(8);
  auto crlf = body.find("\r\n");
  auto size = std::stoul(body.substr(0, crlf), nullptr, 16);
  EXPECT_EQ(body.substr(crlf + 2, size).rfind("id: 1\ndata: {\"n\":1}\n\n", 0),
            0u);
  EXPECT_EQ(count(text, "id: "), 2u);
}

TEST_F(OutputReactor, HeadWaitsUntilTheFirstFramesSaySubscribed) {
  socket_pair sp;
  auto inbox = out.open_stream(out.attach(sp.server), 0, "H\r\n\r\n", "s",
                               nullptr);
  auto live = follow(*inbox);
  // Longer than a heartbeat interval: not even a heartbeat goes out.
  EXPECT_EQ(sp.read_for(400ms), "");
  inbox->push({make_frame(1)}); // what a stream actor sends first
  auto text = sp.read_until(contains("id: 1"));
  EXPECT_EQ(text.rfind("H\r\n\r\n", 0), 0u) << text;
}

TEST_F(OutputReactor, StreamClosedBeforeItsFirstFramesGetsHeadAndEnd) {
  socket_pair sp;
  out.open_stream(out.attach(sp.server), 0, "H\r\n\r\n", "s", nullptr)
    ->close(close_reason::shutdown); // e.g. the subscribe was refused
  auto text = sp.read_until(contains("0\r\n\r\n"));
  EXPECT_EQ(text.rfind("H\r\n\r\n", 0), 0u) << text;
  EXPECT_NE(text.find("retry: "), std::string::npos) << text;
  EXPECT_TRUE(sp.closed_by_peer());
}

TEST_F(OutputReactor, SendsHeartbeatsOnIdleStreams) {
  socket_pair sp;
  auto inbox =
    out.open_stream(out.attach(sp.server), 0, "H\r\n\r\n", "s", nullptr);
  auto live = follow(*inbox);
  live->append(make_frame(1));
  auto text = sp.read_until(
    [](const std::string& t) { return count(t, ": heartbeat") >= 2; });
  EXPECT_GE(count(text, ": heartbeat\n\n"), 2u);
}

TEST_F(OutputReactor, PlainResponseIsWrittenAndConnectionClosed) {
  socket_pair sp;
  out.respond(out.attach(sp.server), 0, "HTTP/1.1 200 OK\r\n\r\nbody", true);
  auto text = sp.read_until(contains("body"));
  EXPECT_EQ(text, "HTTP/1.1 200 OK\r\n\r\nbody");
  EXPECT_TRUE(sp.closed_by_peer());
}

TEST_F(OutputReactor, ClientThatLeavesIsReportedOnceAndCounted) {
  socket_pair sp;
  std::atomic<int> closes{0};
  auto inbox = out.open_stream(out.attach(sp.server), 0, "H\r\n\r\n", "s",
                               [&closes] { ++closes; });
  auto live = follow(*inbox);
  live->append(make_frame(1));
  sp.read_until(contains("id: 1"));
  EXPECT_EQ(out.streams(), 1u);
  ::close(sp.client);
  sp.client = -1;
  EXPECT_TRUE(eventually([&] { return closes == 1; }));
  EXPECT_TRUE(inbox->closed());
  EXPECT_EQ(inbox->reason(), close_reason::client_gone);
  EXPECT_EQ(out.streams(), 0u);
  // It left the feed: frames after it are neither kept for it nor counted,
  // however many.
  for (uint64_t i = 2; i <= 2 * fast_settings().mailbox_capacity + 2; ++i) {
    auto r = live->append(make_frame(i));
    EXPECT_EQ(r.dropped + r.disconnected, 0u) << i;
  }
  EXPECT_EQ(closes, 1);
}

TEST_F(OutputReactor, ReaderThatStopsOverflowsItsMailboxAndIsDisconnected) {
  socket_pair sp;
  std::atomic<int> closes{0};
  auto inbox = out.open_stream(out.attach(sp.server), 0, "H\r\n\r\n", "s",
                               [&closes] { ++closes; });
  auto live = follow(*inbox);
  // Never read: the socket buffer fills, then the feed overflows the mailbox.
  auto big = std::make_shared<const std::string>(
    sse::data_frame(1, std::string(16384, 'x')));
  feed::append_result result;
  int appended = 0;
  for (; appended < 100000 && result.disconnected == 0; ++appended) {
    result = live->append(big);
    if (result.disconnected == 0 && appended % 100 == 0)
      std::this_thread::sleep_for(1ms); // let the reactor fill the socket
  }
  EXPECT_EQ(result.disconnected, 1u);
  EXPECT_EQ(result.dropped, 0u);
  // Not before the (capacity + 1)-th frame it had not taken.
  EXPECT_GE(appended, 101);
  EXPECT_TRUE(inbox->closed());
  EXPECT_EQ(inbox->reason(), close_reason::overflow);
  // Closed, it counts no more.
  auto after = live->append(big);
  EXPECT_EQ(after.dropped + after.disconnected, 0u);
  // The connection is cut at once, unsent bytes and all: its client
  // reconnects with Last-Event-ID and catches up from history.
  EXPECT_TRUE(sp.closed_by_peer());
  EXPECT_TRUE(eventually([&] { return closes == 1; }));
}

TEST_F(OutputReactor, FramesFromManyThreadsArriveCompleteAndInOrderPerThread) {
  constexpr int producers = 4;
  constexpr int per_producer = 2000;
  socket_pair sp;
  http::output_reactor big{fast_settings(producers * per_producer),
                           millis{3600000}};
  big.start();
  auto inbox = big.open_stream(big.attach(sp.server), 0, "H\r\n\r\n", "s",
                               nullptr);
  auto live = follow(*inbox, fast_settings(producers * per_producer));
  std::atomic<uint64_t> lost{0};
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p)
    threads.emplace_back([&, p] {
      for (int i = 0; i < per_producer; ++i) {
        auto r = live->append(std::make_shared<const std::string>(
          sse::data_frame(static_cast<uint64_t>(p * per_producer + i), "x")));
        lost += r.dropped + r.disconnected;
      }
    });
  auto text = sp.read_until([&](const std::string& t) {
    return count(t, "data: x\n\n") == producers * per_producer;
  });
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(lost, 0u);
  EXPECT_FALSE(inbox->closed());
  EXPECT_EQ(count(text, "data: x\n\n"), size_t{producers * per_producer});
  for (int p = 0; p < producers; ++p) {
    size_t last = 0;
    for (int i = 0; i < per_producer; ++i) {
      auto pos = text.find(
        "id: " + std::to_string(p * per_producer + i) + "\n");
      ASSERT_NE(pos, std::string::npos);
      ASSERT_GE(pos, last) << "producer " << p << " frame " << i;
      last = pos;
    }
  }
  big.stop(millis{0});
}

TEST_F(OutputReactor, ResponsesAreWrittenInRequestOrder) {
  socket_pair sp;
  auto conn = out.attach(sp.server);
  out.respond(conn, 2, "third;", false);
  out.respond(conn, 0, "first;", false);
  out.respond(conn, 1, "second;", false);
  EXPECT_EQ(sp.read_until(contains("third;")), "first;second;third;");
}

TEST_F(OutputReactor, DetachClosesOnceTheIssuedResponsesAreWritten) {
  socket_pair sp;
  auto conn = out.attach(sp.server);
  out.respond(conn, 0, "a;", false);
  out.detach(conn, 2);
  EXPECT_EQ(sp.read_until(contains("a;")), "a;");
  out.respond(conn, 1, "b;", false);
  EXPECT_EQ(sp.read_until(contains("b;")), "b;");
  EXPECT_TRUE(sp.closed_by_peer());
}

TEST_F(OutputReactor, DetachLeavesAStreamOpen) {
  socket_pair sp;
  auto conn = out.attach(sp.server);
  auto inbox = out.open_stream(conn, 0, "H\r\n\r\n", "s", nullptr);
  auto live = follow(*inbox);
  out.detach(conn, 1);
  live->append(make_frame(3));
  EXPECT_NE(sp.read_until(contains("id: 3")).find("id: 3"), std::string::npos);
  EXPECT_FALSE(inbox->closed());
}

TEST_F(OutputReactor, StreamWaitsForEarlierResponses) {
  socket_pair sp;
  auto conn = out.attach(sp.server);
  auto inbox = out.open_stream(conn, 1, "STREAM;", "s", nullptr);
  auto live = follow(*inbox);
  live->append(make_frame(1));
  out.respond(conn, 0, "plain;", false);
  auto text = sp.read_until(contains("id: 1"));
  EXPECT_EQ(text.rfind("plain;STREAM;", 0), 0u) << text;
}

TEST(OutputReactorDrain, StopEndsStreamsWithJitteredRetry) {
  socket_pair sp;
  http::output_reactor out{fast_settings(), millis{3600000}};
  out.start();
  auto inbox = out.open_stream(out.attach(sp.server), 0, "H\r\n\r\n", "s",
                               nullptr);
  auto live = follow(*inbox);
  live->append(make_frame(7));
  sp.read_until(contains("id: 7"));
  out.stop(millis{2000});
  auto text = sp.read_until(contains("0\r\n\r\n"));
  auto pos = text.find("retry: ");
  ASSERT_NE(pos, std::string::npos) << text;
  auto retry = std::stol(text.substr(pos + 7));
  EXPECT_GE(retry, 1000);
  EXPECT_LE(retry, 2000);
  EXPECT_TRUE(sp.closed_by_peer());
}

TEST(OutputReactorDrain, StalledReaderIsCutWhenTheDrainEnds) {
  socket_pair sp; // the test never reads: the stream's end cannot be written
  http::output_reactor out{fast_settings(), millis{3600000}};
  out.start();
  auto inbox = out.open_stream(out.attach(sp.server), 0, "H\r\n\r\n", "s",
                               nullptr);
  auto big = std::make_shared<const std::string>(
    sse::data_frame(1, std::string(64 * 1024, 'x')));
  auto live = follow(*inbox);
  for (int i = 0; i < 40; ++i) // 2.6 MB: far more than the socket holds
    EXPECT_EQ(live->append(big).disconnected, 0u);
  std::this_thread::sleep_for(100ms);
  // The reactor sweeps every 500 ms from its start: the window ends at
  // ~550 ms, just after the first sweep.
  auto t0 = std::chrono::steady_clock::now();
  out.stop(millis{450});
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, 450ms) << "the drain window was cut short";
  EXPECT_LT(took, 700ms) << "the reactor slept on to its next sweep";
}

TEST(OutputReactorTtl, ExpiredStreamEndsWithRetry) {
  socket_pair sp;
  http::output_reactor out{fast_settings(), millis{300}};
  out.start();
  out.open_stream(out.attach(sp.server), 0, "H\r\n\r\n", "s", nullptr);
  auto text = sp.read_until(contains("0\r\n\r\n"));
  EXPECT_NE(text.find("retry: "), std::string::npos) << text;
  EXPECT_TRUE(sp.closed_by_peer());
  out.stop(millis{0});
}

/// The payloads of the chunks of an HTTP chunked body.
std::vector<std::string> chunks_of(const std::string& body) {
  std::vector<std::string> chunks;
  size_t pos = 0;
  while (pos < body.size()) {
    auto crlf = body.find("\r\n", pos);
    auto size = std::stoul(body.substr(pos, crlf - pos), nullptr, 16);
    chunks.push_back(body.substr(crlf + 2, size));
    pos = crlf + 2 + size + 2;
  }
  return chunks;
}

/// A one-second window, and no heartbeat to write in it.
sse_settings one_second_window() {
  auto settings = fast_settings();
  settings.heartbeat_interval = millis{60000};
  settings.coalesce = millis{1000};
  return settings;
}

TEST(OutputReactorCoalesce, FramesAfterAQuietSpellGoAtOnceLaterOnesShareAPass) {
  auto settings = one_second_window();
  http::output_reactor out{settings, millis{3600000}};
  out.start();
  socket_pair sp;
  auto inbox = out.open_stream(out.attach(sp.server), 0, "H\r\n\r\n", "s",
                               nullptr);
  auto live = follow(*inbox, settings);
  auto start = std::chrono::steady_clock::now();
  live->append(make_frame(1));
  auto text = sp.read_until(contains("id: 1"));
  auto first_after = std::chrono::steady_clock::now() - start;
  std::this_thread::sleep_for(50ms); // the pass that wrote it is over
  live->append(make_frame(2));
  std::this_thread::sleep_for(50ms);
  live->append(make_frame(3));
  text = sp.read_until(contains("id: 3"), text);
  auto rest_after = std::chrono::steady_clock::now() - start;
  EXPECT_LT(first_after, 500ms);
  EXPECT_GE(rest_after, 950ms);
  ASSERT_EQ(text.rfind("H\r\n\r\n", 0), 0u) << text;
  EXPECT_EQ(chunks_of(text.substr(5)),
            (std::vector<std::string>{*make_frame(1),
                                      *make_frame(2) + *make_frame(3)}));
  out.stop(millis{0});
}

TEST(OutputReactorCoalesce, OneSubscribersWindowDoesNotHoldUpAnother) {
  auto settings = one_second_window();
  http::output_reactor out{settings, millis{3600000}};
  out.start();
  socket_pair busy, quiet;
  auto busy_inbox = out.open_stream(out.attach(busy.server), 0, "H\r\n\r\n",
                                    "busy", nullptr);
  auto quiet_inbox = out.open_stream(out.attach(quiet.server), 0,
                                     "H\r\n\r\n", "quiet", nullptr);
  auto busy_live = follow(*busy_inbox, settings);
  auto quiet_live = follow(*quiet_inbox, settings);
  busy_live->append(make_frame(1));
  busy.read_until(contains("id: 1"));
  std::this_thread::sleep_for(50ms); // the flush that wrote it is over
  busy_live->append(make_frame(2)); // waits out the busy stream's window
  auto start = std::chrono::steady_clock::now();
  quiet_live->append(make_frame(1)); // never written before: goes at once
  auto text = quiet.read_until(contains("id: 1"));
  auto quiet_after = std::chrono::steady_clock::now() - start;
  EXPECT_NE(text.find("id: 1"), std::string::npos) << text;
  EXPECT_LT(quiet_after, 500ms);
  EXPECT_EQ(busy.read_for(200ms).find("id: 2"), std::string::npos);
  out.stop(millis{0});
}

/// How many of `pairs` have bytes to read, once `poll` says any has.
size_t readable(std::vector<socket_pair>& pairs, int timeout_ms) {
  std::vector<pollfd> fds;
  for (auto& sp : pairs)
    fds.push_back({sp.client, POLLIN, 0});
  if (::poll(fds.data(), fds.size(), timeout_ms) <= 0)
    return 0;
  return static_cast<size_t>(std::count_if(
    fds.begin(), fds.end(), [](auto& p) { return p.revents & POLLIN; }));
}

TEST(OutputReactorAnswers, PublishAnsweredDuringAPassWaitsForItsEnd) {
  auto settings = fast_settings();
  settings.coalesce = millis{0};
  settings.heartbeat_interval = millis{60000};
  http::output_reactor out{settings, millis{3600000}};
  out.start();
  // Big frames make the pass over the subscribers last milliseconds.
  std::vector<socket_pair> subscribers(300);
  auto live = std::make_shared<feed>(settings.mailbox_capacity, settings.overflow);
  std::vector<std::shared_ptr<mailbox>> inboxes;
  for (auto& sp : subscribers) {
    inboxes.push_back(out.open_stream(out.attach(sp.server), 0, "H\r\n\r\n",
                                      "s", nullptr));
    inboxes.back()->follow(live);
  }
  socket_pair publisher;
  auto pub = out.attach(publisher.server);
  out.respond(pub, 0, "ready;", false); // once written, the streams are open
  ASSERT_EQ(publisher.read_until(contains("ready;")), "ready;");
  live->append(std::make_shared<const std::string>(
    sse::data_frame(1, std::string(32 * 1024, 'x'))));
  ASSERT_GT(readable(subscribers, 10000), 0u); // the pass is under way
  out.respond(pub, 1, "answer;", false, subscribers.size());
  EXPECT_EQ(publisher.read_until(contains("answer;")), "answer;");
  EXPECT_EQ(readable(subscribers, 0), subscribers.size());
  out.stop(millis{0});
}

} // namespace
