// Per-(peer, tag) message counts of one communicator, kept for the
// nonblocking protocol (docs/PROTOCOL.md, section 8). MPI keeps the order of
// messages between one sender and one receiver on one communicator *with the
// same tag* (any receive that matches one matches the other), so the n-th
// message a receiver gets on (source, tag) is the n-th its sender sent on
// (destination, tag): these counts are per-message sequence numbers that need
// no piggyback. Plain C++, no MPI.
#ifndef CKPT_PMPI_TAG_COUNTS_HPP
#define CKPT_PMPI_TAG_COUNTS_HPP

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace ckpt::detail::pmpi {

struct TagCount {
  int peer = 0;
  int tag = 0;
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
};

class TagCounts {
public:
  TagCounts() = default;
  // Copies drop the cache: it points into the source's map.
  TagCounts(const TagCounts &other) : m_counts(other.m_counts) {}
  TagCounts &operator=(const TagCounts &other) {
    if (this != &other) {
      m_counts = other.m_counts;
      m_last = nullptr;
    }
    return *this;
  }
  ~TagCounts() = default;

  /// Returns the sequence number of the message sent (1 for the first).
  std::uint64_t on_send(int peer, int tag) { return ++slot(peer, tag).sent; }
  /// A send counted when posted and then cancelled successfully.
  void on_send_cancelled(int peer, int tag) noexcept;
  /// Returns the sequence number of the message received (1 for the first).
  std::uint64_t on_receive(int peer, int tag) { return ++slot(peer, tag).received; }

  [[nodiscard]] std::uint64_t sent(int peer, int tag) const noexcept;
  [[nodiscard]] std::uint64_t received(int peer, int tag) const noexcept;
  /// Every (peer, tag) with traffic, in no particular order.
  [[nodiscard]] std::vector<TagCount> all() const;
  void reset() noexcept {
    m_counts.clear();
    m_last = nullptr;
  }

private:
  struct Pair {
    std::uint64_t sent = 0, received = 0;
  };
  static std::uint64_t key(int peer, int tag) noexcept {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(peer)) << 32) |
           static_cast<std::uint32_t>(tag);
  }
  // Hot path: a one-entry cache (a program's messages mostly repeat the last
  // peer and tag); map nodes never move, so the pointer stays valid.
  Pair &slot(int peer, int tag) {
    const std::uint64_t k = key(peer, tag);
    if (m_last && k == m_last_key) return *m_last;
    m_last = &m_counts[k];
    m_last_key = k;
    return *m_last;
  }

  std::unordered_map<std::uint64_t, Pair> m_counts;
  Pair *m_last = nullptr;
  std::uint64_t m_last_key = 0;
};

} // namespace ckpt::detail::pmpi

#endif
