#include "config.hpp"

#include "error.hpp"

#include <boost/program_options.hpp>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <sys/stat.h>

namespace po = boost::program_options;

namespace ckpt::detail {

const std::vector<OptionSpec> &option_table() {
  static const std::vector<OptionSpec> table = {
      {"dir", OptionKind::String, "ckpt", "directory holding the checkpoint files"},
      {"prefix", OptionKind::String, "ckpt",
       "file name prefix: files are <dir>/<prefix>.v<NNNNNN>.h5 and .commit; letters, digits, "
       "'.', '_', '-' and '+', not starting with '.' or '-', no '..', at most 128 characters"},
      {"block_size", OptionKind::Size, "64KiB",
       "bytes per hashed block; only blocks whose hash changed are written", "", 512,
       INT64_C(1) << 30},
      {"base_every", OptionKind::Integer, "8",
       "write a full (base) checkpoint every N checkpoints; deltas in between", "", 1, 1000000},
      {"keep", OptionKind::Integer, "2",
       "committed versions to keep (with the chains they need); older ones are deleted", "", 1,
       1000000},
      {"verify", OptionKind::Bool, "true", "check every restored block against its stored hash"},
      {"fsync", OptionKind::Bool, "true",
       "fsync checkpoint files and commit records before a checkpoint counts as committed"},
      {"log_level", OptionKind::Choice, "info", "error, warning, info or debug",
       "error|warning|warn|info|debug"},
      {"signal", OptionKind::Choice, "USR1",
       "signal that requests a checkpoint at the next checkpoint site (none to disable)",
       "USR1|USR2|TERM|INT|HUP|none"},
      {"exit_on_signal", OptionKind::Bool, "true",
       "after a signal-requested checkpoint, ask the application to stop (exit 85 = requeue)"},
      {"dirty_tracking", OptionKind::Choice, "auto",
       "how a checkpoint finds changed blocks: hash (hash every block), pages (hash only "
       "blocks whose pages were written, by userfaultfd write-protection; regions it cannot "
       "track are hashed) or auto (pages for large regions of which few blocks change)",
       "auto|hash|pages"},
      {"staging_size", OptionKind::Size, "16MiB",
       "per-rank buffer that gathers scattered dirty blocks into large writes", "", 4096,
       INT64_C(1) << 34},
      {"local_dir", OptionKind::String, "auto",
       "node-local directory of the local level (each rank's own files, in a subdirectory "
       "libckpt-<uid>-<hash of dir and prefix>; e.g. /dev/shm or a local SSD); used when it has "
       "room for two versions of the node's state; auto: /dev/shm; none: checkpoints go to dir "
       "synchronously"},
      {"flush_every", OptionKind::Integer, "1",
       "with a local level: write every Nth checkpoint to dir (the global level) in the "
       "background; the last one before an exit on signal or ckpt_finalize always is",
       "", 1, 1000000},
      {"node_id", OptionKind::String, "auto",
       "name of this rank's node for the partner level (auto: the host name); lets tests run "
       "several simulated nodes on one machine"},
      {"restart_bridge", OptionKind::Size, "auto",
       "restart reads superseded bytes between two needed blocks of a file rather than skip "
       "them when the gap is at most this long; auto: from the device (docs/FORMAT.md 5)",
       "auto", 0, INT64_C(1) << 30},
      {"protocol", OptionKind::Choice, "blocking",
       "how ranks take a checkpoint: blocking (every rank meets in the checkpoint, messages in "
       "flight are drained) or nonblocking (each rank takes its local checkpoint at its next "
       "checkpoint site and goes on; late messages are recorded; needs the PMPI layer; "
       "docs/PROTOCOL.md)",
       "blocking|nonblocking"},
      {"checkpoint_interval", OptionKind::Integer, "0",
       "request a checkpoint every N seconds (rank 0's clock, read at checkpoint sites); 0: off",
       "", 0, INT64_C(1) << 31},
      {"message_log_bytes", OptionKind::Size, "256MiB",
       "most bytes of late messages a rank records for one nonblocking checkpoint; beyond it "
       "that checkpoint fails (CKPT_ERR_STATE, the next request tries again)",
       "", 0, INT64_C(1) << 40},
  };
  return table;
}

const OptionSpec *find_option(const std::string &key) noexcept {
  for (const auto &spec : option_table())
    if (key == spec.key) return &spec;
  return nullptr;
}

const char *to_string(ValueSource source) noexcept {
  switch (source) {
  case ValueSource::Default: return "default";
  case ValueSource::File: return "file";
  case ValueSource::Environment: return "environment";
  case ValueSource::Flag: return "flag";
  }
  return "?";
}

bool parse_bool(const std::string &text, bool &out) noexcept {
  std::string t = text;
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  if (t == "1" || t == "true" || t == "yes" || t == "on") {
    out = true;
    return true;
  }
  if (t == "0" || t == "false" || t == "no" || t == "off") {
    out = false;
    return true;
  }
  return false;
}

std::uint64_t parse_size(const std::string &text) {
  std::size_t pos = 0;
  unsigned long long number = 0;
  try {
    if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0])))
      throw std::invalid_argument("");
    number = std::stoull(text, &pos);
  } catch (const std::exception &) {
    throw ConfigError("'" + text + "' is not a size (examples: 65536, 64KiB, 1MiB)");
  }
  std::string unit = text.substr(pos);
  std::uint64_t mult = 1;
  if (unit.empty() || unit == "B")
    mult = 1;
  else if (unit == "K" || unit == "KiB" || unit == "k")
    mult = 1ULL << 10;
  else if (unit == "M" || unit == "MiB")
    mult = 1ULL << 20;
  else if (unit == "G" || unit == "GiB")
    mult = 1ULL << 30;
  else
    throw ConfigError("'" + text + "' has an unknown size unit '" + unit + "' (use KiB, MiB, GiB)");
  if (number > (UINT64_MAX / mult)) throw ConfigError("'" + text + "' is too large");
  return number * mult;
}

