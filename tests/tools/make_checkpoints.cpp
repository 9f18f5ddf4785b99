// make_checkpoints: writes a checkpoint directory with real delta chains (only
// some blocks change between checkpoints) for the ckpt tool tests, or checks
// a restart from it.
//
//   make_checkpoints write DIR COUNT BASE_EVERY   checkpoints at steps 1..COUNT
//   make_checkpoints check DIR [VERSION]          restarts from the newest valid
//       version (and requires it to be VERSION), then compares every region
//       byte for byte with the state recomputed for the restored step.
//
// Each rank protects four regions of different sizes and types, with 4 KiB
// blocks; step s changes a third of the blocks of "grid", one block of
// "counts" every other step, and "step"; "records" (24-byte elements) only at
// step 2. Exit status: 0 ok, 1 mismatch or library error, 2 usage.
#include <ckpt/ckpt.hpp>

#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

constexpr std::size_t k_block_doubles = 4096 / sizeof(double);

struct Record {
  std::int64_t id;
  double weight;
  char tag[8];
};
static_assert(sizeof(Record) == 24, "Record is 24 bytes");

struct State {
  std::vector<double> grid;
  std::vector<std::int32_t> counts;
  std::int64_t step = 0;
  std::vector<Record> records;

  explicit State(int rank)
      : grid(5000 + 700 * static_cast<std::size_t>(rank)), counts(3000), records(100) {}

  void initialize(int rank) {
    for (std::size_t i = 0; i < grid.size(); ++i)
      grid[i] = 0.25 * double(i) + 1000.0 * rank;
    for (std::size_t i = 0; i < counts.size(); ++i)
      counts[i] = static_cast<std::int32_t>(i * 7 + static_cast<std::size_t>(rank));
    for (std::size_t i = 0; i < records.size(); ++i) {
      records[i].id = static_cast<std::int64_t>(i) + 100 * rank;
      records[i].weight = 1.0 / double(i + 1);
      std::snprintf(records[i].tag, sizeof records[i].tag, "r%zu", i % 1000);
    }
    step = 0;
  }

  void advance(std::int64_t s, int rank) {
    const std::size_t blocks = (grid.size() + k_block_doubles - 1) / k_block_doubles;
    for (std::size_t b = 0; b < blocks; ++b)
      if ((b + static_cast<std::size_t>(s + rank)) % 3 == 0) {
        const std::size_t i = std::min(grid.size() - 1, b * k_block_doubles + std::size_t(s) % 97);
        grid[i] += double(s);
      }
    if (s % 2 == 0) counts[static_cast<std::size_t>(s * 613) % counts.size()] += 1;
    if (s == 2) records[42].weight = -2.0;
    step = s;
  }

  void protect(ckpt::Session &session) {
    session.protect(0, "grid", grid);
    session.protect(1, "counts", counts);
    session.protect(2, "step", &step, 1);
    session.protect_bytes(3, "records", records.data(), records.size(), sizeof(Record));
  }

  bool operator==(const State &o) const {
    return grid == o.grid && counts == o.counts && step == o.step &&
           std::memcmp(records.data(), o.records.data(), records.size() * sizeof(Record)) == 0;
  }
};

int usage() {
  std::fprintf(stderr, "usage: make_checkpoints write DIR COUNT BASE_EVERY\n"
                       "       make_checkpoints check DIR [VERSION]\n");
  return 2;
}

int run(int argc, char **argv, int rank) {
  if (argc < 3) return usage();
  const std::string mode = argv[1], dir = argv[2];
  const std::map<std::string, std::string> options = {
      {"dir", dir}, {"block_size", "4KiB"}, {"keep", "1000"}, {"log_level", "error"}};
  State state(rank);
  state.initialize(rank);
  if (mode == "write" && argc == 5) {
    auto opts = options;
    opts["base_every"] = argv[4];
    ckpt::Session session(MPI_COMM_WORLD, opts);
    state.protect(session);
    const long count = std::stol(argv[3]);
    for (long s = 1; s <= count; ++s) {
      state.advance(s, rank);
      session.checkpoint(s);
    }
    session.finalize();
    if (rank == 0) std::printf("wrote %ld checkpoints in %s\n", count, dir.c_str());
    return 0;
  }
  if (mode == "check" && (argc == 3 || argc == 4)) {
    State restored(rank); // zero-filled until restart
    std::memset(restored.records.data(), 0, restored.records.size() * sizeof(Record));
    ckpt::Session session(MPI_COMM_WORLD, options);
    restored.protect(session);
    const ckpt::CheckpointId id = session.restart();
    session.finalize();
    for (std::int64_t s = 1; s <= id.step; ++s)
      state.advance(s, rank);
    int mine = restored == state ? 1 : 0, all = 0;
    MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    const bool version_ok = argc == 3 || id.version == std::stoll(argv[3]);
    if (rank == 0)
      std::printf("restored version %lld at step %lld: %s%s\n", static_cast<long long>(id.version),
                  static_cast<long long>(id.step),
                  all ? "every region identical to the recomputed state"
                      : "MISMATCH with the recomputed state",
                  version_ok ? "" : " (not the expected version)");
    return all && version_ok ? 0 : 1;
  }
  return usage();
}

} // namespace

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  int rc = 0;
  try {
    rc = run(argc, argv, rank);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "make_checkpoints [rank %d]: %s\n", rank, e.what());
    rc = 1;
  }
  int worst = 0;
  MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return worst;
}
