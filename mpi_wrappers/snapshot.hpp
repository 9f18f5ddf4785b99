// The PMPI layer's part of a checkpoint: the communicators it refers to, the
// drained messages, the requests the layer completed on the application's
// behalf and the requests still pending (re-posted after a restart). Stored
// as one runtime-internal region of bytes (format in docs/PROTOCOL.md,
// section 5). Plain C++.
#ifndef CKPT_PMPI_SNAPSHOT_HPP
#define CKPT_PMPI_SNAPSHOT_HPP

#include "comm_identity.hpp"
#include "drained_store.hpp"
#include "request_table.hpp"

#include <climits>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace ckpt::detail::pmpi {

struct CompletedRequest {
  std::uint32_t index = 0; ///< slot of the virtual handle the application holds
  RequestKind kind = RequestKind::send;
  Envelope result;
};

/// Where a buffer lies: inside protected region `region`, at `offset`.
struct BufferRef {
  static constexpr std::int32_t none = INT32_MIN;         ///< outside every protected region
  static constexpr std::int32_t in_place = INT32_MIN + 1; ///< MPI_IN_PLACE
  std::int32_t region = none;
  std::uint64_t offset = 0;
};

/// A request that is still pending (or persistent) at the checkpoint: what a
/// restarted process needs to post it again under the same handle.
struct PendingRequest {
  std::uint32_t index = 0;
  RequestKind kind = RequestKind::receive; ///< receive, persistent_*, collective
  SlotState state = SlotState::active;     ///< active, inactive or completed (persistent)
  std::uint64_t comm_id = 0;
  int peer = 0;
  int tag = 0;
  int count = 0;
  std::uint32_t datatype = 0; ///< code of a predefined datatype (datatype_table.hpp)
  std::uint8_t call = 0;      ///< the creating call (RequestCall)
  BufferRef buffer;           ///< the receive buffer (Iallreduce: its receive buffer)
  BufferRef send_buffer;      ///< Iallreduce: its send buffer
  std::uint32_t op = 0;       ///< Iallreduce: code of a predefined operation
  std::uint64_t order = 0;    ///< posting order: re-posted in this order
  Envelope result;            ///< state completed: what Wait/Test report
};

struct ChannelSnapshot {
  /// The writing process's MPI_REQUEST_NULL: in Open MPI it is an address,
  /// which differs in the restarted process (address-space randomisation),
  /// so null handles in restored application memory are recognised by it.
  std::uint64_t request_null = 0;
  std::vector<CommDescriptor> comms; ///< in creation order
  std::vector<DrainedMessage> messages;
  /// Per message: the ticket of the matched probe that reserved it (0: none;
  /// empty: none at all). The application holds it as a virtual MPI_Message.
  std::vector<std::uint64_t> tickets;
  std::vector<CompletedRequest> requests;
  std::vector<PendingRequest> pending;
};

class SnapshotFormatError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

inline constexpr std::uint32_t snapshot_version = 2;
/// Longest communicator name (MPI_MAX_OBJECT_NAME is 64 to 256 in practice).
inline constexpr std::uint32_t max_comm_name = 256;

std::vector<unsigned char> encode_snapshot(const ChannelSnapshot &snapshot);
/// The same with the messages and tickets of `store`, in store order, in
/// place of snapshot.messages and snapshot.tickets: each message is copied
/// once, straight into the encoding.
std::vector<unsigned char> encode_snapshot(const ChannelSnapshot &snapshot,
                                           const DrainedStore &store);
/// Throws SnapshotFormatError on a bad magic, version, length or value.
ChannelSnapshot decode_snapshot(const unsigned char *data, std::size_t size);

} // namespace ckpt::detail::pmpi

#endif
