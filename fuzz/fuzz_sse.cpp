// Fuzzes the SSE frame encoder (core/sse.hpp). Whatever the input, each call
// must produce exactly one well-formed frame: newlines in a payload can
// never end the frame early or inject id:, event: or retry: fields.
//
// Input: byte 0 modulo 6 picks the encoder (0 data_frame, 1 anonymous_frame,
// 2 comment_frame, 3 encode, 4 retry_frame, 5 missed_notice), bytes 1..8 are
// a little-endian number (sequence, retry or missed count), the rest is the
// payload. For `encode` the payload is split on NUL into id, type, message,
// data_json and stream_id.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.hpp"
#include "core/sse.hpp"
#include "fuzz_check.hpp"
#include "sse_parser.hpp"

using namespace eventcast;
using namespace eventcast::fuzz;

namespace {

std::vector<std::string_view> split_nul(std::string_view s, size_t parts) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < parts) {
    auto nul = s.find('\0');
    if (nul == std::string_view::npos)
      break;
    out.push_back(s.substr(0, nul));
    s.remove_prefix(nul + 1);
  }
  out.push_back(s);
  out.resize(parts);
  return out;
}

void check_comment(std::string_view text) {
  auto frame = sse::comment_frame(text);
  auto p = parse_sse(frame);
  check_one_frame(p, frame);
  FUZZ_CHECK(p.dispatches.empty() && p.fields.empty() && p.comments == 1,
             "comment frame is not one comment line: " + printable(frame));
  std::string expected = ": ";
  for (char c : text)
    if (c != '\r' && c != '\n')
      expected += c;
  expected += "\n\n";
  FUZZ_CHECK(frame == expected, "comment text changed: " + printable(frame));
}

void check_retry(int64_t ms) {
  auto frame = sse::retry_frame(ms);
  auto p = parse_sse(frame);
  check_one_frame(p, frame);
  FUZZ_CHECK(p.dispatches.empty() && p.fields.size() == 1
               && p.fields[0] == "retry" && p.comments == 0,
             "retry frame is not one retry line: " + printable(frame));
  // Clients ignore a retry: value that is not all digits.
  if (ms >= 0)
    FUZZ_CHECK(p.retry && *p.retry == static_cast<uint64_t>(ms),
               "retry value lost: " + printable(frame));
}

void check_event(uint64_t seq, std::string_view payload) {
  auto f = split_nul(payload, 5);
  event e;
  e.seq = seq;
  e.id = std::string{f[0]};
  e.type = std::string{f[1]};
  e.message = std::string{f[2]};
  e.data_json = std::string{f[3]};
  e.timestamp = static_cast<int64_t>(seq >> 1);
  e.stream_id = std::string{f[4]};
  auto json = to_json(e);
  auto frame = sse::encode(e);
  FUZZ_CHECK(frame != nullptr, "encode returned no frame");
  check_data_frame(*frame, seq, json);
  // Strings are escaped, so only raw data_json can put a line break into the
  // EventData JSON; without one the frame has a single data: line.
  if (json.find_first_of("\r\n") == std::string::npos) {
    auto p = parse_sse(*frame);
    FUZZ_CHECK(p.data_lines == 1, "EventData split over lines");
  }
}

void check_missed(uint64_t missed, std::string_view stream_id) {
  auto frame = sse::missed_notice(missed, stream_id);
  FUZZ_CHECK(frame != nullptr, "missed_notice returned no frame");
  auto p = check_data_frame(*frame, std::nullopt, std::nullopt);
  FUZZ_CHECK(p.data_lines == 1,
             "events_missed split over lines: " + printable(*frame));
  const auto& data = p.dispatches[0].data;
  FUZZ_CHECK(data.find("\"type\":\"events_missed\"") != std::string::npos
               && data.find("{\"missed\":" + std::to_string(missed) + "}")
                    != std::string::npos,
             "events_missed without its type or count: " + printable(data));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size == 0)
    return 0;
  const uint8_t mode = bytes[0] % 6;
  uint64_t number = 0;
  size_t n = size - 1 < 8 ? size - 1 : 8;
  for (size_t i = 0; i < n; ++i)
    number |= static_cast<uint64_t>(bytes[1 + i]) << (8 * i);
  std::string_view payload{reinterpret_cast<const char*>(bytes) + 1 + n,
                           size - 1 - n};
  switch (mode) {
    case 0:
      check_data_frame(sse::data_frame(number, payload), number, payload);
      break;
    case 1:
      check_data_frame(sse::anonymous_frame(payload), std::nullopt, payload);
      break;
    case 2:
      check_comment(payload);
      break;
    case 3:
      check_event(number, payload);
      break;
    case 4:
      check_retry(static_cast<int64_t>(number));
      break;
    case 5:
      check_missed(number, payload);
      break;
  }
  return 0;
}
