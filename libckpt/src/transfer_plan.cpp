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

void TransferPlanner::add_region(unsigned char *data, std::uint64_t region_bytes,
                                 std::uint64_t block_size,
                                 const std::vector<std::uint64_t> &stored_blocks) {
  for (const BlockRun &run : block_runs(stored_blocks)) {
    const std::uint64_t begin = run.first * block_size;
    const std::uint64_t end = std::min(region_bytes, (run.first + run.count) * block_size);
    std::uint64_t pos = begin;
    while (pos < end) {
      const std::uint64_t left = end - pos;
      if (left >= m_threshold) { // direct: the whole rest of the run
        flush_staged();
        m_plan.push_back(PlannedTransfer{m_offset, left, {Segment{data + pos, left}}});
        m_offset += left;
        pos = end;
        continue;
      }
      const std::uint64_t room = m_staging - m_staged.bytes;
      const std::uint64_t take = std::min(left, room);
      if (m_staged.segments.empty()) m_staged.file_offset = m_offset;
      m_staged.segments.push_back(Segment{data + pos, take});
      m_staged.bytes += take;
      m_offset += take;
      pos += take;
      if (m_staged.bytes == m_staging) flush_staged();
    }
  }
}

std::vector<PlannedTransfer> TransferPlanner::finish() {
  flush_staged();
  return std::move(m_plan);
}

} // namespace ckpt::detail
