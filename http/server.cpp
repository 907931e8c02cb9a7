#include "http/server.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <optional>

#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/peer.h>

#include "actors/stream_publisher.hpp"
#include "core/errors.hpp"
#include "core/framing.hpp"
#include "core/json.hpp"
#include "core/limits.hpp"
#include "core/log.hpp"
#include "core/route.hpp"
#include "core/stream_info.hpp"
#include "core/validate.hpp"
#include "http/bridge.hpp"
#include "http/output.hpp"
#include "http/response.hpp"

namespace eventcast::http {

namespace {

using namespace Pistache;

constexpr size_t bridge_actors = 4;

/// What every request handler shares. Lives as long as the server.
struct context {
  caf::actor_system& sys;
  settings cfg;
  std::vector<mount> mounts;
  std::vector<std::string> paths;
  output_reactor output;
  std::atomic<uint64_t> client_ids{0};
  connection_counter connections;
  rate_limiter publishes;
  request_bridge bridge;
  stream_publisher publisher;

  context(caf::actor_system& sys, settings c, std::vector<mount> ms)
    : sys(sys),
      cfg(std::move(c)),
      mounts(std::move(ms)),
      output(cfg.sse, cfg.limits.client_ttl),
      connections(cfg.limits.max_connections,
                  cfg.limits.max_connections_per_ip),
      publishes(cfg.limits.publish_rate, cfg.limits.publish_burst),
      bridge(sys, bridge_actors, cfg.http.request_timeout),
      publisher(sys, cfg.http.request_timeout) {
    for (auto& m : mounts)
      paths.push_back(m.path);
  }
};

/// Answers one request exactly once, through the output reactor, in its
/// place among the connection's responses. One that is dropped unanswered
/// (its actor went away) answers 503, so later responses are not held up.
class responder : public pending_answer {
public:
  responder(context& ctx, uint64_t conn, uint64_t index, bool keep_alive)
    : ctx_(ctx),
      conn_(conn),
      index_(index),
      opts_{ctx.cfg.http.cors_origin, keep_alive} {
  }

  ~responder() override {
    if (!answered_)
      fail(error_code::unavailable, "the server is shutting down");
  }

  void expire() override { fail(caf::make_error(caf::sec::request_timeout)); }

  responder(const responder&) = delete;
  responder& operator=(const responder&) = delete;

  void send(int status, std::string_view body,
            std::string_view extra_headers = {}) {
    send_raw(json_response(status, body, opts_, extra_headers));
  }

  void send_raw(std::string bytes, uint64_t fanout = 0) {
    if (std::exchange(answered_, true))
      return;
    ctx_.output.respond(conn_, index_, std::move(bytes), !opts_.keep_alive,
                        fanout);
  }

  void fail(error_code code, std::string_view message,
            std::string_view field = {}, std::string_view extra = {}) {
    send(http_status(code), error_body(code, message, field), extra);
  }

  /// The status and JSON error an actor's error maps to.
  void fail(const caf::error& err) {
    auto e = view(err);
    fail(e.code, e.message);
  }

  /// `fanout`: for a publish, the subscribers it reaches.
  void ok(std::string_view message, std::string_view data_json = {},
          uint64_t fanout = 0) {
    send_raw(json_response(200, success_body(message, data_json), opts_),
             fanout);
  }

