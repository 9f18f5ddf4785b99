// Exceptions used inside libckpt. All derive from ckpt::Error (public), whose
// status() becomes the C API's return code. Messages carry context: the call,
// the file, the rank and the region involved.
#ifndef CKPT_DETAIL_ERROR_HPP
#define CKPT_DETAIL_ERROR_HPP

#include <ckpt/ckpt.hpp>

#include <string>

namespace ckpt::detail {

struct StateError : Error {
  explicit StateError(const std::string &what) : Error(CKPT_ERR_STATE, what) {}
};
struct ArgumentError : Error {
  explicit ArgumentError(const std::string &what) : Error(CKPT_ERR_ARGUMENT, what) {}
};
struct ConfigError : Error {
  explicit ConfigError(const std::string &what) : Error(CKPT_ERR_CONFIG, what) {}
};
struct IoError : Error {
  IoError(ckpt_status status, const std::string &what) : Error(status, what) {}
};
struct MismatchError : Error {
  explicit MismatchError(const std::string &what) : Error(CKPT_ERR_MISMATCH, what) {}
};
struct FormatError : Error {
  explicit FormatError(const std::string &what) : Error(CKPT_ERR_CORRUPT, what) {}
};
struct NoCheckpointError : Error {
  explicit NoCheckpointError(const std::string &what) : Error(CKPT_ERR_NO_CHECKPOINT, what) {}
};
struct MpiError : Error {
  explicit MpiError(const std::string &what) : Error(CKPT_ERR_MPI, what) {}
};
struct Hdf5Error : Error {
  Hdf5Error(ckpt_status status, const std::string &what) : Error(status, what) {}
};

/// Throws IoError for errno `err` (CKPT_ERR_NO_SPACE for ENOSPC/EDQUOT).
[[noreturn]] void throw_errno(int err, const std::string &what);
/// The status an errno value maps to.
ckpt_status status_from_errno(int err) noexcept;

} // namespace ckpt::detail

#endif
