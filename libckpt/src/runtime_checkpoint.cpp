// Runtime::checkpoint as a chain of named phases (docs/FORMAT.md, sections 5 and 7):
//
//   plan_version    select the dirty blocks, decide the kind once
//   commit_local    with a local level: every rank writes its blocks to
//                   node-local storage and commits them (what the
//                   application waits for)
//   commit_global   without one: the shared file, written and committed now
//   schedule_flush  with a local level, every flush_every checkpoints: the
//                   partner copy and the global file, in the background,
//                   from a snapshot of what this checkpoint captured
//   retain          old versions go, never one a chain of any level needs
//
// Every collective phase validates locally, agrees, and only then lets the
// ranks enter the next one.
#include "runtime.hpp"

#include "nonblocking_protocol.hpp"

#include "block_hasher.hpp"
#include "chain_restore.hpp"
#include "catalog.hpp"
#include "debug_hooks.hpp"
#include "error.hpp"
#include "fs.hpp"
#include "global_level.hpp"
#include "local_level.hpp"
#include "log.hpp"
#include "partner_level.hpp"
#include "participant.hpp"
#include "region.hpp"
#include "runtime_scope.hpp"
#include "topology.hpp"

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <unistd.h>

#ifndef CKPT_VERSION_STRING
#define CKPT_VERSION_STRING "unknown"
#endif

namespace ckpt::detail {
namespace {

std::string error_text(const std::exception_ptr &e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception &x) {
    return x.what();
  } catch (...) {
    return "unknown error";
  }
}

/// The totals of every rank (the kind is decided from them, alike everywhere).
SelectionTotals sum_over_ranks(MPI_Comm comm, const SelectionTotals &mine) {
  std::uint64_t local[4] = {mine.state_bytes, mine.changed_bytes, mine.blocks, mine.changed_blocks};
  std::uint64_t sum[4];
  check_mpi(MPI_Allreduce(local, sum, 4, MPI_UINT64_T, MPI_SUM, comm), "MPI_Allreduce");
  return SelectionTotals{sum[0], sum[1], sum[2], sum[3]};
}

ckpt_status error_status(const std::exception_ptr &e) {
  try {
    std::rethrow_exception(e);
  } catch (const Error &x) {
    return x.status();
  } catch (...) {
    return CKPT_ERR_IO;
  }
}

} // namespace

CheckpointStats Runtime::checkpoint(std::int64_t step) {
  RuntimeScope scope;
  check_can_checkpoint();
  const MPI_Comm comm = m_comm.get();
  const double t0 = MPI_Wtime();
  if (m_nonblocking) m_nonblocking->quiesce();
  end_restart();
  for_participants(comm, [&](CheckpointParticipant &p) { p.before_checkpoint(*this); });
  const std::int64_t version = m_next_version++;
  VersionPlan plan;
  unsigned levels = 0;
  try {
    plan = plan_version(version, step);
    choose_levels();
    if (m_local) {
      commit_local(plan);
      levels = CKPT_LEVEL_LOCAL;
    } else {
      commit_global_now(plan);
      levels = CKPT_LEVEL_GLOBAL;
    }
  } catch (const Error &e) {
    if (m_rank == 0) {
      const std::string earlier =
          m_chain.parent ? "the previous checkpoint (version " + std::to_string(*m_chain.parent) +
                               ") is intact"
          : m_had_checkpoints ? "the checkpoints already in " + m_dir + " are intact"
                              : "no earlier checkpoint exists";
      log_error("checkpoint version " + std::to_string(version) + " failed; " + earlier + ": " +
                e.what());
    }
    for_participants(comm, [&](CheckpointParticipant &p) { p.after_checkpoint(*this, false); });
    throw;
  }
  const double local_seconds = MPI_Wtime() - t0;
  m_newest = version;
  const bool exiting = m_signal_requested && m_config.exit_on_signal();
  if (m_local) {
    if (!schedule_flush(plan, exiting)) retain_local(plan.chain);   // else the job does
    if (m_global_committed == version) levels |= CKPT_LEVEL_GLOBAL; // flushed in the call
  }
  // The new version is the baseline of the next delta.
  m_chain.advance(version, plan.base, plan.totals.changed_bytes);
  for (RegionSelection &s : plan.regions)
    s.region->committed_hashes = std::move(s.hashes);

  CheckpointStats stats;
  stats.version = version;
  stats.step = step;
  stats.base = plan.base;
  stats.base_version = plan.chain.front();
  stats.state_bytes = plan.totals.state_bytes;
  stats.written_bytes = plan.totals.changed_bytes;
  stats.blocks = plan.totals.blocks;
  stats.dirty_blocks = plan.totals.changed_blocks;
  stats.levels = levels;
  stats.seconds = MPI_Wtime() - t0;
  report(stats, local_seconds);
  if (m_signal_requested) {
    m_signal_requested = false;
    if (m_config.exit_on_signal()) m_should_exit = true;
  }
  for_participants(comm, [&](CheckpointParticipant &p) { p.after_checkpoint(*this, true); });
  return stats;
}

