#include "core/validate.hpp"

namespace eventcast {

namespace {

bool alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
         || (c >= '0' && c <= '9');
}

} // namespace

bool valid_stream_id(std::string_view id) {
  if (id.empty() || id.size() > max_stream_id_length || !alnum(id[0]))
    return false;
  for (char c : id.substr(1))
    if (!alnum(c) && c != '_' && c != '.' && c != '-')
      return false;
  return true;
}

} // namespace eventcast
