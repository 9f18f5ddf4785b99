#include "log.hpp"

#include "error.hpp"

#include <atomic>
#include <cstdio>

namespace ckpt::detail {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::Info)};
std::atomic<int> g_rank{-1};
const char *const k_names[] = {"error", "warning", "info", "debug"};
} // namespace

std::string human_bytes(double bytes) {
  const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 5) {
    bytes /= 1024.0;
    ++u;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", bytes, units[u]);
  return buf;
}

void set_log_level(LogLevel level) noexcept { g_level = static_cast<int>(level); }
LogLevel log_level() noexcept { return static_cast<LogLevel>(g_level.load()); }
void set_log_rank(int rank) noexcept { g_rank = rank; }

LogLevel parse_log_level(const std::string &text) {
  for (int i = 0; i < 4; ++i)
    if (text == k_names[i] || (i == 1 && text == "warn")) return static_cast<LogLevel>(i);
  throw ConfigError("bad value '" + text +
                    "' for key log_level: expected error, warning, info or debug");
}

void log(LogLevel level, const std::string &message) noexcept {
  if (static_cast<int>(level) > g_level.load()) return;
  const int rank = g_rank.load();
  if (rank >= 0)
    std::fprintf(stderr, "[ckpt][rank %d] %s: %s\n", rank, k_names[static_cast<int>(level)],
                 message.c_str());
  else
    std::fprintf(stderr, "[ckpt] %s: %s\n", k_names[static_cast<int>(level)], message.c_str());
}

} // namespace ckpt::detail