void Runtime::check_can_checkpoint() const {
  // Known alike on every rank: every rank refuses before any collective.
  if (!m_read_only_why.empty())
    throw IoError(CKPT_ERR_IO, "ckpt_checkpoint: checkpoint directory " + m_dir +
                                   " is not writable (" + m_read_only_why +
                                   "): this session can only restart");
  if (m_next_version > k_max_version)
    throw IoError(CKPT_ERR_IO, "ckpt_checkpoint: checkpoint directory " + m_dir +
                                   " already holds version " + std::to_string(k_max_version) +
                                   ", the largest version number; move its checkpoints away");
}

// 1-2. Select the dirty blocks, then decide the kind once, from every rank's totals.
VersionPlan Runtime::plan_version(std::int64_t version, std::int64_t step) {
  const std::uint64_t bs = m_config.block_size();
  std::vector<RegionSelection> selection;
  agree(m_comm.get(), capture([&] {
          debug_fail_point("checkpoint_hash", m_rank);
          selection =
              select_dirty_blocks(regions_in_order(), m_tracking, bs, m_chain.parent.has_value());
        }));
  // Global regions: the pieces must tile their arrays (written to /pieces).
  agree(m_comm.get(), capture([&] { m_pieces = agreed_pieces("ckpt_checkpoint"); }));
  const SelectionTotals totals = sum_over_ranks(m_comm.get(), count_selection(selection, bs));
  const bool base = decide_base(m_chain, m_config.base_every(), totals);
  return make_version_plan(version, step, m_chain, base, std::move(selection), totals);
}

