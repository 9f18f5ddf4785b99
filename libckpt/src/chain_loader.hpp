// Reads the metadata of a delta chain from its HDF5 files, in one process
// (HDF5's POSIX driver; no MPI-IO), into the chain model: restart does this
// on rank 0 and scatters each rank's share; the ckpt tool does it directly.
#ifndef CKPT_DETAIL_CHAIN_LOADER_HPP
#define CKPT_DETAIL_CHAIN_LOADER_HPP

#include "catalog.hpp"
#include "chain_model.hpp"

#include <cstdint>
#include <string>

namespace ckpt::detail {

/// Reads one file's header, dataset extents, /index and /stored_blocks (and
/// /hashes when `with_hashes`). Only a regular file is opened; every extent
/// is checked against the file's size before anything is allocated. Throws
/// IoError (cannot read) or FormatError (not a valid checkpoint file).
ChainFileMeta read_file_meta(const std::string &path, bool with_hashes);

/// Loads and validates the chain of committed version `version` of
/// `catalog`. Throws FormatError naming the version and file at fault.
ChainModel load_chain(const Catalog &catalog, std::int64_t version);

} // namespace ckpt::detail

#endif
