#include <gtest/gtest.h>

#include "core/framing.hpp"

namespace {

using eventcast::request_framer;
using status = request_framer::status;

constexpr size_t max_head = 256;
constexpr size_t max_body = 100;

TEST(Framing, RequestWithoutBodyCompletesAtTheBlankLine) {
  request_framer f{max_head, max_body};
  std::string req = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
  auto step = f.feed(req + "GET /b");
  EXPECT_EQ(step.result, status::complete);
  EXPECT_EQ(step.used, req.size());
}

TEST(Framing, BodyIsCountedAcrossReads) {
  request_framer f{max_head, max_body};
  auto step = f.feed("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123");
  EXPECT_EQ(step.result, status::need_more);
  step = f.feed("456789GET");
  EXPECT_EQ(step.result, status::complete);
  EXPECT_EQ(step.used, 6u);
}

TEST(Framing, BlankLineSplitAcrossReads) {
  request_framer f{max_head, max_body};
  EXPECT_EQ(f.feed("GET / HTTP/1.1\r\nA: b\r").result, status::need_more);
  EXPECT_EQ(f.feed("\n\r").result, status::need_more);
  auto step = f.feed("\nNEXT");
  EXPECT_EQ(step.result, status::complete);
  EXPECT_EQ(step.used, 1u);
}

TEST(Framing, PipelinedRequestsAreSeparated) {
  request_framer f{max_head, max_body};
  std::string a = "POST /x HTTP/1.1\r\ncontent-length: 2\r\n\r\nhi";
  std::string b = "GET /y HTTP/1.1\r\n\r\n";
  std::string both = a + b;
  std::string_view rest = both;
  auto s1 = f.feed(rest);
  ASSERT_EQ(s1.result, status::complete);
  EXPECT_EQ(s1.used, a.size());
  rest.remove_prefix(s1.used);
  auto s2 = f.feed(rest);
  ASSERT_EQ(s2.result, status::complete);
  EXPECT_EQ(s2.used, b.size());
}

struct bad_case {
  const char* name;
  std::string input;
  status expected;
};

TEST(Framing, RejectsWhatMustNotReachTheParser) {
  std::vector<bad_case> cases{
    {"negative length", "POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
     status::bad_length},
    {"huge length",
     "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
     status::bad_length},
    {"length over the limit", "POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n",
     status::body_too_large},
    {"16 GiB", "POST / HTTP/1.1\r\nContent-Length: 17179869184\r\n\r\n",
     status::body_too_large},
    {"not a number", "POST / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n",
     status::bad_length},
    {"conflicting lengths",
     "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
     status::bad_length},
    {"chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
     status::chunked_body},
    {"head too large", "GET / HTTP/1.1\r\nX: " + std::string(300, 'a'),
     status::head_too_large},
  };
  for (auto& c : cases) {
    request_framer f{max_head, max_body};
    EXPECT_EQ(f.feed(c.input).result, c.expected) << c.name;
  }
}

TEST(Framing, SameLengthTwiceAndPaddedValuesAreFine) {
  request_framer f{max_head, max_body};
  auto step = f.feed(
    "POST / HTTP/1.1\r\nContent-Length:  3 \r\ncontent-length: 3\r\n\r\nabc");
  EXPECT_EQ(step.result, status::complete);
}

} // namespace