// At the first checkpoint, alike on every rank: a local level where a
// node-local directory has room for two versions of the node's state.
void Runtime::choose_levels() {
  if (m_levels_chosen) return;
  m_levels_chosen = true;
  const MPI_Comm comm = m_comm.get();
  const std::string dir = m_local_dir;
  std::string why;
  if (m_config.local_dir() == "none") {
    why = "local_dir = none";
  } else if (dir.empty()) {
    why = "there is no /dev/shm for local_dir = auto";
  }
  // The ranks of a node share its local storage: each node's ranks together
  // need room for two versions of their state.
  std::uint64_t node_state = 0;
  {
    MPI_Comm node = MPI_COMM_NULL;
    check_mpi(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, m_rank, MPI_INFO_NULL, &node),
              "MPI_Comm_split_type");
    std::uint64_t my_state = 0;
    for (Region *r : regions_in_order())
      my_state += r->bytes();
    const int rc = MPI_Allreduce(&my_state, &node_state, 1, MPI_UINT64_T, MPI_SUM, node);
    MPI_Comm_free(&node);
    check_mpi(rc, "MPI_Allreduce");
  }
  if (why.empty()) {
    try {
      make_directories(dir);
      check_writable_directory(dir);
      const std::uint64_t free_bytes = available_bytes(dir);
      if (free_bytes / 2 < node_state)
        why = "local_dir " + dir + " has " + human_bytes(double(free_bytes)) +
              " free, less than two versions of the node's state (" +
              human_bytes(2.0 * double(node_state)) + ")";
    } catch (const std::exception &e) {
      why = std::string("local_dir ") + dir + " cannot be used: " + e.what();
    }
  }
  // The first rank that cannot use it tells why; all decide alike.
  const int mine = why.empty() ? m_size : m_rank;
  int first_bad = m_size;
  check_mpi(MPI_Allreduce(&mine, &first_bad, 1, MPI_INT, MPI_MIN, comm), "MPI_Allreduce");
  // A chain continues only on the level that holds it.
  if ((first_bad < m_size) == m_chain_is_local) m_chain.reset();
  if (first_bad < m_size) {
    broadcast(comm, why, first_bad);
    if (m_rank == 0)
      log_info("checkpoints go to " + m_dir + " synchronously, without a local level: " + why);
    return;
  }
  m_local = std::make_unique<LocalLevel>(dir, m_config.prefix(), m_rank, m_size, m_config.fsync());
  m_chain_is_local = true;
  choose_partners();
  int provided = MPI_THREAD_SINGLE;
  check_mpi(MPI_Query_thread(&provided), "MPI_Query_thread");
  m_flush_in_background = provided == MPI_THREAD_MULTIPLE;
  if (m_flush_in_background) m_flush_comm = Comm::duplicate(comm);
  if (m_rank == 0)
    log_info("checkpoints go to the local level " + dir + " and every " +
             std::to_string(m_config.flush_every()) + " checkpoint(s) to " + m_dir +
             (m_flush_in_background ? " in the background"
                                    : " inside the checkpoint call (MPI was initialised without "
                                      "MPI_THREAD_MULTIPLE, which a background flush needs)"));
}

// The partner level: the node of every rank (config node_id, else the host
// name), and from it the keeper of each rank's copy.
void Runtime::choose_partners() {
  constexpr std::size_t k_name = 256;
  std::string node = m_config.node_id();
  if (node == "auto") {
    char host[k_name] = {};
    if (::gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "?");
    node = host;
  }
  node.resize(k_name, '\0');
  std::string all(k_name * static_cast<std::size_t>(m_size), '\0');
  check_mpi(MPI_Allgather(node.data(), static_cast<int>(k_name), MPI_CHAR, all.data(),
                          static_cast<int>(k_name), MPI_CHAR, m_comm.get()),
            "MPI_Allgather");
  std::vector<std::string> nodes;
  nodes.reserve(static_cast<std::size_t>(m_size));
  for (int r = 0; r < m_size; ++r)
    nodes.emplace_back(all.c_str() + static_cast<std::size_t>(r) * k_name);
  m_partner = partner_ranks(nodes);
  m_kept_for.clear();
  for (int r = 0; r < m_size; ++r)
    if (m_partner[static_cast<std::size_t>(r)] == m_rank) m_kept_for.push_back(r);
  if (m_rank == 0)
    log_info(m_partner.front() < 0
                 ? std::string("no partner level: every rank is on node ") + nodes.front()
                 : "partner level: each rank's local checkpoint is copied to a rank of the next "
                   "node (rank 0's to rank " +
                       std::to_string(m_partner.front()) + ")");
}

FileHeader Runtime::file_header(const VersionPlan &plan) {
  FileHeader header;
  header.version = plan.version;
  header.step = plan.step;
  header.base = plan.base;
  header.base_version = plan.chain.front();
  header.parent_version = plan.base ? 0 : plan.chain[plan.chain.size() - 2];
  header.nranks = m_size;
  header.block_size = m_config.block_size();
  header.created_unix = static_cast<std::int64_t>(std::time(nullptr));
  header.library_version = std::string("libckpt ") + CKPT_VERSION_STRING;
  if (m_topology.empty()) {
    if (m_rank == 0) m_topology = node_topology_summary();
    broadcast(m_comm.get(), m_topology, 0);
  }
  header.topology = m_topology;
  header.config = header_config();
  return header;
}

