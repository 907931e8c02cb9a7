#include "cluster/names.hpp"

#include <cstdint>
#include <cstdio>

namespace eventcast::cluster {

namespace {

constexpr std::string_view stream_prefix = "EC_";
constexpr std::string_view subject_prefix = "ec.";

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

// "<prefix><token><separator><token>" as two non-empty decoded texts. The
// separator is never kept by encode_token, so the first one splits.
std::optional<std::pair<std::string, std::string>>
split_tokens(std::string_view text, std::string_view prefix, char separator) {
  if (text.substr(0, prefix.size()) != prefix)
    return std::nullopt;
  text.remove_prefix(prefix.size());
  auto at = text.find(separator);
  if (at == std::string_view::npos)
    return std::nullopt;
  auto first = decode_token(text.substr(0, at));
  auto second = decode_token(text.substr(at + 1));
  if (!first || !second || first->empty() || second->empty())
    return std::nullopt;
  return std::make_pair(std::move(*first), std::move(*second));
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
  return {bounded_stream_name(std::string{stream_prefix} + svc + "_" + id),
          std::string{subject_prefix} + svc + "." + id};
}

std::string generator_key(std::string_view service,
                          std::string_view stream_id) {
  return encode_token(service) + "." + encode_token(stream_id);
}

std::optional<std::pair<std::string, std::string>>
parse_generator_key(std::string_view key) {
  return split_tokens(key, "", '.');
}

std::string service_subjects(std::string_view service) {
  return std::string{subject_prefix} + encode_token(service) + ".*";
}

std::optional<std::pair<std::string, std::string>>
parse_stream_name(std::string_view name) {
  return split_tokens(name, stream_prefix, '_');
}

std::optional<std::pair<std::string, std::string>>
parse_stream_subject(std::string_view subject) {
  return split_tokens(subject, subject_prefix, '.');
}

std::string node_key(std::string_view node) {
  return encode_token(node);
}

} // namespace eventcast::cluster
