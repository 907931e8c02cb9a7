// Fuzzes the body parser of POST .../broadcast (json::parse_broadcast).
// Invariants: it never crashes; an accepted body has a non-empty type of at
// most max_type_length bytes, an empty or valid stream_id, and data_json
// empty or one JSON object; the event built from it encodes (to_json, then
// sse::encode) into one well-formed SSE frame whose data is valid JSON.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "core/event.hpp"
#include "core/json.hpp"
#include "core/sse.hpp"
#include "core/validate.hpp"
#include "fuzz_check.hpp"
#include "sse_parser.hpp"

using namespace eventcast;
using namespace eventcast::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  std::string_view body{reinterpret_cast<const char*>(bytes), size};
  auto result = json::parse_broadcast(body);

  if (auto* err = std::get_if<json::field_error>(&result)) {
    FUZZ_CHECK(err->code == "invalid_json" || err->code == "invalid_field",
               "unknown error code '" + printable(err->code) + "'");
    FUZZ_CHECK((err->code == "invalid_field") == !err->field.empty(),
               "field '" + printable(err->field) + "' with code "
                 + err->code);
    FUZZ_CHECK(!err->message.empty(), "error without a message");
    return 0;
  }

  const auto& req = std::get<json::broadcast_request>(result);
  const auto& in = req.event;
  FUZZ_CHECK(!in.type.empty(), "accepted an empty type");
  FUZZ_CHECK(in.type.size() <= max_type_length,
             "accepted a type of " + std::to_string(in.type.size())
               + " bytes");
  FUZZ_CHECK(req.stream_id.empty() || valid_stream_id(req.stream_id),
             "accepted stream_id '" + printable(req.stream_id) + "'");
  FUZZ_CHECK(in.data_json.empty() || json::is_object(in.data_json),
             "data_json is not one JSON object: " + printable(in.data_json));

  // What the stream actor does with it (actors/stream.cpp: publish).
  event e;
  e.seq = size + 1;
  e.id = "evt_1700000000000000";
  e.type = in.type;
  e.message = in.message;
  e.data_json = in.data_json;
  e.timestamp = 1700000000;
  e.stream_id = req.stream_id.empty() ? "default" : req.stream_id;
  auto json = to_json(e);
  FUZZ_CHECK(json::is_object(json),
             "EventData is not a valid JSON object: " + printable(json));
  FUZZ_CHECK(json.find_first_of("\r\n") == std::string::npos,
             "EventData has a raw line break: " + printable(json));

  auto frame = sse::encode(e);
  FUZZ_CHECK(frame != nullptr, "encode returned no frame");
  auto p = check_data_frame(*frame, e.seq, json);
  FUZZ_CHECK(p.data_lines == 1, "EventData split over several data: lines");
  return 0;
}
