#include <gtest/gtest.h>

#include "cluster/names.hpp"

using namespace eventcast::cluster;

TEST(ClusterNames, EncodingKeepsSafeCharactersAndEscapesTheRest) {
  EXPECT_EQ(encode_token("user-activity"), "user-activity");
  EXPECT_EQ(encode_token("a.b_c"), "a=2Eb=5Fc");
  EXPECT_EQ(encode_token("x y*>"), "x=20y=2A=3E");
}

TEST(ClusterNames, DecodingInvertsEncoding) {
  for (std::string text : {"default", "a.b_c", "=", "x y*>", "\xC3\xA9"})
    EXPECT_EQ(decode_token(encode_token(text)), text);
}

TEST(ClusterNames, DecodingRejectsWhatEncodingNeverWrites) {
  EXPECT_FALSE(decode_token("a.b"));
  EXPECT_FALSE(decode_token("=4"));
  EXPECT_FALSE(decode_token("=2e")); // lower-case hex
  EXPECT_FALSE(decode_token("=41")); // 'A' is kept, never escaped
}

TEST(ClusterNames, OneJetStreamStreamPerEventcastStream) {
  auto n = names_for("events", "user-activity");
  EXPECT_EQ(n.stream, "EC_events_user-activity");
  EXPECT_EQ(n.subject, "ec.events.user-activity");
}

TEST(ClusterNames, UnderscoresCannotMakeTwoStreamsShareAName) {
  EXPECT_NE(names_for("a_b", "c").stream, names_for("a", "b_c").stream);
  EXPECT_NE(names_for("a.b", "c").subject, names_for("a", "b.c").subject);
}

TEST(ClusterNames, LongNamesAreBoundedAndStayDistinct) {
  std::string service(128, 's');
  auto a = names_for(service, std::string(128, '.') + "a");
  auto b = names_for(service, std::string(128, '.') + "b");
  EXPECT_EQ(a.stream.size(), max_stream_name_length);
  EXPECT_NE(a.stream, b.stream);
  EXPECT_EQ(a.stream.find_first_of(". *>"), std::string::npos);
}

TEST(ClusterNames, GeneratorKeysRoundTrip) {
  auto key = generator_key("events", "my.stream_1");
  EXPECT_EQ(key, "events.my=2Estream=5F1");
  auto parsed = parse_generator_key(key);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->first, "events");
  EXPECT_EQ(parsed->second, "my.stream_1");
  EXPECT_FALSE(parse_generator_key("nodot"));
  EXPECT_FALSE(parse_generator_key("a.b.c"));
}
