// Checkpoint/restart through the C++ API at 1, 2 and 4 ranks: round trips,
// incremental chains with the bytes written checked, retention, late
// protection, corruption fallback, and every bad-input case of the API.
#include "test_support.hpp"

#include <ckpt/ckpt.hpp>

#include <hdf5.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sys/mount.h>
#include <sys/stat.h>
#include <vector>

using namespace ckpt_test;
using Options = std::map<std::string, std::string>;

namespace {

std::vector<double> pattern(std::size_t n, int salt) {
  std::vector<double> v(n);
  const int rank = world_rank();
  for (std::size_t i = 0; i < n; ++i)
    v[i] = double(i) * 0.5 + rank * 1000.0 + salt;
  return v;
}

std::string data_file(const std::string &dir, int version) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "/ckpt.v%06d.h5", version);
  return dir + buf;
}
std::string commit_file(const std::string &dir, int version) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "/ckpt.v%06d.commit", version);
  return dir + buf;
}

/// Flips one byte of the /data payload of a checkpoint file (rank 0 only).
void flip_payload_byte(const std::string &file, std::uint64_t at) {
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  hid_t d = H5Dopen2(f, "/data", H5P_DEFAULT);
  const haddr_t offset = H5Dget_offset(d);
  H5Dclose(d);
  H5Fclose(f);
  ASSERT_NE(offset, HADDR_UNDEF);
  std::fstream io(file, std::ios::in | std::ios::out | std::ios::binary);
  io.seekg(static_cast<std::streamoff>(offset + at));
  char c = 0;
  io.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  io.seekp(static_cast<std::streamoff>(offset + at));
  io.write(&c, 1);
}

} // namespace

TEST(Checkpoint, RoundTripOfEveryType) {
  const std::string dir = fresh_dir();
  std::vector<double> grid = pattern(10000, 1);
  std::vector<float> f(333, 2.5f);
  std::vector<std::int32_t> i32(77, -3);
  std::vector<std::uint64_t> u64(5, 1ULL << 60);
  std::int64_t step = 42;
  struct Blob {
    char text[13];
    short s;
  } blob[3] = {{"abc", 1}, {"def", 2}, {"ghi", 3}};
  {
    ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}, {"block_size", "4096"}});
    EXPECT_FALSE(s.latest().has_value());
    s.protect(0, "grid", grid);
    s.protect(1, "f", f);
    s.protect(2, "i32", i32);
    s.protect(3, "u64", u64);
    s.protect(4, "step", &step, 1);
    s.protect(5, "blob", blob, 3);
    const auto stats = s.checkpoint(step);
    EXPECT_EQ(stats.version, 1);
    EXPECT_TRUE(stats.base);
    EXPECT_EQ(stats.written_bytes, stats.state_bytes);
  }
  const auto grid0 = grid;
  std::fill(grid.begin(), grid.end(), -1.0);
  std::fill(f.begin(), f.end(), 0.f);
  std::fill(i32.begin(), i32.end(), 0);
  std::fill(u64.begin(), u64.end(), 0);
  step = 0;
  std::memset(blob, 0, sizeof blob);
  ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}, {"block_size", "4096"}});
  auto latest = s.latest();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->version, 1);
  EXPECT_EQ(latest->step, 42);
  s.protect(0, "grid", grid);
  s.protect(1, "f", f);
  s.protect(2, "i32", i32);
  s.protect(3, "u64", u64);
  s.protect(4, "step", &step, 1);
  s.protect(5, "blob", blob, 3);
  const auto id = s.restart();
  EXPECT_EQ(id.version, 1);
  EXPECT_EQ(grid, grid0);
  EXPECT_EQ(f, std::vector<float>(333, 2.5f));
  EXPECT_EQ(i32, std::vector<std::int32_t>(77, -3));
  EXPECT_EQ(u64, std::vector<std::uint64_t>(5, 1ULL << 60));
  EXPECT_EQ(step, 42);
  EXPECT_STREQ(blob[2].text, "ghi");
  EXPECT_EQ(blob[1].s, 2);
}

