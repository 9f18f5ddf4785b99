#include "checkpoint_plan.hpp"

#include "block_hasher.hpp"
#include "commit_record.hpp"
#include "dirty_tracking.hpp"
#include "region.hpp"

#include <cstring>
#include <numeric>

namespace ckpt::detail {

void ChainState::advance(std::int64_t version, bool base, std::uint64_t written_bytes) {
  if (base) chain.clear();
  chain.push_back(version);
  chain_bytes = base ? 0 : chain_bytes + written_bytes;
  parent = version;
}

std::vector<RegionSelection> select_dirty_blocks(const std::vector<Region *> &regions,
                                                 DirtyTracking &tracking, std::uint64_t block_size,
                                                 bool have_parent) {
  std::vector<RegionSelection> out;
  out.reserve(regions.size());
  for (Region *r : regions) {
    RegionSelection s;
    s.region = r;
    s.hashes = tracking.block_hashes(*r, block_size);
    tracking.observe(*r, s.hashes);
    s.changed =
        changed_blocks(s.hashes, have_parent ? r->committed_hashes : std::vector<std::uint64_t>{});
    out.push_back(std::move(s));
  }
  return out;
}

SelectionTotals count_selection(const std::vector<RegionSelection> &selection,
                                std::uint64_t block_size) noexcept {
  SelectionTotals t;
  for (const RegionSelection &s : selection) {
    const std::uint64_t bytes = s.region->bytes();
    t.state_bytes += bytes;
    t.blocks += s.hashes.size();
    t.changed_blocks += s.changed.size();
    for (std::uint64_t b : s.changed)
      t.changed_bytes += block_bytes(bytes, block_size, b);
  }
  return t;
}

bool decide_base(const ChainState &state, int base_every, const SelectionTotals &totals) noexcept {
  if (!state.parent) return true;
  if (base_every <= 0 || state.chain.size() >= static_cast<std::size_t>(base_every) ||
      state.chain.size() >= k_max_chain_length)
    return true;
  // A delta in which every block changed would hold the whole state.
  if (totals.blocks > 0 && totals.changed_blocks == totals.blocks) return true;
  return state.chain_bytes + totals.changed_bytes > totals.state_bytes;
}

VersionPlan make_version_plan(std::int64_t version, std::int64_t step, const ChainState &state,
                              bool base, std::vector<RegionSelection> regions,
                              const SelectionTotals &totals) {
  VersionPlan p;
  p.version = version;
  p.step = step;
  p.base = base;
  if (!base) p.chain = state.chain;
  p.chain.push_back(version);
  p.totals = totals;
  for (RegionSelection &s : regions) {
    std::vector<std::uint64_t> stored;
    if (base) {
      stored.resize(s.hashes.size());
      std::iota(stored.begin(), stored.end(), std::uint64_t{0});
    } else {
      stored = s.changed;
    }
    p.stored.push_back(std::move(stored));
  }
  if (base) {
    p.totals.changed_bytes = p.totals.state_bytes;
    p.totals.changed_blocks = p.totals.blocks;
  }
  p.regions = std::move(regions);
  return p;
}

std::vector<IndexRow> index_rows(std::int32_t rank, const VersionPlan &plan,
                                 std::uint64_t block_size) {
  std::vector<IndexRow> rows;
  for (std::size_t i = 0; i < plan.regions.size(); ++i) {
    const Region &r = *plan.regions[i].region;
    IndexRow row;
    row.rank = rank;
    row.region_id = r.id;
    std::strncpy(row.name, r.name.c_str(), sizeof row.name - 1);
    row.type = static_cast<std::int32_t>(r.type);
    row.elem_size = r.elem_size;
    row.count = r.count;
    row.bytes = r.bytes();
    row.nblocks = plan.regions[i].hashes.size();
    row.nstored = plan.stored[i].size();
    for (std::uint64_t b : plan.stored[i])
      row.data_bytes += block_bytes(r.bytes(), block_size, b);
    rows.push_back(row);
  }
  return rows;
}

std::uint64_t stored_bytes(const VersionPlan &plan, std::uint64_t block_size) noexcept {
  std::uint64_t n = 0;
  for (std::size_t i = 0; i < plan.regions.size(); ++i)
    for (std::uint64_t b : plan.stored[i])
      n += block_bytes(plan.regions[i].region->bytes(), block_size, b);
  return n;
}

} // namespace ckpt::detail
