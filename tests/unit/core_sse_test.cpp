#include "core/sse.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

using namespace eventcast;

namespace {

// A small SSE parser following the HTML spec's "event stream interpretation":
// lines end in CR, LF or CRLF; a blank line dispatches; ':' starts a comment;
// `data` values are joined with LF; one leading space after ':' is dropped.
struct parsed_event {
  std::string type;
  std::string data;
  bool has_id = false; // an `id` field appeared in this event's block
  std::string id;      // the id buffer at dispatch
};

struct parse_result {
  std::vector<parsed_event> events;
  std::vector<std::string> comments;
  std::vector<std::string> fields; // every field name, in order
  size_t blocks = 0;               // blank lines seen (dispatch points)
  std::optional<int64_t> retry;
  std::string unterminated;        // text after the last line break
  bool ends_with_blank_line = false;
};

std::vector<std::string> split_lines(std::string_view text,
                                     std::string& rest) {
  std::vector<std::string> lines;
  size_t start = 0;
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == '\r' || c == '\n') {
      lines.emplace_back(text.substr(start, i - start));
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n')
        ++i;
      start = i + 1;
    }
    ++i;
  }
  rest = std::string{text.substr(start)};
  return lines;
}

bool all_digits(std::string_view s) {
  if (s.empty())
    return false;
  for (char c : s)
    if (c < '0' || c > '9')
      return false;
  return true;
}

parse_result parse_sse(std::string_view text) {
  parse_result r;
  auto lines = split_lines(text, r.unterminated);
  std::string data;
  std::string type;
  std::string last_id;
  bool block_has_id = false;
  for (const auto& line : lines) {
    if (line.empty()) {
      ++r.blocks;
      if (!data.empty()) {
        data.pop_back(); // the trailing LF
        r.events.push_back(
          {type.empty() ? "message" : type, data, block_has_id, last_id});
      }
      data.clear();
      type.clear();
      block_has_id = false;
      continue;
    }
    if (line[0] == ':') {
      r.comments.push_back(line.substr(1));
      continue;
    }
    std::string field = line;
    std::string value;
    if (auto colon = line.find(':'); colon != std::string::npos) {
      field = line.substr(0, colon);
      value = line.substr(colon + 1);
      if (!value.empty() && value[0] == ' ')
        value.erase(0, 1);
    }
    r.fields.push_back(field);
    if (field == "event") {
      type = value;
    } else if (field == "data") {
      data += value;
      data += '\n';
    } else if (field == "id") {
      if (value.find('\0') == std::string::npos) {
        last_id = value;
        block_has_id = true;
      }
    } else if (field == "retry") {
      if (all_digits(value))
        r.retry = std::stoll(value);
    }
  }
  r.ends_with_blank_line = !lines.empty() && lines.back().empty()
                           && r.unterminated.empty();
  return r;
}

// What a client sees of a payload: CRLF and CR become LF.
std::string normalize_newlines(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') {
      out += '\n';
      if (i + 1 < s.size() && s[i + 1] == '\n')
        ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string strip_newlines(std::string_view s) {
  std::string out;
  for (char c : s)
    if (c != '\r' && c != '\n')
      out += c;
  return out;
}

// One frame: the text ends in a blank line and holds exactly one.
void expect_one_frame(const parse_result& r, std::string_view text) {
  EXPECT_EQ(r.blocks, 1u) << testing::PrintToString(std::string{text});
  EXPECT_TRUE(r.ends_with_blank_line)
    << testing::PrintToString(std::string{text});
  EXPECT_TRUE(r.unterminated.empty());
}

void expect_data_round_trip(std::string_view payload) {
  auto text = sse::data_frame(42, payload);
  auto r = parse_sse(text);
  expect_one_frame(r, text);
  ASSERT_EQ(r.events.size(), 1u) << testing::PrintToString(text);
  EXPECT_EQ(r.events[0].data, normalize_newlines(payload));
  EXPECT_EQ(r.events[0].type, "message");
  EXPECT_TRUE(r.events[0].has_id);
  EXPECT_EQ(r.events[0].id, "42");
}

event sample_event() {
  event e;
  e.seq = 7;
  e.id = "evt_1";
  e.type = "user_action";
  e.message = "line one\nline two";
  e.data_json = R"({"k":"v"})";
  e.timestamp = 1642598400;
  e.stream_id = "default";
  return e;
}

} // namespace

