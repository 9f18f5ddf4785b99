// Per-region choice between hashing every block at each checkpoint (`hash`)
// and hashing only the blocks whose pages were written since the previous one
// (`pages`, through PageTracker), and the block hashes that choice yields.
// `auto` starts with hashing and moves a large region to pages once a
// checkpoint showed that few of its blocks change (and back when the write
// faults would cost more than hashing it all).
//
// The correctness rule does not change with the mode: every block whose
// pages were written is hashed, and written to the checkpoint only if its
// hash differs from the committed one.
#ifndef CKPT_DETAIL_DIRTY_TRACKING_HPP
#define CKPT_DETAIL_DIRTY_TRACKING_HPP

#include "page_tracker.hpp"
#include "region.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ckpt::detail {

enum class TrackingMode { Automatic, Hash, Pages };

/// "auto", "hash", "pages" (the values of the config key dirty_tracking).
const char *tracking_mode_name(TrackingMode mode) noexcept;
/// Throws ArgumentError for anything else.
TrackingMode tracking_mode_from_name(const std::string &name);

/// `auto` considers regions of at least this many bytes (below, hashing
/// costs less than a few write faults).
constexpr std::uint64_t k_auto_min_bytes = 4u << 20;

/// The auto rule, with costs per page from PageTracker::support().
/// In hash mode: true when `changed` of `blocks` blocks changed since the
/// last checkpoint and tracking pages would cost less than half of hashing
/// (counting at least one write fault per changed block).
bool auto_prefers_pages(std::uint64_t blocks, std::uint64_t changed, std::uint64_t pages_per_block,
                        double fault_ns, double hash_ns) noexcept;
/// In pages mode: true while the faults of `pages_written` pages plus
/// hashing `blocks_hashed` blocks cost less than hashing all `blocks`.
bool auto_keeps_pages(std::uint64_t blocks, std::uint64_t pages_written,
                      std::uint64_t blocks_hashed, std::uint64_t pages_per_block, double fault_ns,
                      double hash_ns) noexcept;

class DirtyTracking {
public:
  /// `verbose`: this rank logs the per-region choices at info (rank 0).
  void configure(TrackingMode default_mode, bool verbose) noexcept;
  /// A per-region mode (ckpt_set_tracking), kept until forget(id).
  void set_mode(int id, TrackingMode mode);
  [[nodiscard]] TrackingMode mode(int id) const noexcept;

  /// The XXH3 hash of every block of `r` as of now. Regions with negative
  /// ids (the runtime's own) are always hashed whole.
  std::vector<std::uint64_t> block_hashes(const Region &r, std::uint64_t block_size);
  /// Learns from this checkpoint's `hashes` of `r` against its committed
  /// ones (auto mode only): decides the mode of the next checkpoint.
  void observe(const Region &r, const std::vector<std::uint64_t> &hashes);

  /// True when the last block_hashes(r) used page tracking.
  [[nodiscard]] bool tracked_by_pages(int id) const noexcept { return m_tracker.armed(id); }
  /// Blocks rehashed by the last block_hashes() of a region (all of them in hash mode).
  [[nodiscard]] std::uint64_t blocks_hashed(int id) const noexcept;
  /// The mechanism in use, for the checkpoint's config attribute:
  /// "uffd-wp-async", "none (<why>)", or "unused" (every region in hash mode).
  [[nodiscard]] std::string mechanism() const;

  void forget(int id) noexcept; ///< the region was unprotected
  void clear() noexcept;        ///< finalize

private:
  struct State {
    std::optional<TrackingMode> mode;
    const void *data = nullptr;
    std::uint64_t bytes = 0;
    std::uint64_t block_size = 0;
    bool auto_pages = false;           ///< auto mode's current choice
    bool refused = false;              ///< this memory cannot be tracked (reason logged)
    bool logged_pages = false;         ///< "tracked by pages" was logged
    bool logged_hash = false;          ///< auto's "keeps hashing" was logged
    bool armed_now = false;            ///< the last block_hashes() armed it (hashed all)
    std::vector<std::uint64_t> hashes; ///< as of the last block_hashes() while armed
    std::uint64_t pages_written = 0;   ///< reported by the last collect()
    std::uint64_t blocks_hashed = 0;
  };
  std::vector<std::uint64_t> hash_all(const Region &r, std::uint64_t block_size, State &s);
  /// The pages path of block_hashes(): collect and rehash, or (re-)arm and hash all.
  std::vector<std::uint64_t> tracked_hashes(const Region &r, std::uint64_t block_size,
                                            TrackingMode m, State &s);
  void announce(const Region &r, bool &logged, const std::string &what, bool important);

  PageTracker m_tracker;
  std::map<int, State> m_states;
  TrackingMode m_default = TrackingMode::Automatic;
  bool m_verbose = false;
  bool m_probed = false; ///< some region asked for pages: support() was consulted
};

} // namespace ckpt::detail

#endif
