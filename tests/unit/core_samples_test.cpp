#include "core/samples.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "core/json.hpp"

namespace fs = std::filesystem;

using namespace eventcast;

namespace {

using type_set = std::set<std::string>;

std::vector<event_input> collect(event_source& src, int ticks) {
  std::vector<event_input> result;
  for (int i = 0; i < ticks; ++i)
    for (auto& e : src.next())
      result.push_back(std::move(e));
  return result;
}

void expect_well_formed(const std::vector<event_input>& events,
                        const type_set& allowed) {
  ASSERT_FALSE(events.empty());
  for (const auto& e : events) {
    EXPECT_FALSE(e.message.empty()) << e.type;
    EXPECT_EQ(allowed.count(e.type), 1u) << e.type;
    EXPECT_TRUE(e.data_json.empty() || json::is_object(e.data_json))
      << e.data_json;
  }
}

type_set types_of(const std::vector<event_input>& events) {
  type_set result;
  for (const auto& e : events)
    result.insert(e.type);
  return result;
}

bool any_data_has(const std::vector<event_input>& events,
                  const std::string& fragment) {
  for (const auto& e : events)
    if (e.data_json.find(fragment) != std::string::npos)
      return true;
  return false;
}

void expect_same(const std::vector<event_input>& xs,
                 const std::vector<event_input>& ys) {
  ASSERT_EQ(xs.size(), ys.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    EXPECT_EQ(xs[i].type, ys[i].type) << i;
    EXPECT_EQ(xs[i].message, ys[i].message) << i;
    EXPECT_EQ(xs[i].data_json, ys[i].data_json) << i;
  }
}

bool same_messages(const std::vector<event_input>& xs,
                   const std::vector<event_input>& ys) {
  if (xs.size() != ys.size())
    return false;
  for (size_t i = 0; i < xs.size(); ++i)
    if (xs[i].message != ys[i].message || xs[i].data_json != ys[i].data_json)
      return false;
  return true;
}

constexpr int many = 400;

} // namespace

TEST(DefaultSource, EmitsUserActionsNotificationsAndDataUpdates) {
  auto src = make_default_source(1);
  auto events = collect(*src, many);
  type_set expected{"user_action", "notification", "data_update"};
  expect_well_formed(events, expected);
  EXPECT_EQ(types_of(events), expected);
  for (auto action : {"login", "logout", "profile_update"})
    EXPECT_TRUE(any_data_has(events, std::string{"\"action\":\""} + action
                                       + "\""))
      << action;
  EXPECT_TRUE(any_data_has(events, "\"user_id\":\"user_"));
}

TEST(UserActivitySource, EmitsUserActionsOfEveryCategory) {
  auto src = make_user_activity_source(2);
  auto events = collect(*src, many);
  expect_well_formed(events, {"user_action"});
  for (auto category : {"authentication", "profile", "permission", "content"})
    EXPECT_TRUE(any_data_has(events, std::string{"\"category\":\""}
                                       + category + "\""))
      << category;
}

TEST(NotificationsSource, EmitsNotificationsOfEveryCategory) {
  auto src = make_notifications_source(3);
  auto events = collect(*src, many);
  expect_well_formed(events, {"notification"});
  for (auto category : {"push", "alert", "reminder", "announcement"})
    EXPECT_TRUE(any_data_has(events, std::string{"\"category\":\""}
                                       + category + "\""))
      << category;
  for (const auto& e : events)
    EXPECT_NE(e.data_json.find("\"priority\":"), std::string::npos);
}

TEST(GenericSource, NamesItsStream) {
  auto src = make_generic_source("orders", 4);
  auto events = collect(*src, many);
  type_set expected{"data_update", "notification"};
  expect_well_formed(events, expected);
  EXPECT_EQ(types_of(events), expected);
  for (const auto& e : events) {
    EXPECT_NE(e.data_json.find("\"stream_id\":\"orders\""), std::string::npos);
    EXPECT_NE(e.message.find("orders"), std::string::npos);
  }
}

TEST(SeededSources, SameSeedGivesSameSequence) {
  expect_same(collect(*make_default_source(7), 50),
              collect(*make_default_source(7), 50));
  expect_same(collect(*make_user_activity_source(7), 50),
              collect(*make_user_activity_source(7), 50));
  expect_same(collect(*make_notifications_source(7), 50),
              collect(*make_notifications_source(7), 50));
  expect_same(collect(*make_generic_source("s", 7), 50),
              collect(*make_generic_source("s", 7), 50));
}

TEST(SeededSources, OtherSeedGivesOtherSequence) {
  EXPECT_FALSE(same_messages(collect(*make_default_source(7), 50),
                             collect(*make_default_source(8), 50)));
  EXPECT_FALSE(same_messages(collect(*make_user_activity_source(7), 50),
                             collect(*make_user_activity_source(8), 50)));
  EXPECT_FALSE(same_messages(collect(*make_notifications_source(7), 50),
                             collect(*make_notifications_source(8), 50)));
  EXPECT_FALSE(same_messages(collect(*make_generic_source("s", 7), 50),
                             collect(*make_generic_source("s", 8), 50)));
}

