// loadgen: an SSE load generator for Eventcast and comparable servers (Nchan).
//
// N subscribers (epoll, non-blocking sockets, a connection ramp) read SSE
// streams; a publisher sends HTTP requests built from a template at a target
// rate or as fast as the server answers. Each event carries a per-stream
// sequence number and the send time (CLOCK_REALTIME, microseconds); every
// subscriber checks its own stream's sequence for duplicates, gaps and order,
// and the publish -> receive latency goes into a histogram. The server's CPU
// time, RSS/PSS and write syscalls are sampled from /proc/PID; the client's own
// CPU from /proc/self/task. Human-readable lines first, then one JSON object on
// the last line.
//
//   loadgen --port 8080 --subscribers 1000 --rate 200 --events 2000 --server-pid 1234
//   loadgen --report results.tsv [--markdown]     (medians of runs, see compare.sh)
//
// No third-party libraries: POSIX, Linux epoll/timerfd, the C++17 library.

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <queue>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

// -- time ---------------------------------------------------------------------

int64_t mono_us() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000 + ts.tv_nsec / 1000;
}

int64_t real_us() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1000000 + ts.tv_nsec / 1000;
}

void sleep_ms(int64_t ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

pid_t this_tid() {
  return static_cast<pid_t>(::syscall(SYS_gettid));
}

[[noreturn]] void die(const std::string& msg, int code = 2) {
  std::fprintf(stderr, "loadgen: %s\n", msg.c_str());
  std::exit(code);
}

// -- options ------------------------------------------------------------------

struct options {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::vector<int> sub_ports; // empty: port; subscriber thread t uses [t % n]
  int pub_port = 0;           // 0: port
  uint32_t subscribers = 10;
  uint32_t streams = 1;
  std::string sub_path_template = "/api/v1/events/stream/bench-{stream}";
  double ramp_per_sec = 2000;
  uint32_t max_pending = 100; // connects without response headers yet
  uint32_t sub_threads = 1;
  std::string pub_method = "POST";
  std::string pub_path_template = "/api/v1/events/broadcast";
  std::string pub_body_template =
    R"({"stream_id":"bench-{stream}","type":"bench","message":"m","data":{"seq":{seq},"ts":{ts_us}}})";
  std::string pub_content_type = "application/json";
  double rate = 0; // events per second in total; 0: as fast as possible
  uint64_t events = 0; // publishes to send (0: no limit, needs --duration)
  double duration = 0; // seconds of publishing (0: no limit, needs --events)
  uint32_t pub_connections = 1;
  bool unordered = false; // allow several publishes of one stream in flight
  std::vector<pid_t> server_pids;
  bool idle = false;
  int64_t settle_ms = 1000;
  int64_t hold_ms = 3000; // --idle: how long the connections are held
  int64_t drain_ms = 3000; // stop waiting after this long without progress
  int64_t drain_max_ms = 60000;
  bool reconnect = true;
  int64_t reconnect_ms = 100;
  uint32_t max_reconnects = 20; // per subscriber
  uint32_t connect_retries = 3; // per subscriber, before publishing starts
  int64_t connect_timeout_ms = 10000; // connect + response headers
  int64_t ramp_timeout_ms = 0; // 0: derived from the ramp
  std::string label;
  bool quiet = false;
};

void usage() {
  std::puts(
    "usage: loadgen [options]\n"
    "  --host H (127.0.0.1) --port P (8080)\n"
    "  --sub-ports P1,P2,.. subscriber thread t connects to P(t mod n), e.g. the\n"
    "      nodes of a cluster (with --sub-threads n); --pub-port P publishes there\n"
    "  --subscribers N --streams S (subscriber i reads stream i % S)\n"
    "  --sub-path-template T   ('/api/v1/events/stream/bench-{stream}')\n"
    "  --ramp-per-sec R (2000) --max-pending N (100) --sub-threads T (1)\n"
    "  --pub-method M (POST) --pub-path-template T ('/api/v1/events/broadcast')\n"
    "  --pub-body-template T   placeholders {stream} {seq} {ts_us} {ts_ms} {ts_s}\n"
    "  --pub-content-type CT (application/json)\n"
    "  --rate X (events/s in total; 0 = as fast as the server answers)\n"
    "  --events N | --duration SEC   (at least one; the first reached stops)\n"
    "  --pub-connections C (1): keep-alive connections, one request in flight each\n"
    "  --unordered: let one stream have several publishes in flight (order then\n"
    "               is not checked: out_of_order is reported but meaningless)\n"
    "  --server-pid PID[,PID...]  sum CPU, RSS, PSS and syscw over these\n"
    "  --idle: connect, hold --hold-ms (3000), measure memory per connection\n"
    "  --settle-ms MS (1000) --drain-ms MS (3000) --drain-max-ms MS (60000)\n"
    "  --no-reconnect | --reconnect-ms MS (100) --max-reconnects N (20)\n"
    "  --connect-retries N (3) --connect-timeout-ms MS (10000: until the response head)\n"
    "  --ramp-timeout-ms MS --label TEXT --quiet\n"
    "  --report FILE [--markdown]: medians and ratios of 'load<TAB>server<TAB>json' lines\n"
    "Exit status: 0 when every check passed, 1 when one failed, 2 on bad usage.");
}

/// "1,2,3" as numbers (pids, ports).
template <class T>
std::vector<T> parse_numbers(const std::string& text) {
  std::vector<T> out;
  std::stringstream ss{text};
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty())
      out.push_back(static_cast<T>(std::stol(item)));
  return out;
}

// -- templates ----------------------------------------------------------------

struct text_template {
  enum class part : uint8_t { literal, stream, seq, ts_us, ts_ms, ts_s };
  std::vector<std::pair<part, std::string>> parts;

  static text_template parse(const std::string& t) {
    static const std::pair<const char*, part> names[] = {
      {"{stream}", part::stream}, {"{seq}", part::seq},
      {"{ts_us}", part::ts_us},   {"{ts_ms}", part::ts_ms},
      {"{ts_s}", part::ts_s}};
    text_template r;
    std::string lit;
    size_t i = 0;
    while (i < t.size()) {
      bool matched = false;
      if (t[i] == '{')
        for (auto& [name, kind] : names)
          if (t.compare(i, std::strlen(name), name) == 0) {
            if (!lit.empty())
              r.parts.emplace_back(part::literal, std::move(lit));
            lit.clear();
            r.parts.emplace_back(kind, std::string{});
            i += std::strlen(name);
            matched = true;
            break;
          }
      if (!matched)
        lit += t[i++];
    }
    if (!lit.empty())
      r.parts.emplace_back(part::literal, std::move(lit));
    return r;
  }

  static void append_int(std::string& out, int64_t v) {
    char buf[24];
    auto res = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, res.ptr);
  }

  void render(std::string& out, uint64_t stream, uint64_t seq,
              int64_t ts_us) const {
    for (auto& [kind, lit] : parts) {
      switch (kind) {
        case part::literal: out += lit; break;
        case part::stream: append_int(out, static_cast<int64_t>(stream)); break;
        case part::seq: append_int(out, static_cast<int64_t>(seq)); break;
        case part::ts_us: append_int(out, ts_us); break;
        case part::ts_ms: append_int(out, ts_us / 1000); break;
        case part::ts_s: append_int(out, ts_us / 1000000); break;
      }
    }
  }
};

// -- histogram (log-linear, ~0.2% precision, microseconds) ----------------------

class histogram {
public:
  histogram() : counts_(1024 + 54 * 512, 0) {}

  void add(int64_t v) {
    if (v < 0)
      v = 0;
    ++counts_[index(static_cast<uint64_t>(v))];
    ++n_;
    max_ = std::max(max_, v);
  }

  void merge(const histogram& o) {
    for (size_t i = 0; i < counts_.size(); ++i)
      counts_[i] += o.counts_[i];
    n_ += o.n_;
    max_ = std::max(max_, o.max_);
  }

  uint64_t count() const { return n_; }
  int64_t max() const { return max_; }

  /// The value at quantile q (upper edge of its bucket, at most the maximum).
  int64_t quantile(double q) const {
    if (n_ == 0)
      return 0;
    auto target = static_cast<uint64_t>(std::ceil(q * static_cast<double>(n_)));
    target = std::max<uint64_t>(1, std::min(target, n_));
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= target)
        return std::min<int64_t>(upper(i), max_);
    }
    return max_;
  }

private:
  static size_t index(uint64_t v) {
    if (v < 1024)
      return static_cast<size_t>(v);
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - 9;
    return static_cast<size_t>(1024 + (shift - 1) * 512
                               + static_cast<int>((v >> shift) - 512));
  }

  static int64_t upper(size_t i) {
    if (i < 1024)
      return static_cast<int64_t>(i);
    auto k = i - 1024;
    int shift = static_cast<int>(k / 512) + 1;
    auto m = static_cast<int64_t>(k % 512 + 512);
    return ((m + 1) << shift) - 1;
  }

  std::vector<uint64_t> counts_;
  uint64_t n_ = 0;
  int64_t max_ = 0;
};

/// Per event (stream, sequence number): the latency of its first and of its
/// last delivery. An event's first delivery is the publish path plus the
/// reader's own lag; the gap to its last is the server's fan-out as the
/// reader saw it. Together they tell a server's p99 from the client's.
class event_spans {
public:
  void add(uint32_t stream, int64_t seq, int64_t latency_us) {
    if (seq >= max_seq_spanned)
      return; // a run publishes far fewer: a bad number, counted elsewhere
    if (stream >= streams_.size())
      streams_.resize(stream + 1);
    auto& spans = streams_[stream];
    auto i = static_cast<size_t>(seq);
    if (i >= spans.size())
      spans.resize(std::max(i + 1, spans.size() * 2));
    spans[i].first = std::min(spans[i].first, latency_us);
    spans[i].last = std::max(spans[i].last, latency_us);
  }

  void merge(const event_spans& o) {
    for (uint32_t st = 0; st < o.streams_.size(); ++st)
      for (size_t i = 0; i < o.streams_[st].size(); ++i)
        if (auto& sp = o.streams_[st][i]; sp.delivered()) {
          add(st, static_cast<int64_t>(i), sp.first);
          add(st, static_cast<int64_t>(i), sp.last);
        }
  }

  void fill(histogram& first, histogram& last) const {
    for (auto& spans : streams_)
      for (auto& sp : spans)
        if (sp.delivered()) {
          first.add(sp.first);
          last.add(sp.last);
        }
  }

private:
  static constexpr int64_t max_seq_spanned = int64_t{1} << 22;

