// The libckpt runtime behind the C and C++ APIs: one per initialised session.
#ifndef CKPT_DETAIL_RUNTIME_HPP
#define CKPT_DETAIL_RUNTIME_HPP

#include "background_flush.hpp"
#include "checkpoint_layout.hpp"
#include "checkpoint_plan.hpp"
#include "config.hpp"
#include "dirty_tracking.hpp"
#include "fs.hpp"
#include "mpi_util.hpp"
#include "region.hpp"

#include <ckpt/ckpt.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ckpt::detail {

class Catalog;
class NonblockingProtocol;
class LocalLevel;
struct GlobalVersion;
struct RankChain;
struct RestartCandidate;
struct RestoreReport;
struct RestartSource;
struct RestartTimes;
struct RestoreOptions;

class Runtime {
public:
  /// Collective over comm. Validates the configuration and the directory,
  /// and takes the directory's lock (rank 0) for the life of the session.
  /// A directory that exists but cannot be written (permissions, read-only
  /// file system) gives a read-only session: restart works, checkpoint()
  /// fails with CKPT_ERR_IO naming the directory.
  Runtime(MPI_Comm comm, Config config);
  ~Runtime();
  Runtime(const Runtime &) = delete;
  Runtime &operator=(const Runtime &) = delete;

  /// Regions with id >= 0 belong to the application; negative ids are
  /// reserved for runtime components (see participant.hpp).
  void protect(int id, const std::string &name, void *data, std::size_t count,
               std::size_t elem_size, ckpt_type type);
  /// A piece of a global array (ckpt_protect_global); the three vectors
  /// have the same length, 1 to 3. Checked here on its own, collectively
  /// (tiling) at every checkpoint and restart.
  void protect_global(int id, const std::string &name, void *data, ckpt_type type,
                      const std::vector<std::uint64_t> &global_dims,
                      const std::vector<std::uint64_t> &offset,
                      const std::vector<std::uint64_t> &local_dims);
  void unprotect(int id);
  /// How checkpoints find the changed blocks of region `id` (protected,
  /// id >= 0), overriding the config key dirty_tracking for it.
  void set_tracking(int id, TrackingMode mode);

  /// Collective (runtime_checkpoint.cpp).
  CheckpointStats checkpoint(std::int64_t step);
  /// Collective: returns once version `version` (0: the newest checkpoint)
  /// or a newer one is committed on the global level, writing the newest
  /// checkpoint there now if no flush holds it; throws the error of a
  /// failed flush, naming version and level.
  void wait_global(std::int64_t version);
  std::optional<CheckpointId> latest();
  CheckpointId restart();
  /// After restart(): size in bytes of region `id` of this rank in the
  /// restored checkpoint, if it holds one.
  std::optional<std::size_t> restored_bytes(int id) const;
  /// The same in elements of the stored element size.
  std::optional<std::size_t> restored_count(int id) const;
  /// The application region (id >= 0) holding all of [data, data + bytes),
  /// as (region id, offset), if any: how runtime components record a buffer
  /// so that a restarted process finds it again.
  [[nodiscard]] std::optional<std::pair<int, std::size_t>> locate(const void *data,
                                                                  std::size_t bytes);
  /// The address of [offset, offset + bytes) of protected region `id` in
  /// this process; null when the region is not protected or is too small.
  [[nodiscard]] void *region_address(int id, std::size_t offset, std::size_t bytes);
  /// Collective (protocol = blocking). True when a checkpoint was requested
  /// on any rank (signal, request_checkpoint(), rank 0's timer).
  bool need_checkpoint();
  /// A checkpoint site (checkpoint_site.cpp). protocol = blocking:
  /// collective, need_checkpoint() then checkpoint(). protocol = nonblocking:
  /// local, takes this rank's local checkpoint when one is due. True when
  /// this rank checkpointed here.
  bool site(std::int64_t step);
  /// Asks for a checkpoint from this rank alone (taken at the next sites).
  void request_checkpoint() noexcept;

  // For NonblockingProtocol (checkpoint_site.cpp).
  [[nodiscard]] std::int64_t next_version() const noexcept { return m_next_version; }
  /// Version `used` is taken: the next one is after it.
  void advance_version(std::int64_t used) noexcept;
  /// Rank 0 committed `version` as a base from every rank's local files: the
  /// next blocking checkpoint cannot be a delta of it (no block hashes here).
  void note_external_commit(std::int64_t version) noexcept;
  void note_signal_request() noexcept { m_signal_requested = true; }
  std::map<int, Region> &protected_regions() noexcept { return m_regions.all(); }
  /// The effective configuration as written into a checkpoint file's header.
  [[nodiscard]] std::string header_config() const;
  /// Rank 0: hwloc summary of its node (computed once).
  const std::string &topology();
  [[nodiscard]] bool should_exit() const noexcept { return m_should_exit; }
  /// Collective. Releases the restart source and the communicator.
  void finalize();

