#include "tag_counts.hpp"

namespace ckpt::detail::pmpi {

void TagCounts::on_send_cancelled(int peer, int tag) noexcept {
  auto it = m_counts.find(key(peer, tag));
  if (it != m_counts.end() && it->second.sent > 0) --it->second.sent;
}

std::uint64_t TagCounts::sent(int peer, int tag) const noexcept {
  auto it = m_counts.find(key(peer, tag));
  return it == m_counts.end() ? 0 : it->second.sent;
}

std::uint64_t TagCounts::received(int peer, int tag) const noexcept {
  auto it = m_counts.find(key(peer, tag));
  return it == m_counts.end() ? 0 : it->second.received;
}

std::vector<TagCount> TagCounts::all() const {
  std::vector<TagCount> out;
  out.reserve(m_counts.size());
  for (const auto &[k, v] : m_counts)
    out.push_back({static_cast<int>(static_cast<std::uint32_t>(k >> 32)),
                   static_cast<int>(static_cast<std::uint32_t>(k)), v.sent, v.received});
  return out;
}

} // namespace ckpt::detail::pmpi
