// Shared main of every MPI GoogleTest program: initialises MPI, keeps the
// output of rank 0 only, and fails the run on every rank if any rank failed.
#include <gtest/gtest.h>
#include <mpi.h>

namespace {
class SilentListener : public testing::EmptyTestEventListener {};
} // namespace

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  testing::InitGoogleTest(&argc, argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) {
    // Failures on other ranks are still reported, with their rank, through
    // the failure printer below; the progress output is rank 0's alone.
    auto &listeners = testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    struct FailurePrinter : testing::EmptyTestEventListener {
      int rank;
      explicit FailurePrinter(int r) : rank(r) {}
      void OnTestPartResult(const testing::TestPartResult &r) override {
        if (r.failed())
          std::fprintf(stderr, "[rank %d] %s:%d: failure\n%s\n", rank,
                       r.file_name() ? r.file_name() : "?", r.line_number(), r.summary());
      }
    };
    listeners.Append(new FailurePrinter(rank));
  }
  int failed = RUN_ALL_TESTS() != 0 ? 1 : 0, any = 0;
  MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return any;
}