  struct span {
    int64_t first = std::numeric_limits<int64_t>::max();
    int64_t last = std::numeric_limits<int64_t>::min();
    bool delivered() const { return last >= first; }
  };
  std::vector<std::vector<span>> streams_;
};

// -- /proc sampling -------------------------------------------------------------

long clock_ticks() {
  static long t = ::sysconf(_SC_CLK_TCK);
  return t > 0 ? t : 100;
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

/// utime + stime in seconds from a /proc/.../stat file; -1 when unreadable.
double stat_cpu_seconds(const std::string& path) {
  std::string s;
  if (!read_file(path, s))
    return -1;
  auto rp = s.rfind(')');
  if (rp == std::string::npos)
    return -1;
  std::istringstream in{s.substr(rp + 2)};
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // Fields after the name: 3 state ... 14 utime, 15 stime.
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14)
      utime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 15)
      stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(clock_ticks());
}

/// The number after `key` in a "key: value" file, or -1.
int64_t field_value(const std::string& text, const char* key) {
  auto p = text.find(key);
  if (p == std::string::npos)
    return -1;
  p += std::strlen(key);
  while (p < text.size() && (text[p] == ' ' || text[p] == '\t'))
    ++p;
  return std::strtoll(text.c_str() + p, nullptr, 10);
}

struct proc_sample {
  bool ok = false;
  int64_t at_us = 0;
  double cpu_s = 0;
  uint64_t syscw = 0;
  uint64_t rss_kb = 0;
  uint64_t pss_kb = 0;
};

proc_sample sample_procs(const std::vector<pid_t>& pids, bool memory,
                         bool pss) {
  proc_sample r;
  r.at_us = mono_us();
  if (pids.empty())
    return r;
  r.ok = true;
  for (auto pid : pids) {
    auto base = "/proc/" + std::to_string(pid);
    auto cpu = stat_cpu_seconds(base + "/stat");
    if (cpu < 0) {
      r.ok = false;
      continue;
    }
    r.cpu_s += cpu;
    std::string text;
    if (read_file(base + "/io", text)) {
      auto v = field_value(text, "syscw:");
      if (v >= 0)
        r.syscw += static_cast<uint64_t>(v);
    }
    if (memory && read_file(base + "/status", text)) {
      auto v = field_value(text, "VmRSS:");
      if (v >= 0)
        r.rss_kb += static_cast<uint64_t>(v);
    }
    if (pss && read_file(base + "/smaps_rollup", text)) {
      auto v = field_value(text, "\nPss:");
      if (v >= 0)
        r.pss_kb += static_cast<uint64_t>(v);
    }
  }
  return r;
}

struct machine_sample {
  uint64_t busy = 0, total = 0;
  uint64_t steal = 0; // busy time the hypervisor gave to other guests
};

machine_sample sample_machine() {
  machine_sample m;
  std::string s;
  if (!read_file("/proc/stat", s))
    return m;
  std::istringstream in{s};
  std::string cpu;
  in >> cpu;
  uint64_t v[10] = {};
  for (auto& x : v)
    in >> x;
  for (int i = 0; i < 8; ++i) // guest time is already in user
    m.total += v[i];
  m.busy = m.total - v[3] - v[4];
  m.steal = v[7];
  return m;
}

/// Counts the server's write-type system calls (write, writev, pwritev,
/// sendto, sendmsg, sendmmsg, sendfile) with perf tracepoint counters on each
/// of its threads. /proc/PID/io syscw only counts write/writev-style calls, so
/// a server that writes with sendmsg (Eventcast) or send shows almost none
/// there; both figures are reported. Needs root (or perf_event_paranoid <= 1)
/// and tracefs; absent otherwise.
class syscall_counter {
public:
  void attach(const std::vector<pid_t>& pids) {
    static const char* names[] = {"write",   "writev",   "pwritev",
                                  "pwrite64", "sendto",  "sendmsg",
                                  "sendmmsg", "sendfile64"};
    std::vector<uint64_t> ids;
    for (auto name : names)
      for (auto root : {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}) {
        std::string text;
        if (read_file(std::string{root} + "/events/syscalls/sys_enter_" + name
                        + "/id",
                      text)) {
          ids.push_back(std::strtoull(text.c_str(), nullptr, 10));
          break;
        }
      }
    if (ids.empty())
      return;
    for (auto pid : pids) {
      auto dir = "/proc/" + std::to_string(pid) + "/task";
      DIR* d = ::opendir(dir.c_str());
      if (!d)
        continue;
      while (auto* e = ::readdir(d)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
          continue;
        auto tid = static_cast<pid_t>(std::atoi(e->d_name));
        for (auto id : ids) {
          perf_event_attr attr{};
          attr.type = PERF_TYPE_TRACEPOINT;
          attr.size = sizeof attr;
          attr.config = id;
          attr.inherit = 1;
          int fd = static_cast<int>(
            ::syscall(SYS_perf_event_open, &attr, tid, -1, -1, PERF_FLAG_FD_CLOEXEC));
          if (fd < 0) {
            close_all();
            ::closedir(d);
            return;
          }
          fds_.push_back(fd);
        }
      }
      ::closedir(d);
    }
  }

  bool ok() const { return !fds_.empty(); }

  uint64_t read_total() const {
    uint64_t total = 0;
    for (auto fd : fds_) {
      uint64_t v = 0;
      if (::read(fd, &v, sizeof v) == static_cast<ssize_t>(sizeof v))
        total += v;
    }
    return total;
  }

  void close_all() {
    for (auto fd : fds_)
      ::close(fd);
    fds_.clear();
  }

  ~syscall_counter() { close_all(); }

private:
  std::vector<int> fds_;
};

std::string loadavg() {
  std::string s;
  if (!read_file("/proc/loadavg", s))
    return "";
  std::istringstream in{s};
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

/// CPU seconds of this process and of each of the given threads.
struct client_sample {
  double process_s = 0;
  std::vector<double> thread_s;
};

client_sample sample_client(const std::vector<pid_t>& tids) {
  client_sample c;
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  c.process_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
                + static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec)
                    / 1e6;
  for (auto tid : tids)
    c.thread_s.push_back(
      stat_cpu_seconds("/proc/self/task/" + std::to_string(tid) + "/stat"));
  return c;
}

/// All the figures sampled at one moment.
struct snapshot {
  int64_t at_us = 0;
  uint64_t writes = 0; // write-type system calls of the server
  proc_sample server;
  client_sample client;
  machine_sample machine;
};

// -- sockets --------------------------------------------------------------------

sockaddr_in resolve(const std::string& host, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) == 1)
    return a;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || !res)
    die("cannot resolve " + host);
  a.sin_addr = reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr;
  ::freeaddrinfo(res);
  return a;
}

/// A non-blocking socket with a connect under way; -1 on failure.
int start_connect(const sockaddr_in& addr, bool nodelay) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  if (nodelay) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) < 0
      && errno != EINPROGRESS) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool iequals_prefix(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size())
    return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(text[i]))
        != std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  return true;
}

/// Status code and framing of a response head (the text before the blank line).
struct response_head {
  int status = 0;
  bool chunked = false;
  int64_t content_length = -1;
  bool close = false;
};

response_head parse_head(std::string_view head) {
  response_head r;
  auto sp = head.find(' ');
  if (sp != std::string_view::npos)
    r.status = std::atoi(std::string{head.substr(sp + 1, 3)}.c_str());
  size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos + 2 < head.size()) {
    auto start = pos + 2;
    auto end = head.find("\r\n", start);
    auto line = head.substr(start, end == std::string_view::npos
                                      ? std::string_view::npos
                                      : end - start);
    if (iequals_prefix(line, "transfer-encoding:")) {
      std::string v{line.substr(18)};
      for (auto& ch : v)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      r.chunked = v.find("chunked") != std::string::npos;
    } else if (iequals_prefix(line, "content-length:")) {
      r.content_length = std::atoll(std::string{line.substr(15)}.c_str());
    } else if (iequals_prefix(line, "connection:")) {
      std::string v{line.substr(11)};
      for (auto& ch : v)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      r.close = v.find("close") != std::string::npos;
    }
    pos = end;
  }
  return r;
}

/// Where `key` starts in `text`, or npos. memmem rather than
/// string_view::find, which compares the whole key at every quote of a data
/// line: 8 % of the reader's CPU in L2, against 5 % for memmem.
size_t find_key(std::string_view text, std::string_view key) {
  auto* at = ::memmem(text.data(), text.size(), key.data(), key.size());
  return at ? static_cast<size_t>(static_cast<const char*>(at) - text.data())
            : std::string_view::npos;
}

/// The integer after `key` in `text`, skipping blanks; -1 when absent.
int64_t find_int(std::string_view text, std::string_view key) {
  auto p = find_key(text, key);
  if (p == std::string_view::npos)
    return -1;
  p += key.size();
  while (p < text.size() && (text[p] == ' ' || text[p] == '\t'))
    ++p;
  int64_t v = -1;
  auto res = std::from_chars(text.data() + p, text.data() + text.size(), v);
  return res.ec == std::errc{} ? v : -1;
}

/// Whether `text` begins with the literal `prefix` (a constant-size compare
/// the compiler inlines).
template <size_t N>
bool starts_with(std::string_view text, const char (&prefix)[N]) {
  return text.size() >= N - 1 && std::memcmp(text.data(), prefix, N - 1) == 0;
}

// -- shared state -----------------------------------------------------------------

enum phase_t : int { ramping = 0, measuring = 1, stopping = 2 };
std::atomic<int> g_phase{ramping};
constexpr int64_t max_seq_accepted = int64_t{1} << 26;

// -- subscribers ------------------------------------------------------------------

enum class sub_state : uint8_t {
  waiting, // not started or waiting for a (re)connect timer
  connecting,
  sending,
  headers,
  streaming,
  failed,
};

enum class chunk_state : uint8_t { size, ext, data, data_end, done };

struct subscriber {
  int fd = -1;
  uint32_t stream = 0;
  sub_state st = sub_state::waiting;
  bool chunked = false;
  chunk_state cs = chunk_state::size;
  bool counted = false; // streaming when publishing started
  bool has_data = false;
  bool missed_notice = false;
  uint16_t tries = 0;
  uint16_t reconnects = 0;
  uint32_t attempt = 0; // identifies the connection attempt for its timeout
  uint64_t chunk_left = 0;
  int64_t cur_seq = -1;
  int64_t cur_ts = -1;
  int64_t max_seq = 0;
  size_t out_off = 0;
  std::string buf; // request bytes, response head, or a partial line
  std::string last_id;
  std::vector<uint64_t> seen; // bit per sequence number
  uint64_t distinct = 0, dups = 0, ooo = 0, others = 0, missed_notices = 0;
  uint32_t disconnects = 0;
};

