// A checkpoint in a state the PMPI layer cannot capture must fail on every
// rank with CKPT_ERR_STATE and a message naming what is in the way, write
// nothing, and leave the program able to go on and checkpoint once the state
// is capturable. States it can capture (pending receives into protected
// memory, active persistent requests) must not be refused.
#include <ckpt/ckpt.hpp>

#include <mpi.h>

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace {
int g_rank = 0, g_failures = 0;

void expect_refused(ckpt::Session &s, const std::string &what, const std::string &needle) {
  try {
    s.checkpoint(0);
    std::fprintf(stderr, "[rank %d] %s: checkpoint was not refused\n", g_rank, what.c_str());
    ++g_failures;
  } catch (const ckpt::Error &e) {
    if (e.status() != CKPT_ERR_STATE) {
      std::fprintf(stderr, "[rank %d] %s: status %d, not CKPT_ERR_STATE: %s\n", g_rank,
                   what.c_str(), static_cast<int>(e.status()), e.what());
      ++g_failures;
    } else if (std::string(e.what()).find(needle) == std::string::npos) {
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

    // 1. A receive posted before the checkpoint that nothing in flight
    //    matches, into memory that is not protected: the restarted process
    //    could not post it again. The message names the request.
    int in = 0;
    MPI_Request r;
    MPI_Irecv(&in, 1, MPI_INT, MPI_ANY_SOURCE, 77, MPI_COMM_WORLD, &r);
    expect_refused(s, "receive into unprotected memory",
                   "MPI_Irecv on MPI_COMM_WORLD (source MPI_ANY_SOURCE, tag 77) has its buffer "
                   "outside every protected region: protect the buffer");
    MPI_Cancel(&r);
    MPI_Wait(&r, MPI_STATUS_IGNORE);

    // 1b. The same receive into protected memory is captured (it stays pending).
    int protected_in = -1;
    s.protect(1, "in", &protected_in, 1);
    MPI_Irecv(&protected_in, 1, MPI_INT, (g_rank + size - 1) % size, 78, MPI_COMM_WORLD, &r);
    try {
      s.checkpoint(0);
    } catch (const ckpt::Error &e) {
      std::fprintf(stderr, "[rank %d] checkpoint with a pending protected receive failed: %s\n",
                   g_rank, e.what());
      ++g_failures;
    }
    MPI_Send(&data, 1, MPI_INT, (g_rank + 1) % size, 78, MPI_COMM_WORLD);
    MPI_Wait(&r, MPI_STATUS_IGNORE);
    if (protected_in != (g_rank + size - 1) % size) ++g_failures;

    // 1c. A pending receive with a derived datatype.
    MPI_Datatype pair;
    MPI_Type_contiguous(2, MPI_INT, &pair);
    MPI_Type_commit(&pair);
    int two[2] = {0, 0};
    s.protect(2, "two", two, 2);
    MPI_Irecv(two, 1, pair, MPI_ANY_SOURCE, 79, MPI_COMM_WORLD, &r);
    expect_refused(s, "derived datatype", "derived datatype");
    MPI_Cancel(&r);
    MPI_Wait(&r, MPI_STATUS_IGNORE);
    MPI_Type_free(&pair);

    // 2. An open RMA passive-target epoch.
    int base = 0;
    MPI_Win win;
    MPI_Win_create(&base, sizeof base, sizeof base, MPI_INFO_NULL, MPI_COMM_WORLD, &win);
    MPI_Win_lock(MPI_LOCK_SHARED, (g_rank + 1) % size, 0, win);
    expect_refused(s, "RMA epoch", "RMA");
    MPI_Win_unlock((g_rank + 1) % size, win);
    MPI_Win_free(&win);

    // 3. Persistent requests, inactive or active, are captured.
    MPI_Request p;
    MPI_Send_init(&data, 1, MPI_INT, (g_rank + 1) % size, 1, MPI_COMM_WORLD, &p);
    for (int active = 0; active < 2; ++active) {
      if (active) MPI_Start(&p);
      try {
        s.checkpoint(0);
      } catch (const ckpt::Error &e) {
        std::fprintf(stderr, "[rank %d] checkpoint with an %s persistent request failed: %s\n",
                     g_rank, active ? "active" : "inactive", e.what());
        ++g_failures;
      }
    }
    MPI_Recv(&in, 1, MPI_INT, (g_rank + size - 1) % size, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    MPI_Wait(&p, MPI_STATUS_IGNORE);
    MPI_Request_free(&p);

    // 3b. Pending nonblocking collectives that not every rank entered: an
    //     Iallgather cannot be carried, an Iallreduce whose buffers are not
    //     protected neither.
    if (size > 1) {
      int v = 1, sum = 0;
      std::vector<int> all(static_cast<std::size_t>(size));
      MPI_Request c = MPI_REQUEST_NULL;
      if (g_rank == 0) MPI_Iallgather(&v, 1, MPI_INT, all.data(), 1, MPI_INT, MPI_COMM_WORLD, &c);
      expect_refused(s, "pending Iallgather",
                     "MPI_Ibarrier and MPI_Iallreduce can be carried across a checkpoint");
      if (g_rank != 0) MPI_Iallgather(&v, 1, MPI_INT, all.data(), 1, MPI_INT, MPI_COMM_WORLD, &c);
      MPI_Wait(&c, MPI_STATUS_IGNORE);
      if (g_rank == 0) MPI_Iallreduce(&v, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD, &c);
      expect_refused(s, "pending Iallreduce into unprotected memory",
                     "MPI_Iallreduce on MPI_COMM_WORLD has its buffer outside every protected");
      if (g_rank != 0) MPI_Iallreduce(&v, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD, &c);
      MPI_Wait(&c, MPI_STATUS_IGNORE);
      if (sum != size) ++g_failures;
    }

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