// 0%, 1%, 50% and 100% dirty blocks: exactly the dirty blocks are written.
TEST(Checkpoint, IncrementalWritesOnlyDirtyBlocks) {
  const std::string dir = fresh_dir();
  const std::size_t block = 4096, nblocks = 200, per_block = block / sizeof(double);
  const std::uint64_t ranks = static_cast<std::uint64_t>(world_size());
  std::vector<double> data = pattern(nblocks * per_block, 7);
  ckpt::Session s(MPI_COMM_WORLD,
                  Options{{"dir", dir}, {"block_size", "4096"}, {"base_every", "100"}});
  s.protect(0, "data", data);
  auto base = s.checkpoint(0);
  EXPECT_TRUE(base.base);
  EXPECT_EQ(base.written_bytes, nblocks * block * ranks);
  EXPECT_EQ(base.dirty_blocks, nblocks * ranks);

  auto touch = [&](std::size_t count, int salt) {
    // Spread over the region: every (nblocks / count)-th block.
    for (std::size_t k = 0; k < count; ++k)
      data[(k * nblocks / count) * per_block + 3] += salt;
  };
  struct Case {
    std::size_t dirty;
  } cases[] = {{0}, {2}, {100}, {200}}; // 0%, 1%, 50%, 100%
  int step = 1;
  for (const Case &c : cases) {
    touch(c.dirty, step);
    const auto st = s.checkpoint(step++);
    // With every block changed the delta would hold everything: it is a base.
    EXPECT_EQ(st.base, c.dirty == nblocks);
    EXPECT_EQ(st.dirty_blocks, c.dirty * ranks) << c.dirty << " dirty blocks per rank";
    EXPECT_EQ(st.written_bytes, c.dirty * block * ranks);
    EXPECT_EQ(st.state_bytes, nblocks * block * ranks);
  }
  const auto expected = data;
  std::fill(data.begin(), data.end(), 0.0);
  s.finalize();
  ckpt::Session r(MPI_COMM_WORLD, Options{{"dir", dir}, {"block_size", "4096"}});
  r.protect(0, "data", data);
  EXPECT_EQ(r.restart().version, 5);
  EXPECT_EQ(data, expected);
  // Dirty tracking continues after a restart: nothing changed, nothing written.
  const auto after = r.checkpoint(6);
  EXPECT_EQ(after.written_bytes, 0u);
  EXPECT_FALSE(after.base);
}

// The levels (docs/FORMAT.md, section 7): a local level in the test's
// directory, the global level every third checkpoint (inside the call: this
// test's MPI is not MPI_THREAD_MULTIPLE); what CheckpointStats::levels says,
// what wait_global() writes, and a restart from the global level alone.
TEST(Checkpoint, LevelsAndWaitGlobal) {
  const std::string dir = fresh_dir();
  const std::size_t block = 4096, nblocks = 50, per_block = block / sizeof(double);
  std::vector<double> data = pattern(nblocks * per_block, 3);
  ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir},
                                          {"block_size", "4096"},
                                          {"local_dir", dir + "-local"},
                                          {"flush_every", "3"},
                                          {"dirty_tracking", "hash"}});
  s.protect(0, "data", data);
  for (int step = 1; step <= 4; ++step) {
    data[static_cast<std::size_t>(step) * per_block] += step;
    const ckpt::CheckpointStats st = s.checkpoint(step);
    const unsigned expected =
        step == 3 ? CKPT_LEVEL_LOCAL | CKPT_LEVEL_GLOBAL : unsigned{CKPT_LEVEL_LOCAL};
    EXPECT_EQ(st.levels, expected) << "checkpoint " << step;
  }
  EXPECT_NO_THROW(s.wait_global(2)); // version 3 is on the global level
  EXPECT_THROW(s.wait_global(99), ckpt::Error);
  s.wait_global(); // version 4 was on the local level only: written now
  if (world_rank() == 0) {
    EXPECT_TRUE(std::filesystem::exists(dir + "/ckpt.v000004.commit"));
    EXPECT_FALSE(std::filesystem::exists(dir + "/ckpt.v000002.commit"));
  }
  const auto expected = data;
  s.finalize();
  std::fill(data.begin(), data.end(), 0.0);
  ckpt::Session r(MPI_COMM_WORLD, Options{{"dir", dir}, {"local_dir", "none"}});
  r.protect(0, "data", data);
  EXPECT_EQ(r.restart().version, 4);
  EXPECT_EQ(data, expected);
  r.finalize();
  if (world_rank() == 0) std::filesystem::remove_all(dir + "-local");
}

