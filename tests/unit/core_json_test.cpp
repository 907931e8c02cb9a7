#include "core/json.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.hpp"

using namespace eventcast;

namespace {

std::string json_quoted(std::string_view s) {
  std::string out;
  json::append_string(out, s);
  return out;
}

event full_event() {
  event e;
  e.seq = 9;
  e.id = "evt_123";
  e.type = "user_action";
  e.message = "User logged in";
  e.data_json = R"({"user_id":"12345"})";
  e.timestamp = 1642598400;
  e.stream_id = "default";
  return e;
}

} // namespace

// --- to_json ---------------------------------------------------------------

TEST(EventJson, FieldsInDocumentOrder) {
  EXPECT_EQ(to_json(full_event()),
            R"({"id":"evt_123","type":"user_action","message":"User logged in",)"
            R"("data":{"user_id":"12345"},"timestamp":1642598400,)"
            R"("stream_id":"default"})");
}

TEST(EventJson, OmitsEmptyDataAndStreamId) {
  auto e = full_event();
  e.data_json.clear();
  e.stream_id.clear();
  EXPECT_EQ(to_json(e),
            R"({"id":"evt_123","type":"user_action","message":"User logged in",)"
            R"("timestamp":1642598400})");
}

TEST(EventJson, EscapesStringFields) {
  auto e = full_event();
  e.message = "say \"hi\"\n\\";
  e.data_json.clear();
  EXPECT_NE(to_json(e).find(R"("message":"say \"hi\"\n\\")"),
            std::string::npos)
    << to_json(e);
  EXPECT_TRUE(json::is_object(to_json(e)));
}

TEST(EventJson, OutputIsAJsonObject) {
  EXPECT_TRUE(json::is_object(to_json(full_event())));
  EXPECT_TRUE(json::is_object(to_json(event{})));
}

// --- append_string ---------------------------------------------------------

TEST(EventId, EvtThenDigitsGrowingWithAFixedProcessSuffix) {
  auto a = next_event_id();
  auto b = next_event_id();
  for (auto& id : {a, b}) {
    ASSERT_EQ(id.rfind("evt_", 0), 0u) << id;
    EXPECT_EQ(id.find_first_not_of("0123456789", 4), std::string::npos) << id;
  }
  ASSERT_EQ(a.size(), b.size());
  EXPECT_LT(a, b);
  EXPECT_EQ(a.substr(a.size() - 6), b.substr(b.size() - 6));
}

TEST(JsonString, EscapesQuotesAndBackslashes) {
  EXPECT_EQ(json_quoted(R"(a"b\c)"), R"("a\"b\\c")");
  EXPECT_EQ(json_quoted(""), R"("")");
}

TEST(JsonString, EscapesNamedControlCharacters) {
  EXPECT_EQ(json_quoted("\n\r\t\b\f"), R"("\n\r\t\b\f")");
}

TEST(JsonString, EscapesOtherControlCharactersAsU00XX) {
  EXPECT_EQ(json_quoted(std::string_view{"\0", 1}), R"("\u0000")");
  EXPECT_EQ(json_quoted("\x01"), R"("\u0001")");
  EXPECT_EQ(json_quoted("\x1f"), R"("\u001f")");
  EXPECT_EQ(json_quoted("\x0b"), R"("\u000b")");
  EXPECT_EQ(json_quoted("\x1b[0m"), R"("\u001b[0m")");
}

TEST(JsonString, EveryControlCharacterIsEscaped) {
  for (int c = 0; c < 0x20; ++c) {
    auto s = json_quoted(std::string(1, static_cast<char>(c)));
    for (char out : s)
      EXPECT_GE(static_cast<unsigned char>(out), 0x20u) << c;
    EXPECT_TRUE(json::is_object("{\"k\":" + s + "}")) << s;
  }
}

TEST(JsonString, KeepsPrintableAndUtf8AsIs) {
  EXPECT_EQ(json_quoted("héllo ✓ / <x> \x7f"), "\"héllo ✓ / <x> \x7f\"");
}

// --- object_writer ---------------------------------------------------------

TEST(ObjectWriter, EmptyObject) {
  EXPECT_EQ(json::object_writer{}.str(), "{}");
}

TEST(ObjectWriter, StringFieldsOfEveryKind) {
  std::string s = "str";
  auto out = json::object_writer{}
               .field("a", std::string_view{"view"})
               .field("b", "chars")
               .field("c", s)
               .str();
  EXPECT_EQ(out, R"({"a":"view","b":"chars","c":"str"})");
}

TEST(ObjectWriter, BoolAndIntegerFields) {
  auto out = json::object_writer{}
               .field("t", true)
               .field("f", false)
               .field("i", -3)
               .field("i64", std::numeric_limits<int64_t>::min())
               .field("u64", std::numeric_limits<uint64_t>::max())
               .str();
  EXPECT_EQ(out, R"({"t":true,"f":false,"i":-3,)"
                 R"("i64":-9223372036854775808,"u64":18446744073709551615})");
}

TEST(ObjectWriter, DoubleFieldsUseTwoDecimalsAndNullForNonFinite) {
  auto out = json::object_writer{}
               .field("d", 85.5)
               .field("z", 0.0)
               .field("n", -1.239)
               .field("nan", std::numeric_limits<double>::quiet_NaN())
               .field("inf", std::numeric_limits<double>::infinity())
               .field("ninf", -std::numeric_limits<double>::infinity())
               .str();
  EXPECT_EQ(out, R"({"d":85.50,"z":0.00,"n":-1.24,"nan":null,"inf":null,)"
                 R"("ninf":null})");
  EXPECT_TRUE(json::is_object(out));
}

TEST(ObjectWriter, DoubleFieldKeepsMagnitudeOfLargeValues) {
  for (double v : {1e15, 1e30, 1e40, -1e40, 1e300}) {
    auto out = json::object_writer{}.field("v", v).str();
    ASSERT_EQ(out.rfind("{\"v\":", 0), 0u) << out;
    ASSERT_EQ(out.back(), '}') << out;
    EXPECT_TRUE(json::is_object(out)) << out;
    auto number = out.substr(5, out.size() - 6);
    EXPECT_DOUBLE_EQ(std::strtod(number.c_str(), nullptr), v) << out;
  }
}

TEST(ObjectWriter, StringListField) {
  auto out = json::object_writer{}
               .field("empty", std::vector<std::string>{})
               .field("list", std::vector<std::string>{"a", "b\"", "c\n"})
               .str();
  EXPECT_EQ(out, R"({"empty":[],"list":["a","b\"","c\n"]})");
}