  const response_options& options() const { return opts_; }

private:
  context& ctx_;
  uint64_t conn_;
  uint64_t index_;
  response_options opts_;
  bool answered_ = false;
};

using responder_ptr = std::shared_ptr<responder>;

/// Sends one request to `dest` through the bridge and hands the reply (or
/// the error) to the responder; the Pistache thread never waits. The bridge
/// times the answer out.
template <class Result, class OnValue, class... Ts>
void ask(context& ctx, const service_actor& dest, responder_ptr r,
         OnValue on_value, Ts... xs) {
  auto job = [=](caf::event_based_actor* self) mutable {
    // The job runs once: its copies of the message can be moved out.
    self->request(dest, caf::infinite, std::move(xs)...)
      .then([=](Result& value) { on_value(*r, value); },
            [=](caf::error& err) { r->fail(err); });
  };
  ctx.bridge.run(std::move(job), r);
}

bool wants_keep_alive(const Http::Request& req) {
  auto conn = req.headers().tryGet<Http::Header::Connection>();
  if (conn)
    return conn->control() != Http::ConnectionControl::Close;
  return req.version() == Http::Version::Http11;
}

std::optional<std::string> header(const Http::Request& req,
                                  const std::string& name) {
  if (auto raw = req.headers().tryGetRaw(name))
    return raw->value();
  return std::nullopt;
}

/// The Last-Event-ID of a reconnect: the header first, then the query
/// parameter for first connects and clients that cannot set headers.
std::optional<uint64_t> last_event_id(const Http::Request& req) {
  auto text = header(req, "Last-Event-ID");
  if (!text)
    text = req.query().get("last_event_id");
  if (!text || text->empty())
    return std::nullopt;
  return parse_last_event_id(*text);
}

std::string control_message(route_kind kind, const std::string& id) {
  auto name = "Stream '" + id + "' ";
  switch (kind) {
    case route_kind::start: return name + "started";
    case route_kind::stop: return name + "stopped and removed";
    case route_kind::pause: return name + "paused";
    default: return name + "resumed";
  }
}

/// A subscribe refused for load: a browser's EventSource gives up for good
/// on anything but 200, so it gets a 200 whose stream ends at once with a
/// jittered `retry:`, and comes back later.
void refuse_stream(context& ctx, uint64_t conn, uint64_t index,
                   const route_match& m, const std::string& why) {
  EC_DEBUG("http", "subscribe to '" << m.stream_id << "' refused: " << why);
  response_options opts{ctx.cfg.http.cors_origin, true};
  ctx.output
    .open_stream(conn, index, sse_head(opts, ctx.cfg.sse.retry.count()),
                 m.stream_id, nullptr)
    ->close(close_reason::shutdown);
}

void subscribe(context& ctx, const Http::Request& req, const route_match& m,
               uint64_t conn, uint64_t index) {
  auto address = req.address().host();
  auto verdict = ctx.connections.try_acquire(address);
  if (verdict != connection_counter::verdict::admitted)
    return refuse_stream(ctx, conn, index, m,
                         verdict == connection_counter::verdict::total_full
                           ? "the server's connection limit is reached"
                           : "the client's connection limit is reached");
  auto svc = ctx.mounts[m.service].service;
  auto client_id = ++ctx.client_ids;
  response_options opts{ctx.cfg.http.cors_origin, true};
  auto stream_id = m.stream_id;
  auto inbox = ctx.output.open_stream(
    conn, index, sse_head(opts, ctx.cfg.sse.retry.count()), stream_id,
    [&ctx, address, svc, stream_id, client_id] {
      EC_DEBUG("http", "client " << client_id << " disconnected from '"
                                 << stream_id << "'");
      ctx.connections.release(address);
      caf::anon_send(svc, unsub_atom::value, stream_id, client_id);
    });
  EC_DEBUG("http", "client " << client_id << " from "
                             << req.address().host() << " connected to '"
                             << stream_id << "'");
  subscription sub{client_id, inbox, last_event_id(req)};
  auto timeout = ctx.cfg.http.request_timeout;
  ctx.bridge.run([=](caf::event_based_actor* self) {
    self->request(svc, timeout, caf::subscribe_atom::value, stream_id, sub)
      .then([](uint64_t) {},
            [inbox, stream_id](caf::error& err) {
              EC_WARN("http", "subscribe to '" << stream_id << "' refused: "
                                               << view(err).message);
              inbox->close(close_reason::shutdown);
            });
  });
}

/// A publish to one stream, from this thread straight to its stream actor;
/// the stream actor's thread answers.
void publish(context& ctx, const service_actor& svc,
             json::broadcast_request body, responder_ptr r) {
  ctx.publisher.publish(
    svc, body.stream_id, std::move(body.event),
    [r, id = body.stream_id](caf::expected<published> p) {
      if (!p)
        return r->fail(p.error());
      json::object_writer data;
      data.field("stream_id", id).field("event_id", p->event_id);
      data.field("id", p->seq);
      if (p->stored)
        data.field("stored", true);
      r->ok("Event broadcasted to stream: " + id, data.str(), p->fanout);
    });
}

void broadcast(context& ctx, const Http::Request& req, const route_match& m,
               responder_ptr r) {
  if (!ctx.publishes.allow(req.address().host(),
                           std::chrono::steady_clock::now()))
    return r->fail(error_code::rate_limited,
                   "too many broadcasts from this address; slow down", {},
                   "Retry-After: 1\r\n");
  if (req.body().size() > ctx.cfg.http.max_body_bytes)
    return r->fail(error_code::payload_too_large,
                   "the body is larger than "
                     + std::to_string(ctx.cfg.http.max_body_bytes)
                     + " bytes");
  auto parsed = json::parse_broadcast(req.body());
  if (auto* err = std::get_if<json::field_error>(&parsed))
    return r->fail(err->code == "invalid_json" ? error_code::invalid_json
                                               : error_code::invalid_field,
                   err->message, err->field);
  auto& body = std::get<json::broadcast_request>(parsed);
  auto& svc = ctx.mounts[m.service].service;
  EC_DEBUG("http", "broadcast '" << body.event.type << "' to "
                                 << (body.stream_id.empty()
                                       ? std::string{"all streams"}
                                       : "'" + body.stream_id + "'"));
  if (body.stream_id.empty())
    return ask<uint64_t>(
      ctx, svc, r,
      [](responder& r, uint64_t streams) {
        r.ok("Event broadcasted to all streams",
             json::object_writer{}.field("streams", streams).str());
      },
      publish_all_atom::value, body.event);
  publish(ctx, svc, std::move(body), std::move(r));
}

template <class Atom>
void control(context& ctx, const route_match& m, responder_ptr r, Atom op) {
  auto message = control_message(m.kind, m.stream_id);
  ask<caf::ok_atom>(
    ctx, ctx.mounts[m.service].service, r,
    [message](responder& r, caf::ok_atom) { r.ok(message); }, op,
    m.stream_id);
}

void dispatch(context& ctx, const Http::Request& req, const route_match& m,
              responder_ptr r) {
  switch (m.kind) {
    case route_kind::broadcast:
      return broadcast(ctx, req, m, std::move(r));
    case route_kind::streams:
      return ask<std::vector<stream_info>>(
        ctx, ctx.mounts[m.service].service, r,
        [](responder& r, std::vector<stream_info>& infos) {
          r.send(200, streams_body(infos));
        },
        caf::get_atom::value);
    case route_kind::start:
      return control(ctx, m, std::move(r), start_atom::value);
    case route_kind::stop:
      return control(ctx, m, std::move(r), stop_atom::value);
    case route_kind::pause:
      return control(ctx, m, std::move(r), pause_atom::value);
    case route_kind::resume:
      return control(ctx, m, std::move(r), resume_atom::value);
    case route_kind::preflight:
      return r->send_raw(preflight_response(m.allow, r->options()));
    case route_kind::health:
      return r->send(200, json::object_writer{}
                            .field("status", "ok")
                            .field("timestamp", unix_now())
                            .str());
    case route_kind::cluster:
      if (ctx.mounts.empty()) // no service to ask: nothing is clustered
        return r->send(200, cluster_body({}));
      return ask<cluster_view>(
        ctx, ctx.mounts.front().service, r,
        [](responder& r, cluster_view& view) {
          r.send(200, cluster_body(view));
        },
        cluster_atom::value);
    case route_kind::method_not_allowed:
      return r->fail(error_code::method_not_allowed,
                     std::string{"method not allowed; use "} + m.allow, {},
                     std::string{"Allow: "} + m.allow + "\r\n");
    case route_kind::bad_stream_id:
      return r->fail(error_code::invalid_stream_id, stream_id_rule,
                     "stream_id");
    default:
      return r->fail(error_code::route_not_found,
                     "no route for " + req.resource());
  }
}

/// What the front end keeps per client connection, in Pistache's peer data
/// (touched on the reactor thread only). When Pistache forgets the peer, the
/// output reactor closes the connection once its answers are written.
struct peer_link {
  std::weak_ptr<context> ctx;
  uint64_t conn = 0;
  uint64_t issued = 0; // requests answered or being answered
  request_framer framer;
  bool rejected = false; // the rest of the input is ignored

