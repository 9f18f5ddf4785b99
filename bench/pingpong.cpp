// pingpong: point-to-point latency and streaming bandwidth between 2 ranks.
//
// A plain MPI program: bench/run_pingpong.sh runs it with and without the
// libckpt interposition layer (LD_PRELOAD=libckpt_pmpi.so), alternating, and
// prints the ratios. Each repetition measures every message size once, so
// slow drift of a shared machine spreads over all sizes; the median over the
// repetitions is reported.
//
//   latency:   rank 0 sends, rank 1 answers with the same size; one-way
//              latency = round-trip time / 2, averaged over the iterations
//              of one repetition.
//   bandwidth: rank 0 streams a window of MPI_Isend to rank 1 (distinct
//              receive buffers, MPI_Irecv), then waits for a 1-byte ack.
#include "common/bench_common.hpp"

#include <boost/program_options.hpp>
#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <dlfcn.h>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace bench = ckpt::bench;

namespace {

struct Options {
  std::vector<std::uint64_t> latency_sizes;
  std::vector<std::uint64_t> bandwidth_sizes;
  // Many short repetitions: on a loaded 2-core machine a repetition that a
  // context switch hit is an outlier the median discards.
  int reps = 31;
  int iterations = 500; ///< round trips per repetition for messages up to 1 KiB
  int window = 8;
  std::uint64_t bandwidth_bytes = 32ULL << 20; ///< bytes streamed per repetition and size
  bool json = false;
  std::string json_file;
  bool ckpt_sites = false;
};

/// libckpt's checkpoint sites, found in the process (the preloaded layer
/// brings libckpt) so that this benchmark needs no link to libckpt. With
/// --ckpt-sites every round trip and every window ends with a site, as a
/// time-stepping application's loop would (protocol = nonblocking: a local
/// flag test and a clock read).
struct CkptSites {
  using InitFn = int (*)(MPI_Comm, const char *);
  using SiteFn = int (*)(std::int64_t, int *);
  using FinalizeFn = int (*)();
  SiteFn site = nullptr;
  FinalizeFn finalize = nullptr;

