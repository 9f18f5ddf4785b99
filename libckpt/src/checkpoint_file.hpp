// One checkpoint version as a shared parallel-HDF5 file (docs/FORMAT.md):
//   /            attributes: format, format_version, version, step, kind, ...
//   /index       one row per (rank, region): layout and offsets
//   /hashes      uint64 XXH3 of every block of every region (current state)
//   /stored_blocks uint64 index of each block whose bytes are in this file
//   /data        uint8 bytes of the stored blocks, rank by rank
#ifndef CKPT_DETAIL_CHECKPOINT_FILE_HPP
#define CKPT_DETAIL_CHECKPOINT_FILE_HPP

#include "checkpoint_layout.hpp"
#include "global_region.hpp"
#include "h5.hpp"

#include <mpi.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ckpt::detail {

/// A contiguous transfer between memory and a byte range of /data.
struct DataOp {
  void *memory = nullptr;
  std::uint64_t bytes = 0;
  std::uint64_t file_offset = 0;
};

class CheckpointFile {
public:
  using Sizes = FileSizes;

  /// Collective over comm: creates `path` (a new file: H5F_ACC_EXCL; rank 0
  /// first removes a regular file of that name left by a crashed attempt and
  /// refuses a symbolic link or other non-regular file) with empty datasets.
  /// Agreed: when it fails on any rank, it fails on every rank with the same
  /// error and nothing stays open.
  static CheckpointFile create(const std::string &path, MPI_Comm comm, const FileHeader &header,
                               const Sizes &sizes);
  /// Opens `path` read-only in this process alone (HDF5's POSIX driver, no
  /// MPI-IO): how one rank or the tool reads a chain's metadata.
  static CheckpointFile open_serial(const std::string &path);

  CheckpointFile() = default;
  CheckpointFile(CheckpointFile &&) noexcept = default;
  CheckpointFile &operator=(CheckpointFile &&) noexcept = default;
  ~CheckpointFile() = default; // handles close themselves; use close() to see errors

  [[nodiscard]] const std::string &path() const noexcept { return m_path; }
  [[nodiscard]] const FileHeader &header() const noexcept { return m_header; }
  [[nodiscard]] const Sizes &sizes() const noexcept { return m_sizes; }

  /// Collective: writes the metadata now, so that a later failure of the data
  /// writes (ENOSPC) leaves a clean metadata cache and abandon() can close.
  void flush_metadata();
  /// Byte offset of /data in the file, checked to be one contiguous,
  /// unfiltered extent (0 when /data is empty): restart reads it directly.
  [[nodiscard]] std::uint64_t data_address() const;
  /// Bytes the file occupies once written (all space is allocated at creation).
  [[nodiscard]] std::uint64_t allocated_bytes() const;
  /// Collective: rank `writer` writes all rows, the others nothing.
  void write_index(const std::vector<IndexRow> &rows, bool writer);
  /// Collective: every rank reads every row.
  std::vector<IndexRow> read_index();
  /// Collective: creates /pieces (format 2, docs/FORMAT.md 2.5) with the
  /// rows every rank passes alike; rank `writer` writes them.
  void write_pieces(const std::vector<PieceRow> &rows, bool writer);
  /// All of /pieces (empty for a format 1 file), at most `limit` rows.
  std::vector<PieceRow> read_pieces(std::uint64_t limit);
  /// Collective when `collective`: one contiguous slab of a uint64 dataset
  /// ("hashes" or "stored_blocks") per rank (possibly empty).
  void write_u64(const char *dataset, std::uint64_t offset,
                 const std::vector<std::uint64_t> &values);
  std::vector<std::uint64_t> read_u64(const char *dataset, std::uint64_t offset,
                                      std::uint64_t count, bool collective);
  /// Collective: one transfer to /data (every rank calls, with an empty op
  /// when it has nothing). Restart reads /data directly (chain_restore.hpp).
  void write_data(const DataOp &op);
  /// Collective: one transfer to the block store of global region `id`
  /// (file_offset and bytes in bytes, whole elements).
  void write_store(int id, const DataOp &op);
  /// Byte offset and size of the block store of global region `id` named
  /// `name` (format 2), checked to be one contiguous, unfiltered extent of
  /// elements of `elem_size` bytes; (0, 0) when it is empty.
  [[nodiscard]] std::pair<std::uint64_t, std::uint64_t> store_extent(const std::string &name,
                                                                     std::uint64_t elem_size) const;
  /// Collective: closes, reporting errors (a flush happens here). The handle
  /// is released even on error (HDF5 cannot retry a close).
  void close();
  /// Collective, after a failed write: frees the partial file's space
  /// (rank `truncater` truncates it, e.g. after ENOSPC) and closes it,
  /// ignoring errors, so that nothing stays open inside HDF5.
  void abandon(MPI_Comm comm, bool truncater) noexcept;

private:
  static CheckpointFile open_with(const std::string &path, hid_t fapl);
  Sizes read_sizes() const;
  void define(const FileHeader &header, const Sizes &sizes);
  void transfer(const char *dataset, hid_t mem_type, bool write, void *memory, std::uint64_t offset,
                std::uint64_t count, bool collective);
  void transfer_on(H5Id &d, std::uint64_t extent, const std::string &name, hid_t mem_type,
                   bool write, void *memory, std::uint64_t offset, std::uint64_t count,
                   bool collective);
  H5Id &dataset(const char *name);

  std::string m_path;
  bool m_serial = false; ///< written by one process through HDF5's POSIX driver
  FileHeader m_header;
  Sizes m_sizes;
  H5Id m_file;
  H5Id m_index, m_hashes, m_stored, m_data;
  std::map<int, H5Id> m_stores; // block stores of global regions, by region id
  H5Id m_dxpl_collective, m_dxpl_independent;
};

/// The compound HDF5 type of IndexRow.
H5Id index_row_type();
/// The compound HDF5 type of PieceRow.
H5Id piece_row_type();
/// The little-endian HDF5 type of a ckpt_type's elements as stored (bytes:
/// H5T_STD_U8LE).
hid_t file_type_of(ckpt_type type) noexcept;

} // namespace ckpt::detail

#endif
