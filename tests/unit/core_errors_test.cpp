#include "core/errors.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/event.hpp"
#include "core/json.hpp"
#include "core/stream_info.hpp"

using namespace eventcast;

namespace {

struct error_row {
  error_code code;
  int status;
  const char* name;
};

const std::vector<error_row> all_errors = {
  {error_code::invalid_json, 400, "invalid_json"},
  {error_code::invalid_field, 400, "invalid_field"},
  {error_code::invalid_stream_id, 400, "invalid_stream_id"},
  {error_code::route_not_found, 404, "not_found"},
  {error_code::stream_not_found, 404, "stream_not_found"},
  {error_code::method_not_allowed, 405, "method_not_allowed"},
  {error_code::conflict, 409, "conflict"},
  {error_code::payload_too_large, 413, "payload_too_large"},
  {error_code::rate_limited, 429, "rate_limited"},
  {error_code::unavailable, 503, "unavailable"},
  {error_code::timeout, 504, "timeout"},
  {error_code::internal, 500, "internal_error"},
  {error_code::bad_request, 400, "bad_request"},
  {error_code::length_required, 411, "length_required"},
  {error_code::header_too_large, 431, "header_too_large"},
};

// Splits `{...,"timestamp":N}` into the part before N and N itself, and
// checks that N is a current Unix time.
void expect_timestamped(const std::string& body, const std::string& prefix,
                        int64_t before) {
  const std::string key = ",\"timestamp\":";
  ASSERT_EQ(body.compare(0, prefix.size(), prefix), 0) << body;
  ASSERT_EQ(body.compare(prefix.size(), key.size(), key), 0) << body;
  ASSERT_EQ(body.back(), '}') << body;
  auto digits = body.substr(prefix.size() + key.size());
  digits.pop_back();
  ASSERT_FALSE(digits.empty()) << body;
  for (char c : digits)
    ASSERT_TRUE(c >= '0' && c <= '9') << body;
  auto ts = std::strtoll(digits.c_str(), nullptr, 10);
  EXPECT_GE(ts, before);
  EXPECT_LE(ts, unix_now());
  EXPECT_TRUE(json::is_object(body)) << body;
}

} // namespace

TEST(Errors, EveryCodeHasItsStatusAndName) {
  for (const auto& row : all_errors) {
    SCOPED_TRACE(row.name);
    EXPECT_EQ(http_status(row.code), row.status);
    EXPECT_STREQ(to_string(row.code), row.name);
  }
}

TEST(Errors, NamesAreUnique) {
  for (size_t i = 0; i < all_errors.size(); ++i)
    for (size_t j = i + 1; j < all_errors.size(); ++j)
      EXPECT_STRNE(to_string(all_errors[i].code),
                   to_string(all_errors[j].code));
}

TEST(Errors, ErrorCodeFromRoundTrips) {
  for (const auto& row : all_errors) {
    SCOPED_TRACE(row.name);
    EXPECT_EQ(error_code_from(static_cast<uint8_t>(row.code)), row.code);
  }
}

TEST(Errors, UnknownValuesMapToInternal) {
  for (int v : {0, 16, 42, 255})
    EXPECT_EQ(error_code_from(static_cast<uint8_t>(v)), error_code::internal)
      << v;
  auto bogus = static_cast<error_code>(200);
  EXPECT_EQ(http_status(bogus), 500);
  EXPECT_STREQ(to_string(bogus), "internal_error");
}

TEST(Errors, ErrorBodyWithoutField) {
  auto before = unix_now();
  auto body = error_body(error_code::stream_not_found, "no such stream");
  expect_timestamped(body,
                     R"({"success":false,"error":{"code":"stream_not_found",)"
                     R"("message":"no such stream"})",
                     before);
  EXPECT_EQ(body.find("\"field\""), std::string::npos);
}

TEST(Errors, ErrorBodyWithField) {
  auto before = unix_now();
  auto body = error_body(error_code::invalid_field, "'type' is required",
                         "type");
  expect_timestamped(body,
                     R"({"success":false,"error":{"code":"invalid_field",)"
                     R"("message":"'type' is required","field":"type"})",
                     before);
}

TEST(Errors, ErrorBodyEscapesMessageAndField) {
  auto before = unix_now();
  auto body = error_body(error_code::invalid_json, "bad \"x\"\n", "a\\b");
  expect_timestamped(body,
                     R"({"success":false,"error":{"code":"invalid_json",)"
                     R"("message":"bad \"x\"\n","field":"a\\b"})",
                     before);
}

TEST(Errors, ErrorBodyIsValidForEveryCode) {
  for (const auto& row : all_errors) {
    auto body = error_body(row.code, "m");
    EXPECT_TRUE(json::is_object(body)) << body;
    EXPECT_NE(body.find(std::string{"\"code\":\""} + row.name + "\""),
              std::string::npos)
      << body;
  }
}

TEST(ResponseBodies, SuccessBodyWithoutData) {
  auto before = unix_now();
  expect_timestamped(success_body("done"),
                     R"({"success":true,"message":"done")", before);
}

TEST(ResponseBodies, SuccessBodyWithData) {
  auto before = unix_now();
  expect_timestamped(success_body("ok \"q\"", R"({"n":1})"),
                     R"({"success":true,"message":"ok \"q\"","data":{"n":1})",
                     before);
}

TEST(ResponseBodies, StreamsBodyEmpty) {
  auto before = unix_now();
  expect_timestamped(streams_body({}), R"({"success":true,"data":{})",
                     before);
}

TEST(ResponseBodies, StreamsBodyShape) {
  stream_info a;
  a.id = "default";
  a.clients = 2;
  a.generator_running = true;
  a.generator_kind = "sample";
  a.last_event_id = 41;
  a.events_published = 42;
  a.dropped_events = 3;
  a.slow_disconnects = 1;
  a.generator_restarts = 5;
  stream_info b;
  b.id = "q\"s";
  b.generator_paused = true;
  auto before = unix_now();
  expect_timestamped(
    streams_body({a, b}),
    R"({"success":true,"data":{)"
    R"("default":{"clients":2,"active":true,)"
    R"("generator":{"running":true,"paused":false,"kind":"sample"},)"
    R"("last_event_id":41,"events_published":42,"dropped_events":3,)"
    R"("slow_disconnects":1,"generator_restarts":5},)"
    R"("q\"s":{"clients":0,"active":true,)"
    R"("generator":{"running":false,"paused":true},)"
    R"("last_event_id":0,"events_published":0,"dropped_events":0,)"
    R"("slow_disconnects":0,"generator_restarts":0}})",
    before);
}
