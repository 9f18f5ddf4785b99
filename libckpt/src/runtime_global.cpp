// Global regions in the runtime (docs/FORMAT.md 2.5 and 6): declaring a
// piece, agreeing on the decomposition, and restoring a piece that another
// decomposition wrote.
#include "runtime.hpp"

#include "catalog.hpp"
#include "chain_loader.hpp"
#include "error.hpp"
#include "global_storage.hpp"
#include "restart_source.hpp"
#include "runtime_scope.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>

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

std::vector<ViewFile> Runtime::view_chain(const std::vector<std::int64_t> &chain,
                                          const std::vector<IndexRow> &rows,
                                          const std::vector<std::uint64_t> &stored,
                                          const std::vector<PieceRow> &pieces) const {
  std::vector<ViewFile> files;
  for (std::size_t i = 0; i + 1 < chain.size(); ++i) {
    const std::string name = data_file_name(m_config.prefix(), chain[i]);
    ChainFileMeta meta = read_file_meta(join_path(m_dir, name), false);
    files.push_back(
        ViewFile{name, std::move(meta.rows), std::move(meta.stored), std::move(meta.pieces)});
  }
  files.push_back(ViewFile{data_file_name(m_config.prefix(), chain.back()), rows, stored, pieces});
  return files;
}

RestoreReport Runtime::restore_pieces(const RankChain &chain,
                                      const std::vector<Region *> &regions) {
  // Each old piece's needed blocks go to a staging buffer, are verified
  // there against the newest hashes, and their elements are copied into the
  // new piece.
  RankChain staging;
  staging.version = chain.version;
  staging.step = chain.step;
  staging.base = chain.base;
  staging.block_size = chain.block_size;
  staging.rank = chain.rank;
  staging.nranks = chain.nranks;
  staging.files = chain.files;
  struct Copy {
    const PieceSource *source;
    Region *region;
  };
  std::vector<Copy> copies;
  // Not value-initialised: every byte is read before it is used.
  std::map<int, std::unique_ptr<unsigned char[]>> buffers;
  std::map<int, RestoreTarget> targets;
  for (Region *r : regions) {
    const auto it = chain.sources.find(r->id);
    if (it == chain.sources.end()) continue;
    for (const PieceSource &src : it->second) {
      const int key = static_cast<int>(copies.size());
      copies.push_back({&src, r});
      RankRegion &slice = staging.regions[key] = src.slice;
      slice.row.region_id = key; // the read plan addresses targets by region id
      buffers[key].reset(new unsigned char[src.slice.row.bytes]);
      targets[key] = RestoreTarget{buffers[key].get(), src.slice.row.bytes};
    }
  }
  if (copies.empty()) return {};
  ChainRestorer restorer(staging);
  RestoreReport report = restorer.restore(targets, restore_options());
  if (report.damaged > 0) {
    const BlockDamage &d = report.damage.front();
    const PieceSource &src = *copies[static_cast<std::size_t>(d.region)].source;
    const IndexRow &row = src.slice.row;
    throw FormatError("block " + std::to_string(src.first_block + d.block) + " of " +
                      region_text(row) +
                      (d.file >= 0 ? " in " + chain.files[static_cast<std::size_t>(d.file)].path +
                                         " does not match its stored hash"
                                   : " is stored in no file of the chain") +
                      " (checkpoint version " + std::to_string(chain.version) + ")");
  }
  for (std::size_t k = 0; k < copies.size(); ++k) {
    const PieceSource &src = *copies[k].source;
    Region &r = *copies[k].region;
    copy_box(src.box, buffers[static_cast<int>(k)].get(),
             src.first_block * chain.block_size / src.elem_size, r.piece.box(),
             static_cast<unsigned char *>(r.data), r.elem_size);
  }
  return report;
}

} // namespace ckpt::detail
