// alltoall: every step each rank sends a block to every other rank with
// MPI_Isend, in a shuffled order and with random delays between the posts;
// half of the blocks of step s are received during step s (MPI_Irecv +
// MPI_Waitany), the other half at the start of step s+1 (MPI_Recv), after
// the checkpoint that ends step s. Block sizes vary from 1 to 3000 doubles.
#include "example_app.hpp"

#include <algorithm>
#include <numeric>
#include <random>

namespace {

constexpr int max_len = 3000;
int length_of(std::int64_t step, int src, int dst) {
  return 1 + static_cast<int>(example::mix(static_cast<std::uint64_t>(step), src, dst) % max_len);
}
/// Blocks from even-distance peers are received in the step they are sent.
bool early(std::int64_t step, int src, int dst) { return (step + src + dst) % 2 == 0; }

void run(const example::Options &o) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);

  std::vector<double> value(max_len);
  for (int i = 0; i < max_len; ++i)
    value[i] = rank + 0.001 * i;
  std::int64_t step = -1;
  std::vector<double> sendbufs(static_cast<std::size_t>(size) * max_len);
  std::vector<double> recvbufs(static_cast<std::size_t>(size) * max_len);
  std::vector<MPI_Request> sends(size, MPI_REQUEST_NULL);

  ckpt::Session session(MPI_COMM_WORLD, {{"dir", o.dir}, {"log_level", "warning"}});
  session.protect(0, "value", value);
  session.protect(1, "step", &step, 1);
  session.protect_bytes(2, "sends", sends.data(), sends.size(), sizeof(MPI_Request));
  session.protect(3, "recvbufs", recvbufs); // early blocks received before the checkpoint

  auto block = [&](std::vector<double> &v, int r) {
    return v.data() + static_cast<std::size_t>(r) * max_len;
  };
  auto check = [&](const MPI_Status &st, std::int64_t s, int src) {
    int n = 0;
    MPI_Get_count(&st, MPI_DOUBLE, &n);
    if (n != length_of(s, src, rank) || st.MPI_SOURCE != src)
      throw std::runtime_error("alltoall: wrong block from " + std::to_string(src));
  };
  // Blocks of step s: the late ones now, then combine all in rank order.
  auto finish_step = [&](std::int64_t s) {
    for (int src = 0; src < size; ++src) {
      if (src == rank || early(s, src, rank)) continue;
      MPI_Status st;
      MPI_Recv(block(recvbufs, src), max_len, MPI_DOUBLE, src, static_cast<int>(s % 1000),
               MPI_COMM_WORLD, &st);
      check(st, s, src);
    }
    MPI_Waitall(size, sends.data(), MPI_STATUSES_IGNORE);
    for (int src = 0; src < size; ++src) {
      if (src == rank) continue;
      const int n = length_of(s, src, rank);
      const double *b = block(recvbufs, src);
      for (int i = 0; i < max_len; ++i)
        value[i] = 0.75 * value[i] + 0.25 * b[i % n];
    }
  };

  for (std::int64_t s = example::restart_if_asked(session, o, step); s < o.steps; ++s) {
    if (s > 0) finish_step(s - 1);
    std::vector<int> order(size);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), std::mt19937_64(example::mix(s, rank)));
    std::vector<MPI_Request> early_recvs;
    std::vector<int> early_src;
    for (int src = 0; src < size; ++src)
      if (src != rank && early(s, src, rank)) {
        early_recvs.emplace_back();
        early_src.push_back(src);
        MPI_Irecv(block(recvbufs, src), max_len, MPI_DOUBLE, src, static_cast<int>(s % 1000),
                  MPI_COMM_WORLD, &early_recvs.back());
      }
    for (int dst : order) {
      if (dst == rank) continue;
      double *b = block(sendbufs, dst);
      for (int i = 0; i < max_len; ++i)
        b[i] = value[i] * (1.0 + 0.01 * dst);
      std::this_thread::sleep_for(std::chrono::microseconds(example::mix(s, rank, dst) % 1500));
      MPI_Isend(b, length_of(s, rank, dst), MPI_DOUBLE, dst, static_cast<int>(s % 1000),
                MPI_COMM_WORLD, &sends[dst]);
    }
    for (std::size_t k = 0; k < early_recvs.size(); ++k) {
      int index = 0;
      MPI_Status st;
      MPI_Waitany(static_cast<int>(early_recvs.size()), early_recvs.data(), &index, &st);
      check(st, s, early_src[index]);
    }
    step = s;
    example::end_of_step(session, o, s); // the late blocks are in flight
  }
  finish_step(o.steps - 1);
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
