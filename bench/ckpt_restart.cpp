// ckpt_restart: libckpt restart time against a plain parallel-HDF5 read of
// the same bytes, for chains of deltas of different length.
//
// Setup, per total state size (spread evenly over the ranks):
//   plain   the state written once with plain parallel HDF5 (one shared
//           file, one dataset, a contiguous slab per rank);
//   posix   each rank's share written to a file of its own (what a user
//           would do by hand), read back with read(2);
//   chain N for each N in --chains: a fresh directory holding a base and N
//           deltas (base_every large), each delta after changing
//           --delta-dirty percent of the blocks at random.
// Each repetition then times, in rotating order, the plain collective read
// and ckpt::Session::restart() of every chain, each in a fresh Session. The
// page cache is prepared the same way before every timed read (--cache; the
// output says which was used and how much of the files was still cached).
// Every restored state is checked against a checksum taken when it was
// written. Targets of issue 13 are printed with PASS/SHORT.
#include "common/bench_common.hpp"
#include "common/bench_io.hpp"
#include "common/block_state.hpp"

#include <ckpt/ckpt.hpp>

#include <boost/program_options.hpp>
#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace bench = ckpt::bench;

namespace {

// Targets of issue 13.
constexpr double restart_vs_read_target = 1.0;  // base-only restart <= 1.0x a plain HDF5 read
constexpr double restart_vs_posix_target = 1.0; // base-only restart <= 1.0x a per-rank POSIX read
constexpr double chain_vs_base_target = 1.2;    // 10-delta chain <= 1.2x a base-only restart

struct Options {
  std::vector<std::uint64_t> sizes;
  std::vector<int> chains;
  double delta_dirty = 10.0;
  std::string block_size_text = "64KiB";
  std::uint64_t block_size = 0;
  int reps = 3;
  std::string cache_text = "auto";
  bench::CacheMode cache = bench::CacheMode::Fadvise;
  std::string dir = "ckpt_restart.bench";
  bool keep_files = false;
  bool json = false;
  std::string json_file;
  std::map<std::string, std::string> settings; ///< extra libckpt configuration (--set)
};

bool parse_options(int argc, char **argv, int rank, Options &opts) {
  namespace po = boost::program_options;
  std::string sizes = "64MiB,256MiB,1GiB";
  std::string chains = "0,1,5,10";
  po::options_description desc(
      "Usage: ckpt_restart [options]\n\n"
      "libckpt restart time (base + N deltas) against a plain parallel-HDF5 read of the\n"
      "same bytes. Sizes are the total state over all ranks (B, KiB, MiB, GiB).\n\n"
      "Options");
  // clang-format off
  desc.add_options()
    ("help,h", "print this help and exit")
    ("sizes", po::value(&sizes)->default_value(sizes), "total state sizes, e.g. 64MiB,4GiB")
    ("chains", po::value(&chains)->default_value(chains),
     "deltas after the base (0: base only, the reference of the chain target)")
    ("delta-dirty", po::value(&opts.delta_dirty)->default_value(opts.delta_dirty),
     "percent of the blocks changed before each delta")
    ("block-size", po::value(&opts.block_size_text)->default_value(opts.block_size_text),
     "libckpt block size (config key block_size)")
    ("reps", po::value(&opts.reps)->default_value(opts.reps),
     "repetitions (the median is reported)")
    ("cache", po::value(&opts.cache_text)->default_value(opts.cache_text),
     "page cache before each timed read: drop (echo 3 > /proc/sys/vm/drop_caches, root), "
     "fadvise (posix_fadvise DONTNEED on the files read), warm (files read once first), "
     "auto (drop when permitted, else fadvise)")
    ("dir", po::value(&opts.dir)->default_value(opts.dir),
     "scratch directory (created; removed at the end unless --keep-files)")
    ("keep-files", po::bool_switch(&opts.keep_files), "leave the scratch directory")
    ("set", po::value<std::vector<std::string>>()->composing(),
     "extra libckpt configuration key=value (repeatable), e.g. --set verify=false")
    ("json", po::bool_switch(&opts.json), "print the results as JSON instead of tables")
    ("json-file", po::value(&opts.json_file),
     "also write the results as JSON to this file");
  // clang-format on
  po::variables_map vm;
  if (!bench::parse_command_line(argc, argv, desc, vm, rank)) return false;
  opts.sizes = bench::parse_size_list(sizes);
  if (vm.count("set") != 0)
    opts.settings = bench::parse_settings(vm["set"].as<std::vector<std::string>>(),
                                          {"dir", "block_size", "base_every", "log_level"});
  for (const double c : bench::parse_number_list(chains)) {
    if (c != static_cast<int>(c) || c > 1000)
      throw std::invalid_argument("--chains takes whole numbers up to 1000");
    opts.chains.push_back(static_cast<int>(c));
  }
  std::sort(opts.chains.begin(), opts.chains.end());
  opts.chains.erase(std::unique(opts.chains.begin(), opts.chains.end()), opts.chains.end());
  opts.block_size = bench::parse_size(opts.block_size_text);
  opts.cache = bench::parse_cache_mode(opts.cache_text);
  if (opts.reps < 1) throw std::invalid_argument("--reps must be at least 1");
  if (!(opts.delta_dirty >= 0.0 && opts.delta_dirty <= 100.0))
    throw std::invalid_argument("--delta-dirty must be in 0..100");
  if (opts.block_size < 512 || opts.block_size % 8 != 0)
    throw std::invalid_argument("--block-size must be a multiple of 8 of at least 512 bytes");
  return true;
}

std::map<std::string, std::string> session_options(const Options &opts, const std::string &dir) {
  const int base_every = std::max(100, opts.chains.back() + 1);
  std::map<std::string, std::string> options = opts.settings;
  options["dir"] = dir;
  options["block_size"] = std::to_string(opts.block_size);
  options["base_every"] = std::to_string(base_every);
  options["log_level"] = "warning";
  return options;
}

void barrier() { bench::check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }

bool all_ranks(bool local) {
  int mine = local ? 1 : 0;
  int all = 0;
  bench::check_mpi(MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD),
                   "MPI_Allreduce");
  return all == 1;
}

