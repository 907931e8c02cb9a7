// sendfloor: what one small write to a loopback TCP socket costs on this
// machine, the floor under a fan-out pass (bench/README.md, "The L2 floor").
//
// Opens N connections to itself on 127.0.0.1 and drains their client ends on
// a reader thread (epoll, edge-triggered, reading until a short recv, as
// loadgen reads). Each pass writes one message to every server end with one
// sendmsg, as Eventcast's output thread writes one chunk per subscriber: a
// chunk-size line, the frames, CRLF. Reports the writer's CPU and wall time
// per send (medians over the passes), and so the shortest pass over N
// subscribers one writer can make; and the reader's CPU per recv, and so the
// shortest round over N that two cores shared by writer and reader allow.
// Human-readable lines first, then one JSON object.
//
//   sendfloor [--connections 9000] [--passes 20] [--bytes 300] [--pieces 3]

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

struct options {
  int connections = 9000;
  int passes = 20;
  size_t bytes = 300;
  int pieces = 3;
};

[[noreturn]] void fail(const char* what) {
  std::perror(what);
  std::exit(1);
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string key = argv[i];
    long value = std::atol(argv[i + 1]);
    if (key == "--connections") {
      o.connections = static_cast<int>(value);
    } else if (key == "--passes") {
      o.passes = static_cast<int>(value);
    } else if (key == "--bytes") {
      o.bytes = static_cast<size_t>(value);
    } else if (key == "--pieces") {
      o.pieces = static_cast<int>(value);
    } else {
      std::fprintf(stderr, "sendfloor: unknown option %s\n", argv[i]);
      std::exit(2);
    }
  }
  if (o.connections < 1 || o.passes < 3 || o.pieces < 1
      || o.bytes < static_cast<size_t>(o.pieces)) {
    std::fprintf(stderr, "sendfloor: connections >= 1, passes >= 3, "
                         "1 <= pieces <= bytes\n");
    std::exit(2);
  }
  return o;
}

void raise_descriptor_limit(int connections) {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < static_cast<rlim_t>(2 * connections + 16)) {
    std::fprintf(stderr, "sendfloor: descriptor limit %llu is too low for %d "
                         "connections\n",
                 static_cast<unsigned long long>(rl.rlim_cur), connections);
    std::exit(1);
  }
}

struct socket_pairs {
  std::vector<int> server; // written to
  std::vector<int> client; // drained
};

socket_pairs connect_pairs(int n) {
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), len) != 0
      || ::listen(listener, 128) != 0
      || ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    fail("sendfloor: listen");
  socket_pairs pairs;
  int one = 1;
  for (int i = 0; i < n; ++i) {
    int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (::connect(c, reinterpret_cast<sockaddr*>(&addr), len) != 0
        && errno != EINPROGRESS)
      fail("sendfloor: connect");
    int s = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK);
    if (s < 0)
      fail("sendfloor: accept");
    ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    pairs.server.push_back(s);
    pairs.client.push_back(c);
  }
  ::close(listener);
  return pairs;
}

double thread_cpu_s() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct reader_state {
  std::atomic<size_t> bytes{0};
  std::atomic<bool> counting{false}; // set once the warm-up passes are over
  std::atomic<bool> stop{false};
  // Written by the reader before it returns.
  size_t recvs = 0; // counted ones
  double cpu_s = 0; // its CPU while counting
};

/// Reads every client end until `stop`, counting the bytes, and the recvs
/// and the reader's CPU once `counting`.
void drain(const std::vector<int>& fds, reader_state& state) {
  int ep = ::epoll_create1(0);
  for (size_t i = 0; i < fds.size(); ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.fd = fds[i];
    ::epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev);
  }
  std::vector<epoll_event> ready(256);
  std::vector<char> buf(64 * 1024);
  double cpu_from = -1;
  while (!state.stop.load(std::memory_order_relaxed)) {
    int n = ::epoll_wait(ep, ready.data(), static_cast<int>(ready.size()), 50);
    if (cpu_from < 0 && state.counting.load(std::memory_order_relaxed))
      cpu_from = thread_cpu_s();
    for (int i = 0; i < n; ++i) {
      ssize_t got;
      do {
        got = ::recv(ready[i].data.fd, buf.data(), buf.size(), 0);
        if (got > 0)
          state.bytes.fetch_add(static_cast<size_t>(got),
                                std::memory_order_relaxed);
        if (cpu_from >= 0)
          ++state.recvs;
      } while (got == static_cast<ssize_t>(buf.size()));
    }
  }
  state.cpu_s = cpu_from < 0 ? 0 : thread_cpu_s() - cpu_from;
  ::close(ep);
}

