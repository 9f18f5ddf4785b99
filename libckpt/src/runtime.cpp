#include "runtime.hpp"

#include "block_hasher.hpp"
#include "catalog.hpp"
#include "checkpoint_file.hpp"
#include "error.hpp"
#include "fs.hpp"
#include "log.hpp"
#include "participant.hpp"
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
namespace {

std::string region_label(int rank, const Region &r) {
  return "rank " + std::to_string(rank) + " region " + std::to_string(r.id) + " '" + r.name + "'";
}

/// Test hook (docs/FORMAT.md, "Fault injection"): CKPT_DEBUG_KILL=phase:version[:rank]
/// makes that rank SIGKILL itself at that phase of writing that version.
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

std::vector<CheckpointParticipant *> &participants() {
  static std::vector<CheckpointParticipant *> list;
  return list;
}

/// Runs a hook on every participant, agreeing on the outcome.
template <class F> void for_participants(MPI_Comm comm, F &&fn) {
  for (CheckpointParticipant *p : participants())
    agree(comm, capture([&] { fn(*p); }));
}

} // namespace

void register_participant(CheckpointParticipant *participant) {
  participants().push_back(participant);
}
void unregister_participant(CheckpointParticipant *participant) {
  auto &list = participants();
  list.erase(std::remove(list.begin(), list.end(), participant), list.end());
}

// ---------------------------------------------------------------------------
// Restart source: the open files of the chain being restored.

class RestartSource {
public:
  struct RegionData {
    std::vector<const IndexRow *> rows;             // per file of the chain (null: absent)
    std::vector<std::vector<std::uint64_t>> stored; // per file: stored block indices
    std::vector<std::uint64_t> hashes;              // newest version's block hashes
  };

  CommitRecord record;
  std::vector<CheckpointFile> files;
  std::vector<std::vector<IndexRow>> index; // per file, rows of this rank
  std::map<int, RegionData> regions;        // this rank's regions in the newest version
  std::set<int> restored;                   // ids already restored from this source

  const IndexRow &newest_row(int id) const { return *regions.at(id).rows.back(); }
  void close() {
    for (auto &f : files)
      f.close();
    files.clear();
  }
};

