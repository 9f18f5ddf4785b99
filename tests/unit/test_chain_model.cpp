// The chain model without MPI or HDF5: validation of every rule of the
// format, the per-rank share and its serialisation, the newest source of
// each block, and the read plan.
#include "block_hasher.hpp"
#include "chain_model.hpp"
#include "error.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <numeric>

using namespace ckpt::detail;

namespace {

constexpr std::uint64_t k_bs = 1024;

IndexRow make_row(int rank, int id, std::uint64_t bytes, const std::vector<std::uint64_t> &stored) {
  IndexRow row;
  row.rank = rank;
  row.region_id = id;
  std::snprintf(row.name, sizeof row.name, "r%d", id);
  row.type = CKPT_BYTE;
  row.elem_size = 1;
  row.count = bytes;
  row.bytes = bytes;
  row.nblocks = block_count(bytes, k_bs);
  row.nstored = stored.size();
  for (std::uint64_t b : stored)
    row.data_bytes += block_bytes(bytes, k_bs, b);
  return row;
}

/// A chain of `stored.size()` files over 2 ranks x 1 region of `bytes`;
/// stored[f] lists the blocks file f stores (the same for both ranks).
struct Chain {
  std::vector<CommitRecord> records;
  std::vector<ChainFileMeta> files;
};

Chain make_chain(std::uint64_t bytes, const std::vector<std::vector<std::uint64_t>> &stored) {
  Chain c;
  std::vector<std::int64_t> versions;
  for (std::size_t f = 0; f < stored.size(); ++f) {
    const auto v = static_cast<std::int64_t>(f + 1);
    versions.push_back(v);
    CommitRecord rec;
    rec.version = v;
    rec.step = 10 * v;
    rec.base = f == 0;
    rec.chain = versions;
    rec.nranks = 2;
    rec.block_size = k_bs;
    c.records.push_back(rec);
    ChainFileMeta m;
    m.path = "ckpt.v" + std::to_string(v) + ".h5";
    m.header.version = v;
    m.header.step = 10 * v;
    m.header.base = f == 0;
    m.header.base_version = 1;
    m.header.parent_version = f == 0 ? 0 : v - 1;
    m.header.nranks = 2;
    m.header.block_size = k_bs;
    for (int rank = 0; rank < 2; ++rank) {
      m.rows.push_back(make_row(rank, 0, bytes, stored[f]));
      m.stored.insert(m.stored.end(), stored[f].begin(), stored[f].end());
    }
    m.sizes = assign_offsets(m.rows);
    for (const IndexRow &row : m.rows) {
      c.records.back().state_bytes += row.bytes;
      c.records.back().written_bytes += row.data_bytes;
    }
    c.records.back().blocks = m.sizes.hashes;
    c.records.back().dirty_blocks = m.sizes.stored;
    m.hashes.assign(m.sizes.hashes, 7);
    m.data_address = 4096;
    m.file_bytes = m.data_address + m.sizes.data + 4096;
    c.files.push_back(std::move(m));
  }
  for (std::size_t f = 0; f + 1 < c.files.size(); ++f)
    c.files[f].hashes.clear(); // only the newest file's hashes are loaded
  return c;
}

std::vector<std::uint64_t> all_blocks(std::uint64_t n) {
  std::vector<std::uint64_t> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

std::string rejection(Chain c) {
  try {
    ChainModel model(std::move(c.records), std::move(c.files));
  } catch (const FormatError &e) {
    return e.what();
  }
  return "";
}

} // namespace

TEST(ChainModel, AcceptsAValidChainAndPicksTheNewestSourceOfEachBlock) {
  Chain c = make_chain(10 * k_bs + 100, {all_blocks(11), {2, 3, 10}, {3, 7}});
  const ChainModel model(c.records, c.files);
  const RankChain share = model.rank_view(1);
  ASSERT_EQ(share.regions.size(), 1u);
  const RankRegion &r = share.regions.at(0);
  ASSERT_EQ(r.parts.size(), 3u);
  const std::vector<std::int32_t> sources = share.block_sources(r);
  EXPECT_EQ(sources[0], 0);
  EXPECT_EQ(sources[2], 1);
  EXPECT_EQ(sources[3], 2);
  EXPECT_EQ(sources[7], 2);
  EXPECT_EQ(sources[10], 1);
  // Rank 1's data follows rank 0's in every file (offsets in the file).
  EXPECT_EQ(r.parts[0].data_offset, c.files[0].data_address + 10 * k_bs + 100);
}

TEST(ChainModel, RejectsEveryBrokenRuleNamingTheFile) {
  const Chain good = make_chain(4 * k_bs, {all_blocks(4), {1}});
  auto broken = [&](auto &&edit) {
    Chain c = good;
    edit(c);
    return rejection(std::move(c));
  };
  EXPECT_NE(broken([](Chain &c) {
              c.files[1].header.step = 99;
            }).find("holds step 99 but its commit record says step 20"),
            std::string::npos);
  EXPECT_NE(broken([](Chain &c) { c.files[1].rows[0].type = 99; }).find("type (99)"),
            std::string::npos);
  EXPECT_NE(broken([](Chain &c) { c.files[1].rows[1].rank = 0; }).find("repeats a region"),
            std::string::npos);
  EXPECT_NE(broken([](Chain &c) {
              c.files[1].rows[0].stored_offset = 1ull << 60;
            }).find("offsets that do not follow"),
            std::string::npos);
  EXPECT_NE(broken([](Chain &c) { c.files[1].stored[0] = 1ull << 33; }).find("/stored_blocks"),
            std::string::npos);
  EXPECT_NE(broken([](Chain &c) { c.files[0].rows[0].nstored = 3; }).find("inconsistent"),
            std::string::npos);
  EXPECT_NE(broken([](Chain &c) {
              c.files[1].header.parent_version = 5;
            }).find("does not belong to the delta chain"),
            std::string::npos);
  EXPECT_NE(broken([](Chain &c) { c.files[1].file_bytes = 10; }).find("do not fit"),
            std::string::npos);
  EXPECT_NE(broken([](Chain &c) { c.files[1].rows[0].count = ~0ull; }).find("inconsistent"),
            std::string::npos);
  EXPECT_NE(broken([](Chain &c) { c.files[1].hashes.pop_back(); }).find("not read completely"),
            std::string::npos);
  EXPECT_NE(broken([](Chain &c) { c.files[1].rows[0].rank = 5; }).find("bad rank"),
            std::string::npos);
  EXPECT_NE(broken([](Chain &c) {
              c.records[1].written_bytes += 1;
            }).find("does not match its commit record"),
            std::string::npos);
  EXPECT_EQ(rejection(good), "");
}

TEST(ChainModel, ARegionWhoseLayoutChangedRestartsFromTheVersionThatChangedIt) {
  Chain c = make_chain(4 * k_bs, {all_blocks(4), all_blocks(4)});
  c.records[1].base = false;
  for (IndexRow &row : c.files[1].rows)
    row.type = CKPT_INT32, row.elem_size = 4, row.count = k_bs;
  const ChainModel model(c.records, c.files);
  const RankChain share = model.rank_view(0);
  ASSERT_EQ(share.regions.at(0).parts.size(), 1u);
  EXPECT_EQ(share.regions.at(0).parts[0].file, 1u);
}

TEST(RankChain, RoundTripsAndRejectsDamagedBytes) {
  Chain c = make_chain(5 * k_bs + 3, {all_blocks(6), {0, 5}});
  const ChainModel model(c.records, c.files);
  const RankChain share = model.rank_view(1);
  const std::string bytes = share.serialize();
  const RankChain back = RankChain::deserialize(bytes, "test");
  EXPECT_EQ(back.serialize(), bytes);
  EXPECT_EQ(back.files.size(), 2u);
  EXPECT_EQ(back.regions.at(0).hashes, share.regions.at(0).hashes);
  // Every truncation and a few corruptions are refused, never crash.
  for (std::size_t n = 0; n < bytes.size(); n += 7)
    EXPECT_THROW(RankChain::deserialize(bytes.substr(0, n), "test"), FormatError) << n;
  std::string extra = bytes + "x";
  EXPECT_THROW(RankChain::deserialize(extra, "test"), FormatError);
  std::string huge = bytes;
  const std::uint64_t count = ~0ull;
  std::memcpy(&huge[8 + 8 + 8 + 1 + 8 + 4 + 4], &count, 8); // the file count
  EXPECT_THROW(RankChain::deserialize(huge, "test"), FormatError);
}

TEST(ReadPlan, SkipsSupersededBlocksOrBridgesShortGaps) {
  // File 0 stores blocks 0..7, file 1 supersedes 2, 3 and 5.
  Chain c = make_chain(8 * k_bs, {all_blocks(8), {2, 3, 5}});
  const ChainModel model(c.records, c.files);
  const RankChain share = model.rank_view(0);
  ReadPlanOptions skip;
  skip.bridge_bytes = 0;
  const auto plan = plan_reads(share, {0}, skip);
  // Base: [0,1] [4] [6,7]; delta: [2,3,5] in one request (contiguous in the file).
  ASSERT_EQ(plan.size(), 4u);
  std::uint64_t bytes = 0, verified = 0;
  for (const ReadChunk &chunk : plan) {
    bytes += chunk.bytes;
    verified += chunk.verify.size();
  }
  EXPECT_EQ(bytes, 8 * k_bs); // every needed byte once, nothing else
  EXPECT_EQ(verified, 8u);
  EXPECT_EQ(plan[3].runs.size(), 2u); // 2,3 and 5 land in two runs of memory

  ReadPlanOptions bridge;
  bridge.bridge_bytes = 2 * k_bs;
  const auto bridged = plan_reads(share, {0}, bridge);
  ASSERT_EQ(bridged.size(), 2u); // the whole base, then the delta
  EXPECT_EQ(bridged[0].bytes, 8 * k_bs);
  EXPECT_EQ(bridged[0].verify.size(), 5u); // superseded blocks are read, not verified

  ReadPlanOptions small;
  small.bridge_bytes = 0;
  small.max_chunk = k_bs;
  for (const ReadChunk &chunk : plan_reads(share, {0}, small))
    EXPECT_LE(chunk.bytes, k_bs);
}
