// heat: the 2-D heat equation on a global NX x NY grid, explicit Jacobi
// iteration with the 5-point stencil, decomposed in 2-D over the MPI ranks and
// made restartable with libckpt.
//
// The update of every point is the same expression evaluated in the same
// order whatever the decomposition, so the final field is bit-for-bit the same
// for any number of ranks and across checkpoint/restart. At the end rank 0
// prints `checksum <16 hex digits>`: XXH3-64 of the global field (doubles,
// global row-major order). Exit codes: 0 done, 85 (CKPT_EXIT_REQUEUE)
// checkpointed on a signal and should be requeued, 1 runtime error, 2 usage
// error.
#include "example_run.hpp"

#include <ckpt/ckpt.hpp>

#include <boost/program_options.hpp>
#include <mpi.h>
#include <xxhash.h>

#include <algorithm>
#include <cinttypes>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace {

using namespace ckpt_example;

/// Boundary temperatures: the global grid is surrounded by a fixed ring.
constexpr double north_edge = 100.0; // the hot edge
constexpr double west_edge = 50.0;
constexpr double south_edge = 0.0;
constexpr double east_edge = 0.0;
/// Diffusion number of the explicit scheme (stable up to 0.25).
constexpr double alpha = 0.2;

enum class InitialField { pattern, cold };

struct Options {
  std::int64_t nx = 512;
  std::int64_t ny = 512;
  InitialField init = InitialField::pattern;
  RunOptions run;
};

/// Owns a communicator created by MPI (never WORLD or SELF).
class Communicator {
public:
  Communicator() = default;
  explicit Communicator(MPI_Comm comm) : m_comm(comm) {}
  ~Communicator() {
    if (m_comm != MPI_COMM_NULL && !mpi_finalized()) MPI_Comm_free(&m_comm);
  }
  Communicator(const Communicator &) = delete;
  Communicator &operator=(const Communicator &) = delete;
  [[nodiscard]] MPI_Comm get() const noexcept { return m_comm; }

private:
  MPI_Comm m_comm = MPI_COMM_NULL;
};

/// Owns a committed derived datatype.
class Datatype {
public:
  explicit Datatype(MPI_Datatype type) : m_type(type) {
    check_mpi(MPI_Type_commit(&m_type), "MPI_Type_commit");
  }
  ~Datatype() {
    if (m_type != MPI_DATATYPE_NULL && !mpi_finalized()) MPI_Type_free(&m_type);
  }
  Datatype(const Datatype &) = delete;
  Datatype &operator=(const Datatype &) = delete;
  [[nodiscard]] MPI_Datatype get() const noexcept { return m_type; }

private:
  MPI_Datatype m_type = MPI_DATATYPE_NULL;
};

/// Parses the command line; std::nullopt after --help (already printed).
std::optional<Options> parse_options(int argc, char **argv, bool print) {
  namespace po = boost::program_options;
  Options opts;
  po::options_description desc("Usage: heat [options]\n\n"
                               "2-D heat equation (Jacobi, 5-point stencil) checkpointed with "
                               "libckpt.\nPrints `checksum <hex>` (XXH3-64 of the final global "
                               "field) at the end.\nExit codes: 0 done, 85 checkpointed on a "
                               "signal (requeue), 1 runtime error, 2 usage error.\n\nOptions");
  // clang-format off
  desc.add_options()
    ("help,h", "print this help and exit")
    ("nx", po::value<std::int64_t>()->default_value(opts.nx), "global grid width (columns)")
    ("ny", po::value<std::int64_t>()->default_value(opts.ny), "global grid height (rows)")
    ("init", po::value<std::string>()->default_value("pattern"),
     "initial interior field: pattern (every point differs from its neighbours) or cold "
     "(all zero: heat spreads in from the edges)");
  // clang-format on
  opts.run.add_to(desc);

  po::variables_map vm;
  if (!parse_command_line(argc, argv, desc, print, vm)) return std::nullopt;
  opts.nx = parse_count(vm, "nx", 1);
  opts.ny = parse_count(vm, "ny", 1);
  opts.run.read(vm);
  if (opts.nx > INT_MAX / opts.ny)
    throw UsageError("the grid " + std::to_string(opts.nx) + "x" + std::to_string(opts.ny) +
                     " is too large: at most " + std::to_string(INT_MAX) + " points");

  const auto init = vm["init"].as<std::string>();
  if (init == "pattern")
    opts.init = InitialField::pattern;
  else if (init == "cold")
    opts.init = InitialField::cold;
  else
    throw UsageError("--init must be pattern or cold, got '" + init + "'");
  return opts;
}

