// The global level: one shared parallel-HDF5 file per version in the
// checkpoint directory (docs/FORMAT.md, sections 2-5), written by every rank
// together and committed by rank 0's commit record. Used synchronously (the
// application's memory is the source) or by the background flush (a
// snapshot taken by the checkpoint is the source): the file and its tables
// are created with HDF5 on the application's thread, the data written with
// POSIX calls, so that the flush thread never calls HDF5.
#ifndef CKPT_DETAIL_GLOBAL_LEVEL_HPP
#define CKPT_DETAIL_GLOBAL_LEVEL_HPP

#include "checkpoint_layout.hpp"
#include "checkpoint_plan.hpp"

#include <mpi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ckpt::detail {

/// Everything one rank contributes to a global version, owned, so that a
/// background thread can write it while the application runs on.
struct GlobalVersion {
  /// Bytes of stored blocks in memory: `blocks` (sorted) of a region of
  /// `bytes` at `memory`, in file order.
  struct Source {
    unsigned char *memory = nullptr;
    std::uint64_t bytes = 0;
    std::vector<std::uint64_t> blocks;
  };
  FileHeader header;                         // identical on every rank
  std::vector<std::int64_t> chain;           // base first, this version last
  std::vector<IndexRow> rows;                // this rank's, offsets from zero
  std::vector<std::uint64_t> hashes, stored; // this rank's, concatenated in row order
  SelectionTotals totals;                    // over all ranks
  std::vector<PieceRow> pieces; // every rank's pieces of the global regions (identical everywhere)
  std::vector<Source> sources;
  std::shared_ptr<const void> snapshot; // keeps the memory of `sources` alive
};

/// Builds the global version of `plan` (the application's memory as source).
GlobalVersion global_version_of(const VersionPlan &plan, std::int32_t rank,
                                const FileHeader &header, std::uint64_t block_size);

struct GlobalTarget {
  std::string dir, prefix;
  bool fsync = true;
  std::uint64_t staging_bytes = 16u << 20;
};

/// A created global file whose data is still to be written.
struct GlobalFile {
  std::string path, file_name;
  std::uint64_t data_address = 0; // byte offset of /data in the file
  std::uint64_t data_offset = 0;  // this rank's first byte in /data
  /// Where the stored bytes of each of this rank's rows go (absolute): in
  /// /data, or in the block store of a global region.
  std::vector<std::uint64_t> row_positions;
  FileSizes sizes;
  double t0 = 0; // MPI_Wtime at creation
};

/// Collective over `comm`, the only phase that calls HDF5 (which is not
/// thread-safe: it runs on the application's thread): lays out the rows,
/// creates the file with its tables, every dataset allocated, and closes
/// it. /data is left unwritten, nothing is synced yet. Agreed: on failure the
/// file is removed and every rank throws the same error.
GlobalFile create_global_file(MPI_Comm comm, const GlobalVersion &v, const GlobalTarget &t);

/// Collective over `comm`, no HDF5 (the background flush runs it): each rank
/// writes its blocks to its part of /data with POSIX calls and syncs them
/// (rank 0 the whole file); the outcome is agreed; rank 0 writes the commit record last. On failure
/// the file is removed and every rank throws the same error. Returns the
/// size of the committed file (rank 0; 0 elsewhere).
std::uint64_t finish_global_version(MPI_Comm comm, const GlobalVersion &v, const GlobalFile &f,
                                    const GlobalTarget &t);

/// Both, one after the other (the global level without a local level).
std::uint64_t write_global_version(MPI_Comm comm, const GlobalVersion &v, const GlobalTarget &t);

} // namespace ckpt::detail

#endif
