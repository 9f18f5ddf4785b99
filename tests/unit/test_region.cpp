#include "error.hpp"
#include "region.hpp"

#include <gtest/gtest.h>

#include <cstdint>
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

TEST(RegionRegistry, SizeOverflowIsRejectedNamingTheRegion) {
  RegionRegistry reg;
  char a = 0;
  try {
    reg.protect(5, "huge", &a, SIZE_MAX / 2, 3, CKPT_BYTE);
    ADD_FAILURE() << "an overflowing size was accepted";
  } catch (const ArgumentError &e) {
    EXPECT_NE(std::string(e.what()).find("region 5 'huge'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("overflow"), std::string::npos) << e.what();
  }
  EXPECT_EQ(reg.size(), 0u);
  EXPECT_NO_THROW(reg.protect(5, "max", &a, SIZE_MAX / 4, 4, CKPT_BYTE));
}

TEST(RegionRegistry, TypeIntegersAreValidatedBeforeConversion) {
  EXPECT_EQ(type_from_integer(7, "ctx"), CKPT_DOUBLE);
  EXPECT_EQ(type_from_integer(0, "ctx"), CKPT_BYTE);
  for (long long bad : {-1LL, 8LL, 99LL, 1LL << 40}) {
    try {
      type_from_integer(bad, "ckpt_protect: region 2 'grid'");
      ADD_FAILURE() << bad << " accepted";
    } catch (const ArgumentError &e) {
      EXPECT_NE(std::string(e.what()).find("region 2 'grid'"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(std::to_string(bad)), std::string::npos) << e.what();
    }
  }
}
