#include "http/output.hpp"

#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <utility>
#include <unordered_map>
#include <vector>

#include "core/log.hpp"
#include "core/sse.hpp"
#include "http/response.hpp"

namespace eventcast::http {

namespace {

using clock_type = std::chrono::steady_clock;

constexpr size_t max_frames_per_batch = 256;
constexpr int max_iov = IOV_MAX < 1024 ? IOV_MAX : 1024;
constexpr std::chrono::milliseconds sweep_period{500};
// The answer to a publish that reaches subscribers, taken during a pass,
// waits for the pass's end. Answered at once, the publisher would add events
// that wait for the next pass anyway, and lengthen it: every event's wait
// grows with the passes (L5, 1,000 streams: p99 ~10 ms when publishers were
// answered in the first 2 ms of each pass, ~1.4 ms when they wait for its
// end; bench/README). Other answers go at once.
// A pass over 10,000 subscribers lasts 40-90 ms on two cores, and its length
// swings with what the last one carried: held to its end, such publishes
// come in bursts, and the busiest passes make the p99. Held at most this
// long, they come at a steadier pace (L2: p99 96 ms at ~350k events/s,
// against 109 ms at ~480k; medians, bench/README).
constexpr std::chrono::milliseconds max_answer_hold{40};
// How long a stream's last bytes may wait for a reader before we give up.
constexpr std::chrono::seconds finish_grace{5};
const std::string crlf = "\r\n";
const std::string last_chunk = "0\r\n\r\n";

/// Bytes queued for one socket: iovecs over shared, immutable buffers.
class out_buffer {
public:
  bool empty() const { return first_ == iov_.size(); }

  void add(frame f) {
    if (f->empty())
      return;
    iov_.push_back({const_cast<char*>(f->data()), f->size()});
    owned_.push_back(std::move(f));
  }

  void add_static(const std::string& s) {
    iov_.push_back({const_cast<char*>(s.data()), s.size()});
  }

  void add_raw(const char* data, size_t size) {
    iov_.push_back({const_cast<char*>(data), size});
  }

  /// Writes as much as the socket takes, in one call: >0 bytes, 0 when it
  /// would block, -1 on a dead connection. sendmsg rather than writev for
  /// MSG_NOSIGNAL: a peer that left must not raise SIGPIPE.
  ssize_t write_to(int fd) {
    for (;;) {
      msghdr msg{};
      msg.msg_iov = iov_.data() + first_;
      msg.msg_iovlen = std::min<size_t>(iov_.size() - first_, max_iov);
      auto n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
      if (n >= 0) {
        consume(static_cast<size_t>(n));
        return n;
      }
      if (errno == EINTR)
        continue;
      return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    }
  }

private:
  void consume(size_t n) {
    while (n > 0 && !empty()) {
      auto& v = iov_[first_];
      if (n >= v.iov_len) {
        n -= v.iov_len;
        ++first_;
      } else {
        v.iov_base = static_cast<char*>(v.iov_base) + n;
        v.iov_len -= n;
        n = 0;
      }
    }
    if (empty()) {
      iov_.clear();
      owned_.clear();
      first_ = 0;
    }
  }

  std::vector<iovec> iov_;
  std::vector<frame> owned_;
  size_t first_ = 0;
};

/// One response waiting for its turn on a connection.
struct slot {
  std::string bytes;
  bool close_after = false;
  uint64_t fanout = 0; // the subscribers an answered publish reaches
  std::shared_ptr<mailbox> inbox; // set: the response is an SSE stream
  std::string stream_id;
  std::function<void()> on_close;
};

struct connection {
  uint64_t id = 0;
  int fd = -1;
  uint64_t next_index = 0;          // the response to write next
  std::map<uint64_t, slot> waiting; // responses that came early
  std::optional<uint64_t> detached_after;
  std::shared_ptr<mailbox> inbox;   // once the connection is a stream
  frame stream_head; // held back until the stream's first frames or its end
  std::string stream_id;
  std::function<void()> on_close;
  out_buffer out;
  char chunk_head[chunk_size_line_max] = {};
  bool close_after = false; // shut down once `out` is written
  bool finishing = false;   // the stream's last bytes are queued
  bool registered = false;  // with the epoll set
  bool watching_out = false;
  clock_type::time_point opened = clock_type::now();
  clock_type::time_point last_write = opened;
  // When frames were last taken for writing: a subscriber's next frames wait
  // until `coalesce` after it (never: at once).
  clock_type::time_point frames_taken{};
};

using connection_ptr = std::shared_ptr<connection>;

uint64_t next_connection_id() {
  static std::atomic<uint64_t> counter{0};
  return ++counter;
}

/// Work handed to the output thread, applied in the order it was given.
struct command {
  enum kind { attach, respond, detach } what = attach;
  uint64_t conn = 0;
  uint64_t index = 0;
  int fd = -1;
  slot payload;
};

} // namespace

struct output_reactor::impl : wake_target {
  sse_settings sse;
  millis client_ttl{0};
  std::atomic<size_t>* streams = nullptr;
  int epoll_fd = -1;
  int event_fd = -1;

