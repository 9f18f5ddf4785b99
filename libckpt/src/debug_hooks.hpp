// Fault injection for the tests (docs/FORMAT.md, "Fault injection"). Both
// hooks cost one getenv when unset.
//
//   CKPT_DEBUG_KILL=phase:version[:rank]  that rank SIGKILLs itself at that
//                                         point of writing that version
//   CKPT_DEBUG_FAIL=phase[:rank]          that rank (default 0) throws an
//                                         IoError at that phase of a
//                                         checkpoint or restart: every rank
//                                         must then return the same error
#ifndef CKPT_DETAIL_DEBUG_HOOKS_HPP
#define CKPT_DETAIL_DEBUG_HOOKS_HPP

#include <cstdint>

namespace ckpt::detail {

void debug_kill_point(const char *phase, std::int64_t version, int rank) noexcept;
/// Throws IoError("CKPT_DEBUG_FAIL: injected failure at <phase> on rank N").
void debug_fail_point(const char *phase, int rank);

} // namespace ckpt::detail

#endif
