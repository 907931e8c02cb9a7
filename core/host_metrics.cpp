#include "core/host_metrics.hpp"

#include <sys/statvfs.h>

#include <exception>
#include <fstream>
#include <sstream>
#include <utility>

namespace eventcast {

namespace {

struct cpu_times {
  unsigned long long busy = 0;
  unsigned long long total = 0;
};

struct memory_kb {
  unsigned long long total = 0;
  unsigned long long available = 0;
};

struct disk_usage {
  double percent = 0;
  double free_gb = 0;
};

constexpr double kib_per_mib = 1024.0;
constexpr double bytes_per_gib = 1024.0 * 1024.0 * 1024.0;

// The aggregate line: "cpu  user nice system idle iowait irq softirq steal
// guest guest_nice". Guest time is already counted in user and nice.
std::optional<cpu_times> parse_cpu_line(const std::string& line) {
  std::istringstream in{line};
  std::string label;
  unsigned long long v[8] = {};
  in >> label;
  int n = 0;
  while (n < 8 && in >> v[n])
    ++n;
  if (label != "cpu" || n < 4)
    return std::nullopt;
  auto busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
  auto idle = v[3] + v[4];
  return cpu_times{busy, busy + idle};
}

std::optional<cpu_times> read_cpu(const std::string& path) {
  std::ifstream in{path};
  std::string line;
  while (std::getline(in, line))
    if (line.compare(0, 4, "cpu ") == 0)
      return parse_cpu_line(line);
  return std::nullopt;
}

std::optional<memory_kb> read_memory(const std::string& path) {
  std::ifstream in{path};
  std::string key;
  unsigned long long value = 0;
  std::optional<unsigned long long> total;
  std::optional<unsigned long long> available;
  std::string rest;
  while (in >> key >> value) {
    if (key == "MemTotal:")
      total = value;
    else if (key == "MemAvailable:")
      available = value;
    std::getline(in, rest);
  }
  if (!total || !available || *total == 0 || *available > *total)
    return std::nullopt;
  return memory_kb{*total, *available};
}

std::optional<double> read_load(const std::string& path) {
  std::ifstream in{path};
  double load = 0;
  if (!(in >> load) || load < 0)
    return std::nullopt;
  return load;
}

std::optional<disk_usage> read_disk(const std::string& path) {
  struct statvfs fs {};
  if (statvfs(path.c_str(), &fs) != 0)
    return std::nullopt;
  // Mirrors df: blocks reserved for root count neither as used nor as free.
  auto used = static_cast<double>(fs.f_blocks - fs.f_bfree);
  auto avail = static_cast<double>(fs.f_bavail);
  disk_usage result;
  if (used + avail > 0)
    result.percent = 100.0 * used / (used + avail);
  result.free_gb = avail * static_cast<double>(fs.f_frsize) / bytes_per_gib;
  return result;
}

// The counters only grow; if they did not, measure since boot.
double busy_percent(cpu_times now, unsigned long long last_busy,
                    unsigned long long last_total) {
  if (now.total < last_total || now.busy < last_busy)
    last_busy = last_total = 0;
  auto total = now.total - last_total;
  if (total == 0)
    return 0;
  return 100.0 * static_cast<double>(now.busy - last_busy)
         / static_cast<double>(total);
}

} // namespace

host_probe::host_probe(std::string proc_root, std::string disk_path)
  : proc_root_(std::move(proc_root)), disk_path_(std::move(disk_path)) {
}

std::optional<host_figures> host_probe::read() {
  try {
    auto cpu = read_cpu(proc_root_ + "/stat");
    auto mem = read_memory(proc_root_ + "/meminfo");
    auto load = read_load(proc_root_ + "/loadavg");
    auto disk = read_disk(disk_path_);
    if (!cpu || !mem || !load || !disk)
      return std::nullopt;
    host_figures f;
    f.cpu_percent = busy_percent(*cpu, last_busy_, last_total_);
    last_busy_ = cpu->busy;
    last_total_ = cpu->total;
    auto used_kb = static_cast<double>(mem->total - mem->available);
    f.memory_total_mb = static_cast<double>(mem->total) / kib_per_mib;
    f.memory_used_mb = used_kb / kib_per_mib;
    f.memory_percent = 100.0 * used_kb / static_cast<double>(mem->total);
    f.disk_percent = disk->percent;
    f.disk_free_gb = disk->free_gb;
    f.load_1m = *load;
    return f;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

} // namespace eventcast
