#include "core/settings.hpp"

namespace eventcast {

service_settings default_events_service() {
  service_settings s;
  s.name = "events";
  s.path = "/api/v1/events";
  s.streams = {
    {"default", "default", millis{2000}, true},
    {"system", "system", millis{5000}, true},
    {"user-activity", "user-activity", millis{3000}, true},
    {"notifications", "notifications", millis{4000}, true},
  };
  return s;
}

service_settings default_broadcast_demo_service() {
  service_settings s;
  s.name = "broadcast-demo";
  s.path = "/api/v1/broadcast-demo";
  s.streams = {{"demo-notifications", "notifications", millis{4000}, true}};
  return s;
}

settings default_settings() {
  settings s;
  s.services = {default_events_service(), default_broadcast_demo_service()};
  return s;
}

} // namespace eventcast
