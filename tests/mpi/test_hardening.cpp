// Hardening of the runtime against a hostile or confused checkpoint directory
// (issue #11): files planted where libckpt writes, FIFOs and links where it
// reads, stray version numbers, two jobs on one directory, bad arguments, and
// a read-only directory. Runs at 1 and 2 ranks.
#include "test_support.hpp"

#include <ckpt/ckpt.h>
#include <ckpt/ckpt.hpp>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

using namespace ckpt_test;
using Options = std::map<std::string, std::string>;

namespace {

std::string contents(const std::string &file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool is_regular(const std::string &path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

/// Rank 0: makes `dir` and a victim file outside it that must stay intact.
std::string make_victim(const std::string &dir) {
  const std::string victim = dir + "-victim";
  if (world_rank() == 0) {
    mkdir(dir.c_str(), 0755);
    std::ofstream(victim) << "precious";
  }
  MPI_Barrier(MPI_COMM_WORLD);
  return victim;
}

/// Rank 0: a symbolic link at `link` pointing to the absolute path of `target`.
void plant_link(const std::string &target, const std::string &link) {
  if (world_rank() == 0) {
    char cwd[4096];
    ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
    ASSERT_EQ(symlink((std::string(cwd) + "/" + target).c_str(), link.c_str()), 0) << link;
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

/// Captures what rank 0 writes to stderr (the log) while it is alive.
class StderrCapture {
public:
  explicit StderrCapture(std::string file) : m_file(std::move(file)) {
    if (world_rank() != 0) return;
    std::fflush(stderr);
    m_saved = dup(2);
    const int fd = open(m_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    close(fd);
  }
  /// Stops capturing; returns the text (empty on other ranks).
  std::string stop() {
    if (m_saved < 0) return {};
    std::fflush(stderr);
    dup2(m_saved, 2);
    close(m_saved);
    m_saved = -1;
    const std::string text = contents(m_file);
    std::fputs(text.c_str(), stderr); // still visible in the test output
    return text;
  }
  ~StderrCapture() { stop(); }

private:
  std::string m_file;
  int m_saved = -1;
};

} // namespace

// --- Item 4: nothing is written through a symbolic link -------------------

TEST(NoWriteThroughLinks, LinkAtTheNextDataFileIsRefused) {
  const std::string dir = fresh_dir();
  const std::string victim = make_victim(dir);
  std::vector<double> x(1000, 1.0);
  ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}});
  s.protect(0, "x", x);
  // Planted after the session scanned the directory: the name of version 1.
  plant_link(victim, dir + "/ckpt.v000001.h5");
  StderrCapture log(dir + "-log.txt");
  std::string message;
  EXPECT_EQ(status_of([&] { s.checkpoint(1); }, &message), CKPT_ERR_IO);
  const std::string text = log.stop();
  EXPECT_NE(message.find(dir + "/ckpt.v000001.h5"), std::string::npos) << message;
  EXPECT_NE(message.find("not a regular file"), std::string::npos) << message;
  if (world_rank() == 0) {
    EXPECT_EQ(contents(victim), "precious");
    // The failure message does not claim an earlier checkpoint that never existed.
    EXPECT_NE(text.find("no earlier checkpoint exists"), std::string::npos) << text;
    EXPECT_EQ(text.find("previous checkpoint"), std::string::npos) << text;
    EXPECT_FALSE(is_regular(dir + "/ckpt.v000001.h5"));
    unlink((dir + "/ckpt.v000001.h5").c_str()); // the failed checkpoint may have removed the link
  }
  MPI_Barrier(MPI_COMM_WORLD);
  // With the link gone the session goes on; its next version is 2.
  EXPECT_EQ(s.checkpoint(2).version, 2);
}

TEST(NoWriteThroughLinks, FailureAfterACheckpointNamesIt) {
  const std::string dir = fresh_dir();
  const std::string victim = make_victim(dir);
  std::vector<double> x(1000, 1.0);
  ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}});
  s.protect(0, "x", x);
  ASSERT_EQ(s.checkpoint(1).version, 1);
  plant_link(victim, dir + "/ckpt.v000002.h5");
  StderrCapture log(dir + "-log.txt");
  EXPECT_EQ(status_of([&] { s.checkpoint(2); }), CKPT_ERR_IO);
  const std::string text = log.stop();
  if (world_rank() == 0) {
    EXPECT_NE(text.find("the previous checkpoint (version 1) is intact"), std::string::npos)
        << text;
    EXPECT_EQ(contents(victim), "precious");
  }
}

TEST(NoWriteThroughLinks, StaleRegularDataFileOfACrashedAttemptIsReplaced) {
  const std::string dir = fresh_dir();
  std::vector<double> x(1000, 3.0);
  {
    ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}});
    s.protect(0, "x", x);
    if (world_rank() == 0) std::ofstream(dir + "/ckpt.v000001.h5") << "left by a crash";
    MPI_Barrier(MPI_COMM_WORLD);
    EXPECT_EQ(s.checkpoint(1).version, 1);
  }
  std::fill(x.begin(), x.end(), 0.0);
  ckpt::Session r(MPI_COMM_WORLD, Options{{"dir", dir}});
  r.protect(0, "x", x);
  EXPECT_EQ(r.restart().version, 1);
  EXPECT_EQ(x, std::vector<double>(1000, 3.0));
}

