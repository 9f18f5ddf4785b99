// PageTracker and DirtyTracking without MPI: every way memory can be written
// (a store, read(2), process_vm_writev, another thread, madvise, mremap) is
// either reported or makes the tracker give up on the range; never missed.
#include "block_hasher.hpp"
#include "dirty_tracking.hpp"
#include "page_tracker.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <random>
#include <sys/mman.h>
#include <sys/uio.h>
#include <thread>
#include <unistd.h>

using namespace ckpt::detail;

namespace {

const std::size_t ps = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));

/// Private anonymous pages, unmapped at the end.
class Pages {
public:
  explicit Pages(std::size_t pages, int flags = MAP_PRIVATE | MAP_ANONYMOUS) : m_bytes(pages * ps) {
    void *p = ::mmap(nullptr, m_bytes, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (p == MAP_FAILED) std::abort();
    m_data = static_cast<unsigned char *>(p);
    std::memset(m_data, 7, m_bytes);
  }
  ~Pages() { ::munmap(m_data, m_bytes); }
  Pages(const Pages &) = delete;
  Pages &operator=(const Pages &) = delete;
  unsigned char *data() const { return m_data; }
  std::size_t bytes() const { return m_bytes; }

private:
  unsigned char *m_data = nullptr;
  std::size_t m_bytes = 0;
};

bool covers(const std::vector<ByteRange> &ranges, std::uint64_t offset) {
  return std::any_of(ranges.begin(), ranges.end(),
                     [&](const ByteRange &r) { return r.begin <= offset && offset < r.end; });
}

std::uint64_t covered_bytes(const std::vector<ByteRange> &ranges) {
  std::uint64_t n = 0;
  for (const ByteRange &r : ranges)
    n += r.end - r.begin;
  return n;
}

/// `pages` pages tracked as region 1 of a PageTracker.
struct TrackedPages {
  Pages mem;
  PageTracker tracker;
  explicit TrackedPages(std::size_t pages) : mem(pages) {
    EXPECT_EQ(tracker.arm(1, mem.data(), mem.bytes()), "");
  }
  /// What collect() reports (empty, and a failure, when tracking was lost).
  std::vector<ByteRange> written() {
    auto r = tracker.collect(1);
    EXPECT_TRUE(r) << "tracking lost";
    return r ? *r : std::vector<ByteRange>{};
  }
};

/// A byte region as the registry would hold it.
Region byte_region(int id, const char *name, void *data, std::uint64_t bytes) {
  Region r;
  r.id = id;
  r.name = name;
  r.data = data;
  r.count = bytes;
  return r;
}

#define REQUIRE_PAGE_TRACKING()                                                                    \
  do {                                                                                             \
    if (!PageTracker::support().available)                                                         \
      GTEST_SKIP() << "page tracking unavailable: " << PageTracker::support().why_not;             \
  } while (0)

} // namespace

TEST(PageTracker, SupportIsProbedAndMeasured) {
  const TrackerSupport &s = PageTracker::support();
  std::printf("mechanism %s%s%s; write fault %.0f ns/page, XXH3 %.0f ns/page\n",
              s.mechanism.c_str(), s.available ? "" : ": ", s.why_not.c_str(), s.fault_ns_per_page,
              s.hash_ns_per_page);
  if (s.available) {
    EXPECT_EQ(s.mechanism, "uffd-wp-async");
    EXPECT_GT(s.fault_ns_per_page, 0.0);
    EXPECT_GT(s.hash_ns_per_page, 0.0);
  } else {
    EXPECT_FALSE(s.why_not.empty());
  }
}

