// drain: what a checkpoint costs with messages in flight (the PMPI layer's
// drain and capture, docs/PROTOCOL.md), against the number of messages.
//
// For each count N of --messages, every rank posts N small MPI_Isends to its
// right neighbour (tags cycling over 16 values, communicators over 4
// duplicates of MPI_COMM_WORLD: Open MPI 4.1 reorders messages beyond 65,535
// outstanding on one communicator and peer, with or without the layer) and
// no receive, then checkpoints: the layer drains the N messages into the
// checkpoint and completes the sends. The time of that checkpoint minus the
// time of an empty one measured in the same run is the drain and capture.
// The baseline of the same run is the time the application itself takes to
// receive the same N messages in flight (no checkpoint): moving them costs
// MPI that much in any case (Open MPI's ob1 walks its list of sends waiting
// for resources on every progress call, so with more than a few hundred
// sends outstanding that time grows faster than N, with or without the
// layer). Then the messages are received from the layer's store and
// checked: the first third with MPI_ANY_TAG (they must come in send order),
// the rest tag by tag (in send order within a tag). --big-mib adds one
// message of that size in flight per rank, compared with a memcpy of the
// same size, and counts the fresh buffers of its size the checkpoint fills
// (page faults; 0 for the same bytes as a protected region).
//
// --phase checkpoint / --phase restart split the last count across a
// restart: the first run stops after its checkpoint, the second restarts
// from it, receives every message and checks it (tests/bench, tests/pmpi).
//
// Link the layer before MPI (or LD_PRELOAD libckpt_pmpi.so).
#include <ckpt/ckpt.hpp>

#include <mpi.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

constexpr int tags = 16;
constexpr int comms = 4; // divides `tags`: the tag of a message gives its communicator

struct Options {
  std::vector<std::int64_t> messages{1000, 10000, 100000};
  int bytes = 8;
  int big_mib = 16;
  std::string dir = "drain.bench";
  std::string phase = "all"; // all | checkpoint | restart
};

[[noreturn]] void usage(const char *self) {
  std::fprintf(stderr,
               "usage: %s [--messages N,N,...] [--bytes B] [--big-mib M (0: none)] [--dir D] "
               "[--phase all|checkpoint|restart]\n",
               self);
  std::exit(2);
}

Options parse(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) usage(argv[0]);
    const std::string v = argv[++i];
    if (a == "--messages") {
      o.messages.clear();
      for (std::size_t p = 0; p <= v.size();) {
        const std::size_t q = std::min(v.find(',', p), v.size());
        o.messages.push_back(std::stoll(v.substr(p, q - p)));
        p = q + 1;
      }
    } else if (a == "--bytes")
      o.bytes = std::max(8, std::stoi(v));
    else if (a == "--big-mib")
      o.big_mib = std::stoi(v);
    else if (a == "--dir")
      o.dir = v;
    else if (a == "--phase")
      o.phase = v;
    else
      usage(argv[0]);
  }
  if (o.phase != "all" && o.phase != "checkpoint" && o.phase != "restart") usage(argv[0]);
  return o;
}

/// Minor page faults of this process so far: fresh memory touched.
long page_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/// Byte j of message i from rank `from`; the first 8 bytes hold i.
void fill(std::vector<unsigned char> &b, int from, std::int64_t i) {
  for (std::size_t j = 0; j < b.size(); ++j)
    b[j] = static_cast<unsigned char>(from * 131 + i * 7 + static_cast<std::int64_t>(j));
  std::memcpy(b.data(), &i, sizeof i);
}

/// The state a checkpoint protects: the send requests, and their buffers.
struct InFlight {
  std::int64_t count = 0;
  std::vector<MPI_Request> requests;
  std::vector<unsigned char> buffers; // count * bytes
};

class Bench {
public:
  Bench(const Options &o, ckpt::Session &s) : m_o(o), m_session(s) {
    MPI_Comm_rank(MPI_COMM_WORLD, &m_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &m_size);
    m_left = (m_rank + m_size - 1) % m_size;
    m_right = (m_rank + 1) % m_size;
    m_comms.resize(comms);
    for (MPI_Comm &c : m_comms)
      MPI_Comm_dup(MPI_COMM_WORLD, &c);
  }
  ~Bench() {
    for (MPI_Comm &c : m_comms)
      MPI_Comm_free(&c);
  }
  Bench(const Bench &) = delete;
  Bench &operator=(const Bench &) = delete;

