#pragma once

// Our own small logger: one line per event on stderr, with a level and a
// module name. Debian builds CAF with its logging compiled out.

#include <sstream>
#include <string_view>

namespace eventcast::log {

enum class level { debug, info, warn, error };

void set_debug(bool enabled);
bool enabled(level lvl);
void write(level lvl, std::string_view module, std::string_view text);

} // namespace eventcast::log

#define EC_LOG(lvl, module, expr)                                              \
  do {                                                                         \
    if (::eventcast::log::enabled(lvl)) {                                      \
      std::ostringstream ec_log_os_;                                           \
      ec_log_os_ << expr;                                                      \
      ::eventcast::log::write(lvl, module, ec_log_os_.str());                  \
    }                                                                          \
  } while (false)

#define EC_DEBUG(module, expr) EC_LOG(::eventcast::log::level::debug, module, expr)
#define EC_INFO(module, expr) EC_LOG(::eventcast::log::level::info, module, expr)
#define EC_WARN(module, expr) EC_LOG(::eventcast::log::level::warn, module, expr)
#define EC_ERROR(module, expr) EC_LOG(::eventcast::log::level::error, module, expr)
