// Formatting of the tool's human-readable output: sizes, ratios, times and
// aligned text tables.
#ifndef CKPT_TOOL_TEXT_FORMAT_HPP
#define CKPT_TOOL_TEXT_FORMAT_HPP

#include "log.hpp"

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace ckpt::tool {

/// "512 B", "64.00 KiB", "1.25 GiB": the library's own formatting.
using detail::human_bytes;
/// "12.5%"; "-" when the denominator is zero.
std::string percent(std::uint64_t part, std::uint64_t whole);
/// "0.123 s".
std::string seconds_text(double seconds);
/// Local time "2026-11-22 06:44:15" ("-" for 0).
std::string local_time(std::int64_t unix_seconds);
/// UTC time "2026-11-22T06:44:15Z" (empty for 0).
std::string utc_time(std::int64_t unix_seconds);
/// 16 lower-case hex digits.
std::string hex16(std::uint64_t value);

/// Columns padded to their widest cell; numbers right-aligned.
class TextTable {
public:
  struct Column {
    std::string title;
    bool right_aligned = false;
  };
  explicit TextTable(std::vector<Column> columns) : m_columns(std::move(columns)) {}
  void add_row(std::vector<std::string> cells);
  [[nodiscard]] bool empty() const noexcept { return m_rows.empty(); }
  /// The table, each line prefixed with `indent`; the last column is not padded.
  void print(std::ostream &out, const std::string &indent = "") const;

private:
  std::vector<Column> m_columns;
  std::vector<std::vector<std::string>> m_rows;
};

} // namespace ckpt::tool

#endif
