// ckpt_write: libckpt checkpoint time against plain writes of the same bytes.
//
// For every total state size (spread evenly over the ranks, one protected
// region per rank):
//
// 1. Full checkpoint. One session writes a base at every checkpoint
//    (base_every 1; its first checkpoint is an untimed warm-up). Each
//    repetition runs three variants in rotating order:
//      ckpt   ckpt::Session::checkpoint(): every block written, the file and
//             the commit record fsync'ed;
//      HDF5   plain parallel HDF5: one shared file, one dataset, each rank a
//             contiguous slab, collective transfer, close, fsync;
//      POSIX  write + fsync of each rank's bytes to a file per rank.
//    Ratios are bandwidth ratios (t_baseline / t_ckpt) per repetition; the
//    median is reported.
//
// 2. Incremental checkpoints. One session (base_every large) writes a base,
//    then each repetition changes p% of the blocks at random (p in --dirty)
//    and runs, in alternating order:
//      ckpt       ckpt::Session::checkpoint() (a delta);
//      reference  hash every block with XXH3-64, find the changed ones
//                 against the previous hashes, pack them and write them with
//                 plain parallel HDF5 (as above, fsync'ed).
//    Both see exactly the same changed blocks.
//
// With a local level (config key local_dir; the default uses /dev/shm where
// it has room), a checkpoint returns once the local level committed and the
// global level is written in the background: each timed checkpoint is
// followed by an untimed ckpt::Session::wait_global(), as the application's
// computation would hide the flush, so that the time is the application's
// stall. Its baseline (issue 9) is the reference's hash of every block plus
// the memcpy of the changed blocks ("pack"), measured in the same run.
//
// Times are wall times of the slowest rank, each variant started after a
// barrier. Targets of issues 5, 9 and 12 are printed with PASS/SHORT.
#include "common/bench_common.hpp"
#include "common/bench_io.hpp"
#include "common/block_state.hpp"

#include <ckpt/ckpt.hpp>

#include <boost/program_options.hpp>
#include <mpi.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace bench = ckpt::bench;

