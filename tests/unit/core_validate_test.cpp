#include "core/validate.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace eventcast;

namespace {

struct id_case {
  std::string id;
  bool valid;
};

} // namespace

TEST(Validate, StreamIdTable) {
  using namespace std::string_literals;
  const std::vector<id_case> cases = {
    {"default", true},
    {"user-activity", true},
    {"demo-notifications", true},
    {"a", true},
    {"Z", true},
    {"0", true},
    {"a_b.c-d", true},
    {"A1.2_3-", true},
    {"a..", true},
    {std::string(128, 'x'), true},
    {"9" + std::string(127, '-'), true},
    {"", false},
    {std::string(129, 'x'), false},
    {"-x", false},
    {"_x", false},
    {".x", false},
    {"%20", false},
    {"a%20b", false},
    {" a", false},
    {"a ", false},
    {"a b", false},
    {"a/b", false},
    {"a\\b", false},
    {"a:b", false},
    {"a?b", false},
    {"a#b", false},
    {"a+b", false},
    {"a\nb", false},
    {"a\0b"s, false},
    {"\0"s, false},
    {"caf\xc3\xa9", false},
    {"\xc3\xa9t\xc3\xa9", false},
    {"a\tb", false},
  };
  for (const auto& c : cases)
    EXPECT_EQ(valid_stream_id(c.id), c.valid)
      << testing::PrintToString(c.id) << " (" << c.id.size() << " bytes)";
}

TEST(Validate, LimitsMatchTheRule) {
  EXPECT_EQ(max_stream_id_length, 128u);
  EXPECT_EQ(max_type_length, 128u);
  EXPECT_NE(std::string{stream_id_rule}.find("{0,127}"), std::string::npos);
}

TEST(Validate, Utf8AcceptsWellFormedText) {
  for (std::string_view s : {"", "plain", "caf\xc3\xa9", "\xe2\x82\xac",
                             "\xf0\x9f\x98\x80", "\xed\x9f\xbf",
                             "\xf4\x8f\xbf\xbf"})
    EXPECT_TRUE(eventcast::valid_utf8(s)) << s;
}

TEST(Validate, Utf8RejectsMalformedText) {
  for (std::string_view s :
       {"\x80", "\xc0\xaf", "\xc3", "\xe0\x80\xaf", "\xed\xa0\x80",
        "\xed\xb0\x80", "\xf0\x80\x80\xaf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
        "ok\xff"})
    EXPECT_FALSE(eventcast::valid_utf8(s));
}

TEST(Validate, LastEventIdIsADecimalSequenceOrUnknown) {
  using eventcast::parse_last_event_id;
  using eventcast::unknown_event_id;
  EXPECT_EQ(parse_last_event_id("0"), 0u);
  EXPECT_EQ(parse_last_event_id("42"), 42u);
  EXPECT_EQ(parse_last_event_id("18446744073709551614"),
            18446744073709551614u);
  for (std::string_view s : {"", "-1", "4x", " 4", "evt_1", "1.5",
                             "99999999999999999999999"})
    EXPECT_EQ(parse_last_event_id(s), unknown_event_id) << s;
}
