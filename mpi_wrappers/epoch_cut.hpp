// One rank's side of a nonblocking checkpoint epoch (docs/PROTOCOL.md,
// section 8): what it had received on every incoming (communicator, source,
// tag) channel at its local checkpoint, the senders' markers (what each had
// sent at *its* local checkpoint), and the late messages it records in
// between. Plain C++, no MPI: the layer feeds it receives and markers.
//
//   late message:  sent before the sender's local checkpoint, received after
//                  the receiver's: recorded here, delivered again after a
//                  restart (it is part of the channel state of the cut);
//   early message: sent after the sender's local checkpoint, received before
//                  the receiver's: counted here (early()); the sender skips it
//                  when it sends it again after a restart (early_messages.hpp).
#ifndef CKPT_PMPI_EPOCH_CUT_HPP
#define CKPT_PMPI_EPOCH_CUT_HPP

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace ckpt::detail::pmpi {

/// An incoming channel as the receiver names it: the sender's runtime rank
/// (the rank that sends the marker), the communicator's stable id, the
/// sender's rank in that communicator and the tag.
struct CutChannel {
  int from = 0;
  std::uint64_t comm_id = 0;
  int source = 0;
  int tag = 0;
  friend bool operator<(const CutChannel &a, const CutChannel &b) noexcept {
    return std::tie(a.from, a.comm_id, a.source, a.tag) <
           std::tie(b.from, b.comm_id, b.source, b.tag);
  }
};

/// One entry of a marker: on (comm_id, source = the sender's rank, tag) the
/// sender had sent `sent` messages to the marker's receiver.
struct MarkerEntry {
  std::uint64_t comm_id = 0;
  std::int32_t source = 0;
  std::int32_t tag = 0;
  std::uint64_t sent = 0;
};

struct LateMessage {
  std::uint64_t comm_id = 0;
  int source = 0;
  int tag = 0;
  std::vector<unsigned char> data; ///< MPI_PACKED bytes
};

class EpochCut {
public:
  /// Opens the cut at the local checkpoint. `received`: this rank's receive
  /// counts per incoming channel at that moment; `markers`: how many markers
  /// close the cut (one per rank of the runtime communicator, this one
  /// included); `byte_limit`: most bytes of late messages kept.
  void open(std::uint64_t epoch, const std::vector<std::pair<CutChannel, std::uint64_t>> &received,
            int markers, std::uint64_t byte_limit);
  [[nodiscard]] bool is_open() const noexcept { return m_open; }
  [[nodiscard]] std::uint64_t epoch() const noexcept { return m_epoch; }

  /// The marker of runtime rank `from`.
  void on_marker(int from, const std::vector<MarkerEntry> &entries);
  /// A message received after the local checkpoint: `seq` is its sequence
  /// number on `channel` (TagCounts::on_receive). True when its payload must
  /// be passed to record(): the sender's marker is not in yet, or says the
  /// message was sent before the sender's checkpoint.
  bool on_receive(const CutChannel &channel, std::uint64_t seq);
  void record(const CutChannel &channel, std::uint64_t seq, std::vector<unsigned char> data);
  /// Marks the epoch as failed (first problem wins).
  void fail(const std::string &problem);

  /// Channels whose sender sent more before its checkpoint than this rank
  /// has received: the late messages still in the implementation's queues.
  [[nodiscard]] std::vector<std::pair<CutChannel, std::uint64_t>> deficits() const;
  /// Every marker is in and no late message is missing (or the epoch failed).
  [[nodiscard]] bool complete() const;
  [[nodiscard]] const std::string &problem() const noexcept { return m_problem; }
  /// Channels on which this rank had, at its checkpoint, received messages
  /// their sender sent after its own: how many.
  [[nodiscard]] const std::map<CutChannel, std::uint64_t> &early() const noexcept {
    return m_early;
  }
  /// Receive counts at the local checkpoint.
  [[nodiscard]] const std::map<CutChannel, std::uint64_t> &at_checkpoint() const noexcept {
    return m_at_checkpoint;
  }
  [[nodiscard]] std::uint64_t recorded_bytes() const noexcept { return m_bytes; }
  /// The late messages in the order they were received.
  [[nodiscard]] std::vector<LateMessage> late_messages() const;
  /// Forgets everything (the epoch committed or failed).
  void close() noexcept;

private:
  struct Recorded {
    CutChannel channel;
    std::uint64_t seq = 0;
    std::vector<unsigned char> data;
  };
  void trim(int from);

  bool m_open = false;
  std::uint64_t m_epoch = 0;
  int m_markers_expected = 0;
  std::uint64_t m_byte_limit = 0;
  std::uint64_t m_bytes = 0;
  std::vector<bool> m_marker_in;
  int m_markers_in = 0;
  std::map<CutChannel, std::uint64_t> m_at_checkpoint; ///< received at the local checkpoint
  std::map<CutChannel, std::uint64_t> m_seen;          ///< highest sequence received since
  std::map<CutChannel, std::uint64_t> m_sent;          ///< from the markers
  std::vector<Recorded> m_recorded;
  std::map<CutChannel, std::uint64_t> m_early;
  std::string m_problem;
};

/// Markers travel as bytes: MarkerEntry records in host byte order.
std::vector<unsigned char> encode_marker(const std::vector<MarkerEntry> &entries);
/// Throws std::invalid_argument when the size is not a multiple of a record.
std::vector<MarkerEntry> decode_marker(const unsigned char *data, std::size_t bytes);

} // namespace ckpt::detail::pmpi

#endif