// A short last block and regions that are not a multiple of the block size.
TEST(Checkpoint, PartialBlocksAndEmptyRegions) {
  const std::string dir = fresh_dir();
  std::vector<char> odd(10000 + 17 * world_rank());
  std::iota(odd.begin(), odd.end(), 0);
  std::vector<char> empty;
  ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}, {"block_size", "1024"}});
  s.protect(0, "odd", odd);
  s.protect(1, "empty", empty.data(), 0);
  s.checkpoint(1);
  odd.back() = 99; // only the short last block changes
  const auto st = s.checkpoint(2);
  EXPECT_EQ(st.dirty_blocks, static_cast<std::uint64_t>(world_size()));
  const auto expected = odd;
  std::fill(odd.begin(), odd.end(), 0);
  s.finalize();
  ckpt::Session r(MPI_COMM_WORLD, Options{{"dir", dir}, {"block_size", "1024"}});
  r.protect(0, "odd", odd);
  r.protect(1, "empty", empty.data(), 0);
  r.restart();
  EXPECT_EQ(odd, expected);
}

// base_every bounds the chain; keep N removes what no kept chain needs.
TEST(Checkpoint, ChainsAndRetention) {
  const std::string dir = fresh_dir();
  std::vector<double> data = pattern(4096, 3);
  ckpt::Session s(
      MPI_COMM_WORLD,
      Options{{"dir", dir}, {"block_size", "4096"}, {"base_every", "3"}, {"keep", "2"}});
  s.protect(0, "data", data);
  std::vector<bool> bases;
  for (int v = 1; v <= 7; ++v) {
    data[static_cast<std::size_t>(v) * 100] = v;
    bases.push_back(s.checkpoint(v).base);
  }
  EXPECT_EQ(bases, (std::vector<bool>{true, false, false, true, false, false, true}));
  // Kept: 7 (base) and 6, whose chain is 4-5-6. Gone: 1, 2, 3.
  if (world_rank() == 0) {
    for (int v : {4, 5, 6, 7})
      EXPECT_TRUE(access(commit_file(dir, v).c_str(), F_OK) == 0) << v;
    for (int v : {1, 2, 3}) {
      EXPECT_FALSE(access(commit_file(dir, v).c_str(), F_OK) == 0) << v;
      EXPECT_FALSE(access(data_file(dir, v).c_str(), F_OK) == 0) << v;
    }
  }
  const auto expected = data;
  s.finalize();
  std::fill(data.begin(), data.end(), 0.0);
  ckpt::Session r(MPI_COMM_WORLD, Options{{"dir", dir}, {"block_size", "4096"}});
  r.protect(0, "data", data);
  EXPECT_EQ(r.restart().version, 7);
  EXPECT_EQ(data, expected);
}

