// Reads one checkpoint version the way restart does: opens every file of its
// delta chain (base first) over MPI_COMM_SELF, and rebuilds each rank's
// regions in memory, one region at a time, by applying the stored blocks of
// each file in order. Used by `ckpt verify` (every block against the newest
// /hashes) and `ckpt merge` (the rebuilt bytes become a new base).
#ifndef CKPT_TOOL_CHAIN_READER_HPP
#define CKPT_TOOL_CHAIN_READER_HPP

#include "catalog.hpp"
#include "checkpoint_file.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ckpt::tool {

/// One damaged block (block >= 0) or region (block < 0) of a version.
struct Damage {
  std::string file; // the file to blame
  std::int64_t file_version = 0;
  int rank = -1;
  int region_id = 0;
  std::string region;
  std::int64_t block = -1;
  std::string problem;

  /// "ckpt.v000004.h5: rank 1 region 0 'grid' block 3: <problem>".
  [[nodiscard]] std::string describe() const;
};

class ChainReader {
public:
  /// Opens the files of `chain` (base first; every version committed in
  /// `catalog`) and checks their headers and /index against the commit
  /// records. Throws ToolError: damage_found naming the file, or bad_input
  /// when a file cannot be read (permission).
  ChainReader(const detail::Catalog &catalog, const std::vector<std::int64_t> &chain);

  [[nodiscard]] const detail::FileHeader &newest_header() const { return m_files.back().header(); }
  [[nodiscard]] std::uint64_t block_size() const noexcept { return m_block_size; }
  /// The regions of the version (rows of the newest file's /index, in file order).
  [[nodiscard]] const std::vector<detail::IndexRow> &regions() const { return m_files.back().rows; }
  [[nodiscard]] std::size_t file_count() const noexcept { return m_files.size(); }
  [[nodiscard]] const std::string &file_path(std::size_t fi) const { return m_files[fi].path(); }
  [[nodiscard]] std::int64_t file_version(std::size_t fi) const {
    return m_files[fi].header().version;
  }

  /// Block hashes of `row` recorded in the newest file.
  std::vector<std::uint64_t> recorded_hashes(const detail::IndexRow &row);
  /// Rebuilds `row` into `out` as restart does. Returns, for each block, the
  /// index of the chain file that supplied it last (-1: none). Throws
  /// ToolError (damage_found) when a file's stored-block list or data is
  /// unreadable or inconsistent.
  std::vector<int> rebuild(const detail::IndexRow &row, std::vector<unsigned char> &out);
  /// Rebuilds `row` into `out` and checks every block against the newest
  /// hashes. Appends up to `max_reported` entries to `damage`; returns the
  /// number of damaged blocks (1 when the region could not be rebuilt).
  std::uint64_t verify(const detail::IndexRow &row, std::vector<unsigned char> &out,
                       std::vector<Damage> &damage, std::size_t max_reported);

private:
  struct ChainFile {
    detail::CheckpointFile file;
    std::vector<detail::IndexRow> rows;
    std::map<std::pair<int, int>, std::size_t> by_region; // (rank, region id) -> row
    [[nodiscard]] const std::string &path() const { return file.path(); }
    [[nodiscard]] const detail::FileHeader &header() const { return file.header(); }
  };

  void check_index(ChainFile &f, int nranks) const;
  /// The row of file `fi` for the same (rank, region) with the same layout
  /// as `newest`, or null (restart ignores rows whose layout differs).
  const detail::IndexRow *applicable_row(std::size_t fi, const detail::IndexRow &newest) const;
  std::vector<std::uint64_t> stored_blocks(std::size_t fi, const detail::IndexRow &row);
  Damage damage_at(std::size_t fi, const detail::IndexRow &row, std::int64_t block,
                   const std::string &problem) const;

  std::vector<ChainFile> m_files;
  std::uint64_t m_block_size = 0;
};

} // namespace ckpt::tool

#endif
