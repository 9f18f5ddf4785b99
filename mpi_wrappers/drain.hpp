// Channel closure by count exchange, and the drain loop. Plain C++, no MPI:
// the MPI side is behind DrainTransport (see participant.cpp), so the logic
// is unit-tested against a simulated transport.
//
// Ranks here are ranks of the runtime's communicator (the one libckpt was
// initialised on); channels are named by (communicator id, peer).
#ifndef CKPT_PMPI_DRAIN_HPP
#define CKPT_PMPI_DRAIN_HPP

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace ckpt::detail::pmpi {

/// Messages this rank sent on one channel since the last checkpoint.
struct SentChannel {
  std::uint64_t comm_id = 0;
  int dest = 0; ///< runtime rank
  std::uint64_t sent = 0;
};

/// One record of the count exchange: "I sent you `sent` messages on comm".
struct CountRecord {
  std::uint64_t comm_id = 0;
  std::uint64_t sent = 0;
};

/// What this rank must have received on one incoming channel.
struct Expectation {
  std::uint64_t comm_id = 0;
  int source = 0; ///< runtime rank
  std::uint64_t sent = 0;
};

class DrainError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Records to send to each runtime rank (index = destination). Channels with
/// the same (comm id, destination) are summed; empty channels are omitted.
std::vector<std::vector<CountRecord>> plan_count_records(const std::vector<SentChannel> &sent,
                                                         int nranks);

/// Flattens what every source sent us into expectations.
std::vector<Expectation> expectations_from(const std::vector<std::vector<CountRecord>> &received);

class DrainTransport {
public:
  virtual ~DrainTransport() = default;
  /// Tests the application's pending receives; those that completed are
  /// accounted (received() grows) and their results kept for the application.
  virtual void progress_application_receives() = 0;
  /// Receives one message waiting on communicator `comm_id` (one the
  /// application posted no receive for) into the drained store and accounts
  /// it. False if none is waiting now.
  virtual bool drain_one(std::uint64_t comm_id) = 0;
  /// Messages received so far on (comm id, source runtime rank).
  [[nodiscard]] virtual std::uint64_t received(std::uint64_t comm_id, int source) const = 0;
  /// Nothing arrived in one round: let the implementation progress.
  virtual void idle() {}
};

/// Drains until every expectation is met, in time linear in the messages:
/// each round takes every message waiting on each short communicator (up to
/// what it misses); only a round that finds nothing waiting tests the
/// application's pending receives (a message that matches a receive posted
/// before the checkpoint is the application's: the implementation matched
/// it on arrival, so it is never among those waiting) and then idles.
/// Throws DrainError when a channel received more than was sent (the counts
/// are inconsistent), or when messages are missing on the untracked channel.
/// Returns the number of messages drained into the store.
std::uint64_t drain_channels(DrainTransport &transport, const std::vector<Expectation> &expected,
                             std::uint64_t untracked_id);

} // namespace ckpt::detail::pmpi

#endif
