#include "core/host_metrics.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace fs = std::filesystem;

using namespace eventcast;

namespace {

constexpr const char* meminfo_text = "MemTotal:        8000000 kB\n"
                                     "MemFree:         1000000 kB\n"
                                     "MemAvailable:    2000000 kB\n"
                                     "Buffers:          100000 kB\n";

// A temporary directory standing in for /proc.
class FakeProc : public ::testing::Test {
protected:
  void SetUp() override {
    auto pattern = (fs::temp_directory_path() / "eventcast-proc-XXXXXX")
                     .string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    reset();
  }

  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  void reset() {
    write("stat", "cpu  100 0 100 800 0 0 0 0 0 0\n"
                  "cpu0 100 0 100 800 0 0 0 0 0 0\n");
    write("meminfo", meminfo_text);
    write("loadavg", "0.52 0.48 0.40 1/234 5678\n");
  }

  void write(const std::string& name, const std::string& text) {
    std::ofstream{root_ / name} << text;
  }

  host_probe probe() {
    return host_probe{root_.string(), root_.string()};
  }

  fs::path root_;
};

} // namespace

TEST_F(FakeProc, FirstReadReportsCpuSinceBoot) {
  auto p = probe();
  auto f = p.read();
  ASSERT_TRUE(f);
  EXPECT_DOUBLE_EQ(f->cpu_percent, 20.0);
}

TEST_F(FakeProc, SecondReadReportsCpuDelta) {
  auto p = probe();
  ASSERT_TRUE(p.read());
  // busy +300 (user, system); idle +300 and iowait +100.
  write("stat", "cpu  300 0 200 1100 100 0 0 0 0 0\n");
  auto f = p.read();
  ASSERT_TRUE(f);
  EXPECT_NEAR(f->cpu_percent, 300.0 / 700.0 * 100.0, 1e-9);
}

TEST_F(FakeProc, CountsIrqSoftirqAndStealAsBusy) {
  auto p = probe();
  ASSERT_TRUE(p.read());
  write("stat", "cpu  100 10 100 810 0 20 30 40 99 99\n");
  auto f = p.read();
  ASSERT_TRUE(f);
  // busy +100 (nice, irq, softirq, steal), idle +10; guest is ignored.
  EXPECT_NEAR(f->cpu_percent, 100.0 / 110.0 * 100.0, 1e-9);
}

TEST_F(FakeProc, UnchangedCountersReportZeroCpu) {
  auto p = probe();
  ASSERT_TRUE(p.read());
  auto f = p.read();
  ASSERT_TRUE(f);
  EXPECT_DOUBLE_EQ(f->cpu_percent, 0.0);
}

TEST_F(FakeProc, ReadsMemoryAndLoad) {
  auto f = probe().read();
  ASSERT_TRUE(f);
  EXPECT_DOUBLE_EQ(f->memory_percent, 75.0);
  EXPECT_DOUBLE_EQ(f->memory_total_mb, 8000000.0 / 1024.0);
  EXPECT_DOUBLE_EQ(f->memory_used_mb, 6000000.0 / 1024.0);
  EXPECT_DOUBLE_EQ(f->load_1m, 0.52);
}

TEST_F(FakeProc, ReadsDiskOfDiskPath) {
  auto f = probe().read();
  ASSERT_TRUE(f);
  EXPECT_GE(f->disk_percent, 0.0);
  EXPECT_LE(f->disk_percent, 100.0);
  EXPECT_GE(f->disk_free_gb, 0.0);
}

TEST_F(FakeProc, MissingFilesGiveNullopt) {
  for (auto name : {"stat", "meminfo", "loadavg"}) {
    reset();
    fs::remove(root_ / name);
    EXPECT_FALSE(probe().read()) << name;
  }
}

TEST_F(FakeProc, MissingDiskPathGivesNullopt) {
  host_probe p{root_.string(), (root_ / "no-such-dir").string()};
  EXPECT_FALSE(p.read());
}

TEST_F(FakeProc, UnparsableFilesGiveNullopt) {
  write("stat", "intr 1 2 3\n");
  EXPECT_FALSE(probe().read());
  reset();
  write("stat", "cpu  a b c d\n");
  EXPECT_FALSE(probe().read());
  reset();
  write("meminfo", "MemTotal: 8000000 kB\n");
  EXPECT_FALSE(probe().read());
  reset();
  write("loadavg", "busy\n");
  EXPECT_FALSE(probe().read());
}

TEST(HostProbe, RealProcGivesPlausibleFigures) {
  host_probe p;
  ASSERT_TRUE(p.read());
  auto f = p.read();
  ASSERT_TRUE(f);
  EXPECT_GE(f->cpu_percent, 0.0);
  EXPECT_LE(f->cpu_percent, 100.0);
  EXPECT_GT(f->memory_total_mb, 0.0);
  EXPECT_GT(f->memory_percent, 0.0);
  EXPECT_LE(f->memory_percent, 100.0);
  EXPECT_LE(f->memory_used_mb, f->memory_total_mb);
  EXPECT_GE(f->disk_percent, 0.0);
  EXPECT_LE(f->disk_percent, 100.0);
  EXPECT_GE(f->load_1m, 0.0);
}
