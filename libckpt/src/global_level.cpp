#include "global_level.hpp"

#include "block_hasher.hpp"
#include "catalog.hpp"
#include "checkpoint_file.hpp"
#include "commit_record.hpp"
#include "debug_hooks.hpp"
#include "error.hpp"
#include "fs.hpp"
#include "global_storage.hpp"
#include "mpi_util.hpp"
#include "region.hpp"
#include "posix_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <ctime>
#include <fcntl.h>
#include <unistd.h>

namespace ckpt::detail {
namespace {

/// Bytes a checkpoint file of these extents occupies at most: the datasets,
/// the padding that aligns each dataset of 1 MiB or more on 1 MiB (see
/// checkpoint_file.cpp), and the metadata.
std::uint64_t estimated_file_bytes(const FileSizes &sizes) noexcept {
  constexpr std::uint64_t k_align = 1u << 20;
  std::uint64_t total = 64u << 10;
  for (std::uint64_t bytes :
       {sizes.data, 8 * sizes.hashes, 8 * sizes.stored, sizes.rows * sizeof(IndexRow)})
    total += bytes + (bytes >= k_align ? k_align : 0);
  return total;
}

/// Rank 0, before any file exists: a file system that cannot hold the
/// checkpoint is refused here, not in the middle of collective HDF5 calls
/// (HDF5 cannot close a file whose metadata it cannot write).
void check_free_space(const std::string &dir, const std::string &file, const FileSizes &sizes) {
  const std::uint64_t needed = estimated_file_bytes(sizes);
  const std::uint64_t free_bytes = available_bytes(dir);
  if (free_bytes < needed)
    throw IoError(CKPT_ERR_NO_SPACE,
                  "not enough room for " + file + " in " + dir + ": " + std::to_string(free_bytes) +
                      " bytes free, this checkpoint needs up to " + std::to_string(needed));
}

/// MPI-IO does not always pass errno up through HDF5: a write that failed on
/// a file system with less room than the checkpoint needs is ENOSPC.
std::exception_ptr classify_write_error(std::exception_ptr error, const FileSizes &sizes,
                                        const std::string &dir) noexcept {
  try {
    std::rethrow_exception(error);
  } catch (const Error &e) {
    if (e.status() == CKPT_ERR_NO_SPACE) return error;
    try {
      const std::uint64_t needed = estimated_file_bytes(sizes);
      const std::uint64_t free_bytes = available_bytes(dir);
      if (free_bytes < needed)
        return std::make_exception_ptr(
            IoError(CKPT_ERR_NO_SPACE, std::string(e.what()) + "; the file system of " + dir +
                                           " is full (" + std::to_string(free_bytes) +
                                           " bytes free, this checkpoint needs about " +
                                           std::to_string(needed) + ")"));
    } catch (...) {
    }
  } catch (...) {
  }
  return error;
}

/// Where each rank's rows go: offsets from the ranks before it (prefix
/// sums, MPI_Exscan), the extents of the datasets, and every row on rank 0
/// (the only writer of /index).
struct SharedLayout {
  std::vector<IndexRow> mine; // with their offsets in the file
  std::vector<IndexRow> all;  // rank 0 only
  FileSizes sizes;
};

SharedLayout lay_out(MPI_Comm comm, int rank, std::vector<IndexRow> mine,
                     const std::vector<PieceRow> &pieces) {
  SharedLayout out;
  // Rows of global regions go to their block stores (every rank has a row of
  // each, so the stores are the same list everywhere).
  const FileSizes local = assign_offsets(mine, pieces);
  const std::size_t n = 4 + local.stores.size();
  std::vector<std::uint64_t> here = {local.rows, local.hashes, local.stored, local.data};
  for (const BlockStore &st : local.stores)
    here.push_back(st.bytes);
  std::vector<std::uint64_t> before(n, 0), total(n, 0);
  check_mpi(
      MPI_Exscan(here.data(), before.data(), static_cast<int>(n), MPI_UINT64_T, MPI_SUM, comm),
      "MPI_Exscan");
  if (rank == 0) std::fill(before.begin(), before.end(), 0); // MPI_Exscan leaves rank 0's undefined
  check_mpi(
      MPI_Allreduce(here.data(), total.data(), static_cast<int>(n), MPI_UINT64_T, MPI_SUM, comm),
      "MPI_Allreduce");
  for (IndexRow &row : mine) {
    row.hash_offset += before[1];
    row.stored_offset += before[2];
    std::size_t slot = 3;
    for (std::size_t k = 0; k < local.stores.size(); ++k)
      if (is_global_row(pieces, row) && local.stores[k].region_id == row.region_id) slot = 4 + k;
    row.data_offset += before[slot];
  }
  out.sizes = FileSizes{total[0], total[1], total[2], total[3], local.stores};
  for (std::size_t k = 0; k < local.stores.size(); ++k)
    out.sizes.stores[k].bytes = total[4 + k];
  for (const std::string &rows :
       gather_at_root(comm, mine.data(), mine.size() * sizeof(IndexRow))) {
    const std::size_t first = out.all.size();
    out.all.resize(first + rows.size() / sizeof(IndexRow));
    if (!rows.empty()) std::memcpy(out.all.data() + first, rows.data(), rows.size());
  }
  out.mine = std::move(mine);
  return out;
}

/// This rank's blocks to their places in the file (POSIX: no HDF5, no MPI),
/// synced: the sources are the rank's stored bytes in row order; each row's
/// go to its position (/data, or a global region's block store), rows that
/// follow each other in the file in one request.
void write_blocks(const GlobalVersion &v, const GlobalFile &f, bool durable) {
  const std::uint64_t bs = v.header.block_size;
  std::vector<struct iovec> stream;
  for (const GlobalVersion::Source &s : v.sources)
    for (const BlockRun &run : block_runs(s.blocks)) {
      const std::uint64_t at = run.first * bs;
      stream.push_back(iovec{s.memory + at, std::min(s.bytes - at, run.count * bs)});
    }
  if (stream.empty()) return;
  // Never through a link; the file is the one this job created.
  const int fd = ::open(f.path.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) throw_errno(errno, "cannot open " + f.path + " to write its data");
  try {
    std::vector<struct iovec> batch;
    std::uint64_t batch_at = 0, batch_end = 0;
    std::size_t k = 0;
    std::uint64_t used = 0; // bytes of stream[k] already taken
    for (std::size_t i = 0; i < v.rows.size(); ++i) {
      const std::uint64_t at = f.row_positions.at(i);
      if (!batch.empty() && at != batch_end) {
        write_all(fd, std::move(batch), batch_at, f.path);
        batch.clear();
      }
      if (batch.empty()) batch_at = batch_end = at;
      for (std::uint64_t left = v.rows[i].data_bytes; left > 0 && k < stream.size();) {
        const std::uint64_t n = std::min<std::uint64_t>(left, stream[k].iov_len - used);
        batch.push_back(iovec{static_cast<unsigned char *>(stream[k].iov_base) + used, n});
        left -= n;
        used += n;
        batch_end += n;
        if (used == stream[k].iov_len) {
          ++k;
          used = 0;
        }
      }
    }
    if (!batch.empty()) write_all(fd, std::move(batch), batch_at, f.path);
    if (durable && ::fdatasync(fd) != 0) throw_errno(errno, "cannot sync " + f.path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0) throw_errno(errno, "cannot close " + f.path);
}

} // namespace

GlobalVersion global_version_of(const VersionPlan &plan, std::int32_t rank,
                                const FileHeader &header, std::uint64_t block_size) {
  GlobalVersion v;
  v.header = header;
  v.chain = plan.chain;
  v.rows = index_rows(rank, plan, block_size);
  v.totals = plan.totals;
  for (std::size_t i = 0; i < plan.regions.size(); ++i) {
    const RegionSelection &s = plan.regions[i];
    v.hashes.insert(v.hashes.end(), s.hashes.begin(), s.hashes.end());
    v.stored.insert(v.stored.end(), plan.stored[i].begin(), plan.stored[i].end());
    v.sources.push_back(GlobalVersion::Source{static_cast<unsigned char *>(s.region->data),
                                              s.region->bytes(), plan.stored[i]});
  }
  return v;
}

GlobalFile create_global_file(MPI_Comm comm, const GlobalVersion &v, const GlobalTarget &t) {
  const int rank = comm_rank(comm);
  GlobalFile f;
  f.t0 = MPI_Wtime();
  f.file_name = data_file_name(t.prefix, v.header.version);
  f.path = join_path(t.dir, f.file_name);
  // 1. Lay out: offsets from the ranks before, every row on rank 0.
  const SharedLayout layout = lay_out(comm, rank, v.rows, v.pieces);
  f.sizes = layout.sizes;
  const IndexRow *first = layout.mine.empty() ? nullptr : &layout.mine.front();
  f.data_offset = first ? first->data_offset : 0;
  CheckpointFile file;
  try {
    // 2. Room and file: refused before any collective HDF5 call when the
    //    file system cannot hold it; the whole file is reserved up front.
    agree(comm, capture([&] {
            debug_fail_point("checkpoint_space", rank);
            if (rank == 0) check_free_space(t.dir, f.path, f.sizes);
          }));
    agree(comm, capture([&] { file = CheckpointFile::create(f.path, comm, v.header, f.sizes); }));
    int reserved = 1;
    agree(comm, capture([&] {
            debug_fail_point("checkpoint_reserve", rank);
            if (rank == 0) reserved = reserve_file_space(f.path, file.allocated_bytes()) ? 1 : 0;
          }));
    check_mpi(MPI_Bcast(&reserved, 1, MPI_INT, 0, comm), "MPI_Bcast");
    // 3. The tables (collective; every rank goes through every call even
    //    after a local failure, and the outcome is agreed), then close.
    std::exception_ptr error;
    auto keep_first = [&](const std::exception_ptr &e) {
      if (e && !error) error = e;
    };
    keep_first(capture([&] { file.write_index(layout.all, rank == 0); }));
    keep_first(capture([&] { file.write_pieces(v.pieces, rank == 0); }));
    keep_first(
        capture([&] { file.write_u64("hashes", first ? first->hash_offset : 0, v.hashes); }));
    keep_first(capture(
        [&] { file.write_u64("stored_blocks", first ? first->stored_offset : 0, v.stored); }));
    keep_first(capture([&] {
      f.data_address = file.data_address();
      std::map<int, std::uint64_t> stores;
      for (const BlockStore &st : f.sizes.stores)
        stores[st.region_id] =
            file.store_extent(st.name, type_size(static_cast<ckpt_type>(st.type))).first;
      for (const IndexRow &row : layout.mine)
        f.row_positions.push_back(
            (is_global_row(v.pieces, row) ? stores.at(row.region_id) : f.data_address) +
            row.data_offset);
    }));
    // Rank 0 shows the global regions by name (the views need every rank's
    // stored blocks and the metadata of the chain's older files).
    std::vector<std::uint64_t> all_stored;
    if (!v.pieces.empty())
      keep_first(capture([&] { all_stored = gather_u64_at_root(comm, v.stored); }));
    if (allreduce_max(comm, static_cast<std::uint64_t>(error ? 1 : 0)) == 0)
      keep_first(capture([&] {
        file.close();
        debug_fail_point("checkpoint_close", rank);
      }));
    if (!error && rank == 0 && !v.pieces.empty())
      keep_first(capture([&] {
        add_region_views(
            f.path, view_chain_files(t.dir, t.prefix, v.chain, layout.all, all_stored, v.pieces),
            v.header.block_size);
      }));
    if (error) error = classify_write_error(error, f.sizes, t.dir);
    agree(comm, error);
  } catch (const Error &) {
    file.abandon(comm, rank == 0);
    if (rank == 0) {
      try {
        remove_file(f.path);
      } catch (const std::exception &) {
      }
    }
    throw;
  }
  return f;
}

std::uint64_t finish_global_version(MPI_Comm comm, const GlobalVersion &v, const GlobalFile &f,
                                    const GlobalTarget &t) {
  const int rank = comm_rank(comm);
  const std::int64_t version = v.header.version;
  std::uint64_t file_bytes = 0;
  try {
    // 4. Data: each rank its own bytes, POSIX, synced; then agreed.
    debug_kill_point("before_data", version, rank);
    std::exception_ptr error = capture([&] {
      write_blocks(v, f, t.fsync);
      if (rank == 0 && t.fsync) fsync_file(f.path); // the tables and the file's size
      drop_cached_pages(f.path);
      debug_fail_point("checkpoint_write", rank);
    });
    debug_kill_point("after_data", version, rank);
    if (error) error = classify_write_error(error, f.sizes, t.dir);
    agree(comm, error);
    debug_kill_point("before_commit", version, rank);
    // 5. Commit: rank 0 writes the record last, atomically.
    agree(comm, capture([&] {
            debug_fail_point("checkpoint_commit", rank);
            if (rank != 0) return;
            CommitRecord rec;
            rec.version = version;
            rec.step = v.header.step;
            rec.base = v.header.base;
            rec.chain = v.chain;
            rec.nranks = v.header.nranks;
            rec.block_size = v.header.block_size;
            rec.file = f.file_name;
            rec.file_bytes = file_bytes = ckpt::detail::file_size(f.path);
            rec.state_bytes = v.totals.state_bytes;
            rec.written_bytes = v.totals.changed_bytes;
            rec.blocks = v.totals.blocks;
            rec.dirty_blocks = v.totals.changed_blocks;
            rec.seconds = MPI_Wtime() - f.t0;
            rec.time_unix = static_cast<std::int64_t>(std::time(nullptr));
            write_file_atomic(join_path(t.dir, commit_file_name(t.prefix, version)),
                              rec.serialize(), t.fsync);
          }));
  } catch (const Error &) {
    if (rank == 0) {
      try {
        // Truncated first: a full file system gets its space back.
        const int fd = ::open(f.path.c_str(), O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0) {
          if (::ftruncate(fd, 0) != 0) {
          }
          ::close(fd);
        }
        remove_file(f.path);
      } catch (const std::exception &) {
      }
    }
    throw;
  }
  debug_kill_point("after_commit", version, rank);
  return file_bytes;
}

std::uint64_t write_global_version(MPI_Comm comm, const GlobalVersion &v, const GlobalTarget &t) {
  return finish_global_version(comm, v, create_global_file(comm, v, t), t);
}

} // namespace ckpt::detail
