// Global regions through the C++ and C APIs: pieces agreed to tile their
// arrays (an error on every rank naming the region and rank), restart with
// another decomposition on the same communicator and on a smaller one (a
// sub-communicator: N-to-M inside one test), 1-d and 3-d arrays, empty
// pieces, deltas, and the rule for per-rank regions.
#include "test_support.hpp"

#include <ckpt/ckpt.h>
#include <ckpt/ckpt.hpp>

#include <cstdint>
#include <vector>

using namespace ckpt_test;
using Options = std::map<std::string, std::string>;

namespace {

/// The value of global element (i, j, k) of an array, at step `salt`.
double value(std::size_t i, std::size_t j, std::size_t k, int salt) {
  return double(i) * 1e6 + double(j) * 1e3 + double(k) + salt * 0.5;
}

/// Rank `rank` of `nranks` owns rows [n*rank/nranks, n*(rank+1)/nranks) of
/// dimension `dim` (the others whole).
struct Piece {
  std::vector<std::size_t> global, offset, dims;
  std::vector<double> data;
};
Piece slab(const std::vector<std::size_t> &global, int dim, int rank, int nranks, int salt) {
  Piece p{global, std::vector<std::size_t>(global.size(), 0), global, {}};
  const std::size_t n = global[static_cast<std::size_t>(dim)];
  p.offset[static_cast<std::size_t>(dim)] = n * static_cast<std::size_t>(rank) / nranks;
  p.dims[static_cast<std::size_t>(dim)] =
      n * static_cast<std::size_t>(rank + 1) / nranks - p.offset[static_cast<std::size_t>(dim)];
  const std::size_t d1 = global.size() > 1 ? p.dims[1] : 1, d2 = global.size() > 2 ? p.dims[2] : 1;
  for (std::size_t i = 0; i < p.dims[0]; ++i)
    for (std::size_t j = 0; j < d1; ++j)
      for (std::size_t k = 0; k < d2; ++k)
        p.data.push_back(value(p.offset[0] + i, global.size() > 1 ? p.offset[1] + j : 0,
                               global.size() > 2 ? p.offset[2] + k : 0, salt));
  return p;
}

} // namespace

TEST(GlobalRegions, OverlappingPiecesFailOnEveryRankNamingTheRegion) {
  const std::string dir = fresh_dir();
  const int rank = world_rank(), size = world_size();
  ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}});
  // Every rank claims one row too many at the end (the last one is clipped).
  std::vector<double> data(20);
  const std::size_t rows = 2 * static_cast<std::size_t>(size);
  const std::size_t mine = rank + 1 == size ? 2 : 3;
  data.resize(mine * 4);
  s.protect_global(0, "field", data.data(), {rows, 4}, {2 * static_cast<std::size_t>(rank), 0},
                   {mine, 4});
  std::string what;
  ckpt_status status = CKPT_SUCCESS;
  try {
    (void)s.checkpoint(1);
  } catch (const ckpt::Error &e) {
    what = e.what();
    status = e.status();
  }
  if (size == 1) {
    EXPECT_EQ(status, CKPT_SUCCESS) << what;
  } else {
    EXPECT_EQ(status, CKPT_ERR_MISMATCH);
    EXPECT_NE(what.find("'field'"), std::string::npos) << what;
    EXPECT_NE(what.find("overlap"), std::string::npos) << what;
  }
  EXPECT_TRUE(all_ranks(true));
}

TEST(GlobalRegions, BadDeclarationsAreArgumentErrors) {
  const std::string dir = fresh_dir();
  ASSERT_EQ(ckpt_init(MPI_COMM_WORLD, nullptr), CKPT_SUCCESS);
  double x[4] = {};
  const size_t g[2] = {4, 4}, o[2] = {0, 2}, d[2] = {1, 3};
  EXPECT_EQ(ckpt_protect_global(0, "x", x, CKPT_DOUBLE, 2, g, o, d), CKPT_ERR_ARGUMENT);
  EXPECT_NE(std::string(ckpt_last_error()).find("outside the global array"), std::string::npos)
      << ckpt_last_error();
  EXPECT_EQ(ckpt_protect_global(0, "x", x, CKPT_DOUBLE, 4, g, o, d), CKPT_ERR_ARGUMENT);
  EXPECT_EQ(ckpt_protect_global(0, "x", x, CKPT_BYTE, 1, g, o, d), CKPT_ERR_ARGUMENT);
  EXPECT_EQ(ckpt_protect_global(-1, "x", x, CKPT_DOUBLE, 1, g, o, d), CKPT_ERR_ARGUMENT);
  EXPECT_EQ(ckpt_finalize(), CKPT_SUCCESS);
}

