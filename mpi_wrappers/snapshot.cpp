#include "snapshot.hpp"

#include <cstring>
#include <string>

namespace ckpt::detail::pmpi {

namespace {

constexpr char magic[8] = {'C', 'K', 'P', 'T', 'P', 'M', 'P', 'I'};

class Writer {
public:
  template <class T> void put(T v) {
    const auto *p = reinterpret_cast<const unsigned char *>(&v);
    m_out.insert(m_out.end(), p, p + sizeof(T));
  }
  void bytes(const unsigned char *p, std::size_t n) { m_out.insert(m_out.end(), p, p + n); }
  /// One allocation for the whole encoding: growing by doubling would copy
  /// every drained message again (a 16 MiB message in flight, several times).
  void reserve(std::size_t n) { m_out.reserve(n); }
  std::vector<unsigned char> take() { return std::move(m_out); }

private:
  std::vector<unsigned char> m_out;
};

class Reader {
public:
  Reader(const unsigned char *p, std::size_t n) : m_p(p), m_end(p + n) {}
  template <class T> T get() {
    T v;
    std::memcpy(&v, need(sizeof(T)), sizeof(T));
    return v;
  }
  const unsigned char *need(std::size_t n) {
    if (static_cast<std::size_t>(m_end - m_p) < n)
      throw SnapshotFormatError("PMPI snapshot truncated");
    const unsigned char *p = m_p;
    m_p += n;
    return p;
  }
  [[nodiscard]] bool done() const { return m_p == m_end; }

private:
  const unsigned char *m_p;
  const unsigned char *m_end;
};

/// Encodes `s` with the messages `for_each_message` visits.
template <class ForEachMessage>
std::vector<unsigned char> encode(const ChannelSnapshot &s, ForEachMessage &&for_each_message) {
  Writer w;
  std::size_t messages = 0, payload = 0;
  for_each_message([&](const DrainedMessage &m) {
    ++messages;
    payload += m.data.size();
  });
  w.reserve(sizeof magic + 4 + 8 + 8 + messages * 24 + payload + 8 + s.requests.size() * 26);
  w.bytes(reinterpret_cast<const unsigned char *>(magic), sizeof magic);
  w.put<std::uint32_t>(snapshot_version);
  w.put<std::uint64_t>(s.request_null);
  w.put<std::uint64_t>(messages);
  for_each_message([&](const DrainedMessage &m) {
    w.put<std::uint64_t>(m.comm_id);
    w.put<std::int32_t>(m.source);
    w.put<std::int32_t>(m.tag);
    w.put<std::uint64_t>(m.data.size());
    w.bytes(m.data.data(), m.data.size());
  });
  w.put<std::uint64_t>(s.requests.size());
  for (const CompletedRequest &r : s.requests) {
    w.put<std::uint32_t>(r.index);
    w.put<std::uint8_t>(static_cast<std::uint8_t>(r.kind));
    w.put<std::int32_t>(r.result.source);
    w.put<std::int32_t>(r.result.tag);
    w.put<std::uint64_t>(r.result.bytes);
    w.put<std::uint8_t>(r.result.cancelled ? 1 : 0);
    w.put<std::int32_t>(r.result.error);
  }
  return w.take();
}

} // namespace

std::vector<unsigned char> encode_snapshot(const ChannelSnapshot &s) {
  return encode(s, [&](auto &&f) {
    for (const DrainedMessage &m : s.messages)
      f(m);
  });
}

std::vector<unsigned char> encode_snapshot(const ChannelSnapshot &s, const DrainedStore &store) {
  return encode(s, [&](auto &&f) { store.for_each(f); });
}

ChannelSnapshot decode_snapshot(const unsigned char *data, std::size_t size) {
  Reader r(data, size);
  if (std::memcmp(r.need(sizeof magic), magic, sizeof magic) != 0)
    throw SnapshotFormatError("not a PMPI channel snapshot (bad magic)");
  const auto version = r.get<std::uint32_t>();
  if (version != snapshot_version)
    throw SnapshotFormatError("PMPI channel snapshot version " + std::to_string(version) +
                              " is not supported (expected " + std::to_string(snapshot_version) +
                              ")");
  ChannelSnapshot s;
  s.request_null = r.get<std::uint64_t>();
  const auto nmessages = r.get<std::uint64_t>();
  for (std::uint64_t i = 0; i < nmessages; ++i) {
    DrainedMessage m;
    m.comm_id = r.get<std::uint64_t>();
    m.source = r.get<std::int32_t>();
    m.tag = r.get<std::int32_t>();
    const auto n = r.get<std::uint64_t>();
    const unsigned char *p = r.need(n);
    m.data.assign(p, p + n);
    s.messages.push_back(std::move(m));
  }
  const auto nrequests = r.get<std::uint64_t>();
  for (std::uint64_t i = 0; i < nrequests; ++i) {
    CompletedRequest c;
    c.index = r.get<std::uint32_t>();
    const auto kind = r.get<std::uint8_t>();
    if (kind > static_cast<std::uint8_t>(RequestKind::collective))
      throw SnapshotFormatError("PMPI snapshot: bad request kind");
    c.kind = static_cast<RequestKind>(kind);
    c.result.source = r.get<std::int32_t>();
    c.result.tag = r.get<std::int32_t>();
    c.result.bytes = r.get<std::uint64_t>();
    c.result.cancelled = r.get<std::uint8_t>() != 0;
    c.result.error = r.get<std::int32_t>();
    s.requests.push_back(c);
  }
  if (!r.done()) throw SnapshotFormatError("PMPI snapshot: trailing bytes");
  return s;
}

} // namespace ckpt::detail::pmpi