std::uint64_t bytes_on_disk(const std::string &path) {
  std::uint64_t total = 0;
  for (const auto &f : bench::files_under(path))
    total += std::filesystem::file_size(f);
  return total;
}

/// One thing whose read is timed: the plain file or a chain directory.
struct Item {
  std::string label;
  std::string path;
  int deltas = -1;              // -1: the plain HDF5 read, -2: the per-rank POSIX read
  std::uint64_t checksum = 0;   // of this rank's state when written
  std::uint64_t disk_bytes = 0; // all files (rank 0)
  std::size_t files = 0;
  std::vector<double> seconds;
  std::vector<double> resident; // fraction of the files cached before the read (rank 0)
  std::vector<double> vs_plain; // per repetition
  std::vector<double> vs_base;  // per repetition (chains, when a base-only chain is measured)
  std::vector<double> vs_posix; // per repetition
};

struct SizeResult {
  std::uint64_t state_bytes = 0;
  std::vector<Item> items;
};

SizeResult measure_size(const Options &opts, int rank, int ranks, std::uint64_t total) {
  const std::uint64_t local = bench::local_state_bytes(total, ranks, opts.block_size);
  bench::BlockState state(local, opts.block_size,
                          0xbeefULL + static_cast<std::uint64_t>(rank) * 31 + total);
  SizeResult result;
  {
    std::uint64_t sum = 0;
    bench::check_mpi(MPI_Allreduce(&local, &sum, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD),
                     "MPI_Allreduce");
    result.state_bytes = sum;
  }

  // Setup (untimed): the plain file and one directory per chain length.
  Item plain;
  plain.label = "plain HDF5 read";
  plain.path = opts.dir + "/plain.h5";
  bench::h5_write_slabs(MPI_COMM_WORLD, plain.path, state.data(), state.bytes());
  plain.checksum = state.checksum();
  result.items.push_back(plain);
  // What a user would do by hand: each rank writes its share to its own file
  // and reads it back with read(2).
  Item posix;
  posix.label = "plain POSIX read, file per rank";
  posix.path = opts.dir + "/posix";
  posix.deltas = -2;
  if (rank == 0) std::filesystem::create_directories(posix.path);
  barrier();
  const std::string posix_file = posix.path + "/rank" + std::to_string(rank) + ".bin";
  bench::posix_write_fsync(posix_file, state.data(), state.bytes());
  posix.checksum = state.checksum();
  result.items.push_back(posix);
  for (const int deltas : opts.chains) {
    Item chain;
    chain.label = deltas == 0
                      ? std::string("restart, base only")
                      : bench::format("restart, base + %d delta%s", deltas, deltas == 1 ? "" : "s");
    chain.path = opts.dir + "/chain" + std::to_string(deltas) + ".ckpt";
    chain.deltas = deltas;
    if (rank == 0) std::filesystem::create_directories(chain.path);
    barrier();
    ckpt::Session session(MPI_COMM_WORLD, session_options(opts, chain.path));
    session.protect_bytes(0, "state", state.data(), state.bytes(), 1);
    (void)session.checkpoint(0);
    for (int d = 1; d <= deltas; ++d) {
      state.dirty(opts.delta_dirty, 0xd1f7ULL * static_cast<std::uint64_t>(d) +
                                        static_cast<std::uint64_t>(rank) * 65537 + total);
      const auto stats = session.checkpoint(d);
      if (stats.base) throw std::runtime_error("a delta of the chain was written as a base");
    }
    session.finalize();
    chain.checksum = state.checksum();
    result.items.push_back(chain);
  }
  barrier();
  if (rank == 0)
    for (auto &item : result.items) {
      item.disk_bytes = bytes_on_disk(item.path);
      item.files = bench::files_under(item.path).size();
    }

  for (int rep = 0; rep < opts.reps; ++rep) {
    std::vector<double> t(result.items.size(), 0.0);
    for (const int i : bench::rotated_order(static_cast<int>(result.items.size()), rep)) {
      Item &item = result.items[static_cast<std::size_t>(i)];
      std::memset(state.data(), 0, state.bytes()); // a read that does nothing is caught
      bench::prepare_cache(MPI_COMM_WORLD, opts.cache, {item.path});
      if (rank == 0) item.resident.push_back(bench::resident_fraction({item.path}));
      if (item.deltas == -1) {
        t[static_cast<std::size_t>(i)] = bench::time_collective(MPI_COMM_WORLD, [&] {
          bench::h5_read_slabs(MPI_COMM_WORLD, item.path, state.data(), state.bytes());
        });
      } else if (item.deltas == -2) {
        t[static_cast<std::size_t>(i)] = bench::time_collective(
            MPI_COMM_WORLD, [&] { bench::posix_read(posix_file, state.data(), state.bytes()); });
      } else {
        ckpt::Session session(MPI_COMM_WORLD, session_options(opts, item.path));
        session.protect_bytes(0, "state", state.data(), state.bytes(), 1);
        ckpt::CheckpointId id;
        t[static_cast<std::size_t>(i)] =
            bench::time_collective(MPI_COMM_WORLD, [&] { id = session.restart(); });
        session.finalize();
        if (id.step != item.deltas)
          throw std::runtime_error(item.label + ": restored step " + std::to_string(id.step) +
                                   ", expected " + std::to_string(item.deltas));
      }
      if (!all_ranks(state.checksum() == item.checksum))
        throw std::runtime_error(item.label + ": the restored state differs from the one written");
      item.seconds.push_back(t[static_cast<std::size_t>(i)]);
    }
    const int base_index = !opts.chains.empty() && opts.chains.front() == 0 ? 2 : -1;
    for (std::size_t i = 0; i < result.items.size(); ++i) {
      result.items[i].vs_plain.push_back(t[i] / t[0]);
      result.items[i].vs_posix.push_back(t[i] / t[1]);
      if (base_index > 0)
        result.items[i].vs_base.push_back(t[i] / t[static_cast<std::size_t>(base_index)]);
    }
  }
  return result;
}

