// Shared scaffolding of the message-passing examples (ring, alltoall,
// master_worker, multicomm): command line, checksum, and the libckpt session
// skeleton every example follows:
//
//   protect the state -> restart if asked -> loop { step; checkpoint when due }
//
// The examples checkpoint while their own messages are still in flight: they
// need the PMPI layer (link ckpt::pmpi, or LD_PRELOAD libckpt_pmpi.so).
#ifndef CKPT_EXAMPLE_APP_HPP
#define CKPT_EXAMPLE_APP_HPP

#include <ckpt/ckpt.hpp>

#include <mpi.h>

#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace example {

struct Options {
  std::int64_t steps = 60;
  std::int64_t checkpoint_every = 10; ///< 0: never
  std::string dir = "ckpt";
  bool restart = false;
  int sleep_ms = 0;      ///< pause per step, so that a test can kill mid-run
  bool progress = false; ///< rank 0 prints "step N" after each step
  /// Checkpoint sites instead of fixed checkpoints: every step is a site
  /// (ckpt_site) and one rank requests a checkpoint (ckpt_request_checkpoint)
  /// after every K-th step; with protocol = nonblocking each rank then takes
  /// its local checkpoint at its own next site. 0: off.
  std::int64_t request_every = 0;
  int request_rank = 0; ///< the requesting rank; -1: a different rank each time
  int slow_rank = -1;   ///< this rank sleeps --slow-ms before its site at each request
  int slow_ms = 0;
};

inline Options parse(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--steps")
      o.steps = std::stoll(value());
    else if (a == "--checkpoint-every")
      o.checkpoint_every = std::stoll(value());
    else if (a == "--dir")
      o.dir = value();
    else if (a == "--restart")
      o.restart = true;
    else if (a == "--sleep-ms")
      o.sleep_ms = std::stoi(value());
    else if (a == "--progress")
      o.progress = true;
    else if (a == "--request-every")
      o.request_every = std::stoll(value());
    else if (a == "--request-rank")
      o.request_rank = std::stoi(value());
    else if (a == "--slow-rank")
      o.slow_rank = std::stoi(value());
    else if (a == "--slow-ms")
      o.slow_ms = std::stoi(value());
    else {
      std::fprintf(stderr,
                   "usage: %s [--steps N] [--checkpoint-every K] [--dir D] [--restart] "
                   "[--sleep-ms M] [--progress] [--request-every K] [--request-rank R] "
                   "[--slow-rank R --slow-ms M]\n",
                   argv[0]);
      std::exit(2);
    }
  }
  return o;
}

/// FNV-1a, 64 bits.
inline std::uint64_t hash_bytes(const void *data, std::size_t n,
                                std::uint64_t h = 0xcbf29ce484222325ULL) {
  const auto *p = static_cast<const unsigned char *>(data);
  for (std::size_t i = 0; i < n; ++i)
    h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

/// Rank 0 prints "checksum <16 hex digits>" over every rank's state.
inline void print_checksum(const std::vector<double> &state) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  std::uint64_t mine = hash_bytes(state.data(), state.size() * sizeof(double));
  std::vector<std::uint64_t> all(static_cast<std::size_t>(size));
  MPI_Gather(&mine, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  if (rank == 0)
    std::printf("checksum %016" PRIx64 "\n",
                hash_bytes(all.data(), all.size() * sizeof(std::uint64_t)));
}

/// After step `step`: progress line, pause, and a checkpoint when due.
inline void end_of_step(ckpt::Session &session, const Options &o, std::int64_t step) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (o.progress && rank == 0) {
    std::printf("step %" PRId64 "\n", step);
    std::fflush(stdout);
  }
  if (o.sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(o.sleep_ms));
  if (o.checkpoint_every > 0 && (step + 1) % o.checkpoint_every == 0 && step + 1 < o.steps)
    session.checkpoint(step);
  if (o.request_every > 0) {
    int size = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const bool due = (step + 1) % o.request_every == 0 && step + 1 < o.steps;
    const int requester = o.request_rank >= 0
                              ? o.request_rank
                              : static_cast<int>(hash_bytes(&step, sizeof step) % size);
    if (due && rank == requester) session.request_checkpoint();
    if (due && rank == o.slow_rank)
      std::this_thread::sleep_for(std::chrono::milliseconds(o.slow_ms));
    try {
      session.site(step);
    } catch (const ckpt::Error &e) {
      // A nonblocking checkpoint that failed (e.g. a message crossed the cut
      // the wrong way) is reported once; the run goes on, the next request
      // tries again.
      if (e.status() != CKPT_ERR_STATE) throw;
      if (rank == 0) std::fprintf(stderr, "checkpoint failed: %s\n", e.what());
    }
  }
}

/// Restores the session if asked; returns the first step to run.
inline std::int64_t restart_if_asked(ckpt::Session &session, const Options &o,
                                     const std::int64_t &last_step) {
  if (!o.restart) return 0;
  const ckpt::CheckpointId id = session.restart();
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank == 0)
    std::printf("restarted from version %" PRId64 " at step %" PRId64 "\n", id.version, id.step);
  return last_step + 1;
}

/// Runs body(), turning exceptions into a message and exit code 1.
template <class F> int guarded(F &&body) {
  try {
    body();
    return 0;
  } catch (const std::exception &e) {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    std::fprintf(stderr, "[rank %d] error: %s\n", rank, e.what());
    MPI_Abort(MPI_COMM_WORLD, 1);
    return 1;
  }
}

/// A deterministic pseudo-random number from a few integers.
inline std::uint64_t mix(std::uint64_t a, std::uint64_t b = 0, std::uint64_t c = 0) {
  std::uint64_t z = a * 0x9E3779B97F4A7C15ULL ^ (b + 0x7F4A7C15ULL) * 0xBF58476D1CE4E5B9ULL ^ c;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

} // namespace example

#endif
