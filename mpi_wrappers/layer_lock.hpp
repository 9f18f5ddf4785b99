// Thread safety of the PMPI layer under MPI_THREAD_MULTIPLE.
//
// The discipline (docs/PROTOCOL.md, "Threads"):
//   1. Whether the layer locks at all is decided once, in MPI_Init(_thread),
//      from the thread level the implementation provided: only
//      MPI_THREAD_MULTIPLE turns the lock on. Below that the lock costs one
//      load and one branch per call.
//   2. Every generated wrapper holds the layer lock (LayerLock) while it runs
//      its hook or notification: the layer's state (channel counts,
//      communicator registry, request table, drained store, RMA windows, and
//      any log or determinant store added later) is only touched under it.
//   3. A PMPI call that may block (blocking point-to-point, completion waits,
//      collectives, communicator creation, RMA synchronisation) runs inside
//      unlocked(): the lock is released for the call and taken again after
//      it, so a thread blocked in MPI_Recv never stops another thread's
//      MPI_Send. Whatever the hook reads before the call and uses after it
//      must be something no other thread changes meanwhile (the slot of a
//      request the calling thread owns, a CommState, which is never freed),
//      never an iterator or a position into a shared container.
//   4. A checkpoint holds the lock for the whole channel closure and refuses
//      (CKPT_ERR_STATE) when another thread is inside unlocked(): the
//      layer cannot close channels that another thread is using.
// The lock is recursive per thread (an error handler of the application
// called under the lock may call MPI again).
#ifndef CKPT_PMPI_LAYER_LOCK_HPP
#define CKPT_PMPI_LAYER_LOCK_HPP

#include <mutex>

namespace ckpt::detail::pmpi {

namespace lock_state {
/// True when the application was granted MPI_THREAD_MULTIPLE (set at init).
extern bool g_multiple;
extern std::mutex g_mutex;
/// Threads inside unlocked() (read and written under g_mutex).
extern int g_blocked;
/// This thread holds g_mutex.
extern thread_local bool t_held;
} // namespace lock_state

/// Turns the layer lock on or off (MPI_Init(_thread), MPI_Finalize; no other
/// thread may be inside MPI then).
void set_thread_multiple(bool multiple) noexcept;
[[nodiscard]] inline bool thread_multiple() noexcept { return lock_state::g_multiple; }

/// Holds the layer lock for its scope when it is on and not already held by
/// this thread.
class LayerLock {
public:
  LayerLock() {
    if (lock_state::g_multiple && !lock_state::t_held) {
      lock_state::g_mutex.lock();
      lock_state::t_held = true;
      m_owner = true;
    }
  }
  ~LayerLock() {
    if (m_owner) {
      lock_state::t_held = false;
      lock_state::g_mutex.unlock();
    }
  }
  LayerLock(const LayerLock &) = delete;
  LayerLock &operator=(const LayerLock &) = delete;

private:
  bool m_owner = false;
};

/// Runs `call` (a PMPI call that may block) with the layer lock released, if
/// this thread holds it; returns what `call` returns.
template <class Call> auto unlocked(Call &&call) {
  if (!lock_state::g_multiple || !lock_state::t_held) return call();
  struct Relock {
    Relock() {
      ++lock_state::g_blocked;
      lock_state::t_held = false;
      lock_state::g_mutex.unlock();
    }
    ~Relock() {
      lock_state::g_mutex.lock();
      lock_state::t_held = true;
      --lock_state::g_blocked;
    }
    Relock(const Relock &) = delete;
    Relock &operator=(const Relock &) = delete;
  } relock;
  return call();
}

/// Threads other than the caller inside a blocking MPI call (call under the
/// lock).
[[nodiscard]] inline int threads_in_blocking_calls() noexcept { return lock_state::g_blocked; }

} // namespace ckpt::detail::pmpi

#endif