TEST(ObjectWriter, RawFieldIsInsertedVerbatim) {
  auto inner = json::object_writer{}.field("x", 1).str();
  auto out = json::object_writer{}
               .raw_field("obj", inner)
               .raw_field("arr", "[1,2]")
               .raw_field("nul", "null")
               .str();
  EXPECT_EQ(out, R"({"obj":{"x":1},"arr":[1,2],"nul":null})");
}

TEST(ObjectWriter, EscapesKeys) {
  EXPECT_EQ(json::object_writer{}.field("a\"b\n", 1).str(),
            R"({"a\"b\n":1})");
}

TEST(ObjectWriter, KeepsInsertionOrder) {
  EXPECT_EQ(json::object_writer{}.field("z", 1).field("a", 2).field("m", 3)
              .str(),
            R"({"z":1,"a":2,"m":3})");
}

// --- parse_broadcast: valid bodies -----------------------------------------

namespace {

struct valid_case {
  const char* name;
  std::string body;
  std::string stream_id;
  std::string type;
  std::string message;
  std::string data_json;
};

std::string repeat(char c, size_t n) {
  return std::string(n, c);
}

} // namespace

TEST(ParseBroadcast, AcceptsValidBodies) {
  const std::vector<valid_case> cases = {
    {"minimal", R"({"type":"t","message":"m"})", "", "t", "m", ""},
    {"with stream and data",
     R"({"stream_id":"notifications","type":"t","message":"m","data":{"a":1}})",
     "notifications", "t", "m", R"({"a":1})"},
    {"null data", R"({"type":"t","message":"m","data":null})", "", "t", "m",
     ""},
    {"empty data object", R"({"type":"t","message":"m","data":{}})", "", "t",
     "m", ""},
    {"nested data re-serialized compactly",
     "{ \"type\" : \"t\" ,\n \"message\" : \"m\",\n \"data\" : "
     "{ \"a\" : [ 1, 2.5, { \"b\" : null } ],\t\"c\" : \"x\\\"y\", "
     "\"d\" : { \"e\" : true } } }",
     "", "t", "m", R"({"a":[1,2.5,{"b":null}],"c":"x\"y","d":{"e":true}})"},
    {"null stream_id", R"({"stream_id":null,"type":"t","message":"m"})", "",
     "t", "m", ""},
    {"empty stream_id", R"({"stream_id":"","type":"t","message":"m"})", "",
     "t", "m", ""},
    {"empty message allowed", R"({"type":"t","message":""})", "", "t", "", ""},
    {"type of max length",
     R"({"type":")" + repeat('x', 128) + R"(","message":"m"})", "",
     repeat('x', 128), "m", ""},
    {"unicode escapes decoded",
     R"({"type":"t","message":"\u00e9\ud83d\ude00\n"})", "", "t",
     "\xc3\xa9\xf0\x9f\x98\x80\n", ""},
    {"raw utf-8 kept", "{\"type\":\"t\",\"message\":\"h\xc3\xa9llo \xe2\x9c\x93\"}",
     "", "t", "h\xc3\xa9llo \xe2\x9c\x93", ""},
    {"surrounding whitespace", " \r\n\t{\"type\":\"t\",\"message\":\"m\"}\n ",
     "", "t", "m", ""},
    {"unknown members ignored",
     R"({"type":"t","message":"m","extra":[1,{"x":2}]})", "", "t", "m", ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto result = json::parse_broadcast(c.body);
    auto* req = std::get_if<json::broadcast_request>(&result);
    if (!req) {
      ADD_FAILURE() << "rejected: " << std::get<json::field_error>(result).code
                    << " " << std::get<json::field_error>(result).message;
      continue;
    }
    EXPECT_EQ(req->stream_id, c.stream_id);
    EXPECT_EQ(req->event.type, c.type);
    EXPECT_EQ(req->event.message, c.message);
    EXPECT_EQ(req->event.data_json, c.data_json);
  }
}

