// Failure paths of the collective code, at 1, 2 and 4 ranks: a failure on
// one rank, in any phase of a checkpoint or a restart, ends every rank with
// the same error within seconds (never a hang); damaged metadata of one
// version makes restart fall back to the previous one; a full file system
// and files that are not what they claim to be are refused cleanly.
#include "test_support.hpp"

#include <ckpt/ckpt.hpp>

#include <hdf5.h>
#include <xxhash.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <sstream>
#include <sys/mount.h>
#include <sys/stat.h>
#include <vector>

using namespace ckpt_test;
using Options = std::map<std::string, std::string>;

namespace {

std::string version_file(const std::string &dir, int version, const char *ext) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "/ckpt.v%06d.%s", version, ext);
  return dir + buf;
}

/// Fails the test (and the process, so that a hang cannot eat the suite's
/// time) when a call does not return within `seconds`.
class Watchdog {
public:
  explicit Watchdog(unsigned seconds) { alarm(seconds); }
  ~Watchdog() { alarm(0); }
};

struct Outcome {
  ckpt_status status;
  double seconds;
};

/// Runs `fn` on every rank; returns the status and the slowest rank's time,
/// and checks that every rank ended with the same status.
template <class F> Outcome collective_outcome(F &&fn, const std::string &what) {
  const auto t0 = std::chrono::steady_clock::now();
  std::string message;
  const ckpt_status status = [&] {
    Watchdog dog(60);
    return status_of(fn, &message);
  }();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  int lo = 0, hi = 0, mine = status;
  MPI_Allreduce(&mine, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(&mine, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  EXPECT_EQ(lo, hi) << what << ": the ranks disagree (this rank: " << ckpt_status_name(status)
                    << " " << message << ")";
  double slowest = 0;
  MPI_Allreduce(&seconds, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return Outcome{status, slowest};
}

std::vector<double> pattern(std::size_t n, int salt) {
  std::vector<double> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = double(i) + world_rank() * 1e6 + salt;
  return v;
}

/// Byte offset of a contiguous dataset in a checkpoint file.
std::uint64_t dataset_offset(const std::string &file, const char *name) {
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  const haddr_t offset = H5Dget_offset(d);
  H5Dclose(d);
  H5Fclose(f);
  return offset;
}

template <class T> void patch(const std::string &file, std::uint64_t at, T value) {
  std::fstream io(file, std::ios::in | std::ios::out | std::ios::binary);
  io.seekp(static_cast<std::streamoff>(at));
  io.write(reinterpret_cast<const char *>(&value), sizeof value);
  ASSERT_TRUE(io.good()) << file;
}

// Byte offsets of /index fields (docs/FORMAT.md 2.2; the compound is stored
// with the layout of libckpt's IndexRow, 152 bytes a row).
constexpr std::uint64_t k_row_bytes = 152;
constexpr std::uint64_t k_region_id = 4, k_type = 72, k_stored_offset = 128, k_data_offset = 136;

std::string read_text(const std::string &path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Rewrites a commit record's `key` and recomputes its hash, as a careful
/// forger would.
void forge_record(const std::string &path, const std::string &key, const std::string &value) {
  std::istringstream in(read_text(path));
  std::string body, line;
  while (std::getline(in, line)) {
    if (line.rfind("record_hash", 0) == 0) continue;
    if (line.rfind(key + " =", 0) == 0) line = key + " = " + value;
    body += line + "\n";
  }
  char hash[32];
  std::snprintf(hash, sizeof hash, "%016llx",
                static_cast<unsigned long long>(XXH3_64bits(body.data(), body.size())));
  std::ofstream(path, std::ios::trunc) << body << "record_hash = " << hash << "\n";
}

/// A directory with version 1 (base) and version 2 (delta) of two regions.
struct TwoVersions {
  std::string dir;
  std::vector<double> a = pattern(4096, 1), b = pattern(1000, 2);
  explicit TwoVersions(const std::string &d) : dir(d) {
    ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}, {"block_size", "4096"}, {"keep", "5"}});
    s.protect(0, "a", a);
    s.protect(1, "b", b);
    s.checkpoint(10);
    a[7] = -1;
    b[3] = -2;
    s.checkpoint(20);
  }
  /// Restarts; expects version 1 with its data on every rank.
  void expect_fallback_to_v1(const std::string &what) const {
    std::vector<double> ra(a.size()), rb(b.size());
    ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}});
    s.protect(0, "a", ra);
    s.protect(1, "b", rb);
    ckpt::CheckpointId id{};
    const Outcome o = collective_outcome([&] { id = s.restart(); }, what);
    EXPECT_EQ(o.status, CKPT_SUCCESS) << what;
    EXPECT_EQ(id.version, 1) << what;
    EXPECT_EQ(id.step, 10) << what;
    EXPECT_TRUE(all_ranks(ra == pattern(4096, 1) && rb == pattern(1000, 2))) << what;
  }
};

