// Messages the checkpoint drained out of the channels, waiting to be
// delivered to the application's receives. Plain C++, no MPI.
//
// Order: messages are kept in the order they were drained, which is the
// order the implementation matched them on each (communicator, source)
// channel, so delivering the oldest match preserves MPI's non-overtaking
// rule. Every drained message is older than anything still in the
// implementation's queues, so receives look here first.
//
// Cost: every operation is O(1) amortised, whatever the number of messages,
// sources and tags: each message is queued, by its drain order, under the
// four selections a receive can make of it ((source, tag), (source, any
// tag), (any source, tag), (any source, any tag), on its communicator); a
// receive looks at the head of one queue. Messages taken or reserved through
// another queue are dropped lazily when they reach a head.
#ifndef CKPT_PMPI_DRAINED_STORE_HPP
#define CKPT_PMPI_DRAINED_STORE_HPP

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <unordered_map>
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
  /// Message ids: stable until the message is taken.
  using Id = std::size_t;

  void push(DrainedMessage message);
  [[nodiscard]] bool empty() const noexcept { return m_live == 0; }
  [[nodiscard]] std::size_t size() const noexcept { return m_live; }

  /// The oldest message matching `spec` that is not reserved by a matched
  /// probe, if any.
  [[nodiscard]] std::optional<Id> find(const MatchSpec &spec) const noexcept;
  [[nodiscard]] const DrainedMessage &at(Id id) const noexcept { return entry(id).message; }
  /// Removes and returns message `id`.
  DrainedMessage take(Id id);

  /// Matched probe (Mprobe/Improbe): reserves the message so no other receive
  /// can match it, and returns a ticket that take_reserved() redeems.
  std::uint64_t reserve(Id id);
  [[nodiscard]] std::optional<DrainedMessage> take_reserved(std::uint64_t ticket);
  [[nodiscard]] std::size_t reserved() const noexcept { return m_tickets.size(); }
  /// A ticket for a message matched by a probe but still in the
  /// implementation (redeemed by push_reserved() at a checkpoint).
  std::uint64_t new_ticket() noexcept { return m_next_ticket++; }
  /// Adds a message reserved under `ticket` (from new_ticket(), or restored).
  void push_reserved(DrainedMessage message, std::uint64_t ticket);
  /// The ticket of every message in store order (0: not reserved).
  [[nodiscard]] std::vector<std::uint64_t> tickets() const;

  /// Every message, reserved ones included, in store order.
  [[nodiscard]] std::vector<DrainedMessage> all() const;
  /// Calls f(message, ticket) for every message in store order (ticket 0:
  /// not reserved); the snapshot encodes them from here, without a copy.
  template <class F> void for_each(F &&f) const {
    for (const Entry &e : m_entries)
      if (!e.taken) f(e.message, e.ticket);
  }
  void clear() noexcept;

private:
  struct Entry {
    DrainedMessage message;
    std::uint64_t ticket = 0; // nonzero: reserved by a matched probe
    bool taken = false;
  };
  /// One selection a receive can make: wildcards are k_any.
  struct Key {
    std::uint64_t comm_id;
    int source;
    int tag;
    bool operator==(const Key &o) const noexcept {
      return comm_id == o.comm_id && source == o.source && tag == o.tag;
    }
  };
  struct KeyHash {
    std::size_t operator()(const Key &k) const noexcept;
  };
  /// Ids of the messages a selection matches, oldest first, from `head` on.
  struct Queue {
    std::vector<Id> ids;
    std::size_t head = 0;
  };

  [[nodiscard]] bool matchable(Id id) const noexcept;
  [[nodiscard]] const Entry &entry(Id id) const noexcept { return m_entries[id - m_first]; }
  Entry &entry(Id id) noexcept { return m_entries[id - m_first]; }

  std::deque<Entry> m_entries; // m_entries[i] has id m_first + i
  Id m_first = 0;
  std::size_t m_live = 0;
  // Heads advance in find(), which is logically const.
  mutable std::unordered_map<Key, Queue, KeyHash> m_queues;
  std::unordered_map<std::uint64_t, Id> m_tickets; // reserved: ticket -> id
  std::uint64_t m_next_ticket = 1;
};

} // namespace ckpt::detail::pmpi

#endif