// Regions protected after restart() are restored when protected; their size
// can be asked first.
TEST(Checkpoint, LateProtectionIsRestored) {
  const std::string dir = fresh_dir();
  std::vector<double> a = pattern(1000, 1), b = pattern(1500 + world_rank(), 2);
  {
    ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}});
    s.protect(0, "a", a);
    s.protect(1, "b", b);
    s.checkpoint(1);
  }
  const auto a0 = a, b0 = b;
  std::fill(a.begin(), a.end(), 0.0);
  ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}});
  s.protect(0, "a", a);
  s.restart();
  EXPECT_EQ(a, a0);
  auto n = s.restored_count(1);
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*n, b0.size());
  std::vector<double> late(*n, 0.0);
  s.protect(1, "b", late);
  EXPECT_EQ(late, b0);
  // Protecting again (a buffer swap) only moves the pointer: nothing is
  // restored a second time.
  std::vector<double> swapped(a.size(), 42.0);
  s.protect(0, "a", swapped);
  EXPECT_EQ(swapped, std::vector<double>(a.size(), 42.0));
  s.unprotect(1);
  s.protect(1, "b", late);
  EXPECT_EQ(late, b0);
  late[0] = -1;
  s.protect(1, "b", late);
  EXPECT_EQ(late[0], -1);
}

TEST(Checkpoint, ByteFlipIsDetectedAndRestartFallsBack) {
  const std::string dir = fresh_dir();
  std::vector<double> data = pattern(8192, 1);
  {
    ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}, {"block_size", "4096"}, {"keep", "5"}});
    s.protect(0, "data", data);
    s.checkpoint(1);
    data[5] = -5;
    s.checkpoint(2);
  }
  if (world_rank() == 0) flip_payload_byte(data_file(dir, 2), 0);
  MPI_Barrier(MPI_COMM_WORLD);
  std::vector<double> restored(data.size());
  {
    ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}});
    s.protect(0, "data", restored);
    EXPECT_EQ(s.restart().version, 1);
    EXPECT_EQ(restored, pattern(8192, 1));
  }
  // With the base damaged too, no version is valid: the error says so.
  if (world_rank() == 0) flip_payload_byte(data_file(dir, 1), 100);
  MPI_Barrier(MPI_COMM_WORLD);
  ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}});
  s.protect(0, "data", restored);
  std::string message;
  EXPECT_EQ(status_of([&] { s.restart(); }, &message), CKPT_ERR_CORRUPT);
  EXPECT_NE(message.find("no valid checkpoint"), std::string::npos) << message;
  EXPECT_NE(message.find("ckpt.v000001.h5"), std::string::npos) << message;
  EXPECT_NE(message.find("region 0 'data'"), std::string::npos) << message;
}

TEST(Checkpoint, DamagedOrMissingCommitRecordIsSkipped) {
  const std::string dir = fresh_dir();
  std::vector<int> data(100, 1);
  {
    ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}, {"keep", "5"}});
    s.protect(0, "data", data);
    for (int v = 1; v <= 3; ++v) {
      data[0] = v;
      s.checkpoint(v);
    }
  }
  if (world_rank() == 0) {
    // v3: record removed (as if the job died before the rename); v2: record damaged.
    std::remove(commit_file(dir, 3).c_str());
    std::ofstream(commit_file(dir, 2), std::ios::app) << "tampered = 1\n";
  }
  MPI_Barrier(MPI_COMM_WORLD);
  ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}});
  s.protect(0, "data", data);
  EXPECT_EQ(s.restart().version, 1);
  EXPECT_EQ(data[0], 1);
  // The next checkpoint does not reuse a version number that exists on disk.
  EXPECT_EQ(s.checkpoint(4).version, 4);
}