  std::mutex mtx; // guards the four fields below
  std::vector<command> commands;
  std::vector<uint64_t> ready;
  bool stop_requested = false;
  millis drain{0};
  // Set with `commands`: a long batch of frames stops to answer requests.
  std::atomic<bool> commands_waiting{false};

  // Only the output thread touches these.
  std::unordered_map<uint64_t, connection_ptr> conns;
  std::vector<uint64_t> due; // streams with frames, written at due_at
  std::optional<clock_type::time_point> due_at;
  bool in_pass = false;
  std::vector<connection_ptr> held_answers; // written at the pass's end
  clock_type::time_point held_since;        // or once held this long
  // The loop's time, read once per wake-up and per pass instead of once per
  // write: a write's time only decides heartbeats and grace periods.
  clock_type::time_point loop_now = clock_type::now();
  bool draining = false;
  frame heartbeat = std::make_shared<const std::string>(
    sse::comment_frame("heartbeat"));
  std::mt19937 rng{std::random_device{}()};

  impl() {
    epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
    event_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = 0;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, event_fd, &ev);
  }

  ~impl() {
    for (auto& kv : conns)
      ::close(kv.second->fd);
    for (auto& c : commands)
      if (c.what == command::attach)
        ::close(c.fd);
    ::close(event_fd);
    ::close(epoll_fd);
  }

  void notify() {
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(event_fd, &one, sizeof one);
  }

  // -- any thread --------------------------------------------------------------

  void wake(const std::vector<uint64_t>& ids) override {
    bool first;
    {
      std::lock_guard<std::mutex> guard{mtx};
      first = ready.empty() && commands.empty();
      ready.insert(ready.end(), ids.begin(), ids.end());
    }
    if (first)
      notify();
  }

  void post(command cmd) {
    bool first;
    {
      std::lock_guard<std::mutex> guard{mtx};
      first = ready.empty() && commands.empty();
      commands.push_back(std::move(cmd));
      commands_waiting.store(true, std::memory_order_relaxed);
    }
    if (first)
      notify();
  }

  // -- output thread -----------------------------------------------------------

  void watch(connection& c, bool out) {
    epoll_event ev{};
    ev.events = EPOLLRDHUP | (out ? uint32_t{EPOLLOUT} : 0u);
    ev.data.u64 = c.id;
    ::epoll_ctl(epoll_fd, c.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c.fd,
                &ev);
    c.registered = true;
    c.watching_out = out;
  }

  static void end_unstarted_stream(slot& s) {
    if (!s.inbox)
      return;
    s.inbox->close(close_reason::client_gone);
    if (s.on_close)
      s.on_close();
  }

