// A small streaming JSON writer for the tool's --json output: objects,
// arrays, strings (escaped), integers, doubles (null when not finite),
// booleans and null, indented two spaces per level.
#ifndef CKPT_TOOL_JSON_WRITER_HPP
#define CKPT_TOOL_JSON_WRITER_HPP

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace ckpt::tool {

class JsonWriter {
public:
  explicit JsonWriter(std::ostream &out) : m_out(out) {}
  JsonWriter(const JsonWriter &) = delete;
  JsonWriter &operator=(const JsonWriter &) = delete;

  void begin_object();
  void end_object();
  void begin_array();
  void end_array();
  /// The key of the next value inside an object.
  void key(const std::string &name);

  void value(const std::string &text);
  void value(const char *text);
  void value(std::int64_t number);
  void value(std::uint64_t number);
  void value(int number) { value(static_cast<std::int64_t>(number)); }
  void value(double number);
  void value(bool flag);
  void null();

  template <class T> void field(const std::string &name, const T &v) {
    key(name);
    value(v);
  }
  template <class T> void field(const std::string &name, const std::optional<T> &v) {
    key(name);
    if (v)
      value(*v);
    else
      null();
  }
  template <class T> void field(const std::string &name, const std::vector<T> &values) {
    key(name);
    array(values);
  }
  /// An array of scalars.
  template <class T> void array(const std::vector<T> &values) {
    begin_array();
    for (const T &v : values)
      value(v);
    end_array();
  }
  /// Ends the document with a newline; every container must be closed.
  void finish();

  /// `text` as a JSON string literal, quotes included.
  static std::string quote(const std::string &text);

private:
  void before_value();
  void open(char bracket);
  void close(char bracket);

  std::ostream &m_out;
  struct Level {
    char bracket;
    bool empty;
  };
  std::vector<Level> m_levels;
  bool m_after_key = false;
};

} // namespace ckpt::tool

#endif
