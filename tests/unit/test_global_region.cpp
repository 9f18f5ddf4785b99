#include "chain_model.hpp"
#include "error.hpp"
#include "global_region.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <vector>

using namespace ckpt::detail;

namespace {

PieceRow piece(int rank, std::vector<std::uint64_t> global, std::vector<std::uint64_t> offset,
               std::vector<std::uint64_t> dims, int id = 0) {
  return make_piece(rank, id, "grid", CKPT_DOUBLE, static_cast<int>(global.size()), global.data(),
                    offset.data(), dims.data(), "test");
}

/// The pieces of a rows x cols array split into pr x pc boxes, row-major ranks.
std::vector<PieceRow> grid_pieces(std::uint64_t rows, std::uint64_t cols, std::uint64_t pr,
                                  std::uint64_t pc) {
  std::vector<PieceRow> out;
  for (std::uint64_t i = 0; i < pr; ++i)
    for (std::uint64_t j = 0; j < pc; ++j) {
      const std::uint64_t r0 = rows * i / pr, r1 = rows * (i + 1) / pr;
      const std::uint64_t c0 = cols * j / pc, c1 = cols * (j + 1) / pc;
      out.push_back(
          piece(static_cast<int>(i * pc + j), {rows, cols}, {r0, c0}, {r1 - r0, c1 - c0}));
    }
  return out;
}

std::string message_of(const std::vector<PieceRow> &pieces, int nranks) {
  try {
    check_tiling(pieces, nranks, "job");
  } catch (const MismatchError &e) {
    return e.what();
  }
  return {};
}

} // namespace

TEST(GlobalRegion, MakePieceChecksTheDeclaration) {
  EXPECT_NO_THROW(piece(0, {10}, {0}, {10}));
  EXPECT_NO_THROW(piece(0, {10, 4}, {10, 0}, {0, 4})); // an empty piece at the end
  EXPECT_THROW(piece(0, {10}, {5}, {6}), ArgumentError);
  EXPECT_THROW(piece(0, {0}, {0}, {0}), ArgumentError);
  EXPECT_THROW(piece(0, {1, 1, 1, 1}, {0, 0, 0, 0}, {1, 1, 1, 1}), ArgumentError);
  const std::uint64_t g[1] = {4}, o[1] = {0}, d[1] = {4};
  EXPECT_THROW(make_piece(0, 0, "b", CKPT_BYTE, 1, g, o, d, "t"), ArgumentError);
}

TEST(GlobalRegion, TilingAcceptsDecompositionsAndEmptyPieces) {
  EXPECT_EQ(message_of(grid_pieces(100, 60, 2, 2), 4), "");
  EXPECT_EQ(message_of(grid_pieces(100, 60, 3, 1), 3), "");
  EXPECT_EQ(message_of(grid_pieces(5, 3, 6, 1), 6), ""); // ranks with no row
}

TEST(GlobalRegion, TilingErrorsNameTheRegionAndRank) {
  auto pieces = grid_pieces(100, 60, 2, 2);
  pieces[3].offset[1] -= 1; // rank 3 reaches into rank 2
  EXPECT_NE(message_of(pieces, 4).find("overlap"), std::string::npos);
  EXPECT_NE(message_of(pieces, 4).find("rank 3"), std::string::npos);
  pieces = grid_pieces(100, 60, 2, 2);
  pieces[1].dims[1] -= 1; // a column nobody owns
  EXPECT_NE(message_of(pieces, 4).find("not owned"), std::string::npos);
  pieces = grid_pieces(100, 60, 2, 2);
  pieces.pop_back();
  EXPECT_NE(message_of(pieces, 4).find("rank 3 does not declare"), std::string::npos);
  pieces = grid_pieces(100, 60, 2, 2);
  pieces[2].global_dims[0] = 101;
  pieces[2].dims[0] += 1;
  const std::string m = message_of(pieces, 4);
  EXPECT_NE(m.find("rank 2 global region 0 'grid'"), std::string::npos) << m;
}

