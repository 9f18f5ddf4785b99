// The one model of a delta chain (docs/FORMAT.md, section 5), used by restart
// and by the ckpt tool alike. No MPI, no HDF5:
//
//   ChainFileMeta  what one file of the chain holds, as read by one process
//                  (chain_loader.hpp reads it; restart does so on rank 0 only)
//   ChainModel     validates every file against the commit records and the
//                  format's rules, and decides which rows apply to which
//                  region; throws FormatError naming the file, rank and region
//   RankChain      one rank's share of a validated chain: everything it needs
//                  to restore its regions without reading any metadata itself;
//                  serialisable, so that rank 0 can scatter it
//   plan_reads     which byte ranges of which files to read, in large
//                  sequential requests, and which blocks each one verifies
#ifndef CKPT_DETAIL_CHAIN_MODEL_HPP
#define CKPT_DETAIL_CHAIN_MODEL_HPP

#include "checkpoint_layout.hpp"
#include "commit_record.hpp"
#include "global_region.hpp"

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace ckpt::detail {

/// What one file of a chain holds.
struct ChainFileMeta {
  std::string path;
  FileHeader header;
  FileSizes sizes;
  std::uint64_t file_bytes = 0;      // size of the file
  std::uint64_t data_address = 0;    // byte offset of /data in the file (contiguous layout)
  std::uint64_t record_bytes = 0;    // local level: size of the record holding the tables
  std::vector<IndexRow> rows;        // all of /index
  std::vector<std::uint64_t> stored; // all of /stored_blocks
  std::vector<std::uint64_t> hashes; // all of /hashes (newest file only; empty otherwise)
  std::vector<PieceRow> pieces;      // all of /pieces (format 2; empty for format 1)
  /// Block stores of the global regions of `pieces`: region id -> (byte
  /// offset in the file, bytes).
  std::map<int, std::pair<std::uint64_t, std::uint64_t>> stores;
};

/// One region of one rank, as the chain restores it.
struct RankRegion {
  /// The blocks one file of the chain stores for this region.
  struct Part {
    std::uint32_t file = 0;        // index in RankChain::files
    std::uint64_t data_offset = 0; // first byte of the region's blocks in the file (absolute)
    std::vector<std::uint64_t> stored;
  };
  IndexRow row;                      // the newest file's row
  std::vector<std::uint64_t> hashes; // the newest file's hash of every block
  std::vector<Part> parts;           // files whose row applies, oldest first
};

/// Blocks [first_block, first_block + slice.row.nblocks) of an old rank's
/// piece of a global region (`slice` renumbers them from 0): what a rank of
/// a job with another decomposition reads to fill its own piece.
struct PieceSource {
  Box box;                       // the old piece, in the global array
  std::uint64_t first_block = 0; // of the old piece
  std::uint64_t elem_size = 1;
  RankRegion slice;
};

/// The blocks [b0, b1) of `region`, renumbered from 0 (the last one is
/// short only when b1 is the region's last block).
RankRegion slice_blocks(const RankRegion &region, std::uint64_t b0, std::uint64_t b1,
                        std::uint64_t block_size);

/// A rank's share of a validated chain.
struct RankChain {
  struct File {
    std::int64_t version = 0;
    std::string path;
    std::uint64_t file_bytes = 0;
    std::uint64_t data_address = 0;
    std::uint64_t data_bytes = 0;    // extent of /data
    std::uint64_t written_bytes = 0; // state bytes the version wrote (commit record)
  };
  std::int64_t version = 0;
  std::int64_t step = 0;
  bool base = true;
  std::uint64_t block_size = 0;
  std::int32_t rank = 0;
  std::int32_t nranks = 0;
  std::vector<File> files; // base first
  std::map<int, RankRegion> regions;
  /// Global regions of the version (docs/FORMAT.md 2.5): the global shape
  /// (old rank 0's row), this rank's old box when the rank count is the
  /// same, and, for a piece this rank declared differently, where its
  /// elements come from. A global region in `regions` is restored directly.
  std::map<int, PieceRow> globals;
  std::map<int, Box> own_boxes;
  std::map<int, std::vector<PieceSource>> sources;
  /// Per-rank regions that cannot be restored on another number of ranks
  /// (not identical on every rank that wrote them).
  std::map<int, std::string> unshared;

  [[nodiscard]] std::string serialize() const;
  /// Throws FormatError naming `origin` when the bytes are not a RankChain
  /// (every count is bounded by the bytes that remain).
  static RankChain deserialize(const std::string &bytes, const std::string &origin);
  /// The newest source of every block of `region` (index in `parts`), -1 if
  /// no file stores it.
  [[nodiscard]] std::vector<std::int32_t> block_sources(const RankRegion &region) const;
};

class ChainModel {
public:
  /// `records` and `files` are the chain's commit records and files, base
  /// first; the newest file carries its /hashes. Throws FormatError naming
  /// the file (and rank and region) of the first rule broken.
  ChainModel(std::vector<CommitRecord> records, std::vector<ChainFileMeta> files);

  [[nodiscard]] const CommitRecord &record() const noexcept { return m_records.back(); }
  [[nodiscard]] const std::vector<CommitRecord> &records() const noexcept { return m_records; }
  [[nodiscard]] const std::vector<ChainFileMeta> &files() const noexcept { return m_files; }
  [[nodiscard]] const ChainFileMeta &newest() const noexcept { return m_files.back(); }
  [[nodiscard]] std::int32_t nranks() const noexcept { return m_files.back().header.nranks; }
  [[nodiscard]] std::uint64_t block_size() const noexcept {
    return m_files.back().header.block_size;
  }
  /// The rows of the newest file, in file order: the regions of the version.
  [[nodiscard]] const std::vector<IndexRow> &regions() const noexcept {
    return m_files.back().rows;
  }
  /// Row of file `fi` for the same rank and region as `newest` with the same
  /// layout, or null: a region whose layout changed restarts from the
  /// version that changed it.
  [[nodiscard]] const IndexRow *applicable_row(std::size_t fi, const IndexRow &newest) const;
  /// The stored block indices of `row` of file `fi`.
  [[nodiscard]] std::vector<std::uint64_t> stored_blocks(std::size_t fi, const IndexRow &row) const;
  /// `rank`'s share: its regions of the newest version and what applies.
  [[nodiscard]] RankChain rank_view(std::int32_t rank) const;
  /// The share of rank `rank` of a job of `job_ranks` ranks whose pieces of
  /// global regions are `pieces` (that rank's rows; docs/FORMAT.md 6.2):
  /// global regions come from every old piece that overlaps the new one;
  /// with another rank count, per-rank regions come from rank 0 when every
  /// old rank had them alike (else they are listed in `unshared`).
  [[nodiscard]] RankChain job_view(std::int32_t rank, std::int32_t job_ranks,
                                   const std::vector<PieceRow> &pieces) const;

private:
  void check_file(std::size_t fi) const;
  void check_rows(std::size_t fi);
  void check_pieces(std::size_t fi);
  void check_piece_rows(std::size_t fi) const;
  /// Whether `row` of file `fi` is a piece of a global region, whose bytes
  /// are in the region's block store (else in /data).
  [[nodiscard]] bool is_global(std::size_t fi, const IndexRow &row) const;
  /// Absolute file offset of the first stored byte of `row` of file `fi`.
  [[nodiscard]] std::uint64_t data_position(std::size_t fi, const IndexRow &row) const;

  std::vector<CommitRecord> m_records;
  std::vector<ChainFileMeta> m_files;
  std::vector<std::map<std::pair<int, int>, std::size_t>> m_by_region; // per file
  std::vector<std::set<std::pair<int, int>>> m_global; // (rank, region id) of pieces, per file
};

/// One read request: a contiguous range of one file, scattered into the
/// memory of one or more runs of blocks.
struct ReadChunk {
  struct Run {
    int region = 0;                // region id
    std::uint64_t first_block = 0; // block of the region at the run's first byte
    std::uint64_t nblocks = 0;
    std::uint64_t bytes = 0;
  };
  std::uint32_t file = 0;
  std::uint64_t file_offset = 0; // absolute, in the file
  std::uint64_t bytes = 0;
  std::vector<Run> runs;
  /// (region id, block) whose final bytes this chunk brings: verified after it.
  std::vector<std::pair<int, std::uint64_t>> verify;
};

struct ReadPlanOptions {
  /// Superseded bytes between two wanted blocks of a file are read rather
  /// than skipped when the gap is at most this long (see device_bridge_bytes).
  std::uint64_t bridge_bytes = 0;
  /// Longest request (chunks end on block boundaries).
  std::uint64_t max_chunk = 8u << 20;
  /// Most memory runs per request (IOV_MAX).
  std::size_t max_runs = 1024;
};

/// Requests that bring every block of `regions` (ids) of `chain` from its
/// newest source, files oldest first, each file front to back.
std::vector<ReadChunk> plan_reads(const RankChain &chain, const std::vector<int> &regions,
                                  const ReadPlanOptions &options);

} // namespace ckpt::detail

#endif
