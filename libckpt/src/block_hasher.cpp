#include "block_hasher.hpp"

#include <xxhash.h>

namespace ckpt::detail {

std::uint64_t hash_bytes(const void *data, std::size_t bytes) noexcept {
  return XXH3_64bits(data, bytes);
}

void hash_blocks(const void *data, std::size_t bytes, std::size_t block_size,
                 std::uint64_t *out) noexcept {
  const auto *p = static_cast<const unsigned char *>(data);
  const std::uint64_t n = block_count(bytes, block_size);
  for (std::uint64_t i = 0; i < n; ++i)
    out[i] = XXH3_64bits(p + i * block_size, block_bytes(bytes, block_size, i));
}

std::vector<std::uint64_t> changed_blocks(const std::vector<std::uint64_t> &current,
                                          const std::vector<std::uint64_t> &previous) {
  std::vector<std::uint64_t> changed;
  const bool baseline = previous.size() == current.size();
  for (std::uint64_t i = 0; i < current.size(); ++i)
    if (!baseline || current[i] != previous[i]) changed.push_back(i);
  return changed;
}

std::vector<BlockRun> block_runs(const std::vector<std::uint64_t> &sorted_blocks) {
  std::vector<BlockRun> runs;
  for (std::uint64_t b : sorted_blocks) {
    if (!runs.empty() && runs.back().first + runs.back().count == b)
      ++runs.back().count;
    else
      runs.push_back(BlockRun{b, 1});
  }
  return runs;
}

} // namespace ckpt::detail
