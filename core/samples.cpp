#include "core/samples.hpp"

#include <array>
#include <cstdio>
#include <random>
#include <utility>

#include "core/json.hpp"

namespace eventcast {

namespace {

using rng_t = std::mt19937_64;

int between(rng_t& rng, int lo, int hi) {
  return std::uniform_int_distribution<int>{lo, hi}(rng);
}

double between(rng_t& rng, double lo, double hi) {
  return std::uniform_real_distribution<double>{lo, hi}(rng);
}

template <class T, size_t N>
const T& pick(rng_t& rng, const std::array<T, N>& xs) {
  return xs[static_cast<size_t>(between(rng, 0, static_cast<int>(N) - 1))];
}

std::string numbered(const char* prefix, rng_t& rng) {
  return prefix + std::to_string(between(rng, 1000, 9999));
}

std::string percent_text(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", value);
  return buf;
}

// -- default ------------------------------------------------------------------

struct verb_entry {
  const char* name;
  const char* verb;
};

constexpr std::array<verb_entry, 3> default_actions{{
  {"login", "logged in"},
  {"logout", "logged out"},
  {"profile_update", "updated their profile"},
}};

constexpr std::array<const char*, 4> general_notices{{
  "A new version of the application is available",
  "Scheduled maintenance starts tonight at 22:00 UTC",
  "Your weekly activity report is ready",
  "Service status: all systems operational",
}};

constexpr std::array<const char*, 4> entities{{
  "order", "invoice", "product", "inventory"}};

constexpr std::array<verb_entry, 3> record_operations{{
  {"created", "created"},
  {"updated", "updated"},
  {"deleted", "deleted"},
}};

event_input default_user_action(rng_t& rng) {
  auto user = numbered("user_", rng);
  const auto& act = pick(rng, default_actions);
  auto data = json::object_writer{}
                .field("user_id", user)
                .field("action", act.name)
                .str();
  return {"user_action", "User " + user + " " + act.verb, std::move(data)};
}

event_input default_notification(rng_t& rng) {
  std::string text = pick(rng, general_notices);
  auto data = json::object_writer{}
                .field("notification_id", numbered("ntf_", rng))
                .field("level", "info")
                .str();
  return {"notification", std::move(text), std::move(data)};
}

event_input default_data_update(rng_t& rng) {
  std::string entity = pick(rng, entities);
  const auto& op = pick(rng, record_operations);
  auto record = numbered("rec_", rng);
  auto data = json::object_writer{}
                .field("entity", entity)
                .field("operation", op.name)
                .field("record_id", record)
                .str();
  auto text = "Record " + record + " of " + entity + " " + op.verb;
  return {"data_update", std::move(text), std::move(data)};
}

class default_source : public event_source {
public:
  explicit default_source(uint64_t seed) : rng_(seed) {
  }

