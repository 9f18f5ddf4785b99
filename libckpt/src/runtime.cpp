#include "runtime.hpp"

#include "block_hasher.hpp"
#include "catalog.hpp"
#include "checkpoint_file.hpp"
#include "error.hpp"
#include "fs.hpp"
#include "global_storage.hpp"
#include "log.hpp"
#include "debug_hooks.hpp"
#include "participant.hpp"
#include "restart_source.hpp"
#include "runtime_scope.hpp"
#include "signals.hpp"
#include "topology.hpp"
#include "transfer_plan.hpp"

#include <algorithm>
#include <cinttypes>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <numeric>
#include <set>
#include <sstream>
#include <unistd.h>

#ifndef CKPT_VERSION_STRING
#define CKPT_VERSION_STRING "unknown"
#endif

namespace ckpt::detail {

std::vector<CheckpointParticipant *> &participants() {
  static std::vector<CheckpointParticipant *> list;
  return list;
}

void register_participant(CheckpointParticipant *participant) {
  participants().push_back(participant);
}
void unregister_participant(CheckpointParticipant *participant) {
  auto &list = participants();
  list.erase(std::remove(list.begin(), list.end(), participant), list.end());
}

namespace {

/// MPI-IO does not always pass errno up through HDF5: a write that failed on
/// a file system with less room than the checkpoint needs is ENOSPC.
/// Bytes a checkpoint file of these extents occupies at most: the datasets,
/// the padding that aligns each dataset of 1 MiB or more on 1 MiB (see
/// checkpoint_file.cpp), and the metadata.
std::uint64_t estimated_file_bytes(const CheckpointFile::Sizes &sizes) noexcept {
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
void check_free_space(const std::string &dir, const std::string &file,
                      const CheckpointFile::Sizes &sizes) {
  const std::uint64_t needed = estimated_file_bytes(sizes);
  const std::uint64_t free_bytes = available_bytes(dir);
  if (free_bytes < needed)
    throw IoError(CKPT_ERR_NO_SPACE,
                  "not enough room for " + file + " in " + dir + ": " + std::to_string(free_bytes) +
                      " bytes free, this checkpoint needs up to " + std::to_string(needed));
}

std::exception_ptr classify_write_error(std::exception_ptr error,
                                        const CheckpointFile::Sizes &sizes,
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

} // namespace

// ---------------------------------------------------------------------------

Runtime::Runtime(MPI_Comm comm, Config config) : m_config(std::move(config)) {
  RuntimeScope scope;
  if (comm == MPI_COMM_NULL) throw ArgumentError("ckpt_init: the communicator is MPI_COMM_NULL");
  m_comm = Comm::duplicate(comm);
  m_rank = comm_rank(m_comm.get());
  m_size = comm_size(m_comm.get());
  set_log_rank(m_rank);
  set_log_level(m_config.log_level());
  m_tracking.configure(tracking_mode_from_name(m_config.dirty_tracking()), m_rank == 0);
  m_dir = m_config.dir();
  std::uint64_t next = 1;
  int had_checkpoints = 0;
  agree(m_comm.get(), capture([&] {
          if (m_rank != 0) return;
          make_directories(m_dir);
          static bool warned_shared = false; // once per process
          const std::string shared = shared_directory_warning(m_dir);
          if (!shared.empty() && !warned_shared) {
            warned_shared = true;
            log_warn(shared);
          }
          if (directory_is_writable(m_dir, m_read_only_why)) {
            m_read_only_why.clear();
            m_lock = DirectoryLock::acquire(m_dir, m_config.prefix(), "libckpt job");
            if (!m_lock.unsupported().empty()) log_warn(m_lock.unsupported());
          } else {
            log_warn("checkpoint directory " + m_dir + " is not writable (" + m_read_only_why +
                     "): this session can restart from it but not write checkpoints");
          }
          const Catalog catalog = Catalog::scan(m_dir, m_config.prefix());
          for (const IgnoredName &n : catalog.ignored())
            log_debug("ignoring " + join_path(m_dir, n.name) + ": " + n.reason);
          next = static_cast<std::uint64_t>(catalog.max_version()) + 1;
          had_checkpoints = catalog.newest_committed() ? 1 : 0;
        }));
  check_mpi(MPI_Bcast(&next, 1, MPI_UINT64_T, 0, m_comm.get()), "MPI_Bcast");
  check_mpi(MPI_Bcast(&had_checkpoints, 1, MPI_INT, 0, m_comm.get()), "MPI_Bcast");
  broadcast(m_comm.get(), m_read_only_why, 0);
  m_next_version = static_cast<std::int64_t>(next);
  m_had_checkpoints = had_checkpoints != 0;
  SignalWatch::instance().install(m_config.signal_number());
}

Runtime::~Runtime() {
  // finalize() is the collective, error-reporting path; here only local cleanup.
  SignalWatch::instance().install(0);
}

std::vector<Region *> Runtime::regions_in_order() {
  std::vector<Region *> out;
  for (auto &[id, r] : m_regions.all())
    out.push_back(&r);
  return out;
}

void Runtime::protect(int id, const std::string &name, void *data, std::size_t count,
                      std::size_t elem_size, ckpt_type type) {
  Region &r = m_regions.protect(id, name, data, count, elem_size, type);
  // Restored once: protecting again (e.g. after a buffer swap) only moves the pointer.
  if (m_restart && m_restart->chain.regions.count(id) && m_restart->restored.insert(id).second)
    restore_late(r);
}

void Runtime::unprotect(int id) {
  if (!m_regions.unprotect(id))
    throw ArgumentError("ckpt_unprotect: region " + std::to_string(id) + " is not protected");
  m_tracking.forget(id);
}

std::optional<std::pair<int, std::size_t>> Runtime::locate(const void *data, std::size_t bytes) {
  const auto p = reinterpret_cast<std::uintptr_t>(data);
  for (auto &[id, r] : m_regions.all()) {
    if (id < 0 || !r.data) continue;
    const auto first = reinterpret_cast<std::uintptr_t>(r.data);
    if (p >= first && p - first <= r.bytes() && bytes <= r.bytes() - (p - first))
      return std::make_pair(id, static_cast<std::size_t>(p - first));
  }
  return std::nullopt;
}

void *Runtime::region_address(int id, std::size_t offset, std::size_t bytes) {
  Region *r = id >= 0 ? m_regions.find(id) : nullptr;
  if (!r || offset > r->bytes() || bytes > r->bytes() - offset) return nullptr;
  return static_cast<unsigned char *>(r->data) + offset;
}

void Runtime::set_tracking(int id, TrackingMode mode) {
  if (id < 0 || !m_regions.find(id))
    throw ArgumentError("ckpt_set_tracking: region " + std::to_string(id) + " is not protected");
  m_tracking.set_mode(id, mode);
}

CheckpointStats Runtime::checkpoint(std::int64_t step) {
  RuntimeScope scope;
  // Known alike on every rank: every rank refuses before any collective.
  if (!m_read_only_why.empty())
    throw IoError(CKPT_ERR_IO, "ckpt_checkpoint: checkpoint directory " + m_dir +
                                   " is not writable (" + m_read_only_why +
                                   "): this session can only restart");
  if (m_next_version > k_max_version)
    throw IoError(CKPT_ERR_IO, "ckpt_checkpoint: checkpoint directory " + m_dir +
                                   " already holds version " + std::to_string(k_max_version) +
                                   ", the largest version number; move its checkpoints away");
  const MPI_Comm comm = m_comm.get();
  const double t0 = MPI_Wtime();
  end_restart();
  for_participants(comm, [&](CheckpointParticipant &p) { p.before_checkpoint(*this); });

  const std::int64_t version = m_next_version++;
  // A chain also ends at k_max_chain_length versions, whatever base_every says.
  bool base = !m_parent || static_cast<int>(m_chain.size()) >= m_config.base_every() ||
              m_chain.size() >= k_max_chain_length;
  std::vector<std::int64_t> chain = base ? std::vector<std::int64_t>{} : m_chain;
  chain.push_back(version);
  const std::uint64_t bs = m_config.block_size();

  // 1. Hash every block (rehash only the blocks whose pages were written, for
  //    regions tracked by pages); choose what to store.
  const std::vector<Region *> regions = regions_in_order();
  std::vector<std::vector<std::uint64_t>> hashes(regions.size()), stored(regions.size());
  std::vector<IndexRow> mine(regions.size());
  agree(comm, capture([&] {
          debug_fail_point("checkpoint_hash", m_rank);
          for (std::size_t i = 0; i < regions.size(); ++i) {
            const Region &r = *regions[i];
            hashes[i] = m_tracking.block_hashes(r, bs);
            m_tracking.observe(r, hashes[i]);
            stored[i] =
                changed_blocks(hashes[i], base ? std::vector<std::uint64_t>{} : r.committed_hashes);
          }
        }));

  // Global regions: the pieces must tile their arrays (written to /pieces).
  std::vector<PieceRow> pieces;
  agree(comm, capture([&] { pieces = agreed_pieces("ckpt_checkpoint"); }));

  // The totals decide between a delta and a base: a delta in which every
  // block changed would hold the whole state, and a chain whose deltas would
  // hold more bytes than the state makes restarts read more than twice it.
  std::uint64_t totals_local[4] = {0, 0, 0, 0}, totals[4];
  for (std::size_t i = 0; i < regions.size(); ++i) {
    const std::uint64_t bytes = regions[i]->bytes();
    totals_local[0] += bytes;
    for (std::uint64_t b : stored[i])
      totals_local[1] += block_bytes(bytes, bs, b);
    totals_local[2] += hashes[i].size();
    totals_local[3] += stored[i].size();
  }
  check_mpi(MPI_Allreduce(totals_local, totals, 4, MPI_UINT64_T, MPI_SUM, comm), "MPI_Allreduce");
  if (!base && (totals[3] == totals[2] || m_chain_bytes + totals[1] > totals[0])) {
    base = true;
    chain = {version};
    for (std::size_t i = 0; i < regions.size(); ++i) {
      stored[i].resize(hashes[i].size());
      std::iota(stored[i].begin(), stored[i].end(), std::uint64_t{0});
    }
    totals[1] = totals[0];
    totals[3] = totals[2];
  }
  for (std::size_t i = 0; i < regions.size(); ++i) {
    const Region &r = *regions[i];
    IndexRow &row = mine[i];
    row.rank = m_rank;
    row.region_id = r.id;
    std::strncpy(row.name, r.name.c_str(), sizeof row.name - 1);
    row.type = static_cast<std::int32_t>(r.type);
    row.elem_size = r.elem_size;
    row.count = r.count;
    row.bytes = r.bytes();
    row.nblocks = hashes[i].size();
    row.nstored = stored[i].size();
    for (std::uint64_t b : stored[i])
      row.data_bytes += block_bytes(r.bytes(), bs, b);
  }

  // 2. Everyone learns every row, and the offsets follow from rank order.
  int nmine = static_cast<int>(mine.size());
  std::vector<int> counts(static_cast<std::size_t>(m_size)),
      displs(static_cast<std::size_t>(m_size));
  check_mpi(MPI_Allgather(&nmine, 1, MPI_INT, counts.data(), 1, MPI_INT, comm), "MPI_Allgather");
  int total_rows = 0;
  for (int r = 0; r < m_size; ++r) {
    displs[static_cast<std::size_t>(r)] = total_rows * static_cast<int>(sizeof(IndexRow));
    total_rows += counts[static_cast<std::size_t>(r)];
    counts[static_cast<std::size_t>(r)] *= static_cast<int>(sizeof(IndexRow));
  }
  std::vector<IndexRow> rows(static_cast<std::size_t>(total_rows));
  check_mpi(MPI_Allgatherv(mine.data(), nmine * static_cast<int>(sizeof(IndexRow)), MPI_BYTE,
                           rows.data(), counts.data(), displs.data(), MPI_BYTE, comm),
            "MPI_Allgatherv");
  const CheckpointFile::Sizes sizes = assign_offsets(rows, pieces);
  const auto first_mine =
      static_cast<std::size_t>(displs[static_cast<std::size_t>(m_rank)]) / sizeof(IndexRow);
  for (std::size_t i = 0; i < mine.size(); ++i)
    mine[i] = rows[first_mine + i];

  // 3. Write the file. Every rank goes through every collective call, even
  //    after a local failure, and the outcome is agreed at the end.
  const std::string file_name = data_file_name(m_config.prefix(), version);
  const std::string path = join_path(m_dir, file_name);
  FileHeader header;
  header.version = version;
  header.step = step;
  header.base = base;
  header.base_version = chain.front();
  header.parent_version = base ? 0 : m_chain.back();
  header.nranks = m_size;
  header.block_size = bs;
  header.created_unix = static_cast<std::int64_t>(std::time(nullptr));
  header.library_version = std::string("libckpt ") + CKPT_VERSION_STRING;
  header.topology = m_topology;
  for (const auto &[key, entry] : m_config.entries())
    header.config += key + "=" + entry.value + "\n";
  header.config += "dirty_tracking_mechanism=" + m_tracking.mechanism() + "\n";
  if (header.topology.empty()) {
    if (m_rank == 0) m_topology = node_topology_summary();
    broadcast(comm, m_topology, 0);
    header.topology = m_topology;
  }
  std::exception_ptr error;
  std::uint64_t file_bytes = 0;
  CheckpointFile file;
  try {
    agree(comm, capture([&] {
            debug_fail_point("checkpoint_space", m_rank);
            if (m_rank == 0) check_free_space(m_dir, path, sizes);
          }));
    agree(comm, capture([&] { file = CheckpointFile::create(path, comm, header, sizes); }));
    // Reserve the whole file up front: a full file system fails here, with a
    // clear ENOSPC, rather than in the middle of a collective write.
    int reserved = 1;
    agree(comm, capture([&] {
            debug_fail_point("checkpoint_reserve", m_rank);
            if (m_rank == 0) reserved = reserve_file_space(path, file.allocated_bytes()) ? 1 : 0;
          }));
    check_mpi(MPI_Bcast(&reserved, 1, MPI_INT, 0, comm), "MPI_Bcast");
    // Without a reservation the data writes may still meet ENOSPC: write the
    // metadata first so that a failed file can be closed cleanly.
    if (!reserved) agree(comm, capture([&] { file.flush_metadata(); }));
    debug_kill_point("before_data", version, m_rank);
    auto keep_first = [&](const std::exception_ptr &e) {
      if (e && !error) error = e;
    };
    keep_first(capture([&] { file.write_index(rows, m_rank == 0); }));
    keep_first(capture([&] { file.write_pieces(pieces, m_rank == 0); }));
    std::vector<std::uint64_t> my_hashes, my_stored;
    for (std::size_t i = 0; i < regions.size(); ++i) {
      my_hashes.insert(my_hashes.end(), hashes[i].begin(), hashes[i].end());
      my_stored.insert(my_stored.end(), stored[i].begin(), stored[i].end());
    }
    const std::uint64_t hash_first = mine.empty() ? 0 : mine.front().hash_offset;
    const std::uint64_t stored_first = mine.empty() ? 0 : mine.front().stored_offset;
    keep_first(capture([&] { file.write_u64("hashes", hash_first, my_hashes); }));
    keep_first(capture([&] { file.write_u64("stored_blocks", stored_first, my_stored); }));

    // Per-rank regions go to /data, global ones to their block stores.
    std::vector<StoreSource> to_stores;
    std::optional<TransferPlanner> planner;
    for (std::size_t i = 0; i < regions.size(); ++i) {
      auto *memory = static_cast<unsigned char *>(regions[i]->data);
      if (regions[i]->is_global()) {
        to_stores.push_back(StoreSource{regions[i]->id, memory, regions[i]->bytes(), stored[i],
                                        mine[i].data_offset});
        continue;
      }
      if (!planner) planner.emplace(mine[i].data_offset, m_config.staging_bytes());
      planner->add_region(memory, regions[i]->bytes(), bs, stored[i]);
    }
    if (!planner) planner.emplace(0, m_config.staging_bytes());
    keep_first(write_in_rounds(
        comm, planner->finish(), [&](const DataOp &op) { file.write_data(op); }, error != nullptr));
    keep_first(
        write_block_stores(comm, file, to_stores, bs, m_config.staging_bytes(), error != nullptr));
    // Rank 0 shows the global regions by name once the file is closed: it
    // needs every rank's stored blocks.
    std::vector<std::uint64_t> all_stored;
    if (!pieces.empty())
      keep_first(capture([&] { all_stored = gather_u64_at_root(comm, my_stored); }));
    // (Injected after the collective writes, where a real write error shows.)
    keep_first(capture([&] { debug_fail_point("checkpoint_write", m_rank); }));
    debug_kill_point("after_data", version, m_rank);
    // Close normally only when every rank's writes succeeded.
    if (allreduce_max(comm, static_cast<std::uint64_t>(error ? 1 : 0)) == 0)
      keep_first(capture([&] {
        file.close();
        debug_fail_point("checkpoint_close", m_rank);
      }));
    if (!error && m_rank == 0 && !pieces.empty())
      keep_first(capture(
          [&] { add_region_views(path, view_chain(chain, rows, all_stored, pieces), bs); }));
    if (!error && m_config.fsync()) keep_first(capture([&] { fsync_file(path); }));
    if (!error) drop_cached_pages(path);
    if (error) error = classify_write_error(error, sizes, m_dir);
    agree(comm, error);
    debug_kill_point("before_commit", version, m_rank);

    // 4. Commit: rank 0 writes the record last, atomically.
    agree(comm, capture([&] {
            debug_fail_point("checkpoint_commit", m_rank);
            if (m_rank != 0) return;
            CommitRecord rec;
            rec.version = version;
            rec.step = step;
            rec.base = base;
            rec.chain = chain;
            rec.nranks = m_size;
            rec.block_size = bs;
            rec.file = file_name;
            rec.file_bytes = file_bytes = ckpt::detail::file_size(path);
            rec.state_bytes = totals[0];
            rec.written_bytes = totals[1];
            rec.blocks = totals[2];
            rec.dirty_blocks = totals[3];
            rec.seconds = MPI_Wtime() - t0;
            rec.time_unix = static_cast<std::int64_t>(std::time(nullptr));
            write_file_atomic(join_path(m_dir, commit_file_name(m_config.prefix(), version)),
                              rec.serialize(), m_config.fsync());
          }));
  } catch (const Error &e) {
    file.abandon(comm, m_rank == 0);
    if (m_rank == 0) {
      try {
        remove_file(path);
      } catch (const std::exception &) {
      }
      const std::string earlier =
          m_parent ? "the previous checkpoint (version " + std::to_string(*m_parent) + ") is intact"
          : m_had_checkpoints ? "the checkpoints already in " + m_dir + " are intact"
                              : "no earlier checkpoint exists";
      log_error("checkpoint version " + std::to_string(version) + " failed; " + earlier + ": " +
                e.what());
    }
    for_participants(comm, [&](CheckpointParticipant &p) { p.after_checkpoint(*this, false); });
    throw;
  }
  debug_kill_point("after_commit", version, m_rank);

  // 5. The new version is the baseline of the next delta.
  for (std::size_t i = 0; i < regions.size(); ++i)
    regions[i]->committed_hashes = std::move(hashes[i]);
  m_parent = version;
  m_chain = chain;
  m_chain_bytes = base ? 0 : m_chain_bytes + totals[1];

  CheckpointStats stats;
  stats.version = version;
  stats.step = step;
  stats.base = base;
  stats.base_version = chain.front();
  stats.state_bytes = totals[0];
  stats.written_bytes = totals[1];
  stats.blocks = totals[2];
  stats.dirty_blocks = totals[3];
  stats.seconds = MPI_Wtime() - t0;

  // 6. Retention and the log line (rank 0; failures here do not undo the commit).
  if (m_rank == 0) {
    try {
      const Catalog catalog = Catalog::scan(m_dir, m_config.prefix());
      for (std::int64_t old : catalog.retention_plan(m_config.keep())) {
        catalog.remove_version(old, m_config.fsync());
        log_debug("removed checkpoint version " + std::to_string(old));
      }
    } catch (const std::exception &e) {
      log_warn(std::string("could not remove old checkpoints: ") + e.what());
    }
    const double ratio =
        stats.blocks ? 100.0 * double(stats.dirty_blocks) / double(stats.blocks) : 0.0;
    char line[512];
    std::snprintf(
        line, sizeof line,
        "checkpoint version %lld (%s%s, step %lld): %s of %s written, %.1f%% of blocks "
        "dirty, %.3f s, %s/s",
        static_cast<long long>(version), base ? "base" : "delta of base ",
        base ? "" : std::to_string(chain.front()).c_str(), static_cast<long long>(step),
        human_bytes(double(stats.written_bytes)).c_str(),
        human_bytes(double(stats.state_bytes)).c_str(), ratio, stats.seconds,
        human_bytes(stats.seconds > 0 ? double(stats.written_bytes) / stats.seconds : 0).c_str());
    log_info(line);
    append_stats_line(stats);
  }
  if (m_signal_requested) {
    m_signal_requested = false;
    if (m_config.exit_on_signal()) m_should_exit = true;
  }
  for_participants(comm, [&](CheckpointParticipant &p) { p.after_checkpoint(*this, true); });
  return stats;
}

void Runtime::append_stats_line(const CheckpointStats &s) noexcept {
  try {
    char line[512];
    std::snprintf(
        line, sizeof line,
        "{\"version\":%lld,\"step\":%lld,\"kind\":\"%s\",\"base_version\":%lld,"
        "\"state_bytes\":%llu,\"written_bytes\":%llu,\"blocks\":%llu,\"dirty_blocks\":%llu,"
        "\"seconds\":%.6f,\"nranks\":%d,\"time_unix\":%lld}\n",
        static_cast<long long>(s.version), static_cast<long long>(s.step),
        s.base ? "base" : "delta", static_cast<long long>(s.base_version),
        static_cast<unsigned long long>(s.state_bytes),
        static_cast<unsigned long long>(s.written_bytes), static_cast<unsigned long long>(s.blocks),
        static_cast<unsigned long long>(s.dirty_blocks), s.seconds, m_size,
        static_cast<long long>(std::time(nullptr)));
    // Never through a symbolic link, never into a FIFO or device.
    append_to_file(join_path(m_dir, m_config.prefix() + ".stats"), line);
  } catch (const std::exception &e) {
    log_warn(std::string("statistics line not written: ") + e.what());
  } catch (...) {
  }
}

bool Runtime::need_checkpoint() {
  RuntimeScope scope;
  int mine = SignalWatch::instance().consume() ? 1 : 0, any = 0;
  check_mpi(MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, m_comm.get()), "MPI_Allreduce");
  if (any) {
    m_signal_requested = true;
    if (m_rank == 0) log_info("checkpoint requested by a signal");
  }
  return m_signal_requested;
}

void Runtime::finalize() {
  RuntimeScope scope;
  m_restart.reset();
  SignalWatch::instance().install(0);
  m_regions.clear();
  m_tracking.clear();
  m_lock.release();
  m_comm.reset();
}

} // namespace ckpt::detail