class sub_worker {
public:
  sub_worker(const options& opt, const sockaddr_in& addr,
             std::vector<uint32_t> streams)
    : opt_(opt), addr_(addr),
      path_(text_template::parse(opt.sub_path_template)) {
    subs_.resize(streams.size());
    for (size_t i = 0; i < streams.size(); ++i)
      subs_[i].stream = streams[i];
    inbuf_.resize(256 * 1024);
    auto threads = std::max<uint32_t>(1, opt.sub_threads);
    ramp_rate_ = opt.ramp_per_sec / threads;
    max_pending_ = std::max<uint32_t>(1, opt.max_pending / threads);
  }

  void start() { thread_ = std::thread{[this] { run(); }}; }
  void join() {
    if (thread_.joinable())
      thread_.join();
  }

  // Read by the main thread while running.
  std::atomic<pid_t> tid{0};
  std::atomic<uint32_t> streaming{0};
  std::atomic<uint32_t> failed{0};
  std::atomic<bool> ramp_done{false};
  std::atomic<bool> acked{false};
  std::atomic<uint64_t> progress{0}; // distinct deliveries to counted subscribers
  std::atomic<int64_t> last_delivery_us{0};
  std::atomic<uint64_t> disconnects_live{0};
  std::vector<uint32_t> counted_per_stream; // valid once acked

  // Read after join.
  std::vector<subscriber> subs_;
  histogram latency;
  event_spans spans;
  uint64_t connect_errors = 0;
  uint64_t connect_timeouts = 0;
  uint64_t closed_before_head = 0; // by the server, or on a bad status
  uint64_t reconnects = 0;
  uint64_t bad_events = 0;

private:
  void run() {
    tid = this_tid();
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    std::vector<epoll_event> events(1024);
    ramp_start_ = mono_us();
    int acked_phase = ramping;
    while (g_phase.load(std::memory_order_acquire) != stopping) {
      auto phase = g_phase.load(std::memory_order_acquire);
      if (phase == measuring && acked_phase == ramping) {
        mark_counted();
        acked_phase = measuring;
        acked = true;
      }
      auto now = mono_us();
      ramp(now);
      fire_timers(now);
      expire_pending(now);
      int n = ::epoll_wait(ep_, events.data(), static_cast<int>(events.size()),
                           next_timeout(now));
      if (n > 0) {
        for (int i = 0; i < n; ++i)
          handle(static_cast<size_t>(events[i].data.u64), events[i].events);
        progress.store(progress_local_, std::memory_order_relaxed);
        if (progress_local_ != last_progress_) {
          last_progress_ = progress_local_;
          last_delivery_us.store(mono_us(), std::memory_order_relaxed);
        }
      }
      streaming.store(streaming_local_, std::memory_order_relaxed);
    }
    for (auto& s : subs_)
      if (s.fd >= 0)
        ::close(s.fd);
    ::close(ep_);
  }

  int next_timeout(int64_t now) const {
    if (next_start_ < subs_.size())
      return 2;
    if (!timers_.empty()) {
      auto wait = (timers_.top().first - now) / 1000 + 1;
      return static_cast<int>(std::clamp<int64_t>(wait, 0, 20));
    }
    return 20;
  }

  void mark_counted() {
    counted_per_stream.assign(opt_.streams, 0);
    for (auto& s : subs_)
      if (s.st == sub_state::streaming) {
        s.counted = true;
        ++counted_per_stream[s.stream];
      }
  }

  void ramp(int64_t now) {
    if (next_start_ < subs_.size()) {
      auto allowed = ramp_rate_ <= 0
                       ? subs_.size()
                       : static_cast<size_t>(ramp_rate_
                                             * static_cast<double>(now - ramp_start_)
                                             / 1e6)
                           + 1;
      while (next_start_ < subs_.size() && next_start_ < allowed
             && pending_ < max_pending_)
        open(next_start_++);
    }
    if (!ramp_done && next_start_ >= subs_.size() && pending_ == 0
        && timers_.empty())
      ramp_done = true;
  }

  void fire_timers(int64_t now) {
    while (!timers_.empty() && timers_.top().first <= now
           && pending_ < max_pending_) {
      auto idx = timers_.top().second;
      timers_.pop();
      open(idx);
    }
  }

  /// Connections without a response head after --connect-timeout-ms (e.g.
  /// left in the accept queue of a server that is out of descriptors).
  void expire_pending(int64_t now) {
    while (!deadlines_.empty() && deadlines_.front().at <= now) {
      auto d = deadlines_.front();
      deadlines_.pop_front();
      auto& s = subs_[d.idx];
      if (s.attempt == d.attempt
          && (s.st == sub_state::connecting || s.st == sub_state::sending
              || s.st == sub_state::headers)) {
        ++connect_timeouts;
        lost(d.idx);
      }
    }
  }

  void schedule(size_t idx, int64_t delay_ms) {
    subs_[idx].st = sub_state::waiting;
    timers_.emplace(mono_us() + delay_ms * 1000, idx);
  }

