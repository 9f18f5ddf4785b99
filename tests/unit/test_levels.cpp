// The phases of a checkpoint that need no MPI (checkpoint_plan.hpp) and the
// local and partner levels' files (local_level.hpp): decide the kind once,
// lay out a rank's rows, write, commit, scan, restore a chain, retain.
#include "block_hasher.hpp"
#include "chain_restore.hpp"
#include "checkpoint_plan.hpp"
#include "dirty_tracking.hpp"
#include "error.hpp"
#include "fs.hpp"
#include "local_level.hpp"
#include "region.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <numeric>

using namespace ckpt::detail;

namespace {

SelectionTotals totals(std::uint64_t state, std::uint64_t changed, std::uint64_t blocks,
                       std::uint64_t changed_blocks) {
  return SelectionTotals{state, changed, blocks, changed_blocks};
}

} // namespace

TEST(CheckpointPlan, TheKindIsDecidedOnceFromEveryRanksTotals) {
  ChainState none;
  EXPECT_TRUE(decide_base(none, 8, totals(100, 1, 10, 1))); // no parent
  ChainState chain;
  chain.advance(1, true, 100);
  chain.advance(2, false, 10);
  EXPECT_EQ(chain.chain, (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(chain.chain_bytes, 10u);
  EXPECT_FALSE(decide_base(chain, 8, totals(100, 10, 10, 1)));
  EXPECT_TRUE(decide_base(chain, 2, totals(100, 10, 10, 1)));   // base_every reached
  EXPECT_TRUE(decide_base(chain, 8, totals(100, 100, 10, 10))); // every block changed
  EXPECT_TRUE(decide_base(chain, 8, totals(100, 91, 10, 9)));   // deltas would outweigh the state
  chain.advance(3, true, 100);
  EXPECT_EQ(chain.chain, (std::vector<std::int64_t>{3}));
  EXPECT_EQ(chain.chain_bytes, 0u);
}

TEST(CheckpointPlan, PartnersAreOnTheNextNode) {
  // Nodes in name order: a (ranks 1, 3), b (0, 2, 4); a's ranks go to b and
  // b's to a, the k-th rank to the k-th (modulo their number).
  const std::vector<std::int32_t> p = partner_ranks({"b", "a", "b", "a", "b"});
  EXPECT_EQ(p, (std::vector<std::int32_t>{1, 0, 3, 2, 1}));
  for (std::size_t r = 0; r < p.size(); ++r)
    EXPECT_NE(p[r], static_cast<std::int32_t>(r));
  EXPECT_EQ(partner_ranks({"n", "n"}), (std::vector<std::int32_t>{-1, -1}));
  EXPECT_EQ(partner_ranks({"x", "y", "z"}), (std::vector<std::int32_t>{1, 2, 0}));
}

class LocalLevelTest : public testing::Test {
protected:
  void SetUp() override {
    dir = std::string("local-") + testing::UnitTest::GetInstance()->current_test_info()->name();
    std::system(("rm -rf " + dir).c_str());
    make_directories(dir);
    memory.resize(5 * 1024 + 100);
    std::iota(memory.begin(), memory.end(), static_cast<unsigned char>(0));
    region.id = 3;
    region.name = "field";
    region.data = memory.data();
    region.count = memory.size();
    region.elem_size = 1;
    region.type = CKPT_BYTE;
    tracking.configure(TrackingMode::Hash, false);
  }
  void TearDown() override { std::system(("rm -rf " + dir).c_str()); }

  /// One checkpoint of `region` on rank 1 of 2: plan, write, commit.
  VersionPlan checkpoint(LocalLevel &level, std::int64_t version) {
    std::vector<RegionSelection> sel =
        select_dirty_blocks({&region}, tracking, bs, chain.parent.has_value());
    const SelectionTotals t = count_selection(sel, bs);
    const bool base = decide_base(chain, 8, t);
    VersionPlan plan = make_version_plan(version, version * 10, chain, base, std::move(sel), t);
    FileHeader header;
    header.version = version;
    header.step = version * 10;
    header.base = base;
    header.base_version = plan.chain.front();
    header.parent_version = base ? 0 : plan.chain[plan.chain.size() - 2];
    header.nranks = 2;
    header.block_size = bs;
    const std::uint64_t bytes = level.write_data(plan, bs);
    EXPECT_EQ(bytes, stored_bytes(plan, bs));
    level.commit(plan, header, bs, bytes);
    chain.advance(version, base, plan.totals.changed_bytes);
    region.committed_hashes = plan.regions.front().hashes;
    return plan;
  }

  std::string dir;
  std::vector<unsigned char> memory;
  Region region;
  DirtyTracking tracking;
  ChainState chain;
  const std::uint64_t bs = 1024;
};

TEST_F(LocalLevelTest, ADeltaChainIsCommittedScannedAndRestoredBitForBit) {
  LocalLevel level(dir, "ckpt", 1, 2, false);
  EXPECT_TRUE(checkpoint(level, 4).base);
  memory[10] ^= 0xff;   // block 0
  memory[5000] ^= 0x0f; // block 4
  const VersionPlan delta = checkpoint(level, 5);
  EXPECT_FALSE(delta.base);
  EXPECT_EQ(delta.stored.front(), (std::vector<std::uint64_t>{0, 4}));
  const std::vector<unsigned char> expected = memory;

  std::vector<std::string> problems;
  const auto scanned = level.scan(problems);
  EXPECT_TRUE(problems.empty());
  ASSERT_EQ(scanned.size(), 2u);
  EXPECT_EQ(LocalLevel::restorable(scanned), (std::vector<std::int64_t>{4, 5}));
  const RankChain share = LocalLevel::chain_of(scanned, 5);
  EXPECT_EQ(share.rank, 1);
  EXPECT_EQ(share.files.size(), 2u);

  std::fill(memory.begin(), memory.end(), 0);
  ChainRestorer restorer(share);
  const RestoreReport report =
      restorer.restore({{3, RestoreTarget{memory.data(), memory.size()}}}, RestoreOptions{});
  EXPECT_EQ(report.damaged, 0u);
  EXPECT_EQ(memory, expected);

  // Retention keeps the chain it is given; a lost base makes the delta
  // unrestorable, never wrong.
  level.retain({5});
  const auto left = level.scan(problems);
  EXPECT_EQ(left.size(), 1u);
  EXPECT_TRUE(LocalLevel::restorable(left).empty());
  EXPECT_THROW(LocalLevel::chain_of(left, 5), FormatError);
  level.clear();
  EXPECT_FALSE(path_exists(dir));
}

TEST_F(LocalLevelTest, DamagedRecordsAndTruncatedDataAreIgnoredNamingTheFile) {
  LocalLevel level(dir, "ckpt", 1, 2, false);
  checkpoint(level, 1);
  checkpoint(level, 2); // unchanged: an empty delta
  std::string record = read_file(level.commit_path(1));
  record[record.size() / 2] ^= 1;
  write_file_atomic(level.commit_path(1), record, false);
  EXPECT_THROW(LocalVersion::parse(record, "x"), FormatError);
  std::vector<std::string> problems;
  auto scanned = level.scan(problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems.front().find(level.commit_path(1)), std::string::npos) << problems.front();
  EXPECT_TRUE(LocalLevel::restorable(scanned).empty()); // version 2 needs version 1

  LocalLevel other(dir, "ckpt", 0, 2, false); // another rank's files are not this rank's
  EXPECT_TRUE(other.scan(problems).empty());
  write_file_atomic(level.data_path(2), "short", false);
  problems.clear();
  scanned = level.scan(problems);
  EXPECT_EQ(problems.size(), 2u);
}

TEST_F(LocalLevelTest, APartnerCopyIsKeptApartAndRebuildsTheOwnersFiles) {
  LocalLevel owner(dir + "/node0", "ckpt", 1, 2, false);
  make_directories(dir + "/node0");
  checkpoint(owner, 7);
  LocalLevel keeper(dir + "/node1", "ckpt", 0, 2, false);
  const std::string record = read_file(owner.commit_path(7));
  const std::string data = read_file(owner.data_path(7), 1u << 20);
  keeper.store_copy(1, 7, record, reinterpret_cast<const unsigned char *>(data.data()), data.size(),
                    false);
  std::vector<std::string> problems;
  EXPECT_TRUE(keeper.scan(problems).empty()); // not the keeper's own
  const auto held = keeper.scan_partner_copies(problems);
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(LocalLevel::restorable(held.at(1)), (std::vector<std::int64_t>{7}));
  // The node is lost; its files come back from the copy.
  std::system(("rm -rf " + dir + "/node0").c_str());
  owner.store_copy(1, 7, record, reinterpret_cast<const unsigned char *>(data.data()), data.size(),
                   true);
  EXPECT_EQ(LocalLevel::restorable(owner.scan(problems)), (std::vector<std::int64_t>{7}));
  EXPECT_TRUE(problems.empty());
  keeper.retain_partner(1, {});
  EXPECT_TRUE(keeper.scan_partner_copies(problems).empty());
}

TEST(LocalLevelDir, OneDirectoryPerJobDirectory) {
  EXPECT_EQ(resolve_local_dir("none", "ckpt", "ckpt"), "");
  const std::string a = resolve_local_dir("/scratch", "/a", "ckpt");
  EXPECT_EQ(a.rfind("/scratch/libckpt-", 0), 0u) << a;
  EXPECT_NE(a, resolve_local_dir("/scratch", "/b", "ckpt"));
  EXPECT_NE(a, resolve_local_dir("/scratch", "/a", "other"));
  EXPECT_EQ(a, resolve_local_dir("/scratch", "/a", "ckpt"));
}