TEST(BadInput, RestartWithAnotherRankCount) {
  if (world_size() < 2) GTEST_SKIP() << "needs at least 2 ranks";
  const std::string dir = fresh_dir();
  std::vector<double> data = pattern(100, 0);
  {
    ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}});
    s.protect(0, "data", data);
    s.checkpoint(1);
  }
  MPI_Comm sub;
  MPI_Comm_split(MPI_COMM_WORLD, world_rank() == 0 ? MPI_UNDEFINED : 1, 0, &sub);
  if (sub != MPI_COMM_NULL) {
    ckpt::Session s(sub, Options{{"dir", dir}});
    s.protect(0, "data", data);
    std::string message;
    EXPECT_EQ(status_of([&] { s.restart(); }, &message), CKPT_ERR_MISMATCH);
    EXPECT_NE(message.find("written by " + std::to_string(world_size()) + " ranks"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("has " + std::to_string(world_size() - 1) + " ranks"), std::string::npos)
        << message;
    s.finalize();
    MPI_Comm_free(&sub);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

TEST(BadInput, RegionWithAnotherSizeOrType) {
  const std::string dir = fresh_dir();
  std::vector<double> data = pattern(100, 0);
  {
    ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}});
    s.protect(0, "temperature", data);
    s.checkpoint(1);
  }
  std::vector<double> bigger(101);
  std::vector<float> floats(200);
  std::string message;
  {
    ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}});
    s.protect(0, "temperature", bigger);
    EXPECT_EQ(status_of([&] { s.restart(); }, &message), CKPT_ERR_MISMATCH);
    EXPECT_NE(message.find("region 0 'temperature'"), std::string::npos) << message;
    EXPECT_NE(message.find("100 x double"), std::string::npos) << message;
    EXPECT_NE(message.find("101 x double"), std::string::npos) << message;
    EXPECT_NE(message.find("ckpt.v000001.h5"), std::string::npos) << message;
  }
  {
    ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}});
    s.protect(0, "temperature", floats); // same bytes, other type
    EXPECT_EQ(status_of([&] { s.restart(); }, &message), CKPT_ERR_MISMATCH);
    EXPECT_NE(message.find("200 x float"), std::string::npos) << message;
  }
  // A late protection with the wrong size fails the same way.
  ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}});
  s.restart();
  EXPECT_EQ(status_of([&] { s.protect(0, "temperature", bigger); }, &message), CKPT_ERR_MISMATCH);
}

TEST(BadInput, NoCheckpointToRestartFrom) {
  const std::string dir = fresh_dir();
  ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}});
  std::string message;
  EXPECT_EQ(status_of([&] { s.restart(); }, &message), CKPT_ERR_NO_CHECKPOINT);
  EXPECT_NE(message.find(dir), std::string::npos) << message;
}

TEST(BadInput, DirectoryThatCannotBeCreated) {
  const std::string dir = fresh_dir();
  if (world_rank() == 0) {
    mkdir(dir.c_str(), 0755);
    std::ofstream(dir + "/a-file") << "x";
  }
  MPI_Barrier(MPI_COMM_WORLD);
  std::string message;
  const std::string bad = dir + "/a-file/ckpt";
  EXPECT_EQ(status_of(
                [&] {
                  ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", bad}});
                },
                &message),
            CKPT_ERR_IO);
  EXPECT_NE(message.find(dir + "/a-file"), std::string::npos) << message;
}

// A directory that cannot be written gives a read-only session: it starts
// (restart works: tests/mpi/test_hardening.cpp), and a checkpoint is refused.
TEST(BadInput, ReadOnlyDirectory) {
  const std::string dir = fresh_dir();
  SmallFs fs(dir, "size=1m");
  if (!fs.mounted) GTEST_SKIP() << "cannot mount a tmpfs here (needs root): read-only case not run";
  if (world_rank() == 0) {
    ASSERT_EQ(mount("tmpfs", dir.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, nullptr), 0);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  std::string message;
  double x = 1;
  EXPECT_EQ(status_of(
                [&] {
                  ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}});
                  s.protect(0, "x", &x, 1);
                  s.checkpoint(1);
                },
                &message),
            CKPT_ERR_IO);
  EXPECT_NE(message.find("not writable"), std::string::npos) << message;
  EXPECT_NE(message.find(dir), std::string::npos) << message;
}

