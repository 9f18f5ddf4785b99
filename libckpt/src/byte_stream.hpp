// A byte stream of plain values and its bounded reader: how the runtime
// passes metadata between ranks (a restart plan) and keeps it on node-local
// storage (the local level's records). Both ends are the same build of
// libckpt on the same kind of machine; every count read is bounded by the
// bytes that remain.
#ifndef CKPT_DETAIL_BYTE_STREAM_HPP
#define CKPT_DETAIL_BYTE_STREAM_HPP

#include "error.hpp"

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace ckpt::detail {

/// Little-endian-agnostic byte stream of plain values (both ends are the
/// same build of libckpt on the same job).
class Writer {
public:
  template <class T> void put(const T &value) {
    const auto *p = reinterpret_cast<const char *>(&value);
    m_out.append(p, sizeof value);
  }
  void put_string(const std::string &s) {
    put<std::uint64_t>(s.size());
    m_out += s;
  }
  void put_u64s(const std::vector<std::uint64_t> &v) {
    put<std::uint64_t>(v.size());
    if (!v.empty())
      m_out.append(reinterpret_cast<const char *>(v.data()), v.size() * sizeof(std::uint64_t));
  }
  std::string take() { return std::move(m_out); }

private:
  std::string m_out;
};

class Reader {
public:
  Reader(const std::string &bytes, const std::string &origin, std::string what = "restart plan")
      : m_in(bytes), m_origin(origin), m_what(std::move(what)) {}
  template <class T> T get() {
    need(sizeof(T));
    T value;
    std::memcpy(&value, m_in.data() + m_pos, sizeof value);
    m_pos += sizeof value;
    return value;
  }
  /// A count of items of `item_bytes` each, bounded by the bytes left.
  std::uint64_t count(std::uint64_t item_bytes) {
    const auto n = get<std::uint64_t>();
    if (item_bytes > 0 && n > (m_in.size() - m_pos) / item_bytes) fail("count out of range");
    return n;
  }
  std::string get_string() {
    const std::uint64_t n = count(1);
    std::string s = m_in.substr(m_pos, n);
    m_pos += n;
    return s;
  }
  std::vector<std::uint64_t> get_u64s() {
    const std::uint64_t n = count(sizeof(std::uint64_t));
    std::vector<std::uint64_t> v(n);
    if (n > 0) std::memcpy(v.data(), m_in.data() + m_pos, n * sizeof(std::uint64_t));
    m_pos += n * sizeof(std::uint64_t);
    return v;
  }
  [[nodiscard]] std::size_t position() const noexcept { return m_pos; }
  [[nodiscard]] bool done() const noexcept { return m_pos == m_in.size(); }
  [[noreturn]] void fail(const std::string &why) const {
    throw FormatError(m_origin + ": damaged " + m_what + " (" + why + ")");
  }

private:
  void need(std::size_t n) const {
    if (m_in.size() - m_pos < n) fail("truncated");
  }
  const std::string &m_in;
  const std::string &m_origin;
  std::string m_what;
  std::size_t m_pos = 0;
};

} // namespace ckpt::detail

#endif