struct Target {
  std::string name;
  double measured;
  double target;
  [[nodiscard]] bool pass() const { return measured <= target; }
};

std::vector<Target> targets_of(const SizeResult &s) {
  std::vector<Target> targets;
  for (const auto &item : s.items) {
    if (item.deltas == 0) {
      targets.push_back({"base-only restart / plain HDF5 read",
                         bench::summarize(item.vs_plain).median, restart_vs_read_target});
      targets.push_back({"base-only restart / per-rank POSIX read",
                         bench::summarize(item.vs_posix).median, restart_vs_posix_target});
    }
    if (item.deltas == 10 && !item.vs_base.empty())
      targets.push_back({"10-delta restart / base-only restart",
                         bench::summarize(item.vs_base).median, chain_vs_base_target});
  }
  return targets;
}

std::string cache_description(const Options &opts) { return bench::to_string(opts.cache); }

double max_resident(const std::vector<SizeResult> &results) {
  std::vector<double> all;
  for (const auto &s : results)
    for (const auto &item : s.items)
      for (const double r : item.resident)
        if (r >= 0.0) all.push_back(r);
  return all.empty() ? -1.0 : bench::summarize(all).max;
}

void print_tables(const Options &opts, int ranks, const std::vector<SizeResult> &results,
                  double load_start, double load_end) {
  std::printf("ckpt_restart: %d rank(s) on %s (%d cores), block %s, deltas change %g%% of the "
              "blocks, %d repetitions (median; ratios are medians of per-repetition ratios), "
              "load average %.2f -> %.2f\n"
              "Page cache before every timed read: %s; at most %.1f%% of the files' pages were "
              "still cached. Restored data checked by checksum. 1 MB/s = 10^6 B/s.\n\n",
              ranks, bench::host_name().c_str(), bench::machine_cores(),
              bench::format_bytes(opts.block_size).c_str(), opts.delta_dirty, opts.reps, load_start,
              load_end, cache_description(opts).c_str(), 100.0 * max_resident(results));
  if (!opts.settings.empty())
    std::printf("Extra libckpt configuration: %s\n\n",
                bench::describe_settings(opts.settings).c_str());
  bench::Table table({"state", "read", "files", "on disk", "time s", "MB/s", "/HDF5 read",
                      "/POSIX read", "/base-only restart"},
                     2);
  for (const auto &s : results)
    for (const auto &item : s.items) {
      const double t = bench::summarize(item.seconds).median;
      table.add_row({bench::format_bytes(s.state_bytes), item.label, std::to_string(item.files),
                     bench::format_bytes(item.disk_bytes), bench::format("%.3f", t),
                     bench::format("%.0f", static_cast<double>(s.state_bytes) / t / 1e6),
                     bench::format("%.2f", bench::summarize(item.vs_plain).median),
                     bench::format("%.2f", bench::summarize(item.vs_posix).median),
                     item.vs_base.empty() || item.deltas < 0
                         ? std::string("-")
                         : bench::format("%.2f", bench::summarize(item.vs_base).median)});
    }
  table.print(std::cout);
  std::printf("\nTargets (issue 13)\n");
  bench::Table targets({"state", "ratio", "measured", "target", "verdict"}, 2);
  for (const auto &s : results)
    for (const auto &t : targets_of(s))
      targets.add_row({bench::format_bytes(s.state_bytes), t.name,
                       bench::format("%.3f", t.measured), bench::format("<= %.2f", t.target),
                       bench::verdict(t.pass())});
  targets.print(std::cout);
}

