// The file-system layer: only regular files are read, reads are bounded,
// nothing is ever written through a symbolic link, and the directory lock.
#include "error.hpp"
#include "fs.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace ckpt::detail;

namespace {

class FsTest : public testing::Test {
protected:
  void SetUp() override {
    dir = std::string("fs-") + testing::UnitTest::GetInstance()->current_test_info()->name();
    std::system(("rm -rf " + dir).c_str());
    make_directories(dir);
    // A regression that blocks on a FIFO fails the test instead of hanging it.
    alarm(20);
  }
  void TearDown() override { alarm(0); }
  std::string path(const std::string &name) const { return join_path(dir, name); }
  static std::string contents(const std::string &file) {
    std::ifstream in(file);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  std::string dir;
};

template <class F> std::string io_error(F &&fn) {
  try {
    fn();
  } catch (const IoError &e) {
    return e.what();
  }
  return "";
}

} // namespace

TEST_F(FsTest, ReadFileRefusesAFifoWithoutBlocking) {
  ASSERT_EQ(mkfifo(path("fifo").c_str(), 0644), 0);
  const std::string m = io_error([&] { read_file(path("fifo")); });
  EXPECT_NE(m.find(path("fifo")), std::string::npos) << m;
  EXPECT_NE(m.find("FIFO"), std::string::npos) << m;
  EXPECT_NE(io_error([&] { require_regular_file(path("fifo")); }).find("FIFO"), std::string::npos);
}

TEST_F(FsTest, ReadFileRefusesSymbolicLinksAndOversizeFiles) {
  ASSERT_EQ(symlink("/dev/zero", path("zero").c_str()), 0);
  std::string m = io_error([&] { read_file(path("zero"), 4096); });
  EXPECT_NE(m.find("symbolic link"), std::string::npos) << m;
  std::ofstream(path("big")) << std::string(5000, 'x');
  m = io_error([&] { read_file(path("big"), 4096); });
  EXPECT_NE(m.find(path("big")), std::string::npos) << m;
  EXPECT_NE(m.find("5000 bytes"), std::string::npos) << m;
  EXPECT_EQ(read_file(path("big"), 5000).size(), 5000u);
  ASSERT_EQ(symlink("big", path("link-to-big").c_str()), 0);
  EXPECT_NE(io_error([&] { require_regular_file(path("link-to-big")); }).find("symbolic link"),
            std::string::npos);
  EXPECT_NO_THROW(require_regular_file(path("big")));
  EXPECT_NE(io_error([&] { require_regular_file(dir); }).find("directory"), std::string::npos);
}

TEST_F(FsTest, ReadLinesBoundsEveryLine) {
  std::ofstream(path("lines")) << "one\n" << std::string(100, 'x') << "\nthree\nfour";
  std::vector<std::string> seen;
  std::vector<std::size_t> long_lines;
  read_lines(
      path("lines"), 10,
      [&](std::size_t n, const std::string &line) { seen.push_back(std::to_string(n) + line); },
      [&](std::size_t n) { long_lines.push_back(n); });
  EXPECT_EQ(seen, (std::vector<std::string>{"1one", "3three", "4four"}));
  EXPECT_EQ(long_lines, (std::vector<std::size_t>{2}));
  ASSERT_EQ(mkfifo(path("fifo").c_str(), 0644), 0);
  EXPECT_NE(io_error([&] {
              read_lines(
                  path("fifo"), 10, [](std::size_t, const std::string &) {}, [](std::size_t) {});
            }).find("FIFO"),
            std::string::npos);
}

TEST_F(FsTest, AtomicWriteNeverWritesThroughASymbolicLink) {
  std::ofstream(path("victim")) << "precious";
  const std::string target = std::string("../") + path("victim");
  // Planted at the old fixed temporary name and at the destination itself.
  ASSERT_EQ(symlink(target.c_str(), path("rec.commit.tmp").c_str()), 0);
  ASSERT_EQ(symlink(target.c_str(), path("rec.commit").c_str()), 0);
  write_file_atomic(path("rec.commit"), "new record\n", true);
  EXPECT_EQ(contents(path("victim")), "precious");
  EXPECT_EQ(contents(path("rec.commit")), "new record\n");
  EXPECT_NO_THROW(require_regular_file(path("rec.commit"))); // the link was replaced
  // No temporary file is left behind.
  int temporaries = 0;
  for (const std::string &name : list_directory(dir))
    if (name.rfind("rec.commit.tmp.", 0) == 0) ++temporaries;
  EXPECT_EQ(temporaries, 0);
}

TEST_F(FsTest, AppendNeverWritesThroughASymbolicLinkOrIntoAFifo) {
  std::ofstream(path("victim")) << "precious";
  const std::string target = std::string("../") + path("victim");
  ASSERT_EQ(symlink(target.c_str(), path("ckpt.stats").c_str()), 0);
  const std::string m = io_error([&] { append_to_file(path("ckpt.stats"), "line\n"); });
  EXPECT_NE(m.find("symbolic link"), std::string::npos) << m;
  EXPECT_EQ(contents(path("victim")), "precious");
  ASSERT_EQ(mkfifo(path("fifo.stats").c_str(), 0644), 0);
  EXPECT_FALSE(io_error([&] { append_to_file(path("fifo.stats"), "line\n"); }).empty());
  append_to_file(path("new.stats"), "a\n");
  append_to_file(path("new.stats"), "b\n");
  EXPECT_EQ(contents(path("new.stats")), "a\nb\n");
}

TEST_F(FsTest, DirectoryLockExcludesASecondHolder) {
  DirectoryLock first = DirectoryLock::acquire(dir, "ckpt", "test");
  ASSERT_TRUE(first.held()) << first.unsupported();
  EXPECT_EQ(first.path(), path("ckpt.lock"));
  const std::string m = io_error([&] { DirectoryLock::acquire(dir, "ckpt", "second"); });
  EXPECT_NE(m.find("checkpoint directory " + dir + " is in use by another job"), std::string::npos)
      << m;
  EXPECT_NE(m.find("pid " + std::to_string(getpid())), std::string::npos) << m;
  // Another prefix is another lock.
  EXPECT_TRUE(DirectoryLock::acquire(dir, "other", "test").held());
  first.release();
  EXPECT_TRUE(DirectoryLock::acquire(dir, "ckpt", "third").held());
}

TEST_F(FsTest, DirectoryLockRefusesASymbolicLink) {
  std::ofstream(path("victim")) << "precious";
  ASSERT_EQ(symlink("victim", path("ckpt.lock").c_str()), 0);
  const std::string m = io_error([&] { DirectoryLock::acquire(dir, "ckpt", "test"); });
  EXPECT_NE(m.find("symbolic link"), std::string::npos) << m;
  EXPECT_EQ(contents(path("victim")), "precious");
}

TEST_F(FsTest, WarnsAboutDirectoriesOthersCanWrite) {
  ASSERT_EQ(chmod(dir.c_str(), 0755), 0);
  EXPECT_EQ(shared_directory_warning(dir), "");
  ASSERT_EQ(chmod(dir.c_str(), 0777), 0);
  const std::string w = shared_directory_warning(dir);
  EXPECT_NE(w.find(dir), std::string::npos) << w;
  EXPECT_NE(w.find("0777"), std::string::npos) << w;
  ASSERT_EQ(chmod(dir.c_str(), 01777), 0); // like /tmp
  EXPECT_EQ(shared_directory_warning(dir), "");
  std::string why;
  EXPECT_TRUE(directory_is_writable(dir, why)) << why;
}
