// A user of the installed libckpt (C++ API): `consumer write DIR` protects
// two regions and checkpoints at step 7; `consumer restart DIR` restores them
// and checks every value. Exit status 0 when every rank succeeded.
#include <ckpt/ckpt.hpp>

#include <mpi.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  int ok = 0;
  if (argc == 3) {
    const bool write = std::strcmp(argv[1], "write") == 0;
    try {
      std::vector<double> field(1000 + static_cast<std::size_t>(rank) * 10, 0.0);
      std::int64_t step = 0;
      ckpt::Session session(MPI_COMM_WORLD, {{"dir", argv[2]}, {"log_level", "error"}});
      session.protect(0, "field", field);
      session.protect(1, "step", &step, 1);
      if (write) {
        for (std::size_t i = 0; i < field.size(); ++i)
          field[i] = rank * 1.0e6 + double(i) / 8.0;
        step = 7;
        session.checkpoint(step);
        ok = 1;
      } else {
        const ckpt::CheckpointId id = session.restart();
        ok = id.step == 7 && step == 7;
        for (std::size_t i = 0; i < field.size(); ++i)
          ok = ok && field[i] == rank * 1.0e6 + double(i) / 8.0;
      }
      session.finalize();
    } catch (const ckpt::Error &e) {
      std::fprintf(stderr, "consumer [rank %d]: %s\n", rank, e.what());
    }
  }
  int all = 0;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (rank == 0)
    std::printf("C++ consumer %s: %s\n", argc == 3 ? argv[1] : "?", all ? "ok" : "FAILED");
  MPI_Finalize();
  return all ? 0 : 1;
}
