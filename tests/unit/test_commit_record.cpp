#include "block_hasher.hpp"
#include "commit_record.hpp"
#include "error.hpp"

#include <gtest/gtest.h>

#include <cinttypes>
#include <cstdio>
#include <utility>

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

namespace {
std::string hex_hash(const std::string &body) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, hash_bytes(body.data(), body.size()));
  return buf;
}
/// The record text with `line` (e.g. "step = 700") replaced by `with`, and
/// its record_hash recomputed: only the strict parser can reject it.
std::string edited(const std::string &line, const std::string &with) {
  const std::string text = sample().serialize();
  std::string body = text.substr(0, text.rfind("record_hash = "));
  const auto at = body.find(line + "\n");
  EXPECT_NE(at, std::string::npos) << line;
  body.replace(at, line.size() + 1, with.empty() ? std::string() : with + "\n");
  return body + "record_hash = " + hex_hash(body) + "\n";
}
template <class F> std::string format_error(F &&fn) {
  try {
    fn();
  } catch (const FormatError &e) {
    return e.what();
  }
  return "";
}
} // namespace

TEST(CommitRecord, StrictNumbers) {
  // Each of these passes the hash check (it is recomputed) and must still be refused.
  const std::pair<std::string, std::string> cases[] = {
      {"step = 700", "step = 12abc"},
      {"version = 7", "version = -7"},
      {"version = 7", "version = 1000000000"}, // beyond the 9-digit range
      {"version = 7", "version = 007x"},
      {"nranks = 4", "nranks = 4294967297"},
      {"nranks = 4", "nranks = 0"},
      {"block_size = 65536", "block_size = 18446744073709551616"}, // 2^64
      {"file_bytes = 123456", "file_bytes = +123456"},
      {"file_bytes = 123456", "file_bytes = 123456 "},
      {"step = 700", "step = 99999999999999999999"},
      {"seconds = 0.25", "seconds = nan"},
      {"seconds = 0.25", "seconds = -1"},
      {"seconds = 0.25", "seconds = 0.25s"},
      {"chain = 4 5 6 7", "chain = 4 5 6 7x"},
      {"chain = 4 5 6 7", "chain = 4  5 6 7"},
      {"chain = 4 5 6 7", "chain = 5 4 6 7"},
      {"chain = 4 5 6 7", "chain = -4 5 6 7"},
      {"kind = delta", "kind = Delta"},
      {"file = ckpt.v000007.h5", "file = ../etc/passwd"},
  };
  for (const auto &edit : cases) {
    const std::string &line = edit.first, &with = edit.second;
    const std::string message =
        format_error([&] { CommitRecord::parse(edited(line, with), "dir/ckpt.v000007.commit"); });
    EXPECT_NE(message.find("dir/ckpt.v000007.commit"), std::string::npos)
        << with << ": " << message;
    const std::string key = with.substr(0, with.find(' '));
    EXPECT_NE(message.find("'" + key + "'"), std::string::npos) << with << ": " << message;
    EXPECT_NE(message.find("line "), std::string::npos) << with << ": " << message;
  }
  // Values at the edges of their ranges are accepted.
  EXPECT_EQ(CommitRecord::parse(edited("step = 700", "step = -9223372036854775808"), "t").step,
            INT64_MIN);
  EXPECT_EQ(CommitRecord::parse(edited("step = 700", "step = 9223372036854775807"), "t").step,
            INT64_MAX);
}

TEST(CommitRecord, RepeatedUnknownAndMissingKeys) {
  std::string m = format_error(
      [&] { CommitRecord::parse(edited("step = 700", "step = 700\nstep = 800"), "r.commit"); });
  EXPECT_NE(m.find("repeated"), std::string::npos) << m;
  EXPECT_NE(m.find("r.commit, line 5"), std::string::npos) << m;
  m = format_error(
      [&] { CommitRecord::parse(edited("step = 700", "step = 700\ncolour = blue"), "r.commit"); });
  EXPECT_NE(m.find("unknown key 'colour'"), std::string::npos) << m;
  m = format_error([&] { CommitRecord::parse(edited("step = 700", ""), "r.commit"); });
  EXPECT_NE(m.find("lacks 'step'"), std::string::npos) << m;
  m = format_error(
      [&] { CommitRecord::parse(edited("step = 700", "step = 700\njunk line"), "r.commit"); });
  EXPECT_NE(m.find("expected 'key = value'"), std::string::npos) << m;
  m = format_error([&] { CommitRecord::parse(edited("step = 700", "step=700"), "r.commit"); });
  EXPECT_NE(m.find("line 4"), std::string::npos) << m;
}

TEST(CommitRecord, OversizeAndOverlongChainsAreRefused) {
  std::string m = format_error(
      [&] { CommitRecord::parse(std::string(k_max_commit_record_bytes + 1, '#'), "big.commit"); });
  EXPECT_NE(m.find("big.commit"), std::string::npos) << m;
  EXPECT_NE(m.find("more than"), std::string::npos) << m;
  CommitRecord r = sample();
  r.chain.clear();
  for (std::int64_t v = 1; v <= static_cast<std::int64_t>(k_max_chain_length) + 1; ++v)
    r.chain.push_back(v);
  r.version = r.chain.back();
  m = format_error([&] { CommitRecord::parse(r.serialize(), "long.commit"); });
  EXPECT_NE(m.find("more than 1000 versions"), std::string::npos) << m;
  // The longest chain of the largest versions fits the size bound.
  r.chain.clear();
  for (std::size_t i = 0; i < k_max_chain_length; ++i)
    r.chain.push_back(k_max_version - static_cast<std::int64_t>(k_max_chain_length - 1 - i));
  r.version = k_max_version;
  r.step = INT64_MIN;
  EXPECT_LT(r.serialize().size(), k_max_commit_record_bytes);
  EXPECT_EQ(CommitRecord::parse(r.serialize(), "max.commit").chain.size(), k_max_chain_length);
}