TEST(NoWriteThroughLinks, LinksAtTheCommitTemporaryAndTheStatsFile) {
  const std::string dir = fresh_dir();
  const std::string victim = make_victim(dir);
  const std::string victim2 = dir + "-victim2";
  if (world_rank() == 0) std::ofstream(victim2) << "precious";
  plant_link(victim, dir + "/ckpt.v000001.commit.tmp"); // the old fixed temporary name
  plant_link(victim2, dir + "/ckpt.stats");
  std::vector<double> x(1000, 1.0);
  {
    ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}});
    s.protect(0, "x", x);
    EXPECT_EQ(s.checkpoint(1).version, 1); // the stats line is lost, with a warning
  }
  if (world_rank() == 0) {
    EXPECT_EQ(contents(victim), "precious");
    EXPECT_EQ(contents(victim2), "precious");
    EXPECT_TRUE(is_regular(dir + "/ckpt.v000001.commit"));
  }
  ckpt::Session r(MPI_COMM_WORLD, Options{{"dir", dir}});
  r.protect(0, "x", x);
  EXPECT_EQ(r.restart().version, 1);
}

// --- Item 3: only regular files are read -----------------------------------

TEST(OnlyRegularFiles, FifoOrDevZeroAsCommitRecordDoesNotBlockRestart) {
  const std::string dir = fresh_dir();
  std::vector<double> x(1000, 1.0);
  {
    ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}, {"keep", "5"}});
    s.protect(0, "x", x);
    s.checkpoint(1);
    x[0] = 2;
    s.checkpoint(2);
    x[0] = 3;
    s.checkpoint(3);
  }
  if (world_rank() == 0) {
    unlink((dir + "/ckpt.v000003.commit").c_str());
    ASSERT_EQ(mkfifo((dir + "/ckpt.v000003.commit").c_str(), 0644), 0);
    unlink((dir + "/ckpt.v000002.commit").c_str());
    ASSERT_EQ(symlink("/dev/zero", (dir + "/ckpt.v000002.commit").c_str()), 0);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  ckpt::Session r(MPI_COMM_WORLD, Options{{"dir", dir}});
  r.protect(0, "x", x);
  auto latest = r.latest();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->version, 1);
  EXPECT_EQ(r.restart().version, 1);
  EXPECT_EQ(x[0], 1.0);
  // The next version skips every number present, whatever its state.
  EXPECT_EQ(r.checkpoint(4).version, 4);
}

// --- Item 7: stray version numbers -------------------------------------------

TEST(VersionNumbers, StrayHugeVersionsNeitherWrapNorHideCheckpoints) {
  const std::string dir = fresh_dir();
  std::vector<double> x(1000, 1.0);
  {
    ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}});
    s.protect(0, "x", x);
    s.checkpoint(1);
  }
  if (world_rank() == 0) {
    std::ofstream(dir + "/ckpt.v9223372036854775807.h5") << "x";
    std::ofstream(dir + "/ckpt.v99999999999999999999.commit") << "x";
  }
  MPI_Barrier(MPI_COMM_WORLD);
  {
    ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}});
    s.protect(0, "x", x);
    x[0] = 2;
    EXPECT_EQ(s.checkpoint(2).version, 2);
  }
  x[0] = 0;
  ckpt::Session r(MPI_COMM_WORLD, Options{{"dir", dir}});
  r.protect(0, "x", x);
  EXPECT_EQ(r.restart().version, 2);
  EXPECT_EQ(x[0], 2.0);
}

TEST(VersionNumbers, TheLastVersionNumberIsRefusedCleanly) {
  const std::string dir = fresh_dir();
  std::vector<double> x(10, 1.0);
  if (world_rank() == 0) {
    mkdir(dir.c_str(), 0755);
    std::ofstream(dir + "/ckpt.v999999999.h5") << "x"; // incomplete, but it takes the number
  }
  MPI_Barrier(MPI_COMM_WORLD);
  ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}});
  s.protect(0, "x", x);
  std::string message;
  EXPECT_EQ(status_of([&] { s.checkpoint(1); }, &message), CKPT_ERR_IO);
  EXPECT_NE(message.find("999999999"), std::string::npos) << message;
  EXPECT_NE(message.find(dir), std::string::npos) << message;
}

// --- Item 8: two jobs on one directory ---------------------------------------

