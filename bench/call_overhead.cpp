// call_overhead: nanoseconds per intercepted MPI call, for measuring what
// the PMPI layer adds to a call (run it with and without
// LD_PRELOAD=libckpt_pmpi.so, see run_call_overhead.sh) at the thread level
// asked for (--thread-level single|multiple). Three loops on one rank:
//   isend_wait   MPI_Isend to MPI_PROC_NULL + MPI_Wait (a virtual request:
//                allocated, translated, completed, freed)
//   test         MPI_Test on a pending MPI_Irecv nobody matches
//   send_recv    MPI_Send + MPI_Recv of 8 bytes to self through MPI_Isend
//                (MPI_Isend + MPI_Recv + MPI_Wait)
// Prints one line per loop: name, ns per iteration (best of --reps).
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

template <class Body> double best_ns(int iters, int reps, Body &&body) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const double t0 = now();
    for (int i = 0; i < iters; ++i)
      body();
    best = std::min(best, (now() - t0) / iters * 1e9);
  }
  return best;
}

} // namespace

int main(int argc, char **argv) {
  int iters = 200000, reps = 5;
  int level = MPI_THREAD_SINGLE;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--iters")
      iters = std::atoi(v.c_str());
    else if (a == "--reps")
      reps = std::atoi(v.c_str());
    else if (a == "--thread-level")
      level = v == "multiple" ? MPI_THREAD_MULTIPLE : MPI_THREAD_SINGLE;
    else {
      std::fprintf(stderr, "usage: %s [--iters N] [--reps R] [--thread-level single|multiple]\n",
                   argv[0]);
      return 2;
    }
  }
  int provided = 0;
  MPI_Init_thread(&argc, &argv, level, &provided);
  if (provided < level) {
    std::fprintf(stderr, "call_overhead: thread level %d not provided (%d)\n", level, provided);
    MPI_Finalize();
    return 3;
  }
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm comm;
  MPI_Comm_dup(MPI_COMM_SELF, &comm);
  double out = 1, in = 0;

  const double isend_wait = best_ns(iters, reps, [&] {
    MPI_Request r;
    MPI_Isend(&out, 1, MPI_DOUBLE, MPI_PROC_NULL, 0, comm, &r);
    MPI_Wait(&r, MPI_STATUS_IGNORE);
  });
  MPI_Request pending;
  MPI_Irecv(&in, 1, MPI_DOUBLE, 0, 999, comm, &pending);
  const double test = best_ns(iters, reps, [&] {
    int flag = 0;
    MPI_Test(&pending, &flag, MPI_STATUS_IGNORE);
  });
  MPI_Cancel(&pending);
  MPI_Wait(&pending, MPI_STATUS_IGNORE);
  const double send_recv = best_ns(iters / 4, reps, [&] {
    MPI_Request r;
    MPI_Isend(&out, 1, MPI_DOUBLE, 0, 1, comm, &r);
    MPI_Recv(&in, 1, MPI_DOUBLE, 0, 1, comm, MPI_STATUS_IGNORE);
    MPI_Wait(&r, MPI_STATUS_IGNORE);
  });
  if (rank == 0)
    std::printf("isend_wait %.1f\ntest %.1f\nsend_recv %.1f\n", isend_wait, test, send_recv);
  MPI_Comm_free(&comm);
  MPI_Finalize();
  return 0;
}