double wall_s() {
  return std::chrono::duration<double>(
           std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

/// Waits (bounded) until the reader has every byte written so far, so that
/// each pass starts on empty socket buffers, as a reader that keeps up sees.
void wait_drained(const std::atomic<size_t>& bytes_read, size_t written) {
  auto until = wall_s() + 5.0;
  while (bytes_read.load(std::memory_order_relaxed) < written && wall_s() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

} // namespace

int main(int argc, char** argv) {
  auto opt = parse(argc, argv);
  raise_descriptor_limit(opt.connections);
  auto pairs = connect_pairs(opt.connections);
  reader_state reading;
  std::thread reader{[&] { drain(pairs.client, reading); }};

  std::string payload(opt.bytes, 'x');
  std::vector<iovec> pieces;
  size_t piece = opt.bytes / static_cast<size_t>(opt.pieces);
  for (int i = 0; i < opt.pieces; ++i) {
    size_t from = static_cast<size_t>(i) * piece;
    size_t size = i + 1 == opt.pieces ? opt.bytes - from : piece;
    pieces.push_back({&payload[from], size});
  }
  msghdr msg{};
  msg.msg_iov = pieces.data();
  msg.msg_iovlen = pieces.size();

  std::vector<double> cpu_us, wall_us;
  size_t written = 0, short_writes = 0;
  for (int pass = 0; pass < opt.passes; ++pass) {
    if (pass == 2) // the first passes warm caches and allocators
      reading.counting = true;
    auto cpu0 = thread_cpu_s();
    auto wall0 = wall_s();
    for (int fd : pairs.server) {
      auto n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
      if (n > 0)
        written += static_cast<size_t>(n);
      if (n != static_cast<ssize_t>(opt.bytes))
        ++short_writes;
    }
    auto per_send = 1e6 / opt.connections;
    if (pass >= 2) {
      cpu_us.push_back((thread_cpu_s() - cpu0) * per_send);
      wall_us.push_back((wall_s() - wall0) * per_send);
    }
    wait_drained(reading.bytes, written);
  }
  reading.stop = true;
  reader.join();

  auto cpu = median(cpu_us), wall = median(wall_us);
  auto recv_cpu = reading.recvs == 0 ? 0.0 : reading.cpu_s * 1e6 / reading.recvs;
  // Writer and reader together on two cores: half their CPU per connection.
  auto round_ms = (cpu + recv_cpu) / 2 * opt.connections / 1000.0;
  std::printf("sendfloor: %d connections, %zu bytes in %d pieces: %.2f us CPU, "
              "%.2f us wall per send; one pass over them %.1f ms; %zu short "
              "writes\n",
              opt.connections, opt.bytes, opt.pieces, cpu, wall,
              wall * opt.connections / 1000.0, short_writes);
  std::printf("sendfloor: reader %.2f us CPU per recv (%zu recvs); a round "
              "over them on two cores at least %.1f ms\n",
              recv_cpu, reading.recvs, round_ms);
  std::printf("{\"connections\":%d,\"bytes\":%zu,\"pieces\":%d,\"passes\":%d,"
              "\"cpu_us_per_send\":%.3f,\"wall_us_per_send\":%.3f,"
              "\"pass_ms\":%.2f,\"cpu_us_per_recv\":%.3f,\"recvs\":%zu,"
              "\"two_core_round_ms\":%.2f,\"short_writes\":%zu}\n",
              opt.connections, opt.bytes, opt.pieces, opt.passes, cpu, wall,
              wall * opt.connections / 1000.0, recv_cpu, reading.recvs,
              round_ms, short_writes);
  return short_writes == 0 ? 0 : 1;
}