TEST(SseParser, SelfCheckSplitsOnCrLfAndCrlf) {
  auto r = parse_sse("data: a\rdata: b\r\ndata: c\n\n: hi\r\n\r\n");
  EXPECT_EQ(r.blocks, 2u);
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].data, "a\nb\nc");
  ASSERT_EQ(r.comments.size(), 1u);
  EXPECT_EQ(r.comments[0], " hi");
}

TEST(Sse, DataFrameHasIdThenDataLinesThenBlankLine) {
  EXPECT_EQ(sse::data_frame(5, "hello"), "id: 5\ndata: hello\n\n");
}

TEST(Sse, DataFrameSplitsLinesOnEveryLineBreakKind) {
  EXPECT_EQ(sse::data_frame(1, "a\nb\r\nc\rd"),
            "id: 1\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
}

TEST(Sse, DataFrameRoundTripsSimplePayloads) {
  for (std::string_view p :
       {"", "x", " leading space", "a\nb", "a\r\nb", "a\rb", "\n", "\r",
        "\r\n", "\n\r", "\r\r\n\n", "trailing\n", "trailing\r\n",
        ": not a comment", "data: nested", "\n\n\n", "a\n\rb"})
    expect_data_round_trip(p);
}

TEST(Sse, DataFrameEmptyPayloadIsOneEmptyEvent) {
  auto text = sse::data_frame(3, "");
  auto r = parse_sse(text);
  expect_one_frame(r, text);
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].data, "");
}

TEST(Sse, PayloadCannotInjectFieldsOrASecondEvent) {
  std::string_view evil = "hello\n\nid: 99\nevent: x\n";
  for (auto text : {sse::data_frame(1, evil), sse::anonymous_frame(evil)}) {
    auto r = parse_sse(text);
    expect_one_frame(r, text);
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0].type, "message");
    EXPECT_EQ(r.events[0].data, evil);
    EXPECT_NE(r.events[0].id, "99");
    for (auto& f : r.fields)
      EXPECT_TRUE(f == "data" || f == "id") << f;
  }
}

TEST(Sse, PayloadWithCrCannotInjectFields) {
  std::string_view evil = "a\r\rid: 99\revent: x\rretry: 1";
  auto text = sse::data_frame(2, evil);
  auto r = parse_sse(text);
  expect_one_frame(r, text);
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].id, "2");
  EXPECT_EQ(r.events[0].type, "message");
  EXPECT_FALSE(r.retry.has_value());
  EXPECT_EQ(r.events[0].data, normalize_newlines(evil));
}

TEST(Sse, AnonymousFrameHasNoIdLine) {
  auto text = sse::anonymous_frame("a\nb");
  EXPECT_EQ(text, "data: a\ndata: b\n\n");
  auto r = parse_sse(text);
  expect_one_frame(r, text);
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_FALSE(r.events[0].has_id);
  EXPECT_EQ(r.events[0].data, "a\nb");
}

TEST(Sse, RetryFrameIsOneFrameWithoutEvent) {
  auto text = sse::retry_frame(3000);
  EXPECT_EQ(text, "retry: 3000\n\n");
  auto r = parse_sse(text);
  expect_one_frame(r, text);
  EXPECT_TRUE(r.events.empty());
  ASSERT_TRUE(r.retry.has_value());
  EXPECT_EQ(*r.retry, 3000);
}

TEST(Sse, CommentFrameIsOneFrameWithoutEvent) {
  auto text = sse::comment_frame("heartbeat");
  EXPECT_EQ(text, ": heartbeat\n\n");
  auto r = parse_sse(text);
  expect_one_frame(r, text);
  EXPECT_TRUE(r.events.empty());
  ASSERT_EQ(r.comments.size(), 1u);
  EXPECT_EQ(r.comments[0], " heartbeat");
}

TEST(Sse, CommentFrameStripsNewlines) {
  auto text = sse::comment_frame("a\nb\r\nc\rd\n\ndata: x");
  EXPECT_EQ(text, ": abcddata: x\n\n");
  auto r = parse_sse(text);
  expect_one_frame(r, text);
  EXPECT_TRUE(r.events.empty());
  EXPECT_TRUE(r.fields.empty());
}

TEST(Sse, EncodeIsOneFrameWithSeqAsIdAndEventJsonAsData) {
  auto e = sample_event();
  auto f = sse::encode(e);
  ASSERT_TRUE(f);
  EXPECT_EQ(*f, "id: 7\ndata: " + to_json(e) + "\n\n");
  auto r = parse_sse(*f);
  expect_one_frame(r, *f);
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].id, "7");
  EXPECT_EQ(r.events[0].type, "message");
  EXPECT_EQ(r.events[0].data, to_json(e));
  EXPECT_EQ(r.events[0].data.find('\n'), std::string::npos);
}

