#include "commit_record.hpp"
#include "error.hpp"

#include <gtest/gtest.h>

using namespace ckpt::detail;

namespace {
CommitRecord sample() {
  CommitRecord r;
  r.version = 7;
  r.step = 700;
  r.base = false;
  r.chain = {4, 5, 6, 7};
  r.nranks = 4;
  r.block_size = 65536;
  r.file = "ckpt.v000007.h5";
  r.file_bytes = 123456;
  r.state_bytes = 1 << 30;
  r.written_bytes = 1 << 20;
  r.blocks = 16384;
  r.dirty_blocks = 16;
  r.seconds = 0.25;
  r.time_unix = 1800000000;
  return r;
}
} // namespace

TEST(CommitRecord, RoundTrip) {
  const CommitRecord r = sample();
  const CommitRecord p = CommitRecord::parse(r.serialize(), "test");
  EXPECT_EQ(p.version, 7);
  EXPECT_EQ(p.step, 700);
  EXPECT_FALSE(p.base);
  EXPECT_EQ(p.chain, r.chain);
  EXPECT_EQ(p.base_version(), 4);
  EXPECT_EQ(p.parent_version(), 6);
  EXPECT_EQ(p.nranks, 4);
  EXPECT_EQ(p.block_size, 65536u);
  EXPECT_EQ(p.file, r.file);
  EXPECT_EQ(p.file_bytes, r.file_bytes);
  EXPECT_EQ(p.written_bytes, r.written_bytes);
  EXPECT_EQ(p.dirty_blocks, 16u);
  EXPECT_DOUBLE_EQ(p.seconds, 0.25);
  EXPECT_EQ(p.time_unix, r.time_unix);
}

TEST(CommitRecord, AnyChangedByteIsDetected) {
  const std::string text = sample().serialize();
  for (std::size_t i = 0; i < text.size(); i += 7) {
    std::string damaged = text;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x01);
    EXPECT_THROW(CommitRecord::parse(damaged, "test"), FormatError) << "byte " << i;
  }
  EXPECT_THROW(CommitRecord::parse(text.substr(0, text.size() / 2), "test"), FormatError);
  EXPECT_THROW(CommitRecord::parse("", "test"), FormatError);
}

TEST(CommitRecord, InconsistentChainIsRejected) {
  CommitRecord r = sample();
  r.chain = {4, 5, 6}; // does not end with the version itself
  EXPECT_THROW(CommitRecord::parse(r.serialize(), "test"), FormatError);
  r = sample();
  r.base = true; // a base with a chain of four
  EXPECT_THROW(CommitRecord::parse(r.serialize(), "test"), FormatError);
}