  void open(size_t idx) {
    auto& s = subs_[idx];
    s.fd = start_connect(addr_, false);
    if (s.fd < 0) {
      ++connect_errors;
      failed_attempt(idx);
      return;
    }
    s.st = sub_state::connecting;
    ++pending_;
    ++s.attempt;
    deadlines_.push_back({mono_us() + opt_.connect_timeout_ms * 1000, idx, s.attempt});
    epoll_event ev{};
    ev.events = EPOLLOUT;
    ev.data.u64 = idx;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, s.fd, &ev);
  }

  /// A connection ended before it streamed, or could not be made.
  void failed_attempt(size_t idx) {
    auto& s = subs_[idx];
    auto phase = g_phase.load(std::memory_order_relaxed);
    if (phase == stopping)
      return;
    if (s.counted || phase == measuring) {
      // A reconnect that failed: keep trying while allowed.
      if (s.counted && opt_.reconnect && s.reconnects < opt_.max_reconnects) {
        ++s.reconnects;
        ++reconnects;
        schedule(idx, opt_.reconnect_ms);
        return;
      }
    } else if (s.tries < opt_.connect_retries) {
      ++s.tries;
      schedule(idx, 250 * s.tries);
      return;
    }
    s.st = sub_state::failed;
    ++failed;
  }

  void close_sub(size_t idx) {
    auto& s = subs_[idx];
    if (s.fd >= 0) {
      ::epoll_ctl(ep_, EPOLL_CTL_DEL, s.fd, nullptr);
      ::close(s.fd);
      s.fd = -1;
    }
    if (s.st == sub_state::connecting || s.st == sub_state::sending
        || s.st == sub_state::headers)
      --pending_;
    if (s.st == sub_state::streaming)
      --streaming_local_;
    s.buf.clear();
    s.buf.shrink_to_fit();
    s.st = sub_state::waiting;
  }

  /// The connection ended: count it and reconnect or retry.
  void lost(size_t idx, bool peer_closed = false) {
    auto& s = subs_[idx];
    bool was_streaming = s.st == sub_state::streaming;
    if (peer_closed && s.st == sub_state::headers)
      ++closed_before_head;
    close_sub(idx);
    if (g_phase.load(std::memory_order_relaxed) == stopping)
      return;
    if (was_streaming && s.counted) {
      ++s.disconnects;
      disconnects_live.fetch_add(1, std::memory_order_relaxed);
      if (opt_.reconnect && s.reconnects < opt_.max_reconnects) {
        ++s.reconnects;
        ++reconnects;
        schedule(idx, opt_.reconnect_ms);
      } else {
        s.st = sub_state::failed;
        ++failed;
      }
      return;
    }
    failed_attempt(idx);
  }

  void handle(size_t idx, uint32_t events) {
    auto& s = subs_[idx];
    if (s.fd < 0)
      return;
    if (s.st == sub_state::connecting) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0 || (events & (EPOLLERR | EPOLLHUP))) {
        ++connect_errors;
        return lost(idx);
      }
      build_request(s);
      s.st = sub_state::sending;
    }
    if (s.st == sub_state::sending) {
      auto n = ::send(s.fd, s.buf.data() + s.out_off, s.buf.size() - s.out_off,
                      MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EINTR)
        return lost(idx);
      if (n > 0)
        s.out_off += static_cast<size_t>(n);
      if (s.out_off < s.buf.size())
        return;
      s.buf.clear();
      s.out_off = 0;
      s.st = sub_state::headers;
      // Edge-triggered: a level-triggered socket is polled once more by the
      // next epoll_wait only to find it empty, ~4 % of the reader in L2.
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
      ev.data.u64 = idx;
      ::epoll_ctl(ep_, EPOLL_CTL_MOD, s.fd, &ev);
      return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
      read_available(idx);
  }

  /// Reads until a read comes back short: a TCP socket had nothing more at
  /// that moment, and bytes that come later raise a new edge.
  void read_available(size_t idx) {
    for (;;) {
      auto& s = subs_[idx];
      if (s.fd < 0)
        return;
      auto n = ::recv(s.fd, inbuf_.data(), inbuf_.size(), 0);
      now_real_ = real_us(); // per recv: a batch of ready sockets takes a while
      if (n > 0) {
        on_bytes(idx, inbuf_.data(), static_cast<size_t>(n));
        if (static_cast<size_t>(n) < inbuf_.size())
          return;
        continue;
      }
      if (n < 0 && errno == EINTR)
        continue;
      if (n == 0 || errno != EAGAIN)
        lost(idx, true);
      return;
    }
  }

  void build_request(subscriber& s) {
    std::string path;
    path_.render(path, s.stream, 0, 0);
    s.buf = "GET " + path + " HTTP/1.1\r\nHost: " + opt_.host + ":"
            + std::to_string(opt_.port)
            + "\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n";
    if (!s.last_id.empty())
      s.buf += "Last-Event-ID: " + s.last_id + "\r\n";
    s.buf += "\r\n";
    s.out_off = 0;
  }

  void on_bytes(size_t idx, const char* p, size_t n) {
    auto& s = subs_[idx];
    if (s.st == sub_state::headers) {
      s.buf.append(p, n);
      auto end = s.buf.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (s.buf.size() > 64 * 1024)
          lost(idx);
        return;
      }
      auto head = parse_head(std::string_view{s.buf}.substr(0, end));
      if (head.status != 200) {
        ++connect_errors;
        return lost(idx);
      }
      std::string rest = s.buf.substr(end + 4);
      s.buf.clear();
      s.chunked = head.chunked;
      s.cs = chunk_state::size;
      s.chunk_left = 0;
      s.has_data = false;
      s.missed_notice = false;
      s.cur_seq = s.cur_ts = -1;
      s.st = sub_state::streaming;
      --pending_;
      ++streaming_local_;
      if (!rest.empty())
        body(s, rest.data(), rest.size());
      return;
    }
    if (s.st == sub_state::streaming)
      body(s, p, n);
  }

  void body(subscriber& s, const char* p, size_t n) {
    if (!s.chunked)
      return sse(s, p, n);
    while (n > 0) {
      switch (s.cs) {
        case chunk_state::size: {
          char c = *p++;
          --n;
          if (c == '\n') {
            s.cs = s.chunk_left == 0 ? chunk_state::done : chunk_state::data;
          } else if (c == ';') {
            s.cs = chunk_state::ext;
          } else if (c != '\r') {
            int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            if (d >= 0)
              s.chunk_left = s.chunk_left * 16 + static_cast<uint64_t>(d);
          }
          break;
        }
        case chunk_state::ext: {
          auto nl = static_cast<const char*>(std::memchr(p, '\n', n));
          if (!nl)
            return;
          n -= static_cast<size_t>(nl + 1 - p);
          p = nl + 1;
          s.cs = s.chunk_left == 0 ? chunk_state::done : chunk_state::data;
          break;
        }
        case chunk_state::data: {
          auto m = static_cast<size_t>(std::min<uint64_t>(n, s.chunk_left));
          sse(s, p, m);
          p += m;
          n -= m;
          s.chunk_left -= m;
          if (s.chunk_left == 0)
            s.cs = chunk_state::data_end;
          break;
        }
        case chunk_state::data_end: {
          char c = *p++;
          --n;
          if (c == '\n')
            s.cs = chunk_state::size;
          break;
        }
        case chunk_state::done:
          return;
      }
    }
  }

  void sse(subscriber& s, const char* p, size_t n) {
    while (n > 0) {
      auto nl = static_cast<const char*>(std::memchr(p, '\n', n));
      if (!nl) {
        s.buf.append(p, n);
        return;
      }
      auto len = static_cast<size_t>(nl - p);
      if (s.buf.empty()) {
        line(s, p, len);
      } else {
        s.buf.append(p, len);
        line(s, s.buf.data(), s.buf.size());
        s.buf.clear();
      }
      p = nl + 1;
      n -= len + 1;
    }
  }

  void line(subscriber& s, const char* p, size_t len) {
    if (len > 0 && p[len - 1] == '\r')
      --len;
    std::string_view l{p, len};
    if (l.empty())
      return dispatch(s);
    if (l[0] == ':')
      return;
    if (starts_with(l, "data:")) {
      s.has_data = true;
      auto seq = find_int(l, "\"seq\":");
      if (seq >= 0) {
        s.cur_seq = seq;
      } else if (find_key(l, "events_missed") != std::string_view::npos) {
        s.missed_notice = true; // a notice carries no "seq"
        return;
      }
      auto ts = find_int(l, "\"ts\":");
      if (ts >= 0)
        s.cur_ts = ts;
      return;
    }
    if (starts_with(l, "id:")) {
      auto v = l.substr(3);
      if (!v.empty() && v[0] == ' ')
        v.remove_prefix(1);
      s.last_id.assign(v.data(), v.size());
    }
  }

  void dispatch(subscriber& s) {
    if (!s.has_data)
      return;
    auto seq = s.cur_seq;
    auto ts = s.cur_ts;
    bool missed = s.missed_notice;
    s.has_data = false;
    s.missed_notice = false;
    s.cur_seq = s.cur_ts = -1;
    if (!s.counted)
      return;
    if (missed)
      ++s.missed_notices;
    if (seq <= 0) {
      ++s.others;
      return;
    }
    if (seq >= max_seq_accepted) {
      ++bad_events;
      return;
    }
    auto word = static_cast<size_t>(seq) / 64;
    auto bit = uint64_t{1} << (static_cast<size_t>(seq) % 64);
    if (word >= s.seen.size())
      s.seen.resize(std::max(word + 1, s.seen.size() * 2), 0);
    if (s.seen[word] & bit) {
      ++s.dups;
      return;
    }
    s.seen[word] |= bit;
    ++s.distinct;
    ++progress_local_;
    if (seq < s.max_seq)
      ++s.ooo;
    else
      s.max_seq = seq;
    if (ts > 0) {
      latency.add(now_real_ - ts);
      spans.add(s.stream, seq, now_real_ - ts);
    }
  }

  const options& opt_;
  sockaddr_in addr_;
  text_template path_;
  std::thread thread_;
  int ep_ = -1;
  std::vector<char> inbuf_;
  double ramp_rate_ = 0;
  uint32_t max_pending_ = 1;
  size_t next_start_ = 0;
  uint32_t pending_ = 0;
  uint32_t streaming_local_ = 0;
  uint64_t progress_local_ = 0;
  uint64_t last_progress_ = 0;
  int64_t ramp_start_ = 0;
  int64_t now_real_ = 0;
  struct deadline {
    int64_t at;
    size_t idx;
    uint32_t attempt;
  };
  std::deque<deadline> deadlines_;
  using timer = std::pair<int64_t, size_t>;
  std::priority_queue<timer, std::vector<timer>, std::greater<timer>> timers_;
};

// -- publisher --------------------------------------------------------------------

struct pub_conn {
  int fd = -1;
  enum class st : uint8_t { down, connecting, idle, busy } state = st::down;
  std::string out;
  size_t out_off = 0;
  std::string in;
  uint32_t stream = 0;
  uint64_t seq = 0;
  int64_t sent_us = 0;
  int64_t retry_at_us = 0;
};

class publisher {
public:
  publisher(const options& opt, const sockaddr_in& addr)
    : opt_(opt),
      addr_(addr),
      path_(text_template::parse(opt.pub_path_template)),
      body_(text_template::parse(opt.pub_body_template)) {
    next_seq_.assign(opt.streams, 1);
    in_flight_.assign(opt.streams, 0);
    ok_bits_.resize(opt.streams);
    ok_count_.assign(opt.streams, 0);
    conns_.resize(std::max<uint32_t>(1, opt.pub_connections));
  }

  /// Connects the publishing connections (before the measured window).
  bool connect_all() {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    tfd_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = UINT64_MAX;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, tfd_, &ev);
    for (size_t i = 0; i < conns_.size(); ++i)
      open(i);
    auto deadline = mono_us() + 5000000;
    while (mono_us() < deadline) {
      size_t ready = 0;
      for (auto& c : conns_)
        ready += c.state == pub_conn::st::idle;
      if (ready == conns_.size())
        return true;
      poll(50);
    }
    return false;
  }

  /// Publishes until the event count or the duration is reached and every
  /// answer is in. `tick` runs about every 100 ms.
  void run(const std::function<void()>& tick) {
    start_us_ = mono_us();
    next_due_us_ = start_us_;
    interval_us_ = opt_.rate > 0 ? 1e6 / opt_.rate : 0;
    auto end_us = opt_.duration > 0
                    ? start_us_ + static_cast<int64_t>(opt_.duration * 1e6)
                    : INT64_MAX;
    int64_t next_tick = start_us_ + 100000;
    for (;;) {
      auto now = mono_us();
      if (!sending_done_
          && ((opt_.events > 0 && sent_ >= opt_.events) || now >= end_us)) {
        sending_done_ = true;
        send_end_us_ = now;
      }
      if (sending_done_ && busy_ == 0)
        break;
      if (!sending_done_)
        send_ready(now);
      if (now >= next_tick) {
        tick();
        next_tick = now + 100000;
      }
      int timeout = 50;
      auto due = static_cast<int64_t>(next_due_us_);
      if (!sending_done_ && interval_us_ > 0 && due > now) {
        // Wake at the next due time (timerfd, microsecond resolution).
        itimerspec its{};
        its.it_value.tv_sec = due / 1000000;
        its.it_value.tv_nsec = (due % 1000000) * 1000;
        ::timerfd_settime(tfd_, TFD_TIMER_ABSTIME, &its, nullptr);
      }
      if (!sending_done_ && end_us != INT64_MAX)
        timeout = static_cast<int>(
          std::clamp<int64_t>((end_us - now) / 1000 + 1, 0, 50));
      poll(timeout);
    }
    end_us_ = mono_us();
    if (!send_end_us_)
      send_end_us_ = end_us_;
  }

  // Results.
  uint64_t sent() const { return sent_; }
  uint64_t ok() const { return ok_; }
  uint64_t errors() const { return errors_; }
  uint64_t io_errors() const { return io_errors_; }
  const std::map<int, uint64_t>& statuses() const { return statuses_; }
  int64_t start_us() const { return start_us_; }
  int64_t send_end_us() const { return send_end_us_; }
  const histogram& rtt() const { return rtt_; }
  const std::vector<std::vector<uint64_t>>& ok_bits() const { return ok_bits_; }
  const std::vector<uint64_t>& ok_count() const { return ok_count_; }

  void close_all() {
    for (auto& c : conns_)
      if (c.fd >= 0)
        ::close(c.fd);
    if (tfd_ >= 0)
      ::close(tfd_);
    if (ep_ >= 0)
      ::close(ep_);
  }

