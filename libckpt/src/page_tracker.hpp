// Page-level write tracking of memory ranges, so that a checkpoint hashes
// only the blocks whose pages were written since the previous one.
//
// Mechanism: asynchronous userfaultfd write-protection (UFFD_FEATURE_WP_ASYNC,
// Linux >= 6.7) read and re-armed with the PAGEMAP_SCAN ioctl of
// /proc/self/pagemap. The kernel resolves a write fault itself (no handler
// thread, no signal handler) and clears the page's protection bit; the scan
// returns the written pages and protects them again, atomically per page.
// Writes the kernel makes on the process's behalf (read(2) into a buffer,
// process_vm_writev as used by Open MPI's shared-memory single-copy path,
// other threads) go through the same page tables and are caught; pages
// dropped by madvise(MADV_DONTNEED) are reported as written.
//
// Not caught, hence refused: memory another process or a device can write
// without going through this process's page tables (MAP_SHARED mappings,
// file mappings). Only private anonymous memory is tracked.
#ifndef CKPT_DETAIL_PAGE_TRACKER_HPP
#define CKPT_DETAIL_PAGE_TRACKER_HPP

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ckpt::detail {

/// Bytes [begin, end) relative to the start of a tracked range.
struct ByteRange {
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

/// What this process can use, probed once (thread-safe, cached).
struct TrackerSupport {
  bool available = false;
  std::string mechanism;          ///< "uffd-wp-async" or "none"
  std::string why_not;            ///< when not available
  double fault_ns_per_page = 0.0; ///< a first write to a protected page
  double hash_ns_per_page = 0.0;  ///< XXH3 of one page
  /// Devices on this node that can write memory without this process's page
  /// tables, hence unseen by page tracking ("" when none): RDMA (verbs,
  /// Slingshot CXI) into pinned buffers, XPMEM, KNEM.
  std::string unseen_writers;
};

/// The devices of TrackerSupport::unseen_writers found under `root` ("/").
std::string devices_writing_unseen(const std::string &root);

class PageTracker {
public:
  /// Probes the kernel (userfaultfd with WP_ASYNC, PAGEMAP_SCAN) and measures
  /// the cost of a write fault and of hashing a page, once per process.
  static const TrackerSupport &support();

  PageTracker() = default;
  ~PageTracker();
  PageTracker(const PageTracker &) = delete;
  PageTracker &operator=(const PageTracker &) = delete;

  /// Starts tracking the page-aligned interior of [data, data + bytes): a
  /// write from now on is reported by collect(). Returns "" on success, or
  /// why this range cannot be tracked (it is then not tracked at all).
  std::string arm(int id, void *data, std::uint64_t bytes);
  /// The byte ranges of `id` that may have changed since arm() or the
  /// previous collect() (sorted, disjoint; relative to data; always
  /// including the unaligned head and tail), and protects them again.
  /// std::nullopt when tracking was lost (the mapping was changed under the
  /// range): the range is then disarmed and the caller must hash all of it.
  std::optional<std::vector<ByteRange>> collect(int id);
  void disarm(int id) noexcept;
  void disarm_all() noexcept;
  [[nodiscard]] bool armed(int id) const noexcept { return m_ranges.count(id) != 0; }
  /// Bytes of `id` under write-protection (its page-aligned interior; 0 when
  /// it holds no whole page or is not armed).
  [[nodiscard]] std::uint64_t protected_bytes(int id) const noexcept {
    auto it = m_ranges.find(id);
    return it == m_ranges.end() ? 0 : it->second.end - it->second.begin;
  }

private:
  struct Range {
    std::uintptr_t data = 0;
    std::uint64_t bytes = 0;
    std::uintptr_t begin = 0; ///< page-aligned interior [begin, end)
    std::uintptr_t end = 0;
  };
  bool open_descriptors(std::string &why);

  int m_uffd = -1;
  int m_pagemap = -1;
  std::map<int, Range> m_ranges;
};

/// Blocks of `block_size` bytes of a region of `bytes` bytes that intersect
/// any of `ranges` (sorted, disjoint), sorted.
std::vector<std::uint64_t> blocks_touching(const std::vector<ByteRange> &ranges,
                                           std::uint64_t bytes, std::uint64_t block_size);

/// Why the memory [begin, end) cannot be tracked ("" when it can): every
/// mapping covering it must be private and anonymous, as /proc/self/maps
/// shows it (`maps` is that file's text).
std::string untrackable_mapping(const std::string &maps, std::uintptr_t begin, std::uintptr_t end);

} // namespace ckpt::detail

#endif
