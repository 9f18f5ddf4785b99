// ring: every rank passes a vector to its right neighbour each step. The
// message of step s is sent with MPI_Isend at the end of step s and received
// at the start of step s+1, so every checkpoint is taken with one message per
// rank in flight and one Isend pending: the PMPI layer drains the messages
// into the checkpoint and completes the Isends, and after a restart the
// MPI_Recv is served from the checkpoint and the MPI_Wait on the old request
// handle succeeds. Message sizes alternate between eager and rendezvous.
#include "example_app.hpp"

namespace {

constexpr int max_len = 4000;
int length_of(std::int64_t step) {
  static const int lengths[] = {3, 700, max_len};
  return lengths[step % 3];
}

void run(const example::Options &o) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const int left = (rank + size - 1) % size, right = (rank + 1) % size;

  std::vector<double> value(max_len), sendbuf(max_len), recvbuf(max_len);
  for (int i = 0; i < max_len; ++i)
    value[i] = rank * 1000.0 + i;
  std::int64_t step = -1;                      // last step done
  MPI_Request send_request = MPI_REQUEST_NULL; // the Isend in flight

  ckpt::Session session(MPI_COMM_WORLD, {{"dir", o.dir}, {"log_level", "warning"}});
  session.protect(0, "value", value);
  session.protect(1, "step", &step, 1);
  session.protect_bytes(2, "send_request", &send_request, 1, sizeof send_request);

  auto receive = [&](std::int64_t s) {
    MPI_Status st;
    MPI_Recv(recvbuf.data(), max_len, MPI_DOUBLE, left, static_cast<int>(s % 1000), MPI_COMM_WORLD,
             &st);
    int n = 0;
    MPI_Get_count(&st, MPI_DOUBLE, &n);
    if (n != length_of(s) || st.MPI_SOURCE != left)
      throw std::runtime_error("ring: wrong message at step " + std::to_string(s));
    MPI_Wait(&send_request, MPI_STATUS_IGNORE);
    for (int i = 0; i < max_len; ++i)
      value[i] = 0.5 * value[i] + 0.25 * recvbuf[i % n] + 1e-3 * double(s);
  };

  for (std::int64_t s = example::restart_if_asked(session, o, step); s < o.steps; ++s) {
    if (s > 0) receive(s - 1);
    std::copy(value.begin(), value.end(), sendbuf.begin());
    MPI_Isend(sendbuf.data(), length_of(s), MPI_DOUBLE, right, static_cast<int>(s % 1000),
              MPI_COMM_WORLD, &send_request);
    step = s;
    example::end_of_step(session, o, s); // checkpoint with the Isend in flight
  }
  receive(o.steps - 1);
  example::print_checksum(value);
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
