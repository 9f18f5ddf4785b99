// The first phases of a checkpoint (docs/FORMAT.md, section 4), without MPI:
//
//   select_dirty_blocks  hash each region (or only its written pages) and
//                        list the blocks that differ from the parent version
//   decide_kind          base or delta, decided once, from the totals of
//                        every rank (the caller sums them)
//   index_rows           this rank's /index rows of the version, offsets
//                        from zero (the levels lay them out)
//
// ChainState is what a level's next delta refers to.
#ifndef CKPT_DETAIL_CHECKPOINT_PLAN_HPP
#define CKPT_DETAIL_CHECKPOINT_PLAN_HPP

#include "checkpoint_layout.hpp"

#include <cstdint>
#include <optional>
#include <vector>

namespace ckpt::detail {

struct Region;
class DirtyTracking;

/// The chain a level's next delta extends.
struct ChainState {
  std::optional<std::int64_t> parent; // newest committed version of the chain
  std::vector<std::int64_t> chain;    // chain of `parent`, base first
  std::uint64_t chain_bytes = 0;      // payload bytes of the deltas of `chain`

  /// The version just committed becomes the parent of the next delta.
  void advance(std::int64_t version, bool base, std::uint64_t written_bytes);
  void reset() { *this = ChainState{}; }
};

/// One region's blocks at this checkpoint.
struct RegionSelection {
  Region *region = nullptr;
  std::vector<std::uint64_t> hashes;  // every block, current state
  std::vector<std::uint64_t> changed; // blocks that differ from the parent (sorted)
};

/// Sums over regions (and, once reduced, over ranks).
struct SelectionTotals {
  std::uint64_t state_bytes = 0, changed_bytes = 0, blocks = 0, changed_blocks = 0;
};

/// Phase 1: every block of `regions` is hashed (or re-hashed where its pages
/// were written), and compared with the region's committed hashes when a
/// parent exists.
std::vector<RegionSelection> select_dirty_blocks(const std::vector<Region *> &regions,
                                                 DirtyTracking &tracking, std::uint64_t block_size,
                                                 bool have_parent);
SelectionTotals count_selection(const std::vector<RegionSelection> &selection,
                                std::uint64_t block_size) noexcept;

/// Phase 2, once: a base when there is no parent, the chain is long
/// (`base_every` versions, or k_max_chain_length), every block changed, or
/// the chain's deltas would then hold more bytes than the state (restarts
/// would read more than twice it). `totals` are summed over all ranks.
bool decide_base(const ChainState &state, int base_every, const SelectionTotals &totals) noexcept;

/// What one version stores: the kind, the chain and, per region, the
/// blocks (all of them for a base).
struct VersionPlan {
  std::int64_t version = 0;
  std::int64_t step = 0;
  bool base = true;
  std::vector<std::int64_t> chain; // base first, this version last
  std::vector<RegionSelection> regions;
  std::vector<std::vector<std::uint64_t>> stored; // per region, sorted
  SelectionTotals totals;                         // over all ranks
};

VersionPlan make_version_plan(std::int64_t version, std::int64_t step, const ChainState &state,
                              bool base, std::vector<RegionSelection> regions,
                              const SelectionTotals &totals);

/// This rank's /index rows of `plan`, in region order, offsets from zero
/// (assign_offsets gives them their place in a file).
std::vector<IndexRow> index_rows(std::int32_t rank, const VersionPlan &plan,
                                 std::uint64_t block_size);

/// Payload bytes of this rank's stored blocks of `plan`.
std::uint64_t stored_bytes(const VersionPlan &plan, std::uint64_t block_size) noexcept;

} // namespace ckpt::detail

#endif