TEST(Sse, MissedNoticeIsAnonymousEventsMissedEvent) {
  auto f = sse::missed_notice(12, "default");
  ASSERT_TRUE(f);
  auto r = parse_sse(*f);
  expect_one_frame(r, *f);
  ASSERT_EQ(r.events.size(), 1u);
  const auto& ev = r.events[0];
  EXPECT_FALSE(ev.has_id);
  EXPECT_EQ(ev.type, "message"); // unnamed: reaches onmessage
  EXPECT_NE(ev.data.find(R"("type":"events_missed")"), std::string::npos)
    << ev.data;
  EXPECT_NE(ev.data.find(R"("data":{"missed":12})"), std::string::npos)
    << ev.data;
  EXPECT_NE(ev.data.find(R"("stream_id":"default")"), std::string::npos)
    << ev.data;
  EXPECT_NE(ev.data.find(R"("message":"12 )"), std::string::npos) << ev.data;
  EXPECT_EQ(ev.data.rfind(R"({"id":"evt_)", 0), 0u) << ev.data;
}

TEST(SseProperty, RandomPayloadsAlwaysGiveOneFrame) {
  std::mt19937 rng{20240611};
  // Bias towards the bytes that matter to the framing.
  const std::string special("\r\n: \0di", 7);
  std::uniform_int_distribution<int> len_dist{0, 48};
  std::uniform_int_distribution<int> byte_dist{0, 255};
  std::uniform_int_distribution<int> pick{0, 3};
  std::uniform_int_distribution<size_t> special_dist{0, special.size() - 1};
  for (int iter = 0; iter < 4000; ++iter) {
    std::string p;
    int n = len_dist(rng);
    for (int i = 0; i < n; ++i) {
      if (pick(rng) == 0)
        p += static_cast<char>(byte_dist(rng));
      else
        p += special[special_dist(rng)];
    }
    SCOPED_TRACE(testing::PrintToString(p));

    auto data = sse::data_frame(static_cast<uint64_t>(iter), p);
    auto rd = parse_sse(data);
    expect_one_frame(rd, data);
    ASSERT_EQ(rd.events.size(), 1u);
    EXPECT_EQ(rd.events[0].data, normalize_newlines(p));
    EXPECT_EQ(rd.events[0].id, std::to_string(iter));
    EXPECT_EQ(rd.events[0].type, "message");

    auto anon = sse::anonymous_frame(p);
    auto ra = parse_sse(anon);
    expect_one_frame(ra, anon);
    ASSERT_EQ(ra.events.size(), 1u);
    EXPECT_EQ(ra.events[0].data, normalize_newlines(p));
    EXPECT_FALSE(ra.events[0].has_id);

    auto comment = sse::comment_frame(p);
    auto rc = parse_sse(comment);
    expect_one_frame(rc, comment);
    EXPECT_TRUE(rc.events.empty());
    EXPECT_TRUE(rc.fields.empty());
    ASSERT_EQ(rc.comments.size(), 1u);
    EXPECT_EQ(rc.comments[0], " " + strip_newlines(p));

    if (testing::Test::HasFailure())
      break;
  }
}

TEST(SseProperty, RandomEventsEncodeToOneDataLine) {
  std::mt19937 rng{7};
  std::uniform_int_distribution<int> len_dist{0, 24};
  std::uniform_int_distribution<int> byte_dist{0, 127};
  auto random_text = [&] {
    std::string s;
    int n = len_dist(rng);
    for (int i = 0; i < n; ++i)
      s += static_cast<char>(byte_dist(rng));
    return s;
  };
  for (int iter = 0; iter < 2000; ++iter) {
    event e;
    e.seq = static_cast<uint64_t>(iter) + 1;
    e.id = "evt_" + std::to_string(iter);
    e.type = random_text();
    e.message = random_text();
    e.timestamp = iter;
    e.stream_id = random_text();
    auto f = sse::encode(e);
    SCOPED_TRACE(testing::PrintToString(*f));
    auto r = parse_sse(*f);
    expect_one_frame(r, *f);
    ASSERT_EQ(r.events.size(), 1u);
    EXPECT_EQ(r.events[0].data, to_json(e));
    EXPECT_EQ(r.fields, (std::vector<std::string>{"id", "data"}));
    if (testing::Test::HasFailure())
      break;
  }
}
