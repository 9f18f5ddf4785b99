// The commit record of one checkpoint version: a small text file written
// last (temporary file, fsync, rename, fsync of the directory). A version
// exists for restart only if its record is present and its hash matches.
// Format: docs/FORMAT.md, section "Commit record".
#ifndef CKPT_DETAIL_COMMIT_RECORD_HPP
#define CKPT_DETAIL_COMMIT_RECORD_HPP

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ckpt::detail {

constexpr int k_commit_format_version = 1;

/// Version numbers are 1 .. k_max_version: file names carry them in 6 to 9
/// digits (docs/FORMAT.md, "File names").
constexpr std::int64_t k_max_version = 999999999;
/// Longest delta chain: the runtime starts a new base at this length,
/// whatever the config key base_every says.
constexpr std::size_t k_max_chain_length = 1000;
/// Largest commit record accepted: a record with the longest chain of the
/// largest versions takes about 11 KiB.
constexpr std::uint64_t k_max_commit_record_bytes = 64 * 1024;

struct CommitRecord {
  std::int64_t version = 0;
  std::int64_t step = 0;
  bool base = true;
  /// Versions needed to rebuild this one, base first, this version last.
  std::vector<std::int64_t> chain;
  int nranks = 0;
  std::uint64_t block_size = 0;
  std::string file; // HDF5 file name, relative to the directory
  std::uint64_t file_bytes = 0;
  std::uint64_t state_bytes = 0;
  std::uint64_t written_bytes = 0;
  std::uint64_t blocks = 0;
  std::uint64_t dirty_blocks = 0;
  double seconds = 0.0;
  std::int64_t time_unix = 0; // seconds since the epoch, at commit

  [[nodiscard]] std::int64_t base_version() const {
    return chain.empty() ? version : chain.front();
  }
  [[nodiscard]] std::int64_t parent_version() const {
    return chain.size() < 2 ? 0 : chain[chain.size() - 2];
  }

  [[nodiscard]] std::string serialize() const;
  /// Strict: every key of the format exactly once and nothing else, decimal
  /// numbers without sign (step and time_unix may be negative) or trailing
  /// characters and within their range, a chain of increasing versions that
  /// ends with `version`, at most k_max_commit_record_bytes. Throws
  /// FormatError naming `origin` and, where it applies, the line.
  static CommitRecord parse(const std::string &text, const std::string &origin);
};

} // namespace ckpt::detail

#endif