/// Keeps a copy of a file and puts it back at the end of the scope.
class Restore {
public:
  explicit Restore(std::string path) : m_path(std::move(path)) {
    if (world_rank() == 0) m_copy = read_text(m_path);
    MPI_Barrier(MPI_COMM_WORLD); // nobody changes the file before it is copied
  }
  ~Restore() {
    if (world_rank() == 0) {
      std::remove(m_path.c_str());
      std::ofstream(m_path, std::ios::binary) << m_copy;
    }
    MPI_Barrier(MPI_COMM_WORLD);
  }

private:
  std::string m_path, m_copy;
};

} // namespace

// Every collective phase, failing on one rank: all ranks return the same
// error, within seconds, and the directory stays usable.
TEST(CollectiveFailures, InjectedFailureInAnyPhaseEndsEveryRankAlike) {
  const std::string dir = fresh_dir();
  std::vector<double> data = pattern(20000, 0);
  const char *checkpoint_phases[] = {"checkpoint_hash",    "checkpoint_space", "checkpoint_define",
                                     "checkpoint_reserve", "checkpoint_write", "checkpoint_close",
                                     "checkpoint_commit"};
  const char *restart_phases[] = {"restart_discover", "restart_metadata", "restart_open",
                                  "restart_layout",   "restart_data",     "restart_participants"};
  std::int64_t committed = 0;
  {
    ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}, {"block_size", "4096"}, {"keep", "3"}});
    s.protect(0, "data", data);
    ASSERT_EQ(s.checkpoint(0).version, 1);
    std::vector<int> ranks = {0};
    if (world_size() > 1) ranks.push_back(world_size() - 1);
    int step = 1;
    for (int rank : ranks) {
      for (const char *phase : checkpoint_phases) {
        const std::string spec = std::string(phase) + ":" + std::to_string(rank);
        setenv("CKPT_DEBUG_FAIL", spec.c_str(), 1);
        data[0] = step;
        const Outcome o = collective_outcome([&] { s.checkpoint(step++); }, spec);
        unsetenv("CKPT_DEBUG_FAIL");
        EXPECT_EQ(o.status, CKPT_ERR_IO) << spec;
        EXPECT_LT(o.seconds, 10.0) << spec;
      }
      for (const char *phase : restart_phases) {
        const bool rank0_only = std::strcmp(phase, "restart_discover") == 0 ||
                                std::strcmp(phase, "restart_metadata") == 0;
        if (rank0_only && rank != 0) continue;
        const std::string spec = std::string(phase) + ":" + std::to_string(rank);
        setenv("CKPT_DEBUG_FAIL", spec.c_str(), 1);
        const Outcome o = collective_outcome([&] { s.restart(); }, spec);
        unsetenv("CKPT_DEBUG_FAIL");
        EXPECT_NE(o.status, CKPT_SUCCESS) << spec;
        EXPECT_LT(o.seconds, 10.0) << spec;
      }
    }
    // Nothing was lost and nothing hangs afterwards.
    data[0] = 1234;
    committed = s.checkpoint(step).version;
  }
  std::vector<double> restored(data.size());
  ckpt::Session r(MPI_COMM_WORLD, Options{{"dir", dir}});
  r.protect(0, "data", restored);
  EXPECT_EQ(r.restart().version, committed);
  EXPECT_TRUE(all_ranks(restored == data));
}

