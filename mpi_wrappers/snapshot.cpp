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
  /// every drained message again (a 16 MiB message in flight, twice more).
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
  /// A count read from the region, bounded by what the rest could hold.
  std::uint64_t count(std::size_t min_bytes_each) {
    const auto n = get<std::uint64_t>();
    if (n > static_cast<std::size_t>(m_end - m_p) / min_bytes_each)
      throw SnapshotFormatError("PMPI snapshot: count " + std::to_string(n) +
                                " exceeds the region");
    return n;
  }

private:
  const unsigned char *m_p;
  const unsigned char *m_end;
};

void put_envelope(Writer &w, const Envelope &e) {
  w.put<std::int32_t>(e.source);
  w.put<std::int32_t>(e.tag);
  w.put<std::uint64_t>(e.bytes);
  w.put<std::uint8_t>(e.cancelled ? 1 : 0);
  w.put<std::int32_t>(e.error);
}

Envelope get_envelope(Reader &r) {
  Envelope e;
  e.source = r.get<std::int32_t>();
  e.tag = r.get<std::int32_t>();
  e.bytes = r.get<std::uint64_t>();
  const auto cancelled = r.get<std::uint8_t>();
  if (cancelled > 1) throw SnapshotFormatError("PMPI snapshot: bad cancelled flag");
  e.cancelled = cancelled != 0;
  e.error = r.get<std::int32_t>();
  return e;
}

RequestKind get_kind(Reader &r) {
  const auto kind = r.get<std::uint8_t>();
  if (kind > static_cast<std::uint8_t>(RequestKind::collective))
    throw SnapshotFormatError("PMPI snapshot: bad request kind " + std::to_string(kind));
  return static_cast<RequestKind>(kind);
}

CommDescriptor get_comm(Reader &r) {
  CommDescriptor c;
  c.id = r.get<std::uint64_t>();
  c.parent = r.get<std::uint64_t>();
  c.kind = r.get<std::uint32_t>();
  c.ordinal = r.get<std::uint64_t>();
  const auto nmembers = r.count(sizeof(std::int32_t));
  c.members.resize(nmembers);
  for (int &m : c.members) {
    m = r.get<std::int32_t>();
    if (m < 0) throw SnapshotFormatError("PMPI snapshot: negative world rank");
  }
  const auto name_len = r.count(1);
  if (name_len > max_comm_name)
    throw SnapshotFormatError("PMPI snapshot: communicator name too long");
  const unsigned char *p = r.need(name_len);
  c.name.assign(reinterpret_cast<const char *>(p), name_len);
  return c;
}

PendingRequest get_pending(Reader &r) {
  PendingRequest p;
  p.index = r.get<std::uint32_t>();
  p.kind = get_kind(r);
  if (p.kind == RequestKind::send || p.kind == RequestKind::matched_receive)
    throw SnapshotFormatError("PMPI snapshot: a pending request of a kind that is never saved");
  const auto state = r.get<std::uint8_t>();
  if (state != static_cast<std::uint8_t>(SlotState::active) &&
      state != static_cast<std::uint8_t>(SlotState::inactive) &&
      state != static_cast<std::uint8_t>(SlotState::completed))
    throw SnapshotFormatError("PMPI snapshot: bad pending request state");
  p.state = static_cast<SlotState>(state);
  p.comm_id = r.get<std::uint64_t>();
  p.peer = r.get<std::int32_t>();
  p.tag = r.get<std::int32_t>();
  p.count = r.get<std::int32_t>();
  if (p.count < 0) throw SnapshotFormatError("PMPI snapshot: negative count");
  p.datatype = r.get<std::uint32_t>();
  p.call = r.get<std::uint8_t>();
  p.buffer.region = r.get<std::int32_t>();
  p.buffer.offset = r.get<std::uint64_t>();
  p.send_buffer.region = r.get<std::int32_t>();
  p.send_buffer.offset = r.get<std::uint64_t>();
  p.op = r.get<std::uint32_t>();
  p.order = r.get<std::uint64_t>();
  p.result = get_envelope(r);
  return p;
}

