#include "catalog.hpp"
#include "error.hpp"
#include "fs.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace ckpt::detail;

namespace {

/// A directory of fake versions: commit records and data files of the right size.
class CatalogTest : public testing::Test {
protected:
  void SetUp() override {
    dir = std::string("catalog-") + testing::UnitTest::GetInstance()->current_test_info()->name();
    std::system(("rm -rf " + dir).c_str());
    make_directories(dir);
  }
  void add(std::int64_t v, std::vector<std::int64_t> chain, bool commit = true) {
    const std::string data = join_path(dir, data_file_name("ckpt", v));
    std::ofstream(data) << std::string(100, 'x');
    if (!commit) return;
    CommitRecord r;
    r.version = v;
    r.step = v * 10;
    r.base = chain.size() == 1;
    r.chain = std::move(chain);
    r.nranks = 2;
    r.block_size = 4096;
    r.file = data_file_name("ckpt", v);
    r.file_bytes = 100;
    write_file_atomic(join_path(dir, commit_file_name("ckpt", v)), r.serialize(), false);
  }
  std::string dir;
};

} // namespace

TEST_F(CatalogTest, StatesOfVersions) {
  add(1, {1});
  add(2, {1, 2});
  add(3, {1, 2, 3}, false);                                       // never committed
  std::ofstream(join_path(dir, "ckpt.v000004.commit")) << "junk"; // damaged record
  std::ofstream(join_path(dir, "unrelated.txt")) << "x";
  const Catalog c = Catalog::scan(dir, "ckpt");
  EXPECT_EQ(c.find(1)->state, VersionState::Committed);
  EXPECT_EQ(c.find(2)->state, VersionState::Committed);
  EXPECT_EQ(c.find(3)->state, VersionState::Incomplete);
  EXPECT_EQ(c.find(4)->state, VersionState::Corrupt);
  EXPECT_EQ(c.newest_committed(), 2);
  EXPECT_EQ(c.max_version(), 4);
  EXPECT_EQ(c.committed_newest_first(), (std::vector<std::int64_t>{2, 1}));
}

TEST_F(CatalogTest, TruncatedDataFileMakesTheVersionCorrupt) {
  add(1, {1});
  std::ofstream(join_path(dir, data_file_name("ckpt", 1))) << "short";
  const Catalog c = Catalog::scan(dir, "ckpt");
  EXPECT_EQ(c.find(1)->state, VersionState::Corrupt);
  EXPECT_NE(c.find(1)->problem.find("bytes"), std::string::npos);
}

TEST_F(CatalogTest, ChainNeedsEveryLink) {
  add(1, {1});
  add(2, {1, 2});
  add(3, {1, 2, 3});
  std::string problem;
  EXPECT_EQ(Catalog::scan(dir, "ckpt").chain_of(3, problem), (std::vector<std::int64_t>{1, 2, 3}));
  std::remove(join_path(dir, commit_file_name("ckpt", 2)).c_str());
  EXPECT_FALSE(Catalog::scan(dir, "ckpt").chain_of(3, problem).has_value());
  EXPECT_NE(problem.find("needs version 2"), std::string::npos) << problem;
}