  void start() {
    auto init = reinterpret_cast<InitFn>(dlsym(RTLD_DEFAULT, "ckpt_init"));
    site = reinterpret_cast<SiteFn>(dlsym(RTLD_DEFAULT, "ckpt_site"));
    finalize = reinterpret_cast<FinalizeFn>(dlsym(RTLD_DEFAULT, "ckpt_finalize"));
    if (!init || !site || !finalize)
      throw std::runtime_error("--ckpt-sites: libckpt is not loaded (LD_PRELOAD=libckpt_pmpi.so)");
    if (init(MPI_COMM_WORLD, nullptr) != 0) throw std::runtime_error("ckpt_init failed");
  }
  void at_site(std::int64_t step) const {
    if (site && site(step, nullptr) != 0) throw std::runtime_error("ckpt_site failed");
  }
  void stop() {
    if (finalize) finalize();
    site = nullptr;
  }
};
CkptSites g_sites;

/// Round trips for a message of `bytes`: --iters up to 1 KiB, fewer for
/// larger messages (--iters * 1 KiB / bytes, at least 10).
int latency_iterations(const Options &opts, std::uint64_t bytes) {
  const auto most = static_cast<std::uint64_t>(opts.iterations);
  if (bytes <= 1024) return opts.iterations;
  const std::uint64_t scaled = std::max<std::uint64_t>(most * 1024 / bytes, 10);
  return static_cast<int>(std::min(scaled, most));
}

int bandwidth_windows(const Options &opts, std::uint64_t bytes) {
  const std::uint64_t per_window = bytes * static_cast<std::uint64_t>(opts.window);
  return static_cast<int>(std::max<std::uint64_t>(opts.bandwidth_bytes / per_window, 1));
}

/// Fills the message with a pattern that depends on the iteration, checked
/// by the receiver at the last iteration (a cheap guard against a layer that
/// corrupts payloads).
void stamp(std::vector<unsigned char> &buffer, std::uint64_t bytes, int iteration) {
  if (bytes > 0) buffer[0] = static_cast<unsigned char>(iteration);
  if (bytes > 1) buffer[bytes - 1] = static_cast<unsigned char>(~iteration);
}

void check_stamp(const std::vector<unsigned char> &buffer, std::uint64_t bytes, int iteration) {
  const bool ok = (bytes == 0 || buffer[0] == static_cast<unsigned char>(iteration)) &&
                  (bytes <= 1 || buffer[bytes - 1] == static_cast<unsigned char>(~iteration));
  if (!ok)
    throw std::runtime_error("payload of a " + std::to_string(bytes) +
                             "-byte message arrived damaged");
}

/// One repetition of the ping-pong; returns the one-way latency in seconds
/// (the same value on both ranks).
double measure_latency(int rank, std::uint64_t bytes, int iterations,
                       std::vector<unsigned char> &buffer) {
  const int count = static_cast<int>(bytes);
  const int peer = 1 - rank;
  bench::check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
  const double start = MPI_Wtime();
  for (int i = 0; i < iterations; ++i) {
    if (rank == 0) {
      stamp(buffer, bytes, i);
      bench::check_mpi(MPI_Send(buffer.data(), count, MPI_BYTE, peer, 1, MPI_COMM_WORLD),
                       "MPI_Send");
      bench::check_mpi(
          MPI_Recv(buffer.data(), count, MPI_BYTE, peer, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
          "MPI_Recv");
    } else {
      bench::check_mpi(
          MPI_Recv(buffer.data(), count, MPI_BYTE, peer, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
          "MPI_Recv");
      bench::check_mpi(MPI_Send(buffer.data(), count, MPI_BYTE, peer, 1, MPI_COMM_WORLD),
                       "MPI_Send");
    }
    g_sites.at_site(i);
  }
  double elapsed = MPI_Wtime() - start;
  check_stamp(buffer, bytes, iterations - 1);
  bench::check_mpi(MPI_Bcast(&elapsed, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD), "MPI_Bcast");
  return elapsed / (2.0 * iterations);
}

/// One repetition of streaming; returns bytes per second.
double measure_bandwidth(int rank, std::uint64_t bytes, int window, int windows,
                         std::vector<unsigned char> &send,
                         std::vector<std::vector<unsigned char>> &receive) {
  const int count = static_cast<int>(bytes);
  const int peer = 1 - rank;
  std::vector<MPI_Request> requests(static_cast<std::size_t>(window), MPI_REQUEST_NULL);
  unsigned char ack = 0;
  bench::check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
  const double start = MPI_Wtime();
  for (int w = 0; w < windows; ++w) {
    if (rank == 0) {
      stamp(send, bytes, w);
      for (int k = 0; k < window; ++k)
        bench::check_mpi(MPI_Isend(send.data(), count, MPI_BYTE, peer, 2, MPI_COMM_WORLD,
                                   &requests[static_cast<std::size_t>(k)]),
                         "MPI_Isend");
      bench::check_mpi(MPI_Waitall(window, requests.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
      bench::check_mpi(MPI_Recv(&ack, 1, MPI_BYTE, peer, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
                       "MPI_Recv");
    } else {
      for (int k = 0; k < window; ++k)
        bench::check_mpi(MPI_Irecv(receive[static_cast<std::size_t>(k)].data(), count, MPI_BYTE,
                                   peer, 2, MPI_COMM_WORLD, &requests[static_cast<std::size_t>(k)]),
                         "MPI_Irecv");
      bench::check_mpi(MPI_Waitall(window, requests.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
      check_stamp(receive.back(), bytes, w);
      bench::check_mpi(MPI_Send(&ack, 1, MPI_BYTE, peer, 3, MPI_COMM_WORLD), "MPI_Send");
    }
    g_sites.at_site(w);
  }
  double elapsed = MPI_Wtime() - start;
  bench::check_mpi(MPI_Bcast(&elapsed, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD), "MPI_Bcast");
  return static_cast<double>(bytes) * window * windows / elapsed;
}

/// Is libckpt's interposition layer loaded into this process?
bool interposition_loaded() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line))
    if (line.find("libckpt_pmpi") != std::string::npos) return true;
  return false;
}

bool parse_options(int argc, char **argv, int rank, Options &opts) {
  namespace po = boost::program_options;
  std::string latency_sizes;
  std::string bandwidth_sizes;
  std::string bandwidth_bytes;
  po::options_description desc(
      "Usage: pingpong [options]  (run with exactly 2 ranks)\n\n"
      "Ping-pong latency and streaming bandwidth between ranks 0 and 1. Sizes accept\n"
      "B, KiB, MiB suffixes. bench/run_pingpong.sh compares runs with and without the\n"
      "libckpt interposition layer.\n\nOptions");
  // clang-format off
  desc.add_options()
    ("help,h", "print this help and exit")
    ("sizes", po::value(&latency_sizes)->default_value("0,8,1KiB,64KiB,1MiB"),
     "message sizes of the latency test")
    ("bw-sizes", po::value(&bandwidth_sizes)->default_value("64KiB,1MiB,4MiB"),
     "message sizes of the bandwidth test")
    ("reps", po::value(&opts.reps)->default_value(opts.reps),
     "repetitions (the median is reported)")
    ("iters", po::value(&opts.iterations)->default_value(opts.iterations),
     "round trips per repetition for messages up to 1 KiB (fewer for larger ones)")
    ("window", po::value(&opts.window)->default_value(opts.window),
     "messages in flight in the bandwidth test")
    ("bw-bytes", po::value(&bandwidth_bytes)->default_value("32MiB"),
     "bytes streamed per repetition and size in the bandwidth test")
    ("json", po::bool_switch(&opts.json), "print the results as JSON instead of tables")
    ("json-file", po::value(&opts.json_file),
     "also write the results as JSON to this file")
    ("ckpt-sites", po::bool_switch(&opts.ckpt_sites),
     "initialise libckpt (found in the process: preload libckpt_pmpi.so) and end every round "
     "trip and every window with a checkpoint site (ckpt_site)");
  // clang-format on
  po::variables_map vm;
  if (!bench::parse_command_line(argc, argv, desc, vm, rank)) return false;
  opts.latency_sizes = bench::parse_size_list(latency_sizes);
  opts.bandwidth_sizes = bench::parse_size_list(bandwidth_sizes);
  opts.bandwidth_bytes = bench::parse_size(bandwidth_bytes);
  if (opts.reps < 1 || opts.iterations < 1 || opts.window < 1)
    throw std::invalid_argument("--reps, --iters and --window must be at least 1");
  for (const auto s : opts.latency_sizes)
    if (s > INT32_MAX) throw std::invalid_argument("message sizes must be below 2 GiB");
  for (const auto s : opts.bandwidth_sizes)
    if (s == 0 || s > INT32_MAX)
      throw std::invalid_argument("bandwidth message sizes must be in 1 B .. 2 GiB");
  return true;
}

int run(const bench::MpiRuntime &mpi, int argc, char **argv) {
  Options opts;
  if (!parse_options(argc, argv, mpi.rank(), opts)) return 0;
  if (mpi.size() != 2) throw std::invalid_argument("pingpong needs exactly 2 ranks");
  const bool interposed = interposition_loaded();
  if (opts.ckpt_sites) g_sites.start();
  const double load_start = bench::load_average();

  const std::uint64_t largest =
      std::max(*std::max_element(opts.latency_sizes.begin(), opts.latency_sizes.end()),
               *std::max_element(opts.bandwidth_sizes.begin(), opts.bandwidth_sizes.end()));
  std::vector<unsigned char> buffer(std::max<std::uint64_t>(largest, 1), 0x5a);
  std::vector<std::vector<unsigned char>> receive(
      static_cast<std::size_t>(opts.window),
      std::vector<unsigned char>(mpi.rank() == 1 ? std::max<std::uint64_t>(largest, 1) : 1));

  std::vector<std::vector<double>> latency(opts.latency_sizes.size());
  std::vector<std::vector<double>> bandwidth(opts.bandwidth_sizes.size());
  // Repetition 0 warms up connections and buffers and is not reported.
  for (int rep = 0; rep <= opts.reps; ++rep) {
    for (std::size_t i = 0; i < opts.latency_sizes.size(); ++i) {
      const auto bytes = opts.latency_sizes[i];
      const double t = measure_latency(mpi.rank(), bytes, latency_iterations(opts, bytes), buffer);
      if (rep > 0) latency[i].push_back(t);
    }
    for (std::size_t i = 0; i < opts.bandwidth_sizes.size(); ++i) {
      const auto bytes = opts.bandwidth_sizes[i];
      const double bw = measure_bandwidth(mpi.rank(), bytes, opts.window,
                                          bandwidth_windows(opts, bytes), buffer, receive);
      if (rep > 0) bandwidth[i].push_back(bw);
    }
  }
  g_sites.stop();
  if (mpi.rank() != 0) return 0;

  const double load_end = bench::load_average();
  auto results = bench::Json::object();
  results.set("benchmark", "pingpong")
      .set("ranks", mpi.size())
      .set("host", bench::host_name())
      .set("cores", bench::machine_cores())
      .set("load_average_start", load_start)
      .set("load_average_end", load_end)
      .set("libckpt_pmpi_loaded", interposed)
      .set("ckpt_sites", opts.ckpt_sites)
      .set("reps", opts.reps)
      .set("window", opts.window);
  auto lat_json = bench::Json::array();
  bench::Table lat_table({"message", "round trips", "latency median (us)", "min (us)", "max (us)"});
  for (std::size_t i = 0; i < opts.latency_sizes.size(); ++i) {
    const auto s = bench::summarize(latency[i]);
    const auto bytes = opts.latency_sizes[i];
    lat_json.push(bench::Json::object()
                      .set("bytes", bytes)
                      .set("round_trips", latency_iterations(opts, bytes))
                      .set("latency_us",
                           bench::to_json({s.median * 1e6, s.min * 1e6, s.max * 1e6, s.count})));
    lat_table.add_row({bench::format_bytes(bytes), std::to_string(latency_iterations(opts, bytes)),
                       bench::format("%.2f", s.median * 1e6), bench::format("%.2f", s.min * 1e6),
                       bench::format("%.2f", s.max * 1e6)});
  }
  auto bw_json = bench::Json::array();
  bench::Table bw_table(
      {"message", "messages", "bandwidth median (MB/s)", "min (MB/s)", "max (MB/s)"});
  for (std::size_t i = 0; i < opts.bandwidth_sizes.size(); ++i) {
    const auto s = bench::summarize(bandwidth[i]);
    const auto bytes = opts.bandwidth_sizes[i];
    const int messages = opts.window * bandwidth_windows(opts, bytes);
    bw_json.push(bench::Json::object()
                     .set("bytes", bytes)
                     .set("messages", messages)
                     .set("bandwidth_MBps",
                          bench::to_json({s.median / 1e6, s.min / 1e6, s.max / 1e6, s.count})));
    bw_table.add_row({bench::format_bytes(bytes), std::to_string(messages),
                      bench::format("%.0f", s.median / 1e6), bench::format("%.0f", s.min / 1e6),
                      bench::format("%.0f", s.max / 1e6)});
  }
  results.set("latency", std::move(lat_json)).set("bandwidth", std::move(bw_json));

  if (!bench::emit_json(results, opts.json, opts.json_file)) {
    std::printf("pingpong: 2 ranks on %s (%d cores), %d repetitions (median reported), "
                "libckpt_pmpi %s, load average %.2f -> %.2f\n\n",
                bench::host_name().c_str(), bench::machine_cores(), opts.reps,
                interposed ? "loaded" : "not loaded", load_start, load_end);
    std::printf("Latency (one way)\n");
    lat_table.print(std::cout);
    std::printf("\nStreaming bandwidth (window of %d messages, 1 MB = 10^6 B)\n", opts.window);
    bw_table.print(std::cout);
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) { return bench::run_main(argc, argv, "pingpong", run); }
