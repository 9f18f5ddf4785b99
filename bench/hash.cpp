// hash: throughput of libckpt's block hashing against memcpy of the same
// buffer, across block sizes.
//
// Every rank works on its own buffer at the same time (as during a
// checkpoint, where every rank hashes its state at once). For each block size
// and repetition, three variants run back to back in rotating order:
//   memcpy      the buffer copied into a second buffer of the same size;
//   hash_blocks ckpt::detail::hash_blocks, the library's XXH3-64 per block;
//   XXH3 loop   XXH3-64 called per block by this program, with
//               XXH3_64bits_dispatch when libxxhash exports it (the widest
//               vector unit of the CPU, chosen at run time; a plain
//               XXH3_64bits build uses SSE2): the reference for the
//               library's own overhead.
// GB/s = buffer bytes / time of the slowest rank (10^9 B/s, per rank). The
// ratio hash/memcpy is the median of the per-repetition ratios.
#include "common/bench_common.hpp"
#include "common/block_state.hpp"

#include <block_hasher.hpp>

#include <boost/program_options.hpp>
#include <mpi.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace bench = ckpt::bench;

namespace {

constexpr double hash_target = 0.80; // hashing at >= 80% of memcpy bandwidth

struct Options {
  std::uint64_t buffer_bytes = 256ULL << 20;
  std::vector<std::uint64_t> block_sizes;
  int reps = 5;
  bool json = false;
  std::string json_file;
};

volatile std::uint64_t g_sink = 0;

enum Variant { Memcpy = 0, Library = 1, Loop = 2, VariantCount = 3 };

#ifdef CKPT_BENCH_HAVE_XXH3_DISPATCH
constexpr const char *loop_name = "XXH3_64bits_dispatch";
#else
constexpr const char *loop_name = "XXH3_64bits";
#endif

bool parse_options(int argc, char **argv, int rank, Options &opts) {
  namespace po = boost::program_options;
  std::string buffer = "256MiB";
  std::string block_sizes = "4KiB,8KiB,16KiB,32KiB,64KiB,128KiB,256KiB,512KiB,1MiB,2MiB,4MiB";
  po::options_description desc(
      "Usage: hash [options]\n\n"
      "Block hashing (XXH3-64 per block, ckpt::detail::hash_blocks) against memcpy of the\n"
      "same buffer, on every rank at once. Sizes accept B, KiB, MiB, GiB.\n\nOptions");
  // clang-format off
  desc.add_options()
    ("help,h", "print this help and exit")
    ("buffer", po::value(&buffer)->default_value(buffer), "bytes hashed per rank")
    ("block-sizes", po::value(&block_sizes)->default_value(block_sizes), "block sizes")
    ("reps", po::value(&opts.reps)->default_value(opts.reps),
     "repetitions (the median is reported)")
    ("json", po::bool_switch(&opts.json), "print the results as JSON instead of a table")
    ("json-file", po::value(&opts.json_file),
     "also write the results as JSON to this file");
  // clang-format on
  po::variables_map vm;
  if (!bench::parse_command_line(argc, argv, desc, vm, rank)) return false;
  opts.buffer_bytes = bench::parse_size(buffer);
  opts.block_sizes = bench::parse_size_list(block_sizes);
  if (opts.reps < 1) throw std::invalid_argument("--reps must be at least 1");
  if (opts.buffer_bytes == 0) throw std::invalid_argument("--buffer must not be 0");
  for (const auto b : opts.block_sizes)
    if (b == 0) throw std::invalid_argument("block sizes must not be 0");
  return true;
}

int run(const bench::MpiRuntime &mpi, int argc, char **argv) {
  Options opts;
  if (!parse_options(argc, argv, mpi.rank(), opts)) return 0;
  const double load_start = bench::load_average();
  const std::size_t bytes = opts.buffer_bytes;

  // Both buffers are written once before timing, so page faults stay out.
  std::unique_ptr<unsigned char[]> source(new unsigned char[bytes]);
  std::unique_ptr<unsigned char[]> target(new unsigned char[bytes]);
  bench::fill_random(source.get(), bytes, 0x1234 + static_cast<std::uint64_t>(mpi.rank()));
  std::memset(target.get(), 0, bytes);

  const std::size_t sizes = opts.block_sizes.size();
  // samples[size][variant]: seconds per repetition.
  std::vector<std::vector<std::vector<double>>> seconds(
      sizes, std::vector<std::vector<double>>(VariantCount));
  std::uint64_t sink = 0;
  for (std::size_t s = 0; s < sizes; ++s) {
    const std::uint64_t block = opts.block_sizes[s];
    const std::uint64_t blocks = (bytes + block - 1) / block;
    std::vector<std::uint64_t> library(blocks);
    std::vector<std::uint64_t> loop(blocks);
    // Repetition 0 warms up (and checks the library against the reference).
    for (int rep = 0; rep <= opts.reps; ++rep) {
      for (const int v : bench::rotated_order(VariantCount, rep)) {
        const double t = bench::time_collective(MPI_COMM_WORLD, [&] {
          switch (v) {
          case Memcpy: std::memcpy(target.get(), source.get(), bytes); break;
          case Library:
            ckpt::detail::hash_blocks(source.get(), bytes, block, library.data());
            break;
          case Loop: bench::hash_every_block(source.get(), bytes, block, loop.data()); break;
          }
        });
        if (rep > 0) seconds[s][static_cast<std::size_t>(v)].push_back(t);
      }
      if (library != loop)
        throw std::runtime_error("hash_blocks disagrees with XXH3_64bits per block at block size " +
                                 std::to_string(block));
      sink ^= library[blocks / 2] ^ target[bytes / 2];
    }
  }
  g_sink = sink; // keeps the copies and hashes observable
  if (mpi.rank() != 0) return 0;

  const double load_end = bench::load_average();
  const double gb = static_cast<double>(bytes) / 1e9;
  auto rows = bench::Json::array();
  bench::Table table({"block", "blocks/rank", "hash_blocks GB/s", "memcpy GB/s", "hash/memcpy",
                      "target", "verdict", "XXH3 loop GB/s", "loop/memcpy", "hashes per GiB"});
  for (std::size_t s = 0; s < sizes; ++s) {
    const auto &t = seconds[s];
    std::vector<double> ratio;
    std::vector<double> loop_ratio;
    for (std::size_t r = 0; r < t[Memcpy].size(); ++r) {
      ratio.push_back(t[Memcpy][r] / t[Library][r]);
      loop_ratio.push_back(t[Memcpy][r] / t[Loop][r]);
    }
    const auto lib = bench::summarize(t[Library]);
    const auto loop = bench::summarize(t[Loop]);
    const auto copy = bench::summarize(t[Memcpy]);
    const auto paired = bench::summarize(ratio);
    const auto loop_paired = bench::summarize(loop_ratio);
    const std::uint64_t block = opts.block_sizes[s];
    const std::uint64_t hashes_per_gib = ((1ULL << 30) + block - 1) / block;
    const bool pass = paired.median >= hash_target;
    auto gbps = [&](const bench::Summary &x) {
      return bench::to_json({gb / x.median, gb / x.max, gb / x.min, x.count});
    };
    rows.push(bench::Json::object()
                  .set("block_bytes", block)
                  .set("blocks_per_rank", (bytes + block - 1) / block)
                  .set("hash_blocks_GBps", gbps(lib))
                  .set("memcpy_GBps", gbps(copy))
                  .set("hash_over_memcpy", bench::to_json(paired))
                  .set("target", hash_target)
                  .set("pass", pass)
                  .set("xxh3_loop_GBps", gbps(loop))
                  .set("xxh3_loop_over_memcpy", bench::to_json(loop_paired))
                  .set("hash_bytes_per_GiB", hashes_per_gib * 8));
    table.add_row({bench::format_bytes(block), std::to_string((bytes + block - 1) / block),
                   bench::format("%.2f", gb / lib.median), bench::format("%.2f", gb / copy.median),
                   bench::format("%.2f", paired.median), bench::format(">= %.2f", hash_target),
                   bench::verdict(pass), bench::format("%.2f", gb / loop.median),
                   bench::format("%.2f", loop_paired.median), std::to_string(hashes_per_gib)});
  }
  auto results = bench::Json::object();
  results.set("benchmark", "hash")
      .set("ranks", mpi.size())
      .set("host", bench::host_name())
      .set("cores", bench::machine_cores())
      .set("load_average_start", load_start)
      .set("load_average_end", load_end)
      .set("buffer_bytes_per_rank", bytes)
      .set("reps", opts.reps)
      .set("xxh3_loop_function", loop_name)
      .set("results", std::move(rows));
  if (!bench::emit_json(results, opts.json, opts.json_file)) {
    std::printf("hash: %s per rank on %d rank(s), host %s (%d cores), %d repetitions (median; "
                "ratio = median of per-repetition ratios), load average %.2f -> %.2f\n"
                "GB/s = 10^9 B/s per rank, slowest rank. Target: hashing >= %.0f%% of memcpy.\n"
                "hash_blocks: the library's function; XXH3 loop: this program calling %s.\n\n",
                bench::format_bytes(bytes).c_str(), mpi.size(), bench::host_name().c_str(),
                bench::machine_cores(), opts.reps, load_start, load_end, hash_target * 100,
                loop_name);
    table.print(std::cout);
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) { return bench::run_main(argc, argv, "hash", run); }