TEST(PageTracker, StoresAreReportedOnceThenProtectedAgain) {
  REQUIRE_PAGE_TRACKING();
  Pages mem(64);
  PageTracker t;
  ASSERT_EQ(t.arm(1, mem.data(), mem.bytes()), "");
  auto clean = t.collect(1);
  ASSERT_TRUE(clean);
  EXPECT_TRUE(clean->empty());
  mem.data()[3 * ps + 17] = 1;
  mem.data()[40 * ps] = 1;
  mem.data()[41 * ps + ps - 1] = 1;
  auto dirty = t.collect(1);
  ASSERT_TRUE(dirty);
  ASSERT_EQ(dirty->size(), 2u);
  EXPECT_EQ((*dirty)[0].begin, 3 * ps);
  EXPECT_EQ((*dirty)[0].end, 4 * ps);
  EXPECT_EQ((*dirty)[1].begin, 40 * ps);
  EXPECT_EQ((*dirty)[1].end, 42 * ps);
  // Reported once: the pages are protected again.
  auto again = t.collect(1);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->empty());
  // A write of the same bytes is a write too (the hash then finds no change).
  volatile unsigned char *same_byte = mem.data() + 5 * ps;
  *same_byte = *same_byte;
  auto same = t.collect(1);
  ASSERT_TRUE(same);
  EXPECT_TRUE(covers(*same, 5 * ps));
  t.disarm(1);
  EXPECT_FALSE(t.armed(1));
  mem.data()[6 * ps] = 3; // unprotected: no fault, nothing tracked
  EXPECT_FALSE(t.collect(1));
}

TEST(PageTracker, UnalignedEdgesAreAlwaysReported) {
  REQUIRE_PAGE_TRACKING();
  Pages mem(16);
  PageTracker t;
  unsigned char *data = mem.data() + 100;
  const std::uint64_t bytes = 10 * ps + 50;
  ASSERT_EQ(t.arm(1, data, bytes), "");
  auto r = t.collect(1);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].begin, 0u);
  EXPECT_EQ((*r)[0].end, ps - 100);
  EXPECT_EQ((*r)[1].begin, 10 * ps - 100);
  EXPECT_EQ((*r)[1].end, bytes);
  // A region inside one page has no interior: all of it, every time.
  PageTracker small;
  ASSERT_EQ(small.arm(2, mem.data() + 14 * ps + 8, 64), "");
  auto all = small.collect(2);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].end, 64u);
}

TEST(PageTracker, ReadSyscallIntoProtectedPagesSucceedsAndIsReported) {
  REQUIRE_PAGE_TRACKING();
  TrackedPages t(32);
  EXPECT_TRUE(t.written().empty());
  // A file read across three pages: the kernel writes, no EFAULT.
  char path[] = "/tmp/ckpt_page_tracker_XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::unlink(path);
  std::vector<unsigned char> src(2 * ps + 10, 0xab);
  ASSERT_EQ(::pwrite(fd, src.data(), src.size(), 0), static_cast<ssize_t>(src.size()));
  ASSERT_EQ(::pread(fd, t.mem.data() + 7 * ps + ps - 5, src.size(), 0),
            static_cast<ssize_t>(src.size()));
  ::close(fd);
  EXPECT_EQ(t.mem.data()[9 * ps], 0xab);
  const auto r = t.written();
  EXPECT_TRUE(covers(r, 7 * ps));
  EXPECT_TRUE(covers(r, 8 * ps));
  EXPECT_TRUE(covers(r, 9 * ps));
  EXPECT_TRUE(covers(r, 10 * ps));
  EXPECT_EQ(covered_bytes(r), 4 * ps);
}

TEST(PageTracker, ProcessVmWritevIsReported) {
  REQUIRE_PAGE_TRACKING();
  // The single-copy path of Open MPI's shared-memory transport (CMA).
  TrackedPages t(32);
  EXPECT_TRUE(t.written().empty());
  std::vector<unsigned char> src(3 * ps, 0x5a);
  iovec local{src.data(), src.size()};
  iovec remote{t.mem.data() + 20 * ps, src.size()};
  const ssize_t n = ::process_vm_writev(::getpid(), &local, 1, &remote, 1, 0);
  if (n < 0 && errno == EPERM) GTEST_SKIP() << "process_vm_writev not permitted here";
  ASSERT_EQ(n, static_cast<ssize_t>(src.size()));
  const auto r = t.written();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].begin, 20 * ps);
  EXPECT_EQ(r[0].end, 23 * ps);
}

