#include "epoch_participant.hpp"

namespace ckpt::detail {

namespace {
EpochParticipant *g_participant = nullptr;
}

void set_epoch_participant(EpochParticipant *participant) noexcept { g_participant = participant; }
EpochParticipant *epoch_participant() noexcept { return g_participant; }

} // namespace ckpt::detail