  peer_link(std::weak_ptr<context> c, uint64_t id, const http_settings& http)
    : ctx(std::move(c)),
      conn(id),
      framer(max_head_bytes, http.max_body_bytes) {
  }

  ~peer_link() {
    if (auto c = ctx.lock())
      c->output.detach(conn, issued);
  }

  static constexpr size_t max_head_bytes = 16 * 1024;
};

constexpr const char* link_key = "ec.link";

error_code framing_error(request_framer::status st) {
  switch (st) {
    case request_framer::status::head_too_large:
      return error_code::header_too_large;
    case request_framer::status::body_too_large:
      return error_code::payload_too_large;
    case request_framer::status::chunked_body:
      return error_code::length_required;
    default:
      return error_code::bad_request;
  }
}

const char* framing_message(request_framer::status st) {
  switch (st) {
    case request_framer::status::head_too_large:
      return "the request head is larger than 16 KiB";
    case request_framer::status::body_too_large:
      return "the body is larger than the limit";
    case request_framer::status::chunked_body:
      return "send the body with a Content-Length";
    default:
      return "malformed Content-Length";
  }
}

/// Pistache parses; this handler frames requests itself first (so no
/// declared length reaches Pistache's parser unchecked, and pipelined
/// requests are each answered, in order) and answers every request through
/// the output reactor.
class handler : public Http::Handler {
public:
  HTTP_PROTOTYPE(handler)

  explicit handler(std::shared_ptr<context> ctx) : ctx_(std::move(ctx)) {}

