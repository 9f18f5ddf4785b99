// Global regions in the runtime (docs/FORMAT.md 2.5 and 6): declaring a
// piece, agreeing on the decomposition, and restoring a piece that another
// decomposition wrote.
#include "runtime.hpp"

#include "catalog.hpp"
#include "chain_loader.hpp"
#include "error.hpp"
#include "global_storage.hpp"
#include "log.hpp"
#include "restart_source.hpp"
#include "runtime_scope.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <future>
#include <memory>
#include <set>
#include <tuple>

namespace ckpt::detail {

void Runtime::protect_global(int id, const std::string &name, void *data, ckpt_type type,
                             const std::vector<std::uint64_t> &global_dims,
                             const std::vector<std::uint64_t> &offset,
                             const std::vector<std::uint64_t> &local_dims) {
  const std::string context =
      "ckpt_protect_global: region " + std::to_string(id) + " '" + name + "'";
  if (global_dims.size() != offset.size() || offset.size() != local_dims.size())
    throw ArgumentError(context + ": global_dims, offset and local_dims differ in length");
  const PieceRow piece = make_piece(m_rank, id, name, type, static_cast<int>(global_dims.size()),
                                    global_dims.data(), offset.data(), local_dims.data(), context);
  if (m_config.block_size() % type_size(type) != 0)
    throw ArgumentError(context + ": block_size " + std::to_string(m_config.block_size()) +
                        " is not a multiple of the element size");
  Region &r = m_regions.protect(id, name, data, piece.box().count(), type_size(type), type);
  r.piece = piece;
  if (!m_restart || m_restart->restored.count(id)) return;
  RankChain &chain = m_restart->chain;
  const auto own = chain.own_boxes.find(id);
  if (chain.regions.count(id) && own != chain.own_boxes.end() && own->second == piece.box()) {
    m_restart->restored.insert(id);
    restore_late(r);
  } else if (chain.globals.count(id)) {
    throw MismatchError(context + " is protected after ckpt_restart with the piece " +
                        piece.box().text() +
                        ", not the one this rank had: protect global regions before "
                        "ckpt_restart so that their pieces can be redistributed");
  }
}

namespace {

/// Collective: every rank's `mine`, concatenated in rank order.
std::string allgather_bytes(MPI_Comm comm, const std::string &mine) {
  int size = 0;
  check_mpi(MPI_Comm_size(comm, &size), "MPI_Comm_size");
  const int n = static_cast<int>(mine.size());
  std::vector<int> counts(static_cast<std::size_t>(size)), displs(static_cast<std::size_t>(size));
  check_mpi(MPI_Allgather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, comm), "MPI_Allgather");
  long long total = 0;
  for (int r = 0; r < size; ++r) {
    displs[static_cast<std::size_t>(r)] = static_cast<int>(total);
    total += counts[static_cast<std::size_t>(r)];
  }
  if (total > INT_MAX) throw ArgumentError("the pieces of the job's global regions exceed 2 GiB");
  std::string all(static_cast<std::size_t>(total), '\0');
  check_mpi(MPI_Allgatherv(mine.data(), n, MPI_BYTE, all.data(), counts.data(), displs.data(),
                           MPI_BYTE, comm),
            "MPI_Allgatherv");
  return all;
}

} // namespace

std::vector<PieceRow> Runtime::agreed_pieces(const std::string &call) {
  std::vector<PieceRow> mine;
  for (const auto &[id, r] : m_regions.all())
    if (r.is_global()) mine.push_back(r.piece);
  const std::string bytes =
      allgather_bytes(m_comm.get(), std::string(reinterpret_cast<const char *>(mine.data()),
                                                mine.size() * sizeof(PieceRow)));
  std::vector<PieceRow> all(bytes.size() / sizeof(PieceRow));
  if (!all.empty()) std::memcpy(all.data(), bytes.data(), all.size() * sizeof(PieceRow));
  // Every rank checks the same rows: the outcome is the same everywhere.
  check_tiling(all, m_size, call + ": the pieces of the job");
  return all;
}