TEST(PageTracker, WritesFromAnotherThreadAreReported) {
  REQUIRE_PAGE_TRACKING();
  TrackedPages t(64);
  EXPECT_TRUE(t.written().empty());
  std::vector<unsigned char> src(ps, 1);
  std::thread writer([&] {
    for (std::size_t p = 0; p < 64; p += 8)
      std::memcpy(t.mem.data() + p * ps, src.data(), ps);
  });
  writer.join();
  const auto r = t.written();
  EXPECT_EQ(r.size(), 8u);
  for (std::size_t p = 0; p < 64; p += 8)
    EXPECT_TRUE(covers(r, p * ps)) << p;
}

TEST(PageTracker, MadviseDontneedIsReported) {
  REQUIRE_PAGE_TRACKING();
  TrackedPages t(32);
  EXPECT_TRUE(t.written().empty());
  ASSERT_EQ(::madvise(t.mem.data() + 4 * ps, 2 * ps, MADV_DONTNEED), 0);
  EXPECT_EQ(t.mem.data()[4 * ps], 0); // the bytes changed to zero
  const auto r = t.written();
  EXPECT_TRUE(covers(r, 4 * ps));
  EXPECT_TRUE(covers(r, 5 * ps));
  // Afterwards the zero pages are tracked like any other.
  const auto clean = t.written();
  EXPECT_TRUE(clean.empty());
  t.mem.data()[5 * ps] = 9;
  const auto again = t.written();
  EXPECT_TRUE(covers(again, 5 * ps));
}