// 3a. The local level: each rank's blocks to its node-local file, agreed,
//     then each rank's record (the version is on the level once all are).
void Runtime::commit_local(const VersionPlan &plan) {
  const MPI_Comm comm = m_comm.get();
  const std::uint64_t bs = m_config.block_size();
  const FileHeader header = file_header(plan);
  std::uint64_t bytes = 0;
  agree(comm, capture([&] {
          debug_fail_point("local_write", m_rank);
          bytes = m_local->write_data(plan, bs);
        }));
  debug_kill_point("local_before_commit", plan.version, m_rank);
  agree(comm, capture([&] {
          debug_fail_point("local_commit", m_rank);
          m_local->commit(plan, header, bs, bytes);
        }));
  debug_kill_point("local_after_commit", plan.version, m_rank);
}

// 3b. Without a local level: the global level, now.
void Runtime::commit_global_now(const VersionPlan &plan) {
  GlobalVersion v = global_version_of(plan, m_rank, file_header(plan), m_config.block_size());
  v.pieces = m_pieces;
  const GlobalTarget target{m_dir, m_config.prefix(), m_config.fsync(), m_config.staging_bytes()};
  write_global_version(m_comm.get(), v, target);
  m_global_committed = plan.version;
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
  }
}

// 4. Every flush_every checkpoints (and before an exit on signal): the
//    global level, from a snapshot of what this checkpoint captured.
bool Runtime::schedule_flush(const VersionPlan &plan, bool force) {
  const std::uint64_t bs = m_config.block_size();
  for (std::size_t i = 0; i < plan.regions.size(); ++i) {
    std::vector<bool> &dirty = m_global_dirty[plan.regions[i].region->id];
    if (dirty.size() != plan.regions[i].hashes.size())
      dirty.assign(plan.regions[i].hashes.size(), true); // new region or new layout: all of it
    for (std::uint64_t b : plan.stored[i])
      dirty[b] = true;
  }
  const bool partner = !m_kept_for.empty() || m_partner[static_cast<std::size_t>(m_rank)] >= 0;
  const bool flush_due = force || ++m_since_flush >= m_config.flush_every();
  if (!flush_due && !partner) return false;
  // Policy: one flush at a time; a flush still running is waited for here
  // (never skipped), after this version's local level committed.
  collect_flush(true);
  if (!flush_due) {
    start_flush(plan.version, nullptr, partner, plan.chain);
    return true;
  }
  // The global level's own chain: the same blocks as the local level when
  // it extends the same parent, else the blocks changed since its parent.
  const bool same =
      plan.base ||
      (m_global_chain.parent && m_global_chain.chain.size() + 1 == plan.chain.size() &&
       std::equal(m_global_chain.chain.begin(), m_global_chain.chain.end(), plan.chain.begin()));
  GlobalVersion gv;
  if (same) {
    // The local file holds exactly these blocks: it is the snapshot.
    auto mapped = std::make_shared<MappedFile>(m_local->data_path(plan.version));
    gv = global_version_of(plan, m_rank, file_header(plan), bs);
    gv.pieces = m_pieces;
    gv.sources = {GlobalVersion::Source{mapped->data(), mapped->size(), {}}};
    for (std::uint64_t b = 0; b < block_count(mapped->size(), bs); ++b)
      gv.sources.front().blocks.push_back(b);
    if (mapped->size() == 0) gv.sources.clear();
    gv.snapshot = mapped;
  } else {
    std::vector<RegionSelection> regions;
    for (const RegionSelection &s : plan.regions) {
      RegionSelection g{s.region, s.hashes, {}};
      const std::vector<bool> &dirty = m_global_dirty[s.region->id];
      for (std::uint64_t b = 0; b < dirty.size(); ++b)
        if (dirty[b]) g.changed.push_back(b);
      regions.push_back(std::move(g));
    }
    const SelectionTotals totals = sum_over_ranks(m_comm.get(), count_selection(regions, bs));
    const bool base = decide_base(m_global_chain, m_config.base_every(), totals);
    const VersionPlan global = make_version_plan(plan.version, plan.step, m_global_chain, base,
                                                 std::move(regions), totals);
    gv = global_version_of(global, m_rank, file_header(global), bs);
    gv.pieces = m_pieces;
    // Copy-on-write by copy: the blocks are copied now, so that the
    // application may write its regions while the flush runs.
    auto staged = std::make_shared<std::vector<unsigned char>>(stored_bytes(global, bs));
    unsigned char *p = staged->data();
    for (const GlobalVersion::Source &s : gv.sources)
      for (const BlockRun &run : block_runs(s.blocks)) {
        const std::uint64_t at = run.first * bs;
        const std::uint64_t n = std::min(s.bytes - at, run.count * bs);
        std::memcpy(p, s.memory + at, n);
        p += n;
      }
    gv.sources = {};
    if (!staged->empty()) {
      GlobalVersion::Source src{staged->data(), staged->size(), {}};
      for (std::uint64_t b = 0; b < block_count(staged->size(), bs); ++b)
        src.blocks.push_back(b);
      gv.sources.push_back(std::move(src));
    }
    gv.snapshot = staged;
  }
  // Assumed to succeed; a failure found by collect_flush starts a new base.
  m_global_chain.advance(plan.version, gv.header.base, gv.totals.changed_bytes);
  for (auto &[id, dirty] : m_global_dirty)
    dirty.assign(dirty.size(), false);
  m_since_flush = 0;
  m_newest_flushed = plan.version;
  start_flush(plan.version, std::make_shared<GlobalVersion>(std::move(gv)), partner, plan.chain);
  return true;
}

