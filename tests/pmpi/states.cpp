// pmpi_states: the states a real MPI program is in at a checkpoint, carried
// across the checkpoint and a restart by the PMPI layer instead of refused.
//
//   --mode halo        next step's halo MPI_Irecvs are posted before the
//                      checkpoint and matched after it; rank 0 keeps an
//                      MPI_Irecv(MPI_ANY_SOURCE) posted for workers' reports
//   --mode persistent  the halo exchange with MPI_Recv_init/MPI_Send_init,
//                      created in the setup (before restart()); receives are
//                      started before the checkpoint, half the sends too
//   --mode ibarrier    rank 0 enters an MPI_Ibarrier before the checkpoint,
//                      the others after it, and the same with an
//                      MPI_Iallreduce on the second communicator; every
//                      rank matches the token
//                      with MPI_Mprobe before the checkpoint and receives it
//                      with MPI_Mrecv after
//
// Every mode also sends a token on a second communicator that is in flight
// at each checkpoint (drained). --comms swapped|extra|unmatched changes how
// the communicators are created (use it at restart): swapped order, an extra
// communicator created first (a library's duplicate of MPI_COMM_WORLD,
// told apart from the program's "halo" by its name), or a communicator whose
// members differ (the restart must fail and name it). --kill-at S: every rank
// SIGKILLs itself after step S (after that step's checkpoint).
#include "example_app.hpp"

#include <csignal>
#include <stdexcept>
#include <string>

namespace {

enum class Mode { halo, persistent, ibarrier };
enum class Order { normal, swapped, extra, unmatched };

constexpr int n = 64;
constexpr int report_tag = 999, token_tag = 5;

struct Args {
  example::Options o;
  Mode mode = Mode::halo;
  Order order = Order::normal;
  std::int64_t kill_at = -1;
};

Args parse(int argc, char **argv) {
  Args a;
  std::vector<char *> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string s = argv[i];
    const bool has_value = i + 1 < argc;
    if (s == "--mode" && has_value) {
      const std::string v = argv[++i];
      a.mode = v == "persistent" ? Mode::persistent : v == "ibarrier" ? Mode::ibarrier : Mode::halo;
    } else if (s == "--comms" && has_value) {
      const std::string v = argv[++i];
      a.order = v == "swapped"     ? Order::swapped
                : v == "extra"     ? Order::extra
                : v == "unmatched" ? Order::unmatched
                                   : Order::normal;
    } else if (s == "--kill-at" && has_value) {
      a.kill_at = std::stoll(argv[++i]);
    } else {
      rest.push_back(argv[i]);
    }
  }
  a.o = example::parse(static_cast<int>(rest.size()), rest.data());
  return a;
}

struct Comms {
  MPI_Comm halo = MPI_COMM_NULL;  // ring exchange (a named duplicate of WORLD)
  MPI_Comm side = MPI_COMM_NULL;  // the token (WORLD split, ranks reversed)
  MPI_Comm extra = MPI_COMM_NULL; // --comms extra: a library's duplicate
};

Comms make_comms(Order order, int rank) {
  Comms c;
  const auto halo = [&] {
    MPI_Comm_dup(MPI_COMM_WORLD, &c.halo);
    MPI_Comm_set_name(c.halo, "halo");
  };
  const auto side = [&] {
    MPI_Comm_split(MPI_COMM_WORLD, order == Order::unmatched ? rank % 2 : 0, -rank, &c.side);
  };
  if (order == Order::extra) MPI_Comm_dup(MPI_COMM_WORLD, &c.extra);
  if (order == Order::swapped) {
    side();
    halo();
  } else {
    halo();
    side();
  }
  return c;
}

