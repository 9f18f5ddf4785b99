// The C++ API: ckpt::Session owns its own runtime.
#include "error.hpp"
#include "region.hpp"
#include "runtime.hpp"

#include <ckpt/ckpt.hpp>

namespace ckpt {

using detail::Runtime;

namespace {
Runtime &live(const std::unique_ptr<Runtime> &rt, const char *call) {
  if (!rt)
    throw detail::StateError(std::string("ckpt::Session::") + call +
                             " called after finalize(): create a new Session");
  return *rt;
}
} // namespace

Session::Session(MPI_Comm comm, const std::string &config_file,
                 const std::map<std::string, std::string> &options) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized)
    throw detail::StateError("ckpt::Session created before MPI_Init: initialise MPI first");
  m_runtime = std::make_unique<Runtime>(comm, detail::Config::resolve(config_file, options));
}

Session::~Session() {
  if (!m_runtime) return;
  try {
    m_runtime->finalize();
  } catch (const std::exception &e) {
    detail::log_error(std::string("ckpt::Session destructor: ") + e.what());
  }
}

Session::Session(Session &&) noexcept = default;
Session &Session::operator=(Session &&other) noexcept {
  if (this != &other) {
    if (m_runtime) {
      try {
        m_runtime->finalize();
      } catch (...) {
      }
    }
    m_runtime = std::move(other.m_runtime);
  }
  return *this;
}

void Session::protect_bytes(int id, const std::string &name, void *data, std::size_t count,
                            std::size_t elem_size) {
  if (id < 0)
    throw detail::ArgumentError("protect: region id " + std::to_string(id) + " is negative");
  live(m_runtime, "protect").protect(id, name, data, count, elem_size, CKPT_BYTE);
}

void Session::protect_typed(int id, const std::string &name, void *data, std::size_t count,
                            ckpt_type type) {
  if (id < 0)
    throw detail::ArgumentError("protect: region id " + std::to_string(id) + " is negative");
  live(m_runtime, "protect").protect(id, name, data, count, detail::type_size(type), type);
}

void Session::protect_global_typed(int id, const std::string &name, void *data, ckpt_type type,
                                   const std::vector<std::size_t> &global_dims,
                                   const std::vector<std::size_t> &offset,
                                   const std::vector<std::size_t> &local_dims) {
  if (id < 0)
    throw detail::ArgumentError("protect_global: region id " + std::to_string(id) + " is negative");
  live(m_runtime, "protect_global")
      .protect_global(id, name, data, type,
                      std::vector<std::uint64_t>(global_dims.begin(), global_dims.end()),
                      std::vector<std::uint64_t>(offset.begin(), offset.end()),
                      std::vector<std::uint64_t>(local_dims.begin(), local_dims.end()));
}

void Session::unprotect(int id) { live(m_runtime, "unprotect").unprotect(id); }
void Session::set_tracking(int id, Tracking mode) {
  detail::TrackingMode m = detail::TrackingMode::Automatic;
  switch (mode) {
  case Tracking::automatic: m = detail::TrackingMode::Automatic; break;
  case Tracking::hash: m = detail::TrackingMode::Hash; break;
  case Tracking::pages: m = detail::TrackingMode::Pages; break;
  default:
    throw detail::ArgumentError("set_tracking: region " + std::to_string(id) +
                                ": unknown Tracking value " +
                                std::to_string(static_cast<int>(mode)));
  }
  live(m_runtime, "set_tracking").set_tracking(id, m);
}
CheckpointStats Session::checkpoint(std::int64_t step) {
  return live(m_runtime, "checkpoint").checkpoint(step);
}
std::optional<CheckpointId> Session::latest() { return live(m_runtime, "latest").latest(); }
void Session::wait_global(std::int64_t version) {
  live(m_runtime, "wait_global").wait_global(version);
}
CheckpointId Session::restart() { return live(m_runtime, "restart").restart(); }
std::optional<std::size_t> Session::restored_count(int id) const {
  return live(m_runtime, "restored_count").restored_count(id);
}
bool Session::need_checkpoint() { return live(m_runtime, "need_checkpoint").need_checkpoint(); }
bool Session::site(std::int64_t step) { return live(m_runtime, "site").site(step); }
void Session::request_checkpoint() { live(m_runtime, "request_checkpoint").request_checkpoint(); }
bool Session::should_exit() const { return live(m_runtime, "should_exit").should_exit(); }

void Session::finalize() {
  if (!m_runtime) return;
  std::unique_ptr<Runtime> rt = std::move(m_runtime);
  rt->finalize();
}

} // namespace ckpt