TEST_F(CatalogTest, RetentionNeverBreaksAKeptChain) {
  // Two chains: 1-2-3 and 4-5-6, then a base 7 and its delta 8.
  add(1, {1});
  add(2, {1, 2});
  add(3, {1, 2, 3});
  add(4, {4});
  add(5, {4, 5});
  add(6, {4, 5, 6});
  add(7, {7});
  add(8, {7, 8});
  add(9, {7, 8, 9}, false); // in progress: never touched
  const Catalog c = Catalog::scan(dir, "ckpt");
  EXPECT_EQ(c.retention_plan(2), (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(c.retention_plan(3), (std::vector<std::int64_t>{1, 2, 3})); // 6 needs 4 and 5
  EXPECT_EQ(c.retention_plan(100), (std::vector<std::int64_t>{}));
  for (std::int64_t v : c.retention_plan(1))
    c.remove_version(v, false);
  const Catalog after = Catalog::scan(dir, "ckpt");
  EXPECT_EQ(after.committed_newest_first(), (std::vector<std::int64_t>{8, 7}));
  EXPECT_NE(after.find(9), nullptr);
}

TEST_F(CatalogTest, MissingDirectoryIsAnError) {
  EXPECT_THROW(Catalog::scan(dir + "/missing", "ckpt"), ckpt::Error);
}

TEST(FileNames, StrictPattern) {
  std::string reason;
  auto parsed = parse_file_name("ckpt", "ckpt.v000007.h5", reason);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->version, 7);
  EXPECT_EQ(parsed->role, FileRole::DataFile);
  parsed = parse_file_name("ckpt", "ckpt.v123456789.commit", reason);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->version, 123456789);
  EXPECT_EQ(parsed->role, FileRole::CommitRecord);
  parsed = parse_file_name("ckpt", "ckpt.v000003.commit.tmp.a1B2c3", reason);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->role, FileRole::CommitTemporary);
  EXPECT_NE(reason.find("temporary"), std::string::npos);
  // Not ours, with a reason.
  for (const char *name :
       {"ckpt.v9223372036854775807.h5", "ckpt.v99999999999999999999.commit", "ckpt.v1000000000.h5",
        "ckpt.v000000.h5", "ckpt.v12345.h5", "ckpt.v0000007.h5", "ckpt.v000007.h5.bak",
        "ckpt.v000007.commitx", "ckpt.v.h5", "ckpt.v00000a.h5"}) {
    EXPECT_FALSE(parse_file_name("ckpt", name, reason).has_value()) << name;
    EXPECT_FALSE(reason.empty()) << name;
  }
  // Unrelated names: not ours and not worth a note.
  for (const char *name : {"ckpt.stats", "ckpt.lock", "other.v000001.h5", "ckptx.v000001.h5"}) {
    EXPECT_FALSE(parse_file_name("ckpt", name, reason).has_value()) << name;
    EXPECT_TRUE(reason.empty()) << name << ": " << reason;
  }
}

// A stray file with version 2^63-1 (or 20 digits) used to wrap the version
// counter or fail every scan with "stoll".
TEST_F(CatalogTest, ForeignVersionNumbersNeitherFailNorShiftNumbering) {
  add(1, {1});
  add(2, {1, 2});
  std::ofstream(join_path(dir, "ckpt.v9223372036854775807.h5")) << "x";
  std::ofstream(join_path(dir, "ckpt.v99999999999999999999.commit")) << "x";
  std::ofstream(join_path(dir, "ckpt.v1000000000.h5")) << "x";
  std::ofstream(join_path(dir, "ckpt.v000005.commit.tmp")) << "x";
  Catalog c;
  ASSERT_NO_THROW(c = Catalog::scan(dir, "ckpt"));
  EXPECT_EQ(c.max_version(), 2);
  EXPECT_EQ(c.newest_committed(), 2);
  EXPECT_EQ(c.entries().size(), 2u);
  ASSERT_EQ(c.ignored().size(), 4u);
  EXPECT_EQ(c.ignored()[0].name, "ckpt.v000005.commit.tmp");
  EXPECT_NE(c.ignored()[0].reason.find("temporary"), std::string::npos);
  EXPECT_EQ(c.ignored()[1].name, "ckpt.v1000000000.h5");
  EXPECT_NE(c.ignored()[1].reason.find("10 digits"), std::string::npos) << c.ignored()[1].reason;
}

TEST_F(CatalogTest, OnlyRegularFilesAreRead) {
  add(1, {1});
  add(2, {1, 2});
  add(3, {1, 2, 3});
  // A FIFO as a commit record would block a reader forever; a symbolic link
  // to /dev/zero would be read without end; a data file must be a regular file.
  const std::string fifo = join_path(dir, commit_file_name("ckpt", 3));
  std::remove(fifo.c_str());
  ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
  const std::string link = join_path(dir, commit_file_name("ckpt", 2));
  std::remove(link.c_str());
  ASSERT_EQ(symlink("/dev/zero", link.c_str()), 0);
  add(4, {4});
  const std::string data = join_path(dir, data_file_name("ckpt", 4));
  std::rename(data.c_str(), join_path(dir, "elsewhere.h5").c_str());
  ASSERT_EQ(symlink("elsewhere.h5", data.c_str()), 0);
  const Catalog c = Catalog::scan(dir, "ckpt");
  EXPECT_EQ(c.committed_newest_first(), (std::vector<std::int64_t>{1}));
  EXPECT_NE(c.find(3)->problem.find("FIFO"), std::string::npos) << c.find(3)->problem;
  EXPECT_NE(c.find(3)->problem.find(fifo), std::string::npos) << c.find(3)->problem;
  EXPECT_NE(c.find(2)->problem.find("symbolic link"), std::string::npos) << c.find(2)->problem;
  EXPECT_NE(c.find(4)->problem.find("symbolic link"), std::string::npos) << c.find(4)->problem;
}