namespace {

std::string shape_of(const PieceRow &p) {
  std::string s = std::string(type_name(static_cast<ckpt_type>(p.type))) + "[";
  for (int d = 0; d < p.ndims; ++d)
    s += (d ? " x " : "") + std::to_string(p.global_dims[d]);
  return s + "]";
}

} // namespace

void Runtime::check_global_layout(const RankChain &chain, const Region &region) const {
  const auto it = chain.globals.find(region.id);
  const std::string where = "rank " + std::to_string(m_rank) + " region " +
                            std::to_string(region.id) + " '" + region.name + "'";
  if (it == chain.globals.end())
    throw MismatchError(where + " is protected as a global region but checkpoint version " +
                        std::to_string(chain.version) + " (" + chain.files.back().path +
                        ") does not hold it as one");
  const PieceRow &saved = it->second;
  if (saved.type != region.piece.type || saved.ndims != region.piece.ndims ||
      !std::equal(saved.global_dims, saved.global_dims + saved.ndims, region.piece.global_dims))
    throw MismatchError(where + " is protected as " + shape_of(region.piece) +
                        " but was saved in " + chain.files.back().path + " as " + shape_of(saved));
}

bool Runtime::local_levels_fit(const Catalog *catalog, const std::vector<PieceRow> &pieces) {
  if (pieces.empty()) return true; // alike on every rank
  int fit = 1;
  if (m_rank == 0) {
    try {
      if (const auto newest = catalog ? catalog->newest_committed() : std::nullopt) {
        const ChainFileMeta meta = read_file_meta(catalog->data_path(*newest), false);
        auto key = [](const PieceRow &p) {
          return std::make_tuple(p.rank, p.region_id, p.type, p.ndims,
                                 std::vector<std::uint64_t>(p.global_dims, p.global_dims + 3),
                                 std::vector<std::uint64_t>(p.offset, p.offset + 3),
                                 std::vector<std::uint64_t>(p.dims, p.dims + 3));
        };
        std::set<decltype(key(pieces.front()))> written, declared;
        for (const PieceRow &p : meta.pieces)
          written.insert(key(p));
        for (const PieceRow &p : pieces)
          declared.insert(key(p));
        fit = meta.header.nranks == m_size && written == declared ? 1 : 0;
        if (!fit)
          log_info("the pieces of the global regions differ from those of checkpoint version " +
                   std::to_string(*newest) +
                   ": restarting from the global level (the local level records none)");
      }
    } catch (const std::exception &e) {
      fit = 0;
      log_warn(std::string("the local level is not used for this restart: ") + e.what());
    }
  }
  check_mpi(MPI_Bcast(&fit, 1, MPI_INT, 0, m_comm.get()), "MPI_Bcast");
  return fit == 1;
}