// Damaged metadata of the newest version (each case reproduced a hang or a
// refusal before): restart falls back to the previous version on every rank.
TEST(CollectiveFailures, DamagedMetadataFallsBackToThePreviousVersion) {
  const TwoVersions two(fresh_dir());
  const std::string h5 = version_file(two.dir, 2, "h5");
  struct Case {
    const char *what;
    std::uint64_t field;
    std::uint64_t row;
    std::int64_t value;
  };
  const Case cases[] = {
      {"absurd stored_offset in /index", k_stored_offset, 0, std::int64_t(1) << 60},
      {"absurd data_offset in /index", k_data_offset, 0, std::int64_t(1) << 60},
      {"type 99 in /index", k_type, 0, 99},
      {"a repeated region id in /index", k_region_id, 1, 0},
  };
  for (const Case &c : cases) {
    Restore keep(h5);
    if (world_rank() == 0) {
      const std::uint64_t at = dataset_offset(h5, "/index") + c.row * k_row_bytes + c.field;
      if (c.field == k_region_id || c.field == k_type)
        patch<std::int32_t>(h5, at, static_cast<std::int32_t>(c.value));
      else
        patch<std::int64_t>(h5, at, c.value);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    two.expect_fallback_to_v1(c.what);
  }
  {
    Restore keep(h5);
    if (world_rank() == 0) // a flipped bit in the first entry of /stored_blocks
      patch<std::uint64_t>(h5, dataset_offset(h5, "/stored_blocks"), std::uint64_t(1) << 33);
    MPI_Barrier(MPI_COMM_WORLD);
    two.expect_fallback_to_v1("a flipped bit in /stored_blocks");
  }
}

// A commit record whose step was edited (with its own hash recomputed) does
// not agree with its data file's header: the version is not used.
TEST(CollectiveFailures, ForgedCommitRecordIsNotTrusted) {
  const TwoVersions two(fresh_dir());
  const std::string record = version_file(two.dir, 2, "commit");
  Restore keep(record);
  if (world_rank() == 0) forge_record(record, "step", "99");
  MPI_Barrier(MPI_COMM_WORLD);
  two.expect_fallback_to_v1("step = 99 in the record of version 2");
}

// A FIFO or a symbolic link where a data file should be: never opened,
// never blocks; restart falls back.
TEST(CollectiveFailures, DataFileThatIsNotARegularFileIsRefused) {
  const TwoVersions two(fresh_dir());
  const std::string h5 = version_file(two.dir, 2, "h5");
  const std::string elsewhere = two.dir + "/elsewhere.h5";
  const std::pair<const char *, std::function<int()>> plants[] = {
      {"a FIFO at ckpt.v000002.h5",
       [&] { return std::remove(h5.c_str()) == 0 ? mkfifo(h5.c_str(), 0600) : -1; }},
      {"a symbolic link at ckpt.v000002.h5",
       [&] {
         return std::rename(h5.c_str(), elsewhere.c_str()) == 0
                    ? symlink("elsewhere.h5", h5.c_str())
                    : -1;
       }},
  };
  for (const auto &[what, plant] : plants) {
    Restore keep(h5);
    if (world_rank() == 0) {
      EXPECT_EQ(plant(), 0) << what;
    }
    MPI_Barrier(MPI_COMM_WORLD);
    two.expect_fallback_to_v1(what);
  }
}

// A checkpoint on a file system with almost no room left: every rank
// returns the same error (no hang in the clean-up of the failed file), and
// the directory works again once there is room.
TEST(CollectiveFailures, NearlyFullFileSystemFailsEveryRankAlike) {
  const std::string dir = fresh_dir();
  int ok = 0;
  if (world_rank() == 0) {
    mkdir(dir.c_str(), 0755);
    ok = mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=4m") == 0 ? 1 : 0;
  }
  MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (!ok) GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  std::vector<double> data = pattern(65536 / world_size(), 3); // 512 KiB in all
  const std::string filler = dir + "/filler";
  for (std::uint64_t left_kib : {0, 4, 16, 64, 256}) {
    if (world_rank() == 0) { // fill the file system, then give back `left_kib`
      const int fd = open(filler.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0600);
      std::vector<char> chunk(4096, 'f');
      while (write(fd, chunk.data(), chunk.size()) > 0) {
      }
      struct stat st {};
      fstat(fd, &st);
      close(fd);
      const auto keep = st.st_size - static_cast<off_t>(left_kib * 1024);
      ASSERT_EQ(truncate(filler.c_str(), keep > 0 ? keep : 0), 0);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    const std::string what = std::to_string(left_kib) + " KiB left";
    const Outcome o = collective_outcome(
        [&] {
          ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}});
          s.protect(0, "data", data);
          s.checkpoint(1);
        },
        what);
    EXPECT_TRUE(o.status == CKPT_ERR_NO_SPACE || o.status == CKPT_ERR_IO)
        << what << ": " << ckpt_status_name(o.status);
    EXPECT_LT(o.seconds, 20.0) << what;
    if (world_rank() == 0) std::remove(filler.c_str());
    MPI_Barrier(MPI_COMM_WORLD);
  }
  // With room again, the same directory takes a checkpoint and restarts.
  {
    ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}});
    s.protect(0, "data", data);
    EXPECT_EQ(status_of([&] { s.checkpoint(2); }), CKPT_SUCCESS);
  }
  std::vector<double> restored(data.size());
  {
    ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}});
    s.protect(0, "data", restored);
    EXPECT_EQ(s.restart().step, 2);
  }
  EXPECT_TRUE(all_ranks(restored == data));
  MPI_Barrier(MPI_COMM_WORLD);
  if (world_rank() == 0) umount2(dir.c_str(), MNT_DETACH);
}
