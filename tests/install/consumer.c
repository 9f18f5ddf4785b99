/* A user of the installed libckpt (C API, built with pkg-config):
 * `consumer_c write DIR` checkpoints an array at step 3; `consumer_c restart
 * DIR` restores it and checks every value. Exit status 0 when every rank
 * succeeded. */
#define _POSIX_C_SOURCE 200809L /* setenv */

#include <ckpt/ckpt.h>

#include <mpi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT 4096

int main(int argc, char **argv) {
  static int values[COUNT];
  int rank = 0, ok = 0, all = 0;
  int64_t step = 0, version = 0, saved_step = 0;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (argc == 3 && setenv("CKPT_DIR", argv[2], 1) == 0 &&
      setenv("CKPT_LOG_LEVEL", "error", 1) == 0 &&
      ckpt_init(MPI_COMM_WORLD, NULL) == CKPT_SUCCESS) {
    int rc = ckpt_protect(0, "values", values, COUNT, CKPT_INT32);
    if (rc == CKPT_SUCCESS) rc = ckpt_protect(1, "step", &step, 1, CKPT_INT64);
    if (rc == CKPT_SUCCESS && strcmp(argv[1], "write") == 0) {
      for (int i = 0; i < COUNT; ++i)
        values[i] = rank * 100000 + i;
      step = 3;
      ok = ckpt_checkpoint(step) == CKPT_SUCCESS;
    } else if (rc == CKPT_SUCCESS) {
      ok = ckpt_restart(&version, &saved_step) == CKPT_SUCCESS && saved_step == 3 && step == 3;
      for (int i = 0; ok && i < COUNT; ++i)
        ok = values[i] == rank * 100000 + i;
    }
    if (!ok) fprintf(stderr, "consumer_c [rank %d]: %s\n", rank, ckpt_last_error());
    if (ckpt_finalize() != CKPT_SUCCESS) ok = 0;
  }
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (rank == 0) printf("C consumer %s: %s\n", argc == 3 ? argv[1] : "?", all ? "ok" : "FAILED");
  MPI_Finalize();
  return all ? 0 : 1;
}
