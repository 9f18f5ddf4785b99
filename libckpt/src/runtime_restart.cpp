// Runtime::restart and what goes with it (docs/FORMAT.md, section 5).
//
// Every collective phase validates locally, agrees, and only then lets the
// ranks enter the next one, so that a failure on one rank never leaves
// another waiting:
//   1. discover   rank 0 scans the directory: committed versions, newest first
//   then, for each candidate until one is restored:
//   2. metadata   rank 0 reads and validates the chain's metadata (one
//                 process reads it, once) and cuts it into per-rank shares
//   3. scatter    every rank receives its share and opens the chain's files
//   4. layout     every rank checks its protected regions against its share
//   5. data       every rank reads its blocks (POSIX, independently) and
//                 verifies them; damage anywhere makes all ranks try the next
//                 candidate
//   6. restored   participants (the PMPI layer) are told, collectively
#include "runtime.hpp"
#include "nonblocking_protocol.hpp"

#include "catalog.hpp"
#include "chain_loader.hpp"
#include "debug_hooks.hpp"
#include "error.hpp"
#include "local_level.hpp"
#include "partner_level.hpp"
#include "log.hpp"
#include "participant.hpp"
#include "restart_source.hpp"
#include "runtime_scope.hpp"

#include <algorithm>
#include <cinttypes>
#include <climits>
#include <cstdio>
#include <cstring>

