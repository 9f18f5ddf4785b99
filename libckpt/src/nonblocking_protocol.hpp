// protocol = nonblocking (docs/PROTOCOL.md, section 8): checkpoints requested
// by any rank (ckpt_request_checkpoint), by rank 0's timer or by a signal,
// spread as markers on a private communicator; each rank takes its local
// checkpoint at its next checkpoint site and goes on; rank 0 commits the
// version once every rank's local checkpoint and channel record are written.
// Nothing here is collective except quiesce(): a site costs a flag test and a
// clock read when nothing is pending.
#ifndef CKPT_DETAIL_NONBLOCKING_PROTOCOL_HPP
#define CKPT_DETAIL_NONBLOCKING_PROTOCOL_HPP

#include "checkpoint_trigger.hpp"
#include "mpi_util.hpp"
#include "signals.hpp"

#include <cstdint>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ckpt::detail {

class Runtime;

class NonblockingProtocol {
public:
  /// Collective over the runtime's communicator (duplicates it).
  explicit NonblockingProtocol(Runtime &runtime);
  ~NonblockingProtocol();
  NonblockingProtocol(const NonblockingProtocol &) = delete;
  NonblockingProtocol &operator=(const NonblockingProtocol &) = delete;

  /// A checkpoint site. True when this rank took its local checkpoint here.
  /// Throws StateError once, at the next site, when an epoch failed.
  bool site(std::int64_t step) {
    if (!m_trigger.due(m_active || SignalWatch::pending())) return false;
    return progress(step);
  }
  /// Requests a checkpoint from this rank (local; async-signal-unsafe).
  void request() noexcept { m_trigger.request(); }
  /// Collective: completes (or fails) every epoch in flight, so that the
  /// marker communicator is quiet. Before a blocking checkpoint, a restart
  /// and finalize.
  void quiesce();
  /// Versions committed by this protocol in this session (for tests).
  [[nodiscard]] std::uint64_t committed() const noexcept { return m_committed; }

private:
  struct Request {
    std::int64_t version = 0;
    std::uint64_t target_site = 0;
    bool signal = false; ///< requested by a signal: ckpt_should_exit after the commit
  };
  struct Done {
    bool ok = false;
    std::vector<unsigned char> report; ///< the layer's (EpochParticipant::epoch_report)
    std::string problem;
  };
  struct PendingSend {
    std::vector<unsigned char> bytes;
    MPI_Request request = MPI_REQUEST_NULL;
  };

  bool progress(std::int64_t step);
  void poll_messages();
  void handle(int from, int tag, std::vector<unsigned char> &bytes);
  void initiate();
  void take_local(std::int64_t step, const char *refusal);
  void finish_record();
  void decide();
  void close(std::uint64_t epoch, std::int64_t version, bool committed, const std::string &why);
  void send(int dest, int tag, std::vector<unsigned char> bytes);
  void test_sends();
  [[nodiscard]] std::optional<std::pair<std::uint64_t, Request>> next_request() const;
  void commit_version(std::uint64_t epoch, std::int64_t version, std::string &problem);

  Runtime &m_rt;
  Comm m_comm;
  int m_rank = 0;
  int m_size = 1;
  CheckpointTrigger m_trigger;
  bool m_active = false;      ///< an epoch is requested, open or being decided here
  std::uint64_t m_closed = 0; ///< every epoch up to this one is closed here
  std::map<std::uint64_t, Request> m_requests;
  std::uint64_t m_taken = 0; ///< epoch whose local checkpoint this rank took (open)
  std::int64_t m_taken_version = 0;
  bool m_done_sent = false;
  bool m_signal = false; ///< a signal reached this rank: the next epoch carries it
  std::map<std::uint64_t, std::vector<std::pair<int, std::vector<unsigned char>>>> m_early_marks;
  // Rank 0: the reports of each epoch.
  std::map<std::uint64_t, std::map<int, Done>> m_dones;
  std::uint64_t m_decided = 0; ///< rank 0: every epoch up to this one is decided
  std::map<std::uint64_t, std::int64_t> m_versions; ///< rank 0: version of each epoch
  std::map<std::uint64_t, std::int64_t> m_steps;    ///< rank 0: step of each epoch (its own)
  std::list<PendingSend> m_sends;
  std::string m_failure; ///< reported at the next site
  std::uint64_t m_committed = 0;
};

} // namespace ckpt::detail

#endif
