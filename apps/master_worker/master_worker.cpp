// master_worker: rank 0 hands out tasks, the workers answer with results of
// varying length. Each step the master first collects the results of the
// previous step with MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG) + MPI_Recv, then
// sends the new tasks; each worker receives its task, computes, and posts
// its result with MPI_Isend, which is still in flight when the step ends
// with a checkpoint. After a restart the wildcard probes and receives are
// served from the messages the checkpoint drained.
#include "example_app.hpp"

namespace {

constexpr int max_len = 2500;

void run(const example::Options &o) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size < 2) throw std::runtime_error("master_worker needs at least 2 ranks");

  std::vector<double> state(max_len, 1.0); // master: accumulated results; worker: its data
  std::vector<double> result(max_len), incoming(max_len);
  std::int64_t step = -1;
  MPI_Request result_request = MPI_REQUEST_NULL;

  ckpt::Session session(MPI_COMM_WORLD, {{"dir", o.dir}, {"log_level", "warning"}});
  session.protect(0, "state", state);
  session.protect(1, "step", &step, 1);
  session.protect_bytes(2, "result_request", &result_request, 1, sizeof result_request);

  // Master: the results of step s, in whatever order they arrive; combined
  // per worker in rank order so that the state does not depend on it.
  auto collect = [&](std::int64_t s) {
    std::vector<std::vector<double>> by_worker(size);
    for (int k = 1; k < size; ++k) {
      MPI_Status st;
      MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
      int n = 0;
      MPI_Get_count(&st, MPI_DOUBLE, &n);
      if (st.MPI_TAG != static_cast<int>(s % 1000) || !by_worker[st.MPI_SOURCE].empty())
        throw std::runtime_error("master_worker: unexpected result");
      by_worker[st.MPI_SOURCE].resize(n);
      MPI_Status st2;
      MPI_Recv(by_worker[st.MPI_SOURCE].data(), n, MPI_DOUBLE, st.MPI_SOURCE, st.MPI_TAG,
               MPI_COMM_WORLD, &st2);
      if (st2.MPI_SOURCE != st.MPI_SOURCE)
        throw std::runtime_error("master_worker: source changed");
    }
    for (int w = 1; w < size; ++w) {
      const auto &r = by_worker[w];
      for (int i = 0; i < max_len; ++i)
        state[i] = 0.9 * state[i] + 0.1 * r[i % r.size()];
    }
  };

  for (std::int64_t s = example::restart_if_asked(session, o, step); s < o.steps; ++s) {
    if (rank == 0) {
      if (s > 0) collect(s - 1);
      for (int w = 1; w < size; ++w) {
        double task[2] = {state[static_cast<std::size_t>(w) % max_len], double(s)};
        MPI_Send(task, 2, MPI_DOUBLE, w, 7, MPI_COMM_WORLD);
      }
    } else {
      double task[2];
      MPI_Recv(task, 2, MPI_DOUBLE, 0, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      MPI_Wait(&result_request, MPI_STATUS_IGNORE); // the previous result
      const int n = 1 + static_cast<int>(example::mix(s, rank) % max_len);
      for (int i = 0; i < n; ++i) {
        state[i] = 0.5 * state[i] + 0.5 * task[0] + 1e-3 * task[1];
        result[i] = state[i] * rank;
      }
      MPI_Isend(result.data(), n, MPI_DOUBLE, 0, static_cast<int>(s % 1000), MPI_COMM_WORLD,
                &result_request);
    }
    step = s;
    example::end_of_step(session, o, s); // results in flight to the master
  }
  if (rank == 0)
    collect(o.steps - 1);
  else
    MPI_Wait(&result_request, MPI_STATUS_IGNORE);
  example::print_checksum(state);
  session.finalize();
}

} // namespace

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  const example::Options o = example::parse(argc, argv);
  const int rc = example::guarded([&] { run(o); });
  MPI_Finalize();
  return rc;
}
