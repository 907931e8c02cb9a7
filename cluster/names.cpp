#include "cluster/names.hpp"

#include <cstdint>
#include <cstdio>

namespace eventcast::cluster {

namespace {

bool kept(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
         || (c >= '0' && c <= '9') || c == '-';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

uint64_t fnv1a(std::string_view text) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

std::string bounded_stream_name(std::string name) {
  if (name.size() <= max_stream_name_length)
    return name;
  char suffix[24];
  auto len = std::snprintf(suffix, sizeof suffix, "=H%016llX",
                           static_cast<unsigned long long>(fnv1a(name)));
  name.resize(max_stream_name_length - static_cast<size_t>(len));
  return name + suffix;
}

} // namespace

std::string encode_token(std::string_view text) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (kept(static_cast<char>(c))) {
      out += static_cast<char>(c);
    } else {
      out += '=';
      out += digits[c >> 4];
      out += digits[c & 0xF];
    }
  }
  return out;
}

std::optional<std::string> decode_token(std::string_view token) {
  std::string out;
  for (size_t i = 0; i < token.size(); ++i) {
    if (kept(token[i])) {
      out += token[i];
      continue;
    }
    if (token[i] != '=' || i + 2 >= token.size())
      return std::nullopt;
    auto high = hex_value(token[i + 1]);
    auto low = hex_value(token[i + 2]);
    // A kept character written as "=XX" is not encode_token's output.
    if (high < 0 || low < 0 || kept(static_cast<char>(high * 16 + low)))
      return std::nullopt;
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

stream_names names_for(std::string_view service, std::string_view stream_id) {
  auto svc = encode_token(service);
  auto id = encode_token(stream_id);
  // '_' is always encoded, so the separator cannot be mistaken for a name's.
  return {bounded_stream_name("EC_" + svc + "_" + id), "ec." + svc + "." + id};
}

std::string generator_key(std::string_view service,
                          std::string_view stream_id) {
  return encode_token(service) + "." + encode_token(stream_id);
}

std::optional<std::pair<std::string, std::string>>
parse_generator_key(std::string_view key) {
  auto dot = key.find('.');
  if (dot == std::string_view::npos)
    return std::nullopt;
  auto service = decode_token(key.substr(0, dot));
  auto stream_id = decode_token(key.substr(dot + 1));
  if (!service || !stream_id || service->empty() || stream_id->empty())
    return std::nullopt;
  return std::make_pair(std::move(*service), std::move(*stream_id));
}

} // namespace eventcast::cluster
