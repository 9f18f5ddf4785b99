#include "block_hasher.hpp"

#include <xxhash.h>
#if defined(__x86_64__) || defined(_M_X64)
#include <xxh_x86dispatch.h>
// libxxhash picks the widest vector unit of the running CPU (SSE2, AVX2,
// AVX-512) at run time: about twice the speed of the SSE2 default.
#define CKPT_XXH3_64 XXH3_64bits_dispatch
#else
#define CKPT_XXH3_64 XXH3_64bits
#endif

namespace ckpt::detail {

std::uint64_t hash_bytes(const void *data, std::size_t bytes) noexcept {
  return CKPT_XXH3_64(data, bytes);
}

void hash_blocks(const void *data, std::size_t bytes, std::size_t block_size,
                 std::uint64_t *out) noexcept {
  const auto *p = static_cast<const unsigned char *>(data);
  const std::uint64_t n = block_count(bytes, block_size);
  for (std::uint64_t i = 0; i < n; ++i)
    out[i] = CKPT_XXH3_64(p + i * block_size, block_bytes(bytes, block_size, i));
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