bench::Json to_json(const Options &opts, int ranks, const std::vector<SizeResult> &results,
                    double load_start, double load_end) {
  auto sizes = bench::Json::array();
  for (const auto &s : results) {
    auto items = bench::Json::array();
    for (const auto &item : s.items) {
      auto entry = bench::Json::object();
      entry.set("read", item.label)
          .set("deltas", item.deltas < 0 ? bench::Json(nullptr) : bench::Json(item.deltas))
          .set("files", item.files)
          .set("disk_bytes", item.disk_bytes)
          .set("seconds", bench::to_json(bench::summarize(item.seconds)))
          .set("resident_before_read", bench::to_json(bench::summarize(item.resident)))
          .set("over_plain_read", bench::to_json(bench::summarize(item.vs_plain)))
          .set("over_posix_read", bench::to_json(bench::summarize(item.vs_posix)));
      if (item.deltas >= 0 && !item.vs_base.empty())
        entry.set("over_base_only_restart", bench::to_json(bench::summarize(item.vs_base)));
      items.push(std::move(entry));
    }
    auto targets = bench::Json::array();
    for (const auto &t : targets_of(s))
      targets.push(bench::Json::object()
                       .set("name", t.name)
                       .set("measured", t.measured)
                       .set("comparison", "<=")
                       .set("target", t.target)
                       .set("pass", t.pass()));
    sizes.push(bench::Json::object()
                   .set("state_bytes", s.state_bytes)
                   .set("reads", std::move(items))
                   .set("targets", std::move(targets)));
  }
  return bench::Json::object()
      .set("benchmark", "ckpt_restart")
      .set("ranks", ranks)
      .set("host", bench::host_name())
      .set("cores", bench::machine_cores())
      .set("load_average_start", load_start)
      .set("load_average_end", load_end)
      .set("block_bytes", opts.block_size)
      .set("libckpt_settings", bench::describe_settings(opts.settings))
      .set("delta_dirty_percent", opts.delta_dirty)
      .set("cache", cache_description(opts))
      .set("reps", opts.reps)
      .set("sizes", std::move(sizes));
}

int run(const bench::MpiRuntime &mpi, int argc, char **argv) {
  Options opts;
  if (!parse_options(argc, argv, mpi.rank(), opts)) return 0;
  const double load_start = bench::load_average();
  if (mpi.rank() == 0) std::filesystem::create_directories(opts.dir);
  barrier();
  std::vector<SizeResult> results;
  for (const std::uint64_t total : opts.sizes) {
    results.push_back(measure_size(opts, mpi.rank(), mpi.size(), total));
    barrier();
    if (mpi.rank() == 0 && !opts.keep_files)
      for (const auto &item : results.back().items)
        bench::remove_tree(item.path);
    barrier();
  }
  if (mpi.rank() == 0 && !opts.keep_files) bench::remove_tree(opts.dir);
  const double load_end = bench::load_average();
  if (mpi.rank() == 0) {
    if (!bench::emit_json(to_json(opts, mpi.size(), results, load_start, load_end), opts.json,
                          opts.json_file))
      print_tables(opts, mpi.size(), results, load_start, load_end);
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) { return bench::run_main(argc, argv, "ckpt_restart", run); }