TEST(PageTracker, MremapOverTheRangeIsNeverMissed) {
  REQUIRE_PAGE_TRACKING();
  Pages mem(32);
  PageTracker t;
  ASSERT_EQ(t.arm(1, mem.data(), mem.bytes()), "");
  ASSERT_TRUE(t.collect(1));
  // Move other pages (other bytes) over part of the tracked range.
  void *other = ::mmap(nullptr, 4 * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(other, MAP_FAILED);
  std::memset(other, 0x33, 4 * ps);
  void *moved =
      ::mremap(other, 4 * ps, 4 * ps, MREMAP_MAYMOVE | MREMAP_FIXED, mem.data() + 10 * ps);
  ASSERT_EQ(moved, static_cast<void *>(mem.data() + 10 * ps));
  EXPECT_EQ(mem.data()[10 * ps], 0x33);
  auto r = t.collect(1);
  // Either tracking is given up (hash all of it) or the pages are reported.
  if (r) {
    for (std::size_t p = 10; p < 14; ++p)
      EXPECT_TRUE(covers(*r, p * ps)) << p;
  } else {
    EXPECT_FALSE(t.armed(1));
  }
}

TEST(PageTracker, SharedAndFileMappingsAreRefused) {
  REQUIRE_PAGE_TRACKING();
  Pages shared(8, MAP_SHARED | MAP_ANONYMOUS);
  PageTracker t;
  const std::string why = t.arm(1, shared.data(), shared.bytes());
  EXPECT_NE(why.find("shared"), std::string::npos) << why;
  EXPECT_FALSE(t.armed(1));
  // Regions may not share pages: each collect() would hide the other's writes.
  Pages mem(16);
  ASSERT_EQ(t.arm(2, mem.data(), 8 * ps), "");
  EXPECT_NE(t.arm(3, mem.data() + 4 * ps, 8 * ps).find("overlap"), std::string::npos);
  EXPECT_EQ(t.arm(4, mem.data() + 8 * ps, 8 * ps), "");
}

TEST(PageTracker, MapsParsing) {
  const std::string maps = "1000-3000 rw-p 00000000 00:00 0 \n"
                           "3000-5000 rw-p 00000000 00:00 0          [heap]\n"
                           "5000-6000 rw-s 00000000 00:01 1234       /dev/zero (deleted)\n"
                           "6000-7000 rw-p 00000000 08:01 99         /data/file\n"
                           "8000-9000 rw-p 00000000 00:00 0\n";
  EXPECT_EQ(untrackable_mapping(maps, 0x1000, 0x5000), "");
  EXPECT_NE(untrackable_mapping(maps, 0x4000, 0x6000).find("shared"), std::string::npos);
  EXPECT_NE(untrackable_mapping(maps, 0x6000, 0x7000).find("file"), std::string::npos);
  EXPECT_NE(untrackable_mapping(maps, 0x7000, 0x9000).find("not mapped"), std::string::npos);
  EXPECT_NE(untrackable_mapping(maps, 0x8000, 0xa000).find("not mapped"), std::string::npos);
}

TEST(PageTracker, DevicesThatWriteUnseenAreFound) {
  char tmpl[] = "/tmp/ckpt_devices_XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string root = std::string(tmpl) + "/";
  EXPECT_EQ(devices_writing_unseen(root), "");
  ASSERT_EQ(std::system(("mkdir -p " + root + "sys/class/infiniband/mlx5_0 " + root + "dev && " +
                         "touch " + root + "dev/xpmem")
                            .c_str()),
            0);
  const std::string found = devices_writing_unseen(root);
  EXPECT_NE(found.find("RDMA"), std::string::npos) << found;
  EXPECT_NE(found.find("xpmem"), std::string::npos) << found;
  EXPECT_EQ(std::system(("rm -rf " + std::string(tmpl)).c_str()), 0);
}

TEST(PageTracker, BlocksTouchingRanges) {
  const std::vector<ByteRange> ranges = {{0, 10}, {100, 4096}, {4096, 4097}, {9000, 9001}};
  EXPECT_EQ(blocks_touching(ranges, 10000, 1024), (std::vector<std::uint64_t>{0, 1, 2, 3, 4, 8}));
  EXPECT_EQ(blocks_touching({{2048, 2049}, {9000, 20000}}, 10000, 1024),
            (std::vector<std::uint64_t>{2, 8, 9}));
  EXPECT_EQ(blocks_touching(ranges, 10000, 65536), (std::vector<std::uint64_t>{0}));
  EXPECT_TRUE(blocks_touching({}, 10000, 1024).empty());
}

TEST(DirtyTracking, AutoRule) {
  // Heat: every block changes: hashing stays.
  EXPECT_FALSE(auto_prefers_pages(1000, 1000, 16, 1800, 400));
  // 1% of the blocks: pages.
  EXPECT_TRUE(auto_prefers_pages(1000, 10, 16, 1800, 400));
  EXPECT_TRUE(auto_keeps_pages(1000, 10, 10, 16, 1800, 400));
  EXPECT_FALSE(auto_keeps_pages(1000, 16000, 1000, 16, 1800, 400));
}

TEST(DirtyTracking, RandomWritesGiveTheHashesOfHashingEverything) {
  REQUIRE_PAGE_TRACKING();
  // Unaligned, with writes of random bytes, of the same bytes back, by
  // read(2) and by madvise; the page-tracked hashes must equal a full hash
  // after every round.
  Pages mem(600);
  unsigned char *data = mem.data() + 24;
  const std::uint64_t bytes = 590 * ps + 77, bs = 16 * ps;
  Region r = byte_region(5, "random", data, bytes);
  DirtyTracking tracking;
  tracking.configure(TrackingMode::Pages, false);
  tracking.set_mode(5, TrackingMode::Pages);
  std::mt19937_64 rng(12345);
  char path[] = "/tmp/ckpt_dirty_tracking_XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::unlink(path);
  std::vector<unsigned char> junk(3 * ps);
  for (auto &c : junk)
    c = static_cast<unsigned char>(rng());
  ASSERT_EQ(::pwrite(fd, junk.data(), junk.size(), 0), static_cast<ssize_t>(junk.size()));
  std::uint64_t hashed_total = 0;
  for (int round = 0; round < 40; ++round) {
    const int writes = static_cast<int>(rng() % 12);
    for (int w = 0; w < writes; ++w) {
      const std::uint64_t off = rng() % bytes;
      const std::uint64_t len = std::min<std::uint64_t>(1 + rng() % (2 * ps), bytes - off);
      switch (rng() % 4) {
      case 0:
        for (std::uint64_t i = 0; i < len; ++i)
          data[off + i] = static_cast<unsigned char>(rng());
        break;
      case 1: std::memmove(data + off, data + off, len); break; // the same bytes back
      case 2:
        ASSERT_EQ(::pread(fd, data + off, std::min<std::uint64_t>(len, junk.size()), 0),
                  static_cast<ssize_t>(std::min<std::uint64_t>(len, junk.size())));
        break;
      case 3: {
        const std::uint64_t page = (reinterpret_cast<std::uintptr_t>(data + off) / ps) * ps;
        if (page >= reinterpret_cast<std::uintptr_t>(data) &&
            page + ps <= reinterpret_cast<std::uintptr_t>(data + bytes)) {
          ASSERT_EQ(::madvise(reinterpret_cast<void *>(page), ps, MADV_DONTNEED), 0);
        }
        break;
      }
      }
    }
    const std::vector<std::uint64_t> tracked = tracking.block_hashes(r, bs);
    std::vector<std::uint64_t> full(block_count(bytes, bs));
    hash_blocks(data, bytes, bs, full.data());
    ASSERT_EQ(tracked, full) << "round " << round;
    EXPECT_TRUE(tracking.tracked_by_pages(5));
    if (round > 0) hashed_total += tracking.blocks_hashed(5);
  }
  ::close(fd);
  // And the point of it: far fewer blocks hashed than 39 full passes.
  EXPECT_LT(hashed_total, 39 * block_count(bytes, bs) / 2);
}

TEST(DirtyTracking, NewPagesMappedOverARegionAreHashed) {
  REQUIRE_PAGE_TRACKING();
  Pages mem(64);
  Region r = byte_region(2, "remapped", mem.data(), mem.bytes());
  DirtyTracking tracking;
  tracking.configure(TrackingMode::Pages, false);
  (void)tracking.block_hashes(r, 4 * ps);
  ASSERT_TRUE(tracking.tracked_by_pages(2));
  // Fresh pages (zeros, not registered) replace pages 9..12 of the region.
  void *fresh = ::mmap(mem.data() + 9 * ps, 4 * ps, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  ASSERT_EQ(fresh, static_cast<void *>(mem.data() + 9 * ps));
  const std::vector<std::uint64_t> tracked = tracking.block_hashes(r, 4 * ps);
  std::vector<std::uint64_t> full(16);
  hash_blocks(mem.data(), mem.bytes(), 4 * ps, full.data());
  EXPECT_EQ(tracked, full);
  // Tracked again from there on.
  EXPECT_TRUE(tracking.tracked_by_pages(2));
  mem.data()[10 * ps] = 1;
  hash_blocks(mem.data(), mem.bytes(), 4 * ps, full.data());
  EXPECT_EQ(tracking.block_hashes(r, 4 * ps), full);
  EXPECT_EQ(tracking.blocks_hashed(2), 1u);
}

TEST(DirtyTracking, HashModeAndRuntimeRegionsAreNeverTracked) {
  Pages mem(64);
  Region r = byte_region(-3, "runtime", mem.data(), mem.bytes());
  DirtyTracking tracking;
  tracking.configure(TrackingMode::Pages, false);
  (void)tracking.block_hashes(r, 16 * ps);
  EXPECT_FALSE(tracking.tracked_by_pages(-3));
  EXPECT_THROW(tracking.set_mode(-3, TrackingMode::Pages), std::exception);
  r.id = 3;
  tracking.set_mode(3, TrackingMode::Hash);
  (void)tracking.block_hashes(r, 16 * ps);
  EXPECT_FALSE(tracking.tracked_by_pages(3));
  EXPECT_EQ(tracking.blocks_hashed(3), 4u);
}
