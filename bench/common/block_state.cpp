#include "block_state.hpp"

#include "bench_common.hpp"

#include <xxhash.h>
#ifdef CKPT_BENCH_HAVE_XXH3_DISPATCH
#include <xxh_x86dispatch.h> // XXH3_64bits becomes XXH3_64bits_dispatch
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>

namespace ckpt::bench {

std::uint64_t local_state_bytes(std::uint64_t total, int ranks, std::uint64_t block_size) {
  const std::uint64_t blocks = total / static_cast<std::uint64_t>(ranks) / block_size;
  if (blocks == 0)
    throw std::invalid_argument("a state of " + format_bytes(total) + " over " +
                                std::to_string(ranks) + " ranks is less than one " +
                                format_bytes(block_size) + " block per rank");
  return blocks * block_size;
}

BlockState::BlockState(std::uint64_t bytes, std::uint64_t block_size, std::uint64_t seed)
    : m_data(bytes), m_block_size(block_size) {
  if (block_size < 8 || bytes % block_size != 0)
    throw std::invalid_argument("the state must be whole blocks of at least 8 bytes");
  fill_random(m_data.data(), m_data.size(), seed);
}

std::uint64_t BlockState::dirty_count(double percent) const noexcept {
  // Rounded down: N deltas of p% never change more than N*p% of the blocks,
  // so a chain of ten 10% deltas stays a chain (libckpt starts a new base
  // once a chain's deltas would outweigh the state).
  const double wanted = std::floor(percent / 100.0 * static_cast<double>(blocks()) + 1e-9);
  return std::min(blocks(), static_cast<std::uint64_t>(std::max(0.0, wanted)));
}

std::uint64_t BlockState::dirty(double percent, std::uint64_t seed) {
  const std::uint64_t count = dirty_count(percent);
  if (count == 0) return 0;
  Splitmix64 rng(seed);
  // Partial Fisher-Yates: the first `count` entries become a uniform sample.
  std::vector<std::uint64_t> index(blocks());
  std::iota(index.begin(), index.end(), std::uint64_t(0));
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint64_t j = i + rng.next() % (index.size() - i);
    std::swap(index[i], index[j]);
  }
  const std::uint64_t words = m_block_size / 8;
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint64_t word = rng.next() % words;
    unsigned char *p = m_data.data() + index[i] * m_block_size + word * 8;
    std::uint64_t value = 0;
    std::memcpy(&value, p, 8);
    value ^= rng.next() | 1U; // never 0: the block really changes
    std::memcpy(p, &value, 8);
  }
  return count;
}

std::uint64_t BlockState::checksum() const noexcept {
  return XXH3_64bits(m_data.data(), m_data.size());
}

void hash_every_block(const unsigned char *data, std::uint64_t bytes, std::uint64_t block_size,
                      std::uint64_t *out) noexcept {
  const std::uint64_t blocks = (bytes + block_size - 1) / block_size;
  for (std::uint64_t i = 0; i < blocks; ++i) {
    const std::uint64_t begin = i * block_size;
    out[i] = XXH3_64bits(data + begin, std::min(block_size, bytes - begin));
  }
}

} // namespace ckpt::bench
