#include "error.hpp"

#include <cerrno>
#include <cstring>

namespace ckpt::detail {

ckpt_status status_from_errno(int err) noexcept {
  return (err == ENOSPC || err == EDQUOT) ? CKPT_ERR_NO_SPACE : CKPT_ERR_IO;
}

void throw_errno(int err, const std::string &what) {
  throw IoError(status_from_errno(err), what + ": " + std::strerror(err));
}

} // namespace ckpt::detail
