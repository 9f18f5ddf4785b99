// The per-run statistics file <dir>/<prefix>.stats: the runtime appends one
// JSON object per line after each committed checkpoint:
//   {"version":3,"step":15,"kind":"delta","base_version":1,"state_bytes":...,
//    "written_bytes":...,"blocks":...,"dirty_blocks":...,"seconds":0.01,
//    "nranks":2,"time_unix":1763793855}
#ifndef CKPT_TOOL_STATS_FILE_HPP
#define CKPT_TOOL_STATS_FILE_HPP

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ckpt::tool {

struct StatsEntry {
  std::int64_t version = 0;
  std::int64_t step = 0;
  bool base = true;
  std::int64_t base_version = 0;
  std::uint64_t state_bytes = 0;
  std::uint64_t written_bytes = 0;
  std::uint64_t blocks = 0;
  std::uint64_t dirty_blocks = 0;
  double seconds = 0.0;
  int nranks = 0;             // 0 when the line does not say
  std::int64_t time_unix = 0; // 0 when the line does not say

  /// Bytes written per second (0 when the time is 0).
  [[nodiscard]] double bandwidth() const noexcept {
    return seconds > 0 ? double(written_bytes) / seconds : 0.0;
  }
};

/// A line that could not be read (a run killed while appending leaves a
/// partial last line).
struct StatsProblem {
  std::size_t line = 0; // 1-based
  std::string problem;
};

struct StatsFile {
  std::vector<StatsEntry> entries;
  std::vector<StatsProblem> problems;
};

/// Longest line read; a longer one is reported as a problem and skipped
/// (the runtime writes lines of about 250 bytes).
constexpr std::size_t k_max_stats_line = 4096;

/// Parses one line; throws std::invalid_argument explaining what is wrong.
StatsEntry parse_stats_line(const std::string &line);
/// Reads the whole file, line by line. Throws ckpt::Error (IoError) when it
/// cannot be read or is not a regular file (a FIFO or symbolic link is
/// refused without blocking).
StatsFile read_stats_file(const std::string &path);

} // namespace ckpt::tool

#endif
