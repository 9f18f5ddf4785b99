// The PMPI layer's checkpoint participant (see libckpt/src/participant.hpp):
// closes the channels before a checkpoint and restores them after a restart.
#ifndef CKPT_PMPI_CHANNEL_PARTICIPANT_HPP
#define CKPT_PMPI_CHANNEL_PARTICIPANT_HPP

namespace ckpt::detail::pmpi {

/// Region id of the layer's snapshot (runtime-internal: negative).
inline constexpr int snapshot_region_id = -301;

void attach_participant();
void detach_participant() noexcept;

} // namespace ckpt::detail::pmpi

#endif
