#pragma once

// Test support: nats-server processes with JetStream on loopback ports, owned
// by the test that starts them (killed by pid, and by the kernel should the
// test process die first). Header-only, no test framework.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace eventcast::cluster::testing {

using namespace std::chrono_literals;

/// Polls `pred` every 10 ms until it holds or `limit` passes.
template <class Predicate>
bool wait_until(Predicate pred, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

/// $NATS_SERVER, else nats-server on PATH, else /usr/sbin/nats-server (the
/// Debian package's path, often not on a user's PATH); "" when none.
inline std::string find_nats_server() {
  auto executable = [](const std::string& p) {
    return !p.empty() && ::access(p.c_str(), X_OK) == 0;
  };
  if (const char* env = std::getenv("NATS_SERVER"); env && executable(env))
    return env;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream dirs{path};
    for (std::string dir; std::getline(dirs, dir, ':');)
      if (executable(dir + "/nats-server"))
        return dir + "/nats-server";
  }
  return executable("/usr/sbin/nats-server") ? "/usr/sbin/nats-server" : "";
}

inline const char* missing_nats_server_message() {
  return "nats-server not found (NATS_SERVER, PATH, /usr/sbin): install the "
         "Debian packages nats-server and libnats-dev (scripts/setup.sh)";
}

/// A loopback port that was free a moment ago.
inline uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0
      && ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

inline bool accepts(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr)
            == 0;
  ::close(fd);
  return ok;
}

/// A fresh directory under $TMPDIR (or /tmp), removed with its contents.
class temp_dir {
public:
  temp_dir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string{base ? base : "/tmp"}
                          + "/eventcast-nats-XXXXXX";
    if (::mkdtemp(pattern.data()) != nullptr)
      path_ = pattern;
  }
  ~temp_dir() {
    std::error_code ec;
    if (!path_.empty())
      std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::string& path() const { return path_; }

private:
  std::string path_;
};

/// One nats-server with JetStream; its store survives a restart.
class nats_server {
public:
  /// `routes` lists every cluster member's route port (itself included);
  /// empty for a standalone server.
  nats_server(std::string bin, std::string dir, std::string name,
              uint16_t port, uint16_t route_port = 0,
              std::vector<uint16_t> routes = {})
    : bin_(std::move(bin)), dir_(std::move(dir)), name_(std::move(name)),
      port_(port), route_port_(route_port), routes_(std::move(routes)) {
    write_config();
  }
  ~nats_server() { kill(SIGKILL); }
  nats_server(const nats_server&) = delete;
  nats_server& operator=(const nats_server&) = delete;

  /// Starts it and waits (at most `limit`) until it accepts clients.
  bool start(std::chrono::milliseconds limit = 10s) {
    if (pid_ > 0)
      return true;
    pid_ = spawn();
    if (pid_ <= 0)
      return false;
    return wait_until([this] { return !running() || accepts(port_); }, limit)
           && running();
  }

  /// Sends `sig` and reaps it (SIGKILL after 10 s).
  void kill(int sig) {
    if (pid_ <= 0)
      return;
    ::kill(pid_, sig);
    if (!wait_until([this] { return !running(); }, 10s)) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
  }

  void stop() { kill(SIGTERM); }

  bool running() {
    if (pid_ <= 0)
      return false;
    return ::waitpid(pid_, nullptr, WNOHANG) == 0;
  }

  std::string url() const {
    return "nats://127.0.0.1:" + std::to_string(port_);
  }
  const std::string& name() const { return name_; }
  pid_t pid() const { return pid_; }

  std::string log() const {
    std::ifstream in{dir_ + "/" + name_ + ".log"};
    std::stringstream out;
    out << in.rdbuf();
    return out.str();
  }

private:
  void write_config() {
    std::ofstream out{dir_ + "/" + name_ + ".conf"};
    out << "server_name: " << name_ << "\n"
        << "listen: 127.0.0.1:" << port_ << "\n"
        << "jetstream { store_dir: \"" << dir_ << "/" << name_ << "\" }\n";
    if (route_port_ == 0)
      return;
    out << "cluster {\n  name: eventcast-test\n"
        << "  listen: 127.0.0.1:" << route_port_ << "\n  routes: [\n";
    for (auto port : routes_)
      out << "    nats-route://127.0.0.1:" << port << "\n";
    out << "  ]\n}\n";
  }

  pid_t spawn() {
    auto conf = dir_ + "/" + name_ + ".conf";
    auto log = dir_ + "/" + name_ + ".log";
    pid_t pid = ::fork();
    if (pid != 0)
      return pid;
    // The child: dies with the test process, logs to a file.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
    }
    ::execl(bin_.c_str(), bin_.c_str(), "-c", conf.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }

  std::string bin_;
  std::string dir_;
  std::string name_;
  uint16_t port_;
  uint16_t route_port_;
  std::vector<uint16_t> routes_;
  pid_t pid_ = -1;
};

/// Three clustered servers n1..n3 on free loopback ports.
class nats_cluster {
public:
  nats_cluster(const std::string& bin, const std::string& dir) {
    std::vector<uint16_t> clients, routes;
    for (int i = 0; i < 3; ++i) {
      clients.push_back(free_port());
      routes.push_back(free_port());
    }
    for (int i = 0; i < 3; ++i)
      servers_.push_back(std::make_unique<nats_server>(
        bin, dir, "n" + std::to_string(i + 1), clients[i], routes[i], routes));
  }

  bool start() {
    for (auto& s : servers_)
      if (!s->start())
        return false;
    return true;
  }

  std::vector<std::string> urls() const {
    std::vector<std::string> out;
    for (auto& s : servers_)
      out.push_back(s->url());
    return out;
  }

  nats_server* find(const std::string& name) {
    for (auto& s : servers_)
      if (s->name() == name)
        return s.get();
    return nullptr;
  }

  nats_server& at(size_t i) { return *servers_.at(i); }

private:
  std::vector<std::unique_ptr<nats_server>> servers_;
};

} // namespace eventcast::cluster::testing
