#pragma once

// The output reactor: every byte Eventcast writes to a client goes through
// its one thread. It owns a duplicate of each client connection's descriptor,
// so a descriptor number Pistache reuses for a new connection can never
// receive bytes meant for an old one; it writes a connection's responses in
// request order, and each subscriber's pending frames in one sendmsg, with
// real back-pressure (EAGAIN + EPOLLOUT).

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/mailbox.hpp"
#include "core/settings.hpp"

namespace eventcast::http {

class output_reactor {
public:
  /// Streams older than `client_ttl` end with a `retry:`, so that their
  /// clients reconnect and resume.
  output_reactor(sse_settings sse, millis client_ttl);
  ~output_reactor();

  output_reactor(const output_reactor&) = delete;
  output_reactor& operator=(const output_reactor&) = delete;

  void start();

  /// Ends every stream with a jittered `retry:` and closes all connections
  /// within `drain`, then stops the thread.
  void stop(millis drain);

  /// Takes ownership of `fd`, a duplicate of a client connection's
  /// descriptor; returns the id under which its responses are sent.
  uint64_t attach(int fd);

  /// Response number `index` (0, 1, ...) on connection `conn`: written after
  /// all responses before it; with `close_after` the connection ends then.
  /// `fanout`: for the answer to a publish, the subscribers it reaches; when
  /// there are any, it waits for the end of the pass it arrives in (40 ms at
  /// most).
  void respond(uint64_t conn, uint64_t index, std::string bytes,
               bool close_after, uint64_t fanout = 0);

  /// Response `index` is an SSE stream: `head`, then the frames of the
  /// returned mailbox as chunks until it closes. The head waits for the
  /// first frames (or the close): whoever fills the mailbox sends them once
  /// the subscriber is registered, so a client that sees the head misses
  /// nothing published after it. `on_close` runs once, on the output
  /// thread, when the stream ends for any reason.
  std::shared_ptr<mailbox> open_stream(uint64_t conn, uint64_t index,
                                       std::string head,
                                       std::string stream_id,
                                       std::function<void()> on_close);

  /// The HTTP layer forgot the connection after `issued` requests: unless it
  /// carries a stream, it closes once those responses are written.
  void detach(uint64_t conn, uint64_t issued);

  /// Open stream connections.
  size_t streams() const { return streams_.load(); }

private:
  struct impl;
  std::shared_ptr<impl> impl_;
  std::thread thread_;
  std::atomic<size_t> streams_{0};
};

} // namespace eventcast::http
