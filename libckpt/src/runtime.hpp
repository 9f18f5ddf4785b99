// The libckpt runtime behind the C and C++ APIs: one per initialised session.
#ifndef CKPT_DETAIL_RUNTIME_HPP
#define CKPT_DETAIL_RUNTIME_HPP

#include "checkpoint_layout.hpp"
#include "config.hpp"
#include "dirty_tracking.hpp"
#include "fs.hpp"
#include "mpi_util.hpp"
#include "region.hpp"

#include <ckpt/ckpt.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ckpt::detail {

class Catalog;
struct RankChain;
struct ViewFile;
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

  CheckpointStats checkpoint(std::int64_t step);
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
  /// Collective. True when the checkpoint signal reached any rank.
  bool need_checkpoint();
  [[nodiscard]] bool should_exit() const noexcept { return m_should_exit; }
  /// Collective. Releases the restart source and the communicator.
  void finalize();

  [[nodiscard]] const Config &config() const noexcept { return m_config; }
  [[nodiscard]] MPI_Comm comm() const noexcept { return m_comm.get(); }
  [[nodiscard]] int rank() const noexcept { return m_rank; }
  [[nodiscard]] int size() const noexcept { return m_size; }

private:
  void end_restart() noexcept;
  void append_stats_line(const CheckpointStats &stats) noexcept;
  void restore_late(Region &region);
  // The phases of restart() (runtime_restart.cpp); `catalog` on rank 0 only.
  std::unique_ptr<RestartSource> open_restart_source(const Catalog *catalog, std::int64_t version,
                                                     RestartTimes &times);
  void restore_protected(RestartSource &src, RestartTimes &times);
  [[nodiscard]] RestoreOptions restore_options() const;
  CheckpointId finish_restart(std::unique_ptr<RestartSource> src, const RestartTimes &times,
                              double seconds);
  std::vector<Region *> regions_in_order();
  // Global regions (runtime_global.cpp).
  /// Collective: every rank's pieces, checked to tile each global array
  /// (the same outcome on every rank); `call` names the API call.
  std::vector<PieceRow> agreed_pieces(const std::string &call);
  void check_global_layout(const RankChain &chain, const Region &region) const;
  /// Rank 0: the files of `chain` (this version last, described by `rows`,
  /// `stored` and `pieces`) as the region views of this version need them.
  std::vector<ViewFile> view_chain(const std::vector<std::int64_t> &chain,
                                   const std::vector<IndexRow> &rows,
                                   const std::vector<std::uint64_t> &stored,
                                   const std::vector<PieceRow> &pieces) const;
  /// Restores `regions`' pieces that `chain` redistributes (chain.sources).
  RestoreReport restore_pieces(const RankChain &chain, const std::vector<Region *> &regions);

  Config m_config;
  Comm m_comm;
  int m_rank = 0;
  int m_size = 1;
  std::string m_dir;
  RegionRegistry m_regions;
  DirtyTracking m_tracking; // hash or page tracking, per region
  // Dirty tracking: the committed version the next delta refers to.
  std::optional<std::int64_t> m_parent;
  std::vector<std::int64_t> m_chain; // chain of m_parent, base first
  std::uint64_t m_chain_bytes = 0;   // payload bytes of the deltas of m_chain
  std::int64_t m_next_version = 1;
  std::string m_topology;
  bool m_signal_requested = false;
  bool m_should_exit = false;
  std::unique_ptr<RestartSource> m_restart;
  // Session-wide state of the directory (decided by rank 0, known by all).
  DirectoryLock m_lock;           // rank 0: held until finalize()
  std::string m_read_only_why;    // empty: checkpoints can be written
  bool m_had_checkpoints = false; // a committed version existed at start
};

} // namespace ckpt::detail

#endif
