#include "channel_counts.hpp"

#include <algorithm>

namespace ckpt::detail::pmpi {

bool ChannelCounts::any_traffic() const noexcept {
  auto nonzero = [](std::uint64_t v) { return v != 0; };
  return std::any_of(m_sent.begin(), m_sent.end(), nonzero) ||
         std::any_of(m_received.begin(), m_received.end(), nonzero);
}

void ChannelCounts::reset() noexcept {
  std::fill(m_sent.begin(), m_sent.end(), 0);
  std::fill(m_received.begin(), m_received.end(), 0);
}

namespace comm_id {

std::uint64_t mix(std::uint64_t a, std::uint64_t b) noexcept {
  // splitmix64 finaliser over a combination of both inputs.
  std::uint64_t z = a * 0x9E3779B97F4A7C15ULL + b + 0x632BE59BD9B4E019ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  // Never collide with the reserved ids.
  return z < 16 ? z + 16 : z;
}

} // namespace comm_id
} // namespace ckpt::detail::pmpi