namespace {

/// The partner copy of `version`: this rank's local files to its keeper,
/// the copies of the ranks it keeps into its local directory. A rank that
/// cannot read its files still takes part (it sends nothing); failures are
/// this rank's, logged, and leave the other levels alone.
void copy_to_partner(MPI_Comm comm, const LocalLevel &local, std::int64_t version, int keeper,
                     const std::vector<int> &kept_for, int rank) {
  std::vector<OutgoingCopy> out;
  std::unique_ptr<MappedFile> mapped;
  if (keeper >= 0) {
    try {
      OutgoingCopy c;
      c.dest = keeper;
      c.record = read_file(local.commit_path(version), std::uint64_t{1} << 31);
      mapped = std::make_unique<MappedFile>(local.data_path(version));
      c.data = mapped->data();
      c.bytes = mapped->size();
      out.push_back(std::move(c));
    } catch (const std::exception &e) {
      log_warn("checkpoint version " + std::to_string(version) +
               " cannot be copied to the partner level: " + e.what());
    }
  }
  const std::vector<IncomingCopy> in = exchange_copies(
      comm, out, keeper >= 0 ? std::vector<int>{keeper} : std::vector<int>{}, kept_for);
  debug_kill_point("partner_copy", version, rank);
  for (const IncomingCopy &c : in) {
    try {
      const LocalVersion v =
          LocalVersion::parse(c.record, "partner copy from rank " + std::to_string(c.source));
      local.store_copy(c.source, v.record.version, c.record, c.data.data(), c.data.size(), false);
      local.retain_partner(c.source, v.record.chain);
    } catch (const std::exception &e) {
      log_warn("the partner copy of rank " + std::to_string(c.source) + "'s checkpoint version " +
               std::to_string(version) + " was not kept: " + e.what());
    }
  }
}

} // namespace

