// The C API: a process-wide runtime, exceptions mapped to status codes.
#include "api_boundary.hpp"
#include "error.hpp"
#include "log.hpp"
#include "region.hpp"
#include "runtime.hpp"

#include <ckpt/ckpt.h>

#include <cstring>
#include <memory>
#include <new>
#include <type_traits>

namespace ckpt::detail {
namespace {

thread_local std::string t_last_error;
std::unique_ptr<Runtime> g_runtime;
bool g_finalized = false;

Runtime &runtime(const char *call) {
  if (!g_runtime)
    throw StateError(
        std::string(call) +
        (g_finalized ? " called after ckpt_finalize: call ckpt_init first to start a new session"
                     : " called before ckpt_init: call ckpt_init first"));
  return *g_runtime;
}

int init(MPI_Comm comm, const char *config_file) {
  return guarded("ckpt_init", [&] {
    if (g_runtime)
      throw StateError("ckpt_init called twice: call ckpt_finalize before initialising again");
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) throw StateError("ckpt_init called before MPI_Init: initialise MPI first");
    Config config = Config::resolve(config_file ? config_file : "", {});
    g_runtime = std::make_unique<Runtime>(comm, std::move(config));
    g_finalized = false;
  });
}

} // namespace

void set_last_error(const std::string &message) noexcept {
  try {
    t_last_error = message;
  } catch (...) {
  }
}

int status_from_current_exception(const char *call) noexcept {
  try {
    throw;
  } catch (const Error &e) {
    set_last_error(e.what());
    return e.status();
  } catch (const std::bad_alloc &) {
    set_last_error(std::string(call) + ": out of memory");
    return CKPT_ERR_INTERNAL;
  } catch (const std::exception &e) {
    set_last_error(std::string(call) + ": " + e.what());
    return CKPT_ERR_INTERNAL;
  } catch (...) {
    set_last_error(std::string(call) + ": unknown exception");
    return CKPT_ERR_INTERNAL;
  }
}

} // namespace ckpt::detail

using namespace ckpt::detail;

