// Maps exceptions to status codes at the C boundary (one helper for all).
#ifndef CKPT_DETAIL_API_BOUNDARY_HPP
#define CKPT_DETAIL_API_BOUNDARY_HPP

#include <ckpt/ckpt.h>

#include <string>

namespace ckpt::detail {

void set_last_error(const std::string &message) noexcept;
/// Converts the exception being handled into a status and records its text.
int status_from_current_exception(const char *call) noexcept;

/// Runs fn(), returning CKPT_SUCCESS or the status of what it threw.
template <class F> int guarded(const char *call, F &&fn) noexcept {
  try {
    set_last_error("");
    fn();
    return CKPT_SUCCESS;
  } catch (...) {
    return status_from_current_exception(call);
  }
}

} // namespace ckpt::detail

#endif
