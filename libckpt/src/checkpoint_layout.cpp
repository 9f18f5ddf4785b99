#include "checkpoint_layout.hpp"

namespace ckpt::detail {

FileSizes assign_offsets(std::vector<IndexRow> &rows) noexcept {
  FileSizes sizes;
  for (IndexRow &row : rows) {
    row.hash_offset = sizes.hashes;
    row.stored_offset = sizes.stored;
    row.data_offset = sizes.data;
    sizes.hashes += row.nblocks;
    sizes.stored += row.nstored;
    sizes.data += row.data_bytes;
  }
  sizes.rows = rows.size();
  return sizes;
}

std::string region_text(const IndexRow &row) {
  std::string name(row.name, sizeof row.name);
  name.resize(name.find('\0') == std::string::npos ? name.size() : name.find('\0'));
  return "rank " + std::to_string(row.rank) + " region " + std::to_string(row.region_id) + " '" +
         name + "'";
}

} // namespace ckpt::detail
