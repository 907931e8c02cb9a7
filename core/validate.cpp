#include "core/validate.hpp"

#include <charconv>

namespace eventcast {

namespace {

bool alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
         || (c >= '0' && c <= '9');
}

} // namespace

bool valid_stream_id(std::string_view id) {
  if (id.empty() || id.size() > max_stream_id_length || !alnum(id[0]))
    return false;
  for (char c : id.substr(1))
    if (!alnum(c) && c != '_' && c != '.' && c != '-')
      return false;
  return true;
}

std::optional<uint64_t> parse_decimal(std::string_view text) {
  if (text.empty() || text.size() > 19)
    return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  return value;
}

bool valid_utf8(std::string_view text) {
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  auto continuation = [&](size_t k) {
    return k < text.size() && (byte(k) & 0xC0) == 0x80;
  };
  while (i < text.size()) {
    auto c = byte(i);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (len == 0 || c > 0xF4)
      return false;
    for (size_t k = 1; k < len; ++k)
      if (!continuation(i + k))
        return false;
    auto second = byte(i + 1);
    if ((c == 0xE0 && second < 0xA0) || (c == 0xED && second > 0x9F)
        || (c == 0xF0 && second < 0x90) || (c == 0xF4 && second > 0x8F))
      return false; // overlong, surrogate or beyond U+10FFFF
    i += len;
  }
  return true;
}

uint64_t parse_last_event_id(std::string_view text) {
  uint64_t value = 0;
  auto end = text.data() + text.size();
  auto [last, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc{} || last != end)
    return unknown_event_id;
  return value;
}

} // namespace eventcast
