#include "cluster/detail/nats.hpp"

#include <string>

namespace eventcast::cluster::detail {

namespace {

bool means_unreachable(natsStatus status) {
  switch (status) {
    case NATS_INVALID_ARG:
    case NATS_INVALID_SUBJECT:
    case NATS_NO_MEMORY:
    case NATS_NOT_FOUND:
    case NATS_MAX_PAYLOAD:
      return false;
    default:
      return true;
  }
}

} // namespace

error to_error(natsStatus status, std::string_view what) {
  std::string text{what};
  text += ": ";
  text += natsStatus_GetText(status);
  const char* detail = nats_GetLastError(nullptr);
  if (detail != nullptr && *detail != '\0') {
    text += " (";
    text += detail;
    text += ')';
  }
  if (status == NATS_NOT_FOUND)
    return {error_code::stream_not_found, std::move(text)};
  if (status == NATS_MAX_PAYLOAD)
    return {error_code::payload_too_large, std::move(text)};
  auto code = means_unreachable(status) ? error_code::unavailable
                                        : error_code::internal;
  return {code, std::move(text)};
}

error unavailable(std::string_view what) {
  std::string text{what};
  text += ": NATS is unreachable";
  return {error_code::unavailable, std::move(text)};
}

expected<nats_ptr<jsCtx>> make_js(natsConnection* nc,
                                  std::chrono::milliseconds wait) {
  jsOptions opts;
  jsOptions_Init(&opts);
  opts.Wait = to_ms(wait);
  jsCtx* js = nullptr;
  if (auto s = natsConnection_JetStream(&js, nc, &opts); s != NATS_OK)
    return to_error(s, "JetStream context");
  return nats_ptr<jsCtx>{js};
}

} // namespace eventcast::cluster::detail
