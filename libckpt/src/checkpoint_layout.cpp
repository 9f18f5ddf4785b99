#include "checkpoint_layout.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

namespace ckpt::detail {

bool is_global_row(const std::vector<PieceRow> &pieces, const IndexRow &row) noexcept {
  return std::any_of(pieces.begin(), pieces.end(), [&](const PieceRow &p) {
    return p.rank == row.rank && p.region_id == row.region_id;
  });
}

FileSizes assign_offsets(std::vector<IndexRow> &rows, const std::vector<PieceRow> &pieces) {
  FileSizes sizes;
  std::map<int, std::size_t> store_of;
  for (const PieceRow &p : pieces)
    if (!store_of.count(p.region_id)) {
      store_of[p.region_id] = 0;
      sizes.stores.push_back(
          BlockStore{p.region_id, std::string(p.name, strnlen(p.name, sizeof p.name)), p.type, 0});
    }
  std::sort(sizes.stores.begin(), sizes.stores.end(),
            [](const BlockStore &a, const BlockStore &b) { return a.region_id < b.region_id; });
  for (std::size_t i = 0; i < sizes.stores.size(); ++i)
    store_of[sizes.stores[i].region_id] = i;
  std::set<std::pair<int, int>> global;
  for (const PieceRow &p : pieces)
    global.emplace(p.rank, p.region_id);
  for (IndexRow &row : rows) {
    row.hash_offset = sizes.hashes;
    row.stored_offset = sizes.stored;
    sizes.hashes += row.nblocks;
    sizes.stored += row.nstored;
    std::uint64_t &data = global.count({row.rank, row.region_id})
                              ? sizes.stores[store_of.at(row.region_id)].bytes
                              : sizes.data;
    row.data_offset = data;
    data += row.data_bytes;
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