// ENOSPC for real, on a 2 MiB tmpfs: the checkpoint fails with a clear error,
// the application carries on, and the previous checkpoint stays valid.
TEST(BadInput, FullDiskKeepsPreviousCheckpoint) {
  const std::string dir = fresh_dir();
  SmallFs fs(dir, "size=2m");
  if (!fs.mounted) GTEST_SKIP() << "cannot mount a tmpfs here (needs root): ENOSPC case not run";
  std::vector<char> small(64 * 1024, 's');
  std::vector<char> big(3 * 1024 * 1024 / world_size() + 4096, 'b');
  {
    ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}, {"keep", "1"}});
    s.protect(0, "small", small);
    ASSERT_EQ(s.checkpoint(1).version, 1);
    s.protect(1, "big", big);
    std::string message;
    EXPECT_EQ(status_of([&] { s.checkpoint(2); }, &message), CKPT_ERR_NO_SPACE);
    EXPECT_NE(message.find("ckpt.v000002.h5"), std::string::npos) << message;
    // The application carries on: without the big region the next one fits.
    s.unprotect(1);
    small[0] = 'x';
    EXPECT_EQ(s.checkpoint(3).version, 3);
  }
  if (world_rank() == 0) {
    EXPECT_NE(access(data_file(dir, 2).c_str(), F_OK), 0) << "partial file left";
  }
  std::fill(small.begin(), small.end(), 0);
  ckpt::Session r(MPI_COMM_WORLD, Options{{"dir", dir}});
  r.protect(0, "small", small);
  EXPECT_EQ(r.restart().version, 3);
  EXPECT_EQ(small[0], 'x');
  EXPECT_EQ(small[1], 's');
}

TEST(BadInput, ConfigurationErrorsNameTheKey) {
  const std::string dir = fresh_dir();
  std::string message;
  EXPECT_EQ(status_of(
                [&] {
                  ckpt::Session s(MPI_COMM_WORLD, Options{{"blok_size", "4096"}});
                },
                &message),
            CKPT_ERR_CONFIG);
  EXPECT_NE(message.find("blok_size"), std::string::npos) << message;
  EXPECT_EQ(status_of(
                [&] {
                  ckpt::Session s(MPI_COMM_WORLD, Options{{"block_size", "12XB"}});
                },
                &message),
            CKPT_ERR_CONFIG);
  EXPECT_NE(message.find("block_size"), std::string::npos) << message;
  EXPECT_EQ(status_of(
                [&] {
                  ckpt::Session s(MPI_COMM_WORLD, Options{{"keep", "0"}});
                },
                &message),
            CKPT_ERR_CONFIG);
  EXPECT_NE(message.find("keep"), std::string::npos) << message;
  const std::string ini = dir + ".ini";
  if (world_rank() == 0) std::ofstream(ini) << "# test\ndir = " << dir << "\nbase_evry = 4\n";
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_EQ(status_of([&] { ckpt::Session s(MPI_COMM_WORLD, ini); }, &message), CKPT_ERR_CONFIG);
  EXPECT_NE(message.find("base_evry"), std::string::npos) << message;
  EXPECT_NE(message.find(ini), std::string::npos) << message;
  EXPECT_EQ(
      status_of([&] { ckpt::Session s(MPI_COMM_WORLD, std::string("missing.ini")); }, &message),
      CKPT_ERR_CONFIG);
  EXPECT_NE(message.find("missing.ini"), std::string::npos) << message;
  setenv("CKPT_BASE_EVERY", "many", 1);
  EXPECT_EQ(status_of(
                [&] {
                  ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}});
                },
                &message),
            CKPT_ERR_CONFIG);
  EXPECT_NE(message.find("CKPT_BASE_EVERY"), std::string::npos) << message;
  unsetenv("CKPT_BASE_EVERY");
}

