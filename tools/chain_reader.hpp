// Reads one checkpoint version exactly the way restart does, with the core's
// chain model (libckpt/src/chain_model.hpp): the same validation, the same
// choice of the newest source of every block, the same reads. Rebuilds each
// rank's regions in memory, one region at a time. Used by `ckpt verify`
// (every block against the newest /hashes, and a diagnosis of each damaged
// one) and `ckpt merge` (the rebuilt bytes become a new base).
#ifndef CKPT_TOOL_CHAIN_READER_HPP
#define CKPT_TOOL_CHAIN_READER_HPP

#include "catalog.hpp"
#include "chain_model.hpp"
#include "chain_restore.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
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
  /// Loads and validates the chain (base first; every version committed in
  /// `catalog`) with the core's chain model, exactly as restart does. Throws
  /// ToolError: damage_found naming the file, or bad_input when a file
  /// cannot be read (permission).
  ChainReader(const detail::Catalog &catalog, const std::vector<std::int64_t> &chain);
  ~ChainReader();
  ChainReader(const ChainReader &) = delete;
  ChainReader &operator=(const ChainReader &) = delete;

  [[nodiscard]] const detail::FileHeader &newest_header() const { return m_model->newest().header; }
  [[nodiscard]] std::uint64_t block_size() const noexcept { return m_model->block_size(); }
  /// The regions of the version (rows of the newest file's /index, in file order).
  [[nodiscard]] const std::vector<detail::IndexRow> &regions() const { return m_model->regions(); }
  /// The pieces of the version's global regions (newest /pieces).
  [[nodiscard]] const std::vector<detail::PieceRow> &pieces() const {
    return m_model->newest().pieces;
  }
  [[nodiscard]] std::size_t file_count() const noexcept { return m_model->files().size(); }
  [[nodiscard]] const std::string &file_path(std::size_t fi) const {
    return m_model->files()[fi].path;
  }
  [[nodiscard]] std::int64_t file_version(std::size_t fi) const {
    return m_model->files()[fi].header.version;
  }

  /// Block hashes of `row` recorded in the newest file.
  [[nodiscard]] std::vector<std::uint64_t> recorded_hashes(const detail::IndexRow &row) const;
  /// Rebuilds `row` into `out` as restart does. Returns, for each block, the
  /// index of the chain file that supplies it (-1: none). Throws ToolError
  /// (damage_found) when a file cannot be read.
  std::vector<int> rebuild(const detail::IndexRow &row, std::vector<unsigned char> &out);
  /// Rebuilds `row` into `out` and checks every block against the newest
  /// hashes. Appends up to `max_reported` entries to `damage`; returns the
  /// number of damaged blocks (1 when the region could not be rebuilt).
  std::uint64_t verify(const detail::IndexRow &row, std::vector<unsigned char> &out,
                       std::vector<Damage> &damage, std::size_t max_reported);

private:
  struct RankFiles; // a rank's share of the chain and its open files
  RankFiles &rank_files(int rank);
  detail::RestoreReport restore(const detail::IndexRow &row, std::vector<unsigned char> &out,
                                const detail::RestoreOptions &options);
  Damage damage_at(std::size_t fi, const detail::IndexRow &row, std::int64_t block,
                   const std::string &problem) const;
  /// The damage of `block` of `row`, whose bytes (hash `actual`) came from
  /// file `fi`: damaged bytes there, or a damaged /hashes in the newest file.
  Damage classify(const detail::IndexRow &row, std::uint64_t block, std::size_t fi,
                  std::uint64_t actual);

  std::unique_ptr<detail::ChainModel> m_model;
  std::unique_ptr<RankFiles> m_current;
};

} // namespace ckpt::tool

#endif
