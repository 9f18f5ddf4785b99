// dirty_tracking: the cost of finding the changed blocks of a checkpoint,
// hashing every block (dirty_tracking=hash) against page tracking
// (dirty_tracking=pages: collect the written pages, rehash their blocks), and
// what page tracking costs the application (a write fault per page written
// after a checkpoint), against the same writes to unprotected memory.
//
// Every rank works on its own state at the same time, as in a checkpoint.
// For each percentage p, each repetition writes one byte in p% of the blocks
// (one page each, spread at random), then times, in rotating order:
//   hash   ckpt::detail::hash_blocks of every block (libckpt's hash mode);
//   pages  DirtyTracking::block_hashes in pages mode (libckpt's pages mode).
// Times are of the slowest rank. Both must give the same hashes (checked).
#include "common/bench_common.hpp"
#include "common/block_state.hpp"

#include <block_hasher.hpp>
#include <dirty_tracking.hpp>
#include <page_tracker.hpp>

#include <boost/program_options.hpp>
#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <random>
#include <stdexcept>
#include <string>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

namespace bench = ckpt::bench;
namespace detail = ckpt::detail;

namespace {

struct Options {
  std::uint64_t bytes = 256ULL << 20; // per rank
  std::uint64_t block_size = 64ULL << 10;
  std::vector<double> dirty;
  int reps = 5;
};

bool parse_options(int argc, char **argv, int rank, Options &opts) {
  namespace po = boost::program_options;
  std::string bytes = "256MiB", block = "64KiB", dirty = "0,1,10,100";
  po::options_description desc(
      "Usage: dirty_tracking [options]\n\n"
      "Time to find the changed blocks of a checkpoint by hashing every block against page\n"
      "tracking (userfaultfd write-protection + PAGEMAP_SCAN), and the write-fault cost the\n"
      "application pays per page, on every rank at once.\n\nOptions");
  // clang-format off
  desc.add_options()
    ("help,h", "print this help and exit")
    ("bytes", po::value(&bytes)->default_value(bytes), "state per rank (B, KiB, MiB, GiB)")
    ("block-size", po::value(&block)->default_value(block), "block size")
    ("dirty", po::value(&dirty)->default_value(dirty),
     "percentages of blocks written (one page each) between checkpoints")
    ("reps", po::value(&opts.reps)->default_value(opts.reps), "repetitions (median reported)");
  // clang-format on
  po::variables_map vm;
  if (!bench::parse_command_line(argc, argv, desc, vm, rank)) return false;
  opts.bytes = bench::parse_size(bytes);
  opts.block_size = bench::parse_size(block);
  opts.dirty = bench::parse_number_list(dirty);
  if (opts.bytes < opts.block_size || opts.block_size < 4096)
    throw std::invalid_argument("--bytes must hold a block; --block-size at least 4KiB");
  return true;
}

/// Writes one byte in round(p% of blocks) distinct blocks, in a random page of each.
std::uint64_t touch(unsigned char *data, std::uint64_t bytes, std::uint64_t block, double percent,
                    std::mt19937_64 &rng) {
  const std::uint64_t blocks = bytes / block, ps = static_cast<std::uint64_t>(::getpagesize());
  const auto count = static_cast<std::uint64_t>(percent / 100.0 * double(blocks) + 0.5);
  std::vector<std::uint64_t> order(blocks);
  for (std::uint64_t i = 0; i < blocks; ++i)
    order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint64_t page = rng() % (block / ps);
    data[order[i] * block + page * ps + rng() % ps] ^= 0x5a;
  }
  return count;
}

} // namespace