TEST(SystemSource, ReportsRealHostFigures) {
  auto src = make_system_source(host_probe{});
  auto events = collect(*src, 3);
  expect_well_formed(events, {"metric_update", "system_alert"});
  int updates = 0;
  for (const auto& e : events) {
    if (e.type != "metric_update")
      continue;
    ++updates;
    for (auto key : {"cpu_percent", "memory_percent", "memory_used_mb",
                     "memory_total_mb", "disk_percent", "disk_free_gb",
                     "load_1m"})
      EXPECT_NE(e.data_json.find(std::string{"\""} + key + "\":"),
                std::string::npos)
        << key;
  }
  EXPECT_EQ(updates, 3);
}

namespace {

// A temporary /proc whose CPU and memory figures each test sets per tick.
class SystemSourceFixture : public ::testing::Test {
protected:
  void SetUp() override {
    auto pattern = (fs::temp_directory_path() / "eventcast-sys-XXXXXX")
                     .string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    write("loadavg", "0.10 0.20 0.30 1/100 42\n");
    cpu(10);
    memory(50);
    src_ = make_system_source(host_probe{root_.string(), root_.string()});
  }

  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  void write(const std::string& name, const std::string& text) {
    std::ofstream{root_ / name} << text;
  }

  // Makes the CPU `percent` busy until the next read.
  void cpu(int percent) {
    busy_ += static_cast<unsigned>(percent);
    idle_ += static_cast<unsigned>(100 - percent);
    write("stat", "cpu  " + std::to_string(busy_) + " 0 0 "
                    + std::to_string(idle_) + " 0 0 0 0 0 0\n");
  }

  void memory(int percent) {
    auto available = 10000 * (100 - percent);
    write("meminfo", "MemTotal: 1000000 kB\nMemAvailable: "
                       + std::to_string(available) + " kB\n");
  }

  // The system_alert events of one tick about `metric`.
  std::vector<event_input> alerts_of_tick(const std::string& metric) {
    std::vector<event_input> result;
    for (auto& e : src_->next()) {
      EXPECT_TRUE(json::is_object(e.data_json)) << e.data_json;
      if (e.type == "system_alert"
          && e.data_json.find("\"metric\":\"" + metric + "\"")
               != std::string::npos)
        result.push_back(std::move(e));
    }
    return result;
  }

  fs::path root_;
  unsigned busy_ = 0;
  unsigned idle_ = 0;
  std::unique_ptr<event_source> src_;
};

} // namespace

TEST_F(SystemSourceFixture, AlertsOncePerCpuCrossing) {
  EXPECT_EQ(alerts_of_tick("cpu").size(), 0u); // since "boot": 10%
  cpu(90);
  auto first = alerts_of_tick("cpu");
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].message, "High CPU usage detected: 90.0%");
  EXPECT_NE(first[0].data_json.find("\"threshold\":80.00"), std::string::npos);
  EXPECT_NE(first[0].data_json.find("\"severity\":"), std::string::npos);
  cpu(95);
  EXPECT_EQ(alerts_of_tick("cpu").size(), 0u);
  cpu(99);
  EXPECT_EQ(alerts_of_tick("cpu").size(), 0u);
  cpu(20);
  EXPECT_EQ(alerts_of_tick("cpu").size(), 0u);
  cpu(85);
  EXPECT_EQ(alerts_of_tick("cpu").size(), 1u);
}

TEST_F(SystemSourceFixture, AlertsOncePerMemoryCrossing) {
  EXPECT_EQ(alerts_of_tick("memory").size(), 0u);
  memory(95);
  auto first = alerts_of_tick("memory");
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].message, "High memory usage detected: 95.0%");
  EXPECT_EQ(alerts_of_tick("memory").size(), 0u);
  memory(92);
  EXPECT_EQ(alerts_of_tick("memory").size(), 0u);
  memory(60);
  EXPECT_EQ(alerts_of_tick("memory").size(), 0u);
  memory(91);
  EXPECT_EQ(alerts_of_tick("memory").size(), 1u);
  EXPECT_EQ(alerts_of_tick("memory").size(), 0u);
}

TEST_F(SystemSourceFixture, AlertsAtFirstTickWhenAlreadyAbove) {
  memory(97);
  EXPECT_EQ(alerts_of_tick("memory").size(), 1u);
  EXPECT_EQ(alerts_of_tick("memory").size(), 0u);
}

TEST_F(SystemSourceFixture, EmitsOneMetricUpdatePerTick) {
  src_->next(); // the first CPU figure averages since "boot"
  for (int i = 0; i < 5; ++i) {
    cpu(50);
    auto events = src_->next();
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events[0].type, "metric_update");
    EXPECT_NE(events[0].data_json.find("\"cpu_percent\":50.00"),
              std::string::npos)
      << events[0].data_json;
    EXPECT_NE(events[0].data_json.find("\"load_1m\":0.10"), std::string::npos);
    for (size_t j = 1; j < events.size(); ++j)
      EXPECT_EQ(events[j].type, "system_alert");
  }
}

TEST_F(SystemSourceFixture, ReportsUnavailableHostOncePerOutage) {
  fs::remove(root_ / "meminfo");
  auto events = src_->next();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, "system_alert");
  EXPECT_EQ(events[0].message, "host metrics unavailable");
  EXPECT_TRUE(json::is_object(events[0].data_json));
  EXPECT_TRUE(src_->next().empty());
  EXPECT_TRUE(src_->next().empty());
  memory(50);
  events = src_->next();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events[0].type, "metric_update");
  fs::remove(root_ / "stat");
  events = src_->next();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].message, "host metrics unavailable");
  EXPECT_TRUE(src_->next().empty());
}
