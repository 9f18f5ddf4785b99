#include "text_format.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <stdexcept>

namespace ckpt::tool {

std::string percent(std::uint64_t part, std::uint64_t whole) {
  if (whole == 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * double(part) / double(whole));
  return buf;
}

std::string seconds_text(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f s", seconds);
  return buf;
}

std::string local_time(std::int64_t unix_seconds) {
  if (unix_seconds == 0) return "-";
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  if (!localtime_r(&t, &tm)) return std::to_string(unix_seconds);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

std::string utc_time(std::int64_t unix_seconds) {
  if (unix_seconds == 0) return "";
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  if (!gmtime_r(&t, &tm)) return "";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string hex16(std::uint64_t value) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, value);
  return buf;
}

void TextTable::add_row(std::vector<std::string> cells) {
  if (cells.size() != m_columns.size())
    throw std::logic_error("TextTable: a row has " + std::to_string(cells.size()) + " cells for " +
                           std::to_string(m_columns.size()) + " columns");
  m_rows.push_back(std::move(cells));
}

void TextTable::print(std::ostream &out, const std::string &indent) const {
  std::vector<std::size_t> width(m_columns.size());
  for (std::size_t c = 0; c < m_columns.size(); ++c) {
    width[c] = m_columns[c].title.size();
    for (const auto &row : m_rows)
      width[c] = std::max(width[c], row[c].size());
  }
  auto line = [&](const std::vector<std::string> &cells) {
    std::string text = indent;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      const std::size_t pad = width[c] - cells[c].size();
      const bool last = c + 1 == cells.size();
      if (m_columns[c].right_aligned)
        text += std::string(pad, ' ') + cells[c];
      else
        text += cells[c] + (last ? std::string() : std::string(pad, ' '));
      if (!last) text += "  ";
    }
    while (!text.empty() && text.back() == ' ')
      text.pop_back();
    out << text << "\n";
  };
  std::vector<std::string> titles;
  for (const auto &c : m_columns)
    titles.push_back(c.title);
  line(titles);
  for (const auto &row : m_rows)
    line(row);
}

} // namespace ckpt::tool