TEST(BadInput, CallsOutOfOrderNameTheExpectedCall) {
  const std::string dir = fresh_dir();
  double x = 1;
  EXPECT_EQ(ckpt_checkpoint(1), CKPT_ERR_STATE);
  EXPECT_NE(std::string(ckpt_last_error()).find("call ckpt_init first"), std::string::npos)
      << ckpt_last_error();
  setenv("CKPT_DIR", dir.c_str(), 1);
  ASSERT_EQ(ckpt_init(MPI_COMM_WORLD, nullptr), CKPT_SUCCESS) << ckpt_last_error();
  EXPECT_EQ(ckpt_init(MPI_COMM_WORLD, nullptr), CKPT_ERR_STATE);
  EXPECT_NE(std::string(ckpt_last_error()).find("ckpt_finalize"), std::string::npos);
  EXPECT_EQ(ckpt_protect(-1, "x", &x, 1, CKPT_DOUBLE), CKPT_ERR_ARGUMENT);
  EXPECT_EQ(ckpt_protect(0, "x", nullptr, 1, CKPT_DOUBLE), CKPT_ERR_ARGUMENT);
  ckpt_type bad_type;
  const int bad_value = 99; // what a C caller could pass
  std::memcpy(&bad_type, &bad_value, sizeof bad_type);
  EXPECT_EQ(ckpt_protect(0, "x", &x, 1, bad_type), CKPT_ERR_ARGUMENT);
  EXPECT_EQ(ckpt_unprotect(7), CKPT_ERR_ARGUMENT);
  ASSERT_EQ(ckpt_protect(0, "x", &x, 1, CKPT_DOUBLE), CKPT_SUCCESS);
  ASSERT_EQ(ckpt_checkpoint(1), CKPT_SUCCESS) << ckpt_last_error();
  int exists = 0;
  std::int64_t version = 0, step = 0;
  ASSERT_EQ(ckpt_restart_available(&exists, &version, &step), CKPT_SUCCESS);
  EXPECT_EQ(exists, 1);
  EXPECT_EQ(version, 1);
  ASSERT_EQ(ckpt_finalize(), CKPT_SUCCESS);
  unsetenv("CKPT_DIR");
  EXPECT_EQ(ckpt_protect(0, "x", &x, 1, CKPT_DOUBLE), CKPT_ERR_STATE);
  EXPECT_NE(std::string(ckpt_last_error()).find("after ckpt_finalize"), std::string::npos)
      << ckpt_last_error();
  EXPECT_STREQ(ckpt_status_name(CKPT_ERR_NO_SPACE), "CKPT_ERR_NO_SPACE");
  ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}});
  s.finalize();
  std::string message;
  EXPECT_EQ(status_of([&] { s.checkpoint(1); }, &message), CKPT_ERR_STATE);
  EXPECT_NE(message.find("finalize"), std::string::npos) << message;
}

// A new base once the chain's deltas would hold more bytes than the state:
// a restart then never reads much more than twice the state.
TEST(Checkpoint, LongChainsOfLargeDeltasStartANewBase) {
  const std::string dir = fresh_dir();
  const std::size_t per_block = 4096 / sizeof(double), nblocks = 100;
  std::vector<double> data = pattern(nblocks * per_block, 1);
  ckpt::Session s(MPI_COMM_WORLD,
                  Options{{"dir", dir}, {"block_size", "4096"}, {"base_every", "100"}});
  s.protect(0, "data", data);
  EXPECT_TRUE(s.checkpoint(0).base);
  auto touch = [&](std::size_t first, std::size_t count) {
    for (std::size_t b = first; b < first + count; ++b)
      data[b * per_block] += 1;
  };
  touch(0, 60);
  EXPECT_FALSE(s.checkpoint(1).base); // 60% of the state in the chain
  touch(40, 30);
  EXPECT_FALSE(s.checkpoint(2).base); // 90%
  touch(0, 20);
  const auto st = s.checkpoint(3); // 110%: a base instead
  EXPECT_TRUE(st.base);
  EXPECT_EQ(st.dirty_blocks, nblocks * static_cast<std::uint64_t>(world_size()));
  touch(0, 20);
  EXPECT_FALSE(s.checkpoint(4).base);
}
