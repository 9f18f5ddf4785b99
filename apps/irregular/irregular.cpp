// irregular: random traffic whose result does not depend on message order,
// for the randomized kill tests of protocol = nonblocking. Each step every
// rank sends a random number of messages (random peers, sizes and tags, on
// MPI_COMM_WORLD, a duplicate and a split of it) with MPI_Isend; an
// MPI_Alltoall per communicator tells each rank how many
// to expect; they are received in the *next* step, after the checkpoint site,
// half by an MPI_Iprobe(ANY_SOURCE, ANY_TAG) polling loop and half by
// MPI_Irecv(ANY_SOURCE) + MPI_Testany polling. Every message carries its
// sender's step and a hash of its contents, checked at the receiver; the
// state accumulates a commutative sum of the message hashes, so the checksum
// is bit-identical whatever the matching order was. A token also goes around
// the ring of MPI_COMM_WORLD: each rank pre-posts its receive (MPI_Irecv into
// protected memory, the handle protected too) before its checkpoint site, and
// its left neighbour sends it after its own: a receive pending at every site.
#include "../ring/example_app.hpp"

#include <cstring>
#include <random>

namespace {

constexpr int ncomms = 3;
constexpr int max_len = 2048; // doubles

struct Outgoing {
  std::vector<std::vector<double>> buffers;
  std::vector<MPI_Request> requests;
};

std::uint64_t message_hash(const double *data, int n) {
  return example::hash_bytes(data, static_cast<std::size_t>(n) * sizeof(double));
}

void run(const example::Options &o) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm comms[ncomms];
  comms[0] = MPI_COMM_WORLD;
  MPI_Comm_dup(MPI_COMM_WORLD, &comms[1]);
  MPI_Comm_split(MPI_COMM_WORLD, rank % 2, rank, &comms[2]);

  // The state: a commutative sum of received message hashes per
  // communicator, the counts expected in the next step, the last step done.
  std::vector<std::uint64_t> sums(ncomms, 0);
  std::vector<int> expected(ncomms, 0);
  std::int64_t step = -1;
  std::uint64_t violations = 0;

  ckpt::Session session(MPI_COMM_WORLD, {{"dir", o.dir}, {"log_level", "warning"}});
  session.protect(0, "sums", sums);
  session.protect(1, "expected", expected);
  session.protect(2, "step", &step, 1);
  session.protect(3, "violations", &violations, 1);
  double token = 0;
  MPI_Request token_request = MPI_REQUEST_NULL;
  session.protect(4, "token", &token, 1);
  session.protect_bytes(5, "token_request", &token_request, 1, sizeof(MPI_Request));
  const int right = (rank + 1) % size, left_rank = (rank + size - 1) % size;
  MPI_Request token_send = MPI_REQUEST_NULL;
  double token_out = 0;
  // The token of step s: received in step s+1 (posted before the site of s).
  auto token_round = [&](std::int64_t s) {
    if (s > 0) {
      token_out = static_cast<double>(s * 1000 + rank);
      MPI_Isend(&token_out, 1, MPI_DOUBLE, right, 9, MPI_COMM_WORLD, &token_send);
      MPI_Wait(&token_request, MPI_STATUS_IGNORE);
      if (token != static_cast<double>(s * 1000 + left_rank)) ++violations;
      sums[0] += static_cast<std::uint64_t>(token);
      MPI_Wait(&token_send, MPI_STATUS_IGNORE);
    }
    MPI_Irecv(&token, 1, MPI_DOUBLE, left_rank, 9, MPI_COMM_WORLD, &token_request);
  };

  Outgoing out; // the sends of the previous step, completed in this one

  auto check = [&](const std::vector<double> &m, int n, std::int64_t s) {
    // [0] = sender's step, [1..n-2] = payload, [n-1] = hash of [0..n-2]
    const std::uint64_t h = message_hash(m.data(), n - 1);
    std::uint64_t carried = 0;
    std::memcpy(&carried, &m[static_cast<std::size_t>(n - 1)], sizeof carried);
    if (static_cast<std::int64_t>(m[0]) != s || carried != h) ++violations;
    return h;
  };

