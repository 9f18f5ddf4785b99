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

#include "catalog.hpp"
#include "chain_loader.hpp"
#include "debug_hooks.hpp"
#include "error.hpp"
#include "log.hpp"
#include "participant.hpp"
#include "restart_source.hpp"
#include "runtime_scope.hpp"

#include <algorithm>
#include <cinttypes>
#include <climits>
#include <cstdio>

namespace ckpt::detail {

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

  // 1. Discover (rank 0): the committed versions, newest first.
  std::optional<Catalog> catalog;
  std::vector<std::int64_t> candidates;
  agree(comm, capture([&] {
          if (m_rank != 0) return;
          debug_fail_point("restart_discover", m_rank);
          catalog = Catalog::scan(m_dir, m_config.prefix());
          for (const auto &[v, e] : catalog->entries())
            if (e.state == VersionState::Corrupt && e.has_commit_record)
              log_warn("skipping checkpoint version " + std::to_string(v) + ": " + e.problem);
          candidates = catalog->committed_newest_first();
        }));
  broadcast_versions(comm, candidates);
  if (candidates.empty())
    throw NoCheckpointError("no committed checkpoint in " + m_dir + " (files " + m_config.prefix() +
                            ".v*.commit); start without --restart or check the directory");

  std::string reasons;
  for (std::int64_t v : candidates) {
    RestartTimes times;
    try {
      std::unique_ptr<RestartSource> src =
          open_restart_source(catalog ? &*catalog : nullptr, v, times);
      restore_protected(*src, times);
      return finish_restart(std::move(src), times, MPI_Wtime() - t0);
    } catch (const Error &e) {
      if (fatal_for_restart(e)) throw;
      if (m_rank == 0)
        log_error("checkpoint version " + std::to_string(v) +
                  " cannot be restored, trying an older one: " + e.what());
      reasons += "\n  version " + std::to_string(v) + ": " + e.what();
    }
  }
  throw Error(CKPT_ERR_CORRUPT, "no valid checkpoint in " + m_dir + ":" + reasons);
}

std::unique_ptr<RestartSource>
Runtime::open_restart_source(const Catalog *catalog, std::int64_t version, RestartTimes &times) {
  const MPI_Comm comm = m_comm.get();
  // 2. Metadata (rank 0): read once, validated, cut into shares for the
  //    pieces this job declared (agreed first: they must tile their arrays).
  const double t0 = MPI_Wtime();
  std::vector<PieceRow> pieces;
  agree(comm, capture([&] { pieces = agreed_pieces("ckpt_restart"); }));
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

void Runtime::restore_protected(RestartSource &src, RestartTimes &times) {
  const MPI_Comm comm = m_comm.get();
  // 4. Layout: every protected region must be in the share, with its layout.
  std::map<int, RestoreTarget> targets;
  agree(comm, capture([&] {
          debug_fail_point("restart_layout", m_rank);
          for (Region *r : regions_in_order()) {
            if (r->is_global()) check_global_layout(src.chain, *r);
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
                                     double seconds) {
  const MPI_Comm comm = m_comm.get();
  const RankChain &chain = src->chain;
  // Dirty tracking continues from this version; a chain holds one rank
  // count, so after a restart on another one the next checkpoint is a base.
  m_parent = chain.version;
  m_chain.clear();
  m_chain_bytes = 0;
  for (std::size_t i = 0; i < chain.files.size(); ++i) {
    m_chain.push_back(chain.files[i].version);
    if (i > 0) m_chain_bytes += chain.files[i].written_bytes;
  }
  if (chain.nranks != m_size) {
    m_parent.reset();
    m_chain.clear();
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
    std::snprintf(line, sizeof line,
                  "restart from checkpoint version %lld (step %lld, %s, chain of %zu file(s)): "
                  "%s restored%s, %.3f s, %s/s; read %s in %llu request(s) from %zu file(s); "
                  "metadata %.3f s, open %.3f s, data %.3f s (verify %.3f s, overlapped)",
                  static_cast<long long>(id.version), static_cast<long long>(id.step),
                  base ? "base" : "delta", nfiles, human_bytes(double(totals[0])).c_str(),
                  m_config.verify() ? " and verified" : ", not verified (verify = false)", seconds,
                  human_bytes(seconds > 0 ? double(totals[0]) / seconds : 0.0).c_str(),
                  human_bytes(double(totals[1])).c_str(),
                  static_cast<unsigned long long>(totals[2]), nfiles, worst[1], worst[0], worst[2],
                  worst[3]);
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
