// Messages the checkpoint drained out of the channels, waiting to be
// delivered to the application's receives. Plain C++, no MPI.
//
// Order: messages are kept in the order they were drained, which is the
// order the implementation matched them on each (communicator, source)
// channel, so delivering the first match in store order preserves MPI's
// non-overtaking rule. Every drained message is older than anything still in
// the implementation's queues, so receives look here first.
#ifndef CKPT_PMPI_DRAINED_STORE_HPP
#define CKPT_PMPI_DRAINED_STORE_HPP

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

namespace ckpt::detail::pmpi {

struct DrainedMessage {
  std::uint64_t comm_id = 0;
  int source = 0; ///< rank in the communicator (remote group for intercomms)
  int tag = 0;
  std::vector<unsigned char> data; ///< the message as MPI_PACKED bytes
};

/// A receive's selection: the source and tag, each possibly a wildcard.
struct MatchSpec {
  std::uint64_t comm_id = 0;
  int source = 0;
  int tag = 0;
  bool any_source = false;
  bool any_tag = false;
};

class DrainedStore {
public:
  void push(DrainedMessage message);
  [[nodiscard]] bool empty() const noexcept { return m_messages.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return m_messages.size(); }

  /// Position of the oldest message matching `spec` that is not reserved
  /// by a matched probe, if any.
  [[nodiscard]] std::optional<std::size_t> find(const MatchSpec &spec) const noexcept;
  [[nodiscard]] const DrainedMessage &at(std::size_t pos) const noexcept {
    return m_messages[pos].message;
  }
  /// Removes and returns the message at `pos`.
  DrainedMessage take(std::size_t pos);

  /// Matched probe (Mprobe/Improbe): reserves the message so no other receive
  /// can match it, and returns a ticket that take_reserved() redeems.
  std::uint64_t reserve(std::size_t pos);
  [[nodiscard]] std::optional<DrainedMessage> take_reserved(std::uint64_t ticket);
  [[nodiscard]] std::size_t reserved() const noexcept { return m_reserved; }
  /// A ticket for a message matched by a probe but still in the
  /// implementation (redeemed by push_reserved() at a checkpoint).
  std::uint64_t new_ticket() noexcept { return m_next_ticket++; }
  /// Adds a message reserved under `ticket` (from new_ticket(), or restored).
  void push_reserved(DrainedMessage message, std::uint64_t ticket);
  /// The ticket of every message in store order (0: not reserved).
  [[nodiscard]] std::vector<std::uint64_t> tickets() const;

  /// Every message, in store order (for the snapshot).
  [[nodiscard]] std::vector<DrainedMessage> all() const;
  void clear() noexcept;

private:
  struct Entry {
    DrainedMessage message;
    std::uint64_t ticket = 0; // nonzero: reserved by a matched probe
  };
  std::deque<Entry> m_messages;
  std::uint64_t m_next_ticket = 1;
  std::size_t m_reserved = 0;
};

} // namespace ckpt::detail::pmpi

#endif