TEST(GlobalRegion, CopyBoxRedistributesEveryElement) {
  // A 7 x 5 array written as 2 x 2 pieces, read back as 3 x 1 pieces.
  const std::uint64_t rows = 7, cols = 5;
  std::vector<double> global(rows * cols);
  std::iota(global.begin(), global.end(), 0.0);
  auto cut = [&](const Box &b) {
    std::vector<double> out;
    for (std::uint64_t r = 0; r < b.dims[0]; ++r)
      for (std::uint64_t c = 0; c < b.dims[1]; ++c)
        out.push_back(global[(b.offset[0] + r) * cols + b.offset[1] + c]);
    return out;
  };
  const auto old_pieces = grid_pieces(rows, cols, 2, 2);
  for (const PieceRow &mine : grid_pieces(rows, cols, 3, 1)) {
    std::vector<double> got(mine.box().count(), -1.0);
    for (const PieceRow &old : old_pieces) {
      const Box common = intersect(old.box(), mine.box());
      if (common.empty()) continue;
      // Only the elements of the old piece from the first needed one on.
      const auto [first, last] = linear_range(old.box(), common);
      const std::vector<double> src = cut(old.box());
      EXPECT_LT(last, src.size());
      // In two halves, as restart copies a round at a time.
      const std::uint64_t mid = (first + last + 1) / 2;
      copy_box(old.box(), reinterpret_cast<const unsigned char *>(src.data() + first), first, mid,
               mine.box(), reinterpret_cast<unsigned char *>(got.data()), sizeof(double));
      copy_box(old.box(), reinterpret_cast<const unsigned char *>(src.data() + mid), mid, last + 1,
               mine.box(), reinterpret_cast<unsigned char *>(got.data()), sizeof(double));
    }
    EXPECT_EQ(got, cut(mine.box())) << mine.box().text();
  }
}

TEST(GlobalRegion, SliceBlocksKeepsTheStoredBytes) {
  // 10 blocks of 16 bytes and a short last one (8 bytes); file 0 stores all,
  // file 1 blocks 2, 5 and 10.
  RankRegion r;
  r.row.elem_size = 8;
  r.row.bytes = 10 * 16 + 8;
  r.row.count = r.row.bytes / 8;
  r.row.nblocks = 11;
  r.hashes.resize(11);
  std::iota(r.hashes.begin(), r.hashes.end(), 100);
  RankRegion::Part all{0, 1000, {}};
  for (std::uint64_t b = 0; b < 11; ++b)
    all.stored.push_back(b);
  r.parts = {all, RankRegion::Part{1, 64, {2, 5, 10}}};
  const RankRegion s = slice_blocks(r, 4, 11, 16);
  EXPECT_EQ(s.row.nblocks, 7u);
  EXPECT_EQ(s.row.bytes, 6u * 16 + 8);
  EXPECT_EQ(s.hashes.front(), 104u);
  ASSERT_EQ(s.parts.size(), 2u);
  EXPECT_EQ(s.parts[0].data_offset, 1000u + 4 * 16);
  EXPECT_EQ(s.parts[0].stored.size(), 7u);
  EXPECT_EQ(s.parts[1].data_offset, 64u + 16); // block 2 precedes
  EXPECT_EQ(s.parts[1].stored, (std::vector<std::uint64_t>{1, 6}));
  EXPECT_TRUE(slice_blocks(r, 3, 5, 16).parts.size() == 1); // file 1 has none of 3, 4
}

TEST(GlobalRegion, BoxesOfRangeCoverTheRangeInOrder) {
  Box box;
  box.ndims = 3;
  const std::uint64_t off[3] = {2, 1, 5}, dims[3] = {3, 4, 5};
  for (int d = 0; d < 3; ++d) {
    box.offset[d] = off[d];
    box.dims[d] = dims[d];
  }
  const std::uint64_t n = box.count();
  for (std::uint64_t first = 0; first < n; ++first)
    for (std::uint64_t last = first + 1; last <= n; ++last) {
      const std::vector<Box> parts = boxes_of_range(box, first, last);
      ASSERT_LE(parts.size(), 5u);
      // Walking the boxes in order visits exactly first, first + 1, ...
      std::uint64_t expect = first;
      for (const Box &p : parts)
        for (std::uint64_t i = 0; i < p.dims[0]; ++i)
          for (std::uint64_t j = 0; j < p.dims[1]; ++j)
            for (std::uint64_t k = 0; k < p.dims[2]; ++k) {
              const std::uint64_t x[3] = {p.offset[0] + i, p.offset[1] + j, p.offset[2] + k};
              ASSERT_EQ(box.linear(x), expect) << first << ".." << last;
              ++expect;
            }
      ASSERT_EQ(expect, last);
    }
}
