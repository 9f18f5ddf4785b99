// wildfire: fires spreading over a landscape, a cellular automaton whose state
// changes only along the burning fronts, made restartable with libckpt.
//
// Every cell of the global NX x NY landscape holds its fuel, its heat (1 while
// it burns), its moisture and the step it caught fire. An unburnt cell next to
// burning cells dries by `drying` per burning neighbour and per step and
// catches fire when its moisture reaches zero; a burning cell loses
// `burn_rate` of fuel per step and goes out when the fuel is gone. New fires
// start every --fire-every steps at places drawn from a seeded generator. So
// between two checkpoints only the cells on and just ahead of the fronts
// change: the rest of the landscape is untouched or already burnt out, and
// libckpt's deltas write only the blocks that hold the fronts.
//
// The cells are stored patch by patch (--patch x --patch cells contiguous, as
// block-structured and adaptive-mesh codes store their grids), so a front
// dirties the few patches it crosses rather than whole rows. The ranks split
// the rows of patches; one ghost row of cells is exchanged with each
// neighbour per step.
//
// The update of a cell reads only the old values of the cell and its four
// neighbours, and fires start at global coordinates, so the result is
// bit-for-bit the same for any number of ranks and across checkpoint/restart.
// At the end rank 0 prints `checksum <16 hex digits>`: XXH3-64 of the global
// landscape (cells in global row-major order).
#include "example_run.hpp"

#include <ckpt/ckpt.hpp>

#include <boost/program_options.hpp>
#include <mpi.h>
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cinttypes>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace ckpt_example;

/// Moisture lost per step for each burning neighbour.
constexpr double drying = 0.125;
/// Fuel burnt per step while a cell burns.
constexpr double burn_rate = 0.125;
/// Share of cells that cannot burn (rock, water, roads).
constexpr double bare_share = 0.08;

/// One cell of the landscape: 32 bytes, all of it checkpointed.
struct Cell {
  double fuel = 0.0;        ///< what is left to burn; 0: bare or burnt out
  double heat = 0.0;        ///< 1 while the cell burns, else 0
  double moisture = 1.0;    ///< the cell catches fire when this reaches 0
  double ignited_at = -1.0; ///< the step it caught fire, -1 if it never did
};
static_assert(sizeof(Cell) == 4 * sizeof(double), "a Cell is four doubles, no padding");

/// What lies beyond the edges of the landscape: nothing that burns.
constexpr Cell outside{};

struct Options {
  std::int64_t nx = 1024;
  std::int64_t ny = 1024;
  std::int64_t patch = 32;
  std::int64_t fires = 12;
  std::int64_t fire_every = 25;
  std::uint64_t seed = 2026;
  RunOptions run;
};

/// Parses the command line; std::nullopt after --help (already printed).
std::optional<Options> parse_options(int argc, char **argv, bool print) {
  namespace po = boost::program_options;
  Options opts;
  opts.run.steps = 300;
  opts.run.checkpoint_every = 10;
  po::options_description desc(
      "Usage: wildfire [options]\n\n"
      "Fires spreading over a landscape (a cellular automaton that changes only along the "
      "burning\nfronts) checkpointed incrementally with libckpt. Prints `checksum <hex>` "
      "(XXH3-64 of the\nfinal global landscape) at the end.\nExit codes: 0 done, 85 "
      "checkpointed on a signal (requeue), 1 runtime error, 2 usage error.\n\nOptions");
  // clang-format off
  desc.add_options()
    ("help,h", "print this help and exit")
    ("nx", po::value<std::int64_t>()->default_value(opts.nx),
     "landscape width in cells (a multiple of --patch)")
    ("ny", po::value<std::int64_t>()->default_value(opts.ny),
     "landscape height in cells (a multiple of --patch; at least one row of patches per rank)")
    ("patch", po::value<std::int64_t>()->default_value(opts.patch),
     "cells are stored in patches of N x N cells")
    ("fires", po::value<std::int64_t>()->default_value(opts.fires),
     "number of fires started during the run")
    ("fire-every", po::value<std::int64_t>()->default_value(opts.fire_every),
     "a new fire starts every N steps (the first at step 0)")
    ("seed", po::value<std::uint64_t>()->default_value(opts.seed),
     "seed of the landscape and of the places fires start");
  // clang-format on
  opts.run.add_to(desc);

  po::variables_map vm;
  if (!parse_command_line(argc, argv, desc, print, vm)) return std::nullopt;
  opts.patch = parse_count(vm, "patch", 1);
  opts.nx = parse_count(vm, "nx", opts.patch);
  opts.ny = parse_count(vm, "ny", opts.patch);
  opts.fires = parse_count(vm, "fires", 0);
  opts.fire_every = parse_count(vm, "fire-every", 1);
  opts.seed = vm["seed"].as<std::uint64_t>();
  opts.run.read(vm);
  if (opts.nx % opts.patch != 0 || opts.ny % opts.patch != 0)
    throw UsageError("the landscape " + std::to_string(opts.nx) + "x" + std::to_string(opts.ny) +
                     " is not made of whole " + std::to_string(opts.patch) + "x" +
                     std::to_string(opts.patch) + " patches (--nx and --ny must be multiples " +
                     "of --patch)");
  const auto cell_bytes = static_cast<std::int64_t>(sizeof(Cell));
  if (opts.nx > INT_MAX / cell_bytes || opts.nx > INT_MAX / opts.ny)
    throw UsageError("the landscape " + std::to_string(opts.nx) + "x" + std::to_string(opts.ny) +
                     " is too large");
  return opts;
}

