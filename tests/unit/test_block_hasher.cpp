#include "block_hasher.hpp"

#include <gtest/gtest.h>

#include <numeric>
#include <xxhash.h>

using namespace ckpt::detail;

TEST(BlockHasher, CountsAndSizes) {
  EXPECT_EQ(block_count(0, 4096), 0u);
  EXPECT_EQ(block_count(1, 4096), 1u);
  EXPECT_EQ(block_count(4096, 4096), 1u);
  EXPECT_EQ(block_count(4097, 4096), 2u);
  EXPECT_EQ(block_bytes(4097, 4096, 0), 4096u);
  EXPECT_EQ(block_bytes(4097, 4096, 1), 1u);
  EXPECT_EQ(block_bytes(4097, 4096, 2), 0u);
}

TEST(BlockHasher, EachBlockIsXxh3OfItsBytes) {
  std::vector<unsigned char> data(10000);
  std::iota(data.begin(), data.end(), 0);
  std::vector<std::uint64_t> h(block_count(data.size(), 4096));
  hash_blocks(data.data(), data.size(), 4096, h.data());
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0], XXH3_64bits(data.data(), 4096));
  EXPECT_EQ(h[1], XXH3_64bits(data.data() + 4096, 4096));
  EXPECT_EQ(h[2], XXH3_64bits(data.data() + 8192, 10000 - 8192));
  EXPECT_EQ(hash_bytes(data.data(), 10), XXH3_64bits(data.data(), 10));
}

TEST(BlockHasher, ChangedBlocksFindsExactlyTheModifiedOnes) {
  std::vector<unsigned char> data(64 * 1024, 7);
  std::vector<std::uint64_t> before(16), after(16);
  hash_blocks(data.data(), data.size(), 4096, before.data());
  data[0] ^= 1;          // block 0
  data[5 * 4096 + 17]++; // block 5
  data.back()--;         // block 15
  hash_blocks(data.data(), data.size(), 4096, after.data());
  EXPECT_EQ(changed_blocks(after, before), (std::vector<std::uint64_t>{0, 5, 15}));
  // No baseline (or another block count): every block counts as changed.
  EXPECT_EQ(changed_blocks(after, {}).size(), 16u);
  EXPECT_EQ(changed_blocks(after, std::vector<std::uint64_t>(15)).size(), 16u);
  EXPECT_TRUE(changed_blocks(after, after).empty());
}

TEST(BlockHasher, RunsGroupConsecutiveBlocks) {
  auto runs = block_runs({0, 1, 2, 5, 7, 8});
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].first, 0u);
  EXPECT_EQ(runs[0].count, 3u);
  EXPECT_EQ(runs[1].first, 5u);
  EXPECT_EQ(runs[1].count, 1u);
  EXPECT_EQ(runs[2].first, 7u);
  EXPECT_EQ(runs[2].count, 2u);
  EXPECT_TRUE(block_runs({}).empty());
}
