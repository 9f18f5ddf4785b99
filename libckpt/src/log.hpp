// Log lines "[ckpt][rank N] level: message" on stderr. The level comes from
// the config key log_level (env CKPT_LOG_LEVEL); informational lines are
// printed by rank 0 only (callers decide), warnings and errors by any rank.
#ifndef CKPT_DETAIL_LOG_HPP
#define CKPT_DETAIL_LOG_HPP

#include <string>

namespace ckpt::detail {

enum class LogLevel { Error = 0, Warn = 1, Info = 2, Debug = 3 };

void set_log_level(LogLevel level) noexcept;
LogLevel log_level() noexcept;
void set_log_rank(int rank) noexcept;
LogLevel parse_log_level(const std::string &text); // throws ConfigError
void log(LogLevel level, const std::string &message) noexcept;

/// "1.50 GiB", "512 B": binary units, two decimals above bytes.
std::string human_bytes(double bytes);

inline void log_error(const std::string &m) noexcept { log(LogLevel::Error, m); }
inline void log_warn(const std::string &m) noexcept { log(LogLevel::Warn, m); }
inline void log_info(const std::string &m) noexcept { log(LogLevel::Info, m); }
inline void log_debug(const std::string &m) noexcept { log(LogLevel::Debug, m); }

} // namespace ckpt::detail

#endif
