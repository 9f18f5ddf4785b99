// Per-communicator channel state of the PMPI layer: how many messages this
// rank sent to and received from each peer since the last checkpoint, and the
// stable identity of the communicator. Plain C++, no MPI.
#ifndef CKPT_PMPI_CHANNEL_COUNTS_HPP
#define CKPT_PMPI_CHANNEL_COUNTS_HPP

#include "tag_counts.hpp"

#include <cstdint>
#include <vector>

namespace ckpt::detail::pmpi {

/// Messages sent to / received from each peer rank of one communicator.
/// Peers are ranks of the communicator (of the remote group for an
/// intercommunicator). Callers pass only valid ranks (never PROC_NULL or a
/// wildcard): the hot path does no bounds check beyond peer >= 0.
class ChannelCounts {
public:
  ChannelCounts() = default;
  explicit ChannelCounts(int peers) : m_sent(peers, 0), m_received(peers, 0) {}

  [[nodiscard]] int peers() const noexcept { return static_cast<int>(m_sent.size()); }
  void on_send(int peer) noexcept { ++m_sent[peer]; }
  /// A send that was counted when posted and then cancelled successfully.
  void on_send_cancelled(int peer) noexcept { --m_sent[peer]; }
  void on_receive(int peer) noexcept { ++m_received[peer]; }

  [[nodiscard]] std::uint64_t sent(int peer) const noexcept { return m_sent[peer]; }
  [[nodiscard]] std::uint64_t received(int peer) const noexcept { return m_received[peer]; }
  [[nodiscard]] bool any_traffic() const noexcept;
  /// Channels start empty after every checkpoint: counts restart from zero.
  void reset() noexcept;

private:
  std::vector<std::uint64_t> m_sent;
  std::vector<std::uint64_t> m_received;
};

/// Stable communicator identities. WORLD and SELF have fixed ids; every
/// communicator the application creates gets an id derived from its identity
/// (comm_identity.hpp: parent, creating call, members, and an ordinal only
/// among otherwise identical siblings).
namespace comm_id {
inline constexpr std::uint64_t world = 0x1;
inline constexpr std::uint64_t self = 0x2;
/// Communicators the layer saw only through an unwrapped call: their
/// channels are summed into one pseudo channel per peer (see drain.hpp).
inline constexpr std::uint64_t untracked = 0x0;

std::uint64_t mix(std::uint64_t a, std::uint64_t b) noexcept;
} // namespace comm_id

/// What the layer knows about one live communicator.
struct CommState {
  std::uint64_t id = comm_id::untracked;
  bool stable = false; ///< id derived by comm_id (false: lazily registered)
  bool inter = false;  ///< intercommunicator: peers are remote ranks
  int rank = 0;
  ChannelCounts counts;
  TagCounts tags;                ///< per (peer, tag): sequence numbers for the nonblocking protocol
  std::uint64_t collectives = 0; ///< collective calls since the last checkpoint
  std::uint64_t collective_seq = 0; ///< collective calls since creation (never reset)
  std::uintptr_t handle = 0;        ///< the implementation's handle (opaque here)
  // Identity (comm_identity.hpp): parent id, creating call, sibling ordinal,
  // and when it was created (descriptors are listed parents first).
  std::uint64_t parent = 0;
  std::uint32_t kind = 0;
  std::uint64_t ordinal = 0;
  std::uint64_t created = 0;
};

} // namespace ckpt::detail::pmpi

#endif