  std::vector<event_input> next() override {
    switch (between(rng_, 0, 2)) {
      case 0:
        return {default_user_action(rng_)};
      case 1:
        return {default_notification(rng_)};
      default:
        return {default_data_update(rng_)};
    }
  }

private:
  rng_t rng_;
};

// -- user-activity ------------------------------------------------------------

constexpr std::array<verb_entry, 3> auth_actions{{
  {"login", "signed in"},
  {"logout", "signed out"},
  {"login_failed", "failed to sign in"},
}};

constexpr std::array<const char*, 4> profile_fields{{
  "email", "display_name", "avatar", "timezone"}};

constexpr std::array<const char*, 3> roles{{"viewer", "editor", "admin"}};

constexpr std::array<const char*, 3> content_kinds{{"post", "comment",
                                                    "file"}};

constexpr std::array<verb_entry, 3> content_actions{{
  {"content_create", "created"},
  {"content_update", "edited"},
  {"content_delete", "deleted"},
}};

event_input authentication(rng_t& rng, const std::string& user) {
  const auto& act = pick(rng, auth_actions);
  auto data = json::object_writer{}
                .field("user_id", user)
                .field("action", act.name)
                .field("category", "authentication")
                .field("ip", "10.0.0." + std::to_string(between(rng, 2, 254)))
                .str();
  return {"user_action", "User " + user + " " + act.verb, std::move(data)};
}

event_input profile_change(rng_t& rng, const std::string& user) {
  std::string field = pick(rng, profile_fields);
  auto data = json::object_writer{}
                .field("user_id", user)
                .field("action", "profile_update")
                .field("category", "profile")
                .field("field", field)
                .str();
  auto text = "User " + user + " changed their " + field;
  return {"user_action", std::move(text), std::move(data)};
}

event_input permission_change(rng_t& rng, const std::string& user) {
  std::string role = pick(rng, roles);
  bool granted = between(rng, 0, 1) == 1;
  auto data = json::object_writer{}
                .field("user_id", user)
                .field("action", "permission_change")
                .field("category", "permission")
                .field("role", role)
                .field("change", granted ? "granted" : "revoked")
                .str();
  auto text = granted ? "User " + user + " was granted the " + role + " role"
                      : "User " + user + " lost the " + role + " role";
  return {"user_action", std::move(text), std::move(data)};
}

event_input content_update(rng_t& rng, const std::string& user) {
  const auto& act = pick(rng, content_actions);
  std::string kind = pick(rng, content_kinds);
  auto content = numbered("cnt_", rng);
  auto data = json::object_writer{}
                .field("user_id", user)
                .field("action", act.name)
                .field("category", "content")
                .field("content_type", kind)
                .field("content_id", content)
                .str();
  auto text = "User " + user + " " + act.verb + " " + kind + " " + content;
  return {"user_action", std::move(text), std::move(data)};
}

class user_activity_source : public event_source {
public:
  explicit user_activity_source(uint64_t seed) : rng_(seed) {
  }

  std::vector<event_input> next() override {
    auto user = numbered("user_", rng_);
    switch (between(rng_, 0, 3)) {
      case 0:
        return {authentication(rng_, user)};
      case 1:
        return {profile_change(rng_, user)};
      case 2:
        return {permission_change(rng_, user)};
      default:
        return {content_update(rng_, user)};
    }
  }

private:
  rng_t rng_;
};

// -- notifications ------------------------------------------------------------

struct notification_kind {
  const char* category;
  std::array<const char*, 3> texts;
  std::array<const char*, 2> priorities;
  bool broadcast; // goes to every user rather than one
};

constexpr std::array<notification_kind, 4> notification_kinds{{
  {"push",
   {{"You have a new message", "Someone commented on your post",
     "Your order has shipped"}},
   {{"normal", "high"}},
   false},
  {"alert",
   {{"Unusual sign-in activity detected on your account",
     "Your storage quota is almost full",
     "Payment method expires this month"}},
   {{"high", "urgent"}},
   false},
  {"reminder",
   {{"Team standup starts in 15 minutes", "Your trial ends in 3 days",
     "Quarterly report is due tomorrow"}},
   {{"low", "normal"}},
   false},
  {"announcement",
   {{"New dashboard features are now available",
     "Planned maintenance this Sunday at 02:00 UTC",
     "Our privacy policy has been updated"}},
   {{"normal", "normal"}},
   true},
}};

class notifications_source : public event_source {
public:
  explicit notifications_source(uint64_t seed) : rng_(seed) {
  }

  std::vector<event_input> next() override {
    const auto& kind = pick(rng_, notification_kinds);
    std::string text = pick(rng_, kind.texts);
    std::string priority = pick(rng_, kind.priorities);
    auto recipient = kind.broadcast ? std::string{"all"}
                                    : numbered("user_", rng_);
    auto data = json::object_writer{}
                  .field("notification_id", numbered("ntf_", rng_))
                  .field("category", kind.category)
                  .field("priority", priority)
                  .field("recipient", recipient)
                  .str();
    return {event_input{"notification", std::move(text), std::move(data)}};
  }

private:
  rng_t rng_;
};

// -- generic ------------------------------------------------------------------

class generic_source : public event_source {
public:
  generic_source(std::string stream_id, uint64_t seed)
    : stream_id_(std::move(stream_id)), rng_(seed) {
  }

