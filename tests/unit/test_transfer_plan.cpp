#include "transfer_plan.hpp"

#include <gtest/gtest.h>

using namespace ckpt::detail;

TEST(TransferPlan, FullRegionIsOneDirectTransfer) {
  std::vector<unsigned char> mem(1 << 20);
  std::vector<std::uint64_t> all(16);
  for (std::uint64_t i = 0; i < 16; ++i)
    all[i] = i;
  TransferPlanner p(1000, 16 << 20);
  p.add_region(mem.data(), mem.size(), 65536, all);
  auto plan = p.finish();
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_TRUE(plan[0].direct());
  EXPECT_EQ(plan[0].file_offset, 1000u);
  EXPECT_EQ(plan[0].bytes, mem.size());
  EXPECT_EQ(plan[0].segments[0].memory, mem.data());
  EXPECT_EQ(p.file_end(), 1000u + mem.size());
}

TEST(TransferPlan, ScatteredBlocksAreStagedContiguouslyInFileOrder) {
  std::vector<unsigned char> a(10 * 4096), b(5000);
  TransferPlanner p(0, 3 * 4096, 8192);
  p.add_region(a.data(), a.size(), 4096, {1, 3, 4, 9});
  p.add_region(b.data(), b.size(), 4096, {1}); // the short last block: 904 bytes
  auto plan = p.finish();
  // Runs: [1] 4 KiB, [3,4] 8 KiB (direct: >= threshold), [9] 4 KiB, b[1] 904 B.
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0].bytes, 4096u);
  EXPECT_EQ(plan[0].segments[0].memory, a.data() + 4096);
  EXPECT_EQ(plan[1].bytes, 8192u);
  EXPECT_TRUE(plan[1].direct());
  EXPECT_EQ(plan[1].file_offset, 4096u);
  EXPECT_EQ(plan[2].file_offset, 3 * 4096u);
  EXPECT_EQ(plan[2].bytes, 4096u + 904u);
  ASSERT_EQ(plan[2].segments.size(), 2u);
  EXPECT_EQ(plan[2].segments[1].memory, b.data() + 4096);
  EXPECT_EQ(p.file_end(), 4 * 4096u + 904u);
}

TEST(TransferPlan, StagingNeverExceedsItsCapacity) {
  std::vector<unsigned char> mem(100 * 1024);
  std::vector<std::uint64_t> every_other;
  for (std::uint64_t i = 0; i < 100; i += 2)
    every_other.push_back(i);
  TransferPlanner p(0, 4096, 2048);
  p.add_region(mem.data(), mem.size(), 1024, every_other);
  std::uint64_t total = 0, offset = 0;
  for (const auto &t : p.finish()) {
    EXPECT_LE(t.bytes, 4096u);
    EXPECT_EQ(t.file_offset, offset);
    offset += t.bytes;
    total += t.bytes;
  }
  EXPECT_EQ(total, 50u * 1024u);
}

// The reader's side: only some of a file's blocks are wanted (the others are
// newer elsewhere), so transfers break where the file offsets jump.
TEST(TransferPlan, ReadsSkipSupersededBlocksAndStayBlockAligned) {
  std::vector<unsigned char> mem(8 * 1024);
  // Stored in the file at positions 0..5 were blocks 0..5; blocks 2 and 3 are
  // wanted from a newer file, so only 0, 1, 4, 5 come from this one.
  const std::vector<BlockCopy> wanted = {{0, 100}, {1, 1124}, {4, 4196}, {5, 5220}};
  TransferPlanner p(0, 3 * 1024, 1 << 20);
  p.add_blocks(mem.data(), mem.size(), 1024, wanted, 7);
  auto plan = p.finish();
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0].file_offset, 100u);
  EXPECT_EQ(plan[0].bytes, 2048u);
  EXPECT_EQ(plan[0].segments[0].first_block, 0u);
  EXPECT_EQ(plan[0].segments[0].region, 7u);
  EXPECT_EQ(plan[1].file_offset, 4196u);
  EXPECT_EQ(plan[1].segments[0].memory, mem.data() + 4096);
  EXPECT_EQ(plan[1].segments[0].first_block, 4u);
  // A run longer than the staging room is split on a block boundary.
  TransferPlanner q(0, 2560, 1 << 20);
  q.add_region(mem.data(), mem.size(), 1024, {0, 1, 2, 3});
  for (const auto &t : q.finish())
    for (const auto &s : t.segments) {
      EXPECT_EQ(s.memory - mem.data(), static_cast<std::ptrdiff_t>(s.first_block * 1024));
      EXPECT_EQ(s.bytes % 1024, 0u);
    }
}
