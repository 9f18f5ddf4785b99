#include "runtime_scope.hpp"

namespace ckpt::detail {

int &runtime_scope_depth() noexcept {
  static thread_local int depth = 0;
  return depth;
}

} // namespace ckpt::detail