TEST(ParseBroadcast, DataJsonIsAnObject) {
  auto result = json::parse_broadcast(
    R"({"type":"t","message":"m","data":{"s":"\u0001\n","n":-0.5}})");
  auto* req = std::get_if<json::broadcast_request>(&result);
  ASSERT_NE(req, nullptr);
  EXPECT_TRUE(json::is_object(req->event.data_json)) << req->event.data_json;
}

// --- parse_broadcast: errors ------------------------------------------------

namespace {

struct error_case {
  const char* name;
  std::string body;
  const char* code;
  const char* field;
};

const std::string ok_tail = R"("type":"t","message":"m")";

} // namespace

TEST(ParseBroadcast, RejectsInvalidBodiesWithCodeAndField) {
  using namespace std::string_literals;
  const std::vector<error_case> cases = {
    // Malformed JSON.
    {"empty body", "", "invalid_json", ""},
    {"whitespace only", "  \n", "invalid_json", ""},
    {"unterminated object", "{", "invalid_json", ""},
    {"unterminated string", R"({"type":"t)", "invalid_json", ""},
    {"single quotes", R"({'type':'t','message':'m'})", "invalid_json", ""},
    {"trailing comma", "{" + ok_tail + ",}", "invalid_json", ""},
    {"comment", "{" + ok_tail + "/* c */}", "invalid_json", ""},
    {"NaN", "{" + ok_tail + R"(,"data":{"x":NaN}})", "invalid_json", ""},
    {"raw newline in string", "{\"type\":\"t\",\"message\":\"a\nb\"}",
     "invalid_json", ""},
    {"bad escape", R"({"type":"t","message":"\x"})", "invalid_json", ""},
    // Trailing garbage.
    {"trailing word", "{" + ok_tail + "} x", "invalid_json", ""},
    {"second object", "{" + ok_tail + "}{}", "invalid_json", ""},
    {"trailing comma after root", "{" + ok_tail + "},", "invalid_json", ""},
    {"NUL then garbage after root", "{" + ok_tail + "}\0garbage"s,
     "invalid_json", ""},
    // Not an object.
    {"array root", "[]", "invalid_json", ""},
    {"string root", R"("s")", "invalid_json", ""},
    {"number root", "1", "invalid_json", ""},
    {"null root", "null", "invalid_json", ""},
    // Invalid UTF-8.
    {"0xff byte", "{\"type\":\"t\",\"message\":\"\xff\"}", "invalid_json", ""},
    {"lone continuation byte", "{\"type\":\"t\",\"message\":\"\x80\"}",
     "invalid_json", ""},
    {"overlong slash", "{\"type\":\"t\",\"message\":\"\xc0\xaf\"}",
     "invalid_json", ""},
    {"truncated sequence", "{\"type\":\"t\",\"message\":\"\xe2\x82\"}",
     "invalid_json", ""},
    {"encoded surrogate", "{\"type\":\"t\",\"message\":\"\xed\xa0\x80\"}",
     "invalid_json", ""},
    {"above U+10FFFF", "{\"type\":\"t\",\"message\":\"\xf4\x90\x80\x80\"}",
     "invalid_json", ""},
    {"invalid byte in type", "{\"type\":\"\xfe\",\"message\":\"m\"}",
     "invalid_json", ""},
    {"lone high surrogate escape", R"({"type":"t","message":"\ud800"})",
     "invalid_json", ""},
    {"lone low surrogate escape", R"({"type":"t","message":"\udc00"})",
     "invalid_json", ""},
    // type.
    {"missing type", R"({"message":"m"})", "invalid_field", "type"},
    {"numeric type", R"({"type":1,"message":"m"})", "invalid_field", "type"},
    {"null type", R"({"type":null,"message":"m"})", "invalid_field", "type"},
    {"object type", R"({"type":{},"message":"m"})", "invalid_field", "type"},
    {"empty type", R"({"type":"","message":"m"})", "invalid_field", "type"},
    {"type too long",
     R"({"type":")" + repeat('x', 129) + R"(","message":"m"})",
     "invalid_field", "type"},
    // message.
    {"missing message", R"({"type":"t"})", "invalid_field", "message"},
    {"numeric message", R"({"type":"t","message":5})", "invalid_field",
     "message"},
    {"null message", R"({"type":"t","message":null})", "invalid_field",
     "message"},
    {"array message", R"({"type":"t","message":["m"]})", "invalid_field",
     "message"},
    // data.
    {"numeric data", "{" + ok_tail + R"(,"data":1})", "invalid_field", "data"},
    {"string data", "{" + ok_tail + R"(,"data":"x"})", "invalid_field", "data"},
    {"array data", "{" + ok_tail + R"(,"data":[]})", "invalid_field", "data"},
    {"bool data", "{" + ok_tail + R"(,"data":true})", "invalid_field", "data"},
    // stream_id.
    {"numeric stream_id", "{" + ok_tail + R"(,"stream_id":5})",
     "invalid_field", "stream_id"},
    {"object stream_id", "{" + ok_tail + R"(,"stream_id":{}})",
     "invalid_field", "stream_id"},
    {"bool stream_id", "{" + ok_tail + R"(,"stream_id":false})",
     "invalid_field", "stream_id"},
    {"stream_id leading dash", "{" + ok_tail + R"(,"stream_id":"-x"})",
     "invalid_field", "stream_id"},
    {"stream_id with space", "{" + ok_tail + R"(,"stream_id":"a b"})",
     "invalid_field", "stream_id"},
    {"stream_id with slash", "{" + ok_tail + R"(,"stream_id":"a/b"})",
     "invalid_field", "stream_id"},
    {"stream_id too long",
     "{" + ok_tail + R"(,"stream_id":")" + repeat('s', 129) + "\"}",
     "invalid_field", "stream_id"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string{c.name} + ": " + testing::PrintToString(c.body));
    auto result = json::parse_broadcast(c.body);
    auto* err = std::get_if<json::field_error>(&result);
    if (!err) {
      auto& req = std::get<json::broadcast_request>(result);
      ADD_FAILURE() << "accepted; message="
                    << testing::PrintToString(req.event.message);
      continue;
    }
    EXPECT_EQ(err->code, c.code);
    EXPECT_EQ(err->field, c.field);
    EXPECT_FALSE(err->message.empty());
  }
}