  void post(InFlight &f, std::int64_t n) {
    f.count = n;
    f.requests.assign(static_cast<std::size_t>(n), MPI_REQUEST_NULL);
    f.buffers.assign(static_cast<std::size_t>(n) * m_o.bytes, 0);
    std::vector<unsigned char> b(static_cast<std::size_t>(m_o.bytes));
    for (std::int64_t i = 0; i < n; ++i) {
      fill(b, m_rank, i);
      unsigned char *dst = f.buffers.data() + i * m_o.bytes;
      std::memcpy(dst, b.data(), b.size());
      MPI_Isend(dst, m_o.bytes, MPI_BYTE, m_right, static_cast<int>(i % tags), comm_of(i),
                &f.requests[static_cast<std::size_t>(i)]);
    }
  }

  /// Baseline: the application receives the n messages in flight itself.
  double receive_directly(std::int64_t n) {
    InFlight f;
    post(f, n);
    MPI_Barrier(MPI_COMM_WORLD);
    return deliver(f);
  }

  double checkpoint() {
    MPI_Barrier(MPI_COMM_WORLD);
    const double t0 = now();
    m_session.checkpoint(++m_step);
    return max_over_ranks(now() - t0);
  }

  /// Receives the n messages from the left neighbour and checks them.
  /// Returns the slowest rank's time.
  double deliver(InFlight &f) {
    const std::int64_t n = f.count;
    std::vector<unsigned char> got(static_cast<std::size_t>(m_o.bytes)),
        want(static_cast<std::size_t>(m_o.bytes));
    const double t0 = now();
    const std::int64_t first = n / 3;
    for (std::int64_t i = 0; i < first; ++i) {
      MPI_Status st;
      MPI_Recv(got.data(), m_o.bytes, MPI_BYTE, m_left, MPI_ANY_TAG, comm_of(i), &st);
      expect(got, want, i, st.MPI_TAG);
    }
    for (int tag = 0; tag < tags; ++tag)
      for (std::int64_t i = first; i < n; ++i) {
        if (i % tags != tag) continue;
        MPI_Status st;
        MPI_Recv(got.data(), m_o.bytes, MPI_BYTE, m_left, tag, comm_of(i), &st);
        expect(got, want, i, st.MPI_TAG);
      }
    MPI_Waitall(static_cast<int>(f.requests.size()), f.requests.data(), MPI_STATUSES_IGNORE);
    return max_over_ranks(now() - t0);
  }

  void big(int mib, double empty) {
    const std::size_t bytes = static_cast<std::size_t>(mib) << 20;
    std::vector<unsigned char> out(bytes), in(bytes);
    for (std::size_t j = 0; j < bytes; ++j)
      out[j] = static_cast<unsigned char>(m_rank * 31 + j * 13);
    // One copy of the message, for scale.
    const double c0 = now();
    std::memcpy(in.data(), out.data(), bytes);
    const double copy = max_over_ranks(now() - c0);
    std::fill(in.begin(), in.end(), 0);
    // Baseline: the application receives such a message itself.
    MPI_Barrier(MPI_COMM_WORLD);
    const double r0 = now();
    MPI_Request sr;
    MPI_Isend(out.data(), static_cast<int>(bytes), MPI_BYTE, m_right, 1, MPI_COMM_WORLD, &sr);
    MPI_Recv(in.data(), static_cast<int>(bytes), MPI_BYTE, m_left, 1, MPI_COMM_WORLD,
             MPI_STATUS_IGNORE);
    MPI_Wait(&sr, MPI_STATUS_IGNORE);
    const double receive = max_over_ranks(now() - r0);
    std::fill(in.begin(), in.end(), 0);
    // The same bytes as a protected region (written alike, no message):
    // what the layer adds for a message is the difference.
    // Fresh memory each checkpoint touches (page faults), in units of the
    // message: how many new buffers of its size the capture fills.
    const double pages = static_cast<double>(bytes) / 4096.0;
    m_session.protect(99, "big", out);
    long f0 = page_faults();
    const double region = checkpoint();
    const double region_buffers = static_cast<double>(page_faults() - f0) / pages;
    m_session.unprotect(99);
    MPI_Request r;
    MPI_Isend(out.data(), static_cast<int>(bytes), MPI_BYTE, m_right, 1, MPI_COMM_WORLD, &r);
    f0 = page_faults();
    const double t = checkpoint();
    const double message_buffers = static_cast<double>(page_faults() - f0) / pages;
    MPI_Recv(in.data(), static_cast<int>(bytes), MPI_BYTE, m_left, 1, MPI_COMM_WORLD,
             MPI_STATUS_IGNORE);
    MPI_Wait(&r, MPI_STATUS_IGNORE);
    for (std::size_t j = 0; j < bytes; ++j)
      if (in[j] != static_cast<unsigned char>(m_left * 31 + j * 13))
        throw std::runtime_error("the big message differs at byte " + std::to_string(j));
    if (m_rank == 0)
      std::printf("%9d MiB %12.3f %12.3f %12.3f %12s   (as a protected region instead: %.3f s; "
                  "one memcpy: %.4f s; message - region - receive = %.1f memcpys; fresh "
                  "buffers of its size filled on rank 0: message %.1f, region %.1f)\n",
                  mib, receive, t, t - empty, "-", region, copy, (t - region - receive) / copy,
                  message_buffers, region_buffers);
  }

