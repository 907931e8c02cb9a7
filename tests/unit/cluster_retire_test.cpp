// Retiring a subscription or a KV watcher while NATS's reader holds a
// message for it: the race of nats.c #637 (libnats before 3.6.1), widened on
// purpose. Under AddressSanitizer, freeing either too early fails this test.

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <nats/nats.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

#include "cluster/desired_state.hpp"
#include "cluster/jetstream_link.hpp"
#include "cluster/names.hpp"
#include "cluster/presence.hpp"
#include "cluster/testing/nats_server.hpp"
#include "tests/unit/cluster_fixture.hpp"

using namespace eventcast::cluster;
using namespace eventcast::cluster::testing;

namespace {

constexpr auto wait_limit = 10s;
constexpr auto stall = 300ms;

// The next inbound message to hold up: the first one on `subject` ("" for
// any), for `length`, or until release_stall() when `until_released`.
struct stall_plan {
  std::string subject;
  millis length;
  bool until_released = false;
};

std::mutex plan_mtx;
std::condition_variable release_cv;
std::optional<stall_plan> plan;
bool released = false; // guarded by plan_mtx
std::atomic<int> stalls{0};   // begun
std::atomic<int> stalled{0};  // over

void stall_next(std::string subject = {}, millis length = stall,
                bool until_released = false) {
  std::lock_guard<std::mutex> guard{plan_mtx};
  plan = stall_plan{std::move(subject), length, until_released};
  released = false;
}

void release_stall() {
  std::lock_guard<std::mutex> guard{plan_mtx};
  released = true;
  release_cv.notify_all();
}

std::optional<stall_plan> take_plan(std::string_view subject) {
  std::lock_guard<std::mutex> guard{plan_mtx};
  if (!plan || (!plan->subject.empty() && plan->subject != subject))
    return std::nullopt;
  return std::exchange(plan, std::nullopt);
}

void hold_up(const stall_plan& p) {
  if (!p.until_released) {
    std::this_thread::sleep_for(p.length);
    return;
  }
  std::unique_lock<std::mutex> lock{plan_mtx};
  release_cv.wait_for(lock, p.length, [] { return released; });
}

} // namespace

// libnats's reader builds each inbound message with this exported function,
// through the PLT, after finding the message's subscription and before
// locking it: stalling it here holds that window open.
extern "C" natsStatus natsMsg_create(natsMsg** msg, const char* subject,
                                     int subject_len, const char* reply,
                                     int reply_len, const char* buf,
                                     int buf_len, int hdr_len) {
  using create_fn = natsStatus (*)(natsMsg**, const char*, int, const char*,
                                   int, const char*, int, int);
  static auto real =
    reinterpret_cast<create_fn>(dlsym(RTLD_NEXT, "natsMsg_create"));
  if (auto p = take_plan({subject, static_cast<size_t>(subject_len)})) {
    ++stalls;
    hold_up(*p);
    ++stalled;
  }
  return real(msg, subject, subject_len, reply, reply_len, buf, buf_len,
              hdr_len);
}

namespace {

constexpr auto link_timeout = 1000ms; // > stall: a reply held up by one comes

class ClusterRetire : public single_nats_server<ClusterRetire> {
protected:
  jetstream_link connect_link() {
    link_config cfg;
    cfg.urls = {server_->url()};
    cfg.timeout = link_timeout;
    auto link = jetstream_link::connect(cfg);
    if (!link) // gtest reports the test failed with this message
      throw std::runtime_error(link.error().message);
    EXPECT_TRUE(wait_until([&] { return link->connected(); }, wait_limit));
    return std::move(*link);
  }
};

// The subject of a KV put, which a watcher's deliveries keep.
std::string kv_subject(const std::string& bucket, const std::string& key) {
  return "$KV." + bucket + "." + key;
}

node_report report_of(const std::string& node) {
  return {node, "http://" + node + ":8080", 1700000000123, {}};
}

int64_t consumers_of(natsConnection* nc, const std::string& stream) {
  jsCtx* js = nullptr;
  jsStreamInfo* info = nullptr;
  int64_t count = -1;
  if (natsConnection_JetStream(&js, nc, nullptr) == NATS_OK
      && js_GetStreamInfo(&info, js, stream.c_str(), nullptr, nullptr)
           == NATS_OK)
    count = info->State.Consumers;
  jsStreamInfo_Destroy(info);
  jsCtx_Destroy(js);
  return count;
}

TEST_F(ClusterRetire, UnsubscribingWhileNatsReadsAMessageForItIsSafe) {
  auto link = connect_link();
  std::atomic<int> calls{0};
  auto sub = link.subscribe("events", test_name(), 0,
                             [&](uint64_t, std::string_view) { ++calls; });
  ASSERT_TRUE(sub && sub->consuming());

  // Another client publishes, so that the link's reader reads nothing but
  // what the consumer delivers.
  natsConnection* raw = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&raw, server_->url().c_str()), NATS_OK);
  std::unique_ptr<natsConnection, void (*)(natsConnection*)> nc{
    raw, natsConnection_Destroy};
  auto names = names_for("events", test_name());
  auto before = stalls.load();
  stall_next();
  EXPECT_EQ(natsConnection_PublishString(nc.get(), names.subject.c_str(), "e1"),
            NATS_OK);
  EXPECT_EQ(natsConnection_Flush(nc.get()), NATS_OK);
  ASSERT_TRUE(wait_until([&] { return stalls > before; }, wait_limit));

  sub->unsubscribe();
  std::this_thread::sleep_for(stall * 2); // the reader goes on meanwhile
  EXPECT_EQ(calls, 0);
  // Deleted by us, not after its inactivity threshold (5 s).
  EXPECT_TRUE(wait_until(
    [&] { return consumers_of(nc.get(), names.stream) == 0; }, 3s));
}