/// The part [start, start + count) of n items that part `index` of `parts` owns;
/// the first n % parts parts get one item more.
std::pair<int, int> split(int n, int parts, int index) {
  const int base = n / parts;
  const int extra = n % parts;
  return {index * base + std::min(index, extra), base + (index < extra ? 1 : 0)};
}

/// One rank's block of the global grid on a 2-D Cartesian communicator.
/// Dimension 0 splits the rows (y), dimension 1 the columns (x).
struct Block {
  int row0 = 0, rows = 0; // global first row, number of rows
  int col0 = 0, cols = 0; // global first column, number of columns
};

class Decomposition {
public:
  Decomposition(MPI_Comm world, int nx, int ny) {
    int size = 0;
    check_mpi(MPI_Comm_size(world, &size), "MPI_Comm_size");
    check_mpi(MPI_Dims_create(size, 2, m_dims), "MPI_Dims_create");
    if (ny < m_dims[0] || nx < m_dims[1])
      throw UsageError("the grid " + std::to_string(nx) + "x" + std::to_string(ny) +
                       " is too small for " + std::to_string(m_dims[0]) + "x" +
                       std::to_string(m_dims[1]) + " ranks (at least one point per rank)");
    m_nx = nx;
    m_ny = ny;
    const int periods[2] = {0, 0};
    MPI_Comm cart = MPI_COMM_NULL;
    // No reordering: the Cartesian rank equals the rank in `world`, which is
    // the rank libckpt stores this block under.
    check_mpi(MPI_Cart_create(world, 2, m_dims, periods, 0, &cart), "MPI_Cart_create");
    m_comm = std::make_unique<Communicator>(cart);
    check_mpi(MPI_Comm_set_errhandler(cart, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    check_mpi(MPI_Comm_rank(cart, &m_rank), "MPI_Comm_rank");
    check_mpi(MPI_Cart_shift(cart, 0, 1, &m_north, &m_south), "MPI_Cart_shift");
    check_mpi(MPI_Cart_shift(cart, 1, 1, &m_west, &m_east), "MPI_Cart_shift");
    m_block = block_of(m_rank);
  }

  [[nodiscard]] Block block_of(int rank) const {
    int coords[2] = {0, 0};
    check_mpi(MPI_Cart_coords(comm(), rank, 2, coords), "MPI_Cart_coords");
    Block b;
    std::tie(b.row0, b.rows) = split(m_ny, m_dims[0], coords[0]);
    std::tie(b.col0, b.cols) = split(m_nx, m_dims[1], coords[1]);
    return b;
  }

  [[nodiscard]] MPI_Comm comm() const noexcept { return m_comm->get(); }
  [[nodiscard]] int rank() const noexcept { return m_rank; }
  [[nodiscard]] const Block &block() const noexcept { return m_block; }
  [[nodiscard]] int nx() const noexcept { return m_nx; }
  [[nodiscard]] int ny() const noexcept { return m_ny; }
  [[nodiscard]] int dim(int d) const noexcept { return m_dims[d]; }
  [[nodiscard]] int north() const noexcept { return m_north; }
  [[nodiscard]] int south() const noexcept { return m_south; }
  [[nodiscard]] int west() const noexcept { return m_west; }
  [[nodiscard]] int east() const noexcept { return m_east; }

private:
  int m_dims[2] = {0, 0};
  int m_nx = 0;
  int m_ny = 0;
  std::unique_ptr<Communicator> m_comm;
  int m_rank = 0;
  int m_north = MPI_PROC_NULL, m_south = MPI_PROC_NULL;
  int m_west = MPI_PROC_NULL, m_east = MPI_PROC_NULL;
  Block m_block;
};

/// A rank's block with one ghost layer around it: (rows + 2) x (cols + 2)
/// doubles, row-major. Local interior indices run over [0, rows) x [0, cols);
/// -1 and rows/cols address the ghosts.
class Field {
public:
  explicit Field(const Block &block)
      : m_rows(block.rows), m_cols(block.cols),
        m_data(static_cast<std::size_t>(block.rows + 2) * static_cast<std::size_t>(block.cols + 2),
               0.0) {}

  [[nodiscard]] std::size_t index(int row, int col) const noexcept {
    return static_cast<std::size_t>(row + 1) * static_cast<std::size_t>(m_cols + 2) +
           static_cast<std::size_t>(col + 1);
  }
  double &at(int row, int col) noexcept { return m_data[index(row, col)]; }
  [[nodiscard]] const double &at(int row, int col) const noexcept {
    return m_data[index(row, col)];
  }
  [[nodiscard]] int rows() const noexcept { return m_rows; }
  [[nodiscard]] int cols() const noexcept { return m_cols; }
  std::vector<double> &storage() noexcept { return m_data; }

private:
  int m_rows;
  int m_cols;
  std::vector<double> m_data;
};

/// Initial value of interior point (row, col) of the global grid.
double initial_value(InitialField init, int row, int col) {
  if (init == InitialField::cold) return 0.0;
  // Exact in binary, and different from each neighbour, so every point
  // changes in every step.
  return static_cast<double>((row * 7 + col * 13) % 64) * 0.25;
}

/// Sets the interior from the initial condition and the ghosts that lie on
/// the global boundary to the fixed edge temperatures. Ghosts facing another
/// rank are filled by the halo exchange.
void initialize(Field &field, const Decomposition &dec, InitialField init) {
  const Block &b = dec.block();
  for (int r = 0; r < b.rows; ++r)
    for (int c = 0; c < b.cols; ++c)
      field.at(r, c) = initial_value(init, b.row0 + r, b.col0 + c);
  for (int c = -1; c <= b.cols; ++c) {
    if (b.row0 == 0) field.at(-1, c) = north_edge;
    if (b.row0 + b.rows == dec.ny()) field.at(b.rows, c) = south_edge;
  }
  for (int r = 0; r < b.rows; ++r) {
    if (b.col0 == 0) field.at(r, -1) = west_edge;
    if (b.col0 + b.cols == dec.nx()) field.at(r, b.cols) = east_edge;
  }
}

/// Exchanges the edge rows and columns with the four neighbours.
class HaloExchange {
public:
  explicit HaloExchange(const Decomposition &dec) : m_dec(dec), m_column(make_column(dec)) {}

  void operator()(Field &f) const {
    const MPI_Comm comm = m_dec.comm();
    const int rows = f.rows();
    const int cols = f.cols();
    // Rows are contiguous: first row goes north while the last ghost row
    // arrives from the south, and the other way round.
    check_mpi(MPI_Sendrecv(&f.at(0, 0), cols, MPI_DOUBLE, m_dec.north(), tag_north, &f.at(rows, 0),
                           cols, MPI_DOUBLE, m_dec.south(), tag_north, comm, MPI_STATUS_IGNORE),
              "MPI_Sendrecv (north)");
    check_mpi(MPI_Sendrecv(&f.at(rows - 1, 0), cols, MPI_DOUBLE, m_dec.south(), tag_south,
                           &f.at(-1, 0), cols, MPI_DOUBLE, m_dec.north(), tag_south, comm,
                           MPI_STATUS_IGNORE),
              "MPI_Sendrecv (south)");
    // Columns are strided.
    check_mpi(MPI_Sendrecv(&f.at(0, 0), 1, m_column.get(), m_dec.west(), tag_west, &f.at(0, cols),
                           1, m_column.get(), m_dec.east(), tag_west, comm, MPI_STATUS_IGNORE),
              "MPI_Sendrecv (west)");
    check_mpi(MPI_Sendrecv(&f.at(0, cols - 1), 1, m_column.get(), m_dec.east(), tag_east,
                           &f.at(0, -1), 1, m_column.get(), m_dec.west(), tag_east, comm,
                           MPI_STATUS_IGNORE),
              "MPI_Sendrecv (east)");
  }

private:
  static constexpr int tag_north = 1, tag_south = 2, tag_west = 3, tag_east = 4;

  static MPI_Datatype make_column(const Decomposition &dec) {
    MPI_Datatype column = MPI_DATATYPE_NULL;
    check_mpi(MPI_Type_vector(dec.block().rows, 1, dec.block().cols + 2, MPI_DOUBLE, &column),
              "MPI_Type_vector");
    return column;
  }

  const Decomposition &m_dec;
  Datatype m_column;
};

/// One Jacobi step of the interior of `in` into `out` (ghosts of `out` kept).
void jacobi_step(const Field &in, Field &out) {
  for (int r = 0; r < in.rows(); ++r) {
    const double *up = &in.at(r - 1, 0);
    const double *mid = &in.at(r, 0);
    const double *down = &in.at(r + 1, 0);
    double *dst = &out.at(r, 0);
    for (int c = 0; c < in.cols(); ++c) {
      const double u = mid[c];
      dst[c] = u + alpha * ((up[c] + down[c] + mid[c - 1] + mid[c + 1]) - 4.0 * u);
    }
  }
}

/// Collective: XXH3-64 of the global interior in global row-major order,
/// valid on rank 0 (0 elsewhere).
std::uint64_t global_checksum(const Field &f, const Decomposition &dec) {
  const Block &mine = dec.block();
  std::vector<double> packed(static_cast<std::size_t>(mine.rows) * mine.cols);
  for (int r = 0; r < mine.rows; ++r)
    std::copy_n(&f.at(r, 0), mine.cols,
                packed.begin() + static_cast<std::ptrdiff_t>(r) * mine.cols);

  int size = 0;
  check_mpi(MPI_Comm_size(dec.comm(), &size), "MPI_Comm_size");
  std::vector<int> counts;
  std::vector<int> displs;
  std::vector<Block> blocks;
  std::vector<double> gathered;
  if (dec.rank() == 0) {
    int offset = 0;
    for (int rank = 0; rank < size; ++rank) {
      blocks.push_back(dec.block_of(rank));
      counts.push_back(blocks.back().rows * blocks.back().cols);
      displs.push_back(offset);
      offset += counts.back();
    }
    gathered.resize(static_cast<std::size_t>(offset));
  }
  check_mpi(MPI_Gatherv(packed.data(), static_cast<int>(packed.size()), MPI_DOUBLE, gathered.data(),
                        counts.data(), displs.data(), MPI_DOUBLE, 0, dec.comm()),
            "MPI_Gatherv");
  if (dec.rank() != 0) return 0;

  std::vector<double> global(static_cast<std::size_t>(dec.nx()) * dec.ny());
  for (int rank = 0; rank < size; ++rank) {
    const Block &b = blocks[rank];
    for (int r = 0; r < b.rows; ++r)
      std::copy_n(gathered.begin() + displs[rank] + static_cast<std::ptrdiff_t>(r) * b.cols, b.cols,
                  global.begin() + static_cast<std::ptrdiff_t>(b.row0 + r) * dec.nx() + b.col0);
  }
  return XXH3_64bits(global.data(), global.size() * sizeof(double));
}

/// The simulation; returns the exit code. `session` lives in the caller so
/// that a failure can be agreed on before it is finalized.
int run(const Options &opts, int rank, int size, std::optional<ckpt::Session> &session) {
  const Decomposition dec(MPI_COMM_WORLD, static_cast<int>(opts.nx), static_cast<int>(opts.ny));
  Field cur(dec.block());
  Field next(dec.block());
  initialize(cur, dec, opts.init);
  initialize(next, dec, opts.init);
  const HaloExchange exchange_halos(dec);
  std::int64_t step = 0;

  // The checkpoint holds the interior of every block as one piece of the
  // global ny x nx grid: a job on another number of ranks restarts from it.
  const Block &b = dec.block();
  std::vector<double> interior(static_cast<std::size_t>(b.rows) * static_cast<std::size_t>(b.cols));
  auto pack = [&] {
    for (int r = 0; r < b.rows; ++r)
      std::copy_n(&cur.at(r, 0), b.cols, interior.begin() + std::ptrdiff_t{r} * b.cols);
  };
  pack();
  opts.run.open(session);
  session->protect_global(0, "temperature", interior.data(),
                          {static_cast<std::size_t>(opts.ny), static_cast<std::size_t>(opts.nx)},
                          {static_cast<std::size_t>(b.row0), static_cast<std::size_t>(b.col0)},
                          {static_cast<std::size_t>(b.rows), static_cast<std::size_t>(b.cols)});
  session->protect(1, "step", &step, 1);

  if (rank == 0) {
    std::printf("heat: %" PRId64 "x%" PRId64 " grid on %d ranks (%dx%d), %" PRId64
                " steps, checkpoints %s\n",
                opts.nx, opts.ny, size, dec.dim(0), dec.dim(1), opts.run.steps,
                opts.run.checkpoint_text().c_str());
    std::fflush(stdout);
  }
  restart_if_asked(*session, opts.run, step, rank);
  for (int r = 0; r < b.rows; ++r)
    std::copy_n(interior.begin() + std::ptrdiff_t{r} * b.cols, b.cols, &cur.at(r, 0));

  while (step < opts.run.steps) {
    pace(opts.run);
    exchange_halos(cur);
    jacobi_step(cur, next);
    std::swap(cur, next);
    ++step;
    pack();
    if (checkpoint_after_step(*session, opts.run, step, rank)) return CKPT_EXIT_REQUEUE;
  }

  const std::uint64_t checksum = global_checksum(cur, dec);
  session->finalize();
  if (rank == 0) {
    std::printf("checksum %016" PRIx64 "\n", checksum);
    std::fflush(stdout);
  }
  return exit_ok;
}

} // namespace

int main(int argc, char **argv) {
  return ckpt_example::example_main("heat", argc, argv, parse_options, run);
}