namespace {

// Targets of issue 5.
constexpr double full_target = 0.90;         // full checkpoint >= 90% of plain HDF5 bandwidth
constexpr double incr_vs_full_target = 0.10; // 1% dirty: <= 10% of the full checkpoint time
constexpr double incr_vs_ref_target = 1.30;  // 1% dirty: <= 1.3x (hash all + write changed)
// "With 0% dirty, the cost of hashing alone": judged here as <= 1.3x the
// time to hash the whole state (the same allowance as the 1% target).
constexpr double clean_vs_hash_target = 1.30;
// Targets of issue 12 (--tracking pages or auto, against a hash-mode session
// of the same state in the same repetitions).
constexpr double tracked_vs_hash_mode_target = 0.25;   // 1% dirty: <= 0.25x the hash mode
constexpr double tracked_clean_seconds_target = 0.005; // 0% dirty: under 5 ms
// Target of issue 9: the stall at most 1.3x (hash the state + memcpy the dirty bytes).
constexpr double stall_vs_hash_pack_target = 1.30;

struct Options {
  std::vector<std::uint64_t> sizes;
  std::string block_size_text = "64KiB";
  std::uint64_t block_size = 0;
  std::vector<double> dirty;
  int reps = 3;
  std::string dir = "ckpt_write.bench";
  bool keep_files = false;
  bool skip_full = false;
  bool skip_incremental = false;
  bool json = false;
  std::string json_file;
  std::map<std::string, std::string> settings; ///< extra libckpt configuration (--set)
  std::string tracking = "auto";               ///< config key dirty_tracking (--tracking)
  bool vs_hash_mode = false;                   ///< --vs-hash-mode
};

bool parse_options(int argc, char **argv, int rank, Options &opts) {
  namespace po = boost::program_options;
  std::string sizes = "64MiB,256MiB,1GiB";
  std::string dirty = "0,1,10,50,100";
  po::options_description desc(
      "Usage: ckpt_write [options]\n\n"
      "libckpt full and incremental checkpoint time against plain parallel HDF5 and\n"
      "POSIX writes of the same bytes, all fsync'ed. Sizes are the total state over all\n"
      "ranks (B, KiB, MiB, GiB). bench/run_ckpt.sh runs it on 1, 2 and 4 ranks.\n\n"
      "Options");
  // clang-format off
  desc.add_options()
    ("help,h", "print this help and exit")
    ("sizes", po::value(&sizes)->default_value(sizes), "total state sizes, e.g. 64MiB,4GiB")
    ("block-size", po::value(&opts.block_size_text)->default_value(opts.block_size_text),
     "libckpt block size (config key block_size)")
    ("dirty", po::value(&dirty)->default_value(dirty),
     "percentages of blocks changed before each incremental checkpoint")
    ("reps", po::value(&opts.reps)->default_value(opts.reps),
     "repetitions (the median is reported)")
    ("dir", po::value(&opts.dir)->default_value(opts.dir),
     "scratch directory (created; removed at the end unless --keep-files)")
    ("keep-files", po::bool_switch(&opts.keep_files), "leave the scratch directory")
    ("set", po::value<std::vector<std::string>>()->composing(),
     "extra libckpt configuration key=value (repeatable), e.g. --set verify=false")
    ("tracking", po::value(&opts.tracking)->default_value(opts.tracking),
     "how libckpt finds changed blocks (config key dirty_tracking): hash, pages or auto")
    ("vs-hash-mode", po::bool_switch(&opts.vs_hash_mode),
     "with --tracking pages or auto: also checkpoint the same state with dirty_tracking=hash "
     "in the same repetitions (the baseline of the targets of issue 12)")
    ("skip-full", po::bool_switch(&opts.skip_full), "skip the full-checkpoint comparison")
    ("skip-incremental", po::bool_switch(&opts.skip_incremental),
     "skip the incremental checkpoints")
    ("json", po::bool_switch(&opts.json), "print the results as JSON instead of tables")
    ("json-file", po::value(&opts.json_file),
     "also write the results as JSON to this file");
  // clang-format on
  po::variables_map vm;
  if (!bench::parse_command_line(argc, argv, desc, vm, rank)) return false;
  opts.sizes = bench::parse_size_list(sizes);
  if (vm.count("set") != 0)
    opts.settings = bench::parse_settings(
        vm["set"].as<std::vector<std::string>>(),
        {"dir", "block_size", "base_every", "keep", "log_level", "dirty_tracking"});
  if (opts.tracking != "hash" && opts.tracking != "pages" && opts.tracking != "auto")
    throw std::invalid_argument("--tracking must be hash, pages or auto");
  opts.dirty = bench::parse_number_list(dirty);
  opts.block_size = bench::parse_size(opts.block_size_text);
  for (const double p : opts.dirty)
    if (p > 100.0) throw std::invalid_argument("--dirty percentages must be at most 100");
  if (opts.reps < 1) throw std::invalid_argument("--reps must be at least 1");
  if (opts.block_size < 512 || opts.block_size % 8 != 0)
    throw std::invalid_argument("--block-size must be a multiple of 8 of at least 512 bytes");
  return true;
}

std::map<std::string, std::string> session_options(const Options &opts, const std::string &dir,
                                                   const std::string &base_every,
                                                   const std::string &keep) {
  std::map<std::string, std::string> options = opts.settings;
  options["dir"] = dir;
  options["block_size"] = std::to_string(opts.block_size);
  options["base_every"] = base_every;
  options["keep"] = keep;
  options["log_level"] = "warning";
  options["dirty_tracking"] = opts.tracking;
  return options;
}

/// Rank 0 creates the directory `path`; everybody waits.
void create_shared(MPI_Comm comm, int rank, const std::string &path) {
  if (rank == 0) std::filesystem::create_directories(path);
  bench::check_mpi(MPI_Barrier(comm), "MPI_Barrier");
}

/// Drops the page-cache pages of the checkpoint files kept in `dir` (untimed).
/// The baselines delete their files after each write, which frees their
/// pages at once; the kept checkpoint versions would otherwise hold theirs,
/// and the next write would need memory the machine has not used recently,
/// which on a virtual machine costs several times the write itself
/// (measured: a 256 MiB write 0.07 s after freeing, 0.7-1.0 s without).
void release_page_cache(const std::string &dir) {
  bench::prepare_cache(MPI_COMM_WORLD, bench::CacheMode::Fadvise, {dir});
}

/// Rank 0 removes `path` once every rank is done with it; everybody waits.
void remove_shared(MPI_Comm comm, int rank, const std::string &path) {
  bench::check_mpi(MPI_Barrier(comm), "MPI_Barrier");
  if (rank == 0) bench::remove_tree(path);
  bench::check_mpi(MPI_Barrier(comm), "MPI_Barrier");
}

std::uint64_t sum_over_ranks(std::uint64_t local) {
  std::uint64_t total = 0;
  bench::check_mpi(MPI_Allreduce(&local, &total, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD),
                   "MPI_Allreduce");
  return total;
}

struct FullResult {
  std::vector<double> ckpt, ckpt_lib, hdf5, posix, vs_hdf5, vs_posix;
};

struct IncrementalResult {
  double percent = 0.0;
  std::uint64_t dirty_blocks = 0;  // per checkpoint, all ranks
  std::uint64_t written_bytes = 0; // per checkpoint, all ranks (libckpt's count)
  std::vector<double> ckpt, ckpt_lib, hash, pack, write, reference, vs_reference, vs_hash,
      vs_hash_pack;
  /// --tracking pages|auto: the same checkpoint by a dirty_tracking=hash session.
  std::vector<double> hash_mode, vs_hash_mode;
};

struct SizeResult {
  std::uint64_t state_bytes = 0;
  std::uint64_t blocks = 0;
  FullResult full;
  double base_seconds = 0.0; // the base of the incremental session
  std::vector<IncrementalResult> incremental;
};

FullResult measure_full(const Options &opts, int rank, bench::BlockState &state,
                        std::uint64_t state_bytes) {
  FullResult r;
  const std::string ckpt_dir = opts.dir + "/full.ckpt";
  const std::string h5_path = opts.dir + "/plain.h5";
  const std::string posix_path = opts.dir + "/posix." + std::to_string(rank);
  // One session writes a base at every checkpoint (base_every 1), as an
  // application does in its steady state. Its first checkpoint, which also
  // pays one-off costs (the node topology description, first use of the
  // file system paths, the virtual machine backing fresh page-cache memory),
  // is a warm-up and not timed. Old versions are kept
  // until the end (keep), so that deleting them is not timed either.
  create_shared(MPI_COMM_WORLD, rank, ckpt_dir);
  ckpt::Session session(MPI_COMM_WORLD, session_options(opts, ckpt_dir, "1", "1000000"));
  session.protect_bytes(0, "state", state.data(), state.bytes(), 1);
  std::int64_t step = 0;
  (void)session.checkpoint(step++);
  release_page_cache(ckpt_dir);
  // The baselines get the same untimed warm-up.
  bench::h5_write_slabs(MPI_COMM_WORLD, h5_path, state.data(), state.bytes());
  remove_shared(MPI_COMM_WORLD, rank, h5_path);
  bench::posix_write_fsync(posix_path, state.data(), state.bytes());
  bench::remove_tree(posix_path);
  for (int rep = 0; rep < opts.reps; ++rep) {
    double t[3] = {0, 0, 0};
    for (const int variant : bench::rotated_order(3, rep)) {
      if (variant == 0) {
        ckpt::CheckpointStats stats;
        t[0] = bench::time_collective(MPI_COMM_WORLD, [&] { stats = session.checkpoint(step++); });
        if (!stats.base || stats.written_bytes != state_bytes)
          throw std::runtime_error("a checkpoint with base_every 1 was not a full base (wrote " +
                                   std::to_string(stats.written_bytes) + " of " +
                                   std::to_string(state_bytes) + " bytes)");
        r.ckpt_lib.push_back(stats.seconds);
        session.wait_global(); // untimed: the flush, hidden by computation
        release_page_cache(ckpt_dir);
      } else if (variant == 1) {
        t[1] = bench::time_collective(MPI_COMM_WORLD, [&] {
          bench::h5_write_slabs(MPI_COMM_WORLD, h5_path, state.data(), state.bytes());
        });
        remove_shared(MPI_COMM_WORLD, rank, h5_path);
      } else {
        t[2] = bench::time_collective(MPI_COMM_WORLD, [&] {
          bench::posix_write_fsync(posix_path, state.data(), state.bytes());
        });
        bench::remove_tree(posix_path);
        bench::check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
      }
    }
    r.ckpt.push_back(t[0]);
    r.hdf5.push_back(t[1]);
    r.posix.push_back(t[2]);
    r.vs_hdf5.push_back(t[1] / t[0]);
    r.vs_posix.push_back(t[2] / t[0]);
  }
  session.finalize();
  remove_shared(MPI_COMM_WORLD, rank, ckpt_dir);
  return r;
}

/// The plain incremental write: hash every block, compare with the previous
/// hashes, pack the changed blocks and write them with parallel HDF5.
class ReferenceWriter {
public:
  ReferenceWriter(const bench::BlockState &state, std::string path)
      : m_path(std::move(path)), m_previous(state.blocks()), m_current(state.blocks()),
        m_staging(state.bytes()) { // allocated (and touched) before any timing
    bench::hash_every_block(state.data(), state.bytes(), state.block_size(), m_previous.data());
  }

