#include "cluster/presence.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "cluster/detail/kv.hpp"
#include "cluster/detail/link_core.hpp"
#include "cluster/names.hpp"
#include "core/log.hpp"

namespace eventcast::cluster {

using clock = std::chrono::steady_clock;

namespace {

constexpr const char* log_module = "cluster";

constexpr std::string_view format_header = "eventcast-node 1";

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> out;
  for (;;) {
    auto at = text.find(separator);
    out.push_back(text.substr(0, at));
    if (at == std::string_view::npos)
      return out;
    text.remove_prefix(at + 1);
  }
}

template <class Int>
std::optional<Int> parse_number(std::string_view text) {
  Int value{};
  const char* end = text.data() + text.size();
  auto [last, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || last != end)
    return std::nullopt;
  return value;
}

// Builds a report from the lines of a value, remembering which required
// fields it saw.
struct report_decoder {
  node_report report;
  bool has_node = false;
  bool has_url = false;
  bool has_started = false;

  bool complete() const {
    return has_node && has_url && has_started && !report.node.empty();
  }

  bool read(std::string_view line) {
    auto words = split(line, ' ');
    const auto& field = words[0];
    if (field == "node")
      return words.size() == 2 && read_text(words[1], report.node, has_node);
    if (field == "url")
      return words.size() == 2 && read_text(words[1], report.url, has_url);
    if (field == "started")
      return words.size() == 2 && read_started(words[1]);
    if (field == "stream")
      return words.size() == 4 && read_stream(words[1], words[2], words[3]);
    return true; // a newer node's field
  }

  static bool read_text(std::string_view token, std::string& out,
                        bool& seen) {
    auto text = decode_token(token);
    if (!text)
      return false;
    out = std::move(*text);
    seen = true;
    return true;
  }

  bool read_started(std::string_view token) {
    auto ms = parse_number<int64_t>(token);
    if (!ms)
      return false;
    report.started_ms = *ms;
    has_started = true;
    return true;
  }

  bool read_stream(std::string_view service, std::string_view stream_id,
                   std::string_view clients) {
    auto svc = decode_token(service);
    auto id = decode_token(stream_id);
    auto count = parse_number<uint64_t>(clients);
    if (!svc || !id || !count)
      return false;
    report.streams.push_back({std::move(*svc), std::move(*id), *count});
    return true;
  }
};

expected<std::string> key_of(std::string_view node) {
  auto key = node_key(node);
  if (!detail::valid_key(key))
    return error{error_code::internal,
                 "presence: invalid node name '" + std::string{node} + "'"};
  return key;
}

} // namespace

bool operator==(const stream_clients& a, const stream_clients& b) {
  return a.service == b.service && a.stream_id == b.stream_id
         && a.clients == b.clients;
}

bool operator==(const node_report& a, const node_report& b) {
  return a.node == b.node && a.url == b.url && a.started_ms == b.started_ms
         && a.streams == b.streams;
}

std::string encode_node_report(const node_report& report) {
  std::string out{format_header};
  out += "\nnode " + encode_token(report.node);
  out += "\nurl " + encode_token(report.url);
  out += "\nstarted " + std::to_string(report.started_ms);
  for (const auto& s : report.streams)
    out += "\nstream " + encode_token(s.service) + ' '
           + encode_token(s.stream_id) + ' ' + std::to_string(s.clients);
  out += '\n';
  return out;
}

std::optional<node_report> decode_node_report(std::string_view text) {
  auto lines = split(text, '\n');
  if (lines.front() != format_header)
    return std::nullopt;
  report_decoder decoder;
  for (size_t i = 1; i < lines.size(); ++i)
    if (!lines[i].empty() && !decoder.read(lines[i]))
      return std::nullopt;
  if (!decoder.complete())
    return std::nullopt;
  return std::move(decoder.report);
}

// -- presence -----------------------------------------------------------------

struct presence::state {
  detail::lazy_bucket bucket;

  state(std::shared_ptr<detail::link_core> core, detail::bucket_spec spec)
    : bucket(std::move(core), std::move(spec)) {
  }

  // Checked on every call: once bound, a KV call while the client
  // reconnects would wait out its timeout instead of failing.
  expected<std::shared_ptr<kvStore>> connected_bucket(std::string_view what) {
    if (!bucket.core()->connected())
      return detail::unavailable(what);
    return bucket.get();
  }

  // A bucket that did not answer is bound again next time: the server may
  // have come back without it.
  error failed(error err) {
    if (err.code == error_code::unavailable)
      bucket.forget();
    return err;
  }

