#include "stats_file.hpp"

#include "fs.hpp"

#include <cctype>
#include <map>
#include <stdexcept>
#include <type_traits>

namespace ckpt::tool {
namespace {

/// A scalar value of a flat JSON object: its token text (strings unescaped).
struct Scalar {
  bool is_string = false;
  std::string text;
};

/// Parses a flat JSON object of scalars ({"k": 1, "s": "x", "b": true}).
class FlatObjectParser {
public:
  explicit FlatObjectParser(const std::string &text) : m_text(text) {}

  std::map<std::string, Scalar> parse() {
    std::map<std::string, Scalar> out;
    skip_space();
    expect('{');
    skip_space();
    if (peek() == '}') {
      ++m_pos;
    } else {
      for (;;) {
        skip_space();
        const std::string key = parse_string();
        skip_space();
        expect(':');
        skip_space();
        out[key] = parse_scalar();
        skip_space();
        if (peek() == ',') {
          ++m_pos;
          continue;
        }
        expect('}');
        break;
      }
    }
    skip_space();
    if (m_pos != m_text.size()) fail("text after the closing brace");
    return out;
  }

private:
  [[noreturn]] void fail(const std::string &what) const {
    throw std::invalid_argument(what + " at column " + std::to_string(m_pos + 1));
  }
  char peek() const { return m_pos < m_text.size() ? m_text[m_pos] : '\0'; }
  void skip_space() {
    while (m_pos < m_text.size() && std::isspace(static_cast<unsigned char>(m_text[m_pos])))
      ++m_pos;
  }
  void expect(char c) {
    if (peek() != c)
      fail(m_pos >= m_text.size() ? std::string("unexpected end of line")
                                  : std::string("expected '") + c + "'");
    ++m_pos;
  }
  std::string parse_string() {
    expect('"');
    std::string out;
    while (m_pos < m_text.size() && m_text[m_pos] != '"') {
      char c = m_text[m_pos++];
      if (c == '\\') {
        if (m_pos >= m_text.size()) fail("unterminated string");
        const char e = m_text[m_pos++];
        switch (e) {
        case 'n': c = '\n'; break;
        case 't': c = '\t'; break;
        case 'r': c = '\r'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'u': fail("\\u escapes are not expected in a stats line");
        default: c = e; // \" \\ \/
        }
      }
      out += c;
    }
    expect('"');
    return out;
  }
  Scalar parse_scalar() {
    Scalar s;
    if (peek() == '"') {
      s.is_string = true;
      s.text = parse_string();
      return s;
    }
    const std::size_t begin = m_pos;
    while (m_pos < m_text.size() &&
           (std::isalnum(static_cast<unsigned char>(m_text[m_pos])) || m_text[m_pos] == '-' ||
            m_text[m_pos] == '+' || m_text[m_pos] == '.'))
      ++m_pos;
    if (m_pos == begin) fail("expected a value");
    s.text = m_text.substr(begin, m_pos - begin);
    return s;
  }

  const std::string &m_text;
  std::size_t m_pos = 0;
};

const Scalar &need(const std::map<std::string, Scalar> &obj, const char *key) {
  const auto it = obj.find(key);
  if (it == obj.end()) throw std::invalid_argument(std::string("no \"") + key + "\"");
  return it->second;
}

template <class T> T number(const Scalar &s, const char *key) {
  if (s.is_string) throw std::invalid_argument(std::string("\"") + key + "\" is not a number");
  std::size_t pos = 0;
  T value{};
  try {
    if constexpr (std::is_same_v<T, double>)
      value = std::stod(s.text, &pos);
    else if constexpr (std::is_unsigned_v<T>) {
      if (s.text[0] != '-') value = static_cast<T>(std::stoull(s.text, &pos));
    } else
      value = static_cast<T>(std::stoll(s.text, &pos));
  } catch (const std::exception &) {
    pos = 0;
  }
  if (pos == 0 || pos != s.text.size())
    throw std::invalid_argument(std::string("\"") + key + "\" has a bad value '" + s.text + "'");
  return value;
}

template <class T>
T number_or(const std::map<std::string, Scalar> &obj, const char *key, T fallback) {
  const auto it = obj.find(key);
  return it == obj.end() ? fallback : number<T>(it->second, key);
}

} // namespace

StatsEntry parse_stats_line(const std::string &line) {
  const auto obj = FlatObjectParser(line).parse();
  StatsEntry e;
  e.version = number<std::int64_t>(need(obj, "version"), "version");
  e.step = number<std::int64_t>(need(obj, "step"), "step");
  const Scalar &kind = need(obj, "kind");
  if (!kind.is_string || (kind.text != "base" && kind.text != "delta"))
    throw std::invalid_argument("\"kind\" must be \"base\" or \"delta\"");
  e.base = kind.text == "base";
  e.base_version = number_or<std::int64_t>(obj, "base_version", e.base ? e.version : 0);
  e.state_bytes = number<std::uint64_t>(need(obj, "state_bytes"), "state_bytes");
  e.written_bytes = number<std::uint64_t>(need(obj, "written_bytes"), "written_bytes");
  e.blocks = number<std::uint64_t>(need(obj, "blocks"), "blocks");
  e.dirty_blocks = number<std::uint64_t>(need(obj, "dirty_blocks"), "dirty_blocks");
  e.seconds = number<double>(need(obj, "seconds"), "seconds");
  e.nranks = number_or<int>(obj, "nranks", 0);
  e.time_unix = number_or<std::int64_t>(obj, "time_unix", 0);
  if (e.version <= 0) throw std::invalid_argument("\"version\" must be positive");
  if (e.seconds < 0) throw std::invalid_argument("\"seconds\" must not be negative");
  return e;
}

StatsFile read_stats_file(const std::string &path) {
  StatsFile out;
  detail::read_lines(
      path, k_max_stats_line,
      [&](std::size_t number, const std::string &line) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) return;
        try {
          out.entries.push_back(parse_stats_line(line));
        } catch (const std::invalid_argument &e) {
          out.problems.push_back(StatsProblem{number, e.what()});
        }
      },
      [&](std::size_t number) {
        out.problems.push_back(StatsProblem{
            number, "line longer than " + std::to_string(k_max_stats_line) + " bytes (skipped)"});
      });
  return out;
}

} // namespace ckpt::tool