namespace {

/// The prefix becomes part of file names in the checkpoint directory: it must
/// name a file there, never a path elsewhere or a hidden file.
void validate_prefix(const std::string &value, const std::string &where) {
  const auto bad = [&](const std::string &why) {
    throw ConfigError("bad value '" + value + "' for " + where + ": " + why);
  };
  if (value.size() > 128) bad("longer than 128 characters");
  if (value[0] == '.' || value[0] == '-') bad("must not start with '.' or '-'");
  if (value.find("..") != std::string::npos) bad("must not contain '..'");
  for (char c : value)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-' &&
        c != '+')
      bad((std::isprint(static_cast<unsigned char>(c))
               ? "must not contain '" + std::string(1, c) + "'"
               : std::string("must not contain a control character")) +
          " (allowed: letters, digits, '.', '_', '-', '+'; the prefix is a file name, not a "
          "path: use the key dir for the directory)");
}

} // namespace

void validate_option(const OptionSpec &spec, const std::string &value, const std::string &origin) {
  const std::string where = "key '" + std::string(spec.key) + "' (from " + origin + ")";
  switch (spec.kind) {
  case OptionKind::String:
    if (value.empty()) throw ConfigError("empty value for " + where);
    if (std::string(spec.key) == "prefix") validate_prefix(value, where);
    return;
  case OptionKind::Bool: {
    bool b = false;
    if (!parse_bool(value, b))
      throw ConfigError("bad value '" + value + "' for " + where + ": expected true or false");
    return;
  }
  case OptionKind::Integer: {
    std::size_t pos = 0;
    long long v = 0;
    try {
      v = std::stoll(value, &pos);
    } catch (const std::exception &) {
      pos = 0;
    }
    if (pos == 0 || pos != value.size())
      throw ConfigError("bad value '" + value + "' for " + where + ": expected an integer");
    if (v < spec.min || v > spec.max)
      throw ConfigError("bad value '" + value + "' for " + where + ": must be between " +
                        std::to_string(spec.min) + " and " + std::to_string(spec.max));
    return;
  }
  case OptionKind::Size: {
    if (*spec.choices != '\0' && value == spec.choices) return; // a keyword such as "auto"
    std::uint64_t v = 0;
    try {
      v = parse_size(value);
    } catch (const ConfigError &e) {
      throw ConfigError("bad value for " + where + ": " + e.what());
    }
    if (v < static_cast<std::uint64_t>(spec.min) || v > static_cast<std::uint64_t>(spec.max))
      throw ConfigError("bad value '" + value + "' for " + where + ": must be between " +
                        std::to_string(spec.min) + " and " + std::to_string(spec.max) + " bytes");
    return;
  }
  case OptionKind::Choice: {
    std::stringstream choices(spec.choices);
    std::string c;
    while (std::getline(choices, c, '|'))
      if (c == value) return;
    throw ConfigError("bad value '" + value + "' for " + where + ": expected one of " +
                      std::string(spec.choices));
  }
  }
}

