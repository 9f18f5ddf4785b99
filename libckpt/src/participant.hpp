// Components that take part in every checkpoint and restart besides the
// protected regions, e.g. the PMPI layer, which closes the channels before
// the regions are written and delivers the drained messages after a restart.
#ifndef CKPT_DETAIL_PARTICIPANT_HPP
#define CKPT_DETAIL_PARTICIPANT_HPP

#include "mpi_util.hpp"

#include <vector>

namespace ckpt::detail {

class Runtime;

class CheckpointParticipant {
public:
  virtual ~CheckpointParticipant() = default;
  /// Collective, at the start of Runtime::checkpoint(), before any region is
  /// hashed. May protect runtime-internal regions (negative ids). Throwing
  /// aborts the checkpoint (collectively agreed) with that error.
  virtual void before_checkpoint(Runtime &runtime) = 0;
  /// Collective, after the checkpoint was committed (or failed).
  virtual void after_checkpoint(Runtime &runtime, bool committed) = 0;
  /// Collective, at the end of a successful Runtime::restart(). Regions it
  /// protects here are restored at once (use Runtime::restored_bytes() first
  /// to size them).
  virtual void after_restart(Runtime &runtime) = 0;
};

/// Process-wide list of participants, called in registration order.
void register_participant(CheckpointParticipant *participant);
void unregister_participant(CheckpointParticipant *participant);
std::vector<CheckpointParticipant *> &participants();

/// Collective: runs a hook on every participant, agreeing on each outcome.
template <class F> void for_participants(MPI_Comm comm, F &&fn) {
  for (CheckpointParticipant *p : participants())
    agree(comm, capture([&] { fn(*p); }));
}

} // namespace ckpt::detail

#endif
