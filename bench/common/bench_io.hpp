// The I/O baselines of the benchmarks and page-cache control.
//
// Baselines are written the plain way a user would without libckpt, and are
// made durable the same way libckpt makes a checkpoint durable: the data
// file is fsync'ed before the operation counts as done.
#ifndef CKPT_BENCH_IO_HPP
#define CKPT_BENCH_IO_HPP

#include <hdf5.h>
#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ckpt::bench {

/// Throws std::runtime_error naming `call` when an HDF5 call failed (< 0).
void check_h5(herr_t rc, const char *call);

/// One HDF5 identifier, closed by the matching H5?close on destruction.
class H5Id {
public:
  using Closer = herr_t (*)(hid_t);
  H5Id() noexcept = default;
  /// Takes ownership; throws when id < 0 (the call `what` failed).
  H5Id(hid_t id, Closer closer, const char *what);
  ~H5Id();
  H5Id(H5Id &&other) noexcept;
  H5Id &operator=(H5Id &&other) noexcept;
  H5Id(const H5Id &) = delete;
  H5Id &operator=(const H5Id &) = delete;

  [[nodiscard]] hid_t get() const noexcept { return m_id; }
  /// Closes now and throws when closing fails (closing a file flushes it).
  void close();

private:
  hid_t m_id = H5I_INVALID_HID;
  Closer m_closer = nullptr;
};

/// Largest piece one rank passes to one H5Dwrite/H5Dread: larger transfers
/// are split into several collective calls (MPI counts are 32-bit ints).
constexpr std::uint64_t max_h5_piece = std::uint64_t(1) << 30;

/// Plain parallel HDF5: one shared file `path` holding one 1-D byte dataset
/// "data"; rank r writes its `local_bytes` as one contiguous slab after the
/// slabs of ranks < r, with collective transfers (H5Pset_fapl_mpio,
/// H5FD_MPIO_COLLECTIVE), no fill values (H5D_FILL_TIME_NEVER). The file is
/// closed, then fsync'ed by every rank; returns when all ranks are done.
/// Otherwise HDF5's defaults.
void h5_write_slabs(MPI_Comm comm, const std::string &path, const void *data,
                    std::uint64_t local_bytes);
/// Reads back what h5_write_slabs wrote (same slab decomposition).
void h5_read_slabs(MPI_Comm comm, const std::string &path, void *data, std::uint64_t local_bytes);

/// POSIX: write `bytes` to a new file `path` (truncated), fsync, close.
void posix_write_fsync(const std::string &path, const void *data, std::uint64_t bytes);
/// read(2) of `bytes` from the start of `path` into `data`, in one pass.
void posix_read(const std::string &path, void *data, std::uint64_t bytes);

/// fsync of a file or directory.
void fsync_path(const std::string &path);

/// Removes a file or directory tree (no error when missing).
void remove_tree(const std::string &path);

/// Regular files under `path` (or `path` itself when it is a file).
std::vector<std::string> files_under(const std::string &path);

/// How the page cache is prepared before a timed read.
enum class CacheMode {
  Warm,       ///< the files are read once, untimed, before the timed read
  Fadvise,    ///< fdatasync + posix_fadvise(DONTNEED) on every file read
  DropCaches, ///< sync; echo 3 > /proc/sys/vm/drop_caches (root only)
};
const char *to_string(CacheMode mode) noexcept;
/// "auto" (drop_caches when writable, else fadvise), "drop", "fadvise", "warm".
CacheMode parse_cache_mode(const std::string &text);
/// Can this process write /proc/sys/vm/drop_caches?
bool can_drop_caches();

/// Collective: prepares the page cache for reading the files under `paths`,
/// once per node (the lowest rank of each node does the work).
void prepare_cache(MPI_Comm comm, CacheMode mode, const std::vector<std::string> &paths);

/// Fraction (0..1) of the pages of the files under `paths` that are in the
/// page cache, by mincore(2); -1 when it cannot be measured.
double resident_fraction(const std::vector<std::string> &paths);

} // namespace ckpt::bench

#endif
