#include "core/framing.hpp"

#include <algorithm>
#include <cctype>
#include <optional>

#include "core/validate.hpp"

namespace eventcast {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size()
         && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
              return std::tolower(static_cast<unsigned char>(x))
                     == std::tolower(static_cast<unsigned char>(y));
            });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

struct body_framing {
  bool bad = false;
  bool chunked = false;
  std::optional<uint64_t> length;
};

/// Reads Content-Length and Transfer-Encoding from a complete head.
body_framing read_framing(std::string_view head) {
  body_framing f;
  size_t pos = head.find('\n'); // skip the request line
  while (pos != std::string_view::npos && pos + 1 < head.size()) {
    auto end = head.find('\n', pos + 1);
    auto line = head.substr(pos + 1, end == std::string_view::npos
                                       ? std::string_view::npos
                                       : end - pos - 1);
    pos = end;
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    auto colon = line.find(':');
    if (colon == std::string_view::npos)
      continue;
    auto name = trim(line.substr(0, colon));
    auto value = trim(line.substr(colon + 1));
    if (iequals(name, "transfer-encoding")) {
      f.chunked = true;
    } else if (iequals(name, "content-length")) {
      auto n = parse_decimal(value);
      if (!n || (f.length && *f.length != *n))
        f.bad = true;
      else
        f.length = n;
    }
  }
  return f;
}

} // namespace

request_framer::step request_framer::feed(std::string_view data) {
  if (in_body_)
    return consume_body(data, 0);
  // The blank line may straddle two reads: search from a little before the
  // bytes we already held.
  auto from = head_.size() < 3 ? 0 : head_.size() - 3;
  auto take = std::min(data.size(), max_head_ + 1 - head_.size());
  head_.append(data.substr(0, take));
  auto end = head_.find("\r\n\r\n", from);
  if (end == std::string::npos) {
    if (head_.size() > max_head_)
      return {take, status::head_too_large};
    return {take, status::need_more};
  }
  auto used = take - (head_.size() - (end + 4));
  head_.resize(end + 4);
  auto framing = on_head_complete(used);
  if (framing.result != status::need_more || !in_body_)
    return framing;
  return consume_body(data.substr(used), used);
}

request_framer::step request_framer::on_head_complete(size_t used) {
  auto f = read_framing(head_);
  head_.clear();
  if (f.bad)
    return {used, status::bad_length};
  if (f.chunked)
    return {used, status::chunked_body};
  if (f.length && *f.length > max_body_)
    return {used, status::body_too_large};
  body_left_ = f.length.value_or(0);
  in_body_ = body_left_ > 0;
  return {used, in_body_ ? status::need_more : status::complete};
}

request_framer::step request_framer::consume_body(std::string_view data,
                                                  size_t used_before) {
  auto n = std::min<uint64_t>(data.size(), body_left_);
  body_left_ -= n;
  auto used = used_before + static_cast<size_t>(n);
  if (body_left_ > 0)
    return {used, status::need_more};
  in_body_ = false;
  return {used, status::complete};
}

} // namespace eventcast