void Runtime::start_flush(std::int64_t v, const std::shared_ptr<GlobalVersion> &global,
                          bool partner, const std::vector<std::int64_t> &retain) {
  const GlobalTarget target{m_dir, m_config.prefix(), m_config.fsync(), m_config.staging_bytes()};
  // The file and its tables now, on this thread (HDF5 is not thread-safe,
  // and the application may use it); the data in the job.
  std::shared_ptr<GlobalVersion> job = global;
  std::shared_ptr<const GlobalFile> file;
  if (job) {
    try {
      file = std::make_shared<GlobalFile>(create_global_file(m_comm.get(), *job, target));
    } catch (const Error &) {
      note_flush_failure(v, std::current_exception());
      job.reset();
      if (!partner && retain.empty()) return;
    }
  }
  const MPI_Comm comm = m_flush_in_background ? m_flush_comm.get() : m_comm.get();
  const int rank = m_rank, keep = m_config.keep();
  const bool durable = m_config.fsync();
  const LocalLevel *local = m_local.get();
  const int keeper = m_partner.empty() ? -1 : m_partner[static_cast<std::size_t>(m_rank)];
  const std::vector<int> kept_for = m_kept_for;
  const bool background = m_flush_in_background;
  m_flush_has_global = job != nullptr;
  m_flush.start(
      v,
      [job, file, target, comm, rank, keep, durable, v, partner, local, keeper, kept_for,
       background, retain] {
        RuntimeScope scope; // this thread's MPI calls are the runtime's own
        // The ranks' jobs start apart (each after its own checkpoint call).
        if (background) sleeping_barrier(comm);
        if (partner) copy_to_partner(comm, *local, v, keeper, kept_for, rank);
        // The local level keeps the chain of this version (freeing the
        // memory of older ones costs time the application need not wait for).
        if (!retain.empty()) {
          try {
            local->retain(retain);
          } catch (const std::exception &e) {
            log_warn(std::string("could not remove old local checkpoints: ") + e.what());
          }
        }
        if (!job) return;
        debug_kill_point("flush_start", v, rank);
        finish_global_version(comm, *job, *file, target);
        if (rank != 0) return;
        try {
          const Catalog catalog = Catalog::scan(target.dir, target.prefix);
          for (std::int64_t old : catalog.retention_plan(keep)) {
            catalog.remove_version(old, durable);
            log_debug("removed checkpoint version " + std::to_string(old));
          }
        } catch (const std::exception &e) {
          log_warn(std::string("could not remove old checkpoints: ") + e.what());
        }
      },
      m_flush_in_background);
  if (!m_flush_in_background) collect_flush(true);
}

// The outcome of the last flush, alike on every rank (the flush agrees).
void Runtime::collect_flush(bool wait) {
  std::optional<BackgroundFlush::Outcome> out = wait ? m_flush.wait() : m_flush.poll();
  if (!out) return;
  if (!m_flush_has_global) { // a partner copy alone
    if (out->error)
      log_warn("the partner copy of checkpoint version " + std::to_string(out->version) +
               " failed: " + error_text(out->error));
    return;
  }
  if (!out->error) {
    m_global_committed = std::max(m_global_committed, out->version);
    if (m_rank == 0)
      log_debug("checkpoint version " + std::to_string(out->version) +
                " committed on the global level (" + std::to_string(out->seconds) + " s)");
    return;
  }
  note_flush_failure(out->version, out->error);
}

// Alike on every rank (the global level's phases agree).
void Runtime::note_flush_failure(std::int64_t version, const std::exception_ptr &error) {
  const std::string what = "checkpoint version " + std::to_string(version) +
                           " could not be written to the global level (" + m_dir +
                           "); it stays on the local level: " + error_text(error);
  m_flush_failures[version] = FlushFailure{error_status(error), what};
  m_global_chain.reset(); // the next flush writes a base
  for (auto &[id, dirty] : m_global_dirty)
    dirty.assign(dirty.size(), true);
  if (m_rank == 0) log_error(what);
}

// 5. The local level keeps the chain of its newest version.
void Runtime::retain_local(const std::vector<std::int64_t> &chain) noexcept {
  try {
    m_local->retain(chain);
  } catch (const std::exception &e) {
    log_warn(std::string("could not remove old local checkpoints: ") + e.what());
  }
}

