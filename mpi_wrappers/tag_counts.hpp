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
  void reset() noexcept { m_counts.clear(); }

private:
  struct Pair {
    std::uint64_t sent = 0, received = 0;
  };
  static std::uint64_t key(int peer, int tag) noexcept {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(peer)) << 32) |
           static_cast<std::uint32_t>(tag);
  }
  Pair &slot(int peer, int tag) { return m_counts[key(peer, tag)]; }

  std::unordered_map<std::uint64_t, Pair> m_counts;
};

} // namespace ckpt::detail::pmpi

#endif