private:
  void open(size_t i) {
    auto& c = conns_[i];
    c.fd = start_connect(addr_, true);
    if (c.fd < 0) {
      c.state = pub_conn::st::down;
      c.retry_at_us = mono_us() + 100000;
      return;
    }
    c.state = pub_conn::st::connecting;
    c.in.clear();
    epoll_event ev{};
    ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = i;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev);
  }

  void drop(size_t i) {
    auto& c = conns_[i];
    if (c.state == pub_conn::st::busy) {
      ++io_errors_;
      ++errors_;
      --busy_;
      --in_flight_[c.stream];
    }
    if (c.fd >= 0) {
      ::epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
      ::close(c.fd);
    }
    c.fd = -1;
    c.state = pub_conn::st::down;
    c.retry_at_us = mono_us() + 100000;
  }

  void poll(int timeout_ms) {
    epoll_event events[64];
    int n = ::epoll_wait(ep_, events, 64, timeout_ms);
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == UINT64_MAX) {
        uint64_t expirations;
        [[maybe_unused]] auto r = ::read(tfd_, &expirations, sizeof expirations);
        continue;
      }
      handle(static_cast<size_t>(events[i].data.u64), events[i].events);
    }
    auto now = mono_us();
    for (size_t i = 0; i < conns_.size(); ++i)
      if (conns_[i].state == pub_conn::st::down && now >= conns_[i].retry_at_us
          && !sending_done_)
        open(i);
  }

  void handle(size_t i, uint32_t events) {
    auto& c = conns_[i];
    if (c.fd < 0)
      return;
    if (c.state == pub_conn::st::connecting) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0 || (events & (EPOLLERR | EPOLLHUP)))
        return drop(i);
      c.state = pub_conn::st::idle;
      watch(i, false);
      return;
    }
    if ((events & EPOLLOUT) && c.state == pub_conn::st::busy
        && c.out_off < c.out.size())
      write_some(i);
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
      char buf[16384];
      for (;;) {
        auto n = ::recv(c.fd, buf, sizeof buf, 0);
        if (n > 0) {
          c.in.append(buf, static_cast<size_t>(n));
          if (!parse_responses(i))
            return;
          if (static_cast<size_t>(n) < sizeof buf)
            break;
          continue;
        }
        if (n == 0 || (errno != EAGAIN && errno != EINTR))
          return drop(i);
        break;
      }
    }
  }

  void watch(size_t i, bool out) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (out ? uint32_t{EPOLLOUT} : 0u);
    ev.data.u64 = i;
    ::epoll_ctl(ep_, EPOLL_CTL_MOD, conns_[i].fd, &ev);
  }

  void write_some(size_t i) {
    auto& c = conns_[i];
    auto n = ::send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off,
                    MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR)
      return drop(i);
    if (n > 0)
      c.out_off += static_cast<size_t>(n);
    watch(i, c.out_off < c.out.size());
  }

  /// Consumes complete responses; false when the connection was dropped.
  bool parse_responses(size_t i) {
    auto& c = conns_[i];
    for (;;) {
      auto end = c.in.find("\r\n\r\n");
      if (end == std::string::npos)
        return true;
      auto head = parse_head(std::string_view{c.in}.substr(0, end));
      size_t total;
      if (head.chunked) {
        auto term = c.in.find("\r\n0\r\n\r\n", end + 2);
        if (c.in.compare(end + 4, 5, "0\r\n\r\n") == 0)
          total = end + 9;
        else if (term == std::string::npos)
          return true;
        else
          total = term + 7;
      } else {
        total = end + 4 + static_cast<size_t>(std::max<int64_t>(0, head.content_length));
        if (c.in.size() < total)
          return true;
      }
      c.in.erase(0, total);
      if (c.state != pub_conn::st::busy)
        continue; // unsolicited (e.g. a 408 before closing)
      on_response(c, head.status);
      if (head.close) {
        drop(i);
        return false;
      }
    }
  }

  void on_response(pub_conn& c, int status) {
    --busy_;
    --in_flight_[c.stream];
    c.state = pub_conn::st::idle;
    rtt_.add(mono_us() - c.sent_us);
    ++statuses_[status];
    if (status >= 200 && status < 300) {
      ++ok_;
      auto& bits = ok_bits_[c.stream];
      auto word = static_cast<size_t>(c.seq / 64);
      if (word >= bits.size())
        bits.resize(std::max(word + 1, bits.size() * 2), 0);
      bits[word] |= uint64_t{1} << (c.seq % 64);
      ++ok_count_[c.stream];
    } else {
      ++errors_;
    }
  }

  /// The next stream to publish to, or -1 when every one is in flight.
  int64_t pick_stream() {
    auto s = opt_.streams;
    for (uint32_t k = 0; k < s; ++k) {
      auto candidate = (rr_ + k) % s;
      if (opt_.unordered || in_flight_[candidate] == 0) {
        rr_ = (candidate + 1) % s;
        return candidate;
      }
    }
    return -1;
  }

  void send_ready(int64_t now) {
    for (size_t i = 0; i < conns_.size(); ++i) {
      auto& c = conns_[i];
      if (c.state != pub_conn::st::idle)
        continue;
      if (opt_.events > 0 && sent_ >= opt_.events)
        return;
      if (interval_us_ > 0 && now < static_cast<int64_t>(next_due_us_))
        return;
      auto stream = pick_stream();
      if (stream < 0)
        return;
      c.stream = static_cast<uint32_t>(stream);
      c.seq = next_seq_[c.stream]++;
      ++in_flight_[c.stream];
      body_text_.clear();
      body_.render(body_text_, c.stream, c.seq, real_us());
      path_text_.clear();
      path_.render(path_text_, c.stream, c.seq, 0);
      c.out.clear();
      c.out += opt_.pub_method;
      c.out += ' ';
      c.out += path_text_;
      c.out += " HTTP/1.1\r\nHost: ";
      c.out += opt_.host;
      c.out += "\r\nContent-Type: ";
      c.out += opt_.pub_content_type;
      c.out += "\r\nAccept: application/json\r\nContent-Length: ";
      c.out += std::to_string(body_text_.size());
      c.out += "\r\n\r\n";
      c.out += body_text_;
      c.out_off = 0;
      c.sent_us = mono_us();
      c.state = pub_conn::st::busy;
      ++busy_;
      ++sent_;
      if (interval_us_ > 0)
        next_due_us_ += interval_us_;
      write_some(i);
    }
  }

  const options& opt_;
  sockaddr_in addr_;
  text_template path_;
  text_template body_;
  std::string body_text_, path_text_;
  std::vector<pub_conn> conns_;
  std::vector<uint64_t> next_seq_;
  std::vector<uint32_t> in_flight_;
  std::vector<std::vector<uint64_t>> ok_bits_;
  std::vector<uint64_t> ok_count_;
  std::map<int, uint64_t> statuses_;
  histogram rtt_;
  int ep_ = -1;
  int tfd_ = -1;
  uint32_t rr_ = 0;
  uint32_t busy_ = 0;
  uint64_t sent_ = 0, ok_ = 0, errors_ = 0, io_errors_ = 0;
  bool sending_done_ = false;
  int64_t start_us_ = 0, send_end_us_ = 0, end_us_ = 0;
  double next_due_us_ = 0, interval_us_ = 0;
};

// -- JSON output -------------------------------------------------------------------

class json_out {
public:
  json_out& num(const char* key, double v) {
    sep(key);
    if (!std::isfinite(v)) {
      s_ += "null";
      return *this;
    }
    char buf[64];
    if (v == std::floor(v) && std::fabs(v) < 1e15)
      std::snprintf(buf, sizeof buf, "%.0f", v);
    else
      std::snprintf(buf, sizeof buf, "%.3f", v);
    s_ += buf;
    return *this;
  }
  json_out& num3(const char* key, double v) { // three decimals
    sep(key);
    if (!std::isfinite(v)) {
      s_ += "null";
      return *this;
    }
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3f", v);
    s_ += buf;
    return *this;
  }
  json_out& null(const char* key) {
    sep(key);
    s_ += "null";
    return *this;
  }
  json_out& boolean(const char* key, bool v) {
    sep(key);
    s_ += v ? "true" : "false";
    return *this;
  }
  json_out& str(const char* key, const std::string& v) {
    sep(key);
    s_ += '"';
    for (char c : v) {
      if (c == '"' || c == '\\')
        s_ += '\\';
      if (static_cast<unsigned char>(c) < 0x20)
        continue;
      s_ += c;
    }
    s_ += '"';
    return *this;
  }
  std::string done() { return s_ + "}"; }

private:
  void sep(const char* key) {
    s_ += s_.size() > 1 ? ",\"" : "\"";
    s_ += key;
    s_ += "\":";
  }
  std::string s_ = "{";
};

// -- report mode: medians of several runs ------------------------------------------

/// A flat JSON object's numbers (strings, booleans and null are skipped).
std::map<std::string, double> parse_flat_json(const std::string& text) {
  std::map<std::string, double> r;
  size_t i = 0;
  auto skip_ws = [&] {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])))
      ++i;
  };
  auto read_string = [&]() {
    std::string s;
    ++i; // opening quote
    while (i < text.size() && text[i] != '"') {
      if (text[i] == '\\' && i + 1 < text.size())
        ++i;
      s += text[i++];
    }
    ++i;
    return s;
  };
  skip_ws();
  if (i >= text.size() || text[i] != '{')
    return r;
  ++i;
  for (;;) {
    skip_ws();
    if (i >= text.size() || text[i] == '}')
      break;
    if (text[i] == ',') {
      ++i;
      continue;
    }
    if (text[i] != '"')
      break;
    auto key = read_string();
    skip_ws();
    if (i < text.size() && text[i] == ':')
      ++i;
    skip_ws();
    if (i < text.size() && text[i] == '"') {
      read_string();
    } else {
      auto start = i;
      while (i < text.size() && text[i] != ',' && text[i] != '}')
        ++i;
      auto v = text.substr(start, i - start);
      if (v == "true")
        r[key] = 1;
      else if (v == "false")
        r[key] = 0;
      else if (v != "null" && !v.empty())
        r[key] = std::strtod(v.c_str(), nullptr);
    }
  }
  return r;
}

