#include "epoch_cut.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace ckpt::detail::pmpi {

void EpochCut::open(std::uint64_t epoch,
                    const std::vector<std::pair<CutChannel, std::uint64_t>> &received, int markers,
                    std::uint64_t byte_limit) {
  close();
  m_open = true;
  m_epoch = epoch;
  m_markers_expected = markers;
  m_byte_limit = byte_limit;
  m_marker_in.assign(static_cast<std::size_t>(markers), false);
  for (const auto &[channel, n] : received) {
    m_at_checkpoint[channel] = n;
    m_seen[channel] = n;
  }
}

void EpochCut::on_marker(int from, const std::vector<MarkerEntry> &entries) {
  if (!m_open || from < 0 || from >= m_markers_expected || m_marker_in[from]) return;
  m_marker_in[from] = true;
  ++m_markers_in;
  for (const MarkerEntry &e : entries)
    m_sent[{from, e.comm_id, e.source, e.tag}] = e.sent;
  // Early messages: this rank had received more on a channel at its
  // checkpoint than the sender had sent at its own.
  for (const auto &[channel, n] : m_at_checkpoint) {
    if (channel.from != from || n == 0) continue;
    auto it = m_sent.find(channel);
    const std::uint64_t sent = it == m_sent.end() ? 0 : it->second;
    if (n > sent) m_early[channel] = n - sent;
  }
  trim(from);
}

bool EpochCut::on_receive(const CutChannel &channel, std::uint64_t seq) {
  if (!m_open) return false;
  std::uint64_t &seen = m_seen[channel];
  seen = std::max(seen, seq);
  if (!m_problem.empty()) return false;
  if (channel.from < 0 || channel.from >= m_markers_expected) return false;
  if (!m_marker_in[channel.from]) return true; // tentative until the marker comes
  auto it = m_sent.find(channel);
  return it != m_sent.end() && seq <= it->second;
}

void EpochCut::record(const CutChannel &channel, std::uint64_t seq,
                      std::vector<unsigned char> data) {
  if (!m_open || !m_problem.empty()) return;
  m_bytes += data.size();
  if (m_bytes > m_byte_limit) {
    fail("the late messages of this checkpoint exceed message_log_bytes (" +
         std::to_string(m_byte_limit) + " bytes)");
    return;
  }
  m_recorded.push_back({channel, seq, std::move(data)});
}

void EpochCut::fail(const std::string &problem) {
  if (m_problem.empty()) m_problem = problem;
  m_recorded.clear();
  m_bytes = 0;
}

void EpochCut::trim(int from) {
  // Tentative records from `from` sent after its checkpoint are ordinary
  // messages: drop them.
  auto keep = [&](const Recorded &r) {
    if (r.channel.from != from) return true;
    auto it = m_sent.find(r.channel);
    return it != m_sent.end() && r.seq <= it->second;
  };
  auto first_dropped = std::stable_partition(m_recorded.begin(), m_recorded.end(), keep);
  for (auto it = first_dropped; it != m_recorded.end(); ++it)
    m_bytes -= it->data.size();
  m_recorded.erase(first_dropped, m_recorded.end());
}

std::vector<std::pair<CutChannel, std::uint64_t>> EpochCut::deficits() const {
  std::vector<std::pair<CutChannel, std::uint64_t>> out;
  if (!m_open || !m_problem.empty()) return out;
  for (const auto &[channel, sent] : m_sent) {
    auto it = m_seen.find(channel);
    const std::uint64_t seen = it == m_seen.end() ? 0 : it->second;
    if (seen < sent) out.emplace_back(channel, sent - seen);
  }
  return out;
}

bool EpochCut::complete() const {
  if (!m_open) return false;
  if (!m_problem.empty()) return true;
  return m_markers_in == m_markers_expected && deficits().empty();
}

std::vector<LateMessage> EpochCut::late_messages() const {
  std::vector<LateMessage> out;
  out.reserve(m_recorded.size());
  for (const Recorded &r : m_recorded)
    out.push_back({r.channel.comm_id, r.channel.source, r.channel.tag, r.data});
  return out;
}

void EpochCut::close() noexcept {
  m_open = false;
  m_epoch = 0;
  m_markers_expected = 0;
  m_markers_in = 0;
  m_bytes = 0;
  m_marker_in.clear();
  m_at_checkpoint.clear();
  m_seen.clear();
  m_sent.clear();
  m_recorded.clear();
  m_recorded.shrink_to_fit();
  m_early.clear();
  m_problem.clear();
}

std::vector<unsigned char> encode_marker(const std::vector<MarkerEntry> &entries) {
  std::vector<unsigned char> out(entries.size() * sizeof(MarkerEntry));
  if (!entries.empty()) std::memcpy(out.data(), entries.data(), out.size());
  return out;
}

std::vector<MarkerEntry> decode_marker(const unsigned char *data, std::size_t bytes) {
  if (bytes % sizeof(MarkerEntry) != 0)
    throw std::invalid_argument("a checkpoint marker of " + std::to_string(bytes) +
                                " bytes is not a whole number of records");
  std::vector<MarkerEntry> out(bytes / sizeof(MarkerEntry));
  if (bytes) std::memcpy(out.data(), data, bytes);
  return out;
}

} // namespace ckpt::detail::pmpi
