// Dirty tracking by pages against hashing, through the C++ API: the same
// sequence of random writes (random bytes, the same bytes back, read(2),
// madvise(MADV_DONTNEED), another thread, and MPI_Recv of 4 MiB from the
// neighbour rank, which Open MPI's shared-memory transport copies with
// process_vm_writev) must give the same blocks written at every version and
// the same bytes after a restart, in `hash`, `pages` and `auto` modes.
#include "test_support.hpp"

#include <ckpt/ckpt.h>
#include <ckpt/ckpt.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <sys/mman.h>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace ckpt_test;
using Options = std::map<std::string, std::string>;

namespace {

const std::size_t ps = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
constexpr std::size_t k_message = 4u << 20; // large: Open MPI's single-copy path

/// Private anonymous memory holding an unaligned region.
class Mapping {
public:
  explicit Mapping(std::size_t bytes) : m_bytes(bytes) {
    void *p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    m_data = p == MAP_FAILED ? nullptr : static_cast<unsigned char *>(p);
  }
  ~Mapping() {
    if (m_data) ::munmap(m_data, m_bytes);
  }
  Mapping(const Mapping &) = delete;
  Mapping &operator=(const Mapping &) = delete;
  unsigned char *data() const { return m_data; }

private:
  unsigned char *m_data = nullptr;
  std::size_t m_bytes = 0;
};

struct Version {
  std::uint64_t dirty_blocks = 0;
  std::uint64_t written_bytes = 0;
  bool base = false;
  bool operator==(const Version &o) const {
    return dirty_blocks == o.dirty_blocks && written_bytes == o.written_bytes && base == o.base;
  }
};

struct TrackedRun {
  std::vector<Version> versions;
  std::vector<unsigned char> final_bytes;
  std::vector<unsigned char> restored;
};

/// One rank's share of the random writes of a round; the same for every mode.
void random_writes(std::mt19937_64 &rng, unsigned char *data, std::size_t bytes, int fd) {
  const int writes = 1 + static_cast<int>(rng() % 6);
  for (int w = 0; w < writes; ++w) {
    const std::size_t off = rng() % bytes;
    const std::size_t len = std::min<std::size_t>(1 + rng() % (3 * ps), bytes - off);
    switch (rng() % 5) {
    case 0:
      for (std::size_t i = 0; i < len; ++i)
        data[off + i] = static_cast<unsigned char>(rng());
      break;
    case 1: { // the same bytes back: a write that changes nothing
      volatile unsigned char *p = data + off;
      for (std::size_t i = 0; i < len; ++i)
        p[i] = p[i];
      break;
    }
    case 2: { // the kernel writes: read(2)
      const std::size_t n = std::min<std::size_t>(len, 8 * ps);
      if (::pread(fd, data + off, n, static_cast<off_t>(rng() % ps)) != static_cast<ssize_t>(n))
        ADD_FAILURE() << "pread into the region failed: " << std::strerror(errno);
      break;
    }
    case 3: { // the application drops pages: they read as zeros
      const auto first = (reinterpret_cast<std::uintptr_t>(data + off) + ps - 1) / ps * ps;
      if (first + ps <= reinterpret_cast<std::uintptr_t>(data + bytes)) {
        EXPECT_EQ(::madvise(reinterpret_cast<void *>(first), ps, MADV_DONTNEED), 0);
      }
      break;
    }
    case 4: { // another thread
      const unsigned char value = static_cast<unsigned char>(rng());
      std::thread([=] { std::memset(data + off, value, len); }).join();
      break;
    }
    }
  }
}

TrackedRun run_mode(const std::string &mode, const std::string &dir, std::uint64_t seed) {
  TrackedRun run;
  const int rank = world_rank(), size = world_size();
  // An unaligned region of 6 MiB + 1000 bytes inside 8 MiB of pages.
  const std::size_t bytes = (6u << 20) + 1000;
  Mapping map(8u << 20);
  if (!map.data()) {
    ADD_FAILURE() << "mmap failed";
    return run;
  }
  unsigned char *data = map.data() + 40;
  std::mt19937_64 rng(seed + static_cast<std::uint64_t>(rank) * 7919);
  for (std::size_t i = 0; i < bytes; ++i)
    data[i] = static_cast<unsigned char>(i * 31 + static_cast<std::size_t>(rank));
  std::uint64_t small = 42; // a region inside one page: hashed whole every time

  char path[] = "ckpt-dirty-tracking-XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd < 0) {
    ADD_FAILURE() << "mkstemp failed";
    return run;
  }
  ::unlink(path);
  std::vector<unsigned char> junk(16 * ps);
  for (auto &c : junk)
    c = static_cast<unsigned char>(rng());
  if (::pwrite(fd, junk.data(), junk.size(), 0) != static_cast<ssize_t>(junk.size()))
    ADD_FAILURE() << "pwrite failed";