double median(std::vector<double> v) {
  if (v.empty())
    return NAN;
  std::sort(v.begin(), v.end());
  auto n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string fmt(double v) {
  if (!std::isfinite(v))
    return "-";
  char buf[64];
  auto a = std::fabs(v);
  if (a >= 100000 || (v == std::floor(v) && a < 1e15))
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else if (a >= 100)
    std::snprintf(buf, sizeof buf, "%.1f", v);
  else if (a >= 1)
    std::snprintf(buf, sizeof buf, "%.2f", v);
  else
    std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

int report(const std::string& file, bool markdown) {
  std::ifstream in{file};
  if (!in)
    die("cannot read " + file);
  // load -> server -> list of runs; servers in order of appearance.
  std::map<std::string, std::map<std::string, std::vector<std::map<std::string, double>>>> runs;
  std::vector<std::string> loads, servers;
  std::string line;
  while (std::getline(in, line)) {
    auto t1 = line.find('\t');
    auto t2 = t1 == std::string::npos ? t1 : line.find('\t', t1 + 1);
    if (t2 == std::string::npos)
      continue;
    auto load = line.substr(0, t1);
    auto server = line.substr(t1 + 1, t2 - t1 - 1);
    if (std::find(loads.begin(), loads.end(), load) == loads.end())
      loads.push_back(load);
    if (std::find(servers.begin(), servers.end(), server) == servers.end())
      servers.push_back(server);
    runs[load][server].push_back(parse_flat_json(line.substr(t2 + 1)));
  }
  if (servers.empty())
    die("no results in " + file);
  // Figures: key, label, how rounds are combined.
  struct figure {
    const char* key;
    const char* label;
    bool sum;
  };
  static const figure figures[] = {
    {"subscribers_connected", "subscribers connected", false},
    {"publishes_per_s", "publishes/s (answered)", false},
    {"delivered_per_s", "delivered events/s", false},
    {"delivered_ratio", "delivered / expected", false},
    {"lat_p50_us", "latency p50 (us)", false},
    {"lat_p99_us", "latency p99 (us)", false},
    {"lat_p999_us", "latency p99.9 (us)", false},
    {"lat_max_us", "latency max (us)", false},
    {"event_first_p50_us", "an event's first delivery p50 (us)", false},
    {"event_first_p99_us", "an event's first delivery p99 (us)", false},
    {"event_last_p50_us", "an event's last delivery p50 (us)", false},
    {"event_last_p99_us", "an event's last delivery p99 (us)", false},
    {"pub_rtt_p50_us", "publish round trip p50 (us)", false},
    {"server_cpu_pct", "server CPU % (of one core)", false},
    {"client_cpu_pct", "client CPU % (of one core)", false},
    {"client_thread_max_pct", "busiest client thread CPU %", false},
    {"machine_busy_pct", "machine busy % (both cores)", false},
    {"other_cpu_pct", "other processes' CPU %", false},
    {"steal_pct", "host steal % (vCPU time to other guests)", false},
    {"write_syscalls_per_event", "server write-type syscalls / delivered event", false},
    {"syscw_per_event", "server syscw (/proc/PID/io) / delivered event", false},
    {"server_cpu_us_per_event", "server CPU us / delivered event", false},
    {"rss_per_conn_kb", "server RSS / connection (KiB)", false},
    {"pss_per_conn_kb", "server PSS / connection (KiB)", false},
    {"server_rss_kb", "server RSS after ramp (KiB)", false},
    {"ramp_s", "ramp time (s)", false},
    {"dups", "duplicates (sum of rounds)", true},
    {"missing", "missing events (sum of rounds)", true},
    {"gaps", "gaps (sum of rounds)", true},
    {"out_of_order", "out of order (sum of rounds)", true},
    {"disconnects", "disconnects (sum of rounds)", true},
    {"publish_errors", "publish errors (sum of rounds)", true},
    {"subscribers_failed", "subscribers failed (sum of rounds)", true},
  };
  auto a = servers[0];
  auto b = servers.size() > 1 ? servers[1] : std::string{};
  for (auto& load : loads) {
    auto& by_server = runs[load];
    auto na = by_server[a].size();
    auto nb = b.empty() ? 0 : by_server[b].size();
    if (markdown) {
      std::printf("\n**%s** (%zu + %zu runs)\n\n| figure | %s | %s | %s/%s |\n| --- | ---: | ---: | ---: |\n",
                  load.c_str(), na, nb, a.c_str(), b.c_str(), a.c_str(), b.c_str());
    } else {
      std::printf("\n== %s (%zu runs %s, %zu runs %s)\n%-42s %14s %14s %9s\n", load.c_str(),
                  na, a.c_str(), nb, b.c_str(), "figure", a.c_str(), b.c_str(), "ratio");
    }
    for (auto& f : figures) {
      auto combine = [&](const std::string& server) -> double {
        std::vector<double> v;
        for (auto& run : by_server[server]) {
          auto it = run.find(f.key);
          if (it != run.end())
            v.push_back(it->second);
        }
        if (v.empty())
          return NAN;
        if (!f.sum)
          return median(v);
        double total = 0;
        for (auto x : v)
          total += x;
        return total;
      };
      auto va = combine(a);
      auto vb = b.empty() ? NAN : combine(b);
      if (!std::isfinite(va) && !std::isfinite(vb))
        continue;
      auto ratio = std::isfinite(va) && std::isfinite(vb) && vb != 0 && !f.sum
                     ? va / vb
                     : NAN;
      if (markdown)
        std::printf("| %s | %s | %s | %s |\n", f.label, fmt(va).c_str(),
                    fmt(vb).c_str(), fmt(ratio).c_str());
      else
        std::printf("%-42s %14s %14s %9s\n", f.label, fmt(va).c_str(),
                    fmt(vb).c_str(), fmt(ratio).c_str());
    }
  }
  return 0;
}

// -- main ---------------------------------------------------------------------------

void raise_fd_limit(uint64_t wanted) {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &rl);
  ::getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < wanted)
    std::fprintf(stderr,
                 "loadgen: warning: descriptor limit %llu < %llu needed; "
                 "raise the hard limit (ulimit -Hn)\n",
                 static_cast<unsigned long long>(rl.rlim_cur),
                 static_cast<unsigned long long>(wanted));
}

options parse_args(int argc, char** argv, std::string& report_file,
                   bool& markdown) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool has_value = false;
    if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    auto next = [&]() -> std::string {
      if (has_value)
        return value;
      if (i + 1 >= argc)
        die("missing value for " + arg);
      return argv[++i];
    };
    auto num = [&]() {
      auto text = next();
      char* end = nullptr;
      auto v = std::strtod(text.c_str(), &end);
      if (!end || *end != '\0' || text.empty() || v < 0)
        die("bad number for " + arg + ": " + text);
      return v;
    };
    if (arg == "--help" || arg == "-h") {
      usage();
      std::exit(0);
    } else if (arg == "--host") o.host = next();
    else if (arg == "--port") o.port = static_cast<int>(num());
    else if (arg == "--sub-ports") o.sub_ports = parse_numbers<int>(next());
    else if (arg == "--pub-port") o.pub_port = static_cast<int>(num());
    else if (arg == "--subscribers") o.subscribers = static_cast<uint32_t>(num());
    else if (arg == "--streams") o.streams = std::max<uint32_t>(1, static_cast<uint32_t>(num()));
    else if (arg == "--sub-path-template") o.sub_path_template = next();
    else if (arg == "--ramp-per-sec") o.ramp_per_sec = num();
    else if (arg == "--max-pending") o.max_pending = static_cast<uint32_t>(num());
    else if (arg == "--sub-threads") o.sub_threads = std::max<uint32_t>(1, static_cast<uint32_t>(num()));
    else if (arg == "--pub-method") o.pub_method = next();
    else if (arg == "--pub-path" || arg == "--pub-path-template") o.pub_path_template = next();
    else if (arg == "--pub-body-template") o.pub_body_template = next();
    else if (arg == "--pub-content-type") o.pub_content_type = next();
    else if (arg == "--rate") o.rate = num();
    else if (arg == "--events") o.events = static_cast<uint64_t>(num());
    else if (arg == "--duration") o.duration = num();
    else if (arg == "--pub-connections") o.pub_connections = std::max<uint32_t>(1, static_cast<uint32_t>(num()));
    else if (arg == "--unordered") o.unordered = true;
    else if (arg == "--server-pid") o.server_pids = parse_numbers<pid_t>(next());
    else if (arg == "--idle") o.idle = true;
    else if (arg == "--settle-ms") o.settle_ms = static_cast<int64_t>(num());
    else if (arg == "--hold-ms") o.hold_ms = static_cast<int64_t>(num());
    else if (arg == "--drain-ms") o.drain_ms = static_cast<int64_t>(num());
    else if (arg == "--drain-max-ms") o.drain_max_ms = static_cast<int64_t>(num());
    else if (arg == "--no-reconnect") o.reconnect = false;
    else if (arg == "--reconnect-ms") o.reconnect_ms = static_cast<int64_t>(num());
    else if (arg == "--max-reconnects") o.max_reconnects = static_cast<uint32_t>(num());
    else if (arg == "--connect-retries") o.connect_retries = static_cast<uint32_t>(num());
    else if (arg == "--connect-timeout-ms") o.connect_timeout_ms = static_cast<int64_t>(num());
    else if (arg == "--ramp-timeout-ms") o.ramp_timeout_ms = static_cast<int64_t>(num());
    else if (arg == "--label") o.label = next();
    else if (arg == "--quiet") o.quiet = true;
    else if (arg == "--report") report_file = next();
    else if (arg == "--markdown") markdown = true;
    else {
      usage();
      die("unknown option " + arg);
    }
  }
  if (report_file.empty() && !o.idle && o.events == 0 && o.duration <= 0)
    die("give --events N or --duration SEC (or --idle)");
  if (o.subscribers == 0 && !o.idle)
    std::fprintf(stderr, "loadgen: no subscribers: only the publisher runs\n");
  return o;
}

/// Percent of one core: CPU seconds over wall seconds.
double pct(double cpu_s, double wall_s) {
  return wall_s > 0 ? 100.0 * cpu_s / wall_s : NAN;
}

} // namespace