  auto receive = [&](std::int64_t s) {
    std::vector<double> m(max_len);
    for (int c = 0; c < ncomms; ++c) {
      int left = expected[static_cast<std::size_t>(c)];
      // Half by an Iprobe polling loop...
      for (int k = 0; k < (left + 1) / 2; ++k) {
        int flag = 0;
        MPI_Status st;
        while (!flag)
          MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, comms[c], &flag, &st);
        int n = 0;
        MPI_Get_count(&st, MPI_DOUBLE, &n);
        MPI_Recv(m.data(), n, MPI_DOUBLE, st.MPI_SOURCE, st.MPI_TAG, comms[c], MPI_STATUS_IGNORE);
        sums[static_cast<std::size_t>(c)] += check(m, n, s);
      }
      left -= (left + 1) / 2;
      // ...the rest by pre-posted wildcard receives completed with Testany.
      std::vector<std::vector<double>> bufs(static_cast<std::size_t>(left),
                                            std::vector<double>(max_len));
      std::vector<MPI_Request> reqs(static_cast<std::size_t>(left));
      for (int k = 0; k < left; ++k)
        MPI_Irecv(bufs[static_cast<std::size_t>(k)].data(), max_len, MPI_DOUBLE, MPI_ANY_SOURCE,
                  MPI_ANY_TAG, comms[c], &reqs[static_cast<std::size_t>(k)]);
      for (int done = 0; done < left;) {
        int index = MPI_UNDEFINED, flag = 0;
        MPI_Status st;
        MPI_Testany(left, reqs.data(), &index, &flag, &st);
        if (!flag || index == MPI_UNDEFINED) continue;
        int n = 0;
        MPI_Get_count(&st, MPI_DOUBLE, &n);
        sums[static_cast<std::size_t>(c)] += check(bufs[static_cast<std::size_t>(index)], n, s);
        ++done;
      }
    }
    MPI_Waitall(static_cast<int>(out.requests.size()), out.requests.data(), MPI_STATUSES_IGNORE);
    out = Outgoing{};
  };

  auto send = [&](std::int64_t s) {
    std::mt19937_64 rng(static_cast<std::uint64_t>(s) * 7919 + static_cast<std::uint64_t>(rank));
    for (int c = 0; c < ncomms; ++c) {
      int csize = 1;
      MPI_Comm_size(comms[c], &csize);
      std::vector<int> counts(static_cast<std::size_t>(csize), 0), incoming(counts.size());
      const int nmsg = static_cast<int>(rng() % 5);
      std::vector<int> dests;
      for (int k = 0; k < nmsg; ++k) {
        const int d = static_cast<int>(rng() % static_cast<std::uint64_t>(csize));
        ++counts[static_cast<std::size_t>(d)];
        dests.push_back(d);
      }
      MPI_Alltoall(counts.data(), 1, MPI_INT, incoming.data(), 1, MPI_INT, comms[c]);
      int total = 0;
      for (int v : incoming)
        total += v;
      expected[static_cast<std::size_t>(c)] = total;
      for (int d : dests) {
        const int n = 3 + static_cast<int>(rng() % (max_len - 3));
        std::vector<double> m(static_cast<std::size_t>(n));
        m[0] = static_cast<double>(s);
        for (int i = 1; i < n - 1; ++i)
          m[static_cast<std::size_t>(i)] = static_cast<double>(rng() % 1000000) * 1e-3;
        const std::uint64_t h = message_hash(m.data(), n - 1);
        std::memcpy(&m[static_cast<std::size_t>(n - 1)], &h, sizeof h);
        out.buffers.push_back(std::move(m));
        out.requests.push_back(MPI_REQUEST_NULL);
        MPI_Isend(out.buffers.back().data(), n, MPI_DOUBLE, d, static_cast<int>(rng() % 4),
                  comms[c], &out.requests.back());
      }
    }
  };

  const std::int64_t first = example::restart_if_asked(session, o, step);
  for (std::int64_t s = first; s < o.steps; ++s) {
    if (s > 0) receive(s - 1);
    token_round(s);
    send(s);
    step = s;
    example::end_of_step(session, o, s); // the new messages are in flight
  }
  receive(o.steps - 1);
  MPI_Cancel(&token_request);
  MPI_Wait(&token_request, MPI_STATUS_IGNORE);
  std::uint64_t total_violations = 0;
  MPI_Reduce(&violations, &total_violations, 1, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
  // Violations count in the checksum too: any makes it differ from a clean run's.
  std::vector<std::uint64_t> words(sums);
  words.push_back(violations);
  std::vector<double> digest(words.size());
  std::memcpy(digest.data(), words.data(), words.size() * sizeof(std::uint64_t));
  if (rank == 0 && total_violations) std::printf("violations %" PRIu64 "\n", total_violations);
  example::print_checksum(digest);
  session.finalize();
  MPI_Comm_free(&comms[2]);
  MPI_Comm_free(&comms[1]);
}

} // namespace

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  const example::Options o = example::parse(argc, argv);
  const int rc = example::guarded([&] { run(o); });
  MPI_Finalize();
  return rc;
}