extern "C" {

int ckpt_init(MPI_Comm comm, const char *config_file) { return init(comm, config_file); }

int ckpt_init_f(MPI_Fint comm, const char *config_file) {
  return init(MPI_Comm_f2c(comm), config_file);
}

int ckpt_protect(int id, const char *name, void *ptr, size_t count, ckpt_type type) {
  // A C or Fortran caller can pass any int as the type. Its bits are copied
  // out as an integer and validated before any use as a ckpt_type.
  static_assert(sizeof(ckpt_type) == sizeof(unsigned) || sizeof(ckpt_type) == sizeof(int));
  std::underlying_type_t<ckpt_type> raw{};
  std::memcpy(&raw, &type, sizeof raw);
  return guarded("ckpt_protect", [&] {
    Runtime &rt = runtime("ckpt_protect");
    const std::string context =
        "ckpt_protect: region " + std::to_string(id) + " '" + (name ? name : "") + "'";
    if (id < 0)
      throw ArgumentError("ckpt_protect: region id " + std::to_string(id) + " is negative");
    const ckpt_type checked = type_from_integer(static_cast<int>(raw), context);
    rt.protect(id, name ? name : "", ptr, count, type_size(checked), checked);
  });
}

int ckpt_protect_bytes(int id, const char *name, void *ptr, size_t count, size_t elem_size) {
  return guarded("ckpt_protect_bytes", [&] {
    Runtime &rt = runtime("ckpt_protect_bytes");
    if (id < 0)
      throw ArgumentError("ckpt_protect_bytes: region id " + std::to_string(id) + " is negative");
    rt.protect(id, name ? name : "", ptr, count, elem_size, CKPT_BYTE);
  });
}

int ckpt_protect_global(int id, const char *name, void *ptr, ckpt_type type, int ndims,
                        const size_t *global_dims, const size_t *offset, const size_t *local_dims) {
  std::underlying_type_t<ckpt_type> raw{};
  std::memcpy(&raw, &type, sizeof raw);
  return guarded("ckpt_protect_global", [&] {
    Runtime &rt = runtime("ckpt_protect_global");
    const std::string context =
        "ckpt_protect_global: region " + std::to_string(id) + " '" + (name ? name : "") + "'";
    if (id < 0) throw ArgumentError(context + ": the id is negative");
    if (ndims < 1 || ndims > k_max_global_dims || !global_dims || !offset || !local_dims)
      throw ArgumentError(context + ": needs 1 to 3 dimensions and three dimension arrays");
    const ckpt_type checked = type_from_integer(static_cast<int>(raw), context);
    const auto n = static_cast<std::size_t>(ndims);
    rt.protect_global(id, name ? name : "", ptr, checked,
                      std::vector<std::uint64_t>(global_dims, global_dims + n),
                      std::vector<std::uint64_t>(offset, offset + n),
                      std::vector<std::uint64_t>(local_dims, local_dims + n));
  });
}

int ckpt_unprotect(int id) {
  return guarded("ckpt_unprotect", [&] { runtime("ckpt_unprotect").unprotect(id); });
}

int ckpt_set_tracking(int id, ckpt_tracking mode) {
  std::underlying_type_t<ckpt_tracking> raw{};
  std::memcpy(&raw, &mode, sizeof raw);
  return guarded("ckpt_set_tracking", [&] {
    Runtime &rt = runtime("ckpt_set_tracking");
    switch (static_cast<long long>(raw)) {
    case CKPT_TRACKING_AUTO: rt.set_tracking(id, TrackingMode::Automatic); return;
    case CKPT_TRACKING_HASH: rt.set_tracking(id, TrackingMode::Hash); return;
    case CKPT_TRACKING_PAGES: rt.set_tracking(id, TrackingMode::Pages); return;
    default:
      throw ArgumentError("ckpt_set_tracking: region " + std::to_string(id) +
                          ": unknown ckpt_tracking value " + std::to_string(raw));
    }
  });
}

int ckpt_checkpoint(int64_t step) {
  return guarded("ckpt_checkpoint", [&] { runtime("ckpt_checkpoint").checkpoint(step); });
}

int ckpt_wait_global(int64_t version) {
  return guarded("ckpt_wait_global", [&] { runtime("ckpt_wait_global").wait_global(version); });
}

int ckpt_restart_available(int *exists, int64_t *version, int64_t *step) {
  return guarded("ckpt_restart_available", [&] {
    if (!exists) throw ArgumentError("ckpt_restart_available: exists is NULL");
    auto latest = runtime("ckpt_restart_available").latest();
    *exists = latest ? 1 : 0;
    if (version) *version = latest ? latest->version : 0;
    if (step) *step = latest ? latest->step : 0;
  });
}

int ckpt_restart(int64_t *version, int64_t *step) {
  return guarded("ckpt_restart", [&] {
    auto id = runtime("ckpt_restart").restart();
    if (version) *version = id.version;
    if (step) *step = id.step;
  });
}

int ckpt_restart_region_count(int id, size_t *count) {
  return guarded("ckpt_restart_region_count", [&] {
    if (!count) throw ArgumentError("ckpt_restart_region_count: count is NULL");
    Runtime &rt = runtime("ckpt_restart_region_count");
    auto elements = rt.restored_count(id);
    if (!elements)
      throw NoCheckpointError("ckpt_restart_region_count: region " + std::to_string(id) +
                              " is not in the checkpoint being restored (call ckpt_restart first)");
    *count = *elements;
  });
}

int ckpt_need_checkpoint(int *flag) {
  return guarded("ckpt_need_checkpoint", [&] {
    if (!flag) throw ArgumentError("ckpt_need_checkpoint: flag is NULL");
    *flag = runtime("ckpt_need_checkpoint").need_checkpoint() ? 1 : 0;
  });
}

int ckpt_site(int64_t step, int *taken) {
  return guarded("ckpt_site", [&] {
    const bool took = runtime("ckpt_site").site(step);
    if (taken) *taken = took ? 1 : 0;
  });
}

int ckpt_request_checkpoint(void) {
  return guarded("ckpt_request_checkpoint",
                 [&] { runtime("ckpt_request_checkpoint").request_checkpoint(); });
}

int ckpt_should_exit(int *flag) {
  return guarded("ckpt_should_exit", [&] {
    if (!flag) throw ArgumentError("ckpt_should_exit: flag is NULL");
    *flag = runtime("ckpt_should_exit").should_exit() ? 1 : 0;
  });
}

int ckpt_finalize(void) {
  return guarded("ckpt_finalize", [&] {
    Runtime &rt = runtime("ckpt_finalize");
    std::unique_ptr<Runtime> owned = std::move(g_runtime);
    g_finalized = true;
    rt.finalize();
  });
}

const char *ckpt_last_error(void) { return t_last_error.c_str(); }

const char *ckpt_status_name(int status) {
  switch (status) {
  case CKPT_SUCCESS: return "CKPT_SUCCESS";
  case CKPT_ERR_STATE: return "CKPT_ERR_STATE";
  case CKPT_ERR_ARGUMENT: return "CKPT_ERR_ARGUMENT";
  case CKPT_ERR_CONFIG: return "CKPT_ERR_CONFIG";
  case CKPT_ERR_IO: return "CKPT_ERR_IO";
  case CKPT_ERR_NO_SPACE: return "CKPT_ERR_NO_SPACE";
  case CKPT_ERR_MISMATCH: return "CKPT_ERR_MISMATCH";
  case CKPT_ERR_CORRUPT: return "CKPT_ERR_CORRUPT";
  case CKPT_ERR_NO_CHECKPOINT: return "CKPT_ERR_NO_CHECKPOINT";
  case CKPT_ERR_MPI: return "CKPT_ERR_MPI";
  case CKPT_ERR_HDF5: return "CKPT_ERR_HDF5";
  case CKPT_ERR_INTERNAL: return "CKPT_ERR_INTERNAL";
  default: return "CKPT_UNKNOWN_STATUS";
  }
}

} // extern "C"