void run(const Args &a) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  Comms comms = make_comms(a.order, rank);
  int hrank = 0, hsize = 1, srank = 0, ssize = 1;
  MPI_Comm_rank(comms.halo, &hrank);
  MPI_Comm_size(comms.halo, &hsize);
  MPI_Comm_rank(comms.side, &srank);
  MPI_Comm_size(comms.side, &ssize);
  const int left = (hrank + hsize - 1) % hsize, right = (hrank + 1) % hsize;

  std::vector<double> value(n);
  for (int i = 0; i < n; ++i)
    value[i] = rank + 0.01 * i;
  std::int64_t step = -1;
  // Everything a pending request refers to lives in protected memory:
  // request handles, receive buffers, persistent send buffers.
  std::vector<MPI_Request> reqs(9, MPI_REQUEST_NULL);
  double halo_in[2] = {0, 0}, send_out[2] = {0, 0}, report_in = 0, spare_in = 0;
  double token_out = 0, token_in = 0, contribution = 0, total = 0;
  MPI_Message token_msg = MPI_MESSAGE_NULL;

  ckpt::Session session(MPI_COMM_WORLD, {{"dir", a.o.dir}, {"log_level", "warning"}});
  session.protect(0, "value", value);
  session.protect(1, "step", &step, 1);
  session.protect_bytes(2, "requests", reqs.data(), reqs.size(), sizeof(MPI_Request));
  session.protect(3, "halo_in", halo_in, 2);
  session.protect(4, "send_out", send_out, 2);
  session.protect(5, "report_in", &report_in, 1);
  session.protect(7, "spare_in", &spare_in, 1);
  session.protect(8, "contribution", &contribution, 1);
  session.protect(9, "total", &total, 1);
  session.protect_bytes(6, "token_msg", &token_msg, 1, sizeof token_msg);

  if (a.mode == Mode::persistent) {
    // Setup, run again by a restarted process before restart(): the layer
    // adopts these requests as the ones the checkpoint saved.
    MPI_Recv_init(&halo_in[0], 1, MPI_DOUBLE, left, 1, comms.halo, &reqs[0]);
    MPI_Recv_init(&halo_in[1], 1, MPI_DOUBLE, right, 2, comms.halo, &reqs[1]);
    MPI_Send_init(&send_out[0], 1, MPI_DOUBLE, left, 2, comms.halo, &reqs[2]);
    MPI_Send_init(&send_out[1], 1, MPI_DOUBLE, right, 1, comms.halo, &reqs[3]);
  }
  const auto post_halo_receives = [&](std::int64_t s) {
    if (a.mode == Mode::persistent) {
      MPI_Startall(2, reqs.data());
      send_out[0] = value[0]; // the leftward half goes before the checkpoint
      MPI_Start(&reqs[2]);
      return;
    }
    MPI_Irecv(&halo_in[0], 1, MPI_DOUBLE, left, static_cast<int>(s % 100), comms.halo, &reqs[0]);
    MPI_Irecv(&halo_in[1], 1, MPI_DOUBLE, right, static_cast<int>(s % 100), comms.halo, &reqs[1]);
  };
  const bool worker_mode = a.mode == Mode::halo && size > 1;
  const auto post_report_receive = [&] {
    if (worker_mode && rank == 0)
      MPI_Irecv(&report_in, 1, MPI_DOUBLE, MPI_ANY_SOURCE, report_tag, MPI_COMM_WORLD, &reqs[4]);
  };

  const std::int64_t first = example::restart_if_asked(session, a.o, step);
  if (first == 0) {
    post_halo_receives(0);
    post_report_receive();
    if (a.mode == Mode::ibarrier && rank == 0) {
      MPI_Ibarrier(comms.halo, &reqs[6]);
      contribution = value[5];
      MPI_Iallreduce(&contribution, &total, 1, MPI_DOUBLE, MPI_SUM, comms.side, &reqs[8]);
    }
    // A receive nothing ever matches, pending through every checkpoint (and
    // re-posted by a restart): tested and cancelled at the end.
    MPI_Irecv(&spare_in, 1, MPI_DOUBLE, MPI_ANY_SOURCE, 12345, comms.side, &reqs[7]);
  }
  for (std::int64_t s = first; s < a.o.steps; ++s) {
    // The token sent at the end of the previous step (drained at a checkpoint).
    if (s > 0) {
      if (a.mode == Mode::ibarrier)
        MPI_Mrecv(&token_in, 1, MPI_DOUBLE, &token_msg, MPI_STATUS_IGNORE);
      else
        MPI_Recv(&token_in, 1, MPI_DOUBLE, (srank + ssize - 1) % ssize, token_tag, comms.side,
                 MPI_STATUS_IGNORE);
      MPI_Wait(&reqs[5], MPI_STATUS_IGNORE);
      value[3] += 1e-3 * token_in;
    }
    if (a.mode == Mode::ibarrier) {
      if (rank != 0) {
        MPI_Ibarrier(comms.halo, &reqs[6]);
        contribution = value[5];
        MPI_Iallreduce(&contribution, &total, 1, MPI_DOUBLE, MPI_SUM, comms.side, &reqs[8]);
      }
      MPI_Wait(&reqs[6], MPI_STATUS_IGNORE);
      MPI_Wait(&reqs[8], MPI_STATUS_IGNORE);
      value[6] += 1e-3 * total;
    }
    // Halo exchange: the receives were posted before the checkpoint.
    if (a.mode == Mode::persistent) {
      send_out[1] = value[n - 1];
      MPI_Start(&reqs[3]);
      MPI_Waitall(4, reqs.data(), MPI_STATUSES_IGNORE);
    } else {
      MPI_Isend(&value[0], 1, MPI_DOUBLE, left, static_cast<int>(s % 100), comms.halo, &reqs[2]);
      MPI_Isend(&value[n - 1], 1, MPI_DOUBLE, right, static_cast<int>(s % 100), comms.halo,
                &reqs[3]);
      MPI_Status st[4];
      MPI_Waitall(4, reqs.data(), st);
      if (st[0].MPI_SOURCE != left || st[1].MPI_SOURCE != right ||
          st[0].MPI_TAG != static_cast<int>(s % 100))
        throw std::runtime_error("halo received with a wrong envelope");
    }
    // Workers report to rank 0, whose wildcard receive was posted long ago.
    if (worker_mode) {
      const int worker = 1 + static_cast<int>(s % (size - 1));
      if (rank == worker) {
        const double report = value[1];
        MPI_Send(&report, 1, MPI_DOUBLE, 0, report_tag, MPI_COMM_WORLD);
      }
      if (rank == 0) {
        MPI_Status st;
        MPI_Wait(&reqs[4], &st);
        int count = 0;
        MPI_Get_count(&st, MPI_DOUBLE, &count);
        if (st.MPI_SOURCE != worker || st.MPI_TAG != report_tag || count != 1)
          throw std::runtime_error("report received with a wrong envelope");
        value[2] += 1e-2 * report_in;
      }
    }
    std::vector<double> next(n);
    for (int i = 0; i < n; ++i) {
      const double l = i == 0 ? halo_in[0] : value[i - 1];
      const double r = i == n - 1 ? halo_in[1] : value[i + 1];
      next[i] = 0.5 * value[i] + 0.25 * (l + r) + 1e-4 * static_cast<double>(s);
    }
    value = next;
    if (s + 1 < a.o.steps) {
      // Next step's receives, posted now: pending at the checkpoint.
      post_halo_receives(s + 1);
      post_report_receive();
      if (a.mode == Mode::ibarrier && rank == 0) {
        MPI_Ibarrier(comms.halo, &reqs[6]);
        contribution = value[5];
        MPI_Iallreduce(&contribution, &total, 1, MPI_DOUBLE, MPI_SUM, comms.side, &reqs[8]);
      }
      token_out = value[4];
      MPI_Isend(&token_out, 1, MPI_DOUBLE, (srank + 1) % ssize, token_tag, comms.side, &reqs[5]);
      if (a.mode == Mode::ibarrier)
        MPI_Mprobe((srank + ssize - 1) % ssize, token_tag, comms.side, &token_msg,
                   MPI_STATUS_IGNORE);
    }
    step = s;
    example::end_of_step(session, a.o, s);
    if (s == a.kill_at) {
      MPI_Barrier(MPI_COMM_WORLD);
      std::raise(SIGKILL);
    }
  }
  int flag = 0;
  MPI_Status st;
  MPI_Test(&reqs[7], &flag, &st);
  if (flag) throw std::runtime_error("a receive nothing matches completed");
  MPI_Cancel(&reqs[7]);
  MPI_Wait(&reqs[7], &st);
  MPI_Test_cancelled(&st, &flag);
  if (!flag || reqs[7] != MPI_REQUEST_NULL)
    throw std::runtime_error("the pending receive was not cancelled");
  example::print_checksum(value);
  session.finalize();
  if (a.mode == Mode::persistent)
    for (int i = 0; i < 4; ++i)
      MPI_Request_free(&reqs[i]);
  MPI_Comm_free(&comms.halo);
  MPI_Comm_free(&comms.side);
  if (comms.extra != MPI_COMM_NULL) MPI_Comm_free(&comms.extra);
}

} // namespace

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  const Args a = parse(argc, argv);
  const int rc = example::guarded([&] { run(a); });
  MPI_Finalize();
  return rc;
}
