#include "transfer_plan.hpp"

#include "block_hasher.hpp"

#include <algorithm>

namespace ckpt::detail {

TransferPlanner::TransferPlanner(std::uint64_t file_offset, std::uint64_t staging_bytes,
                                 std::uint64_t direct_threshold)
    : m_offset(file_offset), m_staging(staging_bytes),
      m_threshold(std::min(direct_threshold, staging_bytes)) {}

void TransferPlanner::flush_staged() {
  if (m_staged.segments.empty()) return;
  m_plan.push_back(std::move(m_staged));
  m_staged = PlannedTransfer{};
}

void TransferPlanner::emit(Segment run, std::uint64_t file_offset, std::uint64_t block_size) {
  while (run.bytes > 0) {
    if (run.bytes >= m_threshold) { // direct: the whole rest of the run
      flush_staged();
      m_plan.push_back(PlannedTransfer{file_offset, run.bytes, {run}});
      return;
    }
    // Staged transfers cover one contiguous range of the file.
    if (!m_staged.segments.empty() && m_staged.file_offset + m_staged.bytes != file_offset)
      flush_staged();
    const std::uint64_t room = m_staging - m_staged.bytes;
    // Whole blocks only, unless the rest of the run fits.
    const std::uint64_t take = run.bytes <= room ? run.bytes : room / block_size * block_size;
    if (take == 0) {
      flush_staged();
      continue;
    }
    if (m_staged.segments.empty()) m_staged.file_offset = file_offset;
    m_staged.segments.push_back(Segment{run.memory, take, run.region, run.first_block});
    m_staged.bytes += take;
    run.memory += take;
    run.bytes -= take;
    run.first_block += take / block_size;
    file_offset += take;
    if (m_staged.bytes == m_staging) flush_staged();
  }
}

void TransferPlanner::add_blocks(unsigned char *data, std::uint64_t region_bytes,
                                 std::uint64_t block_size, const std::vector<BlockCopy> &blocks,
                                 std::uint32_t region) {
  Segment run;
  std::uint64_t run_file = 0;
  for (const BlockCopy &b : blocks) {
    const std::uint64_t size = block_bytes(region_bytes, block_size, b.block);
    const bool extends = run.bytes > 0 && run.first_block + run.bytes / block_size == b.block &&
                         run.bytes % block_size == 0 && run_file + run.bytes == b.file_offset;
    if (!extends) {
      if (run.bytes > 0) emit(run, run_file, block_size);
      run = Segment{data + b.block * block_size, 0, region, b.block};
      run_file = b.file_offset;
    }
    run.bytes += size;
  }
  if (run.bytes > 0) emit(run, run_file, block_size);
}

void TransferPlanner::add_region(unsigned char *data, std::uint64_t region_bytes,
                                 std::uint64_t block_size,
                                 const std::vector<std::uint64_t> &stored_blocks,
                                 std::uint32_t region) {
  std::vector<BlockCopy> blocks;
  blocks.reserve(stored_blocks.size());
  for (std::uint64_t b : stored_blocks) {
    blocks.push_back(BlockCopy{b, m_offset});
    m_offset += block_bytes(region_bytes, block_size, b);
  }
  add_blocks(data, region_bytes, block_size, blocks, region);
}

std::vector<PlannedTransfer> TransferPlanner::finish() {
  flush_staged();
  return std::move(m_plan);
}

} // namespace ckpt::detail
