// Init/Finalize, communicator management and RMA synchronisation hooks.
#include "channel.hpp"
#include "channel_participant.hpp"
#include "hooks.hpp"
#include "layer_lock.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace ckpt::detail::pmpi::hooks {

namespace {
/// CKPT_PMPI_REPORT=1: one line per rank at MPI_Finalize with what the layer
/// saw since the last checkpoint (shows that a program's calls are caught).
void report_totals() {
  std::uint64_t sent = 0, received = 0, collectives = 0;
  for (const auto &[comm, s] : layer().all_comms()) {
    for (int p = 0; p < s->counts.peers(); ++p) {
      sent += s->counts.sent(p);
      received += s->counts.received(p);
    }
    collectives += s->collectives;
  }
  int rank = 0;
  PMPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::fprintf(stderr,
               "[ckpt][rank %d] libckpt_pmpi: intercepted %llu send(s), %llu receive(s), %llu "
               "collective(s)\n",
               rank, static_cast<unsigned long long>(sent),
               static_cast<unsigned long long>(received),
               static_cast<unsigned long long>(collectives));
}

int started(int rc) {
  if (rc != MPI_SUCCESS) return rc;
  try {
    // The lock is on exactly when the application may call MPI from several
    // threads at once (decided once, here, before it can).
    int provided = MPI_THREAD_SINGLE;
    PMPI_Query_thread(&provided);
    set_thread_multiple(provided == MPI_THREAD_MULTIPLE);
    layer().start();
    attach_participant();
    arm_fault_injection();
  } catch (const std::exception &e) {
    warn(std::string("cannot start: ") + e.what());
  }
  return rc;
}
} // namespace

int init(int *argc, char ***argv) { return started(PMPI_Init(argc, argv)); }

int init_thread(int *argc, char ***argv, int required, int *provided) {
  // Every level is granted as the implementation provides it: under
  // MPI_THREAD_MULTIPLE the layer's state is guarded by the layer lock
  // (layer_lock.hpp).
  return started(PMPI_Init_thread(argc, argv, required, provided));
}

int finalize() {
  if (const char *report = std::getenv("CKPT_PMPI_REPORT"); report && *report && *report != '0')
    report_totals();
  detach_participant();
  layer().stop();
  set_thread_multiple(false); // no other thread may call MPI from here on
  return PMPI_Finalize();
}

int comm_create_group(MPI_Comm comm, MPI_Group group, int tag, MPI_Comm *newcomm) {
  const int rc = unlocked([&] { return PMPI_Comm_create_group(comm, group, tag, newcomm); });
  if (rc == MPI_SUCCESS) layer().comm_created_from_group(comm, group, tag, *newcomm);
  return rc;
}

int intercomm_create(MPI_Comm local_comm, int local_leader, MPI_Comm bridge_comm, int remote_leader,
                     int tag, MPI_Comm *newintercomm) {
  const int rc = unlocked([&] {
    return PMPI_Intercomm_create(local_comm, local_leader, bridge_comm, remote_leader, tag,
                                 newintercomm);
  });
  // Detected, counted per peer, but not identifiable across a restart:
  // messages in flight on it make a checkpoint fail (see drain.hpp).
  if (rc == MPI_SUCCESS) layer().comm_intercomm(*newintercomm);
  return rc;
}

int intercomm_merge(MPI_Comm intercomm, int high, MPI_Comm *newintracomm) {
  const int rc = unlocked([&] { return PMPI_Intercomm_merge(intercomm, high, newintracomm); });
  if (rc == MPI_SUCCESS) layer().comm_merged(*newintracomm);
  return rc;
}

int comm_free(MPI_Comm *comm) {
  const MPI_Comm c = *comm;
  // Under the lock (the call is local in the implementations): released,
  // another thread could be given the same handle before comm_freed runs.
  const int rc = PMPI_Comm_free(comm);
  if (rc == MPI_SUCCESS) layer().comm_freed(c);
  return rc;
}