TEST(GlobalRegions, RestartWithAnotherDecompositionFromADelta) {
  const std::string dir = fresh_dir();
  const int rank = world_rank(), size = world_size();
  const std::vector<std::size_t> shape2{37, 23}, shape3{5, 9, 7}, shape1{1001};
  std::int64_t step = 0;
  const Options opts{{"dir", dir}, {"block_size", "512"}};
  {
    ckpt::Session s(MPI_COMM_WORLD, opts);
    // Written split along dimension 0 (2-d, 3-d) and as 1-d slabs.
    Piece a = slab(shape2, 0, rank, size, 0), b = slab(shape3, 0, rank, size, 0),
          c = slab(shape1, 0, rank, size, 0);
    s.protect_global(0, "a", a.data.data(), a.global, a.offset, a.dims);
    s.protect_global(1, "b", b.data.data(), b.global, b.offset, b.dims);
    s.protect_global(2, "c", c.data.data(), c.global, c.offset, c.dims);
    s.protect(3, "step", &step, 1);
    (void)s.checkpoint(step);
    // A delta: a few elements change.
    if (!a.data.empty()) a.data.front() = value(a.offset[0], 0, 0, 1);
    if (!c.data.empty()) c.data.back() = value(c.offset[0] + c.dims[0] - 1, 0, 0, 1);
    step = 1;
    const ckpt::CheckpointStats st = s.checkpoint(step);
    EXPECT_FALSE(st.base);
  }
  // The same job, decomposed along the last dimension, in reverse rank order.
  {
    ckpt::Session s(MPI_COMM_WORLD, opts);
    const int other = size - 1 - rank;
    Piece a = slab(shape2, 1, other, size, 0), b = slab(shape3, 2, other, size, 0),
          c = slab(shape1, 0, other, size, 0);
    Piece want_a = a, want_c = c;
    std::fill(a.data.begin(), a.data.end(), -1.0);
    std::fill(b.data.begin(), b.data.end(), -1.0);
    Piece want_b = slab(shape3, 2, other, size, 0);
    std::fill(c.data.begin(), c.data.end(), -1.0);
    // The elements the delta changed: the first of each old 2-d slab, the
    // last of each old 1-d slab.
    for (int r = 0; r < size; ++r) {
      const Piece old_a = slab(shape2, 0, r, size, 0), old_c = slab(shape1, 0, r, size, 0);
      if (!old_a.data.empty() && old_a.offset[0] >= want_a.offset[0] &&
          old_a.offset[0] < want_a.offset[0] + want_a.dims[0] && want_a.offset[1] == 0)
        want_a.data[(old_a.offset[0] - want_a.offset[0]) * want_a.dims[1]] =
            value(old_a.offset[0], 0, 0, 1);
      const std::size_t last = old_c.offset[0] + old_c.dims[0] - 1;
      if (!old_c.data.empty() && last >= want_c.offset[0] &&
          last < want_c.offset[0] + want_c.dims[0])
        want_c.data[last - want_c.offset[0]] = value(last, 0, 0, 1);
    }
    s.protect_global(0, "a", a.data.data(), a.global, a.offset, a.dims);
    s.protect_global(1, "b", b.data.data(), b.global, b.offset, b.dims);
    s.protect_global(2, "c", c.data.data(), c.global, c.offset, c.dims);
    s.protect(3, "step", &step, 1);
    step = -1;
    const ckpt::CheckpointId id = s.restart();
    EXPECT_EQ(id.step, 1);
    EXPECT_EQ(step, 1);
    EXPECT_EQ(a.data, want_a.data);
    EXPECT_EQ(b.data, want_b.data);
    EXPECT_EQ(c.data, want_c.data);
  }
}

TEST(GlobalRegions, RestartOnFewerRanks) {
  const std::string dir = fresh_dir();
  const int rank = world_rank(), size = world_size();
  const std::vector<std::size_t> shape{50, 30};
  const Options opts{{"dir", dir}, {"block_size", "512"}};
  std::int64_t step = 7;
  std::int32_t mine_only = rank;
  {
    ckpt::Session s(MPI_COMM_WORLD, opts);
    Piece a = slab(shape, 1, rank, size, 3);
    s.protect_global(0, "a", a.data.data(), a.global, a.offset, a.dims);
    s.protect(1, "step", &step, 1);
    s.protect(2, "rank", &mine_only, 1);
    (void)s.checkpoint(step);
  }
  // The first half of the ranks (at least one) restart on their own.
  const int fewer = std::max(1, size / 2);
  MPI_Comm sub = MPI_COMM_NULL;
  MPI_Comm_split(MPI_COMM_WORLD, rank < fewer ? 0 : MPI_UNDEFINED, rank, &sub);
  if (sub != MPI_COMM_NULL) {
    if (fewer != size) {
      // "rank" differs between the ranks that wrote it: it cannot follow.
      ckpt::Session s(sub, opts);
      Piece a = slab(shape, 0, rank, fewer, 3);
      s.protect_global(0, "a", a.data.data(), a.global, a.offset, a.dims);
      s.protect(2, "rank", &mine_only, 1);
      try {
        (void)s.restart();
        ADD_FAILURE() << "restart succeeded";
      } catch (const ckpt::Error &e) {
        EXPECT_EQ(e.status(), CKPT_ERR_MISMATCH);
        EXPECT_NE(std::string(e.what()).find("region 2 'rank' is a per-rank region"),
                  std::string::npos)
            << e.what();
      }
    }
    {
      ckpt::Session s(sub, opts);
      Piece a = slab(shape, 0, rank, fewer, 3);
      const std::vector<double> want = a.data;
      std::fill(a.data.begin(), a.data.end(), 0.0);
      s.protect_global(0, "a", a.data.data(), a.global, a.offset, a.dims);
      s.protect(1, "step", &step, 1);
      step = 0;
      (void)s.restart();
      EXPECT_EQ(step, 7);
      EXPECT_EQ(a.data, want);
      // A restart on another rank count starts a new chain.
      EXPECT_EQ(s.checkpoint(8).base, fewer != size);
    }
    MPI_Comm_free(&sub);
  }
  EXPECT_TRUE(all_ranks(true));
}