/// SplitMix64: a counter-based generator, so that every rank draws the same
/// number for the same (seed, purpose, index) without sharing any state.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/// A uniform double in [0, 1) (53 random bits: exact in binary).
double uniform(std::uint64_t seed, std::uint64_t purpose, std::uint64_t index) {
  const std::uint64_t bits = mix(mix(seed ^ (purpose << 56)) ^ index) >> 11;
  return static_cast<double>(bits) * 0x1.0p-53;
}

/// The landscape at global cell (row, col) before any fire.
Cell initial_cell(std::uint64_t seed, std::int64_t nx, std::int64_t row, std::int64_t col) {
  const auto index = static_cast<std::uint64_t>(row * nx + col);
  Cell c;
  if (uniform(seed, 1, index) >= bare_share) c.fuel = 0.5 + 0.5 * uniform(seed, 2, index);
  c.moisture = 0.125 + 0.875 * uniform(seed, 3, index);
  return c;
}

/// This rank's rows of patches, stored patch by patch, plus one ghost row of
/// cells above and below (from the neighbouring ranks, or `outside`).
class Landscape {
public:
  Landscape(const Options &opts, int rank, int size)
      : m_nx(static_cast<int>(opts.nx)), m_patch(static_cast<int>(opts.patch)),
        m_patches_x(m_nx / m_patch), m_north_ghost(static_cast<std::size_t>(m_nx), outside),
        m_south_ghost(static_cast<std::size_t>(m_nx), outside) {
    const int patch_rows = static_cast<int>(opts.ny / opts.patch);
    if (patch_rows < size)
      throw UsageError("the landscape has " + std::to_string(patch_rows) +
                       " rows of patches, too few for " + std::to_string(size) +
                       " ranks (at least one row of patches per rank)");
    const int base = patch_rows / size;
    const int extra = patch_rows % size;
    m_row0 = (rank * base + std::min(rank, extra)) * m_patch;
    m_rows = (base + (rank < extra ? 1 : 0)) * m_patch;
    m_cells.resize(static_cast<std::size_t>(m_rows) * static_cast<std::size_t>(m_nx));
    for (int r = 0; r < m_rows; ++r)
      for (int c = 0; c < m_nx; ++c)
        at(r, c) = initial_cell(opts.seed, opts.nx, m_row0 + r, c);
  }

  /// Local row r (global row row0() + r), column c.
  [[nodiscard]] std::size_t index(int r, int c) const noexcept {
    const int patch = (r / m_patch) * m_patches_x + c / m_patch;
    return static_cast<std::size_t>(patch) * static_cast<std::size_t>(m_patch * m_patch) +
           static_cast<std::size_t>((r % m_patch) * m_patch + c % m_patch);
  }
  Cell &at(int r, int c) noexcept { return m_cells[index(r, c)]; }
  [[nodiscard]] const Cell &at(int r, int c) const noexcept { return m_cells[index(r, c)]; }
  /// A cell or its ghost: r may be -1 or rows(); c outside [0, nx) is `outside`.
  [[nodiscard]] const Cell &near(int r, int c) const noexcept {
    if (c < 0 || c >= m_nx) return outside;
    if (r < 0) return m_north_ghost[static_cast<std::size_t>(c)];
    if (r >= m_rows) return m_south_ghost[static_cast<std::size_t>(c)];
    return at(r, c);
  }

