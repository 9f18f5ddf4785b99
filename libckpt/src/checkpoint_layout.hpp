// The plain data of one checkpoint file (docs/FORMAT.md, section 2): root
// attributes, /index rows and dataset sizes. No MPI, no HDF5: shared by the
// file layer, the chain model and the tools.
#ifndef CKPT_DETAIL_CHECKPOINT_LAYOUT_HPP
#define CKPT_DETAIL_CHECKPOINT_LAYOUT_HPP

#include "global_region.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace ckpt::detail {

/// 2: global regions (/pieces, /regions); 1 is still read.
constexpr int k_format_version = 2;
constexpr const char *k_format_name = "libckpt";

/// One row of /index. Plain data: sent between ranks as bytes.
struct IndexRow {
  std::int32_t rank = 0;
  std::int32_t region_id = 0;
  char name[64] = {};
  std::int32_t type = 0;
  std::int32_t reserved = 0;
  std::uint64_t elem_size = 0;
  std::uint64_t count = 0;
  std::uint64_t bytes = 0;
  std::uint64_t nblocks = 0;
  std::uint64_t hash_offset = 0;   // first entry in /hashes
  std::uint64_t nstored = 0;       // blocks stored in this file
  std::uint64_t stored_offset = 0; // first entry in /stored_blocks
  std::uint64_t data_offset = 0;   // first byte in /data
  std::uint64_t data_bytes = 0;    // bytes in /data
};

/// Root-group attributes.
struct FileHeader {
  std::int64_t version = 0;
  std::int64_t step = 0;
  bool base = true;
  std::int64_t base_version = 0;
  std::int64_t parent_version = 0; // 0 for a base
  std::int32_t nranks = 0;
  std::uint64_t block_size = 0;
  std::int64_t created_unix = 0;
  std::int32_t format_version = k_format_version;
  std::string library_version;
  std::string topology; // hwloc summary of the node of rank 0
  std::string config;   // effective configuration, "key=value" lines
};

/// The typed block store of a global region in a format-2 file,
/// /blocks/<name> (docs/FORMAT.md 2.5): its stored blocks, rank by rank.
struct BlockStore {
  std::int32_t region_id = 0;
  std::string name;
  std::int32_t type = 0; // ckpt_type
  std::uint64_t bytes = 0;
};

/// Extents of the four datasets, and of the block stores (by region id).
struct FileSizes {
  std::uint64_t rows = 0, hashes = 0, stored = 0, data = 0;
  std::vector<BlockStore> stores;
};

/// Lays out `rows` (in rank, then region order) in the datasets: sets each
/// row's hash, stored and data offsets as prefix sums (docs/FORMAT.md 2.2)
/// and returns the dataset sizes. The rows of a global region (one with a
/// piece in `pieces`) keep their bytes in the region's block store, their
/// data offsets prefix sums over that region's rows.
FileSizes assign_offsets(std::vector<IndexRow> &rows, const std::vector<PieceRow> &pieces = {});

/// The region ids of `pieces` that are global for `rank`'s rows: (rank, id).
bool is_global_row(const std::vector<PieceRow> &pieces, const IndexRow &row) noexcept;

/// "rank 1 region 0 'grid'".
std::string region_text(const IndexRow &row);

} // namespace ckpt::detail

#endif
