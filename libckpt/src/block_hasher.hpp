// Splitting a region into fixed-size blocks and hashing each with XXH3-64.
#ifndef CKPT_DETAIL_BLOCK_HASHER_HPP
#define CKPT_DETAIL_BLOCK_HASHER_HPP

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ckpt::detail {

/// Number of blocks of `block_size` bytes covering `bytes` (the last may be short).
constexpr std::uint64_t block_count(std::uint64_t bytes, std::uint64_t block_size) noexcept {
  return (bytes + block_size - 1) / block_size;
}
/// Size of block `index` of a region of `bytes` bytes.
constexpr std::uint64_t block_bytes(std::uint64_t bytes, std::uint64_t block_size,
                                    std::uint64_t index) noexcept {
  const std::uint64_t begin = index * block_size;
  return begin >= bytes ? 0 : (bytes - begin < block_size ? bytes - begin : block_size);
}

/// XXH3-64 (seed 0) of a byte range.
std::uint64_t hash_bytes(const void *data, std::size_t bytes) noexcept;

/// Writes block_count(bytes, block_size) hashes to `out`.
void hash_blocks(const void *data, std::size_t bytes, std::size_t block_size,
                 std::uint64_t *out) noexcept;

/// Consecutive dirty blocks [first, first + count) of one region.
struct BlockRun {
  std::uint64_t first = 0;
  std::uint64_t count = 0;
};

/// Indices of blocks whose hash differs between `current` and `previous`
/// (all of them when `previous` is empty: no baseline).
std::vector<std::uint64_t> changed_blocks(const std::vector<std::uint64_t> &current,
                                          const std::vector<std::uint64_t> &previous);

/// Groups sorted block indices into runs of consecutive blocks.
std::vector<BlockRun> block_runs(const std::vector<std::uint64_t> &sorted_blocks);

} // namespace ckpt::detail

#endif
