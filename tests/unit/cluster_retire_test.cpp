// Retiring a subscription while NATS's reader holds a message for it: the
// race of nats.c #637 (libnats before 3.6.1), widened on purpose. Under
// AddressSanitizer, freeing the subscription too early fails this test.

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <nats/nats.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "cluster/jetstream_link.hpp"
#include "cluster/names.hpp"
#include "cluster/testing/nats_server.hpp"
#include "tests/unit/cluster_fixture.hpp"

using namespace eventcast::cluster;
using namespace eventcast::cluster::testing;

namespace {

constexpr auto wait_limit = 10s;
constexpr auto stall = 300ms;

std::atomic<bool> stall_next{false};
std::atomic<bool> stalled{false};

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
  if (stall_next.exchange(false)) {
    stalled = true;
    std::this_thread::sleep_for(stall);
  }
  return real(msg, subject, subject_len, reply, reply_len, buf, buf_len,
              hdr_len);
}

namespace {

class ClusterRetire : public single_nats_server<ClusterRetire> {};

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
  link_config cfg;
  cfg.urls = {server_->url()};
  auto link = jetstream_link::connect(cfg);
  ASSERT_TRUE(link) << link.error().message;
  ASSERT_TRUE(wait_until([&] { return link->connected(); }, wait_limit));
  std::atomic<int> calls{0};
  auto sub = link->subscribe("events", test_name(), 0,
                             [&](uint64_t, std::string_view) { ++calls; });
  ASSERT_TRUE(sub && sub->consuming());

  // Another client publishes, so that the link's reader reads nothing but
  // what the consumer delivers.
  natsConnection* raw = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&raw, server_->url().c_str()), NATS_OK);
  std::unique_ptr<natsConnection, void (*)(natsConnection*)> nc{
    raw, natsConnection_Destroy};
  auto names = names_for("events", test_name());
  stall_next = true;
  EXPECT_EQ(natsConnection_PublishString(nc.get(), names.subject.c_str(), "e1"),
            NATS_OK);
  EXPECT_EQ(natsConnection_Flush(nc.get()), NATS_OK);
  ASSERT_TRUE(wait_until([&] { return stalled.load(); }, wait_limit));

  sub->unsubscribe();
  std::this_thread::sleep_for(stall * 2); // the reader goes on meanwhile
  EXPECT_EQ(calls, 0);
  // Deleted by us, not after its inactivity threshold (5 s).
  EXPECT_TRUE(wait_until(
    [&] { return consumers_of(nc.get(), names.stream) == 0; }, 3s));
}

} // namespace
