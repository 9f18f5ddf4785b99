// The PMPI layer's part of a checkpoint: the drained messages and the
// requests the layer completed on the application's behalf. Stored as one
// runtime-internal region of bytes (format in docs/PROTOCOL.md). Plain C++.
#ifndef CKPT_PMPI_SNAPSHOT_HPP
#define CKPT_PMPI_SNAPSHOT_HPP

#include "drained_store.hpp"
#include "request_table.hpp"

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

struct ChannelSnapshot {
  /// The writing process's MPI_REQUEST_NULL: in Open MPI it is an address,
  /// which differs in the restarted process (address-space randomisation),
  /// so null handles in restored application memory are recognised by it.
  std::uint64_t request_null = 0;
  std::vector<DrainedMessage> messages;
  std::vector<CompletedRequest> requests;
};

class SnapshotFormatError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

inline constexpr std::uint32_t snapshot_version = 1;

std::vector<unsigned char> encode_snapshot(const ChannelSnapshot &snapshot);
/// The same, with the messages of `store` (snapshot.messages is not used):
/// each is copied once, straight into the encoding.
std::vector<unsigned char> encode_snapshot(const ChannelSnapshot &snapshot,
                                           const DrainedStore &store);
/// Throws SnapshotFormatError on a bad magic, version or length.
ChannelSnapshot decode_snapshot(const unsigned char *data, std::size_t size);

} // namespace ckpt::detail::pmpi

#endif
