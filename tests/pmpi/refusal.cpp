// A checkpoint in a state the PMPI layer cannot capture must fail on every
// rank with a clear ckpt::Error, write nothing, and leave the program able
// to go on and checkpoint once the state is capturable.
#include <ckpt/ckpt.hpp>

#include <mpi.h>

#include <cstdio>
#include <functional>
#include <string>

namespace {
int g_rank = 0, g_failures = 0;

void expect_refused(ckpt::Session &s, const std::string &what, const std::string &needle) {
  try {
    s.checkpoint(0);
    std::fprintf(stderr, "[rank %d] %s: checkpoint was not refused\n", g_rank, what.c_str());
    ++g_failures;
  } catch (const ckpt::Error &e) {
    if (std::string(e.what()).find(needle) == std::string::npos) {
      std::fprintf(stderr, "[rank %d] %s: unexpected message: %s\n", g_rank, what.c_str(),
                   e.what());
      ++g_failures;
    } else if (g_rank == 0) {
      std::printf("refused as expected (%s): %s\n", what.c_str(), e.what());
    }
  }
}
} // namespace

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  {
    ckpt::Session s(MPI_COMM_WORLD, {{"dir", "refusal.ckpt"}, {"log_level", "error"}});
    int data = g_rank;
    s.protect(0, "data", &data, 1);

    // 1. A receive posted before the checkpoint that nothing in flight matches.
    int in = 0;
    MPI_Request r;
    MPI_Irecv(&in, 1, MPI_INT, MPI_ANY_SOURCE, 77, MPI_COMM_WORLD, &r);
    expect_refused(s, "pending receive", "still pending");
    MPI_Cancel(&r);
    MPI_Wait(&r, MPI_STATUS_IGNORE);

    // 2. An open RMA passive-target epoch.
    int base = 0;
    MPI_Win win;
    MPI_Win_create(&base, sizeof base, sizeof base, MPI_INFO_NULL, MPI_COMM_WORLD, &win);
    MPI_Win_lock(MPI_LOCK_SHARED, (g_rank + 1) % size, 0, win);
    expect_refused(s, "RMA epoch", "RMA");
    MPI_Win_unlock((g_rank + 1) % size, win);
    MPI_Win_free(&win);

    // 3. An active persistent request (an inactive one is fine).
    MPI_Request p;
    MPI_Send_init(&data, 1, MPI_INT, (g_rank + 1) % size, 1, MPI_COMM_WORLD, &p);
    try {
      s.checkpoint(0);
    } catch (const ckpt::Error &e) {
      std::fprintf(stderr, "[rank %d] checkpoint with an inactive persistent request failed: %s\n",
                   g_rank, e.what());
      ++g_failures;
    }
    MPI_Start(&p);
    expect_refused(s, "active persistent request", "persistent");
    MPI_Recv(&in, 1, MPI_INT, (g_rank + size - 1) % size, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    MPI_Wait(&p, MPI_STATUS_IGNORE);
    MPI_Request_free(&p);

    // 4. Now capturable, with a message in flight: the checkpoint succeeds.
    MPI_Request sreq;
    MPI_Isend(&data, 1, MPI_INT, (g_rank + 1) % size, 5, MPI_COMM_WORLD, &sreq);
    try {
      s.checkpoint(1);
    } catch (const ckpt::Error &e) {
      std::fprintf(stderr, "[rank %d] capturable checkpoint failed: %s\n", g_rank, e.what());
      ++g_failures;
    }
    MPI_Recv(&in, 1, MPI_INT, (g_rank + size - 1) % size, 5, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    MPI_Wait(&sreq, MPI_STATUS_IGNORE);
    if (in != (g_rank + size - 1) % size) ++g_failures;
    s.finalize();
  }
  int failures = 0;
  MPI_Allreduce(&g_failures, &failures, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (g_rank == 0) std::printf("refusal: %s\n", failures ? "FAILED" : "passed");
  MPI_Finalize();
  return failures ? 1 : 0;
}
