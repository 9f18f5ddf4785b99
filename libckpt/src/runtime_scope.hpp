// Marks the calling thread as running libckpt's own code, so that the PMPI
// layer passes the runtime's MPI traffic (HDF5 I/O, agreement collectives)
// through untouched: never counted, drained or logged.
#ifndef CKPT_DETAIL_RUNTIME_SCOPE_HPP
#define CKPT_DETAIL_RUNTIME_SCOPE_HPP

namespace ckpt::detail {

/// Depth of nested RuntimeScopes on this thread (0: application code).
int &runtime_scope_depth() noexcept;

/// True while the calling thread executes inside libckpt.
inline bool in_runtime() noexcept { return runtime_scope_depth() > 0; }

class RuntimeScope {
public:
  RuntimeScope() noexcept { ++runtime_scope_depth(); }
  ~RuntimeScope() { --runtime_scope_depth(); }
  RuntimeScope(const RuntimeScope &) = delete;
  RuntimeScope &operator=(const RuntimeScope &) = delete;
};

} // namespace ckpt::detail

#endif