/// Encodes `s` with the messages for_each_message(f) visits, calling
/// f(message, ticket) in store order.
template <class ForEachMessage>
std::vector<unsigned char> encode(const ChannelSnapshot &s, ForEachMessage &&for_each_message) {
  // One allocation for the whole encoding (an upper bound of its size):
  // growing by doubling would copy every drained message again.
  std::size_t messages = 0, bound = 64 + s.requests.size() * 64 + s.pending.size() * 128;
  for (const CommDescriptor &c : s.comms)
    bound += 64 + c.members.size() * 4 + c.name.size();
  for_each_message([&](const DrainedMessage &m, std::uint64_t) {
    ++messages;
    bound += 64 + m.data.size();
  });
  Writer w;
  w.reserve(bound);
  w.bytes(reinterpret_cast<const unsigned char *>(magic), sizeof magic);
  w.put<std::uint32_t>(snapshot_version);
  w.put<std::uint64_t>(s.request_null);
  w.put<std::uint64_t>(s.comms.size());
  for (const CommDescriptor &c : s.comms) {
    w.put<std::uint64_t>(c.id);
    w.put<std::uint64_t>(c.parent);
    w.put<std::uint32_t>(c.kind);
    w.put<std::uint64_t>(c.ordinal);
    w.put<std::uint64_t>(c.members.size());
    for (int m : c.members)
      w.put<std::int32_t>(m);
    w.put<std::uint64_t>(c.name.size());
    w.bytes(reinterpret_cast<const unsigned char *>(c.name.data()), c.name.size());
  }
  w.put<std::uint64_t>(messages);
  for_each_message([&](const DrainedMessage &m, std::uint64_t ticket) {
    w.put<std::uint64_t>(ticket);
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
    put_envelope(w, r.result);
  }
  w.put<std::uint64_t>(s.pending.size());
  for (const PendingRequest &p : s.pending) {
    w.put<std::uint32_t>(p.index);
    w.put<std::uint8_t>(static_cast<std::uint8_t>(p.kind));
    w.put<std::uint8_t>(static_cast<std::uint8_t>(p.state));
    w.put<std::uint64_t>(p.comm_id);
    w.put<std::int32_t>(p.peer);
    w.put<std::int32_t>(p.tag);
    w.put<std::int32_t>(p.count);
    w.put<std::uint32_t>(p.datatype);
    w.put<std::uint8_t>(p.call);
    w.put<std::int32_t>(p.buffer.region);
    w.put<std::uint64_t>(p.buffer.offset);
    w.put<std::int32_t>(p.send_buffer.region);
    w.put<std::uint64_t>(p.send_buffer.offset);
    w.put<std::uint32_t>(p.op);
    w.put<std::uint64_t>(p.order);
    put_envelope(w, p.result);
  }
  return w.take();
}

} // namespace

std::vector<unsigned char> encode_snapshot(const ChannelSnapshot &s) {
  return encode(s, [&](auto &&f) {
    for (std::size_t i = 0; i < s.messages.size(); ++i)
      f(s.messages[i], i < s.tickets.size() ? s.tickets[i] : 0);
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
  const auto ncomms = r.count(44);
  for (std::uint64_t i = 0; i < ncomms; ++i)
    s.comms.push_back(get_comm(r));
  const auto nmessages = r.count(32);
  for (std::uint64_t i = 0; i < nmessages; ++i) {
    const auto ticket = r.get<std::uint64_t>();
    if (ticket > UINT32_MAX) throw SnapshotFormatError("PMPI snapshot: bad message ticket");
    s.tickets.push_back(ticket);
    DrainedMessage m;
    m.comm_id = r.get<std::uint64_t>();
    m.source = r.get<std::int32_t>();
    m.tag = r.get<std::int32_t>();
    const auto n = r.count(1);
    const unsigned char *p = r.need(n);
    m.data.assign(p, p + n);
    s.messages.push_back(std::move(m));
  }
  const auto nrequests = r.count(26);
  for (std::uint64_t i = 0; i < nrequests; ++i) {
    CompletedRequest c;
    c.index = r.get<std::uint32_t>();
    c.kind = get_kind(r);
    c.result = get_envelope(r);
    s.requests.push_back(c);
  }
  const auto npending = r.count(88);
  for (std::uint64_t i = 0; i < npending; ++i)
    s.pending.push_back(get_pending(r));
  if (!r.done()) throw SnapshotFormatError("PMPI snapshot: trailing bytes");
  return s;
}

} // namespace ckpt::detail::pmpi
