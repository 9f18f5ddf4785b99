// Virtual request handles. The layer hands the application its own request
// handles for the requests it must understand (point-to-point, persistent,
// nonblocking collectives), so that it can complete them during a checkpoint,
// satisfy receives from drained messages, and keep handles valid across a
// restart. Plain C++, no MPI: the implementation's handle is kept as an
// opaque integer.
#ifndef CKPT_PMPI_REQUEST_TABLE_HPP
#define CKPT_PMPI_REQUEST_TABLE_HPP

#include <cstdint>
#include <climits>
#include <deque>
#include <vector>

namespace ckpt::detail::pmpi {

struct CommState;

enum class RequestKind : std::uint8_t {
  send,            ///< Isend/Issend/Ibsend/Irsend: counted when posted
  receive,         ///< Irecv: counted when completed
  matched_receive, ///< Imrecv: counted at Mprobe/Improbe
  persistent_send,
  persistent_receive,
  collective, ///< nonblocking collective
};

enum class SlotState : std::uint8_t {
  free,
  active,    ///< the implementation's request is live
  inactive,  ///< persistent request not started (or completed and not restarted)
  completed, ///< the layer completed it; `result` is what Wait/Test report
};

/// What a completed request reports through its status.
struct Envelope {
  int source = 0;
  int tag = 0;
  std::uint64_t bytes = 0;
  bool cancelled = false;
  int error = 0; ///< error code the completion reports (MPI_SUCCESS is 0)
};

/// Which call made a request, where the kind alone does not say: the send
/// mode of a persistent send, the operation of a nonblocking collective.
enum class RequestCall : std::uint8_t {
  standard,    ///< Irecv, Recv_init, Send_init
  synchronous, ///< Ssend_init
  buffered,    ///< Bsend_init
  ready,       ///< Rsend_init
  barrier,     ///< Ibarrier
  other,       ///< any other nonblocking collective
  allreduce,   ///< Iallreduce
};

/// The buffer arguments of a receive or persistent request, kept so that a
/// checkpoint can record them (and a persistent receive started while a
/// drained message matches it can be satisfied from the store).
struct ReceiveArgs {
  void *buf = nullptr;
  int count = 0;
  std::uintptr_t datatype = 0;
};

struct RequestSlot {
  std::uintptr_t real = 0; ///< the implementation's request handle
  RequestKind kind = RequestKind::send;
  SlotState state = SlotState::free;
  bool cancel_requested = false;
  CommState *comm = nullptr;
  int peer = 0; ///< destination of a send, source (maybe a wildcard) of a receive
  int tag = 0;
  Envelope result;
  ReceiveArgs args;
  RequestCall call = RequestCall::standard;
  const void *send_buf = nullptr;   ///< Iallreduce: its send buffer (maybe MPI_IN_PLACE)
  std::uintptr_t op = 0;            ///< Iallreduce: its operation
  std::uint64_t order = 0;          ///< when it was posted (or started): re-posted in this order
  std::uint64_t collective_seq = 0; ///< collective: its number among the communicator's collectives
};

class RequestTable {
public:
  explicit RequestTable(std::uint32_t initial_slots = 4096);

  /// Handles are odd integers, which no implementation uses for a request
  /// (Open MPI and MPICH requests are aligned pointers or even integers).
  static constexpr std::uintptr_t handle_of(std::uint32_t index) noexcept {
    return (static_cast<std::uintptr_t>(index) << 4) | 0x9;
  }
  static constexpr bool is_virtual(std::uintptr_t handle) noexcept { return (handle & 0xF) == 0x9; }
  static constexpr std::uint32_t index_of(std::uintptr_t handle) noexcept {
    return static_cast<std::uint32_t>(handle >> 4);
  }
  /// Fortran handles of virtual requests are negative (Open MPI's are >= 0).
  static constexpr int fortran_of(std::uint32_t index) noexcept {
    return -16 - static_cast<int>(index);
  }
  static constexpr bool is_virtual_fortran(int handle) noexcept { return handle <= -16; }
  static constexpr std::uint32_t index_of_fortran(int handle) noexcept {
    return static_cast<std::uint32_t>(-16 - handle);
  }

  /// Takes a free slot (grows the table only when all are in use).
  std::uint32_t allocate();
  void release(std::uint32_t index) noexcept;
  /// Claims a specific slot, used when restoring a snapshot. False if taken.
  bool claim(std::uint32_t index);

  [[nodiscard]] bool contains(std::uint32_t index) const noexcept {
    return index < m_slots.size() && m_slots[index].state != SlotState::free;
  }
  RequestSlot &operator[](std::uint32_t index) noexcept { return m_slots[index]; }
  const RequestSlot &operator[](std::uint32_t index) const noexcept { return m_slots[index]; }
  [[nodiscard]] std::uint32_t capacity() const noexcept {
    return static_cast<std::uint32_t>(m_slots.size());
  }
  [[nodiscard]] std::uint32_t in_use() const noexcept { return m_in_use; }

  /// Calls f(index, slot) for every slot in use.
  template <class F> void for_each(F &&f) {
    for (std::uint32_t i = 0; i < m_slots.size(); ++i)
      if (m_slots[i].state != SlotState::free) f(i, m_slots[i]);
  }

private:
  void grow(std::uint32_t slots);

  std::deque<RequestSlot> m_slots; // stable addresses while growing
  std::vector<std::uint32_t> m_free;
  // Position of each free slot in m_free (no_position when in use), so that
  // claim() takes a given slot in O(1): a restart claims every saved one.
  static constexpr std::uint32_t no_position = UINT32_MAX;
  std::vector<std::uint32_t> m_free_position;
  std::uint32_t m_in_use = 0;
};

} // namespace ckpt::detail::pmpi

#endif