int comm_disconnect(MPI_Comm *comm) {
  const MPI_Comm c = *comm;
  const int rc = unlocked([&] { return PMPI_Comm_disconnect(comm); });
  if (rc == MPI_SUCCESS) layer().comm_freed(c);
  return rc;
}

// RMA: only the synchronisation state is tracked, so that a checkpoint in an
// open epoch fails instead of writing a snapshot that misses RMA traffic.

int win_fence(int assert, MPI_Win win) {
  const int rc = unlocked([&] { return PMPI_Win_fence(assert, win); });
  if (rc == MPI_SUCCESS) layer().window(win).unsynced_ops = false;
  return rc;
}

int win_lock(int lock_type, int rank, int assert, MPI_Win win) {
  const int rc = unlocked([&] { return PMPI_Win_lock(lock_type, rank, assert, win); });
  if (rc == MPI_SUCCESS) ++layer().window(win).locks;
  return rc;
}

int win_unlock(int rank, MPI_Win win) {
  const int rc = unlocked([&] { return PMPI_Win_unlock(rank, win); });
  if (rc == MPI_SUCCESS) {
    WindowState &w = layer().window(win);
    w.locks = std::max(0, w.locks - 1);
    if (w.locks == 0 && !w.lock_all) w.unsynced_ops = false;
  }
  return rc;
}

int win_lock_all(int assert, MPI_Win win) {
  const int rc = unlocked([&] { return PMPI_Win_lock_all(assert, win); });
  if (rc == MPI_SUCCESS) layer().window(win).lock_all = true;
  return rc;
}

int win_unlock_all(MPI_Win win) {
  const int rc = unlocked([&] { return PMPI_Win_unlock_all(win); });
  if (rc == MPI_SUCCESS) {
    WindowState &w = layer().window(win);
    w.lock_all = false;
    if (w.locks == 0) w.unsynced_ops = false;
  }
  return rc;
}

int win_start(MPI_Group group, int assert, MPI_Win win) {
  const int rc = unlocked([&] { return PMPI_Win_start(group, assert, win); });
  if (rc == MPI_SUCCESS) layer().window(win).access = true;
  return rc;
}

int win_complete(MPI_Win win) {
  const int rc = unlocked([&] { return PMPI_Win_complete(win); });
  if (rc == MPI_SUCCESS) {
    layer().window(win).access = false;
    layer().window(win).unsynced_ops = false;
  }
  return rc;
}

int win_post(MPI_Group group, int assert, MPI_Win win) {
  const int rc = unlocked([&] { return PMPI_Win_post(group, assert, win); });
  if (rc == MPI_SUCCESS) layer().window(win).exposure = true;
  return rc;
}

int win_wait(MPI_Win win) {
  const int rc = unlocked([&] { return PMPI_Win_wait(win); });
  if (rc == MPI_SUCCESS) layer().window(win).exposure = false;
  return rc;
}

int win_free(MPI_Win *win) {
  // Forgotten before the call, which synchronises (unlocked): a window
  // another thread creates meanwhile may get the same handle. A failed free
  // leaves an erroneous program; its window's epochs are no longer tracked.
  layer().window_freed(*win);
  return unlocked([&] { return PMPI_Win_free(win); });
}

} // namespace ckpt::detail::pmpi::hooks

// Diagnostics for tests and tools: what the layer counted on `comm` since the
// last checkpoint. Returns MPI_ERR_COMM when the layer does not know it.
extern "C" int ckpt_pmpi_channel_totals(MPI_Comm comm, unsigned long long *sent,
                                        unsigned long long *received,
                                        unsigned long long *collectives) {
  using namespace ckpt::detail::pmpi;
  try {
    const LayerLock lock;
    CommState *s = layer().comm(comm);
    if (!s) return MPI_ERR_COMM;
    *sent = *received = 0;
    for (int p = 0; p < s->counts.peers(); ++p) {
      *sent += s->counts.sent(p);
      *received += s->counts.received(p);
    }
    *collectives = s->collectives;
    return MPI_SUCCESS;
  } catch (...) {
    return hook_failed("ckpt_pmpi_channel_totals", comm);
  }
}
