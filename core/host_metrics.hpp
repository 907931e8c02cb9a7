#pragma once

// Real figures of this host, read from /proc and statvfs.

#include <optional>
#include <string>

namespace eventcast {

struct host_figures {
  double cpu_percent = 0;     // busy share of all CPUs since the last read
  double memory_percent = 0;  // (total - available) / total
  double memory_used_mb = 0;
  double memory_total_mb = 0;
  double disk_percent = 0;    // used share of the filesystem at disk_path
  double disk_free_gb = 0;
  double load_1m = 0;
};

/// Reads host figures. CPU needs two reads: the first one reports the
/// average since boot. `proc_root` and `disk_path` exist for tests.
class host_probe {
public:
  explicit host_probe(std::string proc_root = "/proc",
                      std::string disk_path = "/");
  /// Figures now; nullopt when the files cannot be read.
  std::optional<host_figures> read();

private:
  std::string proc_root_;
  std::string disk_path_;
  unsigned long long last_busy_ = 0;
  unsigned long long last_total_ = 0;
};

} // namespace eventcast