  expected<void> outcome(natsStatus s, std::string_view what) {
    if (s == NATS_OK)
      return {};
    return failed(detail::to_error(s, what));
  }
};

presence::presence(std::shared_ptr<state> st) : state_(std::move(st)) {
}

expected<presence> presence::open(const jetstream_link& link,
                                  presence_config cfg) {
  if (cfg.ttl < millis{100})
    return error{error_code::internal, "presence: TTL under 100 ms"};
  detail::bucket_spec spec{std::move(cfg.bucket), cfg.ttl, cfg.replicas};
  return presence{std::make_shared<state>(link.core_, std::move(spec))};
}

expected<void> presence::announce(const node_report& report) {
  auto key = key_of(report.node);
  if (!key)
    return key.error();
  auto what = "announce node " + report.node;
  auto kv = state_->connected_bucket(what);
  if (!kv)
    return kv.error();
  auto value = encode_node_report(report);
  uint64_t revision = 0;
  auto s = kvStore_Put(&revision, kv->get(), key->c_str(), value.data(),
                       static_cast<int>(value.size()));
  return state_->outcome(s, what);
}

expected<std::vector<node_report>> presence::nodes() {
  auto deadline = clock::now() + state_->bucket.timeout();
  auto kv = state_->connected_bucket("list nodes");
  if (!kv)
    return kv.error();
  auto entries = detail::live_entries(*state_->bucket.core(), kv->get(), deadline);
  if (!entries)
    return state_->failed(entries.error());
  std::vector<node_report> out;
  for (auto& e : *entries) {
    if (auto report = decode_node_report(detail::entry_value(e.get())))
      out.push_back(std::move(*report));
    else
      EC_DEBUG(log_module, "presence: skipping the malformed value of "
                             << kvEntry_Key(e.get()));
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.node < b.node; });
  return out;
}

expected<void> presence::withdraw(std::string_view node) {
  auto key = key_of(node);
  if (!key)
    return key.error();
  auto what = "withdraw node " + std::string{node};
  auto kv = state_->connected_bucket(what);
  if (!kv)
    return kv.error();
  return state_->outcome(kvStore_Delete(kv->get(), key->c_str()), what);
}

// -- presence_announcer -------------------------------------------------------

struct presence_announcer::state {
  presence target;
  report_source report;
  millis interval;
  std::mutex mtx;
  std::condition_variable cv;
  bool stopping = false;
  std::string last_node; // the worker's until it is joined
  std::atomic<uint64_t> announced{0};
  std::thread worker;

  state(presence p, report_source r, millis i)
    : target(std::move(p)), report(std::move(r)), interval(i) {
  }

  std::optional<node_report> make_report();
  void announce_once();
  void run();
};

std::optional<node_report> presence_announcer::state::make_report() {
  try {
    return report();
  } catch (const std::exception& e) {
    EC_ERROR(log_module, "presence report threw: " << e.what());
  } catch (...) {
    EC_ERROR(log_module, "presence report threw");
  }
  return std::nullopt;
}

void presence_announcer::state::announce_once() {
  auto r = make_report();
  if (!r)
    return;
  last_node = r->node;
  if (auto ok = target.announce(*r); ok)
    ++announced;
  else
    EC_DEBUG(log_module, ok.error().message);
}

void presence_announcer::state::run() {
  std::unique_lock<std::mutex> lock{mtx};
  while (!stopping) {
    lock.unlock();
    auto next = clock::now() + interval;
    announce_once();
    lock.lock();
    cv.wait_until(lock, next, [this] { return stopping; });
  }
}

presence_announcer::presence_announcer(presence target, report_source report,
                                       millis interval)
  : state_(std::make_unique<state>(std::move(target), std::move(report),
                                   interval)) {
  state_->worker = std::thread{[st = state_.get()] { st->run(); }};
}

presence_announcer::~presence_announcer() {
  stop(true);
}

void presence_announcer::stop(bool withdraw) {
  {
    std::lock_guard<std::mutex> guard{state_->mtx};
    if (state_->stopping)
      return;
    state_->stopping = true;
  }
  state_->cv.notify_all();
  if (state_->worker.joinable())
    state_->worker.join();
  if (!withdraw || state_->last_node.empty())
    return;
  if (auto ok = state_->target.withdraw(state_->last_node); !ok)
    EC_DEBUG(log_module, ok.error().message);
}

uint64_t presence_announcer::announced() const {
  return state_->announced;
}

} // namespace eventcast::cluster