  [[nodiscard]] int nx() const noexcept { return m_nx; }
  [[nodiscard]] int patch() const noexcept { return m_patch; }
  [[nodiscard]] int patches_x() const noexcept { return m_patches_x; }
  [[nodiscard]] int patches_y() const noexcept { return m_rows / m_patch; }
  [[nodiscard]] int patches() const noexcept { return patches_x() * patches_y(); }
  /// Patch p's cells, contiguous.
  [[nodiscard]] const Cell *patch_cells(int p) const noexcept {
    return m_cells.data() + static_cast<std::ptrdiff_t>(p) * m_patch * m_patch;
  }
  Cell *patch_cells(int p) noexcept {
    return m_cells.data() + static_cast<std::ptrdiff_t>(p) * m_patch * m_patch;
  }
  /// Whether a ghost cell in columns [c0, c0 + count) burns (north: above
  /// the first row, else below the last).
  [[nodiscard]] bool ghost_burns(bool north, int c0, int count) const noexcept {
    const std::vector<Cell> &ghost = north ? m_north_ghost : m_south_ghost;
    for (int c = c0; c < c0 + count; ++c)
      if (ghost[static_cast<std::size_t>(c)].heat > 0) return true;
    return false;
  }
  [[nodiscard]] int rows() const noexcept { return m_rows; }
  [[nodiscard]] int row0() const noexcept { return m_row0; }
  std::vector<Cell> &cells() noexcept { return m_cells; }
  [[nodiscard]] const std::vector<Cell> &cells() const noexcept { return m_cells; }

  /// Row r of this rank in row-major order.
  void copy_row(int r, Cell *out) const {
    for (int c = 0; c < m_nx; ++c)
      out[c] = at(r, c);
  }

