#include "commit_record.hpp"

#include "block_hasher.hpp"
#include "error.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <map>
#include <sstream>

namespace ckpt::detail {
namespace {

std::string hex16(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, v);
  return buf;
}

const char *const k_magic = "# libckpt commit record";

} // namespace

std::string CommitRecord::serialize() const {
  std::ostringstream out;
  out.precision(9);
  out << k_magic << "\n";
  out << "format_version = " << k_commit_format_version << "\n";
  out << "version = " << version << "\n";
  out << "step = " << step << "\n";
  out << "kind = " << (base ? "base" : "delta") << "\n";
  out << "chain =";
  for (auto v : chain)
    out << ' ' << v;
  out << "\n";
  out << "nranks = " << nranks << "\n";
  out << "block_size = " << block_size << "\n";
  out << "file = " << file << "\n";
  out << "file_bytes = " << file_bytes << "\n";
  out << "state_bytes = " << state_bytes << "\n";
  out << "written_bytes = " << written_bytes << "\n";
  out << "blocks = " << blocks << "\n";
  out << "dirty_blocks = " << dirty_blocks << "\n";
  out << "seconds = " << seconds << "\n";
  out << "time_unix = " << time_unix << "\n";
  std::string body = out.str();
  body += "record_hash = " + hex16(hash_bytes(body.data(), body.size())) + "\n";
  return body;
}

namespace {

/// The value of one "key = value" line, with what is needed to report it.
struct Field {
  std::string value;
  std::size_t line = 0;
};

class RecordParser {
public:
  RecordParser(const std::map<std::string, Field> &fields, std::string origin)
      : m_fields(fields), m_origin(std::move(origin)) {}

  [[noreturn]] void fail(const std::string &key, const std::string &what) const {
    auto it = m_fields.find(key);
    throw FormatError("commit record " + m_origin +
                      (it != m_fields.end() ? ", line " + std::to_string(it->second.line) : "") +
                      ": '" + key + "' " + what);
  }
  const std::string &text(const std::string &key) const {
    auto it = m_fields.find(key);
    if (it == m_fields.end())
      throw FormatError("commit record " + m_origin + " lacks '" + key + "'");
    return it->second.value;
  }
  /// A decimal integer in [min, max]: optional '-' only when min < 0, then
  /// 1 to 20 digits, nothing else.
  std::int64_t integer(const std::string &key, std::int64_t min, std::int64_t max) const {
    return checked_integer(key, text(key), min, max);
  }
  std::uint64_t unsigned_integer(const std::string &key, std::uint64_t max) const {
    const std::string &t = text(key);
    std::uint64_t v = 0;
    if (!parse_digits(t, v) || v > max)
      fail(key, "has value '" + t + "'; expected a whole number from 0 to " + std::to_string(max));
    return v;
  }
  std::int64_t checked_integer(const std::string &key, const std::string &t, std::int64_t min,
                               std::int64_t max) const {
    const bool negative = !t.empty() && t[0] == '-';
    std::uint64_t magnitude = 0;
    bool ok = (!negative || min < 0) && parse_digits(negative ? t.substr(1) : t, magnitude);
    std::int64_t v = 0;
    if (ok && !negative) {
      ok = magnitude <= static_cast<std::uint64_t>(INT64_MAX);
      v = static_cast<std::int64_t>(magnitude);
    } else if (ok) {
      const std::uint64_t most = static_cast<std::uint64_t>(INT64_MAX) + 1; // |INT64_MIN|
      ok = magnitude <= most;
      v = magnitude == most ? INT64_MIN : -static_cast<std::int64_t>(magnitude);
    }
    if (!ok || v < min || v > max)
      fail(key, "has value '" + t + "'; expected a whole number from " + std::to_string(min) +
                    " to " + std::to_string(max));
    return v;
  }

private:
  static bool parse_digits(const std::string &t, std::uint64_t &out) {
    if (t.empty() || t.size() > 20) return false;
    std::uint64_t v = 0;
    for (char c : t) {
      if (c < '0' || c > '9') return false;
      const auto d = static_cast<std::uint64_t>(c - '0');
      if (v > (UINT64_MAX - d) / 10) return false;
      v = v * 10 + d;
    }
    out = v;
    return true;
  }

  const std::map<std::string, Field> &m_fields;
  std::string m_origin;
};

const char *const k_keys[] = {"format_version", "version",     "step",          "kind",
                              "chain",          "nranks",      "block_size",    "file",
                              "file_bytes",     "state_bytes", "written_bytes", "blocks",
                              "dirty_blocks",   "seconds",     "time_unix"};

} // namespace

