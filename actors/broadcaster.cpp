#include "actors/broadcaster.hpp"

#include <atomic>

namespace eventcast {

namespace {

/// In-process client ids count down from the top so that they never meet
/// the HTTP layer's ids, which count up.
uint64_t next_client_id() {
  static std::atomic<uint64_t> next{~uint64_t{0}};
  return next--;
}

void append_payloads(const std::string& frame, std::vector<std::string>& out) {
  std::string payload;
  size_t pos = 0;
  while (pos < frame.size()) {
    auto end = frame.find('\n', pos);
    if (end == std::string::npos)
      end = frame.size();
    auto line = std::string_view{frame}.substr(pos, end - pos);
    if (line.substr(0, 6) == "data: ")
      payload.append(payload.empty() ? "" : "\n").append(line.substr(6));
    pos = end + 1;
  }
  if (!payload.empty())
    out.push_back(std::move(payload));
}

} // namespace

void stream_client::signal::wake(const std::vector<uint64_t>&) {
  std::lock_guard<std::mutex> guard{mtx};
  woken = true;
  ready.notify_one();
}

stream_client::stream_client(uint64_t id, std::string stream_id)
  : id_(id),
    stream_id_(std::move(stream_id)),
    inbox_(std::make_shared<mailbox>(std::weak_ptr<wake_target>{signal_}, id)) {
}

std::vector<std::string> stream_client::receive(millis timeout) {
  std::vector<std::string> events;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    for (auto& f : inbox_->take(SIZE_MAX).frames)
      append_payloads(*f, events);
    if (!events.empty() || inbox_->closed())
      return events;
    std::unique_lock<std::mutex> lock{signal_->mtx};
    if (!signal_->ready.wait_until(lock, deadline,
                                   [this] { return signal_->woken; }))
      return events;
    signal_->woken = false;
  }
}

broadcaster::broadcaster(caf::actor_system& sys, service_actor service,
                         millis timeout)
  : sys_(sys), service_(std::move(service)), timeout_(timeout) {
}

template <class T, class... Ts>
caf::expected<T> broadcaster::ask(Ts&&... xs) {
  caf::scoped_actor self{sys_};
  caf::expected<T> result{caf::sec::request_timeout};
  self->request(service_, timeout_, std::forward<Ts>(xs)...)
    .receive([&](T& value) { result = std::move(value); },
             [&](caf::error& err) { result = std::move(err); });
  return result;
}

caf::expected<std::shared_ptr<stream_client>>
broadcaster::subscribe(const std::string& stream_id) {
  auto client = std::make_shared<stream_client>(next_client_id(), stream_id);
  subscription sub{client->id(), client->inbox(), std::nullopt};
  auto joined = ask<uint64_t>(caf::subscribe_atom::value, stream_id, sub);
  if (!joined)
    return joined.error();
  return client;
}

void broadcaster::unsubscribe(const stream_client& client) {
  client.inbox()->close(close_reason::client_gone);
  caf::anon_send(service_, unsub_atom::value, client.stream_id(), client.id());
}

caf::expected<published> broadcaster::broadcast(const std::string& stream_id,
                                                event_input event) {
  return ask<published>(caf::publish_atom::value, stream_id, std::move(event));
}

caf::expected<uint64_t> broadcaster::broadcast_to_all(event_input event) {
  return ask<uint64_t>(publish_all_atom::value, std::move(event));
}

std::map<std::string, uint64_t> broadcaster::active_streams() {
  std::map<std::string, uint64_t> result;
  if (auto infos = ask<std::vector<stream_info>>(caf::get_atom::value))
    for (auto& info : *infos)
      result[info.id] = info.clients;
  return result;
}

std::vector<uint64_t>
broadcaster::stream_clients(const std::string& stream_id) {
  auto ids = ask<std::vector<uint64_t>>(clients_atom::value, stream_id);
  return ids ? std::move(*ids) : std::vector<uint64_t>{};
}

uint64_t broadcaster::total_clients() {
  uint64_t total = 0;
  for (auto& kv : active_streams())
    total += kv.second;
  return total;
}

size_t broadcaster::stream_count() {
  return active_streams().size();
}

bool broadcaster::is_stream_active(const std::string& stream_id) {
  return static_cast<bool>(ask<stream_info>(caf::get_atom::value, stream_id));
}

} // namespace eventcast