  /// Collective: fills the ghost rows from the ranks above and below.
  void exchange_ghosts(int rank, int size) {
    const int north = rank > 0 ? rank - 1 : MPI_PROC_NULL;
    const int south = rank + 1 < size ? rank + 1 : MPI_PROC_NULL;
    std::vector<Cell> first(static_cast<std::size_t>(m_nx));
    std::vector<Cell> last(static_cast<std::size_t>(m_nx));
    copy_row(0, first.data());
    copy_row(m_rows - 1, last.data());
    const int bytes = m_nx * static_cast<int>(sizeof(Cell));
    // Ghosts at the edges of the landscape stay `outside` (MPI_PROC_NULL
    // leaves the receive buffer alone).
    check_mpi(MPI_Sendrecv(first.data(), bytes, MPI_BYTE, north, tag_north, m_south_ghost.data(),
                           bytes, MPI_BYTE, south, tag_north, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
              "MPI_Sendrecv (north)");
    check_mpi(MPI_Sendrecv(last.data(), bytes, MPI_BYTE, south, tag_south, m_north_ghost.data(),
                           bytes, MPI_BYTE, north, tag_south, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
              "MPI_Sendrecv (south)");
  }

private:
  static constexpr int tag_north = 1, tag_south = 2;

  int m_nx;
  int m_patch;
  int m_patches_x;
  int m_row0 = 0;
  int m_rows = 0;
  std::vector<Cell> m_cells;
  std::vector<Cell> m_north_ghost;
  std::vector<Cell> m_south_ghost;
};

/// The next state of one cell from the old states of it and its neighbours.
Cell next_cell(const Cell &c, double neighbour_heat, std::int64_t step) {
  Cell n = c;
  if (c.heat > 0) {
    n.fuel = c.fuel - burn_rate;
    if (n.fuel <= 0) {
      n.fuel = 0;
      n.heat = 0;
    }
  } else if (c.fuel > 0 && neighbour_heat > 0) {
    n.moisture = c.moisture - drying * neighbour_heat;
    if (n.moisture <= 0) {
      n.moisture = 0;
      n.heat = 1;
      n.ignited_at = static_cast<double>(step);
    }
  }
  return n;
}

/// Where the fires are, patch by patch, so that a step computes only the
/// patches a fire can reach (as sparse codes skip their quiet regions). Not
/// checkpointed: it is derived from the cells.
class Activity {
public:
  explicit Activity(const Landscape &land)
      : m_burning(static_cast<std::size_t>(land.patches()), 0),
        m_same(static_cast<std::size_t>(land.patches()), 1) {}

  /// After the cells of `cur` changed behind our back (restart): recounts,
  /// and no longer trusts the other buffer.
  void reset(const Landscape &cur) {
    const int per_patch = cur.patch() * cur.patch();
    for (int p = 0; p < cur.patches(); ++p) {
      const Cell *cells = cur.patch_cells(p);
      m_burning[idx(p)] = static_cast<int>(
          std::count_if(cells, cells + per_patch, [](const Cell &c) { return c.heat > 0; }));
      m_same[idx(p)] = 0;
    }
  }

  /// A fire started in patch p of the current buffer.
  void ignited(int p) {
    ++m_burning[idx(p)];
    m_same[idx(p)] = 0;
  }

  /// One step: `out` from `in` (ghosts of `in` filled). A patch with no
  /// burning cell in it or next to it cannot change: it is skipped, or
  /// copied when `out` holds an older state of it.
  void advance(const Landscape &in, Landscape &out, std::int64_t step) {
    const int px = in.patches_x();
    const int py = in.patches_y();
    const int n = in.patch();
    for (int pr = 0; pr < py; ++pr)
      for (int pc = 0; pc < px; ++pc) {
        const int p = pr * px + pc;
        if (!reachable(in, pr, pc)) {
          if (m_same[idx(p)] == 0) {
            std::copy_n(in.patch_cells(p), n * n, out.patch_cells(p));
            m_same[idx(p)] = 1;
          }
          continue;
        }
        int burning = 0;
        for (int r = pr * n; r < (pr + 1) * n; ++r)
          for (int c = pc * n; c < (pc + 1) * n; ++c) {
            const double neighbour_heat = in.near(r - 1, c).heat + in.near(r + 1, c).heat +
                                          in.near(r, c - 1).heat + in.near(r, c + 1).heat;
            Cell &next = out.at(r, c);
            next = next_cell(in.at(r, c), neighbour_heat, step);
            burning += next.heat > 0 ? 1 : 0;
          }
        m_burning_next.emplace_back(p, burning);
        m_same[idx(p)] = 0;
      }
    for (const auto &[p, burning] : m_burning_next)
      m_burning[idx(p)] = burning;
    m_burning_next.clear();
  }

private:
  static std::size_t idx(int p) { return static_cast<std::size_t>(p); }

  /// Whether a burning cell lies in patch (pr, pc) or next to one of its cells.
  [[nodiscard]] bool reachable(const Landscape &in, int pr, int pc) const {
    const int px = in.patches_x();
    const auto burns = [&](int r, int c) { return m_burning[idx(r * px + c)] > 0; };
    if (burns(pr, pc)) return true;
    if (pc > 0 && burns(pr, pc - 1)) return true;
    if (pc + 1 < px && burns(pr, pc + 1)) return true;
    const int n = in.patch();
    if (pr > 0 ? burns(pr - 1, pc) : in.ghost_burns(true, pc * n, n)) return true;
    return pr + 1 < in.patches_y() ? burns(pr + 1, pc) : in.ghost_burns(false, pc * n, n);
  }

  std::vector<int> m_burning; // burning cells per patch of the current buffer
  std::vector<char> m_same;   // the other buffer holds the same patch
  std::vector<std::pair<int, int>> m_burning_next;
};

/// Starts the fire due at `step`, if any, on the rank that owns its cell.
/// Fire k starts at step k * fire_every at a place drawn from the seed; a
/// place that cannot burn (bare, burnt out) keeps the fire from starting.
void start_fire(Landscape &land, Activity &activity, const Options &opts, std::int64_t step) {
  if (step % opts.fire_every != 0) return;
  const std::int64_t fire = step / opts.fire_every;
  if (fire >= opts.fires) return;
  const auto k = static_cast<std::uint64_t>(fire);
  const auto row = static_cast<std::int64_t>(uniform(opts.seed, 4, k) * double(opts.ny));
  const auto col = static_cast<std::int64_t>(uniform(opts.seed, 5, k) * double(opts.nx));
  const std::int64_t local = row - land.row0();
  if (local < 0 || local >= land.rows()) return;
  Cell &cell = land.at(static_cast<int>(local), static_cast<int>(col));
  if (cell.fuel <= 0 || cell.heat > 0) return;
  cell.heat = 1;
  cell.moisture = 0;
  cell.ignited_at = static_cast<double>(step);
  const int patch =
      static_cast<int>(local / opts.patch) * land.patches_x() + static_cast<int>(col / opts.patch);
  activity.ignited(patch);
}

/// Collective: XXH3-64 of the global landscape in global row-major order,
/// valid on rank 0 (0 elsewhere). The ranks own consecutive bands of rows,
/// so their row-major bands gathered in rank order are the global order.
std::uint64_t global_checksum(const Landscape &land, int rank, int size) {
  std::vector<Cell> band(land.cells().size());
  for (int r = 0; r < land.rows(); ++r)
    land.copy_row(r, band.data() + static_cast<std::ptrdiff_t>(r) * land.nx());
  const int bytes = static_cast<int>(band.size() * sizeof(Cell));
  std::vector<int> counts(static_cast<std::size_t>(size));
  check_mpi(MPI_Gather(&bytes, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, MPI_COMM_WORLD),
            "MPI_Gather");
  std::vector<int> displs(static_cast<std::size_t>(size), 0);
  std::vector<unsigned char> global;
  if (rank == 0) {
    std::size_t total = 0;
    for (int i = 0; i < size; ++i) {
      displs[static_cast<std::size_t>(i)] = static_cast<int>(total);
      total += static_cast<std::size_t>(counts[static_cast<std::size_t>(i)]);
    }
    global.resize(total);
  }
  check_mpi(MPI_Gatherv(band.data(), bytes, MPI_BYTE, global.data(), counts.data(), displs.data(),
                        MPI_BYTE, 0, MPI_COMM_WORLD),
            "MPI_Gatherv");
  return rank == 0 ? XXH3_64bits(global.data(), global.size()) : 0;
}

/// Collective: cells burning now and cells burnt out, over all ranks.
std::array<std::int64_t, 2> fire_counts(const Landscape &land) {
  std::array<std::int64_t, 2> local{0, 0};
  for (const Cell &c : land.cells()) {
    if (c.heat > 0) ++local[0];
    if (c.heat <= 0 && c.ignited_at >= 0) ++local[1];
  }
  std::array<std::int64_t, 2> total{0, 0};
  check_mpi(MPI_Allreduce(local.data(), total.data(), 2, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD),
            "MPI_Allreduce");
  return total;
}

/// The simulation; returns the exit code. `session` lives in the caller so
/// that a failure can be agreed on before it is finalized.
int run(const Options &opts, int rank, int size, std::optional<ckpt::Session> &session) {
  Landscape cur(opts, rank, size);
  Landscape next = cur;
  std::int64_t step = 0;

  opts.run.open(session);
  session->protect(0, "cells", cur.cells());
  session->protect(1, "step", &step, 1);

  if (rank == 0) {
    const double mib = double(opts.nx * opts.ny) * double(sizeof(Cell)) / (1024.0 * 1024.0);
    std::printf("wildfire: %" PRId64 "x%" PRId64 " cells (%.1f MiB, %" PRId64 "x%" PRId64
                " patches) on %d ranks, %" PRId64 " fires, %" PRId64 " steps, checkpoints %s\n",
                opts.nx, opts.ny, mib, opts.patch, opts.patch, size, opts.fires, opts.run.steps,
                opts.run.checkpoint_text().c_str());
    std::fflush(stdout);
  }
  restart_if_asked(*session, opts.run, step, rank);
  Activity activity(cur);
  activity.reset(cur);

  while (step < opts.run.steps) {
    pace(opts.run);
    start_fire(cur, activity, opts, step);
    cur.exchange_ghosts(rank, size);
    activity.advance(cur, next, step);
    std::swap(cur, next);
    ++step;
    session->protect(0, "cells", cur.cells()); // same size: moves the pointer
    if (checkpoint_after_step(*session, opts.run, step, rank)) return CKPT_EXIT_REQUEUE;
  }

  const auto [burning, burnt] = fire_counts(cur);
  const std::uint64_t checksum = global_checksum(cur, rank, size);
  session->finalize();
  if (rank == 0) {
    std::printf("after %" PRId64 " steps: %" PRId64 " cells burning, %" PRId64
                " burnt out of %" PRId64 "\n",
                step, burning, burnt, opts.nx * opts.ny);
    std::printf("checksum %016" PRIx64 "\n", checksum);
    std::fflush(stdout);
  }
  return exit_ok;
}

} // namespace

int main(int argc, char **argv) {
  return ckpt_example::example_main("wildfire", argc, argv, parse_options, run);
}
