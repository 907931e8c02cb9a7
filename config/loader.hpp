#pragma once

// Reads the settings: built-in defaults, then a YAML file, then command-line
// flags. Every value is validated here, so the layers below can trust them.

#include <stdexcept>
#include <string>
#include <string_view>

#include "core/settings.hpp"

namespace eventcast::config {

/// A rejected configuration. The message names the offending key path
/// (e.g. `sse.retry`) or command-line flag; `key()` returns just that name.
class config_error : public std::runtime_error {
public:
  config_error(std::string key, const std::string& message);

  const std::string& key() const noexcept {
    return key_;
  }

private:
  std::string key_;
};

/// Applies the YAML document `yaml_text` on top of `base`. Keys absent from
/// the document keep their value from `base`. Throws `config_error` for a
/// syntax error, an unknown key, a wrong type or an out-of-range value.
settings parse_yaml(std::string_view yaml_text,
                    settings base = default_settings());

/// Parses the file at `path` over `default_settings()`. Throws `config_error`
/// (its message starts with `path`) if the file is unreadable or invalid.
settings load_file(const std::string& path);

/// The outcome of `from_command_line`.
struct cli_result {
  settings config;
  bool help = false;         // --help given: print help_text and exit
  std::string help_text;
  std::string config_path;   // the file loaded; empty: built-in defaults only
};

/// Builds the settings from defaults, then the config file (`--config PATH`,
/// else `./config.yaml` if it exists), then the flags `--host`, `--port`,
/// `--debug`, `--cluster`, `--node-name`, `--advertise-url` and `--replicas`.
/// Throws `config_error` for an unknown flag or a bad value.
cli_result from_command_line(int argc, const char* const* argv);

} // namespace eventcast::config
