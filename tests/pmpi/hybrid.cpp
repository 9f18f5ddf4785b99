// hybrid: an MPI+threads program under MPI_THREAD_MULTIPLE. Each step, every
// rank runs `threads` std::threads that exchange messages with both
// neighbours at once, each on its own communicator and also all on
// MPI_COMM_WORLD (distinct tags), completing them with a mix of MPI_Wait,
// MPI_Waitall, MPI_Testany polling and blocking MPI_Recv/MPI_Send. The
// threads are joined, and the main thread alone sends a message to its
// right neighbour that is received at the start of the next step: every
// checkpoint (taken by the main thread after the join) has it in flight.
// The result does not depend on message order: run with and without the
// PMPI layer, and killed and restarted, it must print the same checksum.
//
// --refusal-check: before the run, a checkpoint requested while another
// thread is blocked in MPI_Recv must fail with CKPT_ERR_STATE on every rank.
#include "example_app.hpp"

#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int threads = 3;
constexpr int rounds = 20; ///< message rounds per thread and step
constexpr int len = 64;

void check(int rc, const char *call) {
  if (rc != MPI_SUCCESS) throw std::runtime_error(std::string(call) + " failed");
}

double payload(std::int64_t step, int round, int t, int from, int i) {
  return static_cast<double>(
             example::mix(static_cast<std::uint64_t>(step), round * 16 + t, from * 1000 + i) %
             1000003) *
         1e-3;
}

/// One thread's work in one step: returns a contribution to its state.
void thread_step(std::int64_t step, int t, MPI_Comm own, int rank, int size,
                 std::vector<double> &state) {
  const int left = (rank + size - 1) % size, right = (rank + 1) % size;
  std::vector<double> out(len), in_left(len), in_right(len), in_world(len);
  for (int round = 0; round < rounds; ++round) {
    for (int i = 0; i < len; ++i)
      out[i] = payload(step, round, t, rank, i);
    const int tag = round % 5;
    MPI_Request r[4];
    check(MPI_Irecv(in_left.data(), len, MPI_DOUBLE, left, tag, own, &r[0]), "MPI_Irecv");
    check(MPI_Irecv(in_right.data(), len, MPI_DOUBLE, right, tag, own, &r[1]), "MPI_Irecv");
    check(MPI_Isend(out.data(), len, MPI_DOUBLE, right, tag, own, &r[2]), "MPI_Isend");
    check(MPI_Isend(out.data(), len, MPI_DOUBLE, left, tag, own, &r[3]), "MPI_Isend");
    switch (round % 3) {
    case 0: check(MPI_Waitall(4, r, MPI_STATUSES_IGNORE), "MPI_Waitall"); break;
    case 1:
      for (MPI_Request &q : r)
        check(MPI_Wait(&q, MPI_STATUS_IGNORE), "MPI_Wait");
      break;
    default:
      for (int done = 0; done < 4;) {
        int index = 0, flag = 0;
        check(MPI_Testany(4, r, &index, &flag, MPI_STATUS_IGNORE), "MPI_Testany");
        if (flag && index != MPI_UNDEFINED) ++done;
        if (!flag) std::this_thread::yield();
      }
    }
    // The same over MPI_COMM_WORLD, shared by every thread (tag = thread):
    // blocking send and receive, ordered by rank parity to avoid a cycle.
    const int wtag = 100 + t;
    MPI_Status st;
    if (rank % 2 == 0) {
      check(MPI_Send(out.data(), len, MPI_DOUBLE, right, wtag, MPI_COMM_WORLD), "MPI_Send");
      check(MPI_Recv(in_world.data(), len, MPI_DOUBLE, left, wtag, MPI_COMM_WORLD, &st),
            "MPI_Recv");
    } else {
      check(MPI_Recv(in_world.data(), len, MPI_DOUBLE, left, wtag, MPI_COMM_WORLD, &st),
            "MPI_Recv");
      check(MPI_Send(out.data(), len, MPI_DOUBLE, right, wtag, MPI_COMM_WORLD), "MPI_Send");
    }
    int n = 0;
    MPI_Get_count(&st, MPI_DOUBLE, &n);
    if (n != len || st.MPI_SOURCE != left || st.MPI_TAG != wtag)
      throw std::runtime_error("hybrid: wrong status on MPI_COMM_WORLD");
    for (int i = 0; i < len; ++i) {
      if (in_left[i] != payload(step, round, t, left, i) ||
          in_right[i] != payload(step, round, t, right, i) ||
          in_world[i] != payload(step, round, t, left, i))
        throw std::runtime_error("hybrid: wrong message content");
      state[i] = 0.5 * state[i] + 0.125 * (in_left[i] + in_right[i] + in_world[i]);
    }
  }
}