namespace {

/// Collective: opens every file of `chain` and reads this rank's part of the
/// index, stored-block lists and newest hashes.
std::unique_ptr<RestartSource> open_chain(const Catalog &catalog, const CommitRecord &record,
                                          MPI_Comm comm, int rank, int size) {
  auto src = std::make_unique<RestartSource>();
  src->record = record;
  for (std::int64_t v : record.chain) {
    src->files.push_back(CheckpointFile::open(catalog.data_path(v), comm));
    const CheckpointFile &f = src->files.back();
    if (f.header().nranks != size)
      throw MismatchError("checkpoint version " + std::to_string(v) + " (" + f.path() +
                          ") was written by " + std::to_string(f.header().nranks) +
                          " ranks; this job has " + std::to_string(size) + " ranks. Restart with " +
                          std::to_string(f.header().nranks) + " ranks.");
    if (f.header().version != v || f.header().block_size != record.block_size)
      throw FormatError(f.path() + " does not match its commit record (version or block size)");
  }
  const std::size_t nfiles = src->files.size();
  src->index.resize(nfiles);
  for (std::size_t fi = 0; fi < nfiles; ++fi) {
    CheckpointFile &f = src->files[fi];
    const auto sizes = f.sizes();
    for (const IndexRow &row : f.read_index()) {
      if (row.rank < 0 || row.rank >= size || row.hash_offset + row.nblocks > sizes.hashes ||
          row.stored_offset + row.nstored > sizes.stored ||
          row.data_offset + row.data_bytes > sizes.data || row.bytes != row.count * row.elem_size ||
          row.nblocks != block_count(row.bytes, record.block_size))
        throw FormatError(f.path() + ": /index row of rank " + std::to_string(row.rank) +
                          " region " + std::to_string(row.region_id) + " is inconsistent");
      if (row.rank == rank) src->index[fi].push_back(row);
    }
  }
  // Regions of the newest version, and which older rows still apply (same layout).
  for (const IndexRow &row : src->index.back()) {
    auto &rd = src->regions[row.region_id];
    rd.rows.assign(nfiles, nullptr);
    rd.stored.resize(nfiles);
  }
  for (std::size_t fi = 0; fi < nfiles; ++fi)
    for (const IndexRow &row : src->index[fi]) {
      auto it = src->regions.find(row.region_id);
      if (it == src->regions.end()) continue;
      const IndexRow &newest =
          *std::find_if(src->index.back().begin(), src->index.back().end(),
                        [&](const IndexRow &r) { return r.region_id == row.region_id; });
      if (row.bytes == newest.bytes && row.elem_size == newest.elem_size && row.type == newest.type)
        it->second.rows[fi] = &row;
    }
  // This rank's rows are contiguous in /stored_blocks and /hashes: one read each.
  auto slab = [&](std::size_t fi, const char *dataset, std::uint64_t IndexRow::*offset,
                  std::uint64_t IndexRow::*count) {
    const auto &rows = src->index[fi];
    std::uint64_t first = rows.empty() ? 0 : rows.front().*offset, n = 0;
    for (const auto &r : rows)
      n += r.*count;
    return std::make_pair(first, src->files[fi].read_u64(dataset, first, n, true));
  };
  for (std::size_t fi = 0; fi < nfiles; ++fi) {
    auto [first, values] = slab(fi, "stored_blocks", &IndexRow::stored_offset, &IndexRow::nstored);
    for (auto &[id, rd] : src->regions) {
      const IndexRow *row = rd.rows[fi];
      if (!row) continue;
      const auto begin = values.begin() + static_cast<std::ptrdiff_t>(row->stored_offset - first);
      rd.stored[fi].assign(begin, begin + static_cast<std::ptrdiff_t>(row->nstored));
      for (std::uint64_t b : rd.stored[fi])
        if (b >= row->nblocks)
          throw FormatError(src->files[fi].path() + ": stored block index out of range for rank " +
                            std::to_string(rank) + " region " + std::to_string(id));
    }
  }
  auto [first, hashes] = slab(nfiles - 1, "hashes", &IndexRow::hash_offset, &IndexRow::nblocks);
  for (auto &[id, rd] : src->regions) {
    const IndexRow &row = *rd.rows.back();
    const auto begin = hashes.begin() + static_cast<std::ptrdiff_t>(row.hash_offset - first);
    rd.hashes.assign(begin, begin + static_cast<std::ptrdiff_t>(row.nblocks));
  }
  return src;
}

/// Reads `regions` from the chain into their memory and verifies every block.
/// Collective over the chain's communicator when `collective`. Returns the
/// description of the first damaged block (empty when all match).
std::string restore_regions(RestartSource &src, const std::vector<Region *> &regions,
                            bool collective, MPI_Comm comm, int rank, std::uint64_t staging_bytes,
                            bool verify) {
  const std::uint64_t bs = src.record.block_size;
  const std::size_t nfiles = src.files.size();
  // Each block is restored from the newest file of the chain that stores it;
  // files are read oldest first.
  std::vector<std::vector<std::int32_t>> source(regions.size());
  for (std::size_t ri = 0; ri < regions.size(); ++ri) {
    const auto &rd = src.regions.at(regions[ri]->id);
    source[ri].assign(rd.hashes.size(), -1);
    for (std::size_t fi = nfiles; fi-- > 0;)
      if (rd.rows[fi])
        for (std::uint64_t b : rd.stored[fi])
          if (source[ri][b] < 0) source[ri][b] = static_cast<std::int32_t>(fi);
  }
  std::string damage;
  auto damaged = [&](std::size_t ri, std::uint64_t b, const std::string &where) {
    if (damage.empty())
      damage = "block " + std::to_string(b) + " of " + region_label(rank, *regions[ri]) + " in " +
               where + " does not match its stored hash (checkpoint version " +
               std::to_string(src.record.version) + ")";
  };
  // Hashes each block of a segment as soon as it is in place (still in cache).
  auto check = [&](const Segment &s, std::size_t fi) {
    if (!verify || !damage.empty()) return;
    const Region &r = *regions[s.region];
    const auto &expected = src.regions.at(r.id).hashes;
    for (std::uint64_t b = s.first_block; b < s.first_block + block_count(s.bytes, bs); ++b) {
      if (source[s.region][b] != static_cast<std::int32_t>(fi)) continue; // newer copy follows
      const std::uint64_t n = block_bytes(r.bytes(), bs, b);
      if (hash_bytes(static_cast<unsigned char *>(r.data) + b * bs, n) != expected[b]) {
        damaged(s.region, b, src.files[fi].path());
        return;
      }
    }
  };
  std::vector<unsigned char> staging;
  std::exception_ptr error;
  for (std::size_t fi = 0; fi < nfiles; ++fi) {
    TransferPlanner planner(0, staging_bytes);
    for (std::size_t ri = 0; ri < regions.size(); ++ri) {
      const auto &rd = src.regions.at(regions[ri]->id);
      const IndexRow *row = rd.rows[fi];
      if (!row) continue;
      // The blocks this file is the newest source of, plus the superseded
      // blocks in short gaps between them: reading those too keeps the reads
      // long and sequential, and the newer files, read later, overwrite them.
      const auto &stored = rd.stored[fi];
      const std::uint64_t max_gap = std::max<std::uint64_t>(1, (256u << 10) / bs);
      std::vector<BlockCopy> blocks;
      std::size_t last_wanted = SIZE_MAX;
      for (std::size_t k = 0; k < stored.size(); ++k) {
        if (source[ri][stored[k]] != static_cast<std::int32_t>(fi)) continue;
        const std::size_t from =
            last_wanted != SIZE_MAX && k - last_wanted - 1 <= max_gap ? last_wanted + 1 : k;
        for (std::size_t j = from; j <= k; ++j)
          blocks.push_back(BlockCopy{stored[j], row->data_offset + j * bs});
        last_wanted = k;
      }
      planner.add_blocks(static_cast<unsigned char *>(regions[ri]->data), regions[ri]->bytes(), bs,
                         blocks, static_cast<std::uint32_t>(ri));
    }
    const std::vector<PlannedTransfer> plan = planner.finish();
    const std::uint64_t rounds = collective ? allreduce_max(comm, plan.size()) : plan.size();
    for (std::uint64_t i = 0; i < rounds; ++i) {
      const PlannedTransfer *t = (i < plan.size() && !error) ? &plan[i] : nullptr;
      DataOp op;
      if (t) {
        op.bytes = t->bytes;
        op.file_offset = t->file_offset;
        if (t->direct()) {
          op.memory = t->segments.front().memory;
        } else {
          if (staging.size() < t->bytes) staging.resize(t->bytes);
          op.memory = staging.data();
        }
      }
      auto e = capture([&] { src.files[fi].read_data(op, collective); });
      if (e && !error) error = e;
      if (!t || e) continue;
      const unsigned char *p = staging.data();
      for (const Segment &s : t->segments) {
        if (!t->direct()) {
          std::memcpy(s.memory, p, s.bytes);
          p += s.bytes;
        }
        check(s, fi);
      }
    }
  }
  if (error) std::rethrow_exception(error);
  if (verify && damage.empty())
    for (std::size_t ri = 0; ri < regions.size(); ++ri)
      for (std::uint64_t b = 0; b < source[ri].size(); ++b)
        if (source[ri][b] < 0) {
          damaged(ri, b, "no file of the chain (the block was never stored)");
          break;
        }
  return damage;
}

/// MPI-IO does not always pass errno up through HDF5: a write that failed on
/// a file system with less room than the checkpoint needs is ENOSPC.
std::exception_ptr classify_write_error(std::exception_ptr error,
                                        const CheckpointFile::Sizes &sizes,
                                        const std::string &dir) noexcept {
  try {
    std::rethrow_exception(error);
  } catch (const Error &e) {
    if (e.status() == CKPT_ERR_NO_SPACE) return error;
    try {
      const std::uint64_t needed = sizes.data + 8 * (sizes.hashes + sizes.stored) +
                                   sizes.rows * sizeof(IndexRow) + (1u << 20);
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
  m_dir = m_config.dir();
  std::string latest_info;
  agree(m_comm.get(), capture([&] {
          if (m_rank != 0) return;
          make_directories(m_dir);
          check_writable_directory(m_dir);
          m_next_version = Catalog::scan(m_dir, m_config.prefix()).max_version() + 1;
        }));
  std::uint64_t next = static_cast<std::uint64_t>(m_next_version);
  check_mpi(MPI_Bcast(&next, 1, MPI_UINT64_T, 0, m_comm.get()), "MPI_Bcast");
  m_next_version = static_cast<std::int64_t>(next);
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
  if (m_restart && m_restart->regions.count(id) && m_restart->restored.insert(id).second)
    restore_late(r);
}

void Runtime::unprotect(int id) {
  if (!m_regions.unprotect(id))
    throw ArgumentError("ckpt_unprotect: region " + std::to_string(id) + " is not protected");
}

std::optional<std::size_t> Runtime::restored_bytes(int id) const {
  if (!m_restart) return std::nullopt;
  auto it = m_restart->regions.find(id);
  if (it == m_restart->regions.end()) return std::nullopt;
  return static_cast<std::size_t>(it->second.rows.back()->bytes);
}

std::optional<std::size_t> Runtime::restored_count(int id) const {
  if (!m_restart) return std::nullopt;
  auto it = m_restart->regions.find(id);
  if (it == m_restart->regions.end()) return std::nullopt;
  return static_cast<std::size_t>(it->second.rows.back()->count);
}

void Runtime::restore_late(Region &region) {
  RuntimeScope scope;
  const IndexRow &row = m_restart->newest_row(region.id);
  const std::string where = region_label(m_rank, region) + " in checkpoint version " +
                            std::to_string(m_restart->record.version);
  if (row.bytes != region.bytes() || row.elem_size != region.elem_size ||
      row.type != static_cast<std::int32_t>(region.type))
    throw MismatchError(where + " was saved as " + std::to_string(row.count) + " x " +
                        type_name(static_cast<ckpt_type>(row.type)) + " (" +
                        std::to_string(row.elem_size) + " bytes each) but is now protected as " +
                        std::to_string(region.count) + " x " + type_name(region.type) + " (" +
                        std::to_string(region.elem_size) + " bytes each)");
  const std::string damage = restore_regions(*m_restart, {&region}, false, m_comm.get(), m_rank,
                                             m_config.staging_bytes(), m_config.verify());
  if (!damage.empty()) throw FormatError(damage);
  region.committed_hashes = m_restart->regions.at(region.id).hashes;
}

void Runtime::end_restart() noexcept {
  if (!m_restart) return;
  try {
    m_restart->close();
  } catch (const std::exception &e) {
    log_warn(std::string("closing the restart files: ") + e.what());
  }
  m_restart.reset();
}

std::optional<CheckpointId> Runtime::latest() {
  RuntimeScope scope;
  std::string text;
  agree(m_comm.get(), capture([&] {
          if (m_rank != 0) return;
          const Catalog catalog = Catalog::scan(m_dir, m_config.prefix());
          if (auto v = catalog.newest_committed()) {
            const auto &rec = *catalog.find(*v)->record;
            text = std::to_string(rec.version) + " " + std::to_string(rec.step);
          }
        }));
  broadcast(m_comm.get(), text, 0);
  if (text.empty()) return std::nullopt;
  CheckpointId id;
  std::sscanf(text.c_str(), "%" SCNd64 " %" SCNd64, &id.version, &id.step);
  return id;
}

CheckpointId Runtime::restart() {
  RuntimeScope scope;
  end_restart();
  const MPI_Comm comm = m_comm.get();
  const double t0 = MPI_Wtime();
  // Rank 0 decides the candidates; every rank reads the same records.
  std::string listing;
  agree(comm, capture([&] {
          if (m_rank != 0) return;
          const Catalog catalog = Catalog::scan(m_dir, m_config.prefix());
          for (const auto &[v, e] : catalog.entries())
            if (e.state == VersionState::Corrupt && e.has_commit_record)
              log_warn("skipping checkpoint version " + std::to_string(v) + ": " + e.problem);
          for (std::int64_t v : catalog.committed_newest_first())
            listing += std::to_string(v) + " ";
        }));
  broadcast(comm, listing, 0);
  const Catalog catalog = Catalog::scan(m_dir, m_config.prefix());
  std::vector<std::int64_t> candidates;
  {
    std::istringstream in(listing);
    for (std::int64_t v; in >> v;)
      candidates.push_back(v);
  }
  if (candidates.empty())
    throw NoCheckpointError("no committed checkpoint in " + m_dir + " (files " + m_config.prefix() +
                            ".v*.commit); start without --restart or check the directory");
  std::string reasons;
  for (std::int64_t v : candidates) {
    std::string problem;
    const VersionEntry *entry = catalog.find(v);
    auto chain = (entry && entry->record) ? catalog.chain_of(v, problem) : std::nullopt;
    // The chain check reads only the records, identical on every rank.
    if (!chain) {
      if (m_rank == 0)
        log_error("checkpoint version " + std::to_string(v) + " cannot be restored: " + problem);
      reasons += "\n  version " + std::to_string(v) + ": " + problem;
      continue;
    }
    std::unique_ptr<RestartSource> src;
    std::string damage;
    try {
      agree(comm,
            capture([&] { src = open_chain(catalog, *entry->record, comm, m_rank, m_size); }));
      // Layout checks before any data moves (agreed: a mismatch is fatal).
      std::vector<Region *> present;
      agree(comm, capture([&] {
              for (Region *r : regions_in_order()) {
                if (!src->regions.count(r->id))
                  throw MismatchError(region_label(m_rank, *r) +
                                      " is protected but not in checkpoint version " +
                                      std::to_string(v) + " (" + src->files.back().path() + ")");
                const IndexRow &row = src->newest_row(r->id);
                if (row.bytes != r->bytes() || row.elem_size != r->elem_size ||
                    row.type != static_cast<std::int32_t>(r->type))
                  throw MismatchError(
                      region_label(m_rank, *r) + " was saved in " + src->files.back().path() +
                      " as " + std::to_string(row.count) + " x " +
                      type_name(static_cast<ckpt_type>(row.type)) + " (" +
                      std::to_string(row.elem_size) + " bytes each) but is protected as " +
                      std::to_string(r->count) + " x " + type_name(r->type) + " (" +
                      std::to_string(r->elem_size) + " bytes each)");
                present.push_back(r);
              }
            }));
      agree(comm, capture([&] {
              damage = restore_regions(*src, present, true, comm, m_rank, m_config.staging_bytes(),
                                       m_config.verify());
            }));
      // Agree on the verification result.
      int bad = damage.empty() ? 0 : 1, any_bad = 0;
      check_mpi(MPI_Allreduce(&bad, &any_bad, 1, MPI_INT, MPI_MAX, comm), "MPI_Allreduce");
      if (bad) log_error(damage);
      if (any_bad) {
        std::string first = damage;
        int mine = bad ? m_rank : m_size, root = 0;
        check_mpi(MPI_Allreduce(&mine, &root, 1, MPI_INT, MPI_MIN, comm), "MPI_Allreduce");
        broadcast(comm, first, root);
        src->close();
        throw FormatError(first);
      }
      for (Region *r : present) {
        r->committed_hashes = src->regions.at(r->id).hashes;
        src->restored.insert(r->id);
      }
    } catch (const Error &e) {
      if (e.status() == CKPT_ERR_MISMATCH || e.status() == CKPT_ERR_MPI) throw;
      if (m_rank == 0)
        log_error("checkpoint version " + std::to_string(v) +
                  " cannot be restored, trying an older one" +
                  (damage.empty() ? std::string(": ") + e.what() : std::string()));
      reasons += "\n  version " + std::to_string(v) + ": " + e.what();
      continue;
    }
    // Restored: dirty tracking continues from this version.
    const CommitRecord &rec = src->record;
    m_parent = rec.version;
    m_chain = rec.chain;
    m_chain_bytes = 0;
    for (std::size_t i = 1; i < rec.chain.size(); ++i)
      m_chain_bytes += catalog.find(rec.chain[i])->record->written_bytes;
    m_restart = std::move(src);
    const double seconds = MPI_Wtime() - t0;
    const std::uint64_t state = allreduce_sum(comm, [&] {
      std::uint64_t s = 0;
      for (Region *r : regions_in_order())
        s += r->bytes();
      return s;
    }());
    if (m_rank == 0) {
      char line[512];
      std::snprintf(line, sizeof line,
                    "restart from checkpoint version %lld (step %lld, %s, chain of %zu file(s)): "
                    "%s restored and verified, %.3f s, %s/s",
                    static_cast<long long>(rec.version), static_cast<long long>(rec.step),
                    rec.base ? "base" : "delta", rec.chain.size(),
                    human_bytes(static_cast<double>(state)).c_str(), seconds,
                    human_bytes(seconds > 0 ? double(state) / seconds : 0.0).c_str());
      log_info(line);
    }
    try {
      for_participants(comm, [&](CheckpointParticipant &p) { p.after_restart(*this); });
    } catch (...) {
      end_restart();
      throw;
    }
    return CheckpointId{rec.version, rec.step};
  }
  throw Error(CKPT_ERR_CORRUPT, "no valid checkpoint in " + m_dir + ":" + reasons);
}

CheckpointStats Runtime::checkpoint(std::int64_t step) {
  RuntimeScope scope;
  const MPI_Comm comm = m_comm.get();
  const double t0 = MPI_Wtime();
  end_restart();
  for_participants(comm, [&](CheckpointParticipant &p) { p.before_checkpoint(*this); });

  const std::int64_t version = m_next_version++;
  bool base = !m_parent || static_cast<int>(m_chain.size()) >= m_config.base_every();
  std::vector<std::int64_t> chain = base ? std::vector<std::int64_t>{} : m_chain;
  chain.push_back(version);
  const std::uint64_t bs = m_config.block_size();

  // 1. Hash every block; choose what to store.
  const std::vector<Region *> regions = regions_in_order();
  std::vector<std::vector<std::uint64_t>> hashes(regions.size()), stored(regions.size());
  std::vector<IndexRow> mine(regions.size());
  agree(comm, capture([&] {
          for (std::size_t i = 0; i < regions.size(); ++i) {
            const Region &r = *regions[i];
            hashes[i].resize(block_count(r.bytes(), bs));
            hash_blocks(r.data, r.bytes(), bs, hashes[i].data());
            stored[i] =
                changed_blocks(hashes[i], base ? std::vector<std::uint64_t>{} : r.committed_hashes);
          }
        }));

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
  const CheckpointFile::Sizes sizes = assign_offsets(rows);
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
  if (header.topology.empty()) {
    if (m_rank == 0) m_topology = node_topology_summary();
    broadcast(comm, m_topology, 0);
    header.topology = m_topology;
  }
  std::exception_ptr error;
  std::uint64_t file_bytes = 0;
  CheckpointFile file;
  try {
    agree(comm, capture([&] { file = CheckpointFile::create(path, comm, header, sizes); }));
    // Reserve the whole file up front: a full file system fails here, with a
    // clear ENOSPC, rather than in the middle of a collective write.
    int reserved = 1;
    agree(comm, capture([&] {
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
    std::vector<std::uint64_t> my_hashes, my_stored;
    for (std::size_t i = 0; i < regions.size(); ++i) {
      my_hashes.insert(my_hashes.end(), hashes[i].begin(), hashes[i].end());
      my_stored.insert(my_stored.end(), stored[i].begin(), stored[i].end());
    }
    const std::uint64_t hash_first = mine.empty() ? 0 : mine.front().hash_offset;
    const std::uint64_t stored_first = mine.empty() ? 0 : mine.front().stored_offset;
    keep_first(capture([&] { file.write_u64("hashes", hash_first, my_hashes); }));
    keep_first(capture([&] { file.write_u64("stored_blocks", stored_first, my_stored); }));

    TransferPlanner planner(mine.empty() ? 0 : mine.front().data_offset, m_config.staging_bytes());
    for (std::size_t i = 0; i < regions.size(); ++i)
      planner.add_region(static_cast<unsigned char *>(regions[i]->data), regions[i]->bytes(), bs,
                         stored[i]);
    const std::vector<PlannedTransfer> plan = planner.finish();
    const std::uint64_t rounds = allreduce_max(comm, static_cast<std::uint64_t>(plan.size()));
    std::vector<unsigned char> staging;
    for (std::uint64_t i = 0; i < rounds; ++i) {
      DataOp op;
      if (i < plan.size() && !error) {
        const PlannedTransfer &t = plan[i];
        op.bytes = t.bytes;
        op.file_offset = t.file_offset;
        if (t.direct()) {
          op.memory = t.segments.front().memory;
        } else {
          if (staging.size() < t.bytes) staging.resize(t.bytes);
          unsigned char *p = staging.data();
          for (const Segment &s : t.segments) {
            std::memcpy(p, s.memory, s.bytes);
            p += s.bytes;
          }
          op.memory = staging.data();
        }
      }
      keep_first(capture([&] { file.write_data(op); }));
    }
    debug_kill_point("after_data", version, m_rank);
    // Close normally only when every rank's writes succeeded.
    if (allreduce_max(comm, static_cast<std::uint64_t>(error ? 1 : 0)) == 0)
      keep_first(capture([&] { file.close(); }));
    if (!error && m_config.fsync()) keep_first(capture([&] { fsync_file(path); }));
    if (!error) drop_cached_pages(path);
    if (error) error = classify_write_error(error, sizes, m_dir);
    agree(comm, error);
    debug_kill_point("before_commit", version, m_rank);

    // 4. Commit: rank 0 writes the record last, atomically.
    agree(comm, capture([&] {
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
      log_error("checkpoint version " + std::to_string(version) +
                " failed; the previous checkpoint" +
                (m_parent ? " (version " + std::to_string(*m_parent) + ")" : std::string()) +
                " is intact: " + e.what());
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
    const std::string path = join_path(m_dir, m_config.prefix() + ".stats");
    if (FILE *f = std::fopen(path.c_str(), "a")) {
      std::fputs(line, f);
      std::fclose(f);
    }
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
  std::exception_ptr error = capture([&] {
    if (m_restart) m_restart->close();
  });
  m_restart.reset();
  SignalWatch::instance().install(0);
  m_regions.clear();
  if (error) std::rethrow_exception(error);
  m_comm.reset();
}

} // namespace ckpt::detail
