#include "chain_loader.hpp"

#include "checkpoint_file.hpp"
#include "error.hpp"
#include "posix_file.hpp"
#include "region.hpp"

namespace ckpt::detail {

ChainFileMeta read_file_meta(const std::string &path, bool with_hashes) {
  ChainFileMeta meta;
  meta.path = path;
  // The file is checked before HDF5 sees it: a FIFO would block the open,
  // a symbolic link could point anywhere.
  meta.file_bytes = ReadOnlyFile(path).size();
  CheckpointFile file = CheckpointFile::open_serial(path);
  meta.header = file.header();
  meta.sizes = file.sizes();
  const std::uint64_t limit = meta.file_bytes;
  const FileSizes &s = meta.sizes;
  if (s.rows > limit / sizeof(IndexRow) || s.hashes > limit / 8 || s.stored > limit / 8 ||
      s.data > limit)
    throw FormatError(path + ": its datasets claim more bytes than the file's " +
                      std::to_string(limit));
  meta.data_address = file.data_address();
  meta.rows = file.read_index();
  meta.stored = file.read_u64("stored_blocks", 0, s.stored, true);
  if (with_hashes) meta.hashes = file.read_u64("hashes", 0, s.hashes, true);
  meta.pieces = file.read_pieces(limit / sizeof(PieceRow));
  for (const PieceRow &p : meta.pieces)
    if (!meta.stores.count(p.region_id))
      meta.stores[p.region_id] =
          file.store_extent(p.name, p.type >= CKPT_CHAR && p.type <= CKPT_DOUBLE
                                        ? type_size(static_cast<ckpt_type>(p.type))
                                        : 1);
  file.close();
  return meta;
}

ChainModel load_chain(const Catalog &catalog, std::int64_t version) {
  std::string problem;
  const auto chain = catalog.chain_of(version, problem);
  if (!chain) throw FormatError(problem);
  std::vector<CommitRecord> records;
  std::vector<ChainFileMeta> files;
  for (std::size_t i = 0; i < chain->size(); ++i) {
    const std::int64_t v = (*chain)[i];
    const VersionEntry *entry = catalog.find(v);
    if (!entry || !entry->record)
      throw FormatError("version " + std::to_string(v) + " of the chain of version " +
                        std::to_string(version) + " has no valid commit record");
    records.push_back(*entry->record);
    files.push_back(read_file_meta(catalog.data_path(v), i + 1 == chain->size()));
  }
  return ChainModel(std::move(records), std::move(files));
}

} // namespace ckpt::detail
