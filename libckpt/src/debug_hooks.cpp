#include "debug_hooks.hpp"

#include "error.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace ckpt::detail {

void debug_kill_point(const char *phase, std::int64_t version, int rank) noexcept {
  const char *spec = std::getenv("CKPT_DEBUG_KILL");
  if (!spec) return;
  char name[32] = {};
  long long v = 0;
  int r = 0;
  const int n = std::sscanf(spec, "%31[a-z_]:%lld:%d", name, &v, &r);
  if (n < 2 || std::strcmp(name, phase) != 0 || v != version || (n == 3 ? r : 0) != rank) return;
  std::fprintf(stderr, "[ckpt][rank %d] CKPT_DEBUG_KILL: killing this rank at %s of version %lld\n",
               rank, phase, v);
  std::fflush(stderr);
  std::raise(SIGKILL);
}

void debug_fail_point(const char *phase, int rank) {
  const char *spec = std::getenv("CKPT_DEBUG_FAIL");
  if (!spec) return;
  char name[48] = {};
  int r = 0;
  const int n = std::sscanf(spec, "%47[a-z_]:%d", name, &r);
  if (n < 1 || std::strcmp(name, phase) != 0 || (n == 2 ? r : 0) != rank) return;
  throw IoError(CKPT_ERR_IO, std::string("CKPT_DEBUG_FAIL: injected failure at ") + phase +
                                 " on rank " + std::to_string(rank));
}

} // namespace ckpt::detail
