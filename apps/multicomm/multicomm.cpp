// multicomm: traffic on several communicators at once: MPI_COMM_WORLD, a
// duplicate of it, and the rows and columns of a 2 x (size/2) grid made with
// MPI_Comm_split (with 2 ranks the columns hold one rank each, which then
// sends to itself). Each step sends one message around every communicator
// with MPI_Isend (same tag on all of them) and receives it in the next step,
// after the checkpoint. The communicators are re-created before restart();
// the layer matches them to the saved ones by what they are (parent, call,
// members), so their creation order may change.
#include "example_app.hpp"

namespace {

constexpr int len = 600;
constexpr int ncomms = 4;

void run(const example::Options &o) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm comms[ncomms];
  comms[0] = MPI_COMM_WORLD;
  MPI_Comm_dup(MPI_COMM_WORLD, &comms[1]);
  MPI_Comm_split(MPI_COMM_WORLD, rank / 2, rank, &comms[2]);  // rows
  MPI_Comm_split(MPI_COMM_WORLD, rank % 2, -rank, &comms[3]); // columns, reversed

  std::vector<double> value(static_cast<std::size_t>(ncomms) * len);
  for (std::size_t i = 0; i < value.size(); ++i)
    value[i] = rank + 1e-4 * double(i);
  std::vector<double> sendbuf(value.size()), recvbuf(value.size());
  std::vector<MPI_Request> sends(ncomms, MPI_REQUEST_NULL);
  std::int64_t step = -1;

  ckpt::Session session(MPI_COMM_WORLD, {{"dir", o.dir}, {"log_level", "warning"}});
  session.protect(0, "value", value);
  session.protect(1, "step", &step, 1);
  session.protect_bytes(2, "sends", sends.data(), sends.size(), sizeof(MPI_Request));

  auto receive = [&](std::int64_t s) {
    for (int c = ncomms - 1; c >= 0; --c) { // not the order they were sent in
      int crank = 0, csize = 1;
      MPI_Comm_rank(comms[c], &crank);
      MPI_Comm_size(comms[c], &csize);
      const int from = (crank + csize - 1) % csize;
      MPI_Status st;
      // Wildcard tag on the duplicate: the same tag is in flight on WORLD.
      MPI_Recv(recvbuf.data() + c * len, len, MPI_DOUBLE, from,
               c == 1 ? MPI_ANY_TAG : static_cast<int>(s % 1000), comms[c], &st);
      if (st.MPI_TAG != static_cast<int>(s % 1000) || st.MPI_SOURCE != from)
        throw std::runtime_error("multicomm: wrong message on communicator " + std::to_string(c));
    }
    MPI_Waitall(ncomms, sends.data(), MPI_STATUSES_IGNORE);
    for (std::size_t i = 0; i < value.size(); ++i)
      value[i] = 0.6 * value[i] + 0.4 * recvbuf[i] * (1 + static_cast<double>(i / len));
  };

  for (std::int64_t s = example::restart_if_asked(session, o, step); s < o.steps; ++s) {
    if (s > 0) receive(s - 1);
    for (int c = 0; c < ncomms; ++c) {
      int crank = 0, csize = 1;
      MPI_Comm_rank(comms[c], &crank);
      MPI_Comm_size(comms[c], &csize);
      for (int i = 0; i < len; ++i)
        sendbuf[c * len + i] = value[c * len + i] + c;
      MPI_Isend(sendbuf.data() + c * len, len, MPI_DOUBLE, (crank + 1) % csize,
                static_cast<int>(s % 1000), comms[c], &sends[c]);
    }
    step = s;
    example::end_of_step(session, o, s);
  }
  receive(o.steps - 1);
  example::print_checksum(value);
  session.finalize();
  for (int c = 1; c < ncomms; ++c)
    MPI_Comm_free(&comms[c]);
}

} // namespace

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  const example::Options o = example::parse(argc, argv);
  const int rc = example::guarded([&] { run(o); });
  MPI_Finalize();
  return rc;
}
