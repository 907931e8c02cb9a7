#include "core/sse.hpp"

#include "core/json.hpp"

namespace eventcast::sse {

namespace {

void append_data_lines(std::string& out, std::string_view payload) {
  size_t start = 0;
  while (true) {
    auto end = payload.find_first_of("\r\n", start);
    out += "data: ";
    out.append(payload.substr(start, end - start));
    out += '\n';
    if (end == std::string_view::npos)
      return;
    // CRLF counts as one line break, as in the SSE parser.
    start = end + 1;
    if (payload[end] == '\r' && start < payload.size() && payload[start] == '\n')
      ++start;
  }
}

} // namespace

std::string data_frame(uint64_t seq, std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 32);
  out += "id: ";
  out += std::to_string(seq);
  out += '\n';
  append_data_lines(out, payload);
  out += '\n';
  return out;
}

std::string anonymous_frame(std::string_view payload) {
  std::string out;
  out.reserve(payload.size() + 8);
  append_data_lines(out, payload);
  out += '\n';
  return out;
}

std::string retry_frame(int64_t retry_ms) {
  return "retry: " + std::to_string(retry_ms) + "\n\n";
}

std::string comment_frame(std::string_view text) {
  std::string out = ": ";
  for (char c : text)
    if (c != '\r' && c != '\n')
      out += c;
  out += "\n\n";
  return out;
}

frame encode(const event& e) {
  return std::make_shared<const std::string>(data_frame(e.seq, to_json(e)));
}

frame missed_notice(uint64_t missed, std::string_view stream_id) {
  event e;
  e.id = next_event_id();
  e.type = "events_missed";
  e.message = std::to_string(missed)
              + " events were dropped because this client fell behind";
  e.data_json = json::object_writer{}.field("missed", missed).str();
  e.timestamp = unix_now();
  e.stream_id = std::string{stream_id};
  return std::make_shared<const std::string>(anonymous_frame(to_json(e)));
}

} // namespace eventcast::sse
