#include "catalog.hpp"
#include "error.hpp"
#include "fs.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

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
