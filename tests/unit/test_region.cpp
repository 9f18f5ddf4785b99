#include "error.hpp"
#include "region.hpp"

#include <gtest/gtest.h>

#include <cstring>

using namespace ckpt::detail;

TEST(RegionRegistry, ReprotectMovesThePointerAndKeepsTheBaseline) {
  RegionRegistry reg;
  double a[10] = {}, b[10] = {};
  Region &r = reg.protect(3, "grid", a, 10, 8, CKPT_DOUBLE);
  r.committed_hashes = {1, 2};
  Region &again = reg.protect(3, "grid", b, 10, 8, CKPT_DOUBLE);
  EXPECT_EQ(again.data, b);
  EXPECT_EQ(again.committed_hashes.size(), 2u);
  // Another size drops the baseline: every block is written next time.
  reg.protect(3, "grid", b, 9, 8, CKPT_DOUBLE);
  EXPECT_TRUE(reg.find(3)->committed_hashes.empty());
  EXPECT_EQ(reg.size(), 1u);
  EXPECT_TRUE(reg.unprotect(3));
  EXPECT_FALSE(reg.unprotect(3));
}

TEST(RegionRegistry, BadArgumentsAreRejected) {
  RegionRegistry reg;
  double a = 0;
  EXPECT_THROW(reg.protect(0, "", &a, 1, 8, CKPT_DOUBLE), ArgumentError);
  EXPECT_THROW(reg.protect(0, std::string(64, 'n'), &a, 1, 8, CKPT_DOUBLE), ArgumentError);
  EXPECT_THROW(reg.protect(0, "x", nullptr, 1, 8, CKPT_DOUBLE), ArgumentError);
  EXPECT_THROW(reg.protect(0, "x", &a, 1, 0, CKPT_BYTE), ArgumentError);
  EXPECT_NO_THROW(reg.protect(0, "empty", nullptr, 0, 8, CKPT_DOUBLE));
  ckpt_type bad_type;
  const int bad_value = 42; // what a C caller could pass
  std::memcpy(&bad_type, &bad_value, sizeof bad_type);
  EXPECT_THROW(type_size(bad_type), ArgumentError);
  EXPECT_EQ(type_size(CKPT_FLOAT), 4u);
  EXPECT_STREQ(type_name(CKPT_INT64), "int64");
}
