// skew: what one late rank costs the others at a checkpoint, and how long a
// checkpoint takes from request to commit.
//
// Every rank runs --steps steps of --step-ms of "compute" (a sleep: the ranks
// do not communicate, so nothing but libckpt couples them) and ends each
// with a checkpoint site (ckpt_site). Rank 0 requests a checkpoint after
// step --request-step; at that step --slow-rank sleeps --late-ms more before
// its site. Each rank measures the time spent inside ckpt_site; rank 0 also
// the time from its request until the version's commit record exists.
// Run it with CKPT_PROTOCOL=blocking and =nonblocking (bench/run_skew.sh).
#include "common/bench_common.hpp"

#include <ckpt/ckpt.h>

#include <boost/program_options.hpp>
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace bench = ckpt::bench;

namespace {

double now() { return MPI_Wtime(); }

int run(const bench::MpiRuntime &mpi, int argc, char **argv) {
  namespace po = boost::program_options;
  int steps = 40, step_ms = 5, request_step = 10, slow_rank = 1, late_ms = 2000;
  std::size_t state_bytes = 8u << 20;
  std::string dir = "skew.ckpt";
  po::options_description desc("Usage: skew [options]\n\nOptions");
  // clang-format off
  desc.add_options()
    ("help,h", "print this help and exit")
    ("steps", po::value(&steps)->default_value(steps), "steps per rank")
    ("step-ms", po::value(&step_ms)->default_value(step_ms), "compute time per step (ms)")
    ("request-step", po::value(&request_step)->default_value(request_step),
     "rank 0 requests a checkpoint after this step")
    ("slow-rank", po::value(&slow_rank)->default_value(slow_rank), "the late rank")
    ("late-ms", po::value(&late_ms)->default_value(late_ms),
     "how late the slow rank reaches its site at the request step (ms)")
    ("state-bytes", po::value(&state_bytes)->default_value(state_bytes),
     "protected bytes per rank")
    ("dir", po::value(&dir)->default_value(dir), "checkpoint directory");
  // clang-format on
  po::variables_map vm;
  if (!bench::parse_command_line(argc, argv, desc, vm, mpi.rank())) return 0;
  if (mpi.rank() == 0) std::filesystem::remove_all(dir);
  MPI_Barrier(MPI_COMM_WORLD);

  std::vector<unsigned char> state(state_bytes, static_cast<unsigned char>(mpi.rank()));
  setenv("CKPT_DIR", dir.c_str(), 1); // the configuration's other keys come from CKPT_*
  if (ckpt_init(MPI_COMM_WORLD, nullptr) != CKPT_SUCCESS) {
    std::fprintf(stderr, "ckpt_init: %s\n", ckpt_last_error());
    return 1;
  }
  // The reference: this rank's own local write (its state written from
  // memory to a new file of its own in the checkpoint directory), measured
  // here; the file is removed before the run.
  std::filesystem::create_directories(dir);
  const std::string reference = dir + "/reference." + std::to_string(mpi.rank());
  double local_write = now();
  if (std::FILE *f = std::fopen(reference.c_str(), "wb")) {
    std::fwrite(state.data(), 1, state.size(), f);
    std::fclose(f);
  }
  local_write = now() - local_write;
  std::filesystem::remove(reference);
  std::int64_t step = 0;
  ckpt_protect_bytes(0, "state", state.data(), state.size(), 1);
  ckpt_protect(1, "step", &step, 1, CKPT_INT64);
  double in_sites = 0, worst_site = 0, requested_at = 0, committed_at = 0;
  const std::string commit = dir + "/ckpt.v000001.commit";
  for (step = 0; step < steps; ++step) {
    std::this_thread::sleep_for(std::chrono::milliseconds(step_ms));
    state[static_cast<std::size_t>(step) % state.size()] ^= 1;
    if (step == request_step) {
      if (mpi.rank() == 0) {
        ckpt_request_checkpoint();
        requested_at = now();
      }
      if (mpi.rank() == slow_rank) std::this_thread::sleep_for(std::chrono::milliseconds(late_ms));
    }
    const double t = now();
    if (ckpt_site(step, nullptr) != CKPT_SUCCESS) {
      std::fprintf(stderr, "[rank %d] ckpt_site: %s\n", mpi.rank(), ckpt_last_error());
      return 1;
    }
    const double dt = now() - t;
    in_sites += dt;
    worst_site = std::max(worst_site, dt);
    if (mpi.rank() == 0 && requested_at > 0 && committed_at == 0 && std::filesystem::exists(commit))
      committed_at = now();
  }
  ckpt_finalize();
  if (mpi.rank() == 0 && committed_at == 0 && std::filesystem::exists(commit)) committed_at = now();
  std::vector<double> sites(static_cast<std::size_t>(mpi.size())), worst(sites.size()),
      writes(sites.size());
  MPI_Gather(&local_write, 1, MPI_DOUBLE, writes.data(), 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  MPI_Gather(&in_sites, 1, MPI_DOUBLE, sites.data(), 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  MPI_Gather(&worst_site, 1, MPI_DOUBLE, worst.data(), 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  if (mpi.rank() == 0) {
    const char *protocol = std::getenv("CKPT_PROTOCOL");
    std::printf("protocol %s, %d ranks, %zu bytes per rank, rank %d late by %d ms\n",
                protocol ? protocol : "blocking", mpi.size(), state_bytes, slow_rank, late_ms);
    for (int r = 0; r < mpi.size(); ++r)
      std::printf("rank %d: %.4f s in checkpoint sites (longest %.4f s), its local write "
                  "%.4f s: lost %.4f s beyond it%s\n",
                  r, sites[static_cast<std::size_t>(r)], worst[static_cast<std::size_t>(r)],
                  writes[static_cast<std::size_t>(r)],
                  sites[static_cast<std::size_t>(r)] - writes[static_cast<std::size_t>(r)],
                  r == slow_rank ? " (the late rank)" : "");
    std::printf("request to commit: %.4f s\n",
                committed_at > 0 ? committed_at - requested_at : -1.0);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (mpi.rank() == 0) std::filesystem::remove_all(dir);
  return 0;
}

} // namespace

int main(int argc, char **argv) { return bench::run_main(argc, argv, "skew", run); }