Config::Config() {
  for (const auto &spec : option_table())
    m_entries[spec.key] = Entry{spec.default_value, ValueSource::Default, "default"};
}

void Config::set(const std::string &key, const std::string &value, ValueSource source,
                 const std::string &origin) {
  const OptionSpec *spec = find_option(key);
  if (!spec) throw ConfigError("unknown configuration key '" + key + "' (from " + origin + ")");
  validate_option(*spec, value, origin);
  m_entries[key] = Entry{value, source, origin};
}

const Config::Entry &Config::entry(const std::string &key) const {
  auto it = m_entries.find(key);
  if (it == m_entries.end()) throw ConfigError("unknown configuration key '" + key + "'");
  return it->second;
}

Config Config::resolve(const std::string &file, const std::map<std::string, std::string> &flags,
                       bool use_environment) {
  Config config;
  if (!file.empty()) {
    struct stat st {};
    if (::stat(file.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
      throw ConfigError("configuration file '" + file + "' is not a regular file" +
                        (S_ISDIR(st.st_mode) ? " (it is a directory)" : ""));
    std::ifstream in(file);
    if (!in) throw ConfigError("cannot open configuration file '" + file + "'");
    // Keys may stand alone or in a [ckpt] section.
    po::options_description desc;
    for (const auto &spec : option_table()) {
      desc.add_options()(spec.key, po::value<std::string>());
      desc.add_options()(("ckpt." + std::string(spec.key)).c_str(), po::value<std::string>());
    }
    po::variables_map vm;
    try {
      po::store(po::parse_config_file(in, desc, false), vm);
    } catch (const po::unknown_option &e) {
      std::string key = e.get_option_name();
      if (key.rfind("ckpt.", 0) == 0) key = key.substr(5);
      throw ConfigError("unknown configuration key '" + key + "' in " + file);
    } catch (const po::error &e) {
      throw ConfigError("cannot parse configuration file " + file + ": " + e.what());
    }
    for (const auto &[name, value] : vm) {
      std::string key = name.rfind("ckpt.", 0) == 0 ? name.substr(5) : name;
      config.set(key, value.as<std::string>(), ValueSource::File, file);
    }
  }
  if (use_environment) {
    for (const auto &spec : option_table()) {
      std::string var = "CKPT_" + std::string(spec.key);
      std::transform(var.begin(), var.end(), var.begin(),
                     [](unsigned char c) { return std::toupper(c); });
      if (const char *v = std::getenv(var.c_str()))
        config.set(spec.key, v, ValueSource::Environment, var);
    }
  }
  for (const auto &[key, value] : flags)
    config.set(key, value, ValueSource::Flag, "flag");
  return config;
}

std::uint64_t Config::block_size() const { return parse_size(get("block_size")); }
int Config::base_every() const { return std::stoi(get("base_every")); }
int Config::keep() const { return std::stoi(get("keep")); }
bool Config::verify() const {
  bool b = true;
  parse_bool(get("verify"), b);
  return b;
}
bool Config::fsync() const {
  bool b = true;
  parse_bool(get("fsync"), b);
  return b;
}
LogLevel Config::log_level() const { return parse_log_level(get("log_level")); }
bool Config::exit_on_signal() const {
  bool b = true;
  parse_bool(get("exit_on_signal"), b);
  return b;
}
std::string Config::local_dir() const { return get("local_dir"); }
int Config::flush_every() const { return std::stoi(get("flush_every")); }
std::string Config::node_id() const { return get("node_id"); }
std::string Config::dirty_tracking() const { return get("dirty_tracking"); }
bool Config::nonblocking() const { return get("protocol") == "nonblocking"; }
int Config::checkpoint_interval() const { return std::stoi(get("checkpoint_interval")); }
std::uint64_t Config::message_log_bytes() const { return parse_size(get("message_log_bytes")); }
std::uint64_t Config::staging_bytes() const { return parse_size(get("staging_size")); }
std::optional<std::uint64_t> Config::restart_bridge_bytes() const {
  const std::string &v = get("restart_bridge");
  if (v == "auto") return std::nullopt;
  return parse_size(v);
}

int Config::signal_number() const {
  const std::string &s = get("signal");
  if (s == "USR1") return SIGUSR1;
  if (s == "USR2") return SIGUSR2;
  if (s == "TERM") return SIGTERM;
  if (s == "INT") return SIGINT;
  if (s == "HUP") return SIGHUP;
  return 0;
}

} // namespace ckpt::detail