  [[nodiscard]] const Config &config() const noexcept { return m_config; }
  [[nodiscard]] MPI_Comm comm() const noexcept { return m_comm.get(); }
  [[nodiscard]] int rank() const noexcept { return m_rank; }
  [[nodiscard]] int size() const noexcept { return m_size; }

private:
  void start_requests();
  /// Consumes this rank's request (API call, rank 0's timer) in blocking mode.
  bool local_request_due() noexcept;
  // The phases of checkpoint() (runtime_checkpoint.cpp).
  void check_can_checkpoint() const;
  VersionPlan plan_version(std::int64_t version, std::int64_t step);
  void choose_levels();
  void commit_global_now(const VersionPlan &plan);
  void commit_local(const VersionPlan &plan);
  bool schedule_flush(const VersionPlan &plan, bool force);
  void start_flush(std::int64_t version, const std::shared_ptr<GlobalVersion> &global,
                   bool partner_copy, const std::vector<std::int64_t> &retain);
  void choose_partners();
  void collect_flush(bool wait);
  void note_flush_failure(std::int64_t version, const std::exception_ptr &error);
  void flush_newest_from_local();
  void retain_local(const std::vector<std::int64_t> &chain) noexcept;
  void report(const CheckpointStats &stats, double local_seconds) noexcept;
  [[nodiscard]] FileHeader file_header(const VersionPlan &plan);

  void end_restart() noexcept;
  void append_stats_line(const CheckpointStats &stats) noexcept;
  void restore_late(Region &region);
  // The phases of restart() (runtime_restart.cpp); `catalog` on rank 0 only.
  std::vector<RestartCandidate> restart_candidates(std::optional<Catalog> &catalog);
  std::unique_ptr<RestartSource> open_restart_source(const Catalog *catalog, std::int64_t version,
                                                     const std::vector<PieceRow> &pieces,
                                                     RestartTimes &times);
  std::unique_ptr<RestartSource> open_local_source(std::int64_t version);
  void rebuild_from_partners(std::int64_t version, const std::vector<std::int64_t> &holders);
  void restore_protected(RestartSource &src, RestartTimes &times, bool local);
  [[nodiscard]] RestoreOptions restore_options() const;
  CheckpointId finish_restart(std::unique_ptr<RestartSource> src, const RestartTimes &times,
                              double seconds, std::int64_t level);
  std::vector<Region *> regions_in_order();
  // Global regions (runtime_global.cpp).
  /// Collective: every rank's pieces, checked to tile each global array
  /// (the same outcome on every rank); `call` names the API call.
  std::vector<PieceRow> agreed_pieces(const std::string &call);
  void check_global_layout(const RankChain &chain, const Region &region) const;
  /// Collective: whether the local and partner levels may serve this job:
  /// always without global regions; with them, when `pieces` (the job's)
  /// are those of the newest committed global file (the local level records
  /// no decomposition), or when there is none. `catalog` on rank 0.
  bool local_levels_fit(const Catalog *catalog, const std::vector<PieceRow> &pieces);
  /// Restores `regions`' pieces that `chain` redistributes (chain.sources).
  RestoreReport restore_pieces(const RankChain &chain, const std::vector<Region *> &regions);

  Config m_config;
  Comm m_comm;
  int m_rank = 0;
  int m_size = 1;
  std::string m_dir;
  RegionRegistry m_regions;
  DirtyTracking m_tracking;       // hash or page tracking, per region
  std::vector<PieceRow> m_pieces; // every rank's pieces, agreed at the last checkpoint or restart
  // Dirty tracking: the chain the next delta extends (the local level's
  // with a local level, the global level's otherwise), and the global
  // level's when it lags behind (flush_every > 1, a failed flush).
  ChainState m_chain;
  ChainState m_global_chain;
  bool m_chain_is_local = false; // m_chain was restored from the local level
  /// Per region id: blocks changed since the last version given to the
  /// global level (what its next delta must hold).
  std::map<int, std::vector<bool>> m_global_dirty;
  std::int64_t m_next_version = 1;
  // Levels (decided at the first checkpoint, alike on every rank).
  bool m_levels_chosen = false;
  std::string m_local_dir;             // resolved local_dir; empty: none
  std::int64_t m_local_newest = 0;     // newest version on this rank's local level at start
  std::unique_ptr<LocalLevel> m_local; // null: global level only, synchronous
  Comm m_flush_comm;                   // the background flush's own traffic
  bool m_flush_in_background = false;  // MPI_THREAD_MULTIPLE provided
  BackgroundFlush m_flush;
  bool m_flush_has_global = false;     // the job of m_flush writes a global version
  std::vector<std::int32_t> m_partner; // keeper of each rank's copy (-1: no partner level)
  std::vector<int> m_kept_for;         // ranks whose copies this rank keeps
  int m_since_flush = 0;               // checkpoints since the last flush
  std::int64_t m_newest = 0;           // newest committed version (any level)
  std::int64_t m_newest_flushed = 0;   // newest version given to a flush
  std::int64_t m_global_committed = 0; // newest version committed globally
  struct FlushFailure {
    ckpt_status status = CKPT_ERR_IO;
    std::string what;
  };
  std::map<std::int64_t, FlushFailure> m_flush_failures; // by version
  std::string m_topology;
  bool m_signal_requested = false;
  bool m_should_exit = false;
  std::unique_ptr<RestartSource> m_restart;
  // Session-wide state of the directory (decided by rank 0, known by all).
  DirectoryLock m_lock;           // rank 0: held until finalize()
  std::string m_read_only_why;    // empty: checkpoints can be written
  bool m_had_checkpoints = false; // a committed version existed at start
  // Checkpoint requests (protocol = blocking; the nonblocking protocol has its own).
  bool m_local_request = false;
  double m_next_timer = 0; // rank 0: when checkpoint_interval requests next (0: off)
  std::unique_ptr<NonblockingProtocol> m_nonblocking; // protocol = nonblocking
};

} // namespace ckpt::detail

#endif
