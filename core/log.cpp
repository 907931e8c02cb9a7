#include "core/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace eventcast::log {

namespace {

std::atomic<bool> debug_enabled{false};

const char* name(level lvl) {
  switch (lvl) {
    case level::debug: return "DEBUG";
    case level::info: return "INFO ";
    case level::warn: return "WARN ";
    default: return "ERROR";
  }
}

std::string utc_now() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
              now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

} // namespace

void set_debug(bool enabled) {
  debug_enabled = enabled;
}

bool enabled(level lvl) {
  return lvl != level::debug || debug_enabled.load(std::memory_order_relaxed);
}

void write(level lvl, std::string_view module, std::string_view text) {
  std::string line = utc_now();
  line += ' ';
  line += name(lvl);
  line += " [";
  line.append(module);
  line += "] ";
  for (char c : text)
    line += (c == '\n' || c == '\r') ? ' ' : c;
  line += '\n';
  // One fwrite per line keeps lines whole across threads.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

} // namespace eventcast::log