/// Runs one step's threads; rethrows the first failure after joining.
void parallel_step(std::int64_t step, const std::vector<MPI_Comm> &comms, int rank, int size,
                   std::vector<std::vector<double>> &state) {
  std::vector<std::string> errors(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      try {
        thread_step(step, t, comms[t], rank, size, state[t]);
      } catch (const std::exception &e) {
        errors[t] = e.what();
      }
    });
  for (std::thread &th : pool)
    th.join();
  for (const std::string &e : errors)
    if (!e.empty()) throw std::runtime_error(e);
}

/// A checkpoint while a thread waits in MPI_Recv must be refused.
void refusal_check(ckpt::Session &session, MPI_Comm comm, int rank) {
  int value = 0;
  std::thread blocked([&] { MPI_Recv(&value, 1, MPI_INT, rank, 7, comm, MPI_STATUS_IGNORE); });
  // Let the thread enter MPI_Recv (the check is still correct, only weaker,
  // if it has not yet: then the checkpoint must not be refused for it).
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  bool refused = false;
  try {
    session.checkpoint(-1);
  } catch (const ckpt::Error &e) {
    refused = e.status() == CKPT_ERR_STATE &&
              std::string(e.what()).find("blocking MPI call") != std::string::npos;
    if (!refused) std::fprintf(stderr, "[rank %d] unexpected refusal: %s\n", rank, e.what());
  }
  const int one = 1;
  MPI_Send(&one, 1, MPI_INT, rank, 7, comm);
  blocked.join();
  if (!refused) throw std::runtime_error("a checkpoint with a thread in MPI_Recv was not refused");
  if (rank == 0) std::printf("refused as expected: checkpoint with a thread in MPI_Recv\n");
}

void run(const example::Options &o, bool refusal) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const int left = (rank + size - 1) % size, right = (rank + 1) % size;
  std::vector<MPI_Comm> comms(threads);
  for (MPI_Comm &c : comms)
    MPI_Comm_dup(MPI_COMM_WORLD, &c);

  std::vector<std::vector<double>> state(threads, std::vector<double>(len));
  std::vector<double> carry(len), sendbuf(len), recvbuf(len);
  for (int i = 0; i < len; ++i)
    carry[i] = rank + 0.001 * i;
  std::int64_t step = -1;
  MPI_Request send_request = MPI_REQUEST_NULL;

  ckpt::Session session(MPI_COMM_WORLD, {{"dir", o.dir}, {"log_level", "warning"}});
  for (int t = 0; t < threads; ++t)
    session.protect(t, "thread" + std::to_string(t), state[t]);
  session.protect(threads, "carry", carry);
  session.protect(threads + 1, "step", &step, 1);
  session.protect_bytes(threads + 2, "send_request", &send_request, 1, sizeof send_request);
  if (refusal && !o.restart) refusal_check(session, comms[0], rank);

  auto receive = [&](std::int64_t s) {
    MPI_Recv(recvbuf.data(), len, MPI_DOUBLE, left, 9, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    MPI_Wait(&send_request, MPI_STATUS_IGNORE);
    for (int i = 0; i < len; ++i)
      carry[i] = 0.5 * carry[i] + 0.25 * recvbuf[i] + 1e-3 * double(s);
  };
  for (std::int64_t s = example::restart_if_asked(session, o, step); s < o.steps; ++s) {
    if (s > 0) receive(s - 1);
    parallel_step(s, comms, rank, size, state);
    for (int i = 0; i < len; ++i)
      sendbuf[i] = carry[i] + state[static_cast<std::size_t>(s) % threads][i];
    MPI_Isend(sendbuf.data(), len, MPI_DOUBLE, right, 9, MPI_COMM_WORLD, &send_request);
    step = s;
    example::end_of_step(session, o, s); // only the main thread is in MPI here
  }
  receive(o.steps - 1);
  std::vector<double> all(carry);
  for (const auto &v : state)
    all.insert(all.end(), v.begin(), v.end());
  example::print_checksum(all);
  session.finalize();
  for (MPI_Comm &c : comms)
    MPI_Comm_free(&c);
}

} // namespace

int main(int argc, char **argv) {
  std::vector<char *> args(argv, argv + argc);
  bool refusal = false;
  for (auto it = args.begin() + 1; it != args.end(); ++it)
    if (std::string(*it) == "--refusal-check") {
      refusal = true;
      args.erase(it);
      break;
    }
  int provided = MPI_THREAD_SINGLE;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  if (provided != MPI_THREAD_MULTIPLE) {
    std::fprintf(stderr, "hybrid: MPI_THREAD_MULTIPLE not provided (%d)\n", provided);
    MPI_Finalize();
    return 3;
  }
  const example::Options o = example::parse(static_cast<int>(args.size()), args.data());
  const int rc = example::guarded([&] { run(o, refusal); });
  MPI_Finalize();
  return rc;
}