void Runtime::report(const CheckpointStats &stats, double local_seconds) noexcept {
  if (m_rank != 0) return;
  const double ratio =
      stats.blocks ? 100.0 * double(stats.dirty_blocks) / double(stats.blocks) : 0.0;
  const std::string kind =
      stats.base ? "base" : "delta of base " + std::to_string(stats.base_version);
  char line[512];
  std::snprintf(
      line, sizeof line,
      "checkpoint version %lld (%s, step %lld): %s of %s written, %.1f%% of blocks "
      "dirty, %.3f s, %s/s%s",
      static_cast<long long>(stats.version), kind.c_str(), static_cast<long long>(stats.step),
      human_bytes(double(stats.written_bytes)).c_str(),
      human_bytes(double(stats.state_bytes)).c_str(), ratio, stats.seconds,
      human_bytes(stats.seconds > 0 ? double(stats.written_bytes) / stats.seconds : 0).c_str(),
      stats.levels == CKPT_LEVEL_LOCAL ? " (local level; global level in the background)"
      : stats.levels == (CKPT_LEVEL_LOCAL | CKPT_LEVEL_GLOBAL) ? " (local and global levels)"
                                                               : "");
  log_info(line);
  (void)local_seconds;
  append_stats_line(stats);
}

void Runtime::wait_global(std::int64_t version) {
  RuntimeScope scope;
  collect_flush(true);
  if (version <= 0) version = m_newest;
  if (version <= 0 || m_global_committed >= version) return;
  for (const auto &[v, failure] : m_flush_failures)
    if (v >= version) throw IoError(failure.status, failure.what);
  if (!m_local || version > m_newest)
    throw ArgumentError("ckpt_wait_global: no checkpoint version " + std::to_string(version) +
                        " was written in this session");
  // Not given to any flush (flush_every > 1): the newest version goes now.
  flush_newest_from_local();
  collect_flush(true);
  if (m_global_committed >= version) return;
  const auto failed = m_flush_failures.find(m_newest);
  if (failed != m_flush_failures.end()) throw IoError(failed->second.status, failed->second.what);
}

// The newest version, rebuilt from the local level's chain (the application
// may have changed its regions since): a global delta of the blocks changed
// since the global level's parent, or a base.
void Runtime::flush_newest_from_local() {
  const std::uint64_t bs = m_config.block_size();
  auto images = std::make_shared<std::vector<std::vector<unsigned char>>>();
  std::vector<Region> regions;
  RankChain share;
  agree(m_comm.get(), capture([&] {
          std::vector<std::string> problems;
          const auto scanned = m_local->scan(problems);
          share = LocalLevel::chain_of(scanned, m_newest);
          std::map<int, RestoreTarget> targets;
          for (const auto &[id, r] : share.regions) {
            images->emplace_back(r.row.bytes);
            Region region;
            region.id = id;
            region.name = r.row.name;
            region.data = images->back().data();
            region.count = r.row.count;
            region.elem_size = r.row.elem_size;
            region.type = static_cast<ckpt_type>(r.row.type);
            regions.push_back(region);
            targets[id] = RestoreTarget{images->back().data(), r.row.bytes};
          }
          ChainRestorer restorer(share);
          const RestoreReport report = restorer.restore(targets, RestoreOptions{});
          if (report.damaged > 0) throw FormatError(restorer.describe(report.damage.front()));
        }));
  std::vector<RegionSelection> selection;
  for (Region &r : regions) {
    RegionSelection s{&r, share.regions.at(r.id).hashes, {}};
    const auto dirty = m_global_dirty.find(r.id);
    for (std::uint64_t b = 0; b < s.hashes.size(); ++b)
      if (dirty == m_global_dirty.end() || dirty->second.size() != s.hashes.size() ||
          dirty->second[b])
        s.changed.push_back(b);
    selection.push_back(std::move(s));
  }
  const SelectionTotals totals = sum_over_ranks(m_comm.get(), count_selection(selection, bs));
  const bool base = decide_base(m_global_chain, m_config.base_every(), totals);
  const VersionPlan global =
      make_version_plan(m_newest, share.step, m_global_chain, base, std::move(selection), totals);
  GlobalVersion gv = global_version_of(global, m_rank, file_header(global), bs);
  gv.pieces = m_pieces;
  gv.snapshot = images;
  m_global_chain.advance(m_newest, base, totals.changed_bytes);
  for (auto &[id, dirty] : m_global_dirty)
    dirty.assign(dirty.size(), false);
  m_since_flush = 0;
  m_newest_flushed = m_newest;
  start_flush(m_newest, std::make_shared<GlobalVersion>(std::move(gv)), false, {});
}

} // namespace ckpt::detail