  /// Returns {hash seconds, write seconds, changed blocks on this rank}.
  struct Times {
    double hash = 0.0;
    double pack = 0.0; // memcpy of the changed blocks (part of write)
    double write = 0.0;
    std::uint64_t changed = 0;
  };
  Times run(const bench::BlockState &state) {
    Times t;
    t.hash = bench::time_collective(MPI_COMM_WORLD, [&] {
      bench::hash_every_block(state.data(), state.bytes(), state.block_size(), m_current.data());
    });
    std::uint64_t packed = 0;
    t.pack = bench::time_collective(MPI_COMM_WORLD, [&] {
      const std::uint64_t block = state.block_size();
      for (std::uint64_t i = 0; i < m_current.size(); ++i) {
        if (m_current[i] == m_previous[i]) continue;
        std::memcpy(m_staging.data() + packed, state.data() + i * block, block);
        packed += block;
        ++t.changed;
      }
    });
    t.write = t.pack + bench::time_collective(MPI_COMM_WORLD, [&] {
                bench::h5_write_slabs(MPI_COMM_WORLD, m_path, m_staging.data(), packed);
              });
    m_previous.swap(m_current);
    return t;
  }

private:
  std::string m_path;
  std::vector<std::uint64_t> m_previous;
  std::vector<std::uint64_t> m_current;
  std::vector<unsigned char> m_staging;
};

std::vector<IncrementalResult> measure_incremental(const Options &opts, int rank,
                                                   bench::BlockState &state, double &base_seconds) {
  std::vector<IncrementalResult> results(opts.dirty.size());
  const std::string ckpt_dir = opts.dir + "/incremental.ckpt";
  const std::string ref_path = opts.dir + "/reference.h5";
  create_shared(MPI_COMM_WORLD, rank, ckpt_dir);
  ckpt::Session session(MPI_COMM_WORLD, session_options(opts, ckpt_dir, "1000000", "2"));
  session.protect_bytes(0, "state", state.data(), state.bytes(), 1);
  std::int64_t step = 0;
  base_seconds = bench::time_collective(MPI_COMM_WORLD, [&] { (void)session.checkpoint(step++); });
  // With --tracking pages or auto, a second session checkpoints the same
  // state with dirty_tracking=hash in the same repetitions: the baseline of
  // the tracking mode (it only reads the state, so it disturbs no tracking).
  const std::string hash_dir = opts.dir + "/incremental-hash.ckpt";
  std::optional<ckpt::Session> hashing;
  std::int64_t hash_step = 0;
  if (opts.vs_hash_mode && opts.tracking != "hash") {
    create_shared(MPI_COMM_WORLD, rank, hash_dir);
    auto options = session_options(opts, hash_dir, "1000000", "2");
    options["dirty_tracking"] = "hash";
    hashing.emplace(MPI_COMM_WORLD, options);
    hashing->protect_bytes(0, "state", state.data(), state.bytes(), 1);
    (void)hashing->checkpoint(hash_step++);
    (void)hashing->checkpoint(hash_step++);
    release_page_cache(hash_dir);
  }
  ReferenceWriter reference(state, ref_path);
  // Untimed warm-up of both, with nothing changed.
  (void)session.checkpoint(step++);
  release_page_cache(ckpt_dir);
  (void)reference.run(state);
  remove_shared(MPI_COMM_WORLD, rank, ref_path);

  for (int rep = 0; rep < opts.reps; ++rep) {
    for (std::size_t d = 0; d < opts.dirty.size(); ++d) {
      IncrementalResult &r = results[d];
      r.percent = opts.dirty[d];
      const std::uint64_t seed = 0x5eed0000ULL + static_cast<std::uint64_t>(rank) * 7919 +
                                 static_cast<std::uint64_t>(rep) * 104729 + d;
      const std::uint64_t expected = sum_over_ranks(state.dirty(opts.dirty[d], seed));
      double t_ckpt = 0.0;
      ReferenceWriter::Times t_ref;
      double t_hash_mode = 0.0;
      const int variants = hashing ? 3 : 2;
      for (const int variant : bench::rotated_order(variants, rep + static_cast<int>(d))) {
        if (variant == 2) {
          ckpt::CheckpointStats stats;
          t_hash_mode = bench::time_collective(MPI_COMM_WORLD,
                                               [&] { stats = hashing->checkpoint(hash_step++); });
          if (stats.dirty_blocks != expected && !(stats.base && stats.dirty_blocks == stats.blocks))
            throw std::runtime_error("the hash-mode session wrote another number of blocks");
          release_page_cache(hash_dir);
        } else if (variant == 0) {
          ckpt::CheckpointStats stats;
          t_ckpt =
              bench::time_collective(MPI_COMM_WORLD, [&] { stats = session.checkpoint(step++); });
          // libckpt writes a base instead of a delta when every block
          // changed or the chain's deltas would outweigh the state; then it
          // writes every block, which the benchmark accepts.
          const bool full_base = stats.base && stats.dirty_blocks == stats.blocks;
          if (!full_base && (stats.base || stats.dirty_blocks != expected))
            throw std::runtime_error(bench::format(
                "libckpt wrote %llu blocks (%s) where the benchmark changed %llu",
                static_cast<unsigned long long>(stats.dirty_blocks), stats.base ? "base" : "delta",
                static_cast<unsigned long long>(expected)));
          r.dirty_blocks = stats.dirty_blocks;
          r.written_bytes = stats.written_bytes;
          r.ckpt_lib.push_back(stats.seconds);
          session.wait_global(); // untimed: the flush, hidden by computation
          release_page_cache(ckpt_dir);
        } else {
          t_ref = reference.run(state);
          if (sum_over_ranks(t_ref.changed) != expected)
            throw std::runtime_error("the reference found a different number of changed blocks");
          remove_shared(MPI_COMM_WORLD, rank, ref_path);
        }
      }
      r.ckpt.push_back(t_ckpt);
      r.hash.push_back(t_ref.hash);
      r.write.push_back(t_ref.write);
      r.reference.push_back(t_ref.hash + t_ref.write);
      r.vs_reference.push_back(t_ckpt / (t_ref.hash + t_ref.write));
      r.vs_hash.push_back(t_ckpt / t_ref.hash);
      r.pack.push_back(t_ref.pack);
      r.vs_hash_pack.push_back(t_ckpt / (t_ref.hash + t_ref.pack));
      if (hashing) {
        r.hash_mode.push_back(t_hash_mode);
        r.vs_hash_mode.push_back(t_ckpt / t_hash_mode);
      }
    }
  }
  session.finalize();
  remove_shared(MPI_COMM_WORLD, rank, ckpt_dir);
  if (hashing) {
    hashing->finalize();
    remove_shared(MPI_COMM_WORLD, rank, hash_dir);
  }
  return results;
}

double mbps(std::uint64_t bytes, double seconds) {
  return seconds > 0.0 ? static_cast<double>(bytes) / seconds / 1e6 : 0.0;
}

struct Target {
  std::string name;
  double measured;
  std::string comparison; // ">=" or "<="
  double target;
  [[nodiscard]] bool pass() const {
    return comparison == ">=" ? measured >= target : measured <= target;
  }
};

std::vector<Target> targets_of(const SizeResult &s) {
  std::vector<Target> targets;
  if (!s.full.ckpt.empty())
    targets.push_back({"full checkpoint bandwidth / plain HDF5 write bandwidth",
                       bench::summarize(s.full.vs_hdf5).median, ">=", full_target});
  for (const auto &inc : s.incremental) {
    if (inc.percent == 1.0) {
      if (!s.full.ckpt.empty())
        targets.push_back({"1% incremental time / full checkpoint time",
                           bench::summarize(inc.ckpt).median / bench::summarize(s.full.ckpt).median,
                           "<=", incr_vs_full_target});
      targets.push_back({"1% incremental time / (hash all + write changed)",
                         bench::summarize(inc.vs_reference).median, "<=", incr_vs_ref_target});
    }
    if (inc.percent == 1.0 || inc.percent == 100.0)
      targets.push_back(
          {bench::format("%g%% incremental stall / (hash all + memcpy changed)", inc.percent),
           bench::summarize(inc.vs_hash_pack).median, "<=", stall_vs_hash_pack_target});
    if (inc.percent == 0.0)
      targets.push_back({"0% incremental time / hashing the whole state",
                         bench::summarize(inc.vs_hash).median, "<=", clean_vs_hash_target});
    if (inc.percent == 1.0 && !inc.vs_hash_mode.empty())
      targets.push_back({"1% incremental time / the same with dirty_tracking=hash",
                         bench::summarize(inc.vs_hash_mode).median,
                         "<=", tracked_vs_hash_mode_target});
    if (inc.percent == 0.0 && !inc.vs_hash_mode.empty())
      targets.push_back({"0% incremental time, seconds", bench::summarize(inc.ckpt).median,
                         "<=", tracked_clean_seconds_target});
  }
  return targets;
}

void print_tables(const Options &opts, int ranks, const std::vector<SizeResult> &results,
                  double load_start, double load_end) {
  std::printf("ckpt_write: %d rank(s) on %s (%d cores), block %s, %d repetitions (median; ratios "
              "are medians of per-repetition ratios), load average %.2f -> %.2f\n"
              "Every write is fsync'ed. Times: slowest rank. 1 MB/s = 10^6 B/s. best-run: ratio "
              "of the fastest repetitions (storage stalls only ever slow a run down).\n",
              ranks, bench::host_name().c_str(), bench::machine_cores(),
              bench::format_bytes(opts.block_size).c_str(), opts.reps, load_start, load_end);
  std::printf("Dirty tracking (--tracking): %s\n", opts.tracking.c_str());
  if (!opts.settings.empty())
    std::printf("Extra libckpt configuration: %s\n",
                bench::describe_settings(opts.settings).c_str());
  if (!opts.skip_full) {
    std::printf("\nFull checkpoint vs plain writes of the same bytes\n");
    bench::Table table({"state", "ckpt s", "ckpt MB/s", "HDF5 s", "HDF5 MB/s", "POSIX s",
                        "POSIX MB/s", "ckpt/HDF5 bw", "ckpt/POSIX bw", "best-run ckpt/HDF5",
                        "libckpt's own s"});
    for (const auto &s : results) {
      const auto c = bench::summarize(s.full.ckpt);
      const auto h = bench::summarize(s.full.hdf5);
      const auto p = bench::summarize(s.full.posix);
      table.add_row(
          {bench::format_bytes(s.state_bytes), bench::format("%.3f", c.median),
           bench::format("%.0f", mbps(s.state_bytes, c.median)), bench::format("%.3f", h.median),
           bench::format("%.0f", mbps(s.state_bytes, h.median)), bench::format("%.3f", p.median),
           bench::format("%.0f", mbps(s.state_bytes, p.median)),
           bench::format("%.2f", bench::summarize(s.full.vs_hdf5).median),
           bench::format("%.2f", bench::summarize(s.full.vs_posix).median),
           bench::format("%.2f", h.min / c.min),
           bench::format("%.3f", bench::summarize(s.full.ckpt_lib).median)});
    }
    table.print(std::cout);
  }
  if (!opts.skip_incremental) {
    std::printf("\nIncremental checkpoints vs the reference (XXH3 of every block + plain parallel "
                "HDF5 write of the changed blocks)\n");
    bench::Table table({"state", "dirty", "blocks written", "bytes written", "ckpt s", "hash s",
                        "pack s", "write s", "reference s", "ckpt/reference", "ckpt/hash",
                        "ckpt/(hash+pack)", "ckpt/full"});
    for (const auto &s : results) {
      const double full = s.full.ckpt.empty() ? 0.0 : bench::summarize(s.full.ckpt).median;
      for (const auto &inc : s.incremental) {
        const double c = bench::summarize(inc.ckpt).median;
        table.add_row({bench::format_bytes(s.state_bytes), bench::format("%g%%", inc.percent),
                       bench::format("%llu/%llu", static_cast<unsigned long long>(inc.dirty_blocks),
                                     static_cast<unsigned long long>(s.blocks)),
                       bench::format_bytes(inc.written_bytes), bench::format("%.3f", c),
                       bench::format("%.3f", bench::summarize(inc.hash).median),
                       bench::format("%.3f", bench::summarize(inc.pack).median),
                       bench::format("%.3f", bench::summarize(inc.write).median),
                       bench::format("%.3f", bench::summarize(inc.reference).median),
                       bench::format("%.2f", bench::summarize(inc.vs_reference).median),
                       bench::format("%.2f", bench::summarize(inc.vs_hash).median),
                       bench::format("%.2f", bench::summarize(inc.vs_hash_pack).median),
                       full > 0.0 ? bench::format("%.3f", c / full) : std::string("-")});
      }
    }
    table.print(std::cout);
    if (opts.vs_hash_mode && opts.tracking != "hash") {
      std::printf("\nIncremental checkpoints with --tracking %s vs a dirty_tracking=hash session "
                  "of the same state, same repetitions\n",
                  opts.tracking.c_str());
      bench::Table vs({"state", "dirty", "ckpt s", "hash-mode ckpt s", "ckpt/hash-mode"});
      for (const auto &s : results)
        for (const auto &inc : s.incremental)
          vs.add_row({bench::format_bytes(s.state_bytes), bench::format("%g%%", inc.percent),
                      bench::format("%.4f", bench::summarize(inc.ckpt).median),
                      bench::format("%.4f", bench::summarize(inc.hash_mode).median),
                      bench::format("%.3f", bench::summarize(inc.vs_hash_mode).median)});
      vs.print(std::cout);
    }
  }
  std::printf("\nTargets (issue 5; the dirty_tracking=hash comparisons: issue 12)\n");
  bench::Table table({"state", "ratio", "measured", "target", "verdict"}, 2);
  for (const auto &s : results)
    for (const auto &t : targets_of(s))
      table.add_row({bench::format_bytes(s.state_bytes), t.name, bench::format("%.3f", t.measured),
                     t.comparison + bench::format(" %g", t.target), bench::verdict(t.pass())});
  table.print(std::cout);
  std::printf("(The 0%% target, \"the cost of hashing alone\", is judged here as <= %.2fx.)\n",
              clean_vs_hash_target);
}

bench::Json to_json(const Options &opts, int ranks, const std::vector<SizeResult> &results,
                    double load_start, double load_end) {
  auto sizes = bench::Json::array();
  for (const auto &s : results) {
    auto entry = bench::Json::object();
    entry.set("state_bytes", s.state_bytes).set("blocks", s.blocks);
    if (!s.full.ckpt.empty())
      entry.set(
          "full",
          bench::Json::object()
              .set("ckpt_s", bench::to_json(bench::summarize(s.full.ckpt)))
              .set("ckpt_reported_s", bench::to_json(bench::summarize(s.full.ckpt_lib)))
              .set("hdf5_s", bench::to_json(bench::summarize(s.full.hdf5)))
              .set("posix_s", bench::to_json(bench::summarize(s.full.posix)))
              .set("ckpt_over_hdf5_bandwidth", bench::to_json(bench::summarize(s.full.vs_hdf5)))
              .set("ckpt_over_posix_bandwidth", bench::to_json(bench::summarize(s.full.vs_posix)))
              .set("best_ckpt_over_best_hdf5_bandwidth",
                   bench::summarize(s.full.hdf5).min / bench::summarize(s.full.ckpt).min));
    if (!s.incremental.empty()) {
      auto incs = bench::Json::array();
      for (const auto &inc : s.incremental)
        incs.push(
            bench::Json::object()
                .set("dirty_percent", inc.percent)
                .set("dirty_blocks", inc.dirty_blocks)
                .set("written_bytes", inc.written_bytes)
                .set("ckpt_s", bench::to_json(bench::summarize(inc.ckpt)))
                .set("ckpt_reported_s", bench::to_json(bench::summarize(inc.ckpt_lib)))
                .set("hash_s", bench::to_json(bench::summarize(inc.hash)))
                .set("write_changed_s", bench::to_json(bench::summarize(inc.write)))
                .set("reference_s", bench::to_json(bench::summarize(inc.reference)))
                .set("ckpt_over_reference", bench::to_json(bench::summarize(inc.vs_reference)))
                .set("pack_s", bench::to_json(bench::summarize(inc.pack)))
                .set("ckpt_over_hash_pack", bench::to_json(bench::summarize(inc.vs_hash_pack)))
                .set("ckpt_over_hash", bench::to_json(bench::summarize(inc.vs_hash)))
                .set("hash_mode_ckpt_s", inc.hash_mode.empty()
                                             ? bench::Json()
                                             : bench::to_json(bench::summarize(inc.hash_mode)))
                .set("ckpt_over_hash_mode",
                     inc.vs_hash_mode.empty()
                         ? bench::Json()
                         : bench::to_json(bench::summarize(inc.vs_hash_mode))));
      entry.set("base_s", s.base_seconds).set("incremental", std::move(incs));
    }
    auto targets = bench::Json::array();
    for (const auto &t : targets_of(s))
      targets.push(bench::Json::object()
                       .set("name", t.name)
                       .set("measured", t.measured)
                       .set("comparison", t.comparison)
                       .set("target", t.target)
                       .set("pass", t.pass()));
    entry.set("targets", std::move(targets));
    sizes.push(std::move(entry));
  }
  return bench::Json::object()
      .set("benchmark", "ckpt_write")
      .set("ranks", ranks)
      .set("host", bench::host_name())
      .set("cores", bench::machine_cores())
      .set("load_average_start", load_start)
      .set("load_average_end", load_end)
      .set("block_bytes", opts.block_size)
      .set("libckpt_settings", bench::describe_settings(opts.settings))
      .set("dirty_tracking", opts.tracking)
      .set("reps", opts.reps)
      .set("sizes", std::move(sizes));
}

int run(const bench::MpiRuntime &mpi, int argc, char **argv) {
  Options opts;
  if (!parse_options(argc, argv, mpi.rank(), opts)) return 0;
  const double load_start = bench::load_average();
  if (mpi.rank() == 0) std::filesystem::create_directories(opts.dir);
  bench::check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");

  std::vector<SizeResult> results;
  for (const std::uint64_t total : opts.sizes) {
    const std::uint64_t local = bench::local_state_bytes(total, mpi.size(), opts.block_size);
    bench::BlockState state(local, opts.block_size,
                            0xc0ffeeULL + static_cast<std::uint64_t>(mpi.rank()));
    SizeResult s;
    s.state_bytes = sum_over_ranks(local);
    s.blocks = sum_over_ranks(state.blocks());
    if (!opts.skip_full) s.full = measure_full(opts, mpi.rank(), state, s.state_bytes);
    if (!opts.skip_incremental)
      s.incremental = measure_incremental(opts, mpi.rank(), state, s.base_seconds);
    results.push_back(std::move(s));
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

int main(int argc, char **argv) { return bench::run_main(argc, argv, "ckpt_write", run); }
