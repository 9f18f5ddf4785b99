// Global regions in a format-2 checkpoint file (docs/FORMAT.md 2.5), on the
// write side: the views that show each global array by name (/regions/<name>, an HDF5 virtual
// dataset of the global shape mapped onto the block stores of the chain's files).
#ifndef CKPT_DETAIL_GLOBAL_STORAGE_HPP
#define CKPT_DETAIL_GLOBAL_STORAGE_HPP

#include "chain_model.hpp"
#include "checkpoint_file.hpp"

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ckpt::detail {

/// One file of a version's chain, as its region views need it.
struct ViewFile {
  std::string name;                  // file name, in the same directory
  std::vector<IndexRow> rows;        // all of /index
  std::vector<std::uint64_t> stored; // all of /stored_blocks
  std::vector<PieceRow> pieces;      // all of /pieces
};

/// One mapping of a region view: the piece elements [first, first + count)
/// of `rank` (row-major in its box) come from elements [source_offset, ...)
/// of /blocks/<name> of chain file `file`.
struct ViewRun {
  std::int32_t rank = 0;
  std::uint32_t file = 0;
  std::uint64_t first = 0, count = 0, source_offset = 0;
};

/// The runs of global region `region_id` in the newest of `chain` (base
/// first): each block from the newest file that stores it with the same
/// layout, consecutive blocks of one file merged. No I/O.
std::vector<ViewRun> view_runs(const std::vector<ViewFile> &chain, int region_id,
                               std::uint64_t block_size);

/// Rank 0: the files of `chain` in `dir` (base first; this version last,
/// described by `rows`, `stored` and `pieces`; the older ones read from
/// their metadata) as the region views of this version need them.
std::vector<ViewFile> view_chain_files(const std::string &dir, const std::string &prefix,
                                       const std::vector<std::int64_t> &chain,
                                       const std::vector<IndexRow> &rows,
                                       const std::vector<std::uint64_t> &stored,
                                       const std::vector<PieceRow> &pieces);

/// Rank 0, after the collective close: opens `path` (the newest file of
/// `chain`) alone and adds /regions/<name> for every global region of it.
void add_region_views(const std::string &path, const std::vector<ViewFile> &chain,
                      std::uint64_t block_size);

/// Collective: every rank's `mine` on rank 0, concatenated in rank order
/// (empty elsewhere).
std::vector<std::uint64_t> gather_u64_at_root(MPI_Comm comm,
                                              const std::vector<std::uint64_t> &mine);

} // namespace ckpt::detail

#endif