  /// Ends the connection. `abort` discards unsent bytes (a reader that
  /// stopped reading); otherwise what was written is delivered, then FIN.
  void release(connection& c, close_reason why, bool abort = false) {
    if (c.registered)
      ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c.fd, nullptr);
    if (abort) {
      linger hard{1, 0};
      ::setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
      ::shutdown(c.fd, SHUT_RDWR);
    } else if (why != close_reason::client_gone) {
      // Shut the socket itself: Pistache may still hold a descriptor of it.
      ::shutdown(c.fd, c.close_after ? SHUT_WR : SHUT_RDWR);
    }
    ::close(c.fd);
    if (c.inbox) {
      c.inbox->close(why);
      --*streams;
      if (c.on_close)
        c.on_close();
    }
    for (auto& kv : c.waiting)
      end_unstarted_stream(kv.second);
    conns.erase(c.id);
  }

  void queue_chunk(connection& c, std::vector<frame>& frames) {
    size_t total = 0;
    for (auto& f : frames)
      total += f->size();
    if (total == 0)
      return;
    c.out.add_raw(c.chunk_head, chunk_size_line(total, c.chunk_head));
    for (auto& f : frames)
      c.out.add(std::move(f));
    c.out.add_static(crlf);
  }

  frame retry_frame() {
    // Jitter spreads the reconnects of a drain over twice the retry time.
    auto base = sse.retry.count();
    std::uniform_int_distribution<int64_t> jitter(base, 2 * base);
    return std::make_shared<const std::string>(sse::retry_frame(jitter(rng)));
  }

  void queue_end(connection& c, close_reason why) {
    std::vector<frame> frames;
    if (why == close_reason::shutdown || why == close_reason::expired)
      frames.push_back(retry_frame());
    queue_chunk(c, frames);
    c.out.add_static(last_chunk);
    c.finishing = true;
    c.close_after = true;
    c.last_write = clock_type::now(); // the grace period starts now
  }

  /// Moves the next frames of the mailbox into the out buffer; false when
  /// there is nothing to write.
  bool refill(connection& c) {
    if (!c.inbox || c.finishing)
      return false;
    auto batch = c.inbox->take(max_frames_per_batch);
    if (batch.missed > 0)
      batch.frames.insert(batch.frames.begin(),
                          sse::missed_notice(batch.missed, c.stream_id));
    auto ends = batch.closed != close_reason::none
                && batch.closed != close_reason::client_gone;
    if (batch.frames.empty() && !ends)
      return false;
    c.frames_taken = loop_now;
    // The stream actor's first frames (its `connection` event) say that the
    // subscription is in place: a client that has the head misses nothing
    // published after it.
    if (c.stream_head)
      c.out.add(std::move(c.stream_head));
    if (batch.frames.empty())
      queue_end(c, batch.closed);
    else
      queue_chunk(c, batch.frames);
    return true;
  }

  /// Takes the responses whose turn has come, in request order.
  void admit_waiting(connection& c) {
    while (!c.inbox && !c.close_after) {
      auto it = c.waiting.find(c.next_index);
      if (it == c.waiting.end())
        return;
      auto s = std::move(it->second);
      c.waiting.erase(it);
      ++c.next_index;
      auto bytes = std::make_shared<const std::string>(std::move(s.bytes));
      c.close_after = s.close_after;
      if (s.inbox) {
        c.stream_head = std::move(bytes);
        start_stream(c, std::move(s));
      } else {
        c.out.add(std::move(bytes));
      }
    }
  }

  void start_stream(connection& c, slot s) {
    c.inbox = std::move(s.inbox);
    c.stream_id = std::move(s.stream_id);
    c.on_close = std::move(s.on_close);
    c.opened = clock_type::now();
    ++*streams;
    for (auto& kv : c.waiting) // requests after a stream are never answered
      end_unstarted_stream(kv.second);
    c.waiting.clear();
    if (draining)
      c.inbox->close(close_reason::shutdown);
  }

  bool done(const connection& c) const {
    if (c.inbox)
      return c.finishing || c.inbox->closed();
    if (c.close_after)
      return true;
    return c.detached_after && c.next_index >= *c.detached_after;
  }

  void flush(connection& c) {
    if (c.inbox && c.inbox->reason() == close_reason::overflow) {
      release(c, close_reason::overflow, true);
      return;
    }
    admit_waiting(c);
    for (;;) {
      if (c.out.empty() && !refill(c))
        break;
      auto n = c.out.write_to(c.fd);
      if (n < 0) {
        release(c, close_reason::client_gone);
        return;
      }
      if (n == 0) {
        if (!c.watching_out)
          watch(c, true);
        return;
      }
      c.last_write = loop_now;
    }
    if (done(c))
      release(c, c.inbox && !c.finishing ? close_reason::client_gone
                                         : close_reason::shutdown);
    else if (c.watching_out)
      watch(c, false);
  }

  void on_ready(uint64_t id, uint32_t events) {
    auto it = conns.find(id);
    if (it == conns.end())
      return;
    auto c = it->second;
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
      release(*c, close_reason::client_gone);
      return;
    }
    if (events & EPOLLOUT)
      flush(*c);
  }

  void apply(command& cmd) {
    if (cmd.what == command::attach) {
      // Frames are gathered before a write already (coalesce); Nagle would
      // hold a subscriber's next frame until the client acknowledged the last.
      int one = 1;
      ::setsockopt(cmd.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto c = std::make_shared<connection>();
      c->id = cmd.conn;
      c->fd = cmd.fd;
      conns.emplace(c->id, c);
      watch(*c, false); // to notice a client that goes away
      return;
    }
    auto it = conns.find(cmd.conn);
    if (it == conns.end()) {
      end_unstarted_stream(cmd.payload);
      return;
    }
    auto c = it->second;
    if (cmd.what == command::detach) {
      bool stream = c->inbox || std::any_of(
        c->waiting.begin(), c->waiting.end(),
        [](auto& kv) { return kv.second.inbox != nullptr; });
      if (!stream)
        c->detached_after = cmd.index;
    } else {
      auto later = in_pass && cmd.payload.fanout > 0;
      c->waiting.emplace(cmd.index, std::move(cmd.payload));
      if (later) {
        if (held_answers.empty())
          held_since = clock_type::now();
        held_answers.push_back(c);
        return;
      }
    }
    flush(*c);
  }

  /// Takes the commands other threads posted and, with `ids`, the streams
  /// that have new frames.
  std::vector<command> take_posted(std::vector<uint64_t>* ids) {
    std::lock_guard<std::mutex> guard{mtx};
    commands_waiting.store(false, std::memory_order_relaxed);
    if (ids)
      ids->swap(ready);
    return std::exchange(commands, {});
  }

  void take_new_work() {
    uint64_t counter;
    [[maybe_unused]] auto n = ::read(event_fd, &counter, sizeof counter);
    std::vector<uint64_t> ids;
    for (auto& cmd : take_posted(&ids))
      apply(cmd);
    if (ids.empty())
      return;
    // A pass at once: it writes the streams whose last frames went out at
    // least `coalesce` ago and leaves the others for later.
    add_due(ids, clock_type::now());
  }

  void add_due(const std::vector<uint64_t>& ids, clock_type::time_point at) {
    due.insert(due.end(), ids.begin(), ids.end());
    keep_earliest(due_at, at);
  }

  static void keep_earliest(std::optional<clock_type::time_point>& slot,
                            clock_type::time_point t) {
    slot = slot ? std::min(*slot, t) : t;
  }

  /// A stream whose last frames were taken less than `coalesce` ago waits:
  /// the frames that arrive meanwhile share its next write. Its time, or
  /// nothing when it may be written now.
  std::optional<clock_type::time_point> window_end(const connection& c) const {
    auto end = c.frames_taken + sse.coalesce;
    if (!c.inbox || end <= loop_now)
      return std::nullopt;
    return end;
  }

  void flush_due() {
    std::vector<uint64_t> ids;
    ids.swap(due);
    due_at.reset();
    loop_now = clock_type::now();
    in_pass = true;
    std::vector<uint64_t> waiting;
    std::optional<clock_type::time_point> waiting_until;
    for (auto id : ids) {
      answer_between_writes();
      auto it = conns.find(id);
      if (it == conns.end())
        continue;
      auto c = it->second;
      if (auto end = window_end(*c)) {
        waiting.push_back(id);
        keep_earliest(waiting_until, *end);
      } else {
        flush(*c);
      }
    }
    in_pass = false;
    if (waiting_until)
      add_due(waiting, *waiting_until);
    write_held_answers();
  }

  /// Inside a pass: the commands posted meanwhile, and the held answers
  /// once they have waited `max_answer_hold`.
  void answer_between_writes() {
    if (commands_waiting.load(std::memory_order_relaxed))
      for (auto& cmd : take_posted(nullptr))
        apply(cmd);
    if (!held_answers.empty()
        && clock_type::now() - held_since >= max_answer_hold)
      write_held_answers();
  }

  void write_held_answers() {
    for (auto& c : std::exchange(held_answers, {}))
      if (conns.count(c->id))
        flush(*c);
  }

  /// How long epoll may wait: until `wake_by` or the due writes.
  int wait_ms(clock_type::time_point wake_by) const {
    auto until = due_at ? std::min(*due_at, wake_by) : wake_by;
    auto left = until - clock_type::now();
    if (left <= clock_type::duration::zero())
      return 0;
    // Round up: waking early would only spin.
    return static_cast<int>(
      std::chrono::ceil<std::chrono::milliseconds>(left).count());
  }

  /// Heartbeats for idle streams; a retry and the end for expired ones;
  /// and an end for streams whose last bytes found no reader in time.
  void sweep(clock_type::time_point now) {
    std::vector<connection_ptr> idle;
    std::vector<connection_ptr> expired;
    std::vector<connection_ptr> stuck;
    for (auto& kv : conns) {
      auto& c = *kv.second;
      if (!c.inbox)
        continue;
      if (c.finishing && now - c.last_write >= finish_grace)
        stuck.push_back(kv.second);
      else if (c.finishing)
        continue;
      else if (now - c.opened >= client_ttl)
        expired.push_back(kv.second);
      else if (c.out.empty() && !c.stream_head
               && now - c.last_write >= sse.heartbeat_interval)
        idle.push_back(kv.second);
    }
    for (auto& c : stuck)
      release(*c, close_reason::shutdown, true);
    for (auto& c : expired)
      c->inbox->close(close_reason::expired);
    for (auto& c : idle) {
      std::vector<frame> frames{heartbeat};
      queue_chunk(*c, frames);
    }
    for (auto& list : {idle, expired})
      for (auto& c : list)
        if (conns.count(c->id))
          flush(*c);
  }

  bool stopping(millis& drain_out) {
    std::lock_guard<std::mutex> guard{mtx};
    drain_out = drain;
    return stop_requested;
  }

  void begin_drain() {
    draining = true;
    flush_due();
    std::vector<connection_ptr> all;
    for (auto& kv : conns)
      all.push_back(kv.second);
    for (auto& c : all) {
      if (c->inbox)
        c->inbox->close(close_reason::shutdown);
      else if (c->waiting.empty() && c->out.empty())
        c->detached_after = c->next_index;
    }
    for (auto& c : all)
      if (conns.count(c->id))
        flush(*c);
  }

  void run() {
    epoll_event events[256];
    auto next_sweep = clock_type::now() + sweep_period;
    std::optional<clock_type::time_point> deadline;
    for (;;) {
      millis drain_window{0};
      if (!deadline && stopping(drain_window)) {
        deadline = clock_type::now() + drain_window;
        begin_drain();
      }
      if (deadline && (conns.empty() || clock_type::now() >= *deadline))
        return;
      auto wake_by = deadline ? std::min(*deadline, next_sweep) : next_sweep;
      auto n = ::epoll_wait(epoll_fd, events, 256, wait_ms(wake_by));
      loop_now = clock_type::now();
      for (int i = 0; i < n; ++i) {
        if (events[i].data.u64 == 0)
          take_new_work();
        else
          on_ready(events[i].data.u64, events[i].events);
      }
      auto now = clock_type::now();
      if (due_at && now >= *due_at)
        flush_due();
      if (now >= next_sweep) {
        sweep(now);
        next_sweep = now + sweep_period;
      }
    }
  }
};

