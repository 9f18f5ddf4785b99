// Helpers shared by the MPI tests: a per-test checkpoint directory created
// by rank 0 in the working directory, and collective assertions.
#ifndef CKPT_TESTS_SUPPORT_HPP
#define CKPT_TESTS_SUPPORT_HPP

#include <ckpt/ckpt.hpp>

#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdlib>
#include <string>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ckpt_test {

inline int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
inline int world_size() {
  int s = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

/// A fresh directory named after the running test (removed first).
inline std::string fresh_dir(const std::string &suffix = "") {
  const auto *info = testing::UnitTest::GetInstance()->current_test_info();
  std::string dir = std::string("ckpt-") + info->test_suite_name() + "-" + info->name() + suffix +
                    "-np" + std::to_string(world_size());
  if (world_rank() == 0) {
    // A tmpfs left mounted by an interrupted earlier run is detached first.
    while (umount2(dir.c_str(), MNT_DETACH) == 0) {
    }
    const std::string cmd = "rm -rf '" + dir + "'";
    if (std::system(cmd.c_str()) != 0) ADD_FAILURE() << "cannot clear " << dir;
  }
  MPI_Barrier(MPI_COMM_WORLD);
  return dir;
}

/// True on every rank when `ok` is true on every rank.
inline bool all_ranks(bool ok) {
  int mine = ok ? 1 : 0, all = 0;
  MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  return all == 1;
}

inline int run(const std::string &cmd) { return std::system(cmd.c_str()); }

/// A small tmpfs mounted by rank 0 (root only); `mounted` is false when
/// mounting is not allowed. Unmounted on destruction (collective).
struct SmallFs {
  std::string dir;
  bool mounted = false;
  SmallFs(const std::string &path, const char *options) : dir(path) {
    int ok = 0;
    if (world_rank() == 0) {
      mkdir(path.c_str(), 0755);
      ok = mount("tmpfs", path.c_str(), "tmpfs", 0, options) == 0 ? 1 : 0;
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    mounted = ok == 1;
  }
  ~SmallFs() {
    MPI_Barrier(MPI_COMM_WORLD);
    if (mounted && world_rank() == 0) umount2(dir.c_str(), MNT_DETACH);
  }
  SmallFs(const SmallFs &) = delete;
  SmallFs &operator=(const SmallFs &) = delete;
};

/// The status of the ckpt::Error `fn` throws (CKPT_SUCCESS if none), and its
/// message in `message`.
template <class F> ckpt_status status_of(F &&fn, std::string *message = nullptr) {
  try {
    fn();
  } catch (const ckpt::Error &e) {
    if (message) *message = e.what();
    return e.status();
  }
  return CKPT_SUCCESS;
}

} // namespace ckpt_test

#endif
