// ckpt_n_to_m: restart of a global region on another number of ranks
// (N-to-M) against a same-size restart (issue 10).
//
// Run on W ranks (default 4). The state is one 2-D global array of doubles
// of --size bytes, decomposed by MPI_Dims_create over the ranks that write
// it. Setup: the first W ranks write it (a base) into dir/w<W>; for every M
// in --ranks, the first M ranks write it into dir/w<M>. Each repetition then
// times, on the first M ranks (the others wait), in rotating order:
//   n-to-m    restart of dir/w<W> (written by W ranks) on M ranks;
//   same      restart of dir/w<M> (written by M ranks) on M ranks: the same
//             bytes, restored by the same ranks, without redistribution.
// Both verify every block (as restart always does); the restored pieces are
// checked against the array's formula after the first repetition. The page
// cache is prepared the same way before every timed restart (--cache).
// Target of issue 10: n-to-m <= 1.3 x same.
#include "common/bench_common.hpp"
#include "common/bench_io.hpp"

#include <ckpt/ckpt.hpp>

#include <boost/program_options.hpp>
#include <mpi.h>

#include <cstdint>
#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace bench = ckpt::bench;

namespace {

constexpr double n_to_m_target = 1.3;
constexpr std::uint64_t k_cols = 4096; // doubles per row of the global array

struct Piece {
  std::size_t offset[2] = {0, 0}, dims[2] = {0, 0};
};

/// Rank `rank` of `nranks`'s box of a rows x cols array (MPI_Dims_create grid).
Piece piece_of(int rank, int nranks, std::uint64_t rows) {
  int dims[2] = {0, 0};
  bench::check_mpi(MPI_Dims_create(nranks, 2, dims), "MPI_Dims_create");
  const std::uint64_t extent[2] = {rows, k_cols};
  const int coord[2] = {rank / dims[1], rank % dims[1]};
  Piece p;
  for (int d = 0; d < 2; ++d) {
    const auto n = static_cast<std::uint64_t>(dims[d]);
    const auto c = static_cast<std::uint64_t>(coord[d]);
    p.offset[d] = extent[d] * c / n;
    p.dims[d] = extent[d] * (c + 1) / n - p.offset[d];
  }
  return p;
}

double value_at(std::uint64_t row, std::uint64_t col) { return double(row * k_cols + col); }

std::vector<double> fill(const Piece &p) {
  std::vector<double> v(p.dims[0] * p.dims[1]);
  for (std::size_t i = 0; i < p.dims[0]; ++i)
    for (std::size_t j = 0; j < p.dims[1]; ++j)
      v[i * p.dims[1] + j] = value_at(p.offset[0] + i, p.offset[1] + j);
  return v;
}

void protect(ckpt::Session &s, std::vector<double> &data, const Piece &p, std::uint64_t rows) {
  s.protect_global(0, "field", data.data(), {rows, k_cols}, {p.offset[0], p.offset[1]},
                   {p.dims[0], p.dims[1]});
}

MPI_Comm first_ranks(int n) {
  int rank = 0;
  bench::check_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "MPI_Comm_rank");
  MPI_Comm sub = MPI_COMM_NULL;
  bench::check_mpi(MPI_Comm_split(MPI_COMM_WORLD, rank < n ? 0 : MPI_UNDEFINED, rank, &sub),
                   "MPI_Comm_split");
  return sub;
}