  std::vector<event_input> next() override {
    ++sequence_;
    if (between(rng_, 0, 3) == 0)
      return {notification()};
    return {data_update()};
  }

private:
  event_input data_update() {
    auto data = json::object_writer{}
                  .field("stream_id", stream_id_)
                  .field("sequence", sequence_)
                  .field("value", between(rng_, 0.0, 100.0))
                  .str();
    auto text = "Sample data update #" + std::to_string(sequence_)
                + " on stream " + stream_id_;
    return {"data_update", std::move(text), std::move(data)};
  }

  event_input notification() {
    auto data = json::object_writer{}
                  .field("stream_id", stream_id_)
                  .field("sequence", sequence_)
                  .field("level", "info")
                  .str();
    auto text = "Sample notification #" + std::to_string(sequence_)
                + " on stream " + stream_id_;
    return {"notification", std::move(text), std::move(data)};
  }

  std::string stream_id_;
  rng_t rng_;
  uint64_t sequence_ = 0;
};

// -- system -------------------------------------------------------------------

struct threshold {
  const char* metric;
  const char* label; // as in "High <label> usage detected"
  double host_figures::*figure;
  double limit;
};

constexpr std::array<threshold, 3> thresholds{{
  {"cpu", "CPU", &host_figures::cpu_percent, 80.0},
  {"memory", "memory", &host_figures::memory_percent, 90.0},
  {"disk", "disk", &host_figures::disk_percent, 90.0},
}};

event_input metric_update(const host_figures& f) {
  auto data = json::object_writer{}
                .field("cpu_percent", f.cpu_percent)
                .field("memory_percent", f.memory_percent)
                .field("memory_used_mb", f.memory_used_mb)
                .field("memory_total_mb", f.memory_total_mb)
                .field("disk_percent", f.disk_percent)
                .field("disk_free_gb", f.disk_free_gb)
                .field("load_1m", f.load_1m)
                .str();
  auto text = "System metrics: CPU " + percent_text(f.cpu_percent)
              + ", memory " + percent_text(f.memory_percent) + ", disk "
              + percent_text(f.disk_percent);
  return {"metric_update", std::move(text), std::move(data)};
}

event_input threshold_alert(const threshold& t, double value) {
  auto data = json::object_writer{}
                .field("metric", t.metric)
                .field("value", value)
                .field("threshold", t.limit)
                .field("severity", value >= 95.0 ? "critical" : "warning")
                .str();
  auto text = std::string{"High "} + t.label + " usage detected: "
              + percent_text(value);
  return {"system_alert", std::move(text), std::move(data)};
}

event_input unavailable_alert() {
  auto data = json::object_writer{}
                .field("metric", "host")
                .field("severity", "warning")
                .str();
  return {"system_alert", "host metrics unavailable", std::move(data)};
}

class system_source : public event_source {
public:
  explicit system_source(host_probe probe) : probe_(std::move(probe)) {
  }

  std::vector<event_input> next() override {
    auto figures = probe_.read();
    if (!figures)
      return unavailable();
    unavailable_reported_ = false;
    std::vector<event_input> result{metric_update(*figures)};
    for (size_t i = 0; i < thresholds.size(); ++i) {
      auto value = (*figures).*thresholds[i].figure;
      auto above = value > thresholds[i].limit;
      if (above && !above_[i])
        result.push_back(threshold_alert(thresholds[i], value));
      above_[i] = above;
    }
    return result;
  }

private:
  std::vector<event_input> unavailable() {
    if (unavailable_reported_)
      return {};
    unavailable_reported_ = true;
    return {unavailable_alert()};
  }

  host_probe probe_;
  std::array<bool, thresholds.size()> above_{};
  bool unavailable_reported_ = false;
};

} // namespace

std::unique_ptr<event_source> make_default_source(uint64_t seed) {
  return std::make_unique<default_source>(seed);
}

std::unique_ptr<event_source> make_system_source(host_probe probe) {
  return std::make_unique<system_source>(std::move(probe));
}

std::unique_ptr<event_source> make_user_activity_source(uint64_t seed) {
  return std::make_unique<user_activity_source>(seed);
}

std::unique_ptr<event_source> make_notifications_source(uint64_t seed) {
  return std::make_unique<notifications_source>(seed);
}

std::unique_ptr<event_source> make_generic_source(std::string stream_id,
                                                  uint64_t seed) {
  return std::make_unique<generic_source>(std::move(stream_id), seed);
}

} // namespace eventcast