  void onInput(const char* buffer, size_t len,
               const std::shared_ptr<Tcp::Peer>& peer) override {
    auto link = link_of(peer);
    if (!link || link->rejected)
      return;
    std::string_view rest{buffer, len};
    auto parser = Http::Handler::getParser(peer);
    while (!rest.empty() && !link->rejected) {
      auto step = link->framer.feed(rest);
      auto part = rest.substr(0, step.used);
      rest.remove_prefix(step.used);
      if (step.result != request_framer::status::need_more
          && step.result != request_framer::status::complete)
        return reject(*link, framing_error(step.result),
                      framing_message(step.result));
      if (!parser->feed(part.data(), part.size()))
        return reject(*link, error_code::payload_too_large,
                      "the request is too large");
      if (step.result == request_framer::status::complete)
        parse_and_handle(peer, *link, *parser);
    }
  }

  // Requests arrive through onInput above; Pistache never calls this.
  void onRequest(const Http::Request&, Http::ResponseWriter) override {}

private:
  std::shared_ptr<peer_link> link_of(const std::shared_ptr<Tcp::Peer>& peer) {
    if (auto data = peer->tryGetData(link_key))
      return std::static_pointer_cast<peer_link>(data);
    int fd = ::fcntl(peer->fd(), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
      EC_WARN("http", "out of descriptors: refusing a connection");
      ::shutdown(peer->fd(), SHUT_RDWR);
      return nullptr;
    }
    auto link = std::make_shared<peer_link>(ctx_, ctx_->output.attach(fd),
                                            ctx_->cfg.http);
    peer->putData(link_key, link);
    return link;
  }

  void parse_and_handle(const std::shared_ptr<Tcp::Peer>& peer,
                        peer_link& link, Http::RequestParser& parser) {
    try {
      if (parser.parse() != Http::Private::State::Done) {
        parser.reset();
        return reject(link, error_code::bad_request, "incomplete request");
      }
      parser.request.copyAddress(peer->address());
      handle(parser.request, link);
      parser.reset();
      // The answer is ours to write: Pistache must treat the connection as
      // idle (keep-alive timeout) instead of cutting it with a 408.
      peer->setIdle(true);
    } catch (const std::exception& e) {
      parser.reset();
      reject(link, error_code::bad_request,
             std::string{"malformed request: "} + e.what());
    }
  }

  void handle(const Http::Request& req, peer_link& link) {
    auto index = link.issued++;
    auto m = match_route(Http::methodString(req.method()), req.resource(),
                         ctx_->paths);
    if (m.kind == route_kind::subscribe)
      return subscribe(*ctx_, req, m, link.conn, index);
    dispatch(*ctx_, req, m,
             std::make_shared<responder>(*ctx_, link.conn, index,
                                         wants_keep_alive(req)));
  }

  void reject(peer_link& link, error_code code, std::string_view message) {
    link.rejected = true;
    responder{*ctx_, link.conn, link.issued++, false}.fail(code, message);
  }

  std::shared_ptr<context> ctx_;
};

} // namespace

struct server::impl {
  std::shared_ptr<context> ctx;
  std::unique_ptr<Http::Endpoint> endpoint;
};

server::server(caf::actor_system& sys, const settings& cfg,
               std::vector<mount> mounts)
  : impl_(std::make_unique<impl>()) {
  impl_->ctx = std::make_shared<context>(sys, cfg, std::move(mounts));
}

server::~server() {
  stop(millis{0});
}

void server::start() {
  auto& http = impl_->ctx->cfg.http;
  Address addr{http.host, Port{http.port}};
  impl_->endpoint = std::make_unique<Http::Endpoint>(addr);
  auto opts = Http::Endpoint::options()
                .threads(http.reactor_threads)
                .threadsName("ec.http")
                .flags(Tcp::Options::ReuseAddr)
                // The framer bounds heads and bodies before Pistache's
                // parser sees them; this only has to be above both.
                .maxRequestSize(peer_link::max_head_bytes
                                + http.max_body_bytes + 1024)
                .headerTimeout(http.header_timeout)
                .bodyTimeout(http.body_timeout)
                .keepaliveTimeout(http.keepalive_timeout);
  impl_->endpoint->init(opts);
  impl_->endpoint->setHandler(std::make_shared<handler>(impl_->ctx));
  impl_->ctx->output.start();
  impl_->endpoint->serveThreaded();
}

uint16_t server::port() const {
  return static_cast<uint16_t>(impl_->endpoint->getPort());
}

void server::stop(millis drain) {
  if (!impl_->endpoint)
    return;
  // Stop accepting first; the output reactor holds its own descriptors, so
  // open streams drain after Pistache is gone.
  impl_->endpoint->shutdown();
  impl_->endpoint.reset();
  impl_->ctx->output.stop(drain);
  impl_->ctx->bridge.stop();
  impl_->ctx->publisher.stop();
}

} // namespace eventcast::http
