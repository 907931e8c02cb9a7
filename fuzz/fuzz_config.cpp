// Fuzzes the YAML config loader (config::parse_yaml). Invariant: it either
// returns settings or throws config_error; any other exception aborts (and
// so is a crash). Accepted settings are checked against the rules the
// loader promises to enforce, since the layers below trust them.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <typeinfo>

#include "config/loader.hpp"
#include "core/validate.hpp"
#include "fuzz_check.hpp"

using namespace eventcast;
using namespace eventcast::fuzz;

namespace {

bool has_control_char(std::string_view text) {
  for (char c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return true;
  return false;
}

void check_settings(const settings& s) {
  FUZZ_CHECK(s.scheduler_threads >= 1 && s.scheduler_threads <= 64, "");
  FUZZ_CHECK(s.http.reactor_threads >= 1 && s.http.reactor_threads <= 64, "");
  FUZZ_CHECK(!s.http.host.empty() && !has_control_char(s.http.host),
             "host '" + printable(s.http.host) + "'");
  FUZZ_CHECK(!has_control_char(s.http.cors_origin),
             "cors_origin '" + printable(s.http.cors_origin) + "'");
  FUZZ_CHECK(s.http.max_body_bytes >= 1, "");
  FUZZ_CHECK(s.sse.mailbox_capacity >= 1 && s.sse.history_size >= 1
               && s.sse.history_bytes >= 1,
             "");
  FUZZ_CHECK(s.sse.heartbeat_interval >= millis{100}, "");
  const millis year{365LL * 24 * 3600 * 1000};
  for (auto d : {s.http.header_timeout, s.http.body_timeout,
                 s.http.keepalive_timeout, s.http.request_timeout,
                 s.http.drain_timeout, s.sse.heartbeat_interval, s.sse.retry,
                 s.streams.idle_retention, s.limits.client_ttl})
    FUZZ_CHECK(d > millis{0} && d <= year,
               "duration " + std::to_string(d.count()) + "ms");
  FUZZ_CHECK(s.streams.max_streams >= 1 && s.limits.publish_burst >= 1, "");
  for (size_t i = 0; i < s.services.size(); ++i) {
    const auto& svc = s.services[i];
    FUZZ_CHECK(valid_stream_id(svc.name),
               "service name '" + printable(svc.name) + "'");
    FUZZ_CHECK(svc.path.size() >= 2 && svc.path[0] == '/'
                 && svc.path.back() != '/',
               "service path '" + printable(svc.path) + "'");
    FUZZ_CHECK(svc.default_interval > millis{0}, "");
    for (size_t j = 0; j < i; ++j) {
      FUZZ_CHECK(s.services[j].path != svc.path,
                 "two services on path '" + printable(svc.path) + "'");
      FUZZ_CHECK(s.services[j].name != svc.name,
                 "two services named '" + printable(svc.name) + "'");
    }
    for (size_t k = 0; k < svc.streams.size(); ++k) {
      const auto& st = svc.streams[k];
      FUZZ_CHECK(valid_stream_id(st.id), "stream id '" + printable(st.id) + "'");
      FUZZ_CHECK(st.interval > millis{0}, "");
      for (size_t l = 0; l < k; ++l)
        FUZZ_CHECK(svc.streams[l].id != st.id,
                   "duplicate stream '" + printable(st.id) + "'");
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string_view text{reinterpret_cast<const char*>(bytes), size};
  try {
    check_settings(config::parse_yaml(text));
  } catch (const config::config_error& e) {
    FUZZ_CHECK(*e.what() != '\0', "config_error without a message");
  } catch (const std::exception& e) {
    FUZZ_CHECK(false, std::string{"parse_yaml threw "} + typeid(e).name()
                        + " instead of config_error: " + printable(e.what()));
  } catch (...) {
    FUZZ_CHECK(false, "parse_yaml threw a non-std exception");
  }
  return 0;
}
