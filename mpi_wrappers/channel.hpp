// The PMPI layer's process-wide state (communicators, virtual requests,
// drained messages, RMA epochs) and the notifications the generated wrappers
// send it. This is the MPI side; the logic it relies on lives in plain
// classes (channel_counts, request_table, drained_store, drain).
#ifndef CKPT_PMPI_CHANNEL_HPP
#define CKPT_PMPI_CHANNEL_HPP

#include "channel_counts.hpp"
#include "comm_identity.hpp"
#include "drained_store.hpp"
#include "request_table.hpp"

#include <mpi.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace ckpt::detail {
int &runtime_scope_depth() noexcept;
}

namespace ckpt::detail::pmpi {

/// True when the call comes from libckpt itself (HDF5 I/O, agreement
/// collectives): such calls go straight to PMPI, never counted or drained.
inline bool bypass() noexcept { return runtime_scope_depth() > 0; }

/// RMA synchronisation state of one window.
struct WindowState {
  int locks = 0;             ///< Win_lock without Win_unlock
  bool lock_all = false;     ///< Win_lock_all without Win_unlock_all
  bool access = false;       ///< Win_start without Win_complete
  bool exposure = false;     ///< Win_post without Win_wait
  bool unsynced_ops = false; ///< operations issued since the last synchronisation
};

class Layer {
public:
  Layer();

  /// Called after PMPI_Init(_thread) succeeded / before PMPI_Finalize.
  void start();
  void stop() noexcept;
  [[nodiscard]] bool started() const noexcept { return m_started; }

  /// State of `comm`, registering it on first sight (null for MPI_COMM_NULL
  /// or an invalid handle). Hot path: one compare when the communicator is
  /// the same as in the previous call.
  CommState *comm(MPI_Comm comm) {
    if (comm == m_last_comm) return m_last_state;
    return comm_slow(comm);
  }
  void comm_created(MPI_Comm parent, MPI_Comm child, std::uint32_t call_kind);
  void comm_created_from_group(MPI_Comm parent, MPI_Group group, int tag, MPI_Comm child);
  void comm_merged(MPI_Comm child);
  void comm_intercomm(MPI_Comm child);
  void comm_freed(MPI_Comm comm);
  /// Every live communicator the layer tracks.
  std::vector<std::pair<MPI_Comm, CommState *>> live_comms() const;
  /// Live and freed communicators (for reports).
  std::vector<std::pair<MPI_Comm, CommState *>> all_comms() const;
  /// Identities of the live tracked communicators, in creation order.
  std::vector<CommDescriptor> describe_comms() const;
  /// The live communicator with stable id `id`, if any.
  std::pair<MPI_Comm, CommState *> find_comm(std::uint64_t id) const;

  // Requests.
  RequestTable &requests() noexcept { return m_requests; }
  MPI_Request wrap(MPI_Request real, RequestKind kind, CommState *comm, int peer, int tag);
  /// Completes the accounting of a request whose implementation request
  /// completed with status `st` (never null).
  static void account(RequestSlot &slot, const MPI_Status *st) noexcept;
  /// After the application saw the completion: frees a one-shot slot and
  /// nulls the handle; a persistent request becomes inactive.
  void finish(MPI_Request *handle) noexcept;

  // Drained messages.
  [[nodiscard]] bool has_drained() const noexcept { return m_drained_pending != 0; }
  DrainedStore &drained() noexcept { return m_drained; }
  void drained_changed() noexcept { m_drained_pending = m_drained.size(); }
  /// The oldest drained message a receive (source, tag) on `comm` matches.
  std::optional<std::size_t> find_drained(const CommState &comm, int source, int tag) const;
  /// Delivers a drained message into (buf, count, datatype) like a receive on
  /// `comm` would, filling `*env` and `*status` (unless MPI_STATUS_IGNORE;
  /// MPI_ERROR is left untouched). Returns the receive's error code.
  int deliver(DrainedMessage message, void *buf, int count, MPI_Datatype datatype, MPI_Comm comm,
              MPI_Status *status, Envelope *env);
  /// A message matched by Mprobe/Improbe, still in the implementation: the
  /// application holds a virtual MPI_Message whose ticket maps to it.
  struct MatchedMessage {
    MPI_Message real = MPI_MESSAGE_NULL;
    CommState *comm = nullptr;
    int source = 0;
    int tag = 0;
    std::uint64_t bytes = 0;
  };
  std::unordered_map<std::uint64_t, MatchedMessage> &matched() noexcept { return m_matched; }
  /// Active receives the application freed with MPI_Request_free: their
  /// completion is invisible, so the channel counts cannot be trusted.
  int &freed_active_receives() noexcept { return m_freed_active_receives; }