int main(int argc, char **argv) {
  bench::MpiRuntime mpi(argc, argv);
  try {
    Options opts;
    if (!parse_options(argc, argv, mpi.rank(), opts)) return 0;
    const detail::TrackerSupport &support = detail::PageTracker::support();
    if (!support.available) {
      if (mpi.rank() == 0)
        std::printf("page tracking unavailable here: %s\n", support.why_not.c_str());
      return 0;
    }
    void *p =
        ::mmap(nullptr, opts.bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void *q =
        ::mmap(nullptr, opts.bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || q == MAP_FAILED) throw std::runtime_error("mmap failed");
    auto *data = static_cast<unsigned char *>(p);
    auto *plain = static_cast<unsigned char *>(q); // never protected: the write baseline
    std::mt19937_64 fill(1 + static_cast<std::uint64_t>(mpi.rank()));
    for (std::uint64_t i = 0; i < opts.bytes; i += 8) {
      const std::uint64_t v = fill();
      std::memcpy(data + i, &v, std::min<std::uint64_t>(8, opts.bytes - i));
    }
    std::memcpy(plain, data, opts.bytes);

    detail::Region region;
    region.id = 0;
    region.name = "state";
    region.data = data;
    region.count = opts.bytes;
    detail::DirtyTracking tracking;
    tracking.configure(detail::TrackingMode::Pages, false);
    const double t_arm = bench::time_collective(
        MPI_COMM_WORLD, [&] { (void)tracking.block_hashes(region, opts.block_size); });
    std::vector<std::uint64_t> full(detail::block_count(opts.bytes, opts.block_size));

    if (mpi.rank() == 0) {
      std::printf("dirty_tracking: %d rank(s) on %s (%d cores), %s per rank, block %s, %d "
                  "repetitions (median), mechanism %s\n"
                  "probe at startup: write fault %.0f ns/page, XXH3 %.0f ns/page; arming (first "
                  "checkpoint: write-protect + hash all) %.4f s\n\n",
                  mpi.size(), bench::host_name().c_str(), bench::machine_cores(),
                  bench::format_bytes(opts.bytes).c_str(),
                  bench::format_bytes(opts.block_size).c_str(), opts.reps,
                  support.mechanism.c_str(), support.fault_ns_per_page, support.hash_ns_per_page,
                  t_arm);
    }
    bench::Table table({"dirty", "blocks", "hash s", "pages s", "pages/hash", "app write s",
                        "plain write s", "fault ns/page"});
    std::mt19937_64 rng(0xd1e7 + static_cast<std::uint64_t>(mpi.rank()));
    for (const double percent : opts.dirty) {
      std::vector<double> t_hash, t_pages, t_write, t_plain;
      std::uint64_t touched = 0;
      for (int rep = 0; rep < opts.reps; ++rep) {
        const std::uint64_t seed = rng();
        std::mt19937_64 a(seed), b(seed);
        t_plain.push_back(bench::time_collective(
            MPI_COMM_WORLD, [&] { (void)touch(plain, opts.bytes, opts.block_size, percent, b); }));
        t_write.push_back(bench::time_collective(MPI_COMM_WORLD, [&] {
          touched = touch(data, opts.bytes, opts.block_size, percent, a);
        }));
        std::vector<std::uint64_t> tracked;
        for (const int variant : bench::rotated_order(2, rep)) {
          if (variant == 0)
            t_hash.push_back(bench::time_collective(MPI_COMM_WORLD, [&] {
              detail::hash_blocks(data, opts.bytes, opts.block_size, full.data());
            }));
          else
            t_pages.push_back(bench::time_collective(
                MPI_COMM_WORLD, [&] { tracked = tracking.block_hashes(region, opts.block_size); }));
        }
        if (tracked != full) throw std::runtime_error("page tracking missed a write");
      }
      const double h = bench::summarize(t_hash).median, pg = bench::summarize(t_pages).median;
      const double w = bench::summarize(t_write).median, pl = bench::summarize(t_plain).median;
      // The touch loop does the same work on both buffers (shuffle included):
      // the difference is the faults.
      const double fault_ns = touched ? (w - pl) * 1e9 / double(touched) : 0.0;
      table.add_row({bench::format("%g%%", percent), std::to_string(touched),
                     bench::format("%.4f", h), bench::format("%.4f", pg),
                     bench::format("%.3f", h > 0 ? pg / h : 0.0), bench::format("%.4f", w),
                     bench::format("%.4f", pl), touched ? bench::format("%.0f", fault_ns) : "-"});
    }
    if (mpi.rank() == 0) table.print(std::cout);
    ::munmap(p, opts.bytes);
    ::munmap(q, opts.bytes);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "dirty_tracking: %s\n", e.what());
    return 1;
  }
  return 0;
}
