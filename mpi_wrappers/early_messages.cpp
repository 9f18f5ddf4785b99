#include "early_messages.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace ckpt::detail::pmpi {

namespace {
std::string text(const OutChannel &c) {
  return "communicator id " + std::to_string(c.comm_id) + ", destination " +
         std::to_string(c.dest) + ", tag " + std::to_string(c.tag);
}

constexpr char k_magic[8] = {'C', 'K', 'P', 'T', 'E', 'L', 'G', '1'};

template <class T> void put(std::vector<unsigned char> &out, T v) {
  const auto *p = reinterpret_cast<const unsigned char *>(&v);
  out.insert(out.end(), p, p + sizeof v);
}

class Reader {
public:
  Reader(const unsigned char *d, std::size_t n) : m_d(d), m_n(n) {}
  template <class T> T get() {
    T v{};
    if (m_n - m_pos < sizeof v) throw std::invalid_argument("truncated epoch log");
    std::memcpy(&v, m_d + m_pos, sizeof v);
    m_pos += sizeof v;
    return v;
  }
  [[nodiscard]] std::size_t left() const noexcept { return m_n - m_pos; }

private:
  const unsigned char *m_d;
  std::size_t m_n, m_pos = 0;
};
} // namespace

void SendLog::open(std::vector<LoggedChannel> at_checkpoint) {
  close();
  m_open = true;
  for (LoggedChannel &c : at_checkpoint)
    m_channels[c.channel] = std::move(c);
}

void SendLog::sent(const OutChannel &channel, std::uint64_t hash) {
  if (!m_open || !m_deterministic) return;
  LoggedChannel &c = m_channels[channel];
  c.channel = channel;
  c.hashes.push_back(hash);
}

std::vector<LoggedChannel> SendLog::channels() const {
  std::vector<LoggedChannel> out;
  out.reserve(m_channels.size());
  for (const auto &[k, c] : m_channels)
    out.push_back(c);
  return out;
}

void SendLog::close() noexcept {
  m_open = false;
  m_deterministic = true;
  m_channels.clear();
}

std::vector<unsigned char> encode_epoch_log(const EpochLogSnapshot &snap) {
  std::vector<unsigned char> out(k_magic, k_magic + sizeof k_magic);
  put(out, static_cast<std::uint64_t>(snap.sent.size()));
  for (const LoggedChannel &c : snap.sent) {
    put(out, c.channel.comm_id);
    put(out, static_cast<std::int32_t>(c.channel.dest));
    put(out, static_cast<std::int32_t>(c.channel.tag));
    put(out, c.at_checkpoint);
    put(out, static_cast<std::uint64_t>(c.hashes.size()));
    for (std::uint64_t h : c.hashes)
      put(out, h);
  }
  put(out, static_cast<std::uint64_t>(snap.received.size()));
  for (const ReceivedCount &r : snap.received) {
    put(out, static_cast<std::int32_t>(r.from));
    put(out, r.comm_id);
    put(out, static_cast<std::int32_t>(r.source));
    put(out, static_cast<std::int32_t>(r.dest));
    put(out, static_cast<std::int32_t>(r.tag));
    put(out, r.received);
  }
  return out;
}

EpochLogSnapshot decode_epoch_log(const unsigned char *data, std::size_t size) {
  if (size < sizeof k_magic || std::memcmp(data, k_magic, sizeof k_magic) != 0)
    throw std::invalid_argument("not an epoch log (bad magic)");
  Reader in(data + sizeof k_magic, size - sizeof k_magic);
  EpochLogSnapshot snap;
  const auto n = in.get<std::uint64_t>();
  if (n > in.left() / 32) throw std::invalid_argument("epoch log: channel count too large");
  for (std::uint64_t i = 0; i < n; ++i) {
    LoggedChannel c;
    c.channel.comm_id = in.get<std::uint64_t>();
    c.channel.dest = in.get<std::int32_t>();
    c.channel.tag = in.get<std::int32_t>();
    c.at_checkpoint = in.get<std::uint64_t>();
    const auto h = in.get<std::uint64_t>();
    if (h > in.left() / 8) throw std::invalid_argument("epoch log: hash count too large");
    for (std::uint64_t k = 0; k < h; ++k)
      c.hashes.push_back(in.get<std::uint64_t>());
    snap.sent.push_back(std::move(c));
  }
  const auto m = in.get<std::uint64_t>();
  if (m > in.left() / 32) throw std::invalid_argument("epoch log: count too large");
  for (std::uint64_t i = 0; i < m; ++i) {
    ReceivedCount r;
    r.from = in.get<std::int32_t>();
    r.comm_id = in.get<std::uint64_t>();
    r.source = in.get<std::int32_t>();
    r.dest = in.get<std::int32_t>();
    r.tag = in.get<std::int32_t>();
    r.received = in.get<std::uint64_t>();
    snap.received.push_back(r);
  }
  if (in.left() != 0) throw std::invalid_argument("epoch log: trailing bytes");
  return snap;
}