int main(int argc, char** argv) {
  std::string report_file;
  bool markdown = false;
  auto opt = parse_args(argc, argv, report_file, markdown);
  if (!report_file.empty())
    return report(report_file, markdown);

  ::signal(SIGPIPE, SIG_IGN);
  raise_fd_limit(uint64_t{opt.subscribers} + opt.pub_connections + 64);
  auto addr = resolve(opt.host, opt.port);
  auto log = [&](const char* fmt_text, auto... args) {
    if (opt.quiet)
      return;
    std::printf(fmt_text, args...);
    std::fflush(stdout);
  };
  auto load_start = loadavg();

  // Memory before any subscriber, for the per-connection figures.
  auto base = sample_procs(opt.server_pids, true, true);
  if (!opt.server_pids.empty() && !base.ok)
    die("cannot read /proc for --server-pid");

  // Subscribers, spread over the worker threads.
  auto threads = std::max<uint32_t>(1, std::min(opt.sub_threads, std::max<uint32_t>(1, opt.subscribers)));
  std::vector<std::vector<uint32_t>> assignment(threads);
  for (uint32_t i = 0; i < opt.subscribers; ++i)
    assignment[i % threads].push_back(i % opt.streams);
  std::vector<std::unique_ptr<sub_worker>> workers;
  for (uint32_t t = 0; t < threads; ++t)
    workers.push_back(std::make_unique<sub_worker>(
      opt, opt.sub_ports.empty() ? addr
                                 : resolve(opt.host, opt.sub_ports[t % opt.sub_ports.size()]),
      assignment[t]));
  auto ramp_start = mono_us();
  auto ramp_cpu0 = sample_procs(opt.server_pids, false, false);
  for (auto& w : workers)
    w->start();

  auto sum = [&](auto getter) {
    uint64_t total = 0;
    for (auto& w : workers)
      total += getter(*w);
    return total;
  };
  auto ramp_timeout = opt.ramp_timeout_ms > 0
                        ? opt.ramp_timeout_ms
                        : static_cast<int64_t>(1000.0 * opt.subscribers
                                               / std::max(1.0, opt.ramp_per_sec))
                            + 30000;
  int64_t last_print = ramp_start;
  for (;;) {
    bool done = true;
    for (auto& w : workers)
      done = done && w->ramp_done.load();
    auto now = mono_us();
    if (done || now - ramp_start > ramp_timeout * 1000)
      break;
    if (now - last_print >= 1000000) {
      last_print = now;
      log("ramp: %llu/%u streaming, %llu failed\n",
          static_cast<unsigned long long>(sum([](sub_worker& w) { return w.streaming.load(); })),
          opt.subscribers,
          static_cast<unsigned long long>(sum([](sub_worker& w) { return w.failed.load(); })));
    }
    sleep_ms(5);
  }
  auto ramp_s = static_cast<double>(mono_us() - ramp_start) / 1e6;
  auto ramp_cpu1 = sample_procs(opt.server_pids, false, false);
  log("ramp: %llu/%u streaming after %.2f s\n",
      static_cast<unsigned long long>(sum([](sub_worker& w) { return w.streaming.load(); })),
      opt.subscribers, ramp_s);
  sleep_ms(opt.settle_ms);

  // Memory with every subscriber connected.
  auto loaded = sample_procs(opt.server_pids, true, true);

  publisher pub{opt, opt.pub_port == 0 ? addr : resolve(opt.host, opt.pub_port)};
  if (!opt.idle && !pub.connect_all())
    die("the publisher cannot connect", 1);

  // Publishing starts: freeze the set of counted subscribers.
  g_phase.store(measuring, std::memory_order_release);
  for (auto& w : workers)
    while (!w->acked.load())
      sleep_ms(1);
  std::vector<uint32_t> counted_per_stream(opt.streams, 0);
  for (auto& w : workers)
    for (uint32_t s = 0; s < opt.streams; ++s)
      counted_per_stream[s] += w->counted_per_stream[s];
  uint64_t counted = 0;
  for (auto c : counted_per_stream)
    counted += c;
  log("measuring with %llu subscribers connected\n",
      static_cast<unsigned long long>(counted));

  std::vector<pid_t> tids;
  tids.push_back(this_tid()); // main thread: the publisher
  for (auto& w : workers)
    tids.push_back(w->tid.load());
  syscall_counter writes;
  if (!opt.server_pids.empty())
    writes.attach(opt.server_pids);
  auto snap = [&] {
    snapshot s;
    s.at_us = mono_us();
    s.writes = writes.read_total();
    s.server = sample_procs(opt.server_pids, false, false);
    s.client = sample_client(tids);
    s.machine = sample_machine();
    return s;
  };

  auto begin = snap();
  snapshot end;
  uint64_t peak_rss = loaded.rss_kb;
  int64_t window_start = begin.at_us, window_end = begin.at_us;

  auto expected_now = [&] {
    uint64_t e = 0;
    auto& counts = pub.ok_count();
    for (uint32_t s = 0; s < opt.streams; ++s)
      e += counts[s] * counted_per_stream[s];
    return e;
  };
  auto progress_now = [&] {
    return sum([](sub_worker& w) { return w.progress.load(std::memory_order_relaxed); });
  };

  if (opt.idle) {
    sleep_ms(opt.hold_ms);
    end = snap();
    window_end = end.at_us;
  } else {
    auto last_log = mono_us();
    pub.run([&] {
      auto now = mono_us();
      if (now - last_log >= 1000000) {
        last_log = now;
        auto p = sample_procs(opt.server_pids, true, false);
        peak_rss = std::max(peak_rss, p.rss_kb);
        log("publishing: %llu sent, %llu ok, %llu delivered, %llu disconnects\n",
            static_cast<unsigned long long>(pub.sent()),
            static_cast<unsigned long long>(pub.ok()),
            static_cast<unsigned long long>(progress_now()),
            static_cast<unsigned long long>(sum([](sub_worker& w) { return w.disconnects_live.load(); })));
      }
    });
    // Drain: wait until every expected event arrived or progress stops.
    auto expected_total = expected_now();
    end = snap();
    auto last_change = mono_us();
    auto last_progress = progress_now();
    auto drain_start = last_change;
    while (last_progress < expected_total) {
      sleep_ms(5);
      auto p = progress_now();
      auto now = mono_us();
      if (p != last_progress) {
        last_progress = p;
        last_change = now;
        end = snap();
      }
      if (now - last_change > opt.drain_ms * 1000
          || now - drain_start > opt.drain_max_ms * 1000)
        break;
    }
    // The window ends with the last delivery (or the last answer).
    int64_t last_delivery = 0;
    for (auto& w : workers)
      last_delivery = std::max(last_delivery, w->last_delivery_us.load());
    window_start = pub.start_us();
    window_end = std::max(last_delivery, pub.send_end_us());
    auto p = sample_procs(opt.server_pids, true, false);
    peak_rss = std::max(peak_rss, p.rss_kb);
  }
  auto load_end = loadavg();

  g_phase.store(stopping, std::memory_order_release);
  for (auto& w : workers)
    w->join();
  pub.close_all();

  // -- figures -----------------------------------------------------------------
  histogram latency;
  event_spans spans;
  uint64_t expected = 0, delivered = 0, missing = 0, gaps = 0, unexpected = 0;
  uint64_t dups = 0, ooo = 0, others = 0, missed_notices = 0, disconnects = 0;
  uint64_t reconnects = 0, connect_errors = 0, connect_timeouts = 0, bad_events = 0;
  uint64_t closed_before_head = 0;
  uint64_t failed = 0, streaming_end = 0;
  auto& ok_bits = pub.ok_bits();
  auto& ok_count = pub.ok_count();
  for (auto& w : workers) {
    latency.merge(w->latency);
    spans.merge(w->spans);
    reconnects += w->reconnects;
    connect_errors += w->connect_errors;
    connect_timeouts += w->connect_timeouts;
    closed_before_head += w->closed_before_head;
    bad_events += w->bad_events;
    for (auto& s : w->subs_) {
      if (s.st == sub_state::failed)
        ++failed;
      if (s.st == sub_state::streaming)
        ++streaming_end;
      if (!s.counted)
        continue;
      dups += s.dups;
      ooo += s.ooo;
      others += s.others;
      missed_notices += s.missed_notices;
      disconnects += s.disconnects;
      if (opt.idle)
        continue;
      expected += ok_count[s.stream];
      auto& okb = ok_bits[s.stream];
      bool in_gap = false;
      auto words = std::max(okb.size(), s.seen.size());
      for (size_t i = 0; i < words; ++i) {
        uint64_t o = i < okb.size() ? okb[i] : 0;
        uint64_t r = i < s.seen.size() ? s.seen[i] : 0;
        delivered += static_cast<uint64_t>(__builtin_popcountll(o & r));
        unexpected += static_cast<uint64_t>(__builtin_popcountll(r & ~o));
        uint64_t miss = o & ~r;
        missing += static_cast<uint64_t>(__builtin_popcountll(miss));
        if (miss == 0 && o == 0)
          continue; // sequence numbers not published: no effect on runs
        for (int b = 0; b < 64; ++b) {
          uint64_t bit = uint64_t{1} << b;
          if (!(o & bit))
            continue;
          bool m = miss & bit;
          if (m && !in_gap)
            ++gaps;
          in_gap = m;
        }
      }
    }
  }

  histogram first_delivery, last_delivery;
  spans.fill(first_delivery, last_delivery);

  auto window_s = static_cast<double>(window_end - window_start) / 1e6;
  auto cpu_window_s = static_cast<double>(end.at_us - begin.at_us) / 1e6;
  auto server_cpu = end.server.cpu_s - begin.server.cpu_s;
  auto syscw = static_cast<double>(end.server.syscw - begin.server.syscw);
  auto write_calls = static_cast<double>(end.writes - begin.writes);
  auto client_cpu = end.client.process_s - begin.client.process_s;
  double thread_max = 0;
  std::vector<double> thread_pcts;
  for (size_t i = 0; i < tids.size() && i < end.client.thread_s.size(); ++i) {
    auto p = pct(end.client.thread_s[i] - begin.client.thread_s[i], cpu_window_s);
    thread_pcts.push_back(p);
    thread_max = std::max(thread_max, p);
  }
  auto mtotal = static_cast<double>(end.machine.total - begin.machine.total);
  auto ncpu = static_cast<double>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
  // Percent of one core, like the other CPU figures: up to 100 x cores.
  auto machine_pct = [&](uint64_t machine_sample::*field) {
    return mtotal > 0 ? 100.0 * ncpu
                          * static_cast<double>(end.machine.*field - begin.machine.*field)
                          / mtotal
                      : NAN;
  };
  auto machine_busy = machine_pct(&machine_sample::busy);
  auto host_steal = machine_pct(&machine_sample::steal);
  auto other_cpu = machine_busy - pct(server_cpu, cpu_window_s)
                 - pct(client_cpu, cpu_window_s) - host_steal;
  bool have_server = !opt.server_pids.empty() && begin.server.ok && end.server.ok;
  auto conns = static_cast<double>(counted);
  double rss_per_conn = have_server && conns > 0
                          ? (static_cast<double>(loaded.rss_kb) - static_cast<double>(base.rss_kb)) / conns
                          : NAN;
  double pss_per_conn = have_server && conns > 0 && loaded.pss_kb > 0
                          ? (static_cast<double>(loaded.pss_kb) - static_cast<double>(base.pss_kb)) / conns
                          : NAN;

  bool checks_ok = counted == opt.subscribers && failed == 0;
  if (!opt.idle)
    checks_ok = checks_ok && delivered == expected && dups == 0 && missing == 0
                && ooo == 0 && pub.errors() == 0 && expected > 0;
  else
    checks_ok = checks_ok && disconnects == 0 && streaming_end == counted;

  // -- human-readable ------------------------------------------------------------
  if (!opt.quiet) {
    std::printf("--- %s\n", opt.label.empty() ? "results" : opt.label.c_str());
    std::printf("subscribers: %llu connected of %u (%llu failed; attempts: %llu refused or bad status, %llu closed before the response head, %llu timed out), %u streams, ramp %.2f s\n",
                static_cast<unsigned long long>(counted), opt.subscribers,
                static_cast<unsigned long long>(failed),
                static_cast<unsigned long long>(connect_errors),
                static_cast<unsigned long long>(closed_before_head),
                static_cast<unsigned long long>(connect_timeouts), opt.streams, ramp_s);
    if (!opt.idle) {
      std::printf("publishes: %llu sent, %llu ok, %llu errors (",
                  static_cast<unsigned long long>(pub.sent()),
                  static_cast<unsigned long long>(pub.ok()),
                  static_cast<unsigned long long>(pub.errors()));
      for (auto& [status, n] : pub.statuses())
        std::printf("%d: %llu ", status, static_cast<unsigned long long>(n));
      std::printf("), %.1f/s answered, round trip p50 %lld us p99 %lld us\n",
                  static_cast<double>(pub.ok())
                    / std::max(1e-9, static_cast<double>(pub.send_end_us() - pub.start_us()) / 1e6),
                  static_cast<long long>(pub.rtt().quantile(0.5)),
                  static_cast<long long>(pub.rtt().quantile(0.99)));
      std::printf("delivered: %llu of %llu expected (%.4f), %.0f events/s over %.2f s\n",
                  static_cast<unsigned long long>(delivered),
                  static_cast<unsigned long long>(expected),
                  expected ? static_cast<double>(delivered) / static_cast<double>(expected) : 0.0,
                  window_s > 0 ? static_cast<double>(delivered) / window_s : 0.0, window_s);
      std::printf("checks: %llu duplicates, %llu missing in %llu gaps, %llu out of order, %llu unexpected, %llu disconnects, %llu reconnects, %llu events_missed notices\n",
                  static_cast<unsigned long long>(dups), static_cast<unsigned long long>(missing),
                  static_cast<unsigned long long>(gaps), static_cast<unsigned long long>(ooo),
                  static_cast<unsigned long long>(unexpected),
                  static_cast<unsigned long long>(disconnects),
                  static_cast<unsigned long long>(reconnects),
                  static_cast<unsigned long long>(missed_notices));
      std::printf("latency publish->receive: p50 %lld us, p99 %lld us, p99.9 %lld us, max %lld us (%llu samples)\n",
                  static_cast<long long>(latency.quantile(0.5)),
                  static_cast<long long>(latency.quantile(0.99)),
                  static_cast<long long>(latency.quantile(0.999)),
                  static_cast<long long>(latency.max()),
                  static_cast<unsigned long long>(latency.count()));
      std::printf("per event: first delivery p50 %lld us, p99 %lld us; last delivery p50 %lld us, p99 %lld us (%llu events)\n",
                  static_cast<long long>(first_delivery.quantile(0.5)),
                  static_cast<long long>(first_delivery.quantile(0.99)),
                  static_cast<long long>(last_delivery.quantile(0.5)),
                  static_cast<long long>(last_delivery.quantile(0.99)),
                  static_cast<unsigned long long>(first_delivery.count()));
    } else {
      std::printf("idle: held %.2f s, %llu still streaming, %llu disconnects\n",
                  cpu_window_s, static_cast<unsigned long long>(streaming_end),
                  static_cast<unsigned long long>(disconnects));
    }
    if (have_server) {
      if (writes.ok())
        std::printf("server: %.0f write-type syscalls (write/writev/send*/sendmsg; %.3f per delivered event)\n",
                    write_calls, delivered ? write_calls / static_cast<double>(delivered) : 0.0);
      std::printf("server: CPU %.2f s (%.0f%% of one core), %.0f syscw in /proc/PID/io (%.3f per delivered event), RSS %llu -> %llu KiB (%.2f KiB/conn), PSS %.2f KiB/conn, peak RSS %llu KiB\n",
                  server_cpu, pct(server_cpu, cpu_window_s), syscw,
                  delivered ? syscw / static_cast<double>(delivered) : 0.0,
                  static_cast<unsigned long long>(base.rss_kb),
                  static_cast<unsigned long long>(loaded.rss_kb), rss_per_conn,
                  pss_per_conn, static_cast<unsigned long long>(peak_rss));
      std::printf("server ramp: %.2f s CPU for %llu connections\n",
                  ramp_cpu1.cpu_s - ramp_cpu0.cpu_s, static_cast<unsigned long long>(counted));
    }
    std::printf("client: CPU %.2f s (%.0f%% of one core); threads (publisher first):",
                client_cpu, pct(client_cpu, cpu_window_s));
    for (auto p : thread_pcts)
      std::printf(" %.0f%%", p);
    std::printf("; machine busy %.0f%% of %g cores", machine_busy, ncpu);
    if (have_server)
      std::printf(" (other processes %.0f%%)", other_cpu);
    std::printf("; host steal %.0f%%", host_steal);
    std::printf("; load %s -> %s\n", load_start.c_str(), load_end.c_str());
    const char* hint;
    if (thread_max >= 90)
      hint = "client (a loadgen thread is saturated)";
    else if (have_server && pct(server_cpu, cpu_window_s) >= 90 * ncpu)
      hint = "server CPU";
    else if (machine_busy >= 90 * ncpu)
      hint = "machine CPU (server + client + other processes fill every core)";
    else if (!opt.idle && opt.rate > 0)
      hint = "the target rate";
    else if (!opt.idle)
      hint = "publish round trip (one request in flight per stream/connection)";
    else
      hint = "none (idle)";
    std::printf("limit hint: %s\n", hint);
    std::printf("checks: %s\n", checks_ok ? "PASS" : "FAIL");
  }

  // -- JSON ------------------------------------------------------------------------
  json_out j;
  j.str("label", opt.label)
    .str("mode", opt.idle ? "idle" : "stream")
    .num("subscribers", opt.subscribers)
    .num("streams", opt.streams)
    .num("subscribers_connected", static_cast<double>(counted))
    .num("subscribers_failed", static_cast<double>(failed))
    .num("connect_errors", static_cast<double>(connect_errors))
    .num("connect_timeouts", static_cast<double>(connect_timeouts))
    .num("closed_before_head", static_cast<double>(closed_before_head))
    .num3("ramp_s", ramp_s);
  if (have_server)
    j.num3("ramp_server_cpu_s", ramp_cpu1.cpu_s - ramp_cpu0.cpu_s);
  if (!opt.idle) {
    auto pub_s = static_cast<double>(pub.send_end_us() - pub.start_us()) / 1e6;
    j.num("rate_target", opt.rate)
      .num("publishes_sent", static_cast<double>(pub.sent()))
      .num("publishes_ok", static_cast<double>(pub.ok()))
      .num("publish_errors", static_cast<double>(pub.errors()))
      .num("publish_io_errors", static_cast<double>(pub.io_errors()))
      .num3("publish_s", pub_s)
      .num("publishes_per_s", pub_s > 0 ? static_cast<double>(pub.ok()) / pub_s : NAN)
      .num("pub_rtt_p50_us", static_cast<double>(pub.rtt().quantile(0.5)))
      .num("pub_rtt_p99_us", static_cast<double>(pub.rtt().quantile(0.99)))
      .num("expected", static_cast<double>(expected))
      .num("delivered", static_cast<double>(delivered))
      .num("delivered_ratio", expected ? static_cast<double>(delivered) / static_cast<double>(expected) : NAN)
      .num("missing", static_cast<double>(missing))
      .num("gaps", static_cast<double>(gaps))
      .num("unexpected", static_cast<double>(unexpected))
      .num3("window_s", window_s)
      .num("delivered_per_s", window_s > 0 ? static_cast<double>(delivered) / window_s : NAN)
      .num("lat_samples", static_cast<double>(latency.count()));
    if (latency.count() > 0)
      j.num("lat_p50_us", static_cast<double>(latency.quantile(0.5)))
        .num("lat_p99_us", static_cast<double>(latency.quantile(0.99)))
        .num("lat_p999_us", static_cast<double>(latency.quantile(0.999)))
        .num("lat_max_us", static_cast<double>(latency.max()))
        .num("event_first_p50_us", static_cast<double>(first_delivery.quantile(0.5)))
        .num("event_first_p99_us", static_cast<double>(first_delivery.quantile(0.99)))
        .num("event_last_p50_us", static_cast<double>(last_delivery.quantile(0.5)))
        .num("event_last_p99_us", static_cast<double>(last_delivery.quantile(0.99)));
    else
      j.null("lat_p50_us").null("lat_p99_us").null("lat_p999_us").null("lat_max_us")
        .null("event_first_p50_us").null("event_first_p99_us")
        .null("event_last_p50_us").null("event_last_p99_us");
  }
  j.num("dups", static_cast<double>(dups))
    .num("out_of_order", static_cast<double>(ooo))
    .num("other_events", static_cast<double>(others))
    .num("events_missed_notices", static_cast<double>(missed_notices))
    .num("disconnects", static_cast<double>(disconnects))
    .num("reconnects", static_cast<double>(reconnects))
    .num("bad_events", static_cast<double>(bad_events))
    .num3("cpu_window_s", cpu_window_s);
  if (have_server) {
    j.num3("server_cpu_s", server_cpu)
      .num("server_cpu_pct", pct(server_cpu, cpu_window_s))
      .num("server_syscw", syscw);
    if (!opt.idle) {
      j.num3("syscw_per_event", delivered ? syscw / static_cast<double>(delivered) : NAN);
      if (writes.ok())
        j.num("server_write_syscalls", write_calls)
          .num3("write_syscalls_per_event",
                delivered ? write_calls / static_cast<double>(delivered) : NAN);
      j
        .num3("server_cpu_us_per_event",
              delivered ? 1e6 * server_cpu / static_cast<double>(delivered) : NAN);
    }
    j.num("server_rss_base_kb", static_cast<double>(base.rss_kb))
      .num("server_rss_kb", static_cast<double>(loaded.rss_kb))
      .num("server_rss_peak_kb", static_cast<double>(peak_rss))
      .num("server_pss_base_kb", static_cast<double>(base.pss_kb))
      .num("server_pss_kb", static_cast<double>(loaded.pss_kb))
      .num3("rss_per_conn_kb", rss_per_conn)
      .num3("pss_per_conn_kb", pss_per_conn);
  }
  j.num3("client_cpu_s", client_cpu)
    .num("client_cpu_pct", pct(client_cpu, cpu_window_s))
    .num("client_thread_max_pct", thread_max)
    .num("machine_busy_pct", machine_busy)
    .num("steal_pct", host_steal);
  if (have_server)
    j.num("other_cpu_pct", other_cpu);
  j    .str("loadavg_start", load_start)
    .str("loadavg_end", load_end)
    .boolean("ok", checks_ok);
  std::printf("%s\n", j.done().c_str());
  return checks_ok ? 0 : 1;
}
