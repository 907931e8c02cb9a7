#pragma once

// A minimal SSE parser after the HTML standard's "Interpreting an event
// stream" (https://html.spec.whatwg.org/multipage/server-sent-events.html),
// strict about what the encoder may emit: it records every line, field and
// dispatch so that the fuzz targets can check "exactly one frame".
//
// Bytes are handled as they are: CR and LF are ASCII, so UTF-8 decoding (with
// U+FFFD for invalid sequences) cannot move a line break.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"

namespace eventcast::fuzz {

struct sse_dispatch {
  std::string type;            // "message" unless an event: field set it
  std::string data;            // the data buffer without its last LF
  std::string last_event_id;   // the last event ID buffer at dispatch time
  size_t end = 0;              // offset just past the blank line
};

struct sse_parse {
  std::vector<sse_dispatch> dispatches;
  std::vector<std::string> fields;   // field names, in order
  size_t comments = 0;               // lines starting with ':'
  size_t blank_lines = 0;            // event boundaries
  size_t first_blank_end = 0;        // offset past the first blank line
  bool id_seen = false;              // an id: field set the last event ID
  std::optional<uint64_t> retry;     // a valid retry: field
  size_t data_lines = 0;
  bool partial_line = false;         // bytes after the last line break
};

/// One line break at `i` (CRLF, CR or LF); returns its length, 0 if none.
inline size_t line_break_at(std::string_view s, size_t i) {
  if (s[i] == '\n')
    return 1;
  if (s[i] == '\r')
    return i + 1 < s.size() && s[i + 1] == '\n' ? 2 : 1;
  return 0;
}

/// `text` with CRLF and lone CR turned into LF, as the parser sees lines.
inline std::string normalize_newlines(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out += '\n';
      if (i + 1 < text.size() && text[i + 1] == '\n')
        ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

inline sse_parse parse_sse(std::string_view stream) {
  sse_parse p;
  std::string data, type, last_id;
  size_t pos = 0;
  while (pos < stream.size()) {
    size_t end = pos;
    size_t brk = 0;
    while (end < stream.size() && (brk = line_break_at(stream, end)) == 0)
      ++end;
    if (end == stream.size()) {
      // The spec discards an incomplete last line at end of stream.
      p.partial_line = true;
      break;
    }
    auto line = stream.substr(pos, end - pos);
    pos = end + brk;
    if (line.empty()) {
      // Dispatch the event.
      if (++p.blank_lines == 1)
        p.first_blank_end = pos;
      if (data.empty()) {
        type.clear();
        continue;
      }
      data.pop_back(); // the last LF
      p.dispatches.push_back(
        {type.empty() ? "message" : type, data, last_id, pos});
      data.clear();
      type.clear();
      continue;
    }
    if (line[0] == ':') {
      ++p.comments;
      continue;
    }
    std::string_view field = line, value;
    if (auto colon = line.find(':'); colon != std::string_view::npos) {
      field = line.substr(0, colon);
      value = line.substr(colon + 1);
      if (!value.empty() && value[0] == ' ')
        value.remove_prefix(1);
    }
    p.fields.emplace_back(field);
    if (field == "event") {
      type = std::string{value};
    } else if (field == "data") {
      ++p.data_lines;
      data.append(value);
      data += '\n';
    } else if (field == "id") {
      if (value.find('\0') == std::string_view::npos) {
        last_id = std::string{value};
        p.id_seen = true;
      }
    } else if (field == "retry") {
      bool digits = !value.empty();
      uint64_t ms = 0;
      for (char c : value) {
        if (c < '0' || c > '9') {
          digits = false;
          break;
        }
        ms = ms * 10 + static_cast<uint64_t>(c - '0');
      }
      if (digits)
        p.retry = ms;
    }
    // Other field names are ignored by the spec; the checks below reject them.
  }
  return p;
}

/// The output of one encoder call is one frame: complete lines only, exactly
/// one blank line, and that one at the very end.
inline void check_one_frame(const sse_parse& p, std::string_view frame) {
  FUZZ_CHECK(!p.partial_line,
             "frame does not end in a line break: " + printable(frame));
  FUZZ_CHECK(p.blank_lines == 1,
             std::to_string(p.blank_lines)
               + " blank lines (event boundaries) in: " + printable(frame));
  FUZZ_CHECK(p.first_blank_end == frame.size(),
             "the blank line is not at the end: " + printable(frame));
  // Frames end "\n\n": a trailing CR would merge with the next frame's LF.
  FUZZ_CHECK(frame.size() >= 2 && frame.substr(frame.size() - 2) == "\n\n",
             "frame does not end in LF LF: " + printable(frame));
}

/// A data frame: one dispatch, at the end, of exactly `payload` (line
/// breaks as LF; any data when `payload` is nullopt), with fields id (when
/// `id` is set) and data only. Returns the parse.
inline sse_parse check_data_frame(std::string_view frame,
                                  std::optional<uint64_t> id,
                                  std::optional<std::string_view> payload) {
  auto p = parse_sse(frame);
  check_one_frame(p, frame);
  FUZZ_CHECK(p.dispatches.size() == 1,
             std::to_string(p.dispatches.size())
               + " dispatches in: " + printable(frame));
  const auto& d = p.dispatches.front();
  FUZZ_CHECK(d.end == frame.size(), "dispatch not at the end");
  FUZZ_CHECK(d.type == "message",
             "event type '" + printable(d.type) + "' in: " + printable(frame));
  for (const auto& f : p.fields)
    FUZZ_CHECK(f == "data" || (id && f == "id"),
               "unexpected field '" + printable(f) + "' in: "
                 + printable(frame));
  FUZZ_CHECK(p.comments == 0, "comment in a data frame: " + printable(frame));
  FUZZ_CHECK(!p.retry, "retry in a data frame: " + printable(frame));
  if (id) {
    FUZZ_CHECK(p.id_seen && d.last_event_id == std::to_string(*id),
               "id '" + printable(d.last_event_id) + "', expected "
                 + std::to_string(*id) + " in: " + printable(frame));
  } else {
    FUZZ_CHECK(!p.id_seen, "anonymous frame sets an id: " + printable(frame));
  }
  if (payload) {
    auto expected = normalize_newlines(*payload);
    FUZZ_CHECK(d.data == expected,
               "data '" + printable(d.data) + "' != payload '"
                 + printable(expected) + "'");
  }
  return p;
}

} // namespace eventcast::fuzz