CommitRecord CommitRecord::parse(const std::string &text, const std::string &origin) {
  const std::string where = "commit record " + origin;
  if (text.size() > k_max_commit_record_bytes)
    throw FormatError(where + " has " + std::to_string(text.size()) + " bytes, more than the " +
                      std::to_string(k_max_commit_record_bytes) + " a commit record may have");
  const std::string key_line = "\nrecord_hash = ";
  const auto pos = text.rfind(key_line);
  if (text.rfind(std::string(k_magic) + "\n", 0) != 0 || pos == std::string::npos)
    throw FormatError(where + " is damaged (no header or no record_hash)");
  const std::string body = text.substr(0, pos + 1);
  const std::string stored = text.substr(pos + key_line.size());
  const std::string expected = hex16(hash_bytes(body.data(), body.size()));
  if (stored != expected + "\n" && stored != expected)
    throw FormatError(where + " is damaged (record_hash mismatch)");

  // Every line of the body: the header, then "key = value" (or "key =").
  std::map<std::string, Field> fields;
  std::size_t number = 0, begin = 0;
  while (begin < body.size()) {
    const std::size_t end = body.find('\n', begin);
    const std::string line = body.substr(begin, end - begin);
    begin = end + 1;
    ++number;
    if (number == 1) continue; // the header, checked above
    const std::string at = where + ", line " + std::to_string(number) + ": ";
    const auto eq = line.find(" =");
    if (eq == std::string::npos || eq == 0 || (eq + 2 < line.size() && line[eq + 2] != ' ') ||
        line.size() == eq + 3)
      throw FormatError(at + "expected 'key = value', found '" + line + "'");
    const std::string key = line.substr(0, eq);
    const std::string value = eq + 3 <= line.size() ? line.substr(eq + 3) : std::string();
    if (std::find(std::begin(k_keys), std::end(k_keys), key) == std::end(k_keys))
      throw FormatError(at + "unknown key '" + key + "'");
    if (!fields.emplace(key, Field{value, number}).second)
      throw FormatError(at + "key '" + key + "' repeated (first on line " +
                        std::to_string(fields.at(key).line) + ")");
  }
  const RecordParser p(fields, origin);
  const std::int64_t format = p.integer("format_version", 1, INT32_MAX);
  if (format > k_commit_format_version)
    throw FormatError(where + " has format_version " + std::to_string(format) +
                      ", newer than this libckpt understands (" +
                      std::to_string(k_commit_format_version) + ")");
  CommitRecord r;
  r.version = p.integer("version", 1, k_max_version);
  r.step = p.integer("step", INT64_MIN, INT64_MAX);
  const std::string &kind = p.text("kind");
  if (kind != "base" && kind != "delta")
    p.fail("kind", "has value '" + kind + "'; expected 'base' or 'delta'");
  r.base = kind == "base";
  {
    const std::string &chain = p.text("chain");
    std::size_t b = 0;
    while (b <= chain.size()) {
      const std::size_t e = std::min(chain.find(' ', b), chain.size());
      if (r.chain.size() == k_max_chain_length)
        p.fail("chain", "has more than " + std::to_string(k_max_chain_length) + " versions");
      const std::int64_t v = p.checked_integer("chain", chain.substr(b, e - b), 1, k_max_version);
      if (!r.chain.empty() && v <= r.chain.back())
        p.fail("chain", "is not in increasing order ('" + chain + "')");
      r.chain.push_back(v);
      b = e + 1;
    }
  }
  r.nranks = static_cast<int>(p.integer("nranks", 1, INT32_MAX));
  r.block_size = p.unsigned_integer("block_size", std::uint64_t{1} << 30);
  if (r.block_size == 0) p.fail("block_size", "is 0");
  r.file = p.text("file");
  if (r.file.empty() || r.file.find('/') != std::string::npos || r.file[0] == '.')
    p.fail("file", "has value '" + r.file + "'; expected a file name in the same directory");
  r.file_bytes = p.unsigned_integer("file_bytes", INT64_MAX);
  r.state_bytes = p.unsigned_integer("state_bytes", UINT64_MAX);
  r.written_bytes = p.unsigned_integer("written_bytes", UINT64_MAX);
  r.blocks = p.unsigned_integer("blocks", UINT64_MAX);
  r.dirty_blocks = p.unsigned_integer("dirty_blocks", UINT64_MAX);
  {
    const std::string &t = p.text("seconds");
    char *end = nullptr;
    errno = 0;
    // Digits first: no sign, space, "inf", "nan" or hexadecimal.
    const double s = t.empty() || !std::isdigit(static_cast<unsigned char>(t[0]))
                         ? -1.0
                         : std::strtod(t.c_str(), &end);
    if (t.empty() || end != t.c_str() + t.size() || errno == ERANGE || !std::isfinite(s) || s < 0)
      p.fail("seconds", "has value '" + t + "'; expected a finite number of seconds >= 0");
    r.seconds = s;
  }
  r.time_unix = p.integer("time_unix", INT64_MIN, INT64_MAX);
  if (r.chain.back() != r.version || r.base != (r.chain.size() == 1))
    throw FormatError(where + " has an inconsistent chain (version " + std::to_string(r.version) +
                      ", kind " + kind + ", chain '" + p.text("chain") + "')");
  if (r.dirty_blocks > r.blocks || r.written_bytes > r.state_bytes)
    throw FormatError(where + " counts more written than existing blocks or bytes");
  return r;
}

} // namespace ckpt::detail
