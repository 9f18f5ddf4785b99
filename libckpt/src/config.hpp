// Configuration: one option table feeds the INI file, the CKPT_<KEY>
// environment variables and command-line flags (the ckpt tool, or the options
// map of ckpt::Session). Precedence: flag > environment > file > default.
// Unknown keys and bad values are errors that name the key and its origin.
#ifndef CKPT_DETAIL_CONFIG_HPP
#define CKPT_DETAIL_CONFIG_HPP

#include "log.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ckpt::detail {

enum class OptionKind { String, Bool, Integer, Size, Choice };

struct OptionSpec {
  const char *key;
  OptionKind kind;
  const char *default_value;
  const char *help;
  const char *choices = ""; // Choice: values separated by '|'
  std::int64_t min = 0;     // Integer/Size: inclusive bounds
  std::int64_t max = INT64_MAX;
};

/// The option table, in documentation order.
const std::vector<OptionSpec> &option_table();
const OptionSpec *find_option(const std::string &key) noexcept;

enum class ValueSource { Default, File, Environment, Flag };
const char *to_string(ValueSource source) noexcept;

/// Parses "65536", "64KiB", "64K", "1MiB", "1M", "2GiB" (binary units).
std::uint64_t parse_size(const std::string &text);

class Config {
public:
  struct Entry {
    std::string value;
    ValueSource source = ValueSource::Default;
    std::string origin; // "default", "CKPT_DIR", "/path/ckpt.ini:3", "flag"
  };

  /// Defaults only.
  Config();
  /// Resolves every key. `file` may be empty (no file). Throws ConfigError.
  static Config resolve(const std::string &file, const std::map<std::string, std::string> &flags,
                        bool use_environment = true);

  [[nodiscard]] const Entry &entry(const std::string &key) const;
  [[nodiscard]] const std::string &get(const std::string &key) const { return entry(key).value; }
  [[nodiscard]] const std::map<std::string, Entry> &entries() const noexcept { return m_entries; }
  /// Sets one key (validated), as if given as a flag.
  void set(const std::string &key, const std::string &value, ValueSource source = ValueSource::Flag,
           const std::string &origin = "flag");

  [[nodiscard]] std::string dir() const { return get("dir"); }
  [[nodiscard]] std::string prefix() const { return get("prefix"); }
  [[nodiscard]] std::uint64_t block_size() const;
  [[nodiscard]] int base_every() const;
  [[nodiscard]] int keep() const;
  [[nodiscard]] bool verify() const;
  [[nodiscard]] bool fsync() const;
  [[nodiscard]] LogLevel log_level() const;
  [[nodiscard]] int signal_number() const; // 0: none
  [[nodiscard]] bool exit_on_signal() const;
  [[nodiscard]] std::uint64_t staging_bytes() const;
  /// Empty for "auto" (the restart decides from the device).
  [[nodiscard]] std::optional<std::uint64_t> restart_bridge_bytes() const;
  [[nodiscard]] std::string dirty_tracking() const; ///< "auto", "hash" or "pages"
  [[nodiscard]] bool nonblocking() const;           ///< protocol = nonblocking
  [[nodiscard]] int checkpoint_interval() const;    ///< seconds, 0: off
  [[nodiscard]] std::uint64_t message_log_bytes() const;
  [[nodiscard]] std::string local_dir() const; ///< a path, "auto" or "none"
  [[nodiscard]] int flush_every() const;
  [[nodiscard]] std::string node_id() const; ///< "auto": the host name

private:
  std::map<std::string, Entry> m_entries;
};

/// Validates `value` for `spec`; throws ConfigError naming key and origin.
void validate_option(const OptionSpec &spec, const std::string &value, const std::string &origin);
bool parse_bool(const std::string &text, bool &out) noexcept;

} // namespace ckpt::detail

#endif
