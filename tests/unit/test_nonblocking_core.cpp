// Unit tests of the nonblocking protocol's plain parts in libckpt: the local
// checkpoint file format and the checkpoint trigger. No MPI.
#include "checkpoint_trigger.hpp"
#include "error.hpp"
#include "rank_snapshot.hpp"

#include <gtest/gtest.h>

#include <cstring>

using namespace ckpt::detail;

TEST(RankSnapshot, RoundTrip) {
  std::vector<double> a = {1.5, -2.0, 3.25};
  std::int64_t step = 42;
  RankSnapshot s;
  s.version = 7;
  s.step = 41;
  s.rank = 3;
  s.regions.push_back({0, CKPT_DOUBLE, sizeof(double), a.size(), "grid",
                       reinterpret_cast<const unsigned char *>(a.data())});
  s.regions.push_back(
      {5, CKPT_INT64, 8, 1, "step", reinterpret_cast<const unsigned char *>(&step)});
  const std::string bytes = encode_rank_snapshot(s);
  const RankSnapshot d = decode_rank_snapshot(bytes, "test");
  EXPECT_EQ(d.version, 7);
  EXPECT_EQ(d.step, 41);
  EXPECT_EQ(d.rank, 3);
  ASSERT_EQ(d.regions.size(), 2u);
  EXPECT_EQ(d.regions[0].name, "grid");
  EXPECT_EQ(d.regions[0].bytes(), 24u);
  std::vector<double> back(3);
  std::memcpy(back.data(), d.regions[0].data, 24);
  EXPECT_EQ(back, a);
  EXPECT_EQ(d.regions[1].id, 5);
}

TEST(RankSnapshot, RejectsBadMagicTruncationAndTrailingBytes) {
  RankSnapshot s;
  std::int32_t x = 1;
  s.regions.push_back({0, CKPT_INT32, 4, 1, "x", reinterpret_cast<const unsigned char *>(&x)});
  const std::string bytes = encode_rank_snapshot(s);
  std::string bad = bytes;
  bad[0] = 'X';
  EXPECT_THROW(decode_rank_snapshot(bad, "f"), FormatError);
  for (std::size_t n : {std::size_t{0}, std::size_t{7}, bytes.size() - 1})
    EXPECT_THROW(decode_rank_snapshot(bytes.substr(0, n), "f"), FormatError) << n;
  EXPECT_THROW(decode_rank_snapshot(bytes + "z", "f"), FormatError);
  // A region count that cannot fit is refused before any allocation.
  std::string huge = bytes;
  const std::uint32_t n = 0xffffffffu;
  std::memcpy(&huge[8 + 8 + 8 + 4], &n, 4);
  EXPECT_THROW(decode_rank_snapshot(huge, "f"), FormatError);
}

TEST(RankSnapshot, StaleFileNames) {
  EXPECT_EQ(rank_regions_file("ckpt", 12, 3), "ckpt.v12.r3.nbregions");
  EXPECT_TRUE(is_stale_rank_file("ckpt.v12.r3.nbregions", "ckpt", 12));
  EXPECT_TRUE(is_stale_rank_file("ckpt.v3.r0.nbchannels", "ckpt", 12));
  EXPECT_FALSE(is_stale_rank_file("ckpt.v13.r0.nbchannels", "ckpt", 12));
  EXPECT_FALSE(is_stale_rank_file("ckpt.v000012.h5", "ckpt", 12));
  EXPECT_FALSE(is_stale_rank_file("other.v1.r0.nbregions", "ckpt", 12));
  EXPECT_FALSE(is_stale_rank_file("ckpt.v.r0.nbregions", "ckpt", 12));
}

TEST(CheckpointTrigger, NothingPendingMeansNoWorkBetweenPolls) {
  CheckpointTrigger t;
  t.configure(0, 100.0);
  EXPECT_FALSE(t.clock_due(100.0 + CheckpointTrigger::k_poll_seconds / 2));
  EXPECT_TRUE(t.clock_due(100.0 + 2 * CheckpointTrigger::k_poll_seconds));
  EXPECT_FALSE(t.requested());
  EXPECT_TRUE(t.due(true)); // an epoch in progress: every site works
  t.request();
  EXPECT_TRUE(t.due(false));
  t.clear_request();
  EXPECT_FALSE(t.requested());
}

TEST(CheckpointTrigger, TimerRequestsEveryInterval) {
  CheckpointTrigger t;
  t.configure(10, 0.0);
  EXPECT_FALSE(t.clock_due(5.0) && t.requested());
  t.clock_due(10.5);
  EXPECT_TRUE(t.requested());
  t.clear_request();
  t.clock_due(15.0);
  EXPECT_FALSE(t.requested());
  t.clock_due(20.6);
  EXPECT_TRUE(t.requested());
}

TEST(CheckpointTrigger, LeadCoversSeveralPollsAtThePace) {
  CheckpointTrigger t;
  t.configure(0, 0.0);
  EXPECT_GE(t.lead(0.0), 2u);
  for (int i = 0; i < 1000; ++i)
    t.due(true); // sites of 1 us each (active: the clock is not read)
  EXPECT_GE(t.lead(1000e-6), 400u);
  CheckpointTrigger slow;
  slow.configure(0, 0.0);
  for (int i = 0; i < 10; ++i)
    slow.due(true);
  EXPECT_EQ(slow.lead(10.0), 2u); // one site per second: the next-but-one
}