output_reactor::output_reactor(sse_settings sse, millis client_ttl)
  : impl_(std::make_shared<impl>()) {
  impl_->sse = std::move(sse);
  impl_->client_ttl = client_ttl;
  impl_->streams = &streams_;
}

output_reactor::~output_reactor() {
  stop(millis{0});
}

void output_reactor::start() {
  thread_ = std::thread{[self = impl_] {
    ::pthread_setname_np(::pthread_self(), "ec.output"); // for top -H, perf
    self->run();
  }};
}

void output_reactor::stop(millis drain) {
  if (!thread_.joinable())
    return;
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    impl_->stop_requested = true;
    impl_->drain = drain;
  }
  impl_->notify();
  thread_.join();
}

uint64_t output_reactor::attach(int fd) {
  auto id = next_connection_id();
  impl_->post({command::attach, id, 0, fd, {}});
  return id;
}

void output_reactor::respond(uint64_t conn, uint64_t index, std::string bytes,
                             bool close_after, uint64_t fanout) {
  slot s;
  s.bytes = std::move(bytes);
  s.close_after = close_after;
  s.fanout = fanout;
  impl_->post({command::respond, conn, index, -1, std::move(s)});
}

std::shared_ptr<mailbox>
output_reactor::open_stream(uint64_t conn, uint64_t index, std::string head,
                            std::string stream_id,
                            std::function<void()> on_close) {
  slot s;
  s.bytes = std::move(head);
  s.inbox = std::make_shared<mailbox>(std::weak_ptr<wake_target>{impl_}, conn);
  s.stream_id = std::move(stream_id);
  s.on_close = std::move(on_close);
  auto inbox = s.inbox;
  impl_->post({command::respond, conn, index, -1, std::move(s)});
  return inbox;
}

void output_reactor::detach(uint64_t conn, uint64_t issued) {
  impl_->post({command::detach, conn, issued, -1, {}});
}

} // namespace eventcast::http
