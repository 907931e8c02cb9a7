#pragma once

// FUZZ_CHECK: a broken invariant prints what failed and aborts, so libFuzzer
// records the input as a crash (crash-<sha1> in its artifact directory).

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace eventcast::fuzz {

/// `text` with control characters and non-ASCII bytes escaped, for messages.
inline std::string printable(std::string_view text, size_t max = 400) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : text.substr(0, max)) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xf];
    }
  }
  if (text.size() > max)
    out += "...";
  return out;
}

[[noreturn]] inline void check_failed(const char* expr, const char* file,
                                      int line, const std::string& detail) {
  std::fprintf(stderr, "\n==FUZZ_CHECK== %s:%d: invariant failed: %s\n", file,
               line, expr);
  if (!detail.empty())
    std::fprintf(stderr, "==FUZZ_CHECK== %s\n", detail.c_str());
  std::abort();
}

} // namespace eventcast::fuzz

#define FUZZ_CHECK(cond, detail)                                              \
  do {                                                                        \
    if (!(cond))                                                              \
      ::eventcast::fuzz::check_failed(#cond, __FILE__, __LINE__, (detail));   \
  } while (0)
