// Components that take part in every checkpoint and restart besides the
// protected regions, e.g. the PMPI layer, which closes the channels before
// the regions are written and delivers the drained messages after a restart.
#ifndef CKPT_DETAIL_PARTICIPANT_HPP
#define CKPT_DETAIL_PARTICIPANT_HPP

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

} // namespace ckpt::detail

#endif
