#include "http/response.hpp"

#include <charconv>

#include "core/sse.hpp"

namespace eventcast::http {

namespace {

constexpr const char* allowed_headers
  = "Cache-Control, Content-Type, Last-Event-ID";

std::string status_line(int status) {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status)
         + "\r\n";
}

std::string common_headers(const response_options& opts) {
  std::string h = "Access-Control-Allow-Origin: " + opts.cors_origin + "\r\n";
  h += "Access-Control-Allow-Headers: ";
  h += allowed_headers;
  h += "\r\n";
  h += opts.keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  return h;
}

std::string chunk(std::string_view payload) {
  char size[chunk_size_line_max];
  auto r = std::string(size, chunk_size_line(payload.size(), size));
  r.append(payload);
  r += "\r\n";
  return r;
}

} // namespace

size_t chunk_size_line(size_t size, char (&out)[chunk_size_line_max]) {
  // to_chars, not snprintf: this runs once per write to every subscriber.
  auto end = std::to_chars(out, out + chunk_size_line_max - 2, size, 16).ptr;
  *end++ = '\r';
  *end++ = '\n';
  return static_cast<size_t>(end - out);
}

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
  }
}

std::string json_response(int status, std::string_view body,
                          const response_options& opts,
                          std::string_view extra_headers) {
  auto r = status_line(status) + common_headers(opts);
  r.append(extra_headers);
  if (status != 204) {
    r += "Content-Type: application/json\r\n";
    r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    r.append(body);
  } else {
    r += "\r\n";
  }
  return r;
}

std::string preflight_response(std::string_view allow,
                               const response_options& opts) {
  std::string extra = "Access-Control-Allow-Methods: ";
  extra.append(allow);
  extra += "\r\nAccess-Control-Max-Age: 86400\r\n";
  return json_response(204, {}, opts, extra);
}

std::string sse_head(const response_options& opts, int64_t retry_ms) {
  auto r = status_line(200);
  r += "Content-Type: text/event-stream\r\n";
  r += "Cache-Control: no-cache\r\n";
  r += common_headers(opts);
  r += "X-Accel-Buffering: no\r\n";
  r += "Transfer-Encoding: chunked\r\n\r\n";
  r += chunk(sse::retry_frame(retry_ms));
  return r;
}

} // namespace eventcast::http
