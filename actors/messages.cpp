#include "actors/messages.hpp"

namespace eventcast {

namespace {

const caf::atom_value category = caf::atom("eventcast");

} // namespace

caf::error make_error(error_code code, std::string message) {
  return caf::error{static_cast<uint8_t>(code), category,
                    caf::make_message(std::move(message))};
}

error_view view(const caf::error& err) {
  if (err.category() == category) {
    std::string message;
    if (err.context().match_elements<std::string>())
      message = err.context().get_as<std::string>(0);
    return {error_code_from(err.code()), std::move(message)};
  }
  if (err == caf::sec::request_timeout)
    return {error_code::timeout, "the server did not answer in time"};
  return {error_code::unavailable, "the stream is not available"};
}

} // namespace eventcast
