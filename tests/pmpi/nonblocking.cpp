// protocol = nonblocking, one case per requester and the limits: a request
// from one rank only, rank 0's timer, a signal to one rank, 300 epochs in a
// row (the layer's memory stays flat: records are dropped at every commit),
// and a state the protocol refuses, reported at a later site with
// CKPT_ERR_STATE and never committed. Run with 3 or 4 ranks.
#include <ckpt/ckpt.hpp>

#include <mpi.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define CKPT_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CKPT_TEST_ASAN 1
#endif
#endif
#ifdef CKPT_TEST_ASAN
constexpr bool k_address_sanitizer = true;
#else
constexpr bool k_address_sanitizer = false;
#endif

namespace {

int g_rank = 0, g_size = 1, g_failures = 0;

void fail(const std::string &what) {
  std::fprintf(stderr, "[rank %d] FAIL: %s\n", g_rank, what.c_str());
  ++g_failures;
}

int commits(const std::string &dir) {
  int n = 0;
  for (const auto &e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".commit") ++n;
  return n;
}

/// Resident set of this process in KiB (Linux).
long rss_kib() {
  std::ifstream in("/proc/self/status");
  std::string key;
  long value = 0;
  while (in >> key) {
    if (key == "VmRSS:") {
      in >> value;
      return value;
    }
    in.ignore(1 << 16, '\n');
  }
  return 0;
}

/// A ring exchange per step (a message in flight across every site) and a
/// site; `request(step)` may ask for a checkpoint. Returns the number of
/// sites at which this rank took a local checkpoint.
template <class Request>
int run_steps(ckpt::Session &s, std::vector<double> &state, int steps, Request &&request,
              std::vector<std::string> *errors = nullptr) {
  const int right = (g_rank + 1) % g_size, left = (g_rank + g_size - 1) % g_size;
  int taken = 0;
  for (int step = 0; step < steps; ++step) {
    double out = state[0] + step, in = 0;
    MPI_Request r;
    MPI_Isend(&out, 1, MPI_DOUBLE, right, step % 100, MPI_COMM_WORLD, &r);
    MPI_Recv(&in, 1, MPI_DOUBLE, left, step % 100, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    MPI_Wait(&r, MPI_STATUS_IGNORE);
    state[static_cast<std::size_t>(step) % state.size()] += in;
    request(step);
    try {
      if (s.site(step)) ++taken;
    } catch (const ckpt::Error &e) {
      if (!errors || e.status() != CKPT_ERR_STATE) throw;
      errors->push_back(e.what());
    }
  }
  return taken;
}

} // namespace

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  const std::string dir = "nonblocking.ckpt";
  if (g_rank == 0) std::filesystem::remove_all(dir);
  MPI_Barrier(MPI_COMM_WORLD);
  try {
    std::vector<double> state(1000, g_rank);
    {
      // 1. One rank asks; every rank takes its local checkpoint; rank 0 commits.
      ckpt::Session s(MPI_COMM_WORLD, {{"dir", dir},
                                       {"protocol", "nonblocking"},
                                       {"log_level", "warning"},
                                       {"fsync", "false"},
                                       {"keep", "1000"}});
      s.protect(0, "state", state);
      const int taken = run_steps(s, state, 200, [&](int step) {
        if (step == 20 && g_rank == g_size - 1) s.request_checkpoint();
      });
      if (taken != 1)
        fail("a request from one rank: " + std::to_string(taken) + " local checkpoints");
      s.finalize();
      if (g_rank == 0 && commits(dir) != 1)
        fail("a request from one rank: " + std::to_string(commits(dir)) + " commits");
    }
    {
      // 2. A signal delivered to one rank only.
      ckpt::Session s(MPI_COMM_WORLD, {{"dir", dir},
                                       {"protocol", "nonblocking"},
                                       {"log_level", "warning"},
                                       {"fsync", "false"},
                                       {"exit_on_signal", "false"},
                                       {"keep", "1000"}});
      s.protect(0, "state", state);
      const int taken = run_steps(s, state, 200, [&](int step) {
        if (step == 10 && g_rank == 1) std::raise(SIGUSR1);
      });
      if (taken != 1) fail("a signal to rank 1: " + std::to_string(taken) + " local checkpoints");
      s.finalize();
      if (g_rank == 0 && commits(dir) != 2) fail("a signal to rank 1: no commit");
    }
    {
      // 3. Rank 0's timer (1 s) over a 2.5 s run.
      ckpt::Session s(MPI_COMM_WORLD, {{"dir", dir},
                                       {"protocol", "nonblocking"},
                                       {"log_level", "warning"},
                                       {"fsync", "false"},
                                       {"checkpoint_interval", "1"},
                                       {"keep", "1000"}});
      s.protect(0, "state", state);
      const int taken = run_steps(
          s, state, 250, [](int) { std::this_thread::sleep_for(std::chrono::milliseconds(10)); });
      if (taken < 1 || taken > 3) fail("timer: " + std::to_string(taken) + " local checkpoints");
      s.finalize();
    }
    {
      // 4. 300 epochs back to back: the layer's records are dropped at each
      //    commit, so memory is flat between epoch 100 and epoch 300.
      ckpt::Session s(MPI_COMM_WORLD, {{"dir", dir},
                                       {"protocol", "nonblocking"},
                                       {"log_level", "warning"},
                                       {"fsync", "false"},
                                       {"keep", "1"}});
      s.protect(0, "state", state);
      long rss_100 = 0;
      int requested = 0;
      const int taken = run_steps(s, state, 3000, [&](int step) {
        if (g_rank == 0 && step % 10 == 0) {
          s.request_checkpoint();
          ++requested;
        }
        if (step == 1000) rss_100 = rss_kib();
      });
      const long growth = rss_kib() - rss_100;
      if (taken < 250) fail("300 requests gave " + std::to_string(taken) + " local checkpoints");
      // AddressSanitizer keeps freed memory in its quarantine (up to 256 MiB):
      // resident memory says nothing about leaks there, and LeakSanitizer does.
      if (!k_address_sanitizer && growth > 4096)
        fail("memory grew by " + std::to_string(growth) + " KiB over 200 epochs");
      if (g_rank == 0)
        std::printf("%d local checkpoints for %d requests, RSS growth %ld KiB\n", taken, requested,
                    growth);
      s.finalize();
    }
    {
      // 5. A state the protocol refuses (an active persistent send at the
      //    site): the epoch fails, a later site says why, nothing is committed.
      ckpt::Session s(MPI_COMM_WORLD, {{"dir", dir},
                                       {"protocol", "nonblocking"},
                                       {"log_level", "error"},
                                       {"fsync", "false"},
                                       {"keep", "1000"}});
      s.protect(0, "state", state);
      const int before = g_rank == 0 ? commits(dir) : 0;
      std::vector<std::string> errors;
      double value = 1, sink = 0;
      MPI_Request p;
      MPI_Send_init(&value, 1, MPI_DOUBLE, g_rank, 999, MPI_COMM_WORLD, &p);
      run_steps(
          s, state, 50,
          [&](int step) {
            if (step == 5 && g_rank == 0) s.request_checkpoint();
            if (step == 5) MPI_Start(&p); // pending at the site
            if (step == 45) {
              MPI_Recv(&sink, 1, MPI_DOUBLE, g_rank, 999, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
              MPI_Wait(&p, MPI_STATUS_IGNORE);
            }
          },
          &errors);
      MPI_Request_free(&p);
      s.finalize();
      if (errors.size() != 1 || errors[0].find("persistent send") == std::string::npos)
        fail("refusal: " + std::to_string(errors.size()) + " error(s)" +
             (errors.empty() ? std::string() : ": " + errors[0]));
      if (g_rank == 0 && commits(dir) != before) fail("refusal: a version was committed");
    }
  } catch (const std::exception &e) {
    fail(e.what());
  }
  int failures = 0;
  MPI_Allreduce(&g_failures, &failures, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (g_rank == 0) {
    std::filesystem::remove_all(dir);
    std::printf(failures ? "FAILED\n" : "PASSED\n");
  }
  MPI_Finalize();
  return failures ? 1 : 0;
}
