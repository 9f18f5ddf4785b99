// The state a checkpoint benchmark protects: pseudo-random bytes split into
// fixed-size blocks, of which a chosen fraction can be changed at random.
#ifndef CKPT_BENCH_BLOCK_STATE_HPP
#define CKPT_BENCH_BLOCK_STATE_HPP

#include <cstdint>
#include <vector>

namespace ckpt::bench {

/// Bytes of one rank's state when `total` bytes are spread over `ranks`:
/// a whole number of blocks (at least one).
std::uint64_t local_state_bytes(std::uint64_t total, int ranks, std::uint64_t block_size);

class BlockState {
public:
  /// `bytes` must be a multiple of `block_size`.
  BlockState(std::uint64_t bytes, std::uint64_t block_size, std::uint64_t seed);

  [[nodiscard]] unsigned char *data() noexcept { return m_data.data(); }
  [[nodiscard]] const unsigned char *data() const noexcept { return m_data.data(); }
  [[nodiscard]] std::uint64_t bytes() const noexcept { return m_data.size(); }
  [[nodiscard]] std::uint64_t block_size() const noexcept { return m_block_size; }
  [[nodiscard]] std::uint64_t blocks() const noexcept { return m_data.size() / m_block_size; }

  /// Blocks changed by dirty(percent): round(percent / 100 * blocks()).
  [[nodiscard]] std::uint64_t dirty_count(double percent) const noexcept;
  /// Changes one 8-byte word in each of dirty_count(percent) distinct blocks,
  /// chosen uniformly at random over the state (so they are spread out, not
  /// contiguous). Returns the number of blocks changed.
  std::uint64_t dirty(double percent, std::uint64_t seed);

  /// XXH3-64 of the whole state, to check restored data.
  [[nodiscard]] std::uint64_t checksum() const noexcept;

private:
  std::vector<unsigned char> m_data;
  std::uint64_t m_block_size;
};

/// XXH3-64 of every block of `data` (the plain way to find changed blocks),
/// with XXH3_64bits_dispatch (the CPU's widest vector unit) when libxxhash
/// has it, as libckpt does.
void hash_every_block(const unsigned char *data, std::uint64_t bytes, std::uint64_t block_size,
                      std::uint64_t *out) noexcept;

} // namespace ckpt::bench

#endif
