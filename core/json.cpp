#include "core/json.hpp"

#include <cmath>
#include <cstdio>

#include "core/rapidjson.hpp"
#include "core/validate.hpp"

namespace eventcast::json {

void append_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 0xf];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void object_writer::key(std::string_view k) {
  if (out_.size() > 1)
    out_ += ',';
  append_string(out_, k);
  out_ += ':';
}

object_writer& object_writer::field(std::string_view k, std::string_view v) {
  key(k);
  append_string(out_, v);
  return *this;
}

object_writer& object_writer::field(std::string_view k, bool v) {
  key(k);
  out_ += v ? "true" : "false";
  return *this;
}

object_writer& object_writer::field(std::string_view k, int64_t v) {
  key(k);
  out_ += std::to_string(v);
  return *this;
}

object_writer& object_writer::field(std::string_view k, uint64_t v) {
  key(k);
  out_ += std::to_string(v);
  return *this;
}

object_writer& object_writer::field(std::string_view k, double v) {
  key(k);
  if (!std::isfinite(v)) {
    out_ += "null";
    return *this;
  }
  char buf[40];
  // Two decimals read best for figures; huge values keep their magnitude.
  std::snprintf(buf, sizeof buf, std::fabs(v) < 1e15 ? "%.2f" : "%.17g", v);
  out_ += buf;
  return *this;
}

object_writer& object_writer::field(std::string_view k,
                                    const std::vector<std::string>& values) {
  key(k);
  out_ += '[';
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0)
      out_ += ',';
    append_string(out_, values[i]);
  }
  out_ += ']';
  return *this;
}

object_writer& object_writer::raw_field(std::string_view k,
                                        std::string_view json) {
  key(k);
  out_.append(json);
  return *this;
}

namespace {

constexpr unsigned strict_parse
  = rapidjson::kParseValidateEncodingFlag;

/// A document that keeps its first KiBs (values and parse stack) in itself,
/// on the caller's stack: a request body of a usual size parses without a
/// heap allocation, instead of RapidJSON's 64 KiB first chunk. Members in
/// construction order.
struct small_document {
  using pool = rapidjson::MemoryPoolAllocator<>;

  // The parse stack starts at a quarter of its buffer and grows in place
  // (x1.5) within it. Starting at the whole buffer would not fit (the pool
  // keeps a chunk header in it): every parse took a 64 KiB chunk from malloc,
  // and glibc consolidated its free lists on each (5 % of the HTTP thread).
  small_document()
    : values(values_buffer, sizeof values_buffer),
      stack(stack_buffer, sizeof stack_buffer),
      doc(&values, sizeof stack_buffer / 4, &stack) {
  }

  char values_buffer[4096];
  char stack_buffer[1024];
  pool values;
  pool stack;
  rapidjson::GenericDocument<rapidjson::UTF8<>, pool, pool> doc;
};

field_error invalid_field(std::string field, std::string message) {
  return {"invalid_field", std::move(field), std::move(message)};
}

std::string compact(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

// Reads a required, non-empty string member.
std::variant<std::string, field_error>
required_string(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  if (it == obj.MemberEnd())
    return invalid_field(name, std::string{"'"} + name + "' is required");
  if (!it->value.IsString())
    return invalid_field(name, std::string{"'"} + name + "' must be a string");
  if (it->value.GetStringLength() == 0)
    return invalid_field(name, std::string{"'"} + name + "' must not be empty");
  return std::string{it->value.GetString(), it->value.GetStringLength()};
}

broadcast_result parse_checked(std::string_view body) {
  small_document parsed;
  auto& doc = parsed.doc;
  doc.Parse<strict_parse>(body.data(), body.size());
  if (doc.HasParseError())
    return field_error{"invalid_json", "",
                       std::string{"malformed JSON: "}
                         + rapidjson::GetParseError_En(doc.GetParseError())};
  if (!doc.IsObject())
    return field_error{"invalid_json", "", "the body must be a JSON object"};
  broadcast_request req;
  if (auto it = doc.FindMember("stream_id"); it != doc.MemberEnd()) {
    if (!it->value.IsString() && !it->value.IsNull())
      return invalid_field("stream_id", "'stream_id' must be a string");
    if (it->value.IsString()) {
      req.stream_id.assign(it->value.GetString(), it->value.GetStringLength());
      if (!req.stream_id.empty() && !valid_stream_id(req.stream_id))
        return invalid_field("stream_id", stream_id_rule);
    }
  }
  auto type = required_string(doc, "type");
  if (auto* err = std::get_if<field_error>(&type))
    return *err;
  req.event.type = std::move(std::get<std::string>(type));
  if (req.event.type.size() > max_type_length)
    return invalid_field("type", "'type' is longer than "
                                   + std::to_string(max_type_length));
  auto msg = doc.FindMember("message");
  if (msg == doc.MemberEnd())
    return invalid_field("message", "'message' is required");
  if (!msg->value.IsString())
    return invalid_field("message", "'message' must be a string");
  req.event.message.assign(msg->value.GetString(),
                           msg->value.GetStringLength());
  if (auto it = doc.FindMember("data"); it != doc.MemberEnd()) {
    if (!it->value.IsObject() && !it->value.IsNull())
      return invalid_field("data", "'data' must be an object");
    if (it->value.IsObject() && it->value.MemberCount() > 0)
      req.event.data_json = compact(it->value);
  }
  return req;
}

bool all_valid_utf8(const broadcast_request& req) {
  return valid_utf8(req.event.type) && valid_utf8(req.event.message)
         && valid_utf8(req.event.data_json);
}

} // namespace

broadcast_result parse_broadcast(std::string_view body) {
  // RapidJSON stops at a NUL byte and lets a lone low surrogate escape
  // through as invalid UTF-8; both must not reach subscribers.
  if (body.find('\0') != std::string_view::npos)
    return field_error{"invalid_json", "", "malformed JSON: NUL byte"};
  auto parsed = parse_checked(body);
  if (auto* req = std::get_if<broadcast_request>(&parsed);
      req && !all_valid_utf8(*req))
    return field_error{"invalid_json", "", "invalid UTF-8 in a string"};
  return parsed;
}

bool is_object(std::string_view text) {
  if (text.find('\0') != std::string_view::npos)
    return false;
  small_document parsed;
  parsed.doc.Parse<strict_parse>(text.data(), text.size());
  return !parsed.doc.HasParseError() && parsed.doc.IsObject();
}

} // namespace eventcast::json
