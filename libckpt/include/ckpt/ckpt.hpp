// libckpt C++ API: a RAII session over the same runtime as the C API.
//
//   ckpt::Session session(MPI_COMM_WORLD, {{"dir", "run1.ckpt"}});
//   session.protect(0, "grid", grid.data(), grid.size());
//   session.protect(1, "step", &step, 1);
//   if (session.latest()) session.restart();
//   for (...) { compute(); if (due) session.checkpoint(step); }
//
// Errors are reported as ckpt::Error, whose status() is the C status code.
#ifndef CKPT_CKPT_HPP
#define CKPT_CKPT_HPP

#include <ckpt/ckpt.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace ckpt {

/// Every error libckpt reports; status() is the C API's code.
class Error : public std::runtime_error {
public:
  Error(ckpt_status status, const std::string &what) : std::runtime_error(what), m_status(status) {}
  [[nodiscard]] ckpt_status status() const noexcept { return m_status; }

private:
  ckpt_status m_status;
};

/// A committed checkpoint: the version number libckpt gave it and the step
/// label the application passed to checkpoint().
struct CheckpointId {
  std::int64_t version = 0;
  std::int64_t step = 0;
};

/// What one checkpoint wrote, summed over all ranks.
struct CheckpointStats {
  std::int64_t version = 0;
  std::int64_t step = 0;
  bool base = false;               ///< a full (base) checkpoint, not a delta
  std::int64_t base_version = 0;   ///< base of the chain this version belongs to
  std::uint64_t state_bytes = 0;   ///< bytes of all protected regions
  std::uint64_t written_bytes = 0; ///< payload bytes written (dirty blocks)
  std::uint64_t blocks = 0;        ///< blocks in all regions
  std::uint64_t dirty_blocks = 0;  ///< blocks written
  double seconds = 0.0;            ///< wall time from entry to commit
  /// Levels that hold the version when checkpoint() returns: CKPT_LEVEL_*
  /// bits (the global level may follow later, in the background).
  unsigned levels = 0;
};

/// Element type of a region, derived from the pointer type of protect().
template <class T> constexpr ckpt_type type_of() {
  using U = std::remove_cv_t<T>;
  if constexpr (std::is_same_v<U, double>)
    return CKPT_DOUBLE;
  else if constexpr (std::is_same_v<U, float>)
    return CKPT_FLOAT;
  else if constexpr (std::is_same_v<U, char>)
    return CKPT_CHAR;
  else if constexpr (std::is_integral_v<U> && sizeof(U) == 4)
    return std::is_signed_v<U> ? CKPT_INT32 : CKPT_UINT32;
  else if constexpr (std::is_integral_v<U> && sizeof(U) == 8)
    return std::is_signed_v<U> ? CKPT_INT64 : CKPT_UINT64;
  else
    return CKPT_BYTE;
}

/// How checkpoints find the changed blocks of a region (see ckpt_tracking).
enum class Tracking {
  automatic = CKPT_TRACKING_AUTO,
  hash = CKPT_TRACKING_HASH,
  pages = CKPT_TRACKING_PAGES
};

namespace detail {
class Runtime;
}

/// One libckpt session on a communicator. Not copyable; the destructor
/// finalizes (collective) unless finalize() was called.
class [[nodiscard]] Session {
public:
  /// Configuration: the optional INI file, then CKPT_<KEY> environment
  /// variables, then `options` (highest precedence), e.g. {{"dir", "ckpt"}}.
  explicit Session(MPI_Comm comm, const std::string &config_file = {},
                   const std::map<std::string, std::string> &options = {});
  Session(MPI_Comm comm, const std::map<std::string, std::string> &options)
      : Session(comm, std::string(), options) {}
  ~Session();
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;
  Session(Session &&) noexcept;
  Session &operator=(Session &&) noexcept;

  template <class T> void protect(int id, const std::string &name, T *data, std::size_t count) {
    if constexpr (type_of<T>() == CKPT_BYTE)
      protect_bytes(id, name, static_cast<void *>(data), count, sizeof(T));
    else
      protect_typed(id, name, static_cast<void *>(data), count, type_of<T>());
  }
  template <class T> void protect(int id, const std::string &name, std::vector<T> &v) {
    protect(id, name, v.data(), v.size());
  }
  void protect_bytes(int id, const std::string &name, void *data, std::size_t count,
                     std::size_t elem_size);
  void protect_typed(int id, const std::string &name, void *data, std::size_t count,
                     ckpt_type type);
  /// A piece of a global array (see ckpt_protect_global): `global_dims`,
  /// `offset` and `local_dims` have 1 to 3 entries each, row-major (slowest
  /// dimension first); `data` holds the product of `local_dims` elements.
  template <class T>
  void protect_global(int id, const std::string &name, T *data,
                      const std::vector<std::size_t> &global_dims,
                      const std::vector<std::size_t> &offset,
                      const std::vector<std::size_t> &local_dims) {
    static_assert(type_of<T>() != CKPT_BYTE, "a global region needs a typed element");
    protect_global_typed(id, name, static_cast<void *>(data), type_of<T>(), global_dims, offset,
                         local_dims);
  }
  void protect_global_typed(int id, const std::string &name, void *data, ckpt_type type,
                            const std::vector<std::size_t> &global_dims,
                            const std::vector<std::size_t> &offset,
                            const std::vector<std::size_t> &local_dims);
  void unprotect(int id);
  /// Tracking of protected region `id` from the next checkpoint on, overriding
  /// the config key dirty_tracking (kept across protect, dropped by unprotect).
  void set_tracking(int id, Tracking mode);

  /// Collective. Writes the dirty blocks of every protected region.
  CheckpointStats checkpoint(std::int64_t step);
  /// Collective. The newest committed checkpoint, if any (not yet verified).
  std::optional<CheckpointId> latest();
  /// Collective. Returns once checkpoint `version` (0: the newest) or a newer
  /// one is committed on the global level (the shared directory); throws the
  /// error of a failed background flush (see ckpt_wait_global).
  void wait_global(std::int64_t version = 0);
  /// Collective. Restores every protected region from the newest valid
  /// checkpoint, falling back past damaged ones.
  CheckpointId restart();
  /// Elements of region `id` of this rank in the checkpoint being restored.
  std::optional<std::size_t> restored_count(int id) const;
  /// Collective. True on every rank when a checkpoint signal reached any rank.
  bool need_checkpoint();
  /// A checkpoint site (see ckpt_site in ckpt.h): collective in blocking
  /// mode, local in nonblocking mode. True when this rank checkpointed here.
  bool site(std::int64_t step);
  /// Asks for a checkpoint from this rank alone.
  void request_checkpoint();
  /// True after a signal-requested checkpoint when the run should stop and
  /// exit with CKPT_EXIT_REQUEUE.
  bool should_exit() const;
  /// Collective. Idempotent.
  void finalize();

private:
  std::unique_ptr<detail::Runtime> m_runtime;
};

} // namespace ckpt

#endif // CKPT_CKPT_HPP
