// Shared pieces of the libckpt benchmarks: MPI setup, sizes, repeated
// measurements and their medians, result tables and JSON output.
//
// Every benchmark measures the thing compared and its baseline in the same
// run, interleaved repetition by repetition, and reports medians, so that the
// ratios hold on a small, shared and noisy machine.
#ifndef CKPT_BENCH_COMMON_HPP
#define CKPT_BENCH_COMMON_HPP

#include <boost/program_options.hpp>
#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace ckpt::bench {

/// Throws std::runtime_error naming `call` unless rc is MPI_SUCCESS.
void check_mpi(int rc, const char *call);

/// MPI_Init / MPI_Finalize around main(). Errors are returned, not fatal, so
/// that main() can report them and MPI_Abort.
class MpiRuntime {
public:
  MpiRuntime(int &argc, char **&argv);
  ~MpiRuntime();
  MpiRuntime(const MpiRuntime &) = delete;
  MpiRuntime &operator=(const MpiRuntime &) = delete;

  [[nodiscard]] int rank() const noexcept { return m_rank; }
  [[nodiscard]] int size() const noexcept { return m_size; }

private:
  int m_rank = 0;
  int m_size = 1;
};

/// Runs `body` between MPI_Init and MPI_Finalize. An exception on any rank is
/// printed with the program name and aborts the job (MPI_Abort), so that no
/// rank waits forever in a collective. Returns body's exit code.
int run_main(int argc, char **argv, const char *program,
             int (*body)(const MpiRuntime &mpi, int argc, char **argv));

/// Parses the command line into `vm`. For --help, rank 0 prints `desc` and
/// the function returns false (the program then exits 0).
bool parse_command_line(int argc, char **argv,
                        const boost::program_options::options_description &desc,
                        boost::program_options::variables_map &vm, int rank);

/// Parses libckpt configuration given as "key=value" items (--set). The keys
/// in `reserved` are set by the benchmark itself and are refused.
std::map<std::string, std::string> parse_settings(const std::vector<std::string> &items,
                                                  const std::vector<std::string> &reserved);
/// "key=value, key=value" for printing ("-" when empty).
std::string describe_settings(const std::map<std::string, std::string> &settings);

/// "4096", "64K", "64KiB", "1MiB", "1M", "4GiB" (binary units) -> bytes.
/// Throws std::invalid_argument.
std::uint64_t parse_size(const std::string &text);
/// Comma-separated sizes, e.g. "64MiB,256MiB,1GiB".
std::vector<std::uint64_t> parse_size_list(const std::string &text);
/// Comma-separated non-negative numbers, e.g. "0,1,10,50,100".
std::vector<double> parse_number_list(const std::string &text);
/// 0 -> "0 B", 1024 -> "1 KiB", 1536 -> "1.5 KiB", 67108864 -> "64 MiB".
std::string format_bytes(std::uint64_t bytes);
/// printf-style formatting into a std::string.
std::string format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/// Median and spread of repeated measurements.
struct Summary {
  double median = 0.0;
  double min = 0.0;
  double max = 0.0;
  std::size_t count = 0;
};
Summary summarize(std::vector<double> samples);

/// Order in which `count` interleaved variants run in repetition `rep`: the
/// starting variant rotates, so slow drift of the machine is shared out.
std::vector<int> rotated_order(int count, int rep);

/// Runs fn on every rank of comm after a barrier; returns the wall time of
/// the slowest rank (seconds).
template <class F> double time_collective(MPI_Comm comm, F &&fn) {
  check_mpi(MPI_Barrier(comm), "MPI_Barrier");
  const double start = MPI_Wtime();
  fn();
  const double local = MPI_Wtime() - start;
  double slowest = 0.0;
  check_mpi(MPI_Allreduce(&local, &slowest, 1, MPI_DOUBLE, MPI_MAX, comm), "MPI_Allreduce");
  return slowest;
}

/// 1-minute load average of the machine (-1 when unknown).
double load_average();
/// Host name of this process.
std::string host_name();
/// Online cores of the machine (not the binding of this process).
int machine_cores();

/// Deterministic pseudo-random 64-bit words (splitmix64), for filling state
/// that neither compresses nor repeats.
class Splitmix64 {
public:
  explicit Splitmix64(std::uint64_t seed) noexcept : m_state(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (m_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

private:
  std::uint64_t m_state;
};

/// Fills `bytes` bytes (a multiple of 8 is fastest) with pseudo-random data.
void fill_random(void *data, std::size_t bytes, std::uint64_t seed);

/// A JSON value, built by the benchmarks and written to stdout with --json.
class Json {
public:
  using Array = std::vector<Json>;
  using Object = std::vector<std::pair<std::string, Json>>;

  Json() = default;
  Json(std::nullptr_t) {}
  Json(const char *text) : m_value(std::string(text)) {}
  Json(std::string text) : m_value(std::move(text)) {}
  template <class T, class = std::enable_if_t<std::is_arithmetic_v<T>>> Json(T number) {
    if constexpr (std::is_same_v<T, bool>)
      m_value = number;
    else if constexpr (std::is_integral_v<T>)
      m_value = static_cast<std::int64_t>(number);
    else
      m_value = static_cast<double>(number);
  }

  static Json object() { return Json(Object{}); }
  static Json array() { return Json(Array{}); }

  /// Adds a member to an object (in insertion order); returns *this.
  Json &set(const std::string &key, Json value);
  /// Appends to an array; returns *this.
  Json &push(Json value);

  void write(std::ostream &out, int indent = 0) const;

private:
  explicit Json(Object members) : m_value(std::move(members)) {}
  explicit Json(Array items) : m_value(std::move(items)) {}

  std::variant<std::nullptr_t, bool, std::int64_t, double, std::string, Array, Object> m_value;
};

/// Writes `results` as JSON to `path` when it is not empty (--json-file), and
/// to stdout when `to_stdout` (--json). Returns to_stdout: the caller prints
/// its tables only when stdout did not get JSON.
bool emit_json(const Json &results, bool to_stdout, const std::string &path);

/// A JSON summary of repeated measurements: {"median":..,"min":..,"max":..,"n":..}.
Json to_json(const Summary &summary);

/// A text table with aligned columns, printed by rank 0.
class Table {
public:
  /// The first `left_columns` columns (labels) are left-aligned, the others
  /// (numbers) right-aligned.
  explicit Table(std::vector<std::string> headers, std::size_t left_columns = 1);
  void add_row(std::vector<std::string> cells);
  void print(std::ostream &out) const;

private:
  std::vector<std::string> m_headers;
  std::size_t m_left_columns;
  std::vector<std::vector<std::string>> m_rows;
};

/// "PASS" when the measured ratio meets the target, "SHORT" otherwise.
inline const char *verdict(bool pass) noexcept { return pass ? "PASS" : "SHORT"; }

} // namespace ckpt::bench

#endif
