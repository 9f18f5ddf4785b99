// Early messages of the nonblocking protocol (docs/PROTOCOL.md 8.4, 8.8): a
// message sent after its sender's local checkpoint and received before its
// receiver's. The receiver's state includes it, the sender's does not: after
// a restart the sender sends it again and must not deliver it twice. Plain
// C++, no MPI.
//
//   SendLog    the sender's side while its epoch is open: the hash of every
//              message it sends, per channel, up to its first
//              nondeterministic event (an ANY_SOURCE match, a Test/Iprobe/
//              Wait-any/some outcome): only that prefix is sure to be sent
//              again identically after a restart (no determinants are
//              logged and replayed in this version).
//   Suppressor after a restart: how many sends of each channel the receiver
//              already has, and their hashes; the sender skips them,
//              checking each against the hash (a mismatch is an error).
#ifndef CKPT_PMPI_EARLY_MESSAGES_HPP
#define CKPT_PMPI_EARLY_MESSAGES_HPP

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace ckpt::detail::pmpi {

/// An outgoing channel as its sender names it.
struct OutChannel {
  std::uint64_t comm_id = 0;
  int dest = 0; ///< the receiver's rank in the communicator
  int tag = 0;
  friend bool operator<(const OutChannel &a, const OutChannel &b) noexcept {
    return std::tie(a.comm_id, a.dest, a.tag) < std::tie(b.comm_id, b.dest, b.tag);
  }
};

/// What the sender keeps of one channel: its sent count at the checkpoint
/// and the hashes of the deterministic sends after it.
struct LoggedChannel {
  OutChannel channel;
  std::uint64_t at_checkpoint = 0;
  std::vector<std::uint64_t> hashes; ///< sends at_checkpoint+1, at_checkpoint+2, ...
};

class SendLog {
public:
  void open(std::vector<LoggedChannel> at_checkpoint);
  [[nodiscard]] bool is_open() const noexcept { return m_open; }
  /// A nondeterministic event: later sends are not replayable.
  void nondeterministic() noexcept { m_deterministic = false; }
  [[nodiscard]] bool deterministic() const noexcept { return m_deterministic; }
  /// A send after the checkpoint (its hash is used only while deterministic).
  void sent(const OutChannel &channel, std::uint64_t hash);
  /// Per channel: the sent count at the checkpoint and the hashes logged.
  [[nodiscard]] std::vector<LoggedChannel> channels() const;
  void close() noexcept;

private:
  bool m_open = false;
  bool m_deterministic = true;
  std::map<OutChannel, LoggedChannel> m_channels;
};

/// Serialised sender log (the region -302 of a nonblocking checkpoint) and
/// the receiver's counts at its checkpoint.
struct ReceivedCount {
  int from = 0; ///< the sender's runtime rank
  std::uint64_t comm_id = 0;
  int source = 0; ///< the sender's rank in the communicator
  int dest = 0;   ///< this rank's rank in the communicator
  int tag = 0;
  std::uint64_t received = 0;
};
struct EpochLogSnapshot {
  std::vector<LoggedChannel> sent;
  std::vector<ReceivedCount> received;
};
std::vector<unsigned char> encode_epoch_log(const EpochLogSnapshot &snap);
/// Throws std::invalid_argument on a bad magic, truncation or trailing bytes.
EpochLogSnapshot decode_epoch_log(const unsigned char *data, std::size_t size);

/// What each rank reports to rank 0 when its record is complete, and rank
/// 0's check that the cut can be committed.
struct EarlyCount {
  int from = 0; ///< the sender's runtime rank
  std::uint64_t comm_id = 0;
  int dest = 0; ///< the receiver's rank in the communicator
  int tag = 0;
  std::uint64_t count = 0;
};
struct PrefixCount {
  std::uint64_t comm_id = 0;
  int dest = 0;
  int tag = 0;
  std::uint64_t deterministic = 0; ///< sends after the checkpoint that are replayable
};
struct EpochReport {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> collectives; ///< (comm id, calls)
  std::vector<EarlyCount> early;                                    ///< as receiver
  std::vector<PrefixCount> prefix;                                  ///< as sender
};
std::vector<unsigned char> encode_report(const EpochReport &report);
EpochReport decode_report(const unsigned char *data, std::size_t size);
/// Rank 0: why the cut of these reports (index = runtime rank) cannot be
/// committed, or empty. (1) every member of a communicator made the same
/// number of collective calls before its checkpoint; (2) every early message
/// lies in its sender's replayable prefix.
std::string check_cut(const std::vector<EpochReport> &reports);

class Suppressor {
public:
  /// `received`: for each of this rank's outgoing channels, how many
  /// messages its receiver had at its checkpoint; `log`: this rank's log.
  /// Throws std::runtime_error when the receiver has more than the log can
  /// vouch for (cannot happen for a committed cut).
  void arm(const std::vector<LoggedChannel> &log,
           const std::vector<std::pair<OutChannel, std::uint64_t>> &received);
  [[nodiscard]] bool active() const noexcept { return m_remaining > 0; }
  /// A send on `channel` with payload hash `hash`: true when it must be
  /// skipped (the receiver has it). Throws std::runtime_error naming the
  /// channel when the payload differs from the one the receiver got.
  bool skip(const OutChannel &channel, std::uint64_t hash);
  [[nodiscard]] std::uint64_t remaining() const noexcept { return m_remaining; }

private:
  std::map<OutChannel, std::vector<std::uint64_t>> m_pending; // hashes still to skip, reversed
  std::uint64_t m_remaining = 0;
};

} // namespace ckpt::detail::pmpi

#endif
