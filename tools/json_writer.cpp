#include "json_writer.hpp"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace ckpt::tool {

std::string JsonWriter::quote(const std::string &text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
    case '"': out += "\\\""; break;
    case '\\': out += "\\\\"; break;
    case '\n': out += "\\n"; break;
    case '\r': out += "\\r"; break;
    case '\t': out += "\\t"; break;
    case '\b': out += "\\b"; break;
    case '\f': out += "\\f"; break;
    default:
      if (static_cast<unsigned char>(c) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
        out += buf;
      } else {
        out += c; // UTF-8 passes through unchanged
      }
    }
  }
  return out + "\"";
}

void JsonWriter::before_value() {
  if (m_after_key) {
    m_after_key = false;
    return;
  }
  if (m_levels.empty()) return;
  Level &level = m_levels.back();
  if (level.bracket == '{')
    throw std::logic_error("JsonWriter: a value inside an object needs a key");
  m_out << (level.empty ? "\n" : ",\n") << std::string(2 * m_levels.size(), ' ');
  level.empty = false;
}

void JsonWriter::key(const std::string &name) {
  if (m_levels.empty() || m_levels.back().bracket != '{' || m_after_key)
    throw std::logic_error("JsonWriter: a key outside an object");
  Level &level = m_levels.back();
  m_out << (level.empty ? "\n" : ",\n") << std::string(2 * m_levels.size(), ' ') << quote(name)
        << ": ";
  level.empty = false;
  m_after_key = true;
}

void JsonWriter::open(char bracket) {
  before_value();
  m_out << bracket;
  m_levels.push_back(Level{bracket, true});
}

void JsonWriter::close(char bracket) {
  if (m_levels.empty() || m_levels.back().bracket != bracket || m_after_key)
    throw std::logic_error("JsonWriter: unbalanced container");
  const bool empty = m_levels.back().empty;
  m_levels.pop_back();
  if (!empty) m_out << "\n" << std::string(2 * m_levels.size(), ' ');
  m_out << (bracket == '{' ? '}' : ']');
}

void JsonWriter::begin_object() { open('{'); }
void JsonWriter::end_object() { close('{'); }
void JsonWriter::begin_array() { open('['); }
void JsonWriter::end_array() { close('['); }

void JsonWriter::value(const std::string &text) {
  before_value();
  m_out << quote(text);
}
void JsonWriter::value(const char *text) { value(std::string(text ? text : "")); }
void JsonWriter::value(std::int64_t number) {
  before_value();
  m_out << number;
}
void JsonWriter::value(std::uint64_t number) {
  before_value();
  m_out << number;
}
void JsonWriter::value(double number) {
  before_value();
  if (!std::isfinite(number)) {
    m_out << "null";
    return;
  }
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.9g", number);
  m_out << buf;
}
void JsonWriter::value(bool flag) {
  before_value();
  m_out << (flag ? "true" : "false");
}
void JsonWriter::null() {
  before_value();
  m_out << "null";
}

void JsonWriter::finish() {
  if (!m_levels.empty() || m_after_key) throw std::logic_error("JsonWriter: unclosed container");
  m_out << "\n";
}

} // namespace ckpt::tool
