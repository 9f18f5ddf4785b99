// The hot-path side of the nonblocking protocol (docs/PROTOCOL.md 8): every
// received message is counted per (source, tag), which gives it a sequence
// number, and while this rank's checkpoint epoch is open (between its local
// checkpoint and the commit) the message may have to be recorded as a late
// message. One load and a branch when no epoch is open.
#ifndef CKPT_PMPI_EPOCH_HOOKS_HPP
#define CKPT_PMPI_EPOCH_HOOKS_HPP

#include "channel_counts.hpp"

#include <mpi.h>

namespace ckpt::detail::pmpi {

/// True while an epoch is open on this rank (epoch_layer.cpp).
extern bool g_epoch_open;

/// Slow path: offers the message to the open epoch's cut; packs and records
/// its payload when it is a late message (or may be one).
void epoch_received(CommState *comm, int source, int tag, std::uint64_t seq, const void *buf,
                    MPI_Datatype datatype, const MPI_Status *status);

/// A message from `source` with `tag` was received into (buf, datatype) with
/// `status` (never null, never a wildcard source).
inline void count_tagged_receive(CommState *comm, int source, int tag, const void *buf,
                                 MPI_Datatype datatype, const MPI_Status *status) {
  const std::uint64_t seq = comm->tags.on_receive(source, tag);
  if (g_epoch_open) epoch_received(comm, source, tag, seq, buf, datatype, status);
}

/// True while sends need a look: an epoch is open (their hashes are logged)
/// or, after a restart, early messages are still to be skipped.
extern bool g_send_hook;

/// Slow path of send_suppressed().
bool epoch_send(CommState *comm, int dest, int tag, const void *buf, int count,
                MPI_Datatype datatype);

/// Before a send of (buf, count, datatype) to `dest` with `tag` on `comm`:
/// true when the send must not happen because its receiver already has the
/// message (an early message of the restored checkpoint; the payload is
/// checked against the one the receiver got). Such a send is not counted.
inline bool send_suppressed(CommState *comm, int dest, int tag, const void *buf, int count,
                            MPI_Datatype datatype) {
  if (!g_send_hook || !comm || dest < 0) return false;
  return epoch_send(comm, dest, tag, buf, count, datatype);
}

/// An event whose outcome depends on timing (an ANY_SOURCE match, a Test,
/// Iprobe, Wait-any/some outcome): sends after it cannot be replayed.
void epoch_nondeterministic() noexcept;
inline void note_nondeterministic() noexcept {
  if (g_epoch_open) epoch_nondeterministic();
}

/// A matched probe took a message off the channel (Mprobe/Improbe): counted
/// now; while an epoch is open a late one cannot be recorded (no payload
/// yet), so the epoch fails.
void count_probed_receive(CommState *comm, int source, int tag);

} // namespace ckpt::detail::pmpi

#endif
