// The PMPI layer's part in a nonblocking checkpoint epoch (protocol =
// nonblocking, docs/PROTOCOL.md section 8). Every call is local to the rank:
// no collective, no wait for another rank. The runtime drives it from its
// checkpoint sites (nonblocking_protocol.hpp).
#ifndef CKPT_DETAIL_EPOCH_PARTICIPANT_HPP
#define CKPT_DETAIL_EPOCH_PARTICIPANT_HPP

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ckpt::detail {

class Runtime;

class EpochParticipant {
public:
  virtual ~EpochParticipant() = default;
  /// This rank's local checkpoint of `epoch`: freezes its channel state and
  /// records what stays pending. Returns one marker per rank of the
  /// runtime's communicator (this one included). Throws StateError naming
  /// what cannot be captured.
  virtual std::vector<std::vector<unsigned char>> open_epoch(Runtime &runtime, std::uint64_t epoch,
                                                             std::uint64_t byte_limit) = 0;
  /// The marker runtime rank `from` sent at its local checkpoint.
  virtual void on_marker(int from, const unsigned char *data, std::size_t bytes) = 0;
  /// Receives the late messages still in flight; true when the channel
  /// record is complete or failed (`problem` then says why).
  virtual bool progress_epoch(std::string &problem) = 0;
  /// The channel snapshot of the epoch (region -301), once complete.
  virtual std::vector<unsigned char> epoch_snapshot() = 0;
  /// The epoch's send log and receive counts (region -302), once complete.
  virtual std::vector<unsigned char> epoch_log() = 0;
  /// What rank 0 needs to decide on the cut, once complete.
  virtual std::vector<unsigned char> epoch_report() = 0;
  /// Rank 0: why the cut of these reports (index = runtime rank) cannot be
  /// committed, or empty.
  virtual std::string check_cut(const std::vector<std::vector<unsigned char>> &reports) = 0;
  /// The epoch committed or failed everywhere: forget its records.
  virtual void close_epoch() noexcept = 0;
};

/// The layer registers itself when loaded (null: no PMPI layer).
void set_epoch_participant(EpochParticipant *participant) noexcept;
EpochParticipant *epoch_participant() noexcept;

} // namespace ckpt::detail

#endif