// Deleting a watcher's consumer (what stopping it does) waits for an answer
// that the stalled reader holds back, so each stall here outlasts that wait.
constexpr auto long_stall = link_timeout + 2 * stall;

TEST_F(ClusterRetire, ListingNodesWhileAnotherNodesPutIsReadForItIsSafe) {
  auto lister = connect_link();
  auto other = connect_link();
  presence_config cfg;
  cfg.bucket = "retire-" + test_name();
  cfg.ttl = 30s;
  auto mine = presence::open(lister, cfg);
  auto theirs = presence::open(other, cfg);
  ASSERT_TRUE(mine && theirs);
  ASSERT_TRUE(mine->announce(report_of("a")));

  // The listing's watcher reads a's value, held up until b has announced
  // (however long that takes on a busy machine), so that b's put reaches the
  // watcher as the listing ends.
  auto before = stalls.load();
  stall_next(kv_subject(cfg.bucket, node_key("a")), wait_limit, true);
  auto listing = std::async(std::launch::async, [&] { return mine->nodes(); });
  ASSERT_TRUE(wait_until([&] { return stalls > before; }, wait_limit));
  stall_next(kv_subject(cfg.bucket, node_key("b")), long_stall);
  auto announced = theirs->announce(report_of("b"));
  std::this_thread::sleep_for(stall); // for JetStream to push the put
  release_stall();
  ASSERT_TRUE(announced);
  auto listed = listing.get();
  ASSERT_TRUE(listed) << listed.error().message;
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().node, "a");

  ASSERT_TRUE(wait_until([&] { return stalled == before + 2; }, wait_limit))
    << "b's put did not reach the listing's watcher";
  auto now_listed = mine->nodes();
  ASSERT_TRUE(now_listed) << now_listed.error().message;
  EXPECT_EQ(now_listed->size(), 2u);
}

TEST_F(ClusterRetire, EndingADesiredStateWatchWhileNatsReadsAPutForItIsSafe) {
  auto watching = connect_link();
  auto other = connect_link();
  desired_state_config cfg;
  cfg.bucket = "retire-" + test_name();
  auto mine = desired_state_store::open(watching, cfg);
  auto theirs = desired_state_store::open(other, cfg);
  ASSERT_TRUE(mine && theirs);
  auto first = theirs->put_if("events", "system", generator_state::running, 0);
  ASSERT_TRUE(first && *first);
  std::atomic<int> changes{0};
  auto made = mine->watch([&](auto&, auto&, auto) { ++changes; });
  ASSERT_TRUE(made) << made.error().message;
  std::optional<desired_state_watch> watch{std::move(*made)};
  ASSERT_TRUE(wait_until([&] { return changes == 1; }, wait_limit));

  auto before = stalls.load();
  stall_next(kv_subject(cfg.bucket, generator_key("events", "system")),
             long_stall);
  ASSERT_TRUE(theirs->put_if("events", "system", generator_state::paused,
                             **first));
  ASSERT_TRUE(wait_until([&] { return stalls > before; }, wait_limit));
  watch.reset(); // while the reader holds the put back
  ASSERT_TRUE(wait_until([&] { return stalled > before; }, wait_limit));
  EXPECT_EQ(changes, 1);
}

} // namespace
