// A hook that throws inside a PMPI wrapper must not end the program with
// std::terminate: the call returns MPI_ERR_INTERN through the error handler
// of its communicator (MPI_COMM_WORLD's for calls without one), the program
// can go on, and later checkpoints are refused (the layer's accounting may
// be incomplete).
//
// usage: pmpi_hook_failure CALL   (CALL: MPI_Send, MPI_Barrier or MPI_Wait)
// The fault is injected with CKPT_PMPI_INJECT_FAULT=CALL, set here before
// MPI_Init, which is when the layer reads it.
#include <ckpt/ckpt.hpp>

#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {
int g_rank = 0;
int g_world_handler_calls = 0, g_world_handler_code = MPI_SUCCESS;
int g_dup_handler_calls = 0, g_dup_handler_code = MPI_SUCCESS;

void on_world_error(MPI_Comm *, int *code, ...) {
  ++g_world_handler_calls;
  g_world_handler_code = *code;
}
void on_dup_error(MPI_Comm *, int *code, ...) {
  ++g_dup_handler_calls;
  g_dup_handler_code = *code;
}

int error_class(int code) {
  int cls = MPI_SUCCESS;
  MPI_Error_class(code, &cls);
  return cls;
}

int g_failures = 0;
void expect(bool ok, const std::string &what) {
  if (!ok) {
    std::fprintf(stderr, "[rank %d] FAIL: %s\n", g_rank, what.c_str());
    ++g_failures;
  }
}
} // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s MPI_Send|MPI_Barrier|MPI_Wait\n", argv[0]);
    return 2;
  }
  const std::string call = argv[1];
  setenv("CKPT_PMPI_INJECT_FAULT", call.c_str(), 1);
  MPI_Init(&argc, &argv);
  int size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Errhandler world_handler, dup_handler;
  MPI_Comm_create_errhandler(on_world_error, &world_handler);
  MPI_Comm_create_errhandler(on_dup_error, &dup_handler);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, world_handler);
  // The failing call runs on `comm`, so that the test sees which handler
  // reports it (a call without a communicator reports through WORLD's).
  MPI_Comm comm;
  MPI_Comm_dup(MPI_COMM_WORLD, &comm);
  MPI_Comm_set_errhandler(comm, dup_handler);
  {
    ckpt::Session s(MPI_COMM_WORLD, {{"dir", "hook_failure.ckpt"}, {"log_level", "error"}});
    int data = g_rank;
    s.protect(0, "data", &data, 1);

    int rc = MPI_SUCCESS;
    const bool on_comm = call != "MPI_Wait";
    if (call == "MPI_Send") {
      // Every rank's send fails before anything is sent: nothing to receive.
      rc = MPI_Send(&data, 1, MPI_INT, (g_rank + 1) % size, 3, comm);
    } else if (call == "MPI_Barrier") {
      rc = MPI_Barrier(comm);
    } else if (call == "MPI_Wait") {
      MPI_Request r;
      MPI_Irecv(&data, 1, MPI_INT, (g_rank + size - 1) % size, 4, comm, &r);
      MPI_Send(&g_rank, 1, MPI_INT, (g_rank + 1) % size, 4, comm);
      rc = MPI_Wait(&r, MPI_STATUS_IGNORE);
      // The failed wait left the receive pending: complete it (MPI_Test has
      // no fault injected).
      for (int done = 0; !done;)
        MPI_Test(&r, &done, MPI_STATUS_IGNORE);
    } else {
      std::fprintf(stderr, "unknown call %s\n", call.c_str());
      MPI_Abort(MPI_COMM_WORLD, 2);
    }
    expect(error_class(rc) == MPI_ERR_INTERN, call + " returned error class " +
                                                  std::to_string(error_class(rc)) +
                                                  ", expected MPI_ERR_INTERN");
    if (on_comm) {
      expect(g_dup_handler_calls == 1 && error_class(g_dup_handler_code) == MPI_ERR_INTERN,
             "the communicator's error handler was called " + std::to_string(g_dup_handler_calls) +
                 " time(s)");
      expect(g_world_handler_calls == 0, "MPI_COMM_WORLD's error handler was called");
    } else {
      expect(g_world_handler_calls == 1 && error_class(g_world_handler_code) == MPI_ERR_INTERN,
             "MPI_COMM_WORLD's error handler was called " + std::to_string(g_world_handler_calls) +
                 " time(s)");
    }

    // The program goes on: other calls work.
    int sum = 0;
    expect(MPI_Allreduce(&data, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD) == MPI_SUCCESS,
           "MPI_Allreduce after the failure");

    // Checkpoints are refused from now on, on every rank.
    try {
      s.checkpoint(0);
      expect(false, "the checkpoint after a failed hook was not refused");
    } catch (const ckpt::Error &e) {
      expect(std::string(e.what()).find("failed inside " + call) != std::string::npos,
             std::string("unexpected refusal message: ") + e.what());
      if (g_rank == 0) std::printf("checkpoint refused as expected: %s\n", e.what());
    }
  }
  MPI_Comm_free(&comm);
  MPI_Errhandler_free(&world_handler);
  MPI_Errhandler_free(&dup_handler);
  int failures = 0;
  MPI_Allreduce(&g_failures, &failures, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (g_rank == 0) std::printf("%s: %s\n", call.c_str(), failures == 0 ? "PASS" : "FAIL");
  MPI_Finalize();
  return failures == 0 ? 0 : 1;
}