  int rank() const { return m_rank; }
  std::int64_t &step() { return m_step; }

private:
  MPI_Comm comm_of(std::int64_t i) const { return m_comms[static_cast<std::size_t>(i % comms)]; }
  void expect(std::vector<unsigned char> &got, std::vector<unsigned char> &want, std::int64_t i,
              int tag) {
    fill(want, m_left, i);
    if (got != want || tag != static_cast<int>(i % tags)) {
      std::int64_t was = 0;
      std::memcpy(&was, got.data(), sizeof was);
      throw std::runtime_error("message " + std::to_string(i) + " expected, got message " +
                               std::to_string(was) + " (tag " + std::to_string(tag) + ")");
    }
  }
  static double max_over_ranks(double t) {
    double m = 0;
    MPI_Allreduce(&t, &m, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return m;
  }

  const Options &m_o;
  ckpt::Session &m_session;
  int m_rank = 0, m_size = 1, m_left = 0, m_right = 0;
  std::int64_t m_step = 0;
  std::vector<MPI_Comm> m_comms;
};

void header(int rank) {
  if (rank == 0)
    std::printf("%13s %12s %12s %12s %12s %8s\n", "in flight", "receive s", "checkpoint s",
                "- empty s", "deliver s", "ratio");
}

void run(const Options &o) {
  ckpt::Session session(MPI_COMM_WORLD, {{"dir", o.dir}, {"log_level", "warning"}});
  Bench b(o, session);
  InFlight f;
  const std::int64_t last = o.messages.empty() ? 0 : o.messages.back();
  session.protect(2, "step", &b.step(), 1);
  if (o.phase != "all") {
    // The state a restart needs: the request handles and the buffers.
    f.requests.assign(static_cast<std::size_t>(last), MPI_REQUEST_NULL);
    f.buffers.assign(static_cast<std::size_t>(last) * o.bytes, 0);
    session.protect_bytes(0, "requests", f.requests.data(), f.requests.size(), sizeof(MPI_Request));
    session.protect(1, "buffers", f.buffers);
    f.count = last;
  }
  if (o.phase == "checkpoint") {
    b.post(f, last);
    b.checkpoint();
    if (b.rank() == 0) std::printf("checkpointed with %" PRId64 " messages in flight\n", last);
    return; // as if killed: the restart run receives them
  }
  if (o.phase == "restart") {
    session.restart();
    const double t = b.deliver(f);
    if (b.rank() == 0)
      std::printf("restarted: %" PRId64 " messages delivered in order and checked in %.3f s\n",
                  last, t);
    return;
  }
  header(b.rank());
  const double empty = b.checkpoint();
  if (b.rank() == 0) std::printf("%13d %12s %12.3f %12s %12s\n", 0, "-", empty, "-", "-");
  for (std::int64_t n : o.messages) {
    const double base = b.receive_directly(n);
    b.post(f, n);
    const double t = b.checkpoint();
    const double d = b.deliver(f);
    if (b.rank() == 0)
      std::printf("%13" PRId64 " %12.3f %12.3f %12.3f %12.3f %8.2f\n", n, base, t, t - empty, d,
                  (t - empty) / base);
  }
  if (o.big_mib > 0) b.big(o.big_mib, empty);
}

} // namespace

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  const Options o = parse(argc, argv);
  int rc = 0;
  try {
    run(o);
  } catch (const std::exception &e) {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    std::fprintf(stderr, "[rank %d] drain: %s\n", rank, e.what());
    MPI_Abort(MPI_COMM_WORLD, 1);
    rc = 1;
  }
  MPI_Finalize();
  return rc;
}
