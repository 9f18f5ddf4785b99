#include "layer_lock.hpp"

namespace ckpt::detail::pmpi {

namespace lock_state {
bool g_multiple = false;
std::mutex g_mutex;
int g_blocked = 0;
thread_local bool t_held = false;
} // namespace lock_state

void set_thread_multiple(bool multiple) noexcept { lock_state::g_multiple = multiple; }

} // namespace ckpt::detail::pmpi