TEST(DirectoryLock, ASecondSessionOnTheDirectoryFailsOnEveryRank) {
  const std::string dir = fresh_dir();
  std::vector<double> x(100, 1.0);
  ckpt::Session first(MPI_COMM_WORLD, Options{{"dir", dir}});
  first.protect(0, "x", x);
  first.checkpoint(1);
  std::string message;
  EXPECT_EQ(status_of(
                [&] {
                  ckpt::Session second(MPI_COMM_WORLD, Options{{"dir", dir}});
                },
                &message),
            CKPT_ERR_IO);
  EXPECT_NE(message.find("checkpoint directory " + dir + " is in use by another job"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("pid "), std::string::npos) << message;
  // The C API fails the same way, on every rank.
  setenv("CKPT_DIR", dir.c_str(), 1);
  const int rc = ckpt_init(MPI_COMM_WORLD, nullptr);
  EXPECT_EQ(rc, CKPT_ERR_IO);
  EXPECT_NE(std::string(ckpt_last_error()).find("in use by another job"), std::string::npos)
      << ckpt_last_error();
  if (rc == CKPT_SUCCESS) ckpt_finalize();
  // Another prefix in the same directory is another set of checkpoints.
  EXPECT_EQ(status_of([&] {
              ckpt::Session other(MPI_COMM_WORLD, Options{{"dir", dir}, {"prefix", "other"}});
            }),
            CKPT_SUCCESS);
  first.finalize(); // releases the lock
  ASSERT_EQ(ckpt_init(MPI_COMM_WORLD, nullptr), CKPT_SUCCESS) << ckpt_last_error();
  EXPECT_EQ(ckpt_finalize(), CKPT_SUCCESS);
  unsetenv("CKPT_DIR");
}

// --- Item 9: arguments ---------------------------------------------------------

TEST(Arguments, OverflowingElementSizeAndBadTypes) {
  const std::string dir = fresh_dir();
  setenv("CKPT_DIR", dir.c_str(), 1);
  ASSERT_EQ(ckpt_init(MPI_COMM_WORLD, nullptr), CKPT_SUCCESS) << ckpt_last_error();
  char c = 0;
  EXPECT_EQ(ckpt_protect_bytes(3, "huge", &c, SIZE_MAX / 2, 3), CKPT_ERR_ARGUMENT);
  EXPECT_NE(std::string(ckpt_last_error()).find("region 3 'huge'"), std::string::npos)
      << ckpt_last_error();
  for (int bad : {-1, 8, 1 << 20}) {
    ckpt_type type;
    std::memcpy(&type, &bad, sizeof type); // what a C or Fortran caller can pass
    EXPECT_EQ(ckpt_protect(4, "typed", &c, 1, type), CKPT_ERR_ARGUMENT) << bad;
    EXPECT_NE(std::string(ckpt_last_error()).find("region 4 'typed'"), std::string::npos)
        << ckpt_last_error();
  }
  EXPECT_EQ(ckpt_finalize(), CKPT_SUCCESS);
  unsetenv("CKPT_DIR");
}

TEST(Arguments, PrefixAndConfigurationFile) {
  const std::string dir = fresh_dir();
  std::string message;
  for (const char *prefix : {"../escape", "sub/dir", ".hidden"}) {
    EXPECT_EQ(status_of(
                  [&] {
                    ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}, {"prefix", prefix}});
                  },
                  &message),
              CKPT_ERR_CONFIG)
        << prefix;
    EXPECT_NE(message.find("'prefix'"), std::string::npos) << message;
  }
  if (world_rank() == 0) mkdir((dir + "-config.ini").c_str(), 0755);
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_EQ(status_of([&] { ckpt::Session s(MPI_COMM_WORLD, dir + "-config.ini"); }, &message),
            CKPT_ERR_CONFIG);
  EXPECT_NE(message.find(dir + "-config.ini"), std::string::npos) << message;
  EXPECT_NE(message.find("not a regular file"), std::string::npos) << message;
}

// Restart works from a directory that cannot be written (read-only file
// system); only a checkpoint is refused.
TEST(Arguments, RestartFromAReadOnlyDirectory) {
  const std::string dir = fresh_dir();
  SmallFs fs(dir, "size=4m");
  if (!fs.mounted) GTEST_SKIP() << "cannot mount a tmpfs here (needs root): read-only case not run";
  std::vector<double> x(1000, 5.0);
  {
    ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}});
    s.protect(0, "x", x);
    s.checkpoint(1);
  }
  if (world_rank() == 0) {
    EXPECT_EQ(mount("tmpfs", dir.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, nullptr), 0);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  std::fill(x.begin(), x.end(), 0.0);
  {
    std::string message;
    ckpt::Session r(MPI_COMM_WORLD, Options{{"dir", dir}});
    r.protect(0, "x", x);
    EXPECT_EQ(r.restart().version, 1);
    EXPECT_EQ(x, std::vector<double>(1000, 5.0));
    EXPECT_EQ(status_of([&] { r.checkpoint(2); }, &message), CKPT_ERR_IO);
    EXPECT_NE(message.find("checkpoint directory " + dir + " is not writable"), std::string::npos)
        << message;
  }
}