std::vector<unsigned char> encode_report(const EpochReport &r) {
  std::vector<unsigned char> out;
  put(out, static_cast<std::uint64_t>(r.collectives.size()));
  for (const auto &[id, n] : r.collectives) {
    put(out, id);
    put(out, n);
  }
  put(out, static_cast<std::uint64_t>(r.early.size()));
  for (const EarlyCount &e : r.early) {
    put(out, static_cast<std::int32_t>(e.from));
    put(out, e.comm_id);
    put(out, static_cast<std::int32_t>(e.dest));
    put(out, static_cast<std::int32_t>(e.tag));
    put(out, e.count);
  }
  put(out, static_cast<std::uint64_t>(r.prefix.size()));
  for (const PrefixCount &p : r.prefix) {
    put(out, p.comm_id);
    put(out, static_cast<std::int32_t>(p.dest));
    put(out, static_cast<std::int32_t>(p.tag));
    put(out, p.deterministic);
  }
  return out;
}

EpochReport decode_report(const unsigned char *data, std::size_t size) {
  Reader in(data, size);
  EpochReport r;
  auto count = [&](std::size_t record) {
    const auto n = in.get<std::uint64_t>();
    if (n > in.left() / record) throw std::invalid_argument("epoch report: count too large");
    return n;
  };
  for (std::uint64_t i = 0, n = count(16); i < n; ++i) {
    const auto id = in.get<std::uint64_t>();
    r.collectives.emplace_back(id, in.get<std::uint64_t>());
  }
  for (std::uint64_t i = 0, n = count(28); i < n; ++i) {
    EarlyCount e;
    e.from = in.get<std::int32_t>();
    e.comm_id = in.get<std::uint64_t>();
    e.dest = in.get<std::int32_t>();
    e.tag = in.get<std::int32_t>();
    e.count = in.get<std::uint64_t>();
    r.early.push_back(e);
  }
  for (std::uint64_t i = 0, n = count(24); i < n; ++i) {
    PrefixCount p;
    p.comm_id = in.get<std::uint64_t>();
    p.dest = in.get<std::int32_t>();
    p.tag = in.get<std::int32_t>();
    p.deterministic = in.get<std::uint64_t>();
    r.prefix.push_back(p);
  }
  if (in.left() != 0) throw std::invalid_argument("epoch report: trailing bytes");
  return r;
}

std::string check_cut(const std::vector<EpochReport> &reports) {
  std::map<std::uint64_t, std::pair<std::uint64_t, int>> first;
  for (std::size_t rank = 0; rank < reports.size(); ++rank)
    for (const auto &[id, n] : reports[rank].collectives) {
      auto [f, fresh] = first.emplace(id, std::make_pair(n, static_cast<int>(rank)));
      if (!fresh && f->second.first != n)
        return "collective calls cross the cut on communicator id " + std::to_string(id) +
               ": rank " + std::to_string(f->second.second) + " took its local checkpoint after " +
               std::to_string(f->second.first) + " of them, rank " + std::to_string(rank) +
               " after " + std::to_string(n) +
               " (request checkpoints where ranks are between the same collectives)";
    }
  for (std::size_t rank = 0; rank < reports.size(); ++rank)
    for (const EarlyCount &e : reports[rank].early) {
      std::uint64_t replayable = 0;
      if (e.from >= 0 && static_cast<std::size_t>(e.from) < reports.size())
        for (const PrefixCount &p : reports[static_cast<std::size_t>(e.from)].prefix)
          if (p.comm_id == e.comm_id && p.dest == e.dest && p.tag == e.tag)
            replayable = p.deterministic;
      if (e.count > replayable)
        return "rank " + std::to_string(rank) + " received " + std::to_string(e.count) +
               " message(s) (communicator id " + std::to_string(e.comm_id) + ", tag " +
               std::to_string(e.tag) + ") that rank " + std::to_string(e.from) +
               " sent after its local checkpoint and after a nondeterministic event (an "
               "ANY_SOURCE match or a Test/Iprobe/Wait-any/some outcome), which this version "
               "cannot replay";
    }
  return {};
}

void Suppressor::arm(const std::vector<LoggedChannel> &log,
                     const std::vector<std::pair<OutChannel, std::uint64_t>> &received) {
  m_pending.clear();
  m_remaining = 0;
  std::map<OutChannel, const LoggedChannel *> by_channel;
  for (const LoggedChannel &c : log)
    by_channel[c.channel] = &c;
  for (const auto &[channel, n] : received) {
    auto it = by_channel.find(channel);
    const std::uint64_t at = it == by_channel.end() ? 0 : it->second->at_checkpoint;
    if (n <= at) continue;
    const std::uint64_t early = n - at;
    if (it == by_channel.end() || it->second->hashes.size() < early)
      throw std::runtime_error("the receiver on " + text(channel) + " holds " +
                               std::to_string(early) +
                               " message(s) sent after this rank's checkpoint, more than its log "
                               "vouches for");
    std::vector<std::uint64_t> hashes(it->second->hashes.begin(),
                                      it->second->hashes.begin() + static_cast<long>(early));
    std::reverse(hashes.begin(), hashes.end());
    m_pending[channel] = std::move(hashes);
    m_remaining += early;
  }
}

bool Suppressor::skip(const OutChannel &channel, std::uint64_t hash) {
  auto it = m_pending.find(channel);
  if (it == m_pending.end() || it->second.empty()) return false;
  if (it->second.back() != hash)
    throw std::runtime_error("a message sent again after the restart on " + text(channel) +
                             " differs from the one its receiver got before the checkpoint "
                             "(the program is not deterministic there)");
  it->second.pop_back();
  --m_remaining;
  return true;
}

} // namespace ckpt::detail::pmpi