RestoreReport Runtime::restore_pieces(const RankChain &chain,
                                      const std::vector<Region *> &regions) {
  // The needed blocks of the old pieces are read in rounds of at most
  // k_round_bytes into a staging buffer, verified there against the newest
  // hashes, and their elements copied into the new pieces by a helper
  // thread while the next round is read into the other buffer: memory stays
  // bounded (two buffers), each faulted in once.
  constexpr std::uint64_t k_round_bytes = 64u << 20;
  const std::uint64_t bs = chain.block_size;
  const std::uint64_t round_blocks = std::max<std::uint64_t>(1, k_round_bytes / bs);
  struct Item {
    const PieceSource *source;
    Region *region;
    std::uint64_t c0, c1; // blocks of the source's slice
  };
  std::vector<std::vector<Item>> rounds(1);
  std::uint64_t in_round = 0;
  for (Region *r : regions) {
    const auto it = chain.sources.find(r->id);
    if (it == chain.sources.end()) continue;
    for (const PieceSource &src : it->second)
      for (std::uint64_t c0 = 0; c0 < src.slice.row.nblocks;) {
        if (in_round == round_blocks) {
          rounds.emplace_back();
          in_round = 0;
        }
        const std::uint64_t c1 = std::min(src.slice.row.nblocks, c0 + (round_blocks - in_round));
        rounds.back().push_back({&src, r, c0, c1});
        in_round += c1 - c0;
        c0 = c1;
      }
  }
  if (rounds.front().empty()) return {};
  RankChain staging;
  staging.version = chain.version;
  staging.step = chain.step;
  staging.base = chain.base;
  staging.block_size = bs;
  staging.rank = chain.rank;
  staging.nranks = chain.nranks;
  staging.files = chain.files;
  ChainRestorer restorer(staging); // opens the files once; reads staging.regions
  // Not value-initialised: every byte is read before it is used.
  const std::unique_ptr<unsigned char[]> buffers[2] = {
      std::unique_ptr<unsigned char[]>(new unsigned char[round_blocks * bs]),
      std::unique_ptr<unsigned char[]>(rounds.size() > 1 ? new unsigned char[round_blocks * bs]
                                                         : nullptr)};
  std::future<void> copying; // the previous round's copy (reads the other buffer)
  RestoreReport total;
  for (std::size_t ri = 0; ri < rounds.size(); ++ri) {
    const std::vector<Item> &round = rounds[ri];
    unsigned char *buffer = buffers[ri % 2].get();
    staging.regions.clear();
    std::map<int, RestoreTarget> targets;
    std::vector<std::uint64_t> at;
    std::uint64_t offset = 0;
    for (std::size_t k = 0; k < round.size(); ++k) {
      const Item &item = round[k];
      RankRegion &sub = staging.regions[static_cast<int>(k)] =
          slice_blocks(item.source->slice, item.c0, item.c1, bs);
      sub.row.region_id = static_cast<int>(k); // the read plan addresses targets by id
      targets[static_cast<int>(k)] = RestoreTarget{buffer + offset, sub.row.bytes};
      at.push_back(offset);
      offset += sub.row.bytes;
    }
    RestoreReport report;
    try {
      report = restorer.restore(targets, restore_options());
    } catch (...) {
      if (copying.valid()) copying.wait();
      throw;
    }
    if (copying.valid()) copying.get();
    total.bytes_read += report.bytes_read;
    total.requests += report.requests;
    total.blocks_verified += report.blocks_verified;
    total.read_seconds += report.read_seconds;
    total.verify_seconds += report.verify_seconds;
    if (report.damaged > 0) {
      const BlockDamage &d = report.damage.front();
      const Item &item = round[static_cast<std::size_t>(d.region)];
      throw FormatError("block " + std::to_string(item.source->first_block + item.c0 + d.block) +
                        " of " + region_text(item.source->slice.row) +
                        (d.file >= 0 ? " in " + chain.files[static_cast<std::size_t>(d.file)].path +
                                           " does not match its stored hash"
                                     : " is stored in no file of the chain") +
                        " (checkpoint version " + std::to_string(chain.version) + ")");
    }
    std::vector<std::uint64_t> sizes;
    for (std::size_t k = 0; k < round.size(); ++k)
      sizes.push_back(staging.regions.at(static_cast<int>(k)).row.bytes);
    copying = std::async(std::launch::async, [&round, buffer, at, sizes, bs] {
      for (std::size_t k = 0; k < round.size(); ++k) {
        const Item &item = round[k];
        const PieceSource &src = *item.source;
        const std::uint64_t first = (src.first_block + item.c0) * bs / src.elem_size;
        copy_box(src.box, buffer + at[k], first, first + sizes[k] / src.elem_size,
                 item.region->piece.box(), static_cast<unsigned char *>(item.region->data),
                 item.region->elem_size);
      }
    });
  }
  copying.get();
  return total;
}

} // namespace ckpt::detail