TEST(ParseBroadcast, NeverYieldsInvalidUtf8Strings) {
  // Whatever it accepts, its strings are valid UTF-8 (they go out in events).
  auto valid_utf8 = [](std::string_view s) {
    // A string is valid UTF-8 iff it survives a strict JSON round trip.
    std::string doc = "{\"k\":";
    json::append_string(doc, s);
    doc += "}";
    return json::is_object(doc);
  };
  for (std::string_view escape :
       {R"(\udc00)", R"(\udfff)", R"(\ud800\u0041)", R"(\u00e9)"}) {
    auto body = std::string{R"({"type":"t","message":")"} + std::string{escape}
                + "\"}";
    auto result = json::parse_broadcast(body);
    if (auto* req = std::get_if<json::broadcast_request>(&result)) {
      EXPECT_TRUE(valid_utf8(req->event.message))
        << escape << " -> " << testing::PrintToString(req->event.message);
    }
  }
}

// --- is_object ----------------------------------------------------------------

TEST(IsObject, AcceptsOnlyOneValidObject) {
  using namespace std::string_literals;
  EXPECT_TRUE(json::is_object("{}"));
  EXPECT_TRUE(json::is_object(R"({"a":[1,{"b":null}]})"));
  EXPECT_TRUE(json::is_object(" {} \n"));
  EXPECT_FALSE(json::is_object(""));
  EXPECT_FALSE(json::is_object("[]"));
  EXPECT_FALSE(json::is_object("null"));
  EXPECT_FALSE(json::is_object(R"("{}")"));
  EXPECT_FALSE(json::is_object("{"));
  EXPECT_FALSE(json::is_object("{} {}"));
  EXPECT_FALSE(json::is_object("{}x"));
  EXPECT_FALSE(json::is_object("{\"a\":\"\xff\"}"));
  EXPECT_FALSE(json::is_object(R"({"a":1,})"));
}