int run(const bench::MpiRuntime &mpi, int argc, char **argv) {
  namespace po = boost::program_options;
  std::string size_text = "1GiB", ranks_text = "2,3", dir = "ckpt_n_to_m.bench",
              cache_text = "auto", block_text = "64KiB";
  int reps = 3;
  po::options_description desc("ckpt_n_to_m options");
  desc.add_options()("help", "this help")("size", po::value(&size_text)->default_value(size_text),
                                          "bytes of the global array")(
      "ranks", po::value(&ranks_text)->default_value(ranks_text),
      "restart rank counts M (each below the job's)")("reps", po::value(&reps)->default_value(reps),
                                                      "repetitions")(
      "block-size", po::value(&block_text)->default_value(block_text),
      "libckpt block_size")("cache", po::value(&cache_text)->default_value(cache_text),
                            "page cache before each restart: auto, drop, fadvise, warm")(
      "dir", po::value(&dir)->default_value(dir), "scratch directory (removed at the end)");
  po::variables_map vm;
  if (!bench::parse_command_line(argc, argv, desc, vm, mpi.rank())) return 0;
  const int writers = mpi.size();
  const std::uint64_t rows = bench::parse_size(size_text) / 8 / k_cols;
  const bench::CacheMode cache = bench::parse_cache_mode(cache_text);
  std::vector<int> targets;
  for (double m : bench::parse_number_list(ranks_text))
    if (m >= 1 && m < writers) targets.push_back(static_cast<int>(m));
  if (targets.empty())
    throw std::runtime_error("--ranks: give counts below the job's " + std::to_string(writers) +
                             " ranks");
  const std::uint64_t bytes = rows * k_cols * 8;
  auto options = [&](int w) {
    return std::map<std::string, std::string>{
        {"dir", dir + "/w" + std::to_string(w)}, {"block_size", block_text}, {"verify", "true"}};
  };
  if (mpi.rank() == 0) bench::remove_tree(dir);
  MPI_Barrier(MPI_COMM_WORLD);
  // Setup: the array written by W ranks, and by each M.
  std::vector<int> writes = {writers};
  writes.insert(writes.end(), targets.begin(), targets.end());
  for (int w : writes) {
    MPI_Comm sub = first_ranks(w);
    if (sub != MPI_COMM_NULL) {
      int r = 0;
      MPI_Comm_rank(sub, &r);
      const Piece p = piece_of(r, w, rows);
      std::vector<double> data = fill(p);
      ckpt::Session s(sub, options(w));
      protect(s, data, p, rows);
      (void)s.checkpoint(1);
      s.finalize();
      MPI_Comm_free(&sub);
    }
    MPI_Barrier(MPI_COMM_WORLD);
  }
  // Timed restarts.
  std::map<int, std::vector<double>> n_to_m, same;
  for (int rep = 0; rep < reps; ++rep)
    for (int m : targets) {
      MPI_Comm sub = first_ranks(m);
      for (int variant : bench::rotated_order(2, rep)) {
        const int from = variant == 0 ? writers : m;
        if (sub != MPI_COMM_NULL) {
          int r = 0;
          MPI_Comm_rank(sub, &r);
          const Piece p = piece_of(r, m, rows);
          std::vector<double> data(p.dims[0] * p.dims[1], -1.0);
          bench::prepare_cache(sub, cache, bench::files_under(dir + "/w" + std::to_string(from)));
          ckpt::Session s(sub, options(from));
          protect(s, data, p, rows);
          const double t = bench::time_collective(sub, [&] { (void)s.restart(); });
          (variant == 0 ? n_to_m : same)[m].push_back(t);
          if (rep == 0 && data != fill(p))
            throw std::runtime_error("rank " + std::to_string(r) + " of " + std::to_string(m) +
                                     ": restored piece differs from the array written by " +
                                     std::to_string(from) + " ranks");
          s.finalize();
        }
        MPI_Barrier(MPI_COMM_WORLD);
      }
      if (sub != MPI_COMM_NULL) MPI_Comm_free(&sub);
    }
  if (mpi.rank() == 0) {
    std::cout << "ckpt_n_to_m: " << bench::format_bytes(bytes) << " global array (" << rows << " x "
              << k_cols << " doubles), written by " << writers
              << " ranks, restarted on M ranks; block " << block_text << ", cache "
              << bench::to_string(cache) << ", " << reps << " rep(s), median (min-max) s\n";
    bench::Table table({"M", "n-to-m", "same", "ratio", "target", "verdict"});
    for (int m : targets) {
      const bench::Summary a = bench::summarize(n_to_m[m]), b = bench::summarize(same[m]);
      const double ratio = a.median / b.median;
      table.add_row({std::to_string(writers) + "->" + std::to_string(m),
                     bench::format("%.3f (%.3f-%.3f)", a.median, a.min, a.max),
                     bench::format("%.3f (%.3f-%.3f)", b.median, b.min, b.max),
                     bench::format("%.2f", ratio), bench::format("<= %.1f", n_to_m_target),
                     bench::verdict(ratio <= n_to_m_target)});
    }
    table.print(std::cout);
    bench::remove_tree(dir);
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) { return bench::run_main(argc, argv, "ckpt_n_to_m", run); }