  // RMA.
  WindowState &window(MPI_Win win) { return m_windows[win]; }
  void window_freed(MPI_Win win) { m_windows.erase(win); }
  const std::unordered_map<MPI_Win, WindowState> &windows() const noexcept { return m_windows; }

  /// The previous process's MPI_REQUEST_NULL after a restart (0: none).
  void set_stale_null(MPI_Request stale) noexcept { m_stale_null = stale; }
  /// Replaces a stale null handle by this process's MPI_REQUEST_NULL.
  void fix_stale_null(MPI_Request *r) const noexcept {
    if (*r == m_stale_null && m_stale_null != nullptr) *r = MPI_REQUEST_NULL;
  }
  [[nodiscard]] bool has_stale_null() const noexcept { return m_stale_null != nullptr; }

  /// The next posting order number (requests are re-posted in this order).
  std::uint64_t next_order() noexcept { return m_order++; }

  /// Resets every channel count (the channels were just closed).
  void reset_counts() noexcept;

private:
  CommState *comm_slow(MPI_Comm comm);
  CommState *register_comm(MPI_Comm comm, std::uint64_t id, bool stable);
  void register_child(std::uint64_t parent, bool stable, std::uint32_t kind, MPI_Comm child);

  bool m_started = false;
  MPI_Comm m_last_comm = MPI_COMM_NULL;
  CommState *m_last_state = nullptr;
  // Indexed by the communicator's Fortran handle, a small dense integer.
  std::vector<std::unique_ptr<CommState>> m_by_index;
  // States of freed communicators stay alive: pending requests point to them.
  std::vector<std::unique_ptr<CommState>> m_retired;
  SiblingOrdinals m_siblings;
  std::uint64_t m_created = 0; // communicators registered so far
  std::uint64_t m_order = 0;   // requests posted so far
  RequestTable m_requests;
  DrainedStore m_drained;
  std::size_t m_drained_pending = 0;
  std::unordered_map<std::uint64_t, MatchedMessage> m_matched;
  int m_freed_active_receives = 0;
  MPI_Comm m_delivery_comm = MPI_COMM_NULL; // private dup of MPI_COMM_SELF
  std::unordered_map<MPI_Win, WindowState> m_windows;
  MPI_Request m_stale_null = nullptr;
};

Layer &layer() noexcept;

// Notifications from the generated wrappers.
// note_collective and note_icollective may throw (registering a communicator
// allocates): the generated wrappers catch.
void note_collective(MPI_Comm comm);
void note_icollective(MPI_Comm comm, MPI_Request *request);
void note_comm_created(MPI_Comm parent, MPI_Comm child, std::uint32_t call_kind) noexcept;
void note_rma_operation(MPI_Win win) noexcept;

/// Tests every pending application receive (Irecv, started Recv_init); a
/// completed one is accounted and its slot keeps the result for the
/// application's Wait/Test. Every drain calls it first: a drained message
/// never overtakes a receive the application posted.
void complete_pending_receives();
/// Receives the message MPI_Iprobe found (`st`) on `comm` as MPI_PACKED
/// bytes, for the drained store (not counted here).
DrainedMessage receive_probed(MPI_Comm comm, std::uint64_t comm_id, const MPI_Status &st);

/// Collective over `comm`: sends `out[r]` (plain records) to rank r and
/// returns what every rank sent here, per source (PMPI_Alltoall of the sizes,
/// then PMPI_Alltoallv of the bytes). `what` names the exchange in errors.
template <class Record>
std::vector<std::vector<Record>>
exchange_records(MPI_Comm comm, const std::vector<std::vector<Record>> &out, const char *what);

/// Writes an envelope into a status the application owns, leaving MPI_ERROR.
void store_envelope(MPI_Status *status, const Envelope &env) noexcept;
Envelope envelope_of(const MPI_Status &status) noexcept;

/// Virtual MPI_Message handles for matched probes of drained messages.
inline bool is_virtual_message(MPI_Message m) noexcept {
  return RequestTable::is_virtual(reinterpret_cast<std::uintptr_t>(m));
}
inline MPI_Message virtual_message(std::uint64_t ticket) noexcept {
  return reinterpret_cast<MPI_Message>(RequestTable::handle_of(static_cast<std::uint32_t>(ticket)));
}
inline std::uint64_t ticket_of(MPI_Message m) noexcept {
  return RequestTable::index_of(reinterpret_cast<std::uintptr_t>(m));
}

inline bool is_virtual_request(MPI_Request r) noexcept {
  return RequestTable::is_virtual(reinterpret_cast<std::uintptr_t>(r));
}
inline std::uint32_t slot_of(MPI_Request r) noexcept {
  return RequestTable::index_of(reinterpret_cast<std::uintptr_t>(r));
}
inline MPI_Request virtual_request(std::uint32_t index) noexcept {
  return reinterpret_cast<MPI_Request>(RequestTable::handle_of(index));
}
inline MPI_Request real_request(std::uintptr_t r) noexcept {
  return reinterpret_cast<MPI_Request>(r);
}
inline std::uintptr_t opaque(MPI_Request r) noexcept { return reinterpret_cast<std::uintptr_t>(r); }

/// Logs a line "[ckpt][rank N] warning: libckpt_pmpi: ..." on stderr.
void warn(const std::string &message) noexcept;

// ---- failures inside a wrapper ---------------------------------------------
//
// No exception leaves a PMPI wrapper (generate_wrappers.py puts every hook
// call and notification in `try`). The catch handler calls hook_failed(),
// which must run inside the `catch` block: it
//   1. logs "[ckpt][rank N] error: libckpt_pmpi: MPI_X: <what>" on stderr;
//   2. remembers the failure: the layer's accounting may now be incomplete,
//      so every later checkpoint is refused (failed_call());
//   3. returns MPI_ERR_INTERN through the error handler of `comm` (or `win`;
//      callers without one pass MPI_COMM_WORLD): with the default
//      MPI_ERRORS_ARE_FATAL the job ends there, with MPI_ERRORS_RETURN or a
//      handler of the application's the call returns the code;
//   4. calls MPI_Abort when the error handler itself fails, and only logs
//      and returns MPI_ERR_INTERN when MPI is not initialised or finalised.
int hook_failed(const char *call, MPI_Comm comm) noexcept;
int hook_failed(const char *call, MPI_Win win) noexcept;
/// The call whose hook failed first in this process (null: none).
const char *failed_call() noexcept;

/// The wrapped calls, "MPI_<Name>", in the order of wrappers.tbl (generated).
extern const char *const k_wrapper_names[];
extern const int k_wrapper_count;

/// Fault injection for tests: with CKPT_PMPI_INJECT_FAULT=MPI_<Name> in the
/// environment (read once, at MPI_Init), the wrapper of that call throws
/// where its hook would run, as a failing hook would. One comparison per
/// call otherwise.
extern int g_injected_fault;
[[noreturn]] void throw_injected_fault(int call);
inline void inject_fault(int call) {
  if (call == g_injected_fault) throw_injected_fault(call);
}
/// Reads CKPT_PMPI_INJECT_FAULT (called by the MPI_Init hooks).
void arm_fault_injection() noexcept;

void exchange_bytes(MPI_Comm comm, const std::vector<std::vector<unsigned char>> &out,
                    std::vector<std::vector<unsigned char>> &in, const char *what);

template <class Record>
std::vector<std::vector<Record>>
exchange_records(MPI_Comm comm, const std::vector<std::vector<Record>> &out, const char *what) {
  std::vector<std::vector<unsigned char>> bytes_out(out.size()), bytes_in;
  for (std::size_t r = 0; r < out.size(); ++r) {
    const auto *p = reinterpret_cast<const unsigned char *>(out[r].data());
    bytes_out[r].assign(p, p + out[r].size() * sizeof(Record));
  }
  exchange_bytes(comm, bytes_out, bytes_in, what);
  std::vector<std::vector<Record>> in(bytes_in.size());
  for (std::size_t r = 0; r < bytes_in.size(); ++r) {
    in[r].resize(bytes_in[r].size() / sizeof(Record));
    if (!in[r].empty())
      std::memcpy(in[r].data(), bytes_in[r].data(), in[r].size() * sizeof(Record));
  }
  return in;
}

} // namespace ckpt::detail::pmpi

#endif