  const Options options{{"dir", dir},    {"block_size", "16384"},  {"base_every", "100"},
                        {"keep", "100"}, {"dirty_tracking", mode}, {"log_level", "warning"}};
  {
    ckpt::Session s(MPI_COMM_WORLD, options);
    s.protect_bytes(0, "state", data, bytes, 1);
    s.protect(1, "small", &small, 1);
    std::vector<unsigned char> message(k_message);
    for (int round = 0; round < 12; ++round) {
      if (round > 0) random_writes(rng, data, bytes, fd);
      small += static_cast<std::uint64_t>(round % 2);
      if (size > 1 && round % 3 == 1) {
        // Receive 4 MiB from the left neighbour straight into the region.
        for (auto &c : message)
          c = static_cast<unsigned char>(rng());
        const std::size_t off = rng() % (bytes - k_message);
        MPI_Request req;
        MPI_Irecv(data + off, static_cast<int>(k_message), MPI_BYTE, (rank + size - 1) % size, 7,
                  MPI_COMM_WORLD, &req);
        MPI_Send(message.data(), static_cast<int>(k_message), MPI_BYTE, (rank + 1) % size, 7,
                 MPI_COMM_WORLD);
        MPI_Wait(&req, MPI_STATUS_IGNORE);
      }
      const ckpt::CheckpointStats st = s.checkpoint(round);
      run.versions.push_back(Version{st.dirty_blocks, st.written_bytes, st.base});
    }
    run.final_bytes.assign(data, data + bytes);
    s.finalize();
  }
  ::close(fd);
  // The newest version, restored into other memory, holds the same bytes.
  ckpt::Session r(MPI_COMM_WORLD, options);
  run.restored.assign(bytes, 0);
  std::uint64_t small_restored = 0;
  r.protect_bytes(0, "state", run.restored.data(), bytes, 1);
  r.protect(1, "small", &small_restored, 1);
  (void)r.restart();
  EXPECT_EQ(small_restored, small);
  // Tracking starts again after a restart: nothing changed, nothing written;
  // then one byte is one block per rank.
  const ckpt::CheckpointStats same = r.checkpoint(100);
  EXPECT_EQ(same.written_bytes, 0u) << mode;
  EXPECT_FALSE(same.base) << mode;
  run.restored[bytes / 2] ^= 1;
  const ckpt::CheckpointStats one = r.checkpoint(101);
  EXPECT_EQ(one.dirty_blocks, static_cast<std::uint64_t>(size)) << mode;
  run.restored[bytes / 2] ^= 1;
  return run;
}

} // namespace

TEST(DirtyTracking, PagesAndAutoWriteWhatHashingWrites) {
  const std::uint64_t seed = 20261129;
  const TrackedRun hash = run_mode("hash", fresh_dir("-hash"), seed);
  for (const std::string mode : {"pages", "auto"}) {
    const TrackedRun other = run_mode(mode, fresh_dir("-" + mode), seed);
    ASSERT_EQ(other.versions.size(), hash.versions.size());
    for (std::size_t v = 0; v < hash.versions.size(); ++v) {
      EXPECT_EQ(other.versions[v].dirty_blocks, hash.versions[v].dirty_blocks)
          << mode << ", version " << v + 1;
      EXPECT_EQ(other.versions[v].written_bytes, hash.versions[v].written_bytes)
          << mode << ", version " << v + 1;
      EXPECT_EQ(other.versions[v].base, hash.versions[v].base) << mode << ", version " << v + 1;
    }
    EXPECT_TRUE(other.final_bytes == hash.final_bytes) << mode;
    EXPECT_TRUE(other.restored == other.final_bytes) << mode << ": restored bytes differ";
  }
  EXPECT_TRUE(hash.restored == hash.final_bytes);
  // Something was written after the base: the test exercised the deltas.
  std::uint64_t delta_blocks = 0;
  for (std::size_t v = 1; v < hash.versions.size(); ++v)
    delta_blocks += hash.versions[v].dirty_blocks;
  EXPECT_GT(delta_blocks, 0u);
}

TEST(DirtyTracking, SetTrackingThroughEveryApi) {
  const std::string dir = fresh_dir();
  std::vector<double> v(1000, 1.0);
  ASSERT_EQ(ckpt_init(MPI_COMM_WORLD, nullptr), CKPT_SUCCESS);
  EXPECT_EQ(ckpt_set_tracking(0, CKPT_TRACKING_PAGES), CKPT_ERR_ARGUMENT); // not protected
  ASSERT_EQ(ckpt_protect(0, "v", v.data(), v.size(), CKPT_DOUBLE), CKPT_SUCCESS);
  EXPECT_EQ(ckpt_set_tracking(0, CKPT_TRACKING_PAGES), CKPT_SUCCESS);
  // A C or Fortran caller can pass any int.
  ckpt_tracking bad{};
  const int seventeen = 17;
  std::memcpy(&bad, &seventeen, sizeof bad);
  EXPECT_EQ(ckpt_set_tracking(0, bad), CKPT_ERR_ARGUMENT);
  EXPECT_NE(std::string(ckpt_last_error()).find("ckpt_tracking"), std::string::npos);
  EXPECT_EQ(ckpt_set_tracking(-1, CKPT_TRACKING_HASH), CKPT_ERR_ARGUMENT);
  EXPECT_EQ(ckpt_finalize(), CKPT_SUCCESS);
  EXPECT_EQ(ckpt_set_tracking(0, CKPT_TRACKING_HASH), CKPT_ERR_STATE);

  ckpt::Session s(MPI_COMM_WORLD, Options{{"dir", dir}});
  s.protect(0, "v", v);
  s.set_tracking(0, ckpt::Tracking::pages);
  (void)s.checkpoint(0);
  v[500] = 2.0;
  const auto st = s.checkpoint(1);
  EXPECT_EQ(st.dirty_blocks, static_cast<std::uint64_t>(world_size()));
  std::string message;
  EXPECT_EQ(status_of([&] { s.set_tracking(9, ckpt::Tracking::hash); }, &message),
            CKPT_ERR_ARGUMENT);
  EXPECT_NE(message.find("not protected"), std::string::npos) << message;
}
