// Capture and restoration of the requests a checkpoint leaves pending:
// receives nothing in flight matched (Irecv, started Recv_init), persistent
// requests (active or not) and nonblocking barriers and allreduces not every
// member has entered. In the running process they simply stay pending; after a restart
// restore_pending() posts them again under the same virtual handles.
//
// Neither function assumes the ranks are in a collective: the blocking
// protocol calls them at the global checkpoint, a non-blocking protocol can
// call them at a rank's local checkpoint.
#ifndef CKPT_PMPI_PENDING_STATE_HPP
#define CKPT_PMPI_PENDING_STATE_HPP

#include "snapshot.hpp"

#include <mpi.h>

#include <cstddef>
#include <string>
#include <vector>

namespace ckpt::detail {
class Runtime;
}

namespace ckpt::detail::pmpi {

/// Where the application's protected memory is (implemented over the
/// runtime's region registry).
class RegionMap {
public:
  virtual ~RegionMap() = default;
  /// The protected region holding all of [data, data + bytes), if any.
  virtual BufferRef locate(const void *data, std::size_t bytes) = 0;
  /// The address of `ref` in this process (null: not protected, too small).
  virtual void *address(const BufferRef &ref, std::size_t bytes) = 0;
};

/// Code of a predefined datatype (0: not predefined). Codes are the 1-based
/// position in a fixed table (pending_state.cpp): part of the snapshot format.
std::uint32_t datatype_code(MPI_Datatype type) noexcept;
/// The datatype of a code (MPI_DATATYPE_NULL: unknown code).
MPI_Datatype datatype_of(std::uint32_t code) noexcept;
/// The same for predefined reduction operations (0: not predefined).
std::uint32_t op_code(MPI_Op op) noexcept;
MPI_Op op_of(std::uint32_t code) noexcept;

/// The runtime's protected regions, for recording and finding buffers (the
/// blocking checkpoint, a nonblocking local checkpoint, the restart).
class RuntimeRegions final : public RegionMap {
public:
  explicit RuntimeRegions(Runtime &runtime) : m_runtime(runtime) {}
  BufferRef locate(const void *data, std::size_t bytes) override;
  void *address(const BufferRef &ref, std::size_t bytes) override;

private:
  Runtime &m_runtime;
};

struct PendingCapture {
  std::vector<PendingRequest> requests;
  /// Why the state cannot be captured (empty: it can), naming the request.
  std::string problem;
};

/// Records every active receive, every persistent request and every active
/// nonblocking barrier. Call after the channels were drained and sends settled.
PendingCapture capture_pending(RegionMap &regions, const std::vector<CommDescriptor> &comms);

/// Receives every message a probe matched (Mprobe/Improbe) and the
/// application has not received yet into the drained store, reserved under
/// the application's virtual MPI_Message: Mrecv/Imrecv redeem it as before.
/// Returns a problem naming the message when its communicator cannot be
/// identified after a restart (empty: none).
std::string receive_matched_messages(const std::vector<CommDescriptor> &comms);

/// Posts the saved requests again, in their posting order, under their old
/// handles (comm ids already mapped to live communicators). A persistent
/// request the application re-created at the same handle before
/// ckpt_restart() is adopted when it is the same request. Throws StateError.
void restore_pending(RegionMap &regions, std::vector<PendingRequest> pending);

/// "MPI_Irecv on communicator ... (source 3, tag 7)" for messages.
std::string describe_request(RequestKind kind, RequestCall call, const CommState *comm, int peer,
                             int tag, const std::vector<CommDescriptor> &comms);

} // namespace ckpt::detail::pmpi

#endif
