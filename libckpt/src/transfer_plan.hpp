// Plans the transfers between a rank's protected regions and /data: long
// runs of blocks move directly from/to the application's memory; short
// scattered runs are gathered through a staging buffer so that each HDF5 call
// moves one large contiguous range of the file. Segments always start on a
// block boundary, so a reader can hash each block as soon as it arrives.
#ifndef CKPT_DETAIL_TRANSFER_PLAN_HPP
#define CKPT_DETAIL_TRANSFER_PLAN_HPP

#include <cstdint>
#include <vector>

namespace ckpt::detail {

struct Segment {
  unsigned char *memory = nullptr;
  std::uint64_t bytes = 0;
  std::uint32_t region = 0;      // the caller's tag of the region
  std::uint64_t first_block = 0; // block of the region at `memory`
};

/// One transfer: a contiguous range of /data and the memory segments it maps
/// to, in order. One segment: direct; several: through the staging buffer.
struct PlannedTransfer {
  std::uint64_t file_offset = 0;
  std::uint64_t bytes = 0;
  std::vector<Segment> segments;
  [[nodiscard]] bool direct() const noexcept { return segments.size() == 1; }
};

/// A block to move: its index in the region and where its bytes are in /data.
struct BlockCopy {
  std::uint64_t block = 0;
  std::uint64_t file_offset = 0;
};

class TransferPlanner {
public:
  /// `staging_bytes`: capacity of the staging buffer; runs of at least
  /// `direct_threshold` bytes are transferred directly.
  TransferPlanner(std::uint64_t file_offset, std::uint64_t staging_bytes,
                  std::uint64_t direct_threshold = 256 * 1024);
  /// Writer side: the stored blocks (sorted indices) of one region, whose
  /// bytes follow the previous region's in the file.
  void add_region(unsigned char *data, std::uint64_t region_bytes, std::uint64_t block_size,
                  const std::vector<std::uint64_t> &stored_blocks, std::uint32_t region = 0);
  /// Reader side: blocks (sorted by index) anywhere in the file.
  void add_blocks(unsigned char *data, std::uint64_t region_bytes, std::uint64_t block_size,
                  const std::vector<BlockCopy> &blocks, std::uint32_t region = 0);
  /// The transfers, in the order they were planned.
  std::vector<PlannedTransfer> finish();
  /// End of the file range add_region() has laid out so far.
  [[nodiscard]] std::uint64_t file_end() const noexcept { return m_offset; }

private:
  void flush_staged();
  void emit(Segment run, std::uint64_t file_offset, std::uint64_t block_size);

  std::uint64_t m_offset;
  std::uint64_t m_staging;
  std::uint64_t m_threshold;
  PlannedTransfer m_staged;
  std::vector<PlannedTransfer> m_plan;
};

} // namespace ckpt::detail

#endif