namespace ckpt::detail {

/// A version restart may try, and the level it reads it from.
struct RestartCandidate {
  std::int64_t version = 0;
  std::int64_t step = 0;
  std::int64_t level = CKPT_LEVEL_GLOBAL; // CKPT_LEVEL_*
  std::vector<std::int64_t> holders;      // partner level: per rank, its keeper (-1: itself)
};

const char *level_name(std::int64_t level) noexcept {
  return level == CKPT_LEVEL_LOCAL ? "local" : level == CKPT_LEVEL_PARTNER ? "partner" : "global";
}

/// Times of the phases of one restart attempt, in seconds, and its I/O.
struct RestartTimes {
  double metadata = 0, open = 0, data = 0, verify = 0;
  std::uint64_t bytes_read = 0, requests = 0;
};

namespace {

bool fatal_for_restart(const Error &e) noexcept {
  // A mismatch (rank count, region layout) is the same for every older
  // version; an MPI failure leaves nothing to agree with.
  return e.status() == CKPT_ERR_MISMATCH || e.status() == CKPT_ERR_MPI;
}

void broadcast_versions(MPI_Comm comm, std::vector<std::int64_t> &versions) {
  std::uint64_t n = versions.size();
  check_mpi(MPI_Bcast(&n, 1, MPI_UINT64_T, 0, comm), "MPI_Bcast");
  versions.resize(n);
  check_mpi(MPI_Bcast(versions.data(), static_cast<int>(n), MPI_INT64_T, 0, comm), "MPI_Bcast");
}

/// Collective: rank 0 sends every rank its share (`shares`, one per rank, on
/// rank 0 only); returns this rank's.
std::string scatter_shares(MPI_Comm comm, int rank, const std::vector<std::string> &shares) {
  std::vector<int> counts, displs;
  std::string all;
  if (rank == 0) {
    for (const std::string &s : shares) {
      counts.push_back(static_cast<int>(s.size()));
      displs.push_back(static_cast<int>(all.size()));
      all += s;
    }
  }
  int mine = 0;
  check_mpi(MPI_Scatter(counts.data(), 1, MPI_INT, &mine, 1, MPI_INT, 0, comm), "MPI_Scatter");
  std::string share(static_cast<std::size_t>(mine), '\0');
  check_mpi(MPI_Scatterv(all.data(), counts.data(), displs.data(), MPI_BYTE, share.data(), mine,
                         MPI_BYTE, 0, comm),
            "MPI_Scatterv");
  return share;
}

std::string layout_text(std::uint64_t count, ckpt_type type, std::uint64_t elem_size) {
  return std::to_string(count) + " x " + type_name(type) + " (" + std::to_string(elem_size) +
         " bytes each)";
}

/// Throws MismatchError when `region` cannot be restored from `row`.
void check_layout(const IndexRow &row, const Region &region, const std::string &file) {
  if (row.bytes == region.bytes() && row.elem_size == region.elem_size &&
      row.type == static_cast<std::int32_t>(region.type))
    return;
  throw MismatchError(region_text(row) + " was saved in " + file + " as " +
                      layout_text(row.count, static_cast<ckpt_type>(row.type), row.elem_size) +
                      " but is protected as " +
                      layout_text(region.count, region.type, region.elem_size));
}

} // namespace

RestoreOptions Runtime::restore_options() const {
  RestoreOptions options;
  options.verify = m_config.verify();
  options.bridge_bytes = m_config.restart_bridge_bytes();
  return options;
}

std::optional<std::size_t> Runtime::restored_bytes(int id) const {
  if (!m_restart) return std::nullopt;
  auto it = m_restart->chain.regions.find(id);
  if (it == m_restart->chain.regions.end()) return std::nullopt;
  return static_cast<std::size_t>(it->second.row.bytes);
}

std::optional<std::size_t> Runtime::restored_count(int id) const {
  if (!m_restart) return std::nullopt;
  auto it = m_restart->chain.regions.find(id);
  if (it == m_restart->chain.regions.end()) return std::nullopt;
  return static_cast<std::size_t>(it->second.row.count);
}

void Runtime::restore_late(Region &region) {
  RuntimeScope scope;
  RestartSource &src = *m_restart;
  const RankRegion &stored = src.chain.regions.at(region.id);
  check_layout(stored.row, region, src.chain.files.back().path);
  const RestoreReport report = src.restorer.restore(
      {{region.id, RestoreTarget{static_cast<unsigned char *>(region.data), region.bytes()}}},
      restore_options());
  if (report.damaged > 0) throw FormatError(src.restorer.describe(report.damage.front()));
  region.committed_hashes = stored.hashes;
}

void Runtime::end_restart() noexcept { m_restart.reset(); }

std::optional<CheckpointId> Runtime::latest() {
  RuntimeScope scope;
  collect_flush(true);
  std::optional<Catalog> catalog;
  const std::vector<RestartCandidate> candidates = restart_candidates(catalog);
  if (candidates.empty()) return std::nullopt;
  return CheckpointId{candidates.front().version, candidates.front().step};
}

/// Collective: the versions restart may try, newest first and, for one
/// version, the fastest level first (local, then global). A version is on
/// the local level when every rank holds its whole chain there; rank 0
/// decides from every rank's list and from the global catalog.
std::vector<RestartCandidate> Runtime::restart_candidates(std::optional<Catalog> &catalog) {
  const MPI_Comm comm = m_comm.get();
  // Each rank: (owner, version, step) of every chain it holds whole, its own
  // on the local level and its partner copies of other ranks'.
  std::vector<std::int64_t> mine;
  agree(comm, capture([&] {
          if (m_local_dir.empty()) return;
          std::vector<std::string> problems;
          const LocalLevel level(m_local_dir, m_config.prefix(), m_rank, m_size, false);
          std::map<std::int32_t, std::map<std::int64_t, LocalVersion>> held =
              level.scan_partner_copies(problems);
          held[m_rank] = level.scan(problems);
          for (const std::string &p : problems)
            log_warn("local level: ignoring " + p);
          for (const auto &[owner, scanned] : held)
            for (std::int64_t v : LocalLevel::restorable(scanned))
              mine.insert(mine.end(), {owner, v, scanned.at(v).record.step});
        }));
  const std::vector<std::string> gathered =
      gather_at_root(comm, mine.data(), mine.size() * sizeof(std::int64_t));
  // Rank 0, per version: on the local level where every rank holds its own
  // chain; on the partner level where every rank's chain is held by itself
  // or its keeper (the holders follow the candidate); then the global level.
  std::vector<std::int64_t> flat;
  agree(comm, capture([&] {
          if (m_rank != 0) return;
          debug_fail_point("restart_discover", m_rank);
          struct Holding {
            std::int64_t step = 0;
            std::map<std::int64_t, std::int64_t> holder; // owner -> holder (itself first)
          };
          std::map<std::int64_t, Holding, std::greater<>> versions;
          for (std::size_t r = 0; r < gathered.size(); ++r) {
            std::vector<std::int64_t> held(gathered[r].size() / sizeof(std::int64_t));
            if (!held.empty()) std::memcpy(held.data(), gathered[r].data(), gathered[r].size());
            for (std::size_t i = 0; i + 2 < held.size(); i += 3) {
              const std::int64_t owner = held[i];
              Holding &h = versions[held[i + 1]];
              h.step = held[i + 2];
              if (owner == static_cast<std::int64_t>(r) || !h.holder.count(owner))
                h.holder[owner] = static_cast<std::int64_t>(r);
            }
          }
          catalog = Catalog::scan(m_dir, m_config.prefix());
          for (const auto &[v, e] : catalog->entries())
            if (e.state == VersionState::Corrupt && e.has_commit_record)
              log_warn("skipping checkpoint version " + std::to_string(v) + ": " + e.problem);
          for (std::int64_t v : catalog->committed_newest_first())
            versions[v].step = catalog->find(v)->record->step;
          for (const auto &[v, h] : versions) {
            bool all_own = static_cast<int>(h.holder.size()) == m_size;
            for (const auto &[owner, holder] : h.holder)
              all_own = all_own && owner == holder;
            if (all_own) {
              flat.insert(flat.end(), {v, h.step, CKPT_LEVEL_LOCAL});
            } else if (static_cast<int>(h.holder.size()) == m_size) {
              flat.insert(flat.end(), {v, h.step, CKPT_LEVEL_PARTNER});
              for (const auto &[owner, holder] : h.holder)
                flat.push_back(holder == owner ? -1 : holder);
            }
            if (catalog->find(v) && catalog->find(v)->state == VersionState::Committed)
              flat.insert(flat.end(), {v, h.step, CKPT_LEVEL_GLOBAL});
          }
        }));
  broadcast_versions(comm, flat);
  std::vector<RestartCandidate> out;
  for (std::size_t i = 0; i + 2 < flat.size();) {
    RestartCandidate c{flat[i], flat[i + 1], flat[i + 2], {}};
    i += 3;
    if (c.level == CKPT_LEVEL_PARTNER) {
      c.holders.assign(flat.begin() + static_cast<std::ptrdiff_t>(i),
                       flat.begin() + static_cast<std::ptrdiff_t>(i) + m_size);
      i += static_cast<std::size_t>(m_size);
    }
    out.push_back(std::move(c));
  }
  return out;
}

/// The partner level: each rank whose own files are gone gets its chain of
/// `version` from the rank that keeps its copy and stores it as its own
/// local files; then every rank restores from its local level.
void Runtime::rebuild_from_partners(std::int64_t version,
                                    const std::vector<std::int64_t> &holders) {
  const MPI_Comm comm = m_comm.get();
  std::vector<OutgoingCopy> out;
  std::vector<std::unique_ptr<MappedFile>> mapped;
  std::vector<int> dests, sources;
  for (int owner = 0; owner < m_size; ++owner) {
    const std::int64_t holder = holders[static_cast<std::size_t>(owner)];
    if (holder == m_rank) dests.push_back(owner);
    if (owner == m_rank && holder >= 0) sources.push_back(static_cast<int>(holder));
  }
  // 1. Each keeper reads the chains it sends (validated before any send).
  agree(comm, capture([&] {
          debug_fail_point("restart_partner", m_rank);
          if (dests.empty()) return;
          std::vector<std::string> problems;
          const LocalLevel level(m_local_dir, m_config.prefix(), m_rank, m_size, false);
          const auto held = level.scan_partner_copies(problems);
          for (int owner : dests) {
            const auto &scanned = held.at(owner);
            LocalLevel::chain_of(scanned, version); // the chain is whole and valid
            for (std::int64_t link : scanned.at(version).record.chain) {
              OutgoingCopy c;
              c.dest = owner;
              c.record = read_file(level.partner_commit_path(owner, link), std::uint64_t{1} << 31);
              mapped.push_back(std::make_unique<MappedFile>(level.partner_data_path(owner, link)));
              c.data = mapped.back()->data();
              c.bytes = mapped.back()->size();
              out.push_back(std::move(c));
            }
          }
        }));
  // 2. The copies move; 3. each rank stores what it received as its own.
  const std::vector<IncomingCopy> in = exchange_copies(comm, out, dests, sources);
  agree(comm, capture([&] {
          if (in.empty()) return;
          LocalLevel level(m_local_dir, m_config.prefix(), m_rank, m_size, m_config.fsync());
          for (const IncomingCopy &c : in) {
            const LocalVersion v =
                LocalVersion::parse(c.record, "partner copy from rank " + std::to_string(c.source));
            level.store_copy(m_rank, v.record.version, c.record, c.data.data(), c.data.size(),
                             true);
          }
          log_info("rank " + std::to_string(m_rank) + ": local level of checkpoint version " +
                   std::to_string(version) + " rebuilt from the partner copy on rank " +
                   std::to_string(in.front().source));
        }));
}

CheckpointId Runtime::restart() {
  RuntimeScope scope;
  if (m_nonblocking) m_nonblocking->quiesce();
  end_restart();
  const double t0 = MPI_Wtime();
  collect_flush(true);
  // 1. Discover: the committed versions on each level, newest first.
  std::optional<Catalog> catalog;
  const std::vector<RestartCandidate> candidates = restart_candidates(catalog);
  if (candidates.empty())
    throw NoCheckpointError("no committed checkpoint in " + m_dir + " (files " + m_config.prefix() +
                            ".v*.commit); start without --restart or check the directory");

  // Global regions: the job's pieces, agreed once (they must tile their
  // arrays). The local and partner levels record no decomposition: they
  // serve a job with global regions only when its pieces are those of the
  // newest global file.
  std::vector<PieceRow> pieces;
  agree(m_comm.get(), capture([&] { pieces = agreed_pieces("ckpt_restart"); }));
  m_pieces = pieces;
  const bool local_ok = local_levels_fit(catalog ? &*catalog : nullptr, pieces);

  std::string reasons;
  for (const RestartCandidate &c : candidates) {
    RestartTimes times;
    const std::int64_t v = c.version;
    if (c.level != CKPT_LEVEL_GLOBAL && !local_ok) continue;
    try {
      if (c.level == CKPT_LEVEL_PARTNER) rebuild_from_partners(v, c.holders);
      std::unique_ptr<RestartSource> src =
          c.level != CKPT_LEVEL_GLOBAL
              ? open_local_source(v)
              : open_restart_source(catalog ? &*catalog : nullptr, v, pieces, times);
      restore_protected(*src, times, c.level != CKPT_LEVEL_GLOBAL);
      return finish_restart(std::move(src), times, MPI_Wtime() - t0, c.level);
    } catch (const Error &e) {
      if (fatal_for_restart(e)) throw;
      if (m_rank == 0)
        log_error("checkpoint version " + std::to_string(v) + " cannot be restored from the " +
                  level_name(c.level) + " level, trying the next candidate: " + e.what());
      reasons +=
          "\n  version " + std::to_string(v) + " (" + level_name(c.level) + " level): " + e.what();
    }
  }
  throw Error(CKPT_ERR_CORRUPT, "no valid checkpoint in " + m_dir + ":" + reasons);
}

/// 2-3 on the local level: each rank reads its own share from its records.
std::unique_ptr<RestartSource> Runtime::open_local_source(std::int64_t version) {
  std::unique_ptr<RestartSource> src;
  agree(m_comm.get(), capture([&] {
          debug_fail_point("restart_open", m_rank);
          std::vector<std::string> problems;
          const auto scanned =
              LocalLevel(m_local_dir, m_config.prefix(), m_rank, m_size, false).scan(problems);
          if (!scanned.count(version))
            throw FormatError("checkpoint version " + std::to_string(version) +
                              " is no longer on the local level " + m_local_dir);
          // (Not fatal: the global level may hold the version for this job.)
          if (scanned.at(version).record.nranks != m_size)
            throw FormatError("checkpoint version " + std::to_string(version) + " was written by " +
                              std::to_string(scanned.at(version).record.nranks) +
                              " ranks; this job has " + std::to_string(m_size) +
                              " ranks: the local level cannot serve it");
          src = std::make_unique<RestartSource>(LocalLevel::chain_of(scanned, version));
        }));
  return src;
}

std::unique_ptr<RestartSource> Runtime::open_restart_source(const Catalog *catalog,
                                                            std::int64_t version,
                                                            const std::vector<PieceRow> &pieces,
                                                            RestartTimes &times) {
  const MPI_Comm comm = m_comm.get();
  // 2. Metadata (rank 0): read once, validated, cut into shares for the
  //    pieces this job declared.
  const double t0 = MPI_Wtime();
  std::vector<std::string> shares;
  agree(comm, capture([&] {
          if (m_rank != 0) return;
          debug_fail_point("restart_metadata", m_rank);
          const ChainModel model = load_chain(*catalog, version);
          std::vector<std::vector<PieceRow>> by_rank(static_cast<std::size_t>(m_size));
          for (const PieceRow &p : pieces)
            by_rank[static_cast<std::size_t>(p.rank)].push_back(p);
          std::uint64_t total = 0;
          for (int r = 0; r < m_size; ++r) {
            shares.push_back(
                model.job_view(r, m_size, by_rank[static_cast<std::size_t>(r)]).serialize());
            total += shares.back().size();
          }
          if (total > static_cast<std::uint64_t>(INT_MAX))
            throw FormatError("the metadata of checkpoint version " + std::to_string(version) +
                              " exceeds 2 GiB; it cannot be distributed in one step");
        }));
  // 3. Scatter: every rank gets its share and opens the files.
  const std::string bytes = scatter_shares(comm, m_rank, shares);
  times.metadata = MPI_Wtime() - t0;
  std::unique_ptr<RestartSource> src;
  agree(comm, capture([&] {
          debug_fail_point("restart_open", m_rank);
          src = std::make_unique<RestartSource>(RankChain::deserialize(
              bytes, "rank " + std::to_string(m_rank) + "'s share of checkpoint version " +
                         std::to_string(version)));
        }));
  times.open = src->restorer.open_seconds();
  return src;
}

void Runtime::restore_protected(RestartSource &src, RestartTimes &times, bool local) {
  const MPI_Comm comm = m_comm.get();
  // 4. Layout: every protected region must be in the share, with its layout.
  std::map<int, RestoreTarget> targets;
  agree(comm, capture([&] {
          debug_fail_point("restart_layout", m_rank);
          for (Region *r : regions_in_order()) {
            if (r->is_global() && !local) check_global_layout(src.chain, *r);
            if (r->is_global() && src.chain.sources.count(r->id)) continue;
            const auto it = src.chain.regions.find(r->id);
            if (const auto why = src.chain.unshared.find(r->id); why != src.chain.unshared.end())
              throw MismatchError("region " + std::to_string(r->id) + " '" + r->name +
                                  "' is a per-rank region of checkpoint version " +
                                  std::to_string(src.chain.version) + ", written by " +
                                  std::to_string(src.chain.nranks) + " ranks, and " + why->second +
                                  "; this job has " + std::to_string(m_size) +
                                  " ranks, so it cannot be restored (protect it as a global "
                                  "region, or restart with " +
                                  std::to_string(src.chain.nranks) + " ranks)");
            if (it == src.chain.regions.end())
              throw MismatchError(
                  "rank " + std::to_string(m_rank) + " region " + std::to_string(r->id) + " '" +
                  r->name + "' is protected but not in checkpoint version " +
                  std::to_string(src.chain.version) + " (" + src.chain.files.back().path + ")");
            check_layout(it->second.row, *r, src.chain.files.back().path);
            targets[r->id] = RestoreTarget{static_cast<unsigned char *>(r->data), r->bytes()};
          }
        }));
  // 5. Data: each rank reads and verifies its own blocks.
  agree(comm, capture([&] {
          debug_fail_point("restart_data", m_rank);
          const RestoreReport report = src.restorer.restore(targets, restore_options());
          const RestoreReport moved = restore_pieces(src.chain, regions_in_order());
          times.data = report.read_seconds + moved.read_seconds;
          times.verify = report.verify_seconds + moved.verify_seconds;
          times.bytes_read = report.bytes_read + moved.bytes_read;
          times.requests = report.requests + moved.requests;
          if (report.damaged > 0) {
            const std::string what = src.restorer.describe(report.damage.front());
            log_error(what);
            throw FormatError(what);
          }
        }));
  for (const auto &[id, target] : targets) {
    m_regions.find(id)->committed_hashes = src.chain.regions.at(id).hashes;
    src.restored.insert(id);
  }
  // A redistributed piece has no baseline: the next checkpoint stores it all.
  for (const auto &[id, list] : src.chain.sources)
    if (Region *r = m_regions.find(id); r && r->is_global()) {
      r->committed_hashes.clear();
      src.restored.insert(id);
    }
}

CheckpointId Runtime::finish_restart(std::unique_ptr<RestartSource> src, const RestartTimes &times,
                                     double seconds, std::int64_t level) {
  const MPI_Comm comm = m_comm.get();
  const RankChain &chain = src->chain;
  // Dirty tracking continues from this version, on the level it came from.
  m_chain.reset();
  for (std::size_t i = 0; i < chain.files.size(); ++i)
    m_chain.advance(chain.files[i].version, i == 0, chain.files[i].written_bytes);
  m_chain_is_local = level != CKPT_LEVEL_GLOBAL;
  // A local chain's records count this rank's bytes: the kind of the next
  // checkpoint is decided from every rank's.
  if (m_chain_is_local) m_chain.chain_bytes = allreduce_sum(comm, m_chain.chain_bytes);
  m_global_chain = m_chain_is_local ? ChainState{} : m_chain;
  m_global_dirty.clear();
  m_newest = m_newest_flushed = chain.version;
  if (!m_chain_is_local) m_global_committed = chain.version;
  // A chain holds one rank count: after a restart on another one the next
  // checkpoint is a base.
  if (chain.nranks != m_size) {
    m_chain.reset();
    m_global_chain = ChainState{};
  }
  const CheckpointId id{chain.version, chain.step};
  const bool base = chain.base;
  const std::size_t nfiles = chain.files.size();
  m_restart = std::move(src);

  std::uint64_t sums[3] = {0, times.bytes_read, times.requests}, totals[3];
  for (Region *r : regions_in_order())
    sums[0] += r->bytes();
  check_mpi(MPI_Allreduce(sums, totals, 3, MPI_UINT64_T, MPI_SUM, comm), "MPI_Allreduce");
  double local[4] = {times.open, times.metadata, times.data, times.verify}, worst[4];
  check_mpi(MPI_Allreduce(local, worst, 4, MPI_DOUBLE, MPI_MAX, comm), "MPI_Allreduce");
  if (m_rank == 0) {
    char line[768];
    std::snprintf(
        line, sizeof line,
        "restart from checkpoint version %lld (step %lld, %s, chain of %zu file(s), "
        "%s level): "
        "%s restored%s, %.3f s, %s/s; read %s in %llu request(s) from %zu file(s); "
        "metadata %.3f s, open %.3f s, data %.3f s (verify %.3f s, overlapped)",
        static_cast<long long>(id.version), static_cast<long long>(id.step),
        base ? "base" : "delta", nfiles, level_name(level), human_bytes(double(totals[0])).c_str(),
        m_config.verify() ? " and verified" : ", not verified (verify = false)", seconds,
        human_bytes(seconds > 0 ? double(totals[0]) / seconds : 0.0).c_str(),
        human_bytes(double(totals[1])).c_str(), static_cast<unsigned long long>(totals[2]), nfiles,
        worst[1], worst[0], worst[2], worst[3]);
    log_info(line);
  }
  // 6. Participants, collectively.
  try {
    agree(comm, capture([&] { debug_fail_point("restart_participants", m_rank); }));
    for_participants(comm, [&](CheckpointParticipant &p) { p.after_restart(*this); });
  } catch (...) {
    end_restart();
    throw;
  }
  return id;
}

} // namespace ckpt::detail
